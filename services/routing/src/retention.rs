//! Routing's retention rules (issue 19): what routing keeps of a person once a case, a
//! piece of back-office work, a booking or a waitlist entry is over.
//!
//! - After `RETENTION_CASES` (400 days by default) a closed case loses its
//!   `requester_ref` and the free text an operator may have written into its history
//!   (a reason can name a person); the row stays as an anonymous statistical record
//!   (service, tier, site, times, outcome) for the management reports. Back-office work
//!   loses its `requester_ref` and context note; a finished booking its network and
//!   e-mail hashes and cancel reason, and — with a finished waitlist entry — its
//!   `requester_ref`, replaced by [`ANONYMOUS`] (those columns are `not null`).
//! - The protocol register (`registrations`) is never purged nor proposed for discard:
//!   it is kept permanently (DPR 445/2000 art. 53 and the piano di conservazione), and
//!   its trigger refuses a delete anyway. Its sealed names are the protocol's own.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// The `requester_ref` of no one: matches the column's check, and no person's key
/// hashes to it in practice.
pub const ANONYMOUS: &str = "rr_00000000000000000000000000000000";

/// Routing's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[
    RetentionRule {
        name: "routing.cases",
        category: Category::Cases,
        table: "cases",
        age: "closed_at",
        pending: "requester_ref is not null",
        action: Action::Anonymise("requester_ref = null"),
    },
    RetentionRule {
        name: "routing.case_history",
        category: Category::Cases,
        table: "case_history",
        age: "(select c.closed_at from cases c where c.id = case_history.case_id)",
        pending: "reason <> ''",
        action: Action::Anonymise("reason = ''"),
    },
    RetentionRule {
        name: "routing.work_items",
        category: Category::Cases,
        table: "work_items",
        age: "closed_at",
        pending: "requester_ref is not null or context_note <> ''",
        action: Action::Anonymise("requester_ref = null, context_note = ''"),
    },
    RetentionRule {
        name: "routing.bookings",
        category: Category::Cases,
        table: "bookings",
        age: "updated_at",
        pending: "status in ('cancelled', 'expired', 'no_show', 'checked_in') \
                  and (requester_ref <> 'rr_00000000000000000000000000000000' \
                       or source_ref is not null or email_ref is not null \
                       or cancel_reason is not null)",
        action: Action::Anonymise(
            "requester_ref = 'rr_00000000000000000000000000000000', source_ref = null, \
             email_ref = null, cancel_reason = null",
        ),
    },
    RetentionRule {
        name: "routing.waitlist",
        category: Category::Cases,
        table: "waitlist",
        age: "joined_at",
        pending: "status in ('booked', 'lapsed', 'withdrawn') \
                  and requester_ref <> 'rr_00000000000000000000000000000000'",
        action: Action::Anonymise("requester_ref = 'rr_00000000000000000000000000000000'"),
    },
];
