//! Categories and reports in PostgreSQL: the codes handed out under the series' row lock,
//! a closed report always with its reply (a database check), the audit of every read of
//! the person behind a report.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{Category, Kind, Lookup, NewReport, Outcome, Status, found_id};

const CATEGORY_COLUMNS: &str = "municipality, code, name, description, grp, kind, \
    location_required, reply_days, keywords, office, active";

fn category(row: &PgRow) -> Result<Category, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    Ok(Category {
        municipality: municipality
            .parse()
            .map_err(|e| decode("municipality", e))?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        group: row.try_get("grp")?,
        kind: Kind::from_id(&kind).ok_or_else(|| decode("kind", kind.clone()))?,
        location_required: row.try_get("location_required")?,
        reply_days: row
            .try_get::<Option<i32>, _>("reply_days")?
            .and_then(|d| u32::try_from(d).ok()),
        keywords: row.try_get("keywords")?,
        office: row.try_get("office")?,
        active: row.try_get("active")?,
    })
}

fn decode(column: &str, why: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: why.to_string().into(),
    }
}

/// Defines or redefines a category.
pub async fn define_category(uow: &mut UnitOfWork, c: &Category) -> Result<Category, sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into report_categories ({CATEGORY_COLUMNS}, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (municipality, code) do update set
            name = excluded.name, description = excluded.description, grp = excluded.grp,
            kind = excluded.kind, location_required = excluded.location_required,
            reply_days = excluded.reply_days, keywords = excluded.keywords,
            office = excluded.office, active = excluded.active,
            version = report_categories.version + 1, updated_at = excluded.updated_at
         returning {CATEGORY_COLUMNS}"
    )))
    .bind(c.municipality.as_str())
    .bind(&c.code)
    .bind(&c.name)
    .bind(&c.description)
    .bind(&c.group)
    .bind(c.kind.id())
    .bind(c.location_required)
    .bind(c.reply_days.and_then(|d| i32::try_from(d).ok()))
    .bind(&c.keywords)
    .bind(&c.office)
    .bind(c.active)
    .bind(now)
    .fetch_one(uow.conn())
    .await?;
    category(&row)
}

/// A municipality's active categories, by group and name.
pub async fn active_categories(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
) -> Result<Vec<Category>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CATEGORY_COLUMNS} from report_categories
         where municipality = $1 and active order by grp, name, code"
    )))
    .bind(municipality.as_str())
    .fetch_all(conn)
    .await?
    .iter()
    .map(category)
    .collect()
}

/// One category, active or not.
pub async fn find_category(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    code: &str,
) -> Result<Option<Category>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CATEGORY_COLUMNS} from report_categories where municipality = $1 and code = $2"
    )))
    .bind(municipality.as_str())
    .bind(code)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(category)
    .transpose()
}

/// A stored report, as anyone but the office sees it (no person, masked description).
#[derive(Debug, Clone)]
pub struct Report {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// `2026-000123`.
    pub code: String,
    /// The category.
    pub category_code: String,
    /// Its name.
    pub category_name: String,
    /// Report or complaint.
    pub kind: Kind,
    /// Masked.
    pub description_masked: String,
    /// What was masked.
    pub masked: Vec<String>,
    /// The point.
    pub point: Option<(f64, f64)>,
    /// The address.
    pub address: String,
    /// The media URL.
    pub media_url: String,
    /// How it arrived (the channel's stored name).
    pub channel: String,
    /// The pseudonymous person, when named.
    pub requester_ref: Option<String>,
    /// Whether an e-mail address was left.
    pub has_email: bool,
    /// The protocol's registration id.
    pub protocol_id: String,
    /// The protocol number.
    pub protocol_number: String,
    /// When received.
    pub received_at: Timestamp,
    /// The reply's last day.
    pub due_date: Date,
    /// The office.
    pub office: String,
    /// Where it stands.
    pub status: Status,
    /// The work's case in routing.
    pub case_id: Option<String>,
    /// The reply.
    pub reply: Option<String>,
    /// How it closed.
    pub outcome: Option<Outcome>,
    /// The reply's protocol number.
    pub reply_protocol_number: Option<String>,
    /// Whether the reply was e-mailed.
    pub reply_emailed: bool,
    /// When it closed.
    pub closed_at: Option<Timestamp>,
    /// Version.
    pub version: i32,
    /// Last change.
    pub updated_at: Timestamp,
}

