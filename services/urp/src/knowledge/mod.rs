//! Quick answers for the info-desk: one per catalogue service, searched in Italian.
//!
//! [`grpc`] parses (through [`domain`]) and maps errors; [`store`] holds the SQL — the
//! search itself is PostgreSQL's: the `italian_folded` text search configuration (accents
//! folded by `unaccent`, then the Italian Snowball stemmer) ranks by the words' roots,
//! and trigrams on the folded title and keywords (`pg_trgm`) catch typos.

pub mod domain;
pub mod grpc;
pub mod store;
