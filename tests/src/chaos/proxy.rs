//! A TCP fault proxy between services: latency, resets, a black hole.