const REPORT_COLUMNS: &str = "r.id, r.municipality, r.code, r.category_code, c.name as category_name, \
    r.kind, r.description_masked, r.masked, r.latitude, r.longitude, r.address, r.media_url, \
    r.channel, r.requester_ref, r.requester_email <> '' as has_email, r.protocol_id, \
    r.protocol_number, r.received_at, r.due_date, r.office, r.status, r.case_id, r.reply, \
    r.outcome, r.reply_protocol_number, r.reply_emailed, r.closed_at, r.version, r.updated_at";

const FROM: &str = "reports r join report_categories c \
    on c.municipality = r.municipality and c.code = r.category_code";

fn report(row: &PgRow) -> Result<Report, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let latitude: Option<f64> = row.try_get("latitude")?;
    let longitude: Option<f64> = row.try_get("longitude")?;
    Ok(Report {
        id: row.try_get("id")?,
        municipality: municipality
            .parse()
            .map_err(|e| decode("municipality", e))?,
        code: row.try_get("code")?,
        category_code: row.try_get("category_code")?,
        category_name: row.try_get("category_name")?,
        kind: Kind::from_id(&kind).ok_or_else(|| decode("kind", kind.clone()))?,
        description_masked: row.try_get("description_masked")?,
        masked: row.try_get("masked")?,
        point: latitude.zip(longitude),
        address: row.try_get("address")?,
        media_url: row.try_get("media_url")?,
        channel: row.try_get("channel")?,
        requester_ref: row.try_get("requester_ref")?,
        has_email: row.try_get("has_email")?,
        protocol_id: row.try_get("protocol_id")?,
        protocol_number: row.try_get("protocol_number")?,
        received_at: row.try_get::<SqlTimestamp, _>("received_at")?.to_jiff(),
        due_date: row.try_get::<jiff_sqlx::Date, _>("due_date")?.to_jiff(),
        office: row.try_get("office")?,
        status: Status::from_id(&status).ok_or_else(|| decode("status", status.clone()))?,
        case_id: row.try_get("case_id")?,
        reply: row.try_get("reply")?,
        outcome: match outcome {
            Some(o) => Some(Outcome::from_id(&o).ok_or_else(|| decode("outcome", o.clone()))?),
            None => None,
        },
        reply_protocol_number: row.try_get("reply_protocol_number")?,
        reply_emailed: row.try_get("reply_emailed")?,
        closed_at: row
            .try_get::<Option<SqlTimestamp>, _>("closed_at")?
            .map(|t| t.to_jiff()),
        version: row.try_get("version")?,
        updated_at: row.try_get::<SqlTimestamp, _>("updated_at")?.to_jiff(),
    })
}

/// The next number of `municipality`'s series for `year`, under the series' row lock
/// (held to the transaction's end, so numbers follow the order of commits).
pub async fn next_number(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    year: i16,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "insert into report_series (municipality, year, last_number) values ($1, $2, 1)
         on conflict (municipality, year) do update
           set last_number = report_series.last_number + 1
         returning last_number",
    )
    .bind(municipality.as_str())
    .bind(i32::from(year))
    .fetch_one(uow.conn())
    .await
}

/// What a filing stores besides the parsed report.
#[derive(Debug)]
pub struct Filed<'a> {
    /// The report.
    pub new: &'a NewReport,
    /// Its id.
    pub id: Uuid,
    /// Its year and number.
    pub year: i16,
    /// Its number in the year.
    pub number: i32,
    /// Its category.
    pub category: &'a Category,
    /// The person's pseudonymous reference.
    pub requester_ref: Option<&'a str>,
    /// The protocol's registration id and number.
    pub protocol: (&'a str, &'a str),
    /// When received.
    pub received_at: Timestamp,
    /// The reply's last day.
    pub due_date: Date,
    /// Who filed it (the account, the system).
    pub filed_by: &'a str,
}

