//! Enrolment in PostgreSQL: windows, applications (their health data apart) and the
//! published rankings.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    age::{Entry, SchoolYear},
    criteria::Criteria,
    domain::{ApplicationId, Filing, NewWindow, ObjectionId, Service, Stage, WindowId},
    ranking::PublishedRow,
};
use crate::error::EducationError;

/// A stored window.
#[derive(Debug, Clone)]
pub struct Window {
    /// Record id.
    pub id: WindowId,
    /// What was opened.
    pub window: NewWindow,
    /// Applications filed in it.
    pub filed: i32,
    /// Record version.
    pub version: i64,
    /// When it was opened.
    pub created_at: Timestamp,
}

fn decode(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("enrolment: bad {what} in the database").into())
}

fn date(row: &PgRow, column: &str) -> Result<Date, sqlx::Error> {
    Ok(row.try_get::<jiff_sqlx::Date, _>(column)?.to_jiff())
}

fn timestamp(row: &PgRow, column: &str) -> Result<Timestamp, sqlx::Error> {
    Ok(row.try_get::<SqlTimestamp, _>(column)?.to_jiff())
}

/// The row `sql` (one `$1`, a record id) selects, read with `from`; `None` when there is
/// none.
async fn optional<T>(
    conn: impl sqlx::PgExecutor<'_>,
    sql: String,
    id: Uuid,
    from: fn(&PgRow) -> Result<T, sqlx::Error>,
) -> Result<Option<T>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from)
        .transpose()
}

const WINDOW_COLUMNS: &str = "id, municipality, level, school_year, opens_on, closes_on, \
                              starts_on, criteria, objection_days, places, acceptance_days, check_percent, filed, version, \
                              created_at";

fn window_from(row: &PgRow) -> Result<Window, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let level: String = row.try_get("level")?;
    let criteria: serde_json::Value = row.try_get("criteria")?;
    Ok(Window {
        id: WindowId(row.try_get("id")?),
        window: NewWindow {
            municipality: municipality.parse().map_err(|_| decode("municipality"))?,
            service: Service::from_name(&level).ok_or_else(|| decode("level"))?,
            year: SchoolYear(row.try_get("school_year")?),
            opens_on: date(row, "opens_on")?,
            closes_on: date(row, "closes_on")?,
            starts_on: date(row, "starts_on")?,
            criteria: serde_json::from_value::<Criteria>(criteria)
                .map_err(|_| decode("criteria"))?,
            objection_days: row.try_get("objection_days")?,
            places: row.try_get("places")?,
            acceptance_days: row.try_get("acceptance_days")?,
            check_percent: row.try_get("check_percent")?,
        },
        filed: row.try_get("filed")?,
        version: row.try_get("version")?,
        created_at: timestamp(row, "created_at")?,
    })
}

/// Opens a window; another for the same municipality, service and year is
/// [`EducationError::WindowExists`].
pub async fn insert_window(
    uow: &mut UnitOfWork,
    window: NewWindow,
) -> Result<Window, EducationError> {
    let id = WindowId(Uuid::now_v7());
    let created_at = uow.now();
    let criteria =
        serde_json::to_value(&window.criteria).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let inserted = sqlx::query(
        "insert into enrolment_windows (id, municipality, level, school_year, opens_on,
                                        closes_on, starts_on, criteria, created_at,
                                        objection_days, places, acceptance_days,
                                        check_percent)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id.0)
    .bind(window.municipality.as_str())
    .bind(window.service.name())
    .bind(window.year.0)
    .bind(jiff_sqlx::Date::from(window.opens_on))
    .bind(jiff_sqlx::Date::from(window.closes_on))
    .bind(jiff_sqlx::Date::from(window.starts_on))
    .bind(criteria)
    .bind(SqlTimestamp::from(created_at))
    .bind(window.objection_days)
    .bind(window.places)
    .bind(window.acceptance_days)
    .bind(window.check_percent)
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Window {
            id,
            window,
            filed: 0,
            version: 1,
            created_at,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("enrolment_windows_one_per_year") =>
        {
            Err(EducationError::WindowExists)
        }
        Err(error) => Err(error.into()),
    }
}

/// A window.
pub async fn find_window(
    conn: impl sqlx::PgExecutor<'_>,
    id: WindowId,
) -> Result<Option<Window>, sqlx::Error> {
    optional(
        conn,
        format!("select {WINDOW_COLUMNS} from enrolment_windows where id = $1"),
        id.0,
        window_from,
    )
    .await
}

