//! Appointments: calendars, slots, fair booking, check-in.
//!
//! [`Appointments`] holds what every step needs; each step lives in the file named for
//! it: [`calendars`] (hours, closures, schedules, rules), [`search`] (free slots),
//! [`booking`] (book, confirm, cancel, reschedule, read), [`arrival`] (check-in, and the
//! timers that expire, mark no-shows and remind), [`waitlist`] (a freed slot held for the
//! first in line, then the next). [`calendar`] and [`slots`] say what a
//! slot is; [`store`] holds the SQL; [`grpc`] parses and maps errors.

pub mod arrival;
pub mod booking;
pub mod calendar;
pub mod calendars;
pub mod claims;
pub mod domain;
pub mod grpc;
pub mod search;
pub mod slots;
pub mod store;
pub mod waitlist;

use sportello_kit::{Aggregate, CallContext, Db, PseudonymKey, Role, UnitOfWork, mail::Mailer};
use sportello_proto::Event;

use self::domain::Booking;
use crate::{catalogue::cache::CatalogueCache, dispatch::Dispatcher, sites::cache::SiteCache};

/// The durable timer that returns an unconfirmed booking's slot.
pub const CONFIRM_TIMER: &str = "appointment.confirm";
/// The durable timer that marks a booking not checked in a no-show.
pub const NO_SHOW_TIMER: &str = "appointment.no_show";
/// The durable timer that announces the reminder the day before.
pub const REMINDER_TIMER: &str = "appointment.reminder";
/// The durable timer that ends a waitlist offer left unanswered.
pub const OFFER_TIMER: &str = "appointment.offer";

/// What the appointment steps need.
#[derive(Debug, Clone)]
pub struct Appointments {
    /// The database.
    pub db: Db,
    /// This replica's catalogue.
    pub catalogue: CatalogueCache,
    /// This replica's sites.
    pub sites: SiteCache,
    /// This replica's dispatcher: a check-in joins the counter queue.
    pub dispatcher: Dispatcher,
    /// The secret behind requester_refs and the keyed hashes of sources, addresses and
    /// confirmation codes.
    pub key: PseudonymKey,
    /// Sends the confirmation codes; without it, citizens cannot book online.
    pub mailer: Option<Mailer>,
    /// This replica's snapshots of the calendars.
    pub calendars: slots::CalendarCache,
    /// This replica's claims on slots being booked.
    pub claims: claims::Claims,
}

/// Whether the caller acts as municipal staff (booking on a citizen's behalf, seeing
/// any booking of the municipality) rather than as the citizen.
pub fn is_staff(context: &CallContext) -> bool {
    context.has_any_role(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
        Role::Admin,
    ])
}

/// Emits an event about a booking, at its version.
pub(crate) async fn emit<E: Event>(
    uow: &mut UnitOfWork,
    event: &E,
    booking: &Booking,
) -> Result<(), sqlx::Error> {
    let id = booking.id.to_string();
    let aggregate = Aggregate {
        kind: "routing.appointment",
        id: &id,
        version: booking.version,
        municipality: booking.municipality,
    };
    uow.emit(event, aggregate).await.map(|_| ())
}

/// A keyed hash's first 16 bytes in hex: enough to count by, nothing to reverse.
pub(crate) fn short_hash(key: &PseudonymKey, purpose: &str, value: &str) -> String {
    hex::encode(&key.keyed_hash(purpose, value)[..16])
}
