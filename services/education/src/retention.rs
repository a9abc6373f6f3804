//! Education's retention rules (issue 19).
//!
//! - The health flag of an application (an L. 104/1992 certification, GDPR art. 9 data)
//!   served only to score it; the score stays in the application. It is deleted
//!   `RETENTION_PROCEDURES` after the application was filed — by then the ranking, the
//!   objections and the time to appeal are long over.
//! - The application itself is the enrolment's procedure file: never deleted here. After
//!   `RETENTION_ARCHIVE` from its last step it is *proposed* for discard
//!   (`discard_proposals`), for the archivist and the archival superintendence (D.Lgs
//!   42/2004 art. 21). Published rankings, fees and payment positions are not touched.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// Education's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[
    RetentionRule {
        name: "education.application_health",
        category: Category::Procedures,
        table: "enrolment_application_health",
        age: "(select a.filed_at from enrolment_applications a \
               where a.id = enrolment_application_health.application_id)",
        pending: "true",
        action: Action::Delete,
    },
    RetentionRule {
        name: "education.enrolment_applications",
        category: Category::Archive,
        table: "enrolment_applications",
        age: "coalesce(answered_at, filed_at)",
        pending: "true",
        action: Action::ProposeDiscard {
            id: "id",
            class: "iscrizioni ai servizi educativi (Titolo VII — Servizi alla persona)",
        },
    },
];