/// The windows of `municipality`, the latest school year first, then the nursery's
/// before the pre-school's; with `open_on`, only those taking applications that day.
pub async fn windows_of(
    conn: impl sqlx::PgExecutor<'_>,
    municipality: MunicipalityCode,
    open_on: Option<Date>,
) -> Result<Vec<Window>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {WINDOW_COLUMNS} from enrolment_windows
         where municipality = $1 and ($2::date is null or $2::date between opens_on and closes_on)
         order by school_year desc, level = 'infanzia', opens_on"
    )))
    .bind(municipality.as_str())
    .bind(open_on.map(jiff_sqlx::Date::from))
    .fetch_all(conn)
    .await?
    .iter()
    .map(window_from)
    .collect()
}

/// Counts a change of the window (a ranking published); returns its new version, which
/// the change's event carries.
pub async fn bump_window(uow: &mut UnitOfWork, id: WindowId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "update enrolment_windows set version = version + 1 where id = $1 returning version",
    )
    .bind(id.0)
    .fetch_one(uow.conn())
    .await
}

/// How many of a window's applications are under review or check (open reviews of either kind).
pub async fn open_reviews(
    conn: impl sqlx::PgExecutor<'_>,
    window: WindowId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from enrolment_reviews r
           join enrolment_applications a on a.id = r.application_id
          where a.window_id = $1 and r.status = 'open'",
    )
    .bind(window.0)
    .fetch_one(conn)
    .await
}

/// A window, locked until `uow` ends: filings in one window number their codes in turn,
/// and a ranking is computed from what is filed when it holds the lock.
pub async fn lock_window(
    uow: &mut UnitOfWork,
    id: WindowId,
) -> Result<Option<Window>, sqlx::Error> {
    optional(
        uow.conn(),
        format!("select {WINDOW_COLUMNS} from enrolment_windows where id = $1 for update"),
        id.0,
        window_from,
    )
    .await
}

/// A stored application. Its `Debug` shows ids and the code only: the declarations
/// (an income, a household) stay out of logs.
#[derive(Clone)]
pub struct Application {
    /// Record id.
    pub id: ApplicationId,
    /// Its window.
    pub window_id: WindowId,
    /// Public code.
    pub code: String,
    /// The child's reference.
    pub child_ref: String,
    /// The applicant's reference.
    pub applicant_ref: String,
    /// The child's birth date (age rules, ties).
    pub birth_date: Date,
    /// Regular or early.
    pub entry: Entry,
    /// Resident on the day of filing (the registry's answer).
    pub resident: bool,
    /// Working parents declared.
    pub working_parents: i16,
    /// Siblings attending, declared.
    pub siblings_enrolled: i16,
    /// The ISEE value, if declared.
    pub isee_cents: Option<i64>,
    /// Its DSU protocol number.
    pub dsu_protocol: Option<String>,
    /// Total score.
    pub score: i32,
    /// How it arrived.
    pub filing: Filing,
    /// Who filed it (the operator or the system).
    pub filed_by: String,
    /// The protocol entry's id.
    pub protocol_registration_id: String,
    /// The protocol number.
    pub protocol_number: String,
    /// The register's time.
    pub filed_at: Timestamp,
    /// The offer of a place: `offered`, `accepted`, `refused`, `lapsed`.
    pub offer_status: Option<String>,
    /// The offer's last day to answer.
    pub offer_last_day: Option<Date>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("id", &self.id)
            .field("window_id", &self.window_id)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

const APPLICATION_COLUMNS: &str = "id, window_id, code, child_ref, applicant_ref, birth_date, \
    entry, resident, working_parents, siblings_enrolled, isee_cents, dsu_protocol, score, \
    channel, filed_by, protocol_registration_id, protocol_number, filed_at, offer_status, \
    offer_last_day";

fn entry_name(entry: Entry) -> &'static str {
    match entry {
        Entry::Regular => "regular",
        Entry::Early => "early",
    }
}

