//! The oracle: after a run, once the stack has settled, it reads every service's committed
//! state and the JetStream streams and says what was lost and what was applied twice.
//!
//! - every acknowledged ticket, certificate and completion exists, once (the idempotency
//!   keys' stored replies say which row each logical request made: a row no key claims is
//!   a duplicate);
//! - no operator holds two counter cases, no ticket has two first cases, no work item
//!   has two cases;
//! - every acknowledged booking exists once, no operator or counter holds two bookings
//!   over one slot, every acknowledged check-in made exactly one case;
//! - every acknowledged SUAP filing exists once, registered once and handed to routing's
//!   back office as exactly one work item;
//! - every outbox drained; every consumer has nothing pending and its inbox holds exactly
//!   the events its subjects carry (less those it dead-lettered, which are counted).

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use futures::StreamExt;
use prost::Message;
use sportello_proto::{
    registry::v1::IssueCertificateResponse,
    routing::v1::{BookResponse, IssueTicketResponse},
    suap::v1::FileApplicationResponse,
};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{
    load::{Journey, Ledger},
    stack::{Endpoints, SERVICES},
};

type Result<T> = std::result::Result<T, String>;

fn db(e: impl std::fmt::Display) -> String {
    format!("oracle: {e}")
}

/// What the oracle found.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Acknowledged requests checked.
    pub acknowledged: usize,
    /// Acknowledged but not in the committed state.
    pub lost: usize,
    /// Applied more than once (rows no request claims, events twice, cases held twice).
    pub duplicated: usize,
    /// What was wrong, one line each.
    pub findings: Vec<String>,
    /// Events applied by consumers (inbox rows), for the report.
    pub events_applied: u64,
    /// Events dead-lettered.
    pub dead_letters: u64,
}

impl Verdict {
    fn lost(&mut self, count: usize, what: String) {
        if count > 0 {
            self.lost += count;
            self.findings.push(what);
        }
    }

    fn duplicated(&mut self, count: usize, what: String) {
        if count > 0 {
            self.duplicated += count;
            self.findings.push(what);
        }
    }
}

/// Waits (up to `patience`) for every outbox to drain and every consumer to have nothing
/// pending, then judges. A stack that never settles is itself a finding.
pub async fn judge(endpoints: &Endpoints, ledger: &Ledger, patience: Duration) -> Result<Verdict> {
    let pool = PgPool::connect(&endpoints.database_url).await.map_err(db)?;
    let js = endpoints.jetstream().await?;
    let mut verdict = Verdict::default();

    let start = Instant::now();
    let mut unsettled;
    loop {
        unsettled = unsettled_outboxes(&pool).await?;
        unsettled.extend(pending_consumers(&js).await?);
        if unsettled.is_empty() || start.elapsed() > patience {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for what in unsettled {
        verdict
            .findings
            .push(format!("not settled after {patience:?}: {what}"));
    }

    tickets(&pool, ledger, &mut verdict).await?;
    certificates(&pool, ledger, &mut verdict).await?;
    completions(&pool, ledger, &mut verdict).await?;
    hand_offs(&pool, ledger, &mut verdict).await?;
    appointments(&pool, ledger, &mut verdict).await?;
    filings(&pool, ledger, &mut verdict).await?;
    held_once(&pool, &mut verdict).await?;
    inboxes(&pool, &js, &mut verdict).await?;
    pool.close().await;
    Ok(verdict)
}

pub async fn unsettled_outboxes(pool: &PgPool) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for service in SERVICES {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {service}.outbox where published_at is null"
        )))
        .fetch_one(pool)
        .await
        .map_err(db)?;
        if count > 0 {
            found.push(format!(
                "{service}'s outbox holds {count} unpublished events"
            ));
        }
    }
    Ok(found)
}

