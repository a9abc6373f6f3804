//! Canteen, school transport and the nursery: fee schedules by income band, the
//! children's subscriptions, and their charges paid through pagoPA.
//!
//! The rules, pure and tested with worked examples, are in [`tariff`] (band, sibling
//! reduction, months and due dates). The procedure on them, one layering: [`grpc`] parses
//! (through [`domain`]) and maps errors; [`schedules`] publishes a schedule's version;
//! [`subscribing`] takes a subscription (the registry's residence fact, the protocol
//! register, then one unit of work with its charges and event); [`notices`] asks pagoPA
//! for each charge's notice and hears the receipts (the kit's poller marks the position
//! paid, publishes `education.payment.received` and calls [`notices::paid`] in one
//! transaction); [`store`] holds the SQL and [`message`] the wire form.
//!
//! The payer's fiscal code and name are sent to pagoPA as the debtor and never stored:
//! a notice issued later (IssueNotices) asks for them again.

pub mod domain;
pub mod grpc;
pub mod message;
pub mod notices;
pub mod schedules;
pub mod store;
pub mod subscribing;
pub mod tariff;

use sportello_kit::payments::Ledger;

use crate::enrolment::Office;

/// education's *codice segregazione*: its IUVs start with these two digits.
pub const SEGREGATION_CODE: &str = "01";

/// The event domain of education's payments: `education.payment.received`, IUPDs
/// `education-<IUV>`.
pub const DOMAIN: &str = "education";

/// The purpose kind of a subscription's charge.
pub const CHARGE: &str = "school_fee";

/// What the fee flows work with.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The database, the protocol register, the registry's facts, the key.
    pub office: Office,
    /// education's debt positions at pagoPA.
    pub ledger: Ledger,
}