fn application_from(row: &PgRow) -> Result<Application, sqlx::Error> {
    let entry: String = row.try_get("entry")?;
    let channel: String = row.try_get("channel")?;
    Ok(Application {
        id: ApplicationId(row.try_get("id")?),
        window_id: WindowId(row.try_get("window_id")?),
        code: row.try_get("code")?,
        child_ref: row.try_get("child_ref")?,
        applicant_ref: row.try_get("applicant_ref")?,
        birth_date: date(row, "birth_date")?,
        entry: match entry.as_str() {
            "regular" => Entry::Regular,
            "early" => Entry::Early,
            _ => return Err(decode("entry")),
        },
        resident: row.try_get("resident")?,
        working_parents: row.try_get("working_parents")?,
        siblings_enrolled: row.try_get("siblings_enrolled")?,
        isee_cents: row.try_get("isee_cents")?,
        dsu_protocol: row.try_get("dsu_protocol")?,
        score: row.try_get("score")?,
        filing: match channel.as_str() {
            "counter" => Filing::Counter,
            "system" => Filing::System,
            _ => return Err(decode("channel")),
        },
        filed_by: row.try_get("filed_by")?,
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        protocol_number: row.try_get("protocol_number")?,
        filed_at: timestamp(row, "filed_at")?,
        offer_status: row.try_get("offer_status")?,
        offer_last_day: row
            .try_get::<Option<jiff_sqlx::Date>, _>("offer_last_day")?
            .map(|d| d.to_jiff()),
    })
}

/// Records an offer made (`offered`, with its last day) or its answer; returns the
/// application's new version (its events carry it).
pub async fn set_offer(
    uow: &mut UnitOfWork,
    id: ApplicationId,
    status: &str,
    last_day: Option<Date>,
) -> Result<i64, sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    if status == "offered" {
        sqlx::query_scalar(
            "update enrolment_applications
                set offer_status = 'offered', offer_last_day = $2, offered_at = $3,
                    answered_at = null, version = version + 1
              where id = $1
          returning version",
        )
        .bind(id.0)
        .bind(last_day.map(jiff_sqlx::Date::from))
        .bind(now)
        .fetch_one(uow.conn())
        .await
    } else {
        sqlx::query_scalar(
            "update enrolment_applications
                set offer_status = $2, answered_at = $3, version = version + 1
              where id = $1
          returning version",
        )
        .bind(id.0)
        .bind(status)
        .bind(now)
        .fetch_one(uow.conn())
        .await
    }
}

/// The next application number in a locked window.
pub async fn next_number(uow: &mut UnitOfWork, window: WindowId) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "update enrolment_windows set filed = filed + 1 where id = $1 returning filed",
    )
    .bind(window.0)
    .fetch_one(uow.conn())
    .await
}

/// Inserts an application and its health data; a second one for the child in the
/// window is [`EducationError::ApplicationExists`].
pub async fn insert_application(
    uow: &mut UnitOfWork,
    application: &Application,
    disability_certified: bool,
) -> Result<(), EducationError> {
    let a = application;
    let inserted = sqlx::query(
        "insert into enrolment_applications (id, window_id, code, child_ref, applicant_ref,
             birth_date, entry, resident, working_parents, siblings_enrolled, isee_cents,
             dsu_protocol, score, channel, filed_by, protocol_registration_id,
             protocol_number, filed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(a.id.0)
    .bind(a.window_id.0)
    .bind(&a.code)
    .bind(&a.child_ref)
    .bind(&a.applicant_ref)
    .bind(jiff_sqlx::Date::from(a.birth_date))
    .bind(entry_name(a.entry))
    .bind(a.resident)
    .bind(a.working_parents)
    .bind(a.siblings_enrolled)
    .bind(a.isee_cents)
    .bind(a.dsu_protocol.as_deref())
    .bind(a.score)
    .bind(a.filing.name())
    .bind(&a.filed_by)
    .bind(&a.protocol_registration_id)
    .bind(&a.protocol_number)
    .bind(SqlTimestamp::from(a.filed_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => {}
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("enrolment_applications_one_per_child") =>
        {
            // A filing that raced another for the child: the transaction has failed, so
            // the other's code cannot be read here.
            return Err(EducationError::ApplicationExists { code: None });
        }
        Err(error) => return Err(error.into()),
    }
    sqlx::query(
        "insert into enrolment_application_health (application_id, disability_certified)
         values ($1, $2)",
    )
    .bind(a.id.0)
    .bind(disability_certified)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// The child's application in a window, if any.
pub async fn application_of_child(
    conn: impl sqlx::PgExecutor<'_>,
    window: WindowId,
    child_ref: &str,
) -> Result<Option<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {APPLICATION_COLUMNS} from enrolment_applications
          where window_id = $1 and child_ref = $2"
    )))
    .bind(window.0)
    .bind(child_ref)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(application_from)
    .transpose()
}

