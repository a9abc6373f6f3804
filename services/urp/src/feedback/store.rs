//! Ratings, rateable cases and the satisfaction report in PostgreSQL.

use std::collections::BTreeMap;

use jiff::{Timestamp, tz::TimeZone};
use sportello_kit::{Db, UnitOfWork, uow::SqlTimestamp};
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{CompletedCase, NewFeedback, RatingCode, ReportQuery};

/// A stored rating.
#[derive(Debug, Clone)]
pub struct Feedback {
    /// Record id.
    pub id: Uuid,
    /// What was left.
    pub feedback: NewFeedback,
    /// When.
    pub created_at: Timestamp,
}

/// Inserts a rating.
pub async fn insert(uow: &mut UnitOfWork, feedback: NewFeedback) -> Result<Feedback, sqlx::Error> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    sqlx::query(
        "insert into feedback (id, municipality, service_code, channel, rating, comment, created_at,
                               rateable_case_id, site_id, tier, rated_via)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(feedback.municipality.as_str())
    .bind(&feedback.service_code)
    .bind(feedback.channel.as_str_name())
    .bind(feedback.rating)
    .bind(&feedback.comment)
    .bind(SqlTimestamp::from(created_at))
    .bind(feedback.case.as_ref().map(|c| c.rateable_id))
    .bind(feedback.case.as_ref().map(|c| c.site_id))
    .bind(feedback.case.as_ref().map(|c| c.tier))
    .bind(feedback.rated_via.as_str_name())
    .execute(uow.conn())
    .await?;
    Ok(Feedback {
        id,
        feedback,
        created_at,
    })
}

/// A case URP keeps rateable.
#[derive(Debug, Clone)]
pub struct Rateable {
    /// URP's record id.
    pub id: Uuid,
    /// The stored code (ten characters).
    pub code: String,
    /// What routing told.
    pub case: CompletedCase,
    /// The last instant a rating is taken.
    pub rate_by: Timestamp,
    /// When it was rated, if it was.
    pub rated_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, case_id, code, municipality, service_code, site_id, tier, kind,
    outcome_code, waited_seconds, handling_seconds, completed_at, rate_by, rated_at";

fn rateable_from(row: &PgRow) -> Result<Rateable, sqlx::Error> {
    let bad = |what: &str| sqlx::Error::Decode(format!("urp: bad {what} in rateable_cases").into());
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    Ok(Rateable {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        case: CompletedCase {
            // Forgotten once rated; the record's own id stands in, and is never shown.
            case_id: row
                .try_get::<Option<Uuid>, _>("case_id")?
                .unwrap_or_default(),
            municipality: municipality.parse().map_err(|_| bad("municipality"))?,
            service_code: row.try_get("service_code")?,
            site_id: row.try_get("site_id")?,
            tier: row.try_get("tier")?,
            kind: match kind.as_str() {
                "appointment" => sportello_proto::urp::v1::RateableKind::Appointment,
                _ => sportello_proto::urp::v1::RateableKind::Counter,
            },
            outcome_code: row.try_get("outcome_code")?,
            waited_seconds: row.try_get("waited_seconds")?,
            handling_seconds: row.try_get("handling_seconds")?,
            completed_at: row.try_get::<SqlTimestamp, _>("completed_at")?.to_jiff(),
        },
        rate_by: row.try_get::<SqlTimestamp, _>("rate_by")?.to_jiff(),
        rated_at: row
            .try_get::<Option<SqlTimestamp>, _>("rated_at")?
            .map(|t| t.to_jiff()),
    })
}

/// Records a completed case as rateable under `code`, once: a second event about the same
/// case changes nothing. Whether it was new.
pub async fn record_completed(
    uow: &mut UnitOfWork,
    case: &CompletedCase,
    code: &RatingCode,
    rate_by: Timestamp,
) -> Result<bool, sqlx::Error> {
    let kind = match case.kind {
        sportello_proto::urp::v1::RateableKind::Appointment => "appointment",
        _ => "counter",
    };
    let inserted = sqlx::query(
        "insert into rateable_cases (id, case_id, code, municipality, service_code, site_id, tier,
                                     kind, outcome_code, waited_seconds, handling_seconds,
                                     completed_at, rate_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (case_id) do nothing",
    )
    .bind(Uuid::now_v7())
    .bind(case.case_id)
    .bind(code.as_str())
    .bind(case.municipality.as_str())
    .bind(&case.service_code)
    .bind(case.site_id)
    .bind(case.tier)
    .bind(kind)
    .bind(&case.outcome_code)
    .bind(case.waited_seconds)
    .bind(case.handling_seconds)
    .bind(SqlTimestamp::from(case.completed_at))
    .bind(SqlTimestamp::from(rate_by))
    .execute(uow.conn())
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The rateable case with `code`, locked until the unit of work ends.
pub async fn lock_by_code(
    uow: &mut UnitOfWork,
    code: &RatingCode,
) -> Result<Option<Rateable>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rateable_cases where code = $1 for update"
    )))
    .bind(code.as_str())
    .fetch_optional(uow.conn())
    .await?;
    row.as_ref().map(rateable_from).transpose()
}

/// The rateable case with `code`.
pub async fn by_code(db: &Db, code: &RatingCode) -> Result<Option<Rateable>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rateable_cases where code = $1"
    )))
    .bind(code.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(rateable_from).transpose()
}

