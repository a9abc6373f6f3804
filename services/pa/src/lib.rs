//! Italian public-administration rules (see issue 3).
