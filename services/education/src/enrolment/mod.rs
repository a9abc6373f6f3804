//! Enrolment in municipal nurseries and pre-schools.
//!
//! The rules, pure and tested with worked examples: who may apply ([`age`]), the
//! published criteria and the points they give ([`criteria`]), and the ranking with its
//! documented order and its published form ([`ranking`]).
//!
//! The procedure on them, one layering: [`grpc`] parses (through [`domain`]) and maps
//! errors; a flow owns each unit of work — [`windows`] opens a window, [`filing`] files an
//! application (the registry's facts through [`facts`], the protocol register, then one
//! transaction), [`publication`] computes and publishes a ranking (drawing the checks of
//! self-declarations, [`checks`]), [`objections`] takes
//! a family's objection and applies the back office's outcome, which [`work`] hands over
//! and hears back through routing, [`offers`] offers the places in the final ranking's
//! order, [`reviews`] flags applications whose registry facts changed —; [`store`] holds the SQL and [`message`] the wire
//! form.

pub mod age;
pub mod checks;
pub mod criteria;
pub mod domain;
pub mod facts;
pub mod filing;
pub mod grpc;
pub mod message;
pub mod objections;
pub mod offers;
pub mod publication;
pub mod ranking;
pub mod reviews;
pub mod store;
pub mod windows;
pub mod work;

use std::sync::Arc;

use sportello_kit::{Db, PseudonymKey, protocol::ProtocolRegister};

/// What the enrolment flows work with.
#[derive(Debug, Clone)]
pub struct Office {
    /// The service's database.
    pub db: Db,
    /// The protocol register (routing).
    pub protocol: Arc<dyn ProtocolRegister>,
    /// The registry's facts.
    pub facts: facts::RegistryFacts,
    /// The key behind requester_refs.
    pub key: PseudonymKey,
}
