//! Applications, their documents and their opinions in PostgreSQL.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sportello_pa::{Matter, Stop};
use sqlx::{PgConnection, PgExecutor, Row, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::{
    domain::{ApplicationId, Filing, NewApplication, Status},
    procedures::Regime,
};

/// A stored application.
#[derive(Debug, Clone)]
pub struct Application {
    /// Its id.
    pub id: ApplicationId,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The business.
    pub business_id: Uuid,
    /// The legal representative, pseudonymous.
    pub requester_ref: Option<String>,
    /// The procedure's code.
    pub procedure_code: String,
    /// How it is handled, as filed.
    pub regime: Regime,
    /// Subject.
    pub subject: String,
    /// `counter` or `system`.
    pub channel: String,
    /// The day of receipt, in Rome: the clock starts from it.
    pub received_on: Date,
    /// The filing's protocol registration.
    pub protocol_registration_id: String,
    /// Its number.
    pub protocol_number: String,
    /// The receipt's outgoing number.
    pub receipt_number: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// The clock's stops, oldest first.
    pub stops: Vec<Stop>,
    /// The back office's current work round.
    pub work_round: i32,
    /// The current work's routing case, once opened.
    pub case_id: Option<String>,
    /// When routing closed the current work.
    pub work_closed_at: Option<Timestamp>,
    /// Record version.
    pub version: i64,
    /// When it was filed.
    pub created_at: Timestamp,
    /// The occupation of public land it asks for.
    pub occupation_id: Option<Uuid>,
}

/// A document as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    /// The checklist item.
    pub checklist_item: String,
    /// Its hash.
    pub sha256: String,
    /// Media type.
    pub media_type: String,
    /// Size.
    pub size_bytes: i64,
}

/// An opinion asked of a body.
#[derive(Debug, Clone)]
pub struct OpinionRow {
    /// Its id.
    pub id: Uuid,
    /// The application.
    pub application_id: Uuid,
    /// The body's code.
    pub office: String,
    /// The PA library's rule.
    pub rule: String,
    /// A protected opinion's term in days.
    pub term_days: Option<i32>,
    /// Day requested.
    pub requested_on: Date,
    /// Day due.
    pub due_on: Date,
    /// The request's outgoing number.
    pub request_number: String,
    /// `requested` or the verdict.
    pub state: String,
    /// Day it arrived.
    pub received_on: Option<Date>,
    /// Whether it arrived after its term.
    pub late: bool,
}

const COLUMNS: &str = "id, municipality, business_id, requester_ref, procedure_code, regime,
    matter, subject, channel, received_on, protocol_registration_id, protocol_number,
    receipt_number, status, stops, work_round, case_id, work_closed_at, version, created_at,
    occupation_id";

fn decode(column: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected value in column {column}").into())
}

fn application(row: &PgRow) -> Result<Application, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let regime: String = row.try_get("regime")?;
    let matter: Option<String> = row.try_get("matter")?;
    let regime = match (regime.as_str(), matter.as_deref()) {
        ("scia", None) => Regime::Scia,
        ("scia_building", None) => Regime::SciaBuilding,
        ("communication", None) => Regime::Communication,
        ("ordinary", Some(m)) => {
            Regime::Ordinary(Matter::from_id(m).ok_or_else(|| decode("matter"))?)
        }
        _ => return Err(decode("regime")),
    };
    let status: String = row.try_get("status")?;
    let Json(stops): Json<Vec<Stop>> = row.try_get("stops")?;
    Ok(Application {
        id: ApplicationId(row.try_get("id")?),
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        business_id: row.try_get("business_id")?,
        requester_ref: row.try_get("requester_ref")?,
        procedure_code: row.try_get("procedure_code")?,
        regime,
        subject: row.try_get("subject")?,
        channel: row.try_get("channel")?,
        received_on: row.try_get::<jiff_sqlx::Date, _>("received_on")?.to_jiff(),
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        protocol_number: row.try_get("protocol_number")?,
        receipt_number: row.try_get("receipt_number")?,
        status: Status::from_db(&status)?,
        stops,
        work_round: row.try_get("work_round")?,
        case_id: row.try_get("case_id")?,
        work_closed_at: row
            .try_get::<Option<SqlTimestamp>, _>("work_closed_at")?
            .map(SqlTimestamp::to_jiff),
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
        occupation_id: row.try_get("occupation_id")?,
    })
}

/// What a filing stores.
#[derive(Debug)]
pub struct Filed<'a> {
    /// The parsed request.
    pub new: &'a NewApplication,
    /// The new id.
    pub id: ApplicationId,
    /// Who filed (the call's actor).
    pub filed_by: &'a str,
    /// The day of receipt.
    pub received_on: Date,
    /// The filing's protocol entry.
    pub protocol: &'a sportello_kit::protocol::Entry,
    /// The occupation requested with it.
    pub occupation_id: Option<Uuid>,
}

