//! URP's retention rules (issue 19).
//!
//! - A rating code's link to routing's case (`rateable_cases.case_id`) is forgotten
//!   `RETENTION_PROCEDURES` after the time to rate ran out, rated or not: the row stays as
//!   the anonymous statistics of the service charter's report.
//! - Closed reports and complaints, and decided access requests, are procedure files:
//!   never deleted here. After `RETENTION_ARCHIVE` they are *proposed* for discard
//!   (`discard_proposals`), for the archivist to check against the municipality's piano di
//!   conservazione and submit to the archival superintendence (D.Lgs 42/2004 art. 21).
//!   Their requester's name, e-mail and phone stay with the file until then: the reply
//!   is part of it. Feedback holds no person and is kept as statistics.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// URP's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[
    RetentionRule {
        name: "urp.rateable_cases",
        category: Category::Procedures,
        table: "rateable_cases",
        age: "rate_by",
        pending: "case_id is not null",
        action: Action::Anonymise("case_id = null"),
    },
    RetentionRule {
        name: "urp.reports",
        category: Category::Archive,
        table: "reports",
        age: "closed_at",
        pending: "status = 'closed'",
        action: Action::ProposeDiscard {
            id: "id",
            class: "segnalazioni e reclami (Titolo I — Amministrazione generale, relazioni \
                    con il pubblico)",
        },
    },
    RetentionRule {
        name: "urp.access_requests",
        category: Category::Archive,
        table: "access_requests",
        age: "updated_at",
        pending: "state in ('decided', 'silently_refused', 'reviewed')",
        action: Action::ProposeDiscard {
            id: "id",
            class: "accesso documentale e civico (L. 241/1990 art. 22, D.Lgs 33/2013 art. 5)",
        },
    },
];