async fn pending_consumers(js: &async_nats::jetstream::Context) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut streams = js.streams();
    while let Some(info) = streams.next().await {
        let info = info.map_err(db)?;
        let stream = js.get_stream(&info.config.name).await.map_err(db)?;
        let mut consumers = stream.consumers();
        while let Some(consumer) = consumers.next().await {
            let consumer = consumer.map_err(db)?;
            if consumer.num_pending > 0 || consumer.num_ack_pending > 0 {
                found.push(format!(
                    "consumer {} has {} pending, {} unacknowledged",
                    consumer.name, consumer.num_pending, consumer.num_ack_pending
                ));
            }
        }
    }
    Ok(found)
}

/// The (key → stored reply) of the idempotency keys the load sent, in `schema`.
async fn replies(pool: &PgPool, schema: &str, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<u8>>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select key, response from {schema}.idempotency_keys where key = any($1)"
    )))
    .bind(keys)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let mut found = HashMap::new();
    for row in rows {
        let key: Uuid = row.try_get("key").map_err(db)?;
        let response: Option<Vec<u8>> = row.try_get("response").map_err(db)?;
        found.insert(key, response.unwrap_or_default());
    }
    Ok(found)
}

async fn ids(pool: &PgPool, sql: &'static str) -> Result<HashSet<Uuid>> {
    let rows: Vec<Uuid> = sqlx::query_scalar(sql).fetch_all(pool).await.map_err(db)?;
    Ok(rows.into_iter().collect())
}

/// Each ticket request made one ticket at most; every acknowledged one is there.
async fn tickets(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let records: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| r.journey == Journey::Ticket)
        .collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.key).collect();
    let stored = replies(pool, "routing", &keys).await?;
    let claimed: HashSet<Uuid> = stored
        .values()
        .filter_map(|bytes| IssueTicketResponse::decode(bytes.as_slice()).ok())
        .filter_map(|reply| reply.ticket.and_then(|t| t.id.parse().ok()))
        .collect();
    let present = ids(pool, "select id from routing.tickets").await?;
    // A check-in issues its ticket with the case it opens (no key of its own): those are
    // judged with the check-ins.
    let checked_in = ids(
        pool,
        "select c.ticket_id from routing.cases c
         join routing.bookings b on b.case_id = c.id where c.ticket_id is not null",
    )
    .await?;
    let mut lost = Vec::new();
    for record in records.iter().filter(|r| r.id.is_some()) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| present.contains(&id) && claimed.contains(&id)) {
            lost.push(record.id.clone().unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("tickets acknowledged but missing: {lost:?}"),
    );
    let unclaimed: Vec<_> = present
        .difference(&claimed)
        .filter(|id| !checked_in.contains(id))
        .collect();
    verdict.duplicated(
        unclaimed.len(),
        format!("tickets no request's key claims (made twice): {unclaimed:?}"),
    );
    Ok(())
}

/// The same for certificates, in the registry.
async fn certificates(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let records: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| r.journey == Journey::Certificate)
        .collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.key).collect();
    let stored = replies(pool, "registry", &keys).await?;
    let claimed: HashSet<Uuid> = stored
        .values()
        .filter_map(|bytes| IssueCertificateResponse::decode(bytes.as_slice()).ok())
        .filter_map(|reply| reply.certificate.and_then(|c| c.id.parse().ok()))
        .collect();
    let present = ids(pool, "select id from registry.certificates").await?;
    let mut lost = Vec::new();
    for record in records.iter().filter(|r| r.id.is_some()) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| present.contains(&id) && claimed.contains(&id)) {
            lost.push(record.id.clone().unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("certificates acknowledged but missing: {lost:?}"),
    );
    let unclaimed: Vec<_> = present.difference(&claimed).collect();
    verdict.duplicated(
        unclaimed.len(),
        format!("certificates no request's key claims (issued twice): {unclaimed:?}"),
    );
    Ok(())
}