/// An application.
pub async fn find_application(
    conn: impl sqlx::PgExecutor<'_>,
    id: ApplicationId,
) -> Result<Option<Application>, sqlx::Error> {
    optional(
        conn,
        format!("select {APPLICATION_COLUMNS} from enrolment_applications where id = $1"),
        id.0,
        application_from,
    )
    .await
}

/// Every application of a window, in no particular order.
pub async fn applications_of(
    conn: impl sqlx::PgExecutor<'_>,
    window: WindowId,
) -> Result<Vec<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {APPLICATION_COLUMNS} from enrolment_applications where window_id = $1"
    )))
    .bind(window.0)
    .fetch_all(conn)
    .await?
    .iter()
    .map(application_from)
    .collect()
}

/// A published ranking.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Its window.
    pub window_id: WindowId,
    /// Its stage.
    pub stage: Stage,
    /// The criteria's version.
    pub criteria_version: i32,
    /// The rows as published.
    pub rows: Vec<PublishedRow>,
    /// The open data.
    pub open_data_csv: String,
    /// When it was published.
    pub published_at: Timestamp,
}

/// Stores a published ranking; a second one of the stage is
/// [`EducationError::RankingExists`].
pub async fn insert_ranking(uow: &mut UnitOfWork, ranking: &Ranking) -> Result<(), EducationError> {
    let rows: Vec<serde_json::Value> = ranking
        .rows
        .iter()
        .map(|r| serde_json::json!([r.position, r.code, r.total]))
        .collect();
    let inserted = sqlx::query(
        "insert into enrolment_rankings (window_id, stage, criteria_version, rows,
                                         open_data_csv, published_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ranking.window_id.0)
    .bind(ranking.stage.name())
    .bind(ranking.criteria_version)
    .bind(serde_json::Value::Array(rows))
    .bind(&ranking.open_data_csv)
    .bind(SqlTimestamp::from(ranking.published_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION).is_some() => {
            Err(EducationError::RankingExists)
        }
        Err(error) => Err(error.into()),
    }
}

/// A window's published ranking of `stage`, if published.
pub async fn find_ranking(
    conn: impl sqlx::PgExecutor<'_>,
    window: WindowId,
    stage: Stage,
) -> Result<Option<Ranking>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "select criteria_version, rows, open_data_csv, published_at from enrolment_rankings
          where window_id = $1 and stage = $2",
    )
    .bind(window.0)
    .bind(stage.name())
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let rows: Vec<(u32, String, u32)> =
        serde_json::from_value(row.try_get("rows")?).map_err(|_| decode("ranking rows"))?;
    Ok(Some(Ranking {
        window_id: window,
        stage,
        criteria_version: row.try_get("criteria_version")?,
        rows: rows
            .into_iter()
            .map(|(position, code, total)| PublishedRow {
                position,
                code,
                total,
            })
            .collect(),
        open_data_csv: row.try_get("open_data_csv")?,
        published_at: timestamp(&row, "published_at")?,
    }))
}

/// A stored objection. Its `Debug` leaves out the family's grounds.
#[derive(Clone)]
pub struct Objection {
    /// Record id (its work's id too).
    pub id: ObjectionId,
    /// The application.
    pub application_id: ApplicationId,
    /// The window.
    pub window_id: WindowId,
    /// The family's grounds.
    pub grounds: String,
    /// How it arrived.
    pub filing: Filing,
    /// Who filed it.
    pub filed_by: String,
    /// The protocol entry's id.
    pub protocol_registration_id: String,
    /// The protocol number.
    pub protocol_number: String,
    /// The register's time.
    pub filed_at: Timestamp,
    /// `open`, `upheld` or `rejected`.
    pub status: String,
    /// The score when filed.
    pub score_before: i32,
    /// The score after the outcome.
    pub score_after: Option<i32>,
    /// Routing's case, once opened.
    pub case_id: Option<String>,
    /// Who decided it.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
}

impl std::fmt::Debug for Objection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objection")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

const OBJECTION_COLUMNS: &str = "id, application_id, window_id, grounds, channel, filed_by, \
    protocol_registration_id, protocol_number, filed_at, status, score_before, score_after, \
    case_id, decided_by, decided_at";

