//! Cases from every channel, kiosk tickets, and the counter flow.
//!
//! [`Flow`] holds what every step needs; each step lives in the file named for it:
//! [`intake`] (opening cases, issuing tickets), [`counter`] (call next, call a ticket,
//! recall, no-show, park, resume, transfer, complete), [`closing`] (close and cancel),
//! [`queries`] (cases, tickets, queues, the board's recent calls).

pub mod closing;
pub mod counter;
pub mod domain;
pub mod estimate;
pub mod events;
pub mod grpc;
pub mod intake;
pub mod queries;
pub mod store;
pub mod tickets;

use sportello_kit::Db;

use crate::{catalogue::cache::CatalogueCache, dispatch::Dispatcher, sites::cache::SiteCache};

/// What the case flow needs: the database, this replica's dispatcher and catalogue.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The database.
    pub db: Db,
    /// This replica's dispatcher.
    pub dispatcher: Dispatcher,
    /// This replica's catalogue.
    pub catalogue: CatalogueCache,
    /// This replica's sites.
    pub sites: SiteCache,
}