/// Inserts a filing.
pub async fn insert(uow: &mut UnitOfWork, filed: Filed<'_>) -> Result<Application, sqlx::Error> {
    let now = uow.now();
    let regime = filed.new.procedure.regime;
    let matter = match regime {
        Regime::Ordinary(matter) => Some(matter.id()),
        _ => None,
    };
    let (channel, mandate, reference) = match &filed.new.filing {
        Filing::Counter { mandate, reference } => {
            ("counter", Some(*mandate), Some(reference.as_str()))
        }
        Filing::System => ("system", None, None),
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into applications (id, municipality, business_id, requester_ref, procedure_code,
             regime, matter, subject, channel, mandate_kind, mandate_reference, filed_by,
             received_on, protocol_registration_id, protocol_number, status, created_at,
             updated_at, occupation_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17,
                 $18)
         returning {COLUMNS}"
    )))
    .bind(filed.id.0)
    .bind(filed.new.municipality.as_str())
    .bind(filed.new.business_id)
    .bind(filed.new.requester_ref.as_ref().map(|r| r.as_str()))
    .bind(filed.new.procedure.code)
    .bind(regime.id())
    .bind(matter)
    .bind(&filed.new.subject)
    .bind(channel)
    .bind(mandate)
    .bind(reference)
    .bind(filed.filed_by)
    .bind(jiff_sqlx::Date::from(filed.received_on))
    .bind(&filed.protocol.id)
    .bind(&filed.protocol.number)
    .bind(Status::on_filing(regime).as_str())
    .bind(SqlTimestamp::from(now))
    .bind(filed.occupation_id)
    .fetch_one(uow.conn())
    .await?;
    application(&row)
}

/// The application, locked for the unit of work.
pub async fn lock(
    conn: &mut PgConnection,
    id: ApplicationId,
) -> Result<Option<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from applications where id = $1 for update"
    )))
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(application)
    .transpose()
}

/// The application.
pub async fn get<'e>(
    executor: impl PgExecutor<'e>,
    id: ApplicationId,
) -> Result<Option<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from applications where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(executor)
    .await?
    .as_ref()
    .map(application)
    .transpose()
}

/// A business's applications, newest first (at most 500: a dossier, not an export).
pub async fn of_business<'e>(
    executor: impl PgExecutor<'e>,
    business_id: Uuid,
) -> Result<Vec<Application>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from applications where business_id = $1
         order by created_at desc, id desc limit 500"
    )))
    .bind(business_id)
    .fetch_all(executor)
    .await?
    .iter()
    .map(application)
    .collect()
}

/// Saves what a step changed — status, stops, work round and case — and bumps
/// the version; returns the application as saved.
pub async fn save(uow: &mut UnitOfWork, app: &Application) -> Result<Application, sqlx::Error> {
    let now = uow.now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update applications
         set status = $2, stops = $3, work_round = $4, case_id = $5, work_closed_at = $6,
             version = version + 1, updated_at = $7
         where id = $1
         returning {COLUMNS}"
    )))
    .bind(app.id.0)
    .bind(app.status.as_str())
    .bind(Json(&app.stops))
    .bind(app.work_round)
    .bind(app.case_id.as_deref())
    .bind(app.work_closed_at.map(SqlTimestamp::from))
    .bind(SqlTimestamp::from(now))
    .fetch_one(uow.conn())
    .await?;
    application(&row)
}

/// Records the receipt's outgoing entry.
pub async fn set_receipt(
    conn: &mut PgConnection,
    id: ApplicationId,
    entry: &sportello_kit::protocol::Entry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update applications set receipt_registration_id = $2, receipt_number = $3 where id = $1",
    )
    .bind(id.0)
    .bind(&entry.id)
    .bind(&entry.number)
    .execute(conn)
    .await?;
    Ok(())
}

/// Lists a step's documents against the application.
pub async fn insert_documents(
    conn: &mut PgConnection,
    id: ApplicationId,
    step: &str,
    documents: &[DocumentRow],
) -> Result<(), sqlx::Error> {
    for (position, d) in documents.iter().enumerate() {
        sqlx::query(
            "insert into application_documents
                 (application_id, checklist_item, step, sha256, media_type, size_bytes, position)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.0)
        .bind(&d.checklist_item)
        .bind(step)
        .bind(&d.sha256)
        .bind(&d.media_type)
        .bind(d.size_bytes)
        .bind(i16::try_from(position).unwrap_or(i16::MAX))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The application's documents, in filing order.
pub async fn documents<'e>(
    executor: impl PgExecutor<'e>,
    id: ApplicationId,
) -> Result<Vec<DocumentRow>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "select checklist_item, sha256, media_type, size_bytes from application_documents
         where application_id = $1
         order by case step when 'filing' then 0 when 'integration' then 1
                            when 'measures' then 2 else 3 end, position",
    )
    .bind(id.0)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(checklist_item, sha256, media_type, size_bytes)| DocumentRow {
                checklist_item,
                sha256,
                media_type,
                size_bytes,
            },
        )
        .collect())
}