fn objection_from(row: &PgRow) -> Result<Objection, sqlx::Error> {
    let channel: String = row.try_get("channel")?;
    Ok(Objection {
        id: ObjectionId(row.try_get("id")?),
        application_id: ApplicationId(row.try_get("application_id")?),
        window_id: WindowId(row.try_get("window_id")?),
        grounds: row.try_get("grounds")?,
        filing: match channel.as_str() {
            "counter" => Filing::Counter,
            "system" => Filing::System,
            _ => return Err(decode("channel")),
        },
        filed_by: row.try_get("filed_by")?,
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        protocol_number: row.try_get("protocol_number")?,
        filed_at: timestamp(row, "filed_at")?,
        status: row.try_get("status")?,
        score_before: row.try_get("score_before")?,
        score_after: row.try_get("score_after")?,
        case_id: row.try_get("case_id")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row
            .try_get::<Option<SqlTimestamp>, _>("decided_at")?
            .map(|t| t.to_jiff()),
    })
}

/// Inserts an objection; a second for the application is
/// [`EducationError::ObjectionExists`].
pub async fn insert_objection(uow: &mut UnitOfWork, o: &Objection) -> Result<(), EducationError> {
    let inserted = sqlx::query(
        "insert into enrolment_objections (id, application_id, window_id, grounds, channel,
             filed_by, protocol_registration_id, protocol_number, filed_at, score_before)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(o.id.0)
    .bind(o.application_id.0)
    .bind(o.window_id.0)
    .bind(&o.grounds)
    .bind(o.filing.name())
    .bind(&o.filed_by)
    .bind(&o.protocol_registration_id)
    .bind(&o.protocol_number)
    .bind(SqlTimestamp::from(o.filed_at))
    .bind(o.score_before)
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("enrolment_objections_one_per_application") =>
        {
            Err(EducationError::ObjectionExists)
        }
        Err(error) => Err(error.into()),
    }
}

/// An objection.
pub async fn find_objection(
    conn: impl sqlx::PgExecutor<'_>,
    id: ObjectionId,
) -> Result<Option<Objection>, sqlx::Error> {
    optional(
        conn,
        format!("select {OBJECTION_COLUMNS} from enrolment_objections where id = $1"),
        id.0,
        objection_from,
    )
    .await
}

/// An objection, locked until `uow` ends.
pub async fn lock_objection(
    uow: &mut UnitOfWork,
    id: ObjectionId,
) -> Result<Option<Objection>, sqlx::Error> {
    optional(
        uow.conn(),
        format!("select {OBJECTION_COLUMNS} from enrolment_objections where id = $1 for update"),
        id.0,
        objection_from,
    )
    .await
}

/// The application's objection, if any.
pub async fn objection_of(
    conn: impl sqlx::PgExecutor<'_>,
    application: ApplicationId,
) -> Result<Option<Objection>, sqlx::Error> {
    optional(
        conn,
        format!("select {OBJECTION_COLUMNS} from enrolment_objections where application_id = $1"),
        application.0,
        objection_from,
    )
    .await
}

/// How many of a window's objections are still open.
pub async fn open_objections(
    conn: impl sqlx::PgExecutor<'_>,
    window: WindowId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from enrolment_objections where window_id = $1 and status = 'open'",
    )
    .bind(window.0)
    .fetch_one(conn)
    .await
}

/// Notes routing's case of an objection.
pub async fn set_objection_case(
    uow: &mut UnitOfWork,
    id: ObjectionId,
    case_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update enrolment_objections set case_id = $2 where id = $1")
        .bind(id.0)
        .bind(case_id)
        .execute(uow.conn())
        .await?;
    Ok(())
}

/// Records an objection's outcome.
pub async fn decide_objection(uow: &mut UnitOfWork, o: &Objection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update enrolment_objections
            set status = $2, score_after = $3, case_id = $4, decided_by = $5, decided_at = $6
          where id = $1",
    )
    .bind(o.id.0)
    .bind(&o.status)
    .bind(o.score_after)
    .bind(o.case_id.as_deref())
    .bind(o.decided_by.as_deref())
    .bind(o.decided_at.map(SqlTimestamp::from))
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// An application locked until `uow` ends, with its health data (to rescore it).
pub async fn lock_application(
    uow: &mut UnitOfWork,
    id: ApplicationId,
) -> Result<Option<(Application, bool)>, sqlx::Error> {
    let Some(application) = optional(
        uow.conn(),
        format!(
            "select {APPLICATION_COLUMNS} from enrolment_applications where id = $1 for update"
        ),
        id.0,
        application_from,
    )
    .await?
    else {
        return Ok(None);
    };
    let disability: bool = sqlx::query_scalar(
        "select disability_certified from enrolment_application_health where application_id = $1",
    )
    .bind(id.0)
    .fetch_optional(uow.conn())
    .await?
    .unwrap_or(false);
    Ok(Some((application, disability)))
}

