//! How long each category of data is kept, and the rules a service hands the janitor.
//!
//! Personal and operational data are kept only as long as their purpose needs (GDPR art.
//! 5(1)(e)); each category has its period in the configuration (`RETENTION_<CATEGORY>`,
//! written like every duration of the kit: `400d`, `12h`). A service registers its own
//! [`RetentionRule`]s ([`crate::Service::retain`]), SQL kept beside its store; the
//! [`crate::janitor::Janitor`] applies them in bounded batches.
//!
//! Archival records — the protocol register, procedure files, decisions — are another
//! matter: they follow the municipality's *piano di conservazione*, and discarding them
//! needs the archival superintendence's authorisation (D.Lgs 42/2004 art. 21). For them a
//! rule only *proposes*: the janitor lists them in `discard_proposals`, never deletes
//! them, and `sportello-<service> discard-proposals` prints the list for the archivist.

use std::time::Duration;

use crate::config::{ConfigError, Env};

const DAY: u64 = 86_400;

/// A category of data with its own retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Routing's cases: the link to a person (`requester_ref`) and free text, after the
    /// case closed (`RETENTION_CASES`).
    Cases,
    /// Issued certificates' PDFs (`RETENTION_CERTIFICATES`).
    Certificates,
    /// Operators' expired or revoked sessions (`RETENTION_SESSIONS`).
    Sessions,
    /// Stored replies of idempotent create calls (`RETENTION_IDEMPOTENCY`).
    Idempotency,
    /// Operational data of the departments' closed procedures (`RETENTION_PROCEDURES`).
    Procedures,
    /// Archival records become discard *proposals* after this (`RETENTION_ARCHIVE`).
    Archive,
}

impl Category {
    /// Every category.
    pub const ALL: [Self; 6] = [
        Self::Cases,
        Self::Certificates,
        Self::Sessions,
        Self::Idempotency,
        Self::Procedures,
        Self::Archive,
    ];

    /// The variable that sets its period.
    pub fn var(self) -> &'static str {
        match self {
            Self::Cases => "RETENTION_CASES",
            Self::Certificates => "RETENTION_CERTIFICATES",
            Self::Sessions => "RETENTION_SESSIONS",
            Self::Idempotency => "RETENTION_IDEMPOTENCY",
            Self::Procedures => "RETENTION_PROCEDURES",
            Self::Archive => "RETENTION_ARCHIVE",
        }
    }

    /// The default period, and why.
    pub fn default_period(self) -> Duration {
        Duration::from_secs(match self {
            // Thirteen months: the year's management report (controllo di gestione) and a
            // complaint about the service (URP, 30 days) are done with the person's link
            // long before; the case stays as an anonymous statistical row.
            Self::Cases => 400 * DAY,
            // A certificate is valid six months (DPR 445/2000 art. 41): its PDF is kept for
            // a reprint while valid, plus ten days; the verification record stays.
            Self::Certificates => 190 * DAY,
            // A month after expiry: enough to look into an incident reported late; the
            // security-relevant facts are in the audit, not in the session rows.
            Self::Sessions => 30 * DAY,
            // A client retries within minutes; a week covers an outage over a weekend.
            Self::Idempotency => 7 * DAY,
            // A year after the procedure closed: the drafts, codes and timers that served
            // its working have no use once the time to appeal (60 days TAR, 120 days
            // extraordinary appeal) is long over.
            Self::Procedures => 365 * DAY,
            // Ten years: the usual shortest term of the discardable classes of a
            // municipality's piano di conservazione (the archivist checks each class's own
            // term before asking the superintendence).
            Self::Archive => 3_650 * DAY,
        })
    }
}

/// The period of every category, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    periods: Vec<(Category, Duration)>,
    /// How long JetStream keeps events (`RETENTION_EVENTS`, the streams' `max_age`).
    pub events: Duration,
}

/// Default `RETENTION_EVENTS`: five days, so a consumer down over a long weekend
/// (Friday night to Tuesday) catches up, while staying well inside the inbox's `RETENTION`
/// (7 days) — see [`Periods::check_events`].
pub const DEFAULT_EVENTS: Duration = Duration::from_secs(5 * DAY);

/// What must separate the stream's `max_age` from the inbox's retention besides the
/// duplicate window: the relay re-sends an event it could not mark published after an
/// outage, with a fresh stream timestamp; a day covers that and any clock skew between
/// NATS and PostgreSQL.
pub const EVENTS_MARGIN: Duration = Duration::from_secs(DAY);

