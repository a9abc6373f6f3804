//! The peak at the counter: during an education enrolment window, the operators a manager
//! designated (the surge roster of a skill) also serve the education services, and are
//! put back when the window closes.
//!
//! [`consumer`] reads education's `enrolment_window.opened` and `application.filed`
//! through a durable inbox; [`flow`] schedules a surge per window (two durable timers:
//! 00:00 of the first day and the end of the last, Europe/Rome), re-skills and restores
//! under each operator's row lock, and counts applications per day; [`store`] holds the
//! SQL; [`grpc`] is `SurgeService`. A skill change is a write of the operator's row, as
//! an `UpsertOperator` is: the next call reads the operator from PostgreSQL, so dispatch
//! sees it at once, on every replica.

pub mod consumer;
pub mod domain;
pub mod flow;
pub mod grpc;
pub mod store;
pub mod timers;

/// The timer that starts a surge (key: the surge's id).
pub const START_TIMER: &str = "routing.surge.start";
/// The timer that ends a surge (key: the surge's id).
pub const END_TIMER: &str = "routing.surge.end";

/// The skill an enrolment window's surge reinforces: the one the catalogue's education
/// services require.
pub const ENROLMENT_SKILL: &str = "servizi_educativi";
/// The service whose expected minutes measure the counters' capacity during a window.
pub const ENROLMENT_SERVICE: &str = "education.school_enrolment";
