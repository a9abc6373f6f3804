//! Access requests in PostgreSQL: one row per request (its person apart from what
//! travels), its objections, and the register read without the person.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sportello_pa::Stop;
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{Decision, Kind, ReviewBy, ReviewDecision, State};

/// A stored request, without its person (but the pseudonymous reference).
#[derive(Debug, Clone)]
pub struct Access {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Which access.
    pub kind: Kind,
    /// What is asked, masked.
    pub subject: String,
    /// The interest, masked.
    pub interest: String,
    /// How it arrived (the channel's name).
    pub channel: String,
    /// The person, pseudonymous.
    pub requester_ref: String,
    /// The protocol's registration id.
    pub protocol_id: String,
    /// The protocol number.
    pub protocol_number: String,
    /// When received.
    pub received_at: Timestamp,
    /// The day received, in Rome.
    pub received_on: Date,
    /// Where it stands.
    pub state: State,
    /// The decision term's stops.
    pub stops: Vec<Stop>,
    /// The decision's due day now.
    pub due_date: Option<Date>,
    /// Why irregular.
    pub irregular_reason: Option<String>,
    /// Counter-interested parties notified.
    pub counter_interested: i32,
    /// The day they received the request.
    pub counter_interested_notified_on: Option<Date>,
    /// Their last day to object.
    pub objection_deadline: Option<Date>,
    /// The decision.
    pub decision: Option<Decision>,
    /// Its grounds.
    pub grounds: Vec<String>,
    /// Its reasons.
    pub reasons: Option<String>,
    /// The remedies it names.
    pub remedies: Option<String>,
    /// Deferred until.
    pub deferred_until: Option<Date>,
    /// Copies' pages.
    pub copy_pages: i32,
    /// Copies' cost.
    pub copy_cost_cents: i64,
    /// Where published.
    pub published_url: Option<String>,
    /// The decision's protocol number.
    pub decision_protocol_number: Option<String>,
    /// The decision's day.
    pub decided_on: Option<Date>,
    /// The first day data may be sent.
    pub deliver_from: Option<Date>,
    /// The last day review may be asked.
    pub review_deadline: Option<Date>,
    /// Who asked for review.
    pub review_by: Option<ReviewBy>,
    /// Why.
    pub review_reasons: Option<String>,
    /// When.
    pub review_requested_on: Option<Date>,
    /// The review term's stops (the Garante).
    pub review_stops: Vec<Stop>,
    /// The review's due day.
    pub review_due_date: Option<Date>,
    /// The review's decision.
    pub review_decision: Option<ReviewDecision>,
    /// Its reasons.
    pub review_decision_reasons: Option<String>,
    /// Its protocol number.
    pub review_protocol_number: Option<String>,
    /// Its day.
    pub reviewed_on: Option<Date>,
    /// Version.
    pub version: i32,
}

const COLUMNS: &str = "id, municipality, kind, subject, interest, channel, requester_ref, \
    protocol_id, protocol_number, received_at, received_on, state, stops, due_date, \
    irregular_reason, counter_interested, counter_interested_notified_on, objection_deadline, \
    decision, grounds, reasons, remedies, deferred_until, copy_pages, copy_cost_cents, \
    published_url, decision_protocol_number, decided_on, deliver_from, review_deadline, \
    review_by, review_reasons, review_requested_on, review_stops, review_due_date, \
    review_decision, review_decision_reasons, review_protocol_number, reviewed_on, version";

fn bad(column: &str, why: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: why.to_string().into(),
    }
}

fn date(row: &PgRow, column: &str) -> Result<Option<Date>, sqlx::Error> {
    Ok(row
        .try_get::<Option<jiff_sqlx::Date>, _>(column)?
        .map(|d| d.to_jiff()))
}

fn named<T>(
    row: &PgRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(column)? {
        Some(raw) => parse(&raw).map(Some).ok_or_else(|| bad(column, raw)),
        None => Ok(None),
    }
}

fn stops(row: &PgRow, column: &str) -> Result<Vec<Stop>, sqlx::Error> {
    let raw: serde_json::Value = row.try_get(column)?;
    serde_json::from_value(raw).map_err(|e| bad(column, e))
}