/// Every acknowledged completion is a completed case, completed once in its history.
async fn completions(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let completed = ids(
        pool,
        "select id from routing.cases where status = 'completed'",
    )
    .await?;
    let mut lost = Vec::new();
    for record in ledger.acknowledged(Journey::Completion) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| completed.contains(&id)) {
            lost.push(record.id.unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("completions acknowledged but not completed: {lost:?}"),
    );
    let twice: Vec<Uuid> = sqlx::query_scalar(
        "select case_id from routing.case_history where status = 'completed'
         group by case_id having count(*) > 1",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?;
    verdict.duplicated(
        twice.len(),
        format!("cases completed twice in their history: {twice:?}"),
    );
    Ok(())
}

/// Every acknowledged change of residence exists, made once; each was handed off as
/// exactly one work item; every acknowledged completion of one is completed, and the
/// registry applied it (the change confirmed).
async fn hand_offs(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let records: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| r.journey == Journey::ResidenceChange)
        .collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.key).collect();
    let keyed = replies(pool, "registry", &keys).await?.len();
    let present = ids(pool, "select id from registry.residence_changes").await?;
    let mut lost = Vec::new();
    for record in records.iter().filter(|r| r.id.is_some()) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| present.contains(&id)) {
            lost.push(record.id.clone().unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("changes of residence acknowledged but missing: {lost:?}"),
    );
    verdict.duplicated(
        present.len().saturating_sub(keyed),
        format!(
            "{} changes of residence for {keyed} keyed requests (declared twice)",
            present.len()
        ),
    );
    let not_handed: i64 = sqlx::query_scalar(
        "select count(*) from registry.residence_changes c
         where not exists (select from routing.work_items w where w.procedure_id = c.id)",
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    verdict.lost(
        usize::try_from(not_handed).unwrap_or(usize::MAX),
        format!("changes of residence with no work item: {not_handed}"),
    );
    let twice: i64 = sqlx::query_scalar(
        "select count(*) from (select procedure_id from routing.work_items
         group by procedure_id having count(*) > 1) t",
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    verdict.duplicated(
        usize::try_from(twice).unwrap_or(usize::MAX),
        format!("procedures handed off as two work items: {twice}"),
    );
    let completed = ids(
        pool,
        "select id from routing.work_items where state = 'completed'",
    )
    .await?;
    let mut lost = Vec::new();
    for record in ledger.acknowledged(Journey::WorkCompletion) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| completed.contains(&id)) {
            lost.push(record.id.unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("work completions acknowledged but not completed: {lost:?}"),
    );
    let unapplied: i64 = sqlx::query_scalar(
        "select count(*) from routing.work_items w
         join registry.residence_changes c on c.id = w.procedure_id
         where w.state = 'completed' and w.outcome_code = 'check_passed'
           and c.status <> 'confirmed'",
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    verdict.lost(
        usize::try_from(unapplied).unwrap_or(usize::MAX),
        format!("passed address checks the registry never applied: {unapplied}"),
    );
    Ok(())
}

/// A count that must be zero: a duplicate (or, with `duplicate` false, a loss) when not.
async fn none(
    pool: &PgPool,
    verdict: &mut Verdict,
    duplicate: bool,
    what: &str,
    sql: &'static str,
) -> Result<()> {
    let count: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.map_err(db)?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let line = format!("{what}: {count}");
    if duplicate {
        verdict.duplicated(count, line);
    } else {
        verdict.lost(count, line);
    }
    Ok(())
}

/// Every acknowledged booking exists, made once (its key's stored reply names it); no
/// operator and no counter holds two bookings over one slot; every acknowledged check-in
/// made its booking's one case, and no case was opened by a check-in twice.
async fn appointments(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let records: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| r.journey == Journey::Booking)
        .collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.key).collect();
    let stored = replies(pool, "routing", &keys).await?;
    let claimed: HashSet<String> = stored
        .values()
        .filter_map(|bytes| BookResponse::decode(bytes.as_slice()).ok())
        .filter_map(|reply| reply.booking.map(|b| b.code))
        .collect();
    let present: HashSet<String> = sqlx::query_scalar("select code from routing.bookings")
        .fetch_all(pool)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
    let mut lost = Vec::new();
    for record in records.iter().filter(|r| r.id.is_some()) {
        verdict.acknowledged += 1;
        let code = record.id.clone().unwrap_or_default();
        if !(present.contains(&code) && claimed.contains(&code)) {
            lost.push(code);
        }
    }
    verdict.lost(
        lost.len(),
        format!("bookings acknowledged but missing: {lost:?}"),
    );
    let unclaimed: Vec<_> = present.difference(&claimed).collect();
    verdict.duplicated(
        unclaimed.len(),
        format!("bookings no request's key claims (booked twice): {unclaimed:?}"),
    );
    none(
        pool,
        verdict,
        true,
        "bookings overlapping another of the same operator or counter",
        "select count(*) from routing.bookings a join routing.bookings b
           on a.id < b.id and a.slot && b.slot
          and (a.operator_id = b.operator_id
               or (a.site_id = b.site_id and a.counter_number = b.counter_number))
         where a.status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')
           and b.status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')",
    )
    .await?;

    let checked_in: HashSet<String> = sqlx::query_scalar(
        "select b.code from routing.bookings b join routing.cases c on c.id = b.case_id
         where b.status = 'checked_in' and c.channel = 'appointment'",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    let mut lost = Vec::new();
    for record in ledger.acknowledged(Journey::CheckIn) {
        verdict.acknowledged += 1;
        let code = record.id.unwrap_or_default();
        if !checked_in.contains(&code) {
            lost.push(code);
        }
    }
    verdict.lost(
        lost.len(),
        format!("check-ins acknowledged but with no case: {lost:?}"),
    );
    none(
        pool,
        verdict,
        true,
        "cases opened by a check-in that no booking holds (checked in twice)",
        "select count(*) from routing.cases c where c.channel = 'appointment'
           and not exists (select from routing.bookings b where b.case_id = c.id)",
    )
    .await?;
    none(
        pool,
        verdict,
        true,
        "cases held by two bookings",
        "select count(*) from (select case_id from routing.bookings where case_id is not null
         group by case_id having count(*) > 1) t",
    )
    .await
}

