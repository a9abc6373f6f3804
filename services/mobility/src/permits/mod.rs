//! Resident and temporary permits for a zone, their fees through pagoPA, and what
//! happens to them when the registry's facts change.
//!
//! The rules, pure and tested with worked examples, are in [`rules`] (days, plates, fee,
//! residence, quota). The procedure on them, one layering: [`grpc`] parses (through
//! [`domain`]) and maps errors; [`issuing`] issues a permit (the registry's fact, then
//! one unit of work: quota, household plates, number, permit, event, expiry timer);
//! [`notices`] asks pagoPA for its notice and hears the receipt that activates it;
//! [`reviews`] puts a permit under review when its holder moves or dies, with a grace
//! period on a timer, and hands the review to the back office through routing
//! ([`work`]); [`lifecycle`] ends permits at their last day, their grace's or unpaid;
//! [`ending`] ends one at the holder's request;
//! [`store`] holds the SQL and [`message`] the wire form.
//!
//! The holder's fiscal code and name go to the registry (to ask) and to pagoPA (the
//! debtor) only: mobility keeps the pseudonymous reference.

pub mod domain;
pub mod ending;
pub mod grpc;
pub mod issuing;
pub mod lifecycle;
pub mod message;
pub mod notices;
pub mod reviews;
pub mod rules;
pub mod store;
pub mod work;

use sportello_kit::{Db, PseudonymKey, payments::Ledger};

use crate::facts::RegistryFacts;

/// mobility's *codice segregazione*: its IUVs start with these two digits.
pub const SEGREGATION_CODE: &str = "03";

/// The event domain of mobility's payments: `mobility.payment.received`, IUPDs
/// `mobility-<IUV>`.
pub const DOMAIN: &str = "mobility";

/// The purpose kind of a permit's fee.
pub const CHARGE: &str = "permit_fee";

/// What the permit flows work with.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The service's database.
    pub db: Db,
    /// The registry's facts.
    pub facts: RegistryFacts,
    /// The key behind requester_refs.
    pub key: PseudonymKey,
    /// mobility's debt positions at pagoPA.
    pub ledger: Ledger,
}
