//! Facts for other offices (DPR 445/2000 art. 43): yes-or-no residence, and a family's
//! members as requester_refs and relationships. Each answer is audited.

pub mod grpc;