/// Inserts a filed report and its attachments' references.
pub async fn insert(
    uow: &mut UnitOfWork,
    filed: &Filed<'_>,
    attachments: &[(String, String, i64)],
) -> Result<Report, sqlx::Error> {
    let new = filed.new;
    let now = SqlTimestamp::from(uow.now());
    let masked: Vec<&str> = new.masked.iter().map(|f| found_id(*f)).collect();
    let r = &new.requester;
    sqlx::query(
        "insert into reports (id, municipality, year, number, category_code, kind, description,
            description_masked, masked, latitude, longitude, address, media_url, channel,
            source, requester_ref, requester_fiscal_code, requester_first_name,
            requester_last_name, requester_email, requester_phone, protocol_id,
            protocol_number, received_at, due_date, office, status, filed_by, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, $20, $21, $22, $23, $24, $25, $26, 'received', $27, $28)",
    )
    .bind(filed.id)
    .bind(new.municipality.as_str())
    .bind(i32::from(filed.year))
    .bind(filed.number)
    .bind(&filed.category.code)
    .bind(filed.category.kind.id())
    .bind(&new.description)
    .bind(&new.description_masked)
    .bind(&masked)
    .bind(new.place.point.map(|p| p.0))
    .bind(new.place.point.map(|p| p.1))
    .bind(&new.place.address)
    .bind(&new.media_url)
    .bind(new.channel.as_str_name())
    .bind(&new.source)
    .bind(filed.requester_ref)
    .bind(r.fiscal_code.as_ref().map(|c| c.as_str().to_owned()))
    .bind(&r.first_name)
    .bind(&r.last_name)
    .bind(r.email.as_ref().map_or("", |e| e.as_str()))
    .bind(&r.phone)
    .bind(filed.protocol.0)
    .bind(filed.protocol.1)
    .bind(SqlTimestamp::from(filed.received_at))
    .bind(jiff_sqlx::Date::from(filed.due_date))
    .bind(&filed.category.office)
    .bind(filed.filed_by)
    .bind(now)
    .execute(uow.conn())
    .await?;
    for (position, (sha256, media_type, size)) in attachments.iter().enumerate() {
        sqlx::query(
            "insert into report_attachments (report_id, position, sha256, media_type, size_bytes)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(filed.id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(sha256)
        .bind(media_type)
        .bind(size)
        .execute(uow.conn())
        .await?;
    }
    lock(uow, filed.id)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)
}

/// The report `id`, locked for the transaction.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Report>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {REPORT_COLUMNS} from {FROM} where r.id = $1 for update of r"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .as_ref()
    .map(report)
    .transpose()
}

/// A report by its code or id.
pub async fn find(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    lookup: &Lookup,
) -> Result<Option<Report>, sqlx::Error> {
    let query = match lookup {
        Lookup::Id(id) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {REPORT_COLUMNS} from {FROM} where r.municipality = $1 and r.id = $2"
        )))
        .bind(municipality.as_str())
        .bind(*id),
        Lookup::Code(year, number) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {REPORT_COLUMNS} from {FROM}
             where r.municipality = $1 and r.year = $2 and r.number = $3"
        )))
        .bind(municipality.as_str())
        .bind(*year)
        .bind(*number),
    };
    query
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(report)
        .transpose()
}

/// The attachments' references of `id`, in order.
pub async fn attachments(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select sha256, media_type, size_bytes from report_attachments
         where report_id = $1 order by position",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// What the public list filters on.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these codes.
    pub codes: Vec<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only these statuses' stored names.
    pub statuses: Vec<String>,
    /// Received at or after.
    pub after: Option<Timestamp>,
    /// Received before.
    pub before: Option<Timestamp>,
    /// Continue after (received_at, id), newest first.
    pub cursor: Option<(Timestamp, Uuid)>,
    /// How many.
    pub limit: i64,
}

