//! Malformed and oversized gRPC requests and HTTP bodies, by the hundred thousand.
