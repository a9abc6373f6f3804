//! Reports and complaints (segnalazioni e reclami): registered in the protocol register,
//! handed to the office answering as back-office work on the service charter's term,
//! followed by the citizen by code, closed by the office's reply — registered as sent,
//! kept, and e-mailed when the citizen left an address.
//!
//! [`domain`] parses, [`filing`] and [`reply`] are the flows, [`work`] is the hand-off to
//! routing and back, [`store`] the SQL, [`message`] the protobuf view, [`grpc`] the
//! service.

pub mod domain;
pub mod filing;
pub mod grpc;
pub mod message;
pub mod reply;
pub mod store;
pub mod work;

use std::sync::Arc;

use sportello_kit::{
    Db, PseudonymKey, documents::DocumentStore, mail::Mailer, protocol::ProtocolRegister,
};

/// What URP's flows need (reports and access requests alike).
#[derive(Debug, Clone)]
pub struct Desk {
    /// URP's database.
    pub db: Db,
    /// Routing's protocol register.
    pub protocol: Arc<dyn ProtocolRegister>,
    /// Where attachments are kept.
    pub documents: Arc<dyn DocumentStore>,
    /// The key behind requester_refs.
    pub key: PseudonymKey,
    /// The mailer replies go through, if any.
    pub mailer: Option<Mailer>,
    /// The service charter's reply term.
    pub reply_days: u32,
    /// What a page of copies costs, in cents (access requests).
    pub copy_cents_per_page: u32,
}