impl Default for Periods {
    fn default() -> Self {
        Self {
            periods: Category::ALL
                .iter()
                .map(|c| (*c, c.default_period()))
                .collect(),
            events: DEFAULT_EVENTS,
        }
    }
}

impl Periods {
    /// Reads every `RETENTION_<CATEGORY>` and `RETENTION_EVENTS`; a period of zero is
    /// refused (it would purge what was just written).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut periods = Vec::with_capacity(Category::ALL.len());
        for category in Category::ALL {
            let period = env.duration_or(category.var(), category.default_period())?;
            nonzero(category.var(), period)?;
            periods.push((category, period));
        }
        let events = env.duration_or("RETENTION_EVENTS", DEFAULT_EVENTS)?;
        nonzero("RETENTION_EVENTS", events)?;
        Ok(Self { periods, events })
    }

    /// The period of `category`.
    pub fn get(&self, category: Category) -> Duration {
        self.periods
            .iter()
            .find(|(c, _)| *c == category)
            .map_or_else(|| category.default_period(), |(_, p)| *p)
    }

    /// The same periods with `category` set to `period` (tests, tools).
    pub fn with(mut self, category: Category, period: Duration) -> Self {
        self.periods.retain(|(c, _)| *c != category);
        self.periods.push((category, period));
        self
    }

    /// Refuses a stream that keeps events longer than the inbox remembers them: once an
    /// inbox row is purged, its event must be gone from the stream, or a redelivery would
    /// apply it a second time. Requires `RETENTION_EVENTS` + the duplicate window + a
    /// day's margin ≤ `inbox_retention` (`RETENTION`).
    pub fn check_events(&self, inbox_retention: Duration) -> Result<(), ConfigError> {
        let needed = self.events + crate::nats::DUPLICATE_WINDOW + EVENTS_MARGIN;
        if needed <= inbox_retention {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "RETENTION_EVENTS",
            &format_duration(self.events),
            format!(
                "lo stream JetStream conserverebbe gli eventi più a lungo di quanto l'inbox li \
                 ricordi (RETENTION={}): un evento riconsegnato dopo la pulizia verrebbe \
                 applicato due volte; serve RETENTION_EVENTS + 2 minuti + 1 giorno ≤ RETENTION / \
                 the JetStream stream would keep events longer than the inbox remembers them \
                 (RETENTION={}): an event redelivered after the purge would apply twice; \
                 RETENTION_EVENTS + 2 minutes + 1 day must be ≤ RETENTION",
                format_duration(inbox_retention),
                format_duration(inbox_retention),
            ),
        ))
    }
}

fn nonzero(var: &str, period: Duration) -> Result<(), ConfigError> {
    if period.is_zero() {
        return Err(ConfigError::invalid(
            var,
            "0",
            "deve essere maggiore di zero / must be more than zero",
        ));
    }
    Ok(())
}

/// A duration as written in the configuration (`7d`, `36h`, `90s`).
fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(DAY) && s > 0 {
        format!("{}d", s / DAY)
    } else if s.is_multiple_of(3_600) && s > 0 {
        format!("{}h", s / 3_600)
    } else {
        format!("{s}s")
    }
}

/// What a rule does to a row whose period is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deletes the row.
    Delete,
    /// Updates the row with this SQL set-clause (`requester_ref = null, note = ''`),
    /// keeping it (a statistical row without the person). The rule's `pending` condition
    /// must be false once it ran, or the row would be treated again on every pass. The
    /// clause may use `$3`, the instant of the pass by the service's clock.
    Anonymise(&'static str),
    /// Lists the row in `discard_proposals` with its class of the piano di
    /// conservazione; nothing is changed. `id` is the SQL expression of the record's id.
    ProposeDiscard {
        /// The record id (`id`, `id::text`).
        id: &'static str,
        /// The class of the piano di conservazione (titolario class and file type).
        class: &'static str,
    },
}

/// One retention rule of a service: rows of `table` matching `pending` whose `age`
/// instant is older than the `category`'s period get `action`. The SQL is the service's,
/// written in its `retention.rs` beside its migrations, never built from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRule {
    /// Its name in logs, counts and proposals: `routing.cases`.
    pub name: &'static str,
    /// Whose period applies.
    pub category: Category,
    /// The table.
    pub table: &'static str,
    /// The SQL expression (a `timestamptz`) the period runs from: `closed_at`.
    pub age: &'static str,
    /// The SQL condition of rows still to treat: `status = 'closed' and requester_ref is
    /// not null` (`true` for all).
    pub pending: &'static str,
    /// What to do.
    pub action: Action,
}