/// Saves an application's declarations and score after an upheld objection, and its
/// health data.
pub async fn rescore(
    uow: &mut UnitOfWork,
    a: &Application,
    disability_certified: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update enrolment_applications
            set working_parents = $2, siblings_enrolled = $3, isee_cents = $4,
                dsu_protocol = $5, score = $6, resident = $7, version = version + 1
          where id = $1",
    )
    .bind(a.id.0)
    .bind(a.working_parents)
    .bind(a.siblings_enrolled)
    .bind(a.isee_cents)
    .bind(a.dsu_protocol.as_deref())
    .bind(a.score)
    .bind(a.resident)
    .execute(uow.conn())
    .await?;
    sqlx::query(
        "update enrolment_application_health set disability_certified = $2
          where application_id = $1",
    )
    .bind(a.id.0)
    .bind(disability_certified)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// The live applications (not refused, not lapsed) where the person is the child or the
/// applicant.
pub async fn applications_of_person(
    conn: impl sqlx::PgExecutor<'_>,
    requester_ref: &str,
) -> Result<Vec<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {APPLICATION_COLUMNS} from enrolment_applications
          where (child_ref = $1 or applicant_ref = $1)
            and (offer_status is null or offer_status in ('offered', 'accepted'))
          order by filed_at"
    )))
    .bind(requester_ref)
    .fetch_all(conn)
    .await?
    .iter()
    .map(application_from)
    .collect()
}

/// A review of an application.
#[derive(Debug, Clone)]
pub struct Review {
    /// Record id (its work's id too).
    pub id: Uuid,
    /// The application.
    pub application_id: ApplicationId,
    /// Why.
    pub reason: String,
    /// `registry_change` or `declaration_check`.
    pub kind: String,
    /// `open`, then `kept` or `residence_lost` (a registry change), `confirmed` or
    /// `not_truthful` (a check).
    pub status: String,
}

/// Flags an application for review of `kind` (`registry_change`, `declaration_check`),
/// once per id.
pub async fn insert_review(
    uow: &mut UnitOfWork,
    id: Uuid,
    application: ApplicationId,
    kind: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query(
        "insert into enrolment_reviews (id, application_id, kind, reason, created_at)
         values ($1, $2, $3, $4, $5) on conflict (id) do nothing",
    )
    .bind(id)
    .bind(application.0)
    .bind(kind)
    .bind(reason)
    .bind(now)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// The window of a review's application.
pub async fn window_of_review(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<WindowId>, sqlx::Error> {
    let window: Option<Uuid> = sqlx::query_scalar(
        "select a.window_id from enrolment_reviews r
           join enrolment_applications a on a.id = r.application_id
          where r.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(window.map(WindowId))
}

/// A review, locked until `uow` ends.
pub async fn lock_review(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Review>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "select id, application_id, kind, reason, status from enrolment_reviews
          where id = $1 for update",
    )
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Review {
        id: row.try_get("id")?,
        application_id: ApplicationId(row.try_get("application_id")?),
        reason: row.try_get("reason")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
    }))
}

/// Notes routing's case of a review.
pub async fn set_review_case(
    uow: &mut UnitOfWork,
    id: Uuid,
    case_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update enrolment_reviews set case_id = $2 where id = $1")
        .bind(id)
        .bind(case_id)
        .execute(uow.conn())
        .await?;
    Ok(())
}

/// Records a review's outcome.
pub async fn decide_review(
    uow: &mut UnitOfWork,
    id: Uuid,
    status: &str,
    actor: &str,
    case_id: &str,
) -> Result<(), sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query(
        "update enrolment_reviews
            set status = $2, decided_by = $3, case_id = $4, decided_at = $5
          where id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(actor)
    .bind(case_id)
    .bind(now)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// The reviews of an application: (reason, status), oldest first.
pub async fn reviews_of(
    conn: impl sqlx::PgExecutor<'_>,
    application: ApplicationId,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "select reason, status from enrolment_reviews where application_id = $1
          order by created_at, id",
    )
    .bind(application.0)
    .fetch_all(conn)
    .await
}