/// Reports the public may see (never complaints), newest first.
pub async fn list_public(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    filter: &Filter,
) -> Result<Vec<Report>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {REPORT_COLUMNS} from {FROM}
         where r.municipality = $1 and r.kind = 'report'
           and (cardinality($2::text[]) = 0 or r.code = any($2))
           and ($3::text is null or r.category_code = $3)
           and (cardinality($4::text[]) = 0 or r.status = any($4))
           and ($5::timestamptz is null or r.received_at >= $5)
           and ($6::timestamptz is null or r.received_at < $6)
           and ($7::timestamptz is null or (r.received_at, r.id) < ($7, $8))
         order by r.received_at desc, r.id desc
         limit $9"
    )))
    .bind(municipality.as_str())
    .bind(&filter.codes)
    .bind(filter.category.as_deref())
    .bind(&filter.statuses)
    .bind(filter.after.map(SqlTimestamp::from))
    .bind(filter.before.map(SqlTimestamp::from))
    .bind(filter.cursor.map(|c| SqlTimestamp::from(c.0)))
    .bind(filter.cursor.map(|c| c.1))
    .bind(filter.limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(report)
    .collect()
}

/// Notes the work's case and the report taken in hand.
pub async fn set_in_progress(
    uow: &mut UnitOfWork,
    report: &Report,
    case_id: &str,
    held: bool,
) -> Result<(), sqlx::Error> {
    let status = if held && report.status == Status::Received {
        Status::InProgress
    } else {
        report.status
    };
    sqlx::query(
        "update reports set case_id = $2, status = $3, version = version + 1, updated_at = $4
         where id = $1",
    )
    .bind(report.id)
    .bind(case_id)
    .bind(status.id())
    .bind(SqlTimestamp::from(uow.now()))
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// Closes the report with its reply.
pub async fn close(
    uow: &mut UnitOfWork,
    id: Uuid,
    reply: &str,
    outcome: Outcome,
    reply_protocol_number: &str,
) -> Result<Report, sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query(
        "update reports set status = 'closed', reply = $2, outcome = $3,
            reply_protocol_number = $4, closed_at = $5, version = version + 1, updated_at = $5
         where id = $1",
    )
    .bind(id)
    .bind(reply)
    .bind(outcome.id())
    .bind(reply_protocol_number)
    .bind(now)
    .execute(uow.conn())
    .await?;
    lock(uow, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The person and the description as written, audited in the same transaction.
#[derive(Debug, Clone)]
pub struct Private {
    /// The fiscal code.
    pub fiscal_code: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// The description as written.
    pub description: String,
}

/// Reads the person behind `id` and records who read it and why.
pub async fn read_private(
    uow: &mut UnitOfWork,
    id: Uuid,
    actor: &str,
    caller: &str,
    purpose: &str,
) -> Result<Option<Private>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "select requester_fiscal_code, requester_first_name, requester_last_name,
                requester_email, requester_phone, description
         from reports where id = $1",
    )
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    else {
        return Ok(None);
    };
    sqlx::query(
        "insert into report_reads_audit (id, report_id, actor, caller, purpose, read_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(actor)
    .bind(caller)
    .bind(purpose)
    .bind(SqlTimestamp::from(uow.now()))
    .execute(uow.conn())
    .await?;
    Ok(Some(Private {
        fiscal_code: row.try_get("requester_fiscal_code")?,
        first_name: row.try_get("requester_first_name")?,
        last_name: row.try_get("requester_last_name")?,
        email: row.try_get("requester_email")?,
        phone: row.try_get("requester_phone")?,
        description: row.try_get("description")?,
    }))
}

/// The address the reply goes to (for the mail timer alone).
pub async fn reply_address(
    uow: &mut UnitOfWork,
    id: Uuid,
) -> Result<Option<(String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "select requester_email, code, coalesce(reply, ''), coalesce(reply_protocol_number, '')
         from reports where id = $1 and status = 'closed' and not reply_emailed
           and requester_email <> ''",
    )
    .bind(id)
    .fetch_optional(uow.conn())
    .await
}

/// Notes the reply e-mailed.
pub async fn set_emailed(uow: &mut UnitOfWork, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update reports set reply_emailed = true where id = $1")
        .bind(id)
        .execute(uow.conn())
        .await?;
    Ok(())
}