fn access(row: &PgRow) -> Result<Access, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    Ok(Access {
        id: row.try_get("id")?,
        municipality: municipality.parse().map_err(|e| bad("municipality", e))?,
        kind: named(row, "kind", Kind::from_id)?.ok_or_else(|| bad("kind", "null"))?,
        subject: row.try_get("subject")?,
        interest: row.try_get("interest")?,
        channel: row.try_get("channel")?,
        requester_ref: row.try_get("requester_ref")?,
        protocol_id: row.try_get("protocol_id")?,
        protocol_number: row.try_get("protocol_number")?,
        received_at: row.try_get::<SqlTimestamp, _>("received_at")?.to_jiff(),
        received_on: date(row, "received_on")?.ok_or_else(|| bad("received_on", "null"))?,
        state: named(row, "state", State::from_id)?.ok_or_else(|| bad("state", "null"))?,
        stops: stops(row, "stops")?,
        due_date: date(row, "due_date")?,
        irregular_reason: row.try_get("irregular_reason")?,
        counter_interested: row.try_get("counter_interested")?,
        counter_interested_notified_on: date(row, "counter_interested_notified_on")?,
        objection_deadline: date(row, "objection_deadline")?,
        decision: named(row, "decision", Decision::from_id)?,
        grounds: row.try_get("grounds")?,
        reasons: row.try_get("reasons")?,
        remedies: row.try_get("remedies")?,
        deferred_until: date(row, "deferred_until")?,
        copy_pages: row.try_get("copy_pages")?,
        copy_cost_cents: row.try_get("copy_cost_cents")?,
        published_url: row.try_get("published_url")?,
        decision_protocol_number: row.try_get("decision_protocol_number")?,
        decided_on: date(row, "decided_on")?,
        deliver_from: date(row, "deliver_from")?,
        review_deadline: date(row, "review_deadline")?,
        review_by: named(row, "review_by", ReviewBy::from_id)?,
        review_reasons: row.try_get("review_reasons")?,
        review_requested_on: date(row, "review_requested_on")?,
        review_stops: stops(row, "review_stops")?,
        review_due_date: date(row, "review_due_date")?,
        review_decision: named(row, "review_decision", ReviewDecision::from_id)?,
        review_decision_reasons: row.try_get("review_decision_reasons")?,
        review_protocol_number: row.try_get("review_protocol_number")?,
        reviewed_on: date(row, "reviewed_on")?,
        version: row.try_get("version")?,
    })
}

/// The person's data, stored with the request.
#[derive(Debug, Clone)]
pub struct Person<'a> {
    /// Fiscal code.
    pub fiscal_code: &'a str,
    /// First name.
    pub first_name: &'a str,
    /// Last name.
    pub last_name: &'a str,
    /// E-mail or PEC.
    pub email: &'a str,
}

/// Inserts a new request as `a` says, with its person.
pub async fn insert(
    uow: &mut UnitOfWork,
    a: &Access,
    person: &Person<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into access_requests (id, municipality, kind, subject, interest, channel,
            requester_ref, requester_fiscal_code, requester_first_name, requester_last_name,
            requester_email, protocol_id, protocol_number, received_at, received_on, state,
            due_date, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(a.id)
    .bind(a.municipality.as_str())
    .bind(a.kind.id())
    .bind(&a.subject)
    .bind(&a.interest)
    .bind(&a.channel)
    .bind(&a.requester_ref)
    .bind(person.fiscal_code)
    .bind(person.first_name)
    .bind(person.last_name)
    .bind(person.email)
    .bind(&a.protocol_id)
    .bind(&a.protocol_number)
    .bind(SqlTimestamp::from(a.received_at))
    .bind(jiff_sqlx::Date::from(a.received_on))
    .bind(a.state.id())
    .bind(a.due_date.map(jiff_sqlx::Date::from))
    .bind(SqlTimestamp::from(uow.now()))
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// The request `id`, locked for the transaction.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Access>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_requests where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .as_ref()
    .map(access)
    .transpose()
}

/// The request `id`.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Access>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_requests where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(access)
    .transpose()
}

