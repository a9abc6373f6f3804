//! Facts for other offices (DPR 445/2000 art. 43): yes-or-no residence, a family's
//! members as requester_refs and relationships, and whether someone lives in an area
//! (a zone's streets, [`area`]) — never the address. Each answer is audited.

pub mod area;
pub mod grpc;