const OPINION_COLUMNS: &str = "id, application_id, office, rule, term_days, requested_on, due_on,
    request_number, state, received_on, late";

fn opinion(row: &PgRow) -> Result<OpinionRow, sqlx::Error> {
    Ok(OpinionRow {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        office: row.try_get("office")?,
        rule: row.try_get("rule")?,
        term_days: row.try_get("term_days")?,
        requested_on: row.try_get::<jiff_sqlx::Date, _>("requested_on")?.to_jiff(),
        due_on: row.try_get::<jiff_sqlx::Date, _>("due_on")?.to_jiff(),
        request_number: row.try_get("request_number")?,
        state: row.try_get("state")?,
        received_on: row
            .try_get::<Option<jiff_sqlx::Date>, _>("received_on")?
            .map(jiff_sqlx::Date::to_jiff),
        late: row.try_get("late")?,
    })
}

/// A new opinion request.
#[derive(Debug)]
pub struct NewOpinion<'a> {
    /// The application.
    pub application: ApplicationId,
    /// The body.
    pub office: &'a str,
    /// The rule.
    pub rule: &'a str,
    /// A protected opinion's term.
    pub term_days: Option<i32>,
    /// Day requested.
    pub requested_on: Date,
    /// Day due.
    pub due_on: Date,
    /// The request's outgoing entry.
    pub entry: &'a sportello_kit::protocol::Entry,
}

/// Inserts an opinion request; `None` when the body was asked already.
pub async fn insert_opinion(
    uow: &mut UnitOfWork,
    new: NewOpinion<'_>,
) -> Result<Option<OpinionRow>, sqlx::Error> {
    let now = uow.now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into opinions (id, application_id, office, rule, term_days, requested_on, due_on,
                               request_registration_id, request_number, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (application_id, office) do nothing
         returning {OPINION_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.application.0)
    .bind(new.office)
    .bind(new.rule)
    .bind(new.term_days)
    .bind(jiff_sqlx::Date::from(new.requested_on))
    .bind(jiff_sqlx::Date::from(new.due_on))
    .bind(&new.entry.id)
    .bind(&new.entry.number)
    .bind(SqlTimestamp::from(now))
    .fetch_optional(uow.conn())
    .await?;
    row.as_ref().map(opinion).transpose()
}

/// The opinion asked of `office` for the application, locked.
pub async fn lock_opinion(
    conn: &mut PgConnection,
    application: ApplicationId,
    office: &str,
) -> Result<Option<OpinionRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions where application_id = $1 and office = $2
         for update"
    )))
    .bind(application.0)
    .bind(office)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(opinion)
    .transpose()
}

/// Records a body's answer.
pub async fn answer_opinion(
    conn: &mut PgConnection,
    id: Uuid,
    verdict: &str,
    received_on: Date,
    late: bool,
    entry: &sportello_kit::protocol::Entry,
) -> Result<OpinionRow, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update opinions set state = $2, received_on = $3, late = $4,
                answer_registration_id = $5, answer_number = $6
         where id = $1 returning {OPINION_COLUMNS}"
    )))
    .bind(id)
    .bind(verdict)
    .bind(jiff_sqlx::Date::from(received_on))
    .bind(late)
    .bind(&entry.id)
    .bind(&entry.number)
    .fetch_one(conn)
    .await?;
    opinion(&row)
}

/// The application's opinions, in the order asked.
pub async fn opinions<'e>(
    executor: impl PgExecutor<'e>,
    id: ApplicationId,
) -> Result<Vec<OpinionRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions where application_id = $1 order by created_at, id"
    )))
    .bind(id.0)
    .fetch_all(executor)
    .await?
    .iter()
    .map(opinion)
    .collect()
}

/// Whether `business_id` is a business of `municipality`.
pub async fn business_exists<'e>(
    executor: impl PgExecutor<'e>,
    business_id: Uuid,
    municipality: MunicipalityCode,
) -> Result<bool, sqlx::Error> {
    let found: Option<(i32,)> =
        sqlx::query_as("select 1 from businesses where id = $1 and municipality = $2")
            .bind(business_id)
            .bind(municipality.as_str())
            .fetch_optional(executor)
            .await?;
    Ok(found.is_some())
}