fn json(stops: &[Stop]) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::to_value(stops).map_err(|e| sqlx::Error::Encode(e.into()))
}

/// Saves every step's columns of `a`, bumping its version; the saved request.
pub async fn save(uow: &mut UnitOfWork, a: &Access) -> Result<Access, sqlx::Error> {
    let d = |v: Option<Date>| v.map(jiff_sqlx::Date::from);
    sqlx::query(
        "update access_requests set state = $2, stops = $3, due_date = $4,
            irregular_reason = $5, counter_interested = $6, counter_interested_notified_on = $7,
            objection_deadline = $8, decision = $9, grounds = $10, reasons = $11, remedies = $12,
            deferred_until = $13, copy_pages = $14, copy_cost_cents = $15, published_url = $16,
            decision_protocol_number = $17, decided_on = $18, deliver_from = $19,
            review_deadline = $20, review_by = $21, review_reasons = $22,
            review_requested_on = $23, review_stops = $24, review_due_date = $25,
            review_decision = $26, review_decision_reasons = $27, review_protocol_number = $28,
            reviewed_on = $29, version = version + 1, updated_at = $30
         where id = $1",
    )
    .bind(a.id)
    .bind(a.state.id())
    .bind(json(&a.stops)?)
    .bind(d(a.due_date))
    .bind(&a.irregular_reason)
    .bind(a.counter_interested)
    .bind(d(a.counter_interested_notified_on))
    .bind(d(a.objection_deadline))
    .bind(a.decision.map(Decision::id))
    .bind(&a.grounds)
    .bind(&a.reasons)
    .bind(&a.remedies)
    .bind(d(a.deferred_until))
    .bind(a.copy_pages)
    .bind(a.copy_cost_cents)
    .bind(&a.published_url)
    .bind(&a.decision_protocol_number)
    .bind(d(a.decided_on))
    .bind(d(a.deliver_from))
    .bind(d(a.review_deadline))
    .bind(a.review_by.map(ReviewBy::id))
    .bind(&a.review_reasons)
    .bind(d(a.review_requested_on))
    .bind(json(&a.review_stops)?)
    .bind(d(a.review_due_date))
    .bind(a.review_decision.map(ReviewDecision::id))
    .bind(&a.review_decision_reasons)
    .bind(&a.review_protocol_number)
    .bind(d(a.reviewed_on))
    .bind(SqlTimestamp::from(uow.now()))
    .execute(uow.conn())
    .await?;
    lock(uow, a.id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// One objection as stored.
#[derive(Debug, Clone)]
pub struct ObjectionRow {
    /// Which party.
    pub party: i32,
    /// When it arrived.
    pub received_on: Date,
    /// Its reasons, masked.
    pub reasons: String,
}

/// Records `party`'s objection; false if it had objected already.
pub async fn insert_objection(
    uow: &mut UnitOfWork,
    id: Uuid,
    objection: &ObjectionRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into access_objections (access_id, party, received_on, reasons)
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(id)
    .bind(objection.party)
    .bind(jiff_sqlx::Date::from(objection.received_on))
    .bind(&objection.reasons)
    .execute(uow.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The objections to `id`, by party.
pub async fn objections(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<ObjectionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select party, received_on, reasons from access_objections
         where access_id = $1 order by party",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ObjectionRow {
                party: row.try_get("party")?,
                received_on: row.try_get::<jiff_sqlx::Date, _>("received_on")?.to_jiff(),
                reasons: row.try_get("reasons")?,
            })
        })
        .collect()
}

/// The register: the municipality's requests received in `year` (all years for none),
/// oldest first, after `cursor`.
pub async fn register(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    year: Option<i32>,
    cursor: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<Access>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_requests
         where municipality = $1
           and ($2::integer is null or extract(year from received_on) = $2)
           and ($3::timestamptz is null or (received_at, id) > ($3, $4))
         order by received_at, id limit $5"
    )))
    .bind(municipality.as_str())
    .bind(year)
    .bind(cursor.map(|c| SqlTimestamp::from(c.0)))
    .bind(cursor.map(|c| c.1))
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(access)
    .collect()
}
