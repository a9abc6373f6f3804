//! Mobility's retention rules (issue 19).
//!
//! An ended permit and a revoked or blocked disabled badge (CUDE) are procedure files:
//! never deleted here. After `RETENTION_ARCHIVE` from their end they are *proposed* for
//! discard (`discard_proposals`), for the archivist and the archival superintendence
//! (D.Lgs 42/2004 art. 21). A badge's sealed medical certification stays with the badge
//! until then (its column admits no removal yet); the reads of it are an audit table,
//! not touched.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// Mobility's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[
    RetentionRule {
        name: "mobility.permits",
        category: Category::Archive,
        table: "permits",
        age: "ended_at",
        pending: "state = 'ended'",
        action: Action::ProposeDiscard {
            id: "id",
            class: "permessi di transito e sosta (ZTL, residenti)",
        },
    },
    RetentionRule {
        name: "mobility.badges",
        category: Category::Archive,
        table: "badges",
        age: "ended_at",
        pending: "state <> 'active'",
        action: Action::ProposeDiscard {
            id: "id",
            class: "contrassegni di parcheggio per persone con disabilità (CUDE, DPR 151/2012)",
        },
    },
];
