//! SUAP's retention rules (issue 19).
//!
//! An application that reached its end (consolidated, compliant, granted — also by
//! silence —, refused or prohibited) is the business's procedure file, with its decision:
//! never deleted here. After `RETENTION_ARCHIVE` it is *proposed* for discard
//! (`discard_proposals`), for the archivist to check against the piano di conservazione
//! and submit to the archival superintendence (D.Lgs 42/2004 art. 21). Its timers go
//! with the kit's purge; payment positions are accounting records (kept ten years, c.c.
//! art. 2220) and occupations are the canone's basis: neither is touched here.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// SUAP's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[RetentionRule {
    name: "suap.applications",
    category: Category::Archive,
    table: "applications",
    age: "updated_at",
    pending: "status in ('consolidated', 'compliant', 'granted', 'granted_by_silence', \
              'refused', 'prohibited')",
    action: Action::ProposeDiscard {
        id: "id",
        class: "pratiche SUAP (Titolo VIII — Attività economiche)",
    },
}];
