//! Change of residence within the municipality (DL 5/2012 art. 5): the declaration is
//! registered in the protocol register and the move recorded at once (effective from the
//! day of registration, well within the 2 working days); the address check is tier-4
//! work handed to routing over NATS (`work`); the check confirms, and 45 days on silence-assent confirms by a durable
//! timer, unless a notice of reasons against was sent. A failed check never rejects at
//! once: only after a 10-bis notice sent and received, and the observations rejected or
//! their window passed (`notice`), is every member's previous state restored. Each step
//! is an event with ids only.

pub mod documents;
pub mod domain;
pub mod grpc;
pub mod immigration;
pub mod intake;
pub mod message;
pub mod notice;
pub mod store;
pub mod timers;
pub mod work;