/// At most this many rows per statement, so a large backlog never holds locks long.
pub const BATCH: i64 = 1_000;

/// At most this many batches per rule per pass: the next pass goes on where this stopped.
pub const MAX_BATCHES: u32 = 100;

impl RetentionRule {
    /// The statement for one batch: `$1` the cut-off instant, `$2` the batch size; for a
    /// proposal also `$3` the rule's name, `$4` the period in seconds and `$5` now.
    pub(crate) fn batch_sql(&self) -> String {
        let Self {
            table,
            age,
            pending,
            ..
        } = self;
        let rows = format!(
            "select ctid from {table} where ({age}) < $1 and ({pending}) \
             limit $2 for update skip locked"
        );
        match self.action {
            Action::Delete => format!("delete from {table} where ctid = any(array({rows}))"),
            Action::Anonymise(set) => {
                format!("update {table} set {set} where ctid = any(array({rows}))")
            }
            Action::ProposeDiscard { id, class } => {
                let class = class.replace('\'', "''");
                format!(
                    "insert into discard_proposals \
                         (category, record_table, record_id, eligible_since, class, proposed_at) \
                     select $3, '{table}', ({id})::text, ({age}) + $4::bigint * interval '1 second', \
                            '{class}', $5 \
                     from {table} \
                     where ({age}) < $1 and ({pending}) \
                       and ({id})::text not in \
                           (select record_id from discard_proposals where category = $3) \
                     limit $2 \
                     on conflict do nothing"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_the_stream_inside_the_inbox() {
        let periods = Periods::default();
        assert!(periods.check_events(Duration::from_secs(7 * DAY)).is_ok());
        assert_eq!(periods.get(Category::Cases), Duration::from_secs(400 * DAY));
    }

    #[test]
    fn a_stream_older_than_the_inbox_is_refused() {
        let env = Env::from_pairs([("RETENTION_EVENTS", "7d")]);
        let periods = Periods::from_env(&env).unwrap();
        let error = periods
            .check_events(Duration::from_secs(7 * DAY))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("RETENTION_EVENTS=\"7d\" is invalid")
                && error.contains("RETENTION=7d"),
            "{error}"
        );
        // Six days and a bit: the margin is a day beyond the duplicate window.
        let periods = Periods::from_env(&Env::from_pairs([("RETENTION_EVENTS", "6d")])).unwrap();
        assert!(periods.check_events(Duration::from_secs(7 * DAY)).is_err());
        assert!(periods.check_events(Duration::from_secs(8 * DAY)).is_ok());
    }

    #[test]
    fn periods_are_read_per_category() {
        let env = Env::from_pairs([("RETENTION_CASES", "30d"), ("RETENTION_SESSIONS", "12h")]);
        let periods = Periods::from_env(&env).unwrap();
        assert_eq!(periods.get(Category::Cases), Duration::from_secs(30 * DAY));
        assert_eq!(
            periods.get(Category::Sessions),
            Duration::from_secs(12 * 3_600)
        );
        assert_eq!(
            periods.get(Category::Idempotency),
            Duration::from_secs(7 * DAY)
        );
        let error = Periods::from_env(&Env::from_pairs([("RETENTION_CASES", "0d")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("RETENTION_CASES=\"0\" is invalid"),
            "{error}"
        );
        let error = Periods::from_env(&Env::from_pairs([("RETENTION_PROCEDURES", "1y")]))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("RETENTION_PROCEDURES=\"1y\""), "{error}");
    }

    #[test]
    fn every_batch_is_bounded() {
        let rule = RetentionRule {
            name: "t",
            category: Category::Cases,
            table: "cases",
            age: "closed_at",
            pending: "requester_ref is not null",
            action: Action::Anonymise("requester_ref = null"),
        };
        let sql = rule.batch_sql();
        assert!(sql.starts_with("update cases set requester_ref = null where ctid = any(array(select ctid from cases where (closed_at) < $1"), "{sql}");
        assert!(sql.contains("limit $2 for update skip locked"), "{sql}");
    }
}