/// Every acknowledged SUAP filing exists, made once; no two share a protocol
/// registration; each was handed to routing as exactly one work item, which routing
/// applied once.
async fn filings(pool: &PgPool, ledger: &Ledger, verdict: &mut Verdict) -> Result<()> {
    let records: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| r.journey == Journey::Filing)
        .collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.key).collect();
    let stored = replies(pool, "suap", &keys).await?;
    let claimed: HashSet<Uuid> = stored
        .values()
        .filter_map(|bytes| FileApplicationResponse::decode(bytes.as_slice()).ok())
        .filter_map(|reply| reply.application.and_then(|a| a.id.parse().ok()))
        .collect();
    let present = ids(pool, "select id from suap.applications").await?;
    let mut lost = Vec::new();
    for record in records.iter().filter(|r| r.id.is_some()) {
        verdict.acknowledged += 1;
        let id: Option<Uuid> = record.id.as_deref().and_then(|i| i.parse().ok());
        if !id.is_some_and(|id| present.contains(&id) && claimed.contains(&id)) {
            lost.push(record.id.clone().unwrap_or_default());
        }
    }
    verdict.lost(
        lost.len(),
        format!("SUAP filings acknowledged but missing: {lost:?}"),
    );
    let unclaimed: Vec<_> = present.difference(&claimed).collect();
    verdict.duplicated(
        unclaimed.len(),
        format!("SUAP applications no request's key claims (filed twice): {unclaimed:?}"),
    );
    none(
        pool,
        verdict,
        true,
        "SUAP applications sharing a protocol registration",
        "select count(*) from (select protocol_registration_id from suap.applications
         group by protocol_registration_id having count(*) > 1) t",
    )
    .await?;
    none(
        pool,
        verdict,
        false,
        "SCIA filings routing never took as work",
        "select count(*) from suap.applications a where a.regime = 'scia'
           and not exists (select from routing.work_items w
                           where w.origin_service = 'suap' and w.procedure_id = a.id)",
    )
    .await?;
    none(
        pool,
        verdict,
        true,
        "SUAP work requests routing applied as two work items",
        "select count(*) from (select work_id from routing.work_items
         where origin_service = 'suap' group by work_id having count(*) > 1) t",
    )
    .await
}