/// The rateable case of routing's case `case_id`, while it is not rated.
pub async fn by_case_id(db: &Db, case_id: Uuid) -> Result<Option<Rateable>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rateable_cases where case_id = $1"
    )))
    .bind(case_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(rateable_from).transpose()
}

/// Marks `id` rated now, forgetting routing's case id.
pub async fn mark_rated(uow: &mut UnitOfWork, id: Uuid) -> Result<(), sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query("update rateable_cases set rated_at = $2, case_id = null where id = $1")
        .bind(id)
        .bind(now)
        .execute(uow.conn())
        .await?;
    Ok(())
}

/// One service's row of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceRow {
    /// Catalogue code.
    pub service_code: String,
    /// The tier most of its cases were served at; 0 without cases.
    pub tier: i16,
    /// Cases completed in person.
    pub cases: i64,
    /// Median wait, seconds.
    pub median_wait: f64,
    /// Median handling, seconds.
    pub median_handling: f64,
    /// Outcome → count.
    pub outcomes: Vec<(String, i64)>,
    /// Ratings left.
    pub ratings: i64,
    /// Their mean.
    pub average: f64,
    /// Count of each score 1 to 5.
    pub counts: [i64; 5],
    /// Ratings tied to cases.
    pub case_ratings: i64,
}

/// Per service over the report's period: cases completed in person in the period, and
/// the ratings left in it.
pub async fn report(db: &Db, query: &ReportQuery) -> Result<Vec<ServiceRow>, sqlx::Error> {
    let rome = TimeZone::get("Europe/Rome").map_err(|e| sqlx::Error::Decode(e.into()))?;
    let start = query
        .from
        .to_zoned(rome.clone())
        .map_err(|e| sqlx::Error::Decode(e.into()))?
        .timestamp();
    let end = query
        .to
        .tomorrow()
        .and_then(|d| d.to_zoned(rome))
        .map_err(|e| sqlx::Error::Decode(e.into()))?
        .timestamp();
    let (start, end) = (SqlTimestamp::from(start), SqlTimestamp::from(end));
    let mut rows: BTreeMap<String, ServiceRow> = BTreeMap::new();

    let cases = sqlx::query(
        "select service_code, mode() within group (order by tier) as tier, count(*) as cases,
                percentile_cont(0.5) within group (order by waited_seconds) as median_wait,
                percentile_cont(0.5) within group (order by handling_seconds) as median_handling
           from rateable_cases
          where municipality = $1 and completed_at >= $2 and completed_at < $3
            and ($4::uuid is null or site_id = $4)
          group by service_code",
    )
    .bind(query.municipality.as_str())
    .bind(start)
    .bind(end)
    .bind(query.site_id)
    .fetch_all(db.pool())
    .await?;
    for row in &cases {
        let code: String = row.try_get("service_code")?;
        let entry = rows.entry(code.clone()).or_default();
        entry.service_code = code;
        entry.tier = row.try_get("tier")?;
        entry.cases = row.try_get("cases")?;
        entry.median_wait = row.try_get("median_wait")?;
        entry.median_handling = row.try_get("median_handling")?;
    }

    let outcomes = sqlx::query(
        "select service_code, outcome_code, count(*) as n
           from rateable_cases
          where municipality = $1 and completed_at >= $2 and completed_at < $3
            and ($4::uuid is null or site_id = $4)
          group by service_code, outcome_code
          order by service_code, n desc, outcome_code",
    )
    .bind(query.municipality.as_str())
    .bind(start)
    .bind(end)
    .bind(query.site_id)
    .fetch_all(db.pool())
    .await?;
    for row in &outcomes {
        let code: String = row.try_get("service_code")?;
        if let Some(entry) = rows.get_mut(&code) {
            entry
                .outcomes
                .push((row.try_get("outcome_code")?, row.try_get("n")?));
        }
    }

    // A rating without a case has no site: with a site asked, only cases' ratings count.
    let ratings = sqlx::query(
        "select service_code, rating, count(*) as n,
                count(*) filter (where rateable_case_id is not null) as tied
           from feedback
          where municipality = $1 and created_at >= $2 and created_at < $3
            and ($4::uuid is null or site_id = $4)
          group by service_code, rating",
    )
    .bind(query.municipality.as_str())
    .bind(start)
    .bind(end)
    .bind(query.site_id)
    .fetch_all(db.pool())
    .await?;
    for row in &ratings {
        let code: String = row.try_get("service_code")?;
        let rating: i16 = row.try_get("rating")?;
        let n: i64 = row.try_get("n")?;
        let entry = rows.entry(code.clone()).or_default();
        entry.service_code = code;
        if let Some(slot) = usize::try_from(rating - 1)
            .ok()
            .and_then(|i| entry.counts.get_mut(i))
        {
            *slot += n;
        }
        entry.ratings += n;
        entry.case_ratings += row.try_get::<i64, _>("tied")?;
    }
    for entry in rows.values_mut() {
        if entry.ratings > 0 {
            let sum: i64 = entry
                .counts
                .iter()
                .zip(1i64..)
                .map(|(n, score)| n * score)
                .sum();
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            {
                entry.average = sum as f64 / entry.ratings as f64;
            }
        }
    }
    Ok(rows.into_values().collect())
}