/// No operator holds two counter cases; no ticket has two first cases; no work item two
/// cases, no case two work items.
async fn held_once(pool: &PgPool, verdict: &mut Verdict) -> Result<()> {
    let checks = [
        (
            "operators holding two counter cases",
            "select count(*) from (select operator_id from routing.cases where status = 'called'
             group by operator_id having count(*) > 1) t",
        ),
        (
            "tickets with two first cases",
            "select count(*) from (select ticket_id from routing.cases
             where ticket_id is not null and ticket_position = 0
             group by ticket_id having count(*) > 1) t",
        ),
        (
            "work requests with two work items",
            "select count(*) from (select origin_service, work_id from routing.work_items
             group by origin_service, work_id having count(*) > 1) t",
        ),
        (
            "cases with two work items",
            "select count(*) from (select case_id from routing.work_items
             group by case_id having count(*) > 1) t",
        ),
    ];
    for (what, sql) in checks {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.map_err(db)?;
        verdict.duplicated(
            usize::try_from(count).unwrap_or(usize::MAX),
            format!("{what}: {count}"),
        );
    }
    Ok(())
}

/// Each consumer's inbox holds exactly the events its subjects carry in the stream, less
/// those it dead-lettered: fewer is an event never applied, more cannot be (the inbox's
/// key) unless an event was published twice under two ids.
async fn inboxes(
    pool: &PgPool,
    js: &async_nats::jetstream::Context,
    verdict: &mut Verdict,
) -> Result<()> {
    let dead = subject_counts(js, "SPORTELLO_DEADLETTER", ">")
        .await
        .unwrap_or_default();
    let mut streams = js.streams();
    let mut consumers = Vec::new();
    while let Some(info) = streams.next().await {
        let info = info.map_err(db)?;
        let stream = js.get_stream(&info.config.name).await.map_err(db)?;
        let mut list = stream.consumers();
        while let Some(consumer) = list.next().await {
            consumers.push((info.config.name.clone(), consumer.map_err(db)?));
        }
    }
    for (stream, consumer) in consumers {
        let Some((service, name)) = consumer.name.split_once('-') else {
            continue;
        };
        if !SERVICES.contains(&service) {
            continue;
        }
        let mut filters = consumer.config.filter_subjects.clone();
        if !consumer.config.filter_subject.is_empty() {
            filters.push(consumer.config.filter_subject.clone());
        }
        let mut carried = 0u64;
        for filter in &filters {
            carried += subject_counts(js, &stream, filter)
                .await?
                .values()
                .sum::<u64>();
        }
        let letters: u64 = dead
            .iter()
            .filter(|(subject, _)| subject.ends_with(&format!(".deadletter.{service}.{name}")))
            .map(|(_, count)| count)
            .sum();
        let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {service}.inbox where consumer = $1"
        )))
        .bind(name)
        .fetch_one(pool)
        .await
        .map_err(db)?;
        let applied = u64::try_from(applied).unwrap_or(0);
        verdict.events_applied += applied;
        verdict.dead_letters += letters;
        let expected = carried.saturating_sub(letters);
        if applied < expected {
            verdict.lost(
                usize::try_from(expected - applied).unwrap_or(usize::MAX),
                format!(
                    "consumer {}: {carried} events on its subjects, {letters} dead-lettered, {applied} applied",
                    consumer.name
                ),
            );
        } else if applied > expected {
            verdict.duplicated(
                usize::try_from(applied - expected).unwrap_or(usize::MAX),
                format!(
                    "consumer {}: {applied} applied but only {carried} events on its subjects ({letters} dead-lettered)",
                    consumer.name
                ),
            );
        }
    }
    Ok(())
}

/// Messages per subject of `stream` matching `filter`.
async fn subject_counts(
    js: &async_nats::jetstream::Context,
    stream: &str,
    filter: &str,
) -> Result<HashMap<String, u64>> {
    let stream = js.get_stream(stream).await.map_err(db)?;
    let mut subjects = stream.info_with_subjects(filter).await.map_err(db)?;
    let mut counts = HashMap::new();
    while let Some(entry) = subjects.next().await {
        let (subject, count) = entry.map_err(db)?;
        counts.insert(subject, u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}
