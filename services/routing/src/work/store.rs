//! The SQL of back-office work.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, uow::SqlTimestamp};
use sportello_proto::routing::v1::{PriorityCategory, WorkState};
use sqlx::{PgExecutor, Row, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::domain::{Clock, Document, Origin, WorkItem};
use crate::{
    domain::{Stored, decode},
    error::RoutingError,
};

const COLUMNS: &str = "id, case_id, origin_service, procedure_kind, procedure_id, work_id,
    municipality, department, service_code, requester_ref, context_note, priority, documents,
    protocol_registration_id, clock, substitute_due_date, state, offered_to, offer_expires_at,
    waiting_since, holder, escalation_level, arrived_at, closed_at, outcome_code, result, version";

fn from_row(row: &PgRow) -> Result<WorkItem, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let requester_ref: Option<String> = row.try_get("requester_ref")?;
    let priority: String = row.try_get("priority")?;
    let state: String = row.try_get("state")?;
    let clock: Option<Json<Clock>> = row.try_get("clock")?;
    let documents: Json<Vec<Document>> = row.try_get("documents")?;
    let result: Json<std::collections::BTreeMap<String, String>> = row.try_get("result")?;
    let time = |name: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row
            .try_get::<Option<SqlTimestamp>, _>(name)?
            .map(SqlTimestamp::to_jiff))
    };
    let corrupt = |what: &str| sqlx::Error::Decode(format!("work_items.{what} is invalid").into());
    Ok(WorkItem {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        origin: Origin {
            service: row.try_get("origin_service")?,
            procedure_kind: row.try_get("procedure_kind")?,
            procedure_id: row.try_get("procedure_id")?,
        },
        work_id: row.try_get("work_id")?,
        municipality: municipality.parse().map_err(|_| corrupt("municipality"))?,
        department: row.try_get("department")?,
        service_code: row.try_get("service_code")?,
        requester_ref: requester_ref
            .map(|r| r.parse())
            .transpose()
            .map_err(|_| corrupt("requester_ref"))?,
        context_note: row.try_get("context_note")?,
        priority: decode::<PriorityCategory>(&priority)?,
        documents: documents.0,
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        clock: clock.map(|c| c.0),
        substitute_due: row
            .try_get::<Option<jiff_sqlx::Date>, _>("substitute_due_date")?
            .map(|d| d.to_jiff()),
        state: decode::<WorkState>(&state)?,
        offered_to: row.try_get("offered_to")?,
        offer_expires_at: time("offer_expires_at")?,
        waiting_since: time("waiting_since")?.ok_or_else(|| corrupt("waiting_since"))?,
        holder: row.try_get("holder")?,
        escalation: row.try_get("escalation_level")?,
        arrived_at: time("arrived_at")?.ok_or_else(|| corrupt("arrived_at"))?,
        closed_at: time("closed_at")?,
        outcome_code: row.try_get("outcome_code")?,
        result: result.0,
        version: row.try_get("version")?,
    })
}

/// Stores a new item.
pub async fn insert(uow: &mut UnitOfWork, item: &WorkItem) -> Result<(), RoutingError> {
    sqlx::query(
        "insert into work_items (id, case_id, origin_service, procedure_kind, procedure_id, work_id,
             municipality, department, service_code, requester_ref, context_note, priority,
             documents, protocol_registration_id, clock, due_date, warning_date, state,
             waiting_since, escalation_level, arrived_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, 0, $20, 1)",
    )
    .bind(item.id)
    .bind(item.case_id)
    .bind(&item.origin.service)
    .bind(&item.origin.procedure_kind)
    .bind(item.origin.procedure_id)
    .bind(item.work_id)
    .bind(item.municipality.as_str())
    .bind(&item.department)
    .bind(&item.service_code)
    .bind(item.requester_ref.as_ref().map(ToString::to_string))
    .bind(&item.context_note)
    .bind(item.priority.to_db())
    .bind(Json(&item.documents))
    .bind(item.protocol_registration_id)
    .bind(item.clock.as_ref().map(Json))
    .bind(item.due().map(jiff_sqlx::Date::from))
    .bind(
        item.clock
            .as_ref()
            .and_then(|c| c.warning)
            .map(jiff_sqlx::Date::from),
    )
    .bind(item.state.to_db())
    .bind(SqlTimestamp::from(item.waiting_since))
    .bind(SqlTimestamp::from(item.arrived_at))
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// Saves a locked item with the next version (the caller holds its row lock).
pub async fn save(uow: &mut UnitOfWork, mut item: WorkItem) -> Result<WorkItem, RoutingError> {
    let done = sqlx::query(
        "update work_items set context_note = $3, clock = $4, due_date = $5, warning_date = $6,
             substitute_due_date = $7, state = $8, offered_to = $9, offer_expires_at = $10,
             waiting_since = $11, holder = $12, escalation_level = $13, closed_at = $14,
             outcome_code = $15, result = $16, version = version + 1
         where id = $1 and version = $2",
    )
    .bind(item.id)
    .bind(item.version)
    .bind(&item.context_note)
    .bind(item.clock.as_ref().map(Json))
    .bind(item.due().map(jiff_sqlx::Date::from))
    .bind(
        item.clock
            .as_ref()
            .and_then(|c| c.warning)
            .map(jiff_sqlx::Date::from),
    )
    .bind(item.substitute_due.map(jiff_sqlx::Date::from))
    .bind(item.state.to_db())
    .bind(&item.offered_to)
    .bind(item.offer_expires_at.map(SqlTimestamp::from))
    .bind(SqlTimestamp::from(item.waiting_since))
    .bind(&item.holder)
    .bind(item.escalation)
    .bind(item.closed_at.map(SqlTimestamp::from))
    .bind(&item.outcome_code)
    .bind(Json(&item.result))
    .execute(uow.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(RoutingError::StaleVersion { what: "work item" });
    }
    item.version += 1;
    Ok(item)
}

/// Locks an item.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<WorkItem, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .ok_or(RoutingError::WorkNotFound)?;
    Ok(from_row(&row)?)
}

/// Locks the item of a department's request, if routing has it.
pub async fn lock_by_work(
    uow: &mut UnitOfWork,
    origin_service: &str,
    work_id: Uuid,
) -> Result<Option<WorkItem>, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items where origin_service = $1 and work_id = $2 for update"
    )))
    .bind(origin_service)
    .bind(work_id)
    .fetch_optional(uow.conn())
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Reads an item.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<WorkItem, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::WorkNotFound)?;
    Ok(from_row(&row)?)
}

/// The first waiting items of a department a specialist could be offered — due date
/// first (none last), then arrival — skipping those they declined and those another
/// transaction has locked; at most `limit`, locked. The caller orders them finer
/// ([`continuity`]); the window keeps the pick independent of how much waits.
pub async fn candidates(
    uow: &mut UnitOfWork,
    municipality: &str,
    department: &str,
    operator_id: &str,
    limit: i64,
) -> Result<Vec<WorkItem>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items w
         where w.state = 'waiting' and w.municipality = $1 and w.department = $2
           and not exists (select 1 from work_declines d where d.item_id = w.id and d.operator_id = $3)
         order by w.due_date nulls last, w.arrived_at
         limit $4
         for update of w skip locked"
    )))
    .bind(municipality)
    .bind(department)
    .bind(operator_id)
    .bind(limit)
    .fetch_all(uow.conn())
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Of the items `ids` (a replica's in-memory proposal), those that still wait in the
/// department, were not declined by `operator_id` and no other transaction holds —
/// locked.
pub async fn lock_waiting(
    uow: &mut UnitOfWork,
    ids: &[Uuid],
    municipality: &str,
    department: &str,
    operator_id: &str,
) -> Result<Vec<WorkItem>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items w
         where w.id = any($1) and w.state = 'waiting' and w.municipality = $2 and w.department = $3
           and not exists (select 1 from work_declines d where d.item_id = w.id and d.operator_id = $4)
         for update of w skip locked"
    )))
    .bind(ids)
    .bind(municipality)
    .bind(department)
    .bind(operator_id)
    .fetch_all(uow.conn())
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Every waiting item and every decline of a waiting item: what a replica's in-memory
/// view is loaded from.
pub async fn waiting_with_declines(
    db: &sqlx::PgPool,
) -> Result<(Vec<WorkItem>, Vec<(Uuid, String)>), RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items w where w.state = 'waiting'"
    )))
    .fetch_all(db)
    .await?;
    let waiting = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    let declines = sqlx::query_as(
        "select d.item_id, d.operator_id from work_declines d
         join work_items w on w.id = d.item_id where w.state = 'waiting'",
    )
    .fetch_all(db)
    .await?;
    Ok((waiting, declines))
}

/// Of `items`, those whose procedure or person `operator_id` already completed work for
/// (continuity: they know the file).
pub async fn continuity(
    uow: &mut UnitOfWork,
    operator_id: &str,
    items: &[WorkItem],
) -> Result<std::collections::HashSet<Uuid>, RoutingError> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let procedures: Vec<Uuid> = items.iter().map(|i| i.origin.procedure_id).collect();
    let people: Vec<String> = items
        .iter()
        .filter_map(|i| i.requester_ref.as_ref().map(ToString::to_string))
        .collect();
    let known: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "select p.procedure_id, p.requester_ref from work_items p
         where p.state = 'completed' and p.holder = $1
           and (p.procedure_id = any($2) or p.requester_ref = any($3))",
    )
    .bind(operator_id)
    .bind(&procedures)
    .bind(&people)
    .fetch_all(uow.conn())
    .await?;
    Ok(items
        .iter()
        .filter(|i| {
            known.iter().any(|(procedure, person)| {
                *procedure == i.origin.procedure_id
                    || (person.is_some()
                        && person.as_deref()
                            == i.requester_ref.as_ref().map(ToString::to_string).as_deref())
            })
        })
        .map(|i| i.id)
        .collect())
}

/// Remembers that `operator_id` declined `item_id` (or let its offer lapse).
pub async fn record_decline(
    uow: &mut UnitOfWork,
    item_id: Uuid,
    operator_id: &str,
    at: Timestamp,
) -> Result<(), RoutingError> {
    sqlx::query(
        "insert into work_declines (item_id, operator_id, declined_at) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(item_id)
    .bind(operator_id)
    .bind(SqlTimestamp::from(at))
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// How many items an operator holds, and whether an offer waits for their answer.
pub async fn load_of(uow: &mut UnitOfWork, operator_id: &str) -> Result<(i64, bool), RoutingError> {
    let row = sqlx::query(
        "select count(*) filter (where state = 'held') as held,
                count(*) filter (where state = 'offered') as offered
         from work_items where (holder = $1 and state = 'held') or (offered_to = $1 and state = 'offered')",
    )
    .bind(operator_id)
    .fetch_one(uow.conn())
    .await?;
    let offered: i64 = row.try_get("offered")?;
    Ok((row.try_get("held")?, offered > 0))
}

/// The specialists of a department who may receive an offer now, as this statement's
/// snapshot sees them (not locked: see [`lock_for_offer`]): back-office tier or
/// the department's technicians, present for back-office work, with spare capacity and
/// no offer pending; `widened` adds every operator of the department present for
/// back-office work, whatever their tier.
pub async fn free_specialists(
    uow: &mut UnitOfWork,
    municipality: &str,
    department: &str,
    widened: bool,
) -> Result<Vec<String>, RoutingError> {
    let rows = sqlx::query(
        "select o.id from operators o
         where o.municipality = $1 and o.department = $2 and o.presence = 'back_office'
           and ($3 or o.tier = 4)
           and not exists (select 1 from work_items w where w.offered_to = o.id and w.state = 'offered')
           and (select count(*) from work_items w where w.holder = o.id and w.state = 'held')
               < o.back_office_capacity
         order by (select count(*) from work_items w where w.holder = o.id and w.state = 'held'), o.id",
    )
    .bind(municipality)
    .bind(department)
    .bind(widened)
    .fetch_all(uow.conn())
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// Locks `operator_id`'s row for an offer, unless another transaction holds it (that one
/// is offering them something: skip them). `no key update`, not `update`: the foreign-key
/// checks of cases and items that name the specialist (key share) need not wait for an
/// offer round to commit.
pub async fn lock_for_offer(uow: &mut UnitOfWork, operator_id: &str) -> Result<bool, RoutingError> {
    let locked: Option<i32> =
        sqlx::query_scalar("select 1 from operators where id = $1 for no key update skip locked")
            .bind(operator_id)
            .fetch_optional(uow.conn())
            .await?;
    Ok(locked.is_some())
}

/// Whether `operator_id`, whose row this transaction has locked ([`lock_for_offer`]),
/// still has no offer pending and room under their capacity. [`free_specialists`] judged
/// that on the snapshot its statement began with, without locks; an offer committed
/// since would otherwise be doubled. Nobody offers to a specialist without their row's
/// lock, and this statement begins after that lock is taken, so it sees every offer that
/// matters.
pub async fn still_free(uow: &mut UnitOfWork, operator_id: &str) -> Result<bool, RoutingError> {
    let free: bool = sqlx::query_scalar(
        "select not exists (select 1 from work_items w where w.offered_to = o.id and w.state = 'offered')
            and (select count(*) from work_items w where w.holder = o.id and w.state = 'held')
                < o.back_office_capacity
         from operators o where o.id = $1",
    )
    .bind(operator_id)
    .fetch_optional(uow.conn())
    .await?
    .unwrap_or(false);
    Ok(free)
}

/// Items in a view, due date first.
pub async fn list(
    db: impl PgExecutor<'_>,
    municipality: &str,
    filter: &ListFilter<'_>,
    after: Option<(Option<jiff::civil::Date>, Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<WorkItem>, RoutingError> {
    let states: Vec<&str> = filter.states.iter().map(|s| s.to_db()).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from work_items
         where municipality = $1
           and ($2::text is null or department = $2)
           and ($3::text is null or holder = $3)
           and ($4::text is null or offered_to = $4)
           and state = any($5)
           and ($6::text is null or procedure_kind = $6)
           and ($7::timestamptz is null
                or (coalesce(due_date, 'infinity'::date), arrived_at, id) > (coalesce($8::date, 'infinity'::date), $7, $9))
         order by coalesce(due_date, 'infinity'::date), arrived_at, id
         limit $10"
    )))
    .bind(municipality)
    .bind(filter.department)
    .bind(filter.holder)
    .bind(filter.offered_to)
    .bind(&states)
    .bind(filter.procedure_kind)
    .bind(after.map(|(_, at, _)| SqlTimestamp::from(at)))
    .bind(after.and_then(|(due, _, _)| due).map(jiff_sqlx::Date::from))
    .bind(after.map(|(_, _, id)| id))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// What a list shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    /// Only this department.
    pub department: Option<&'a str>,
    /// Only held by.
    pub holder: Option<&'a str>,
    /// Only offered to.
    pub offered_to: Option<&'a str>,
    /// Only in these states.
    pub states: Vec<WorkState>,
    /// Only this kind of procedure.
    pub procedure_kind: Option<&'a str>,
}

/// Breaches of the term in a year, and decisions, per catalogue code.
pub async fn breaches(
    db: impl PgExecutor<'_>,
    municipality: &str,
    year: i16,
) -> Result<Vec<(String, i64, i64)>, RoutingError> {
    let rows = sqlx::query(
        "select service_code,
                count(*) filter (where escalation_level = 3) as breached,
                count(*) filter (where state = 'completed') as decided
         from work_items
         where municipality = $1
           and extract(year from coalesce(due_date, (arrived_at at time zone 'Europe/Rome')::date)) = $2
         group by service_code order by service_code",
    )
    .bind(municipality)
    .bind(f64::from(year))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("service_code")?,
                r.try_get("breached")?,
                r.try_get("decided")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Open items of one group, as the manager's page counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The procedure's catalogue code or the holder's id ("" for nobody).
    pub key: String,
    /// Every open item.
    pub open: i64,
    /// Waiting.
    pub waiting: i64,
    /// Offered.
    pub offered: i64,
    /// Held.
    pub held: i64,
    /// Suspended.
    pub suspended: i64,
    /// Due from `today` to `soon`.
    pub due_soon: i64,
    /// Past due, or escalated to the substitute.
    pub breached: i64,
}

/// What the manager's page groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyBy {
    /// Everything together.
    Total,
    /// The catalogue code.
    Procedure,
    /// The holder.
    Assignee,
}

/// Open items of `municipality` (of `department`, when given) counted by `by`, on the
/// day `today`, "due soon" up to `soon` included.
pub async fn tally(
    db: impl PgExecutor<'_>,
    municipality: &str,
    department: Option<&str>,
    today: jiff::civil::Date,
    soon: jiff::civil::Date,
    by: TallyBy,
) -> Result<Vec<Tally>, RoutingError> {
    let key = match by {
        TallyBy::Total => "''",
        TallyBy::Procedure => "service_code",
        TallyBy::Assignee => "coalesce(holder, '')",
    };
    // The unassigned come last among the assignees: '' sorts first, so order by it.
    let sql = format!(
        "select {key} as key,
                count(*) as open,
                count(*) filter (where state = 'waiting') as waiting,
                count(*) filter (where state = 'offered') as offered,
                count(*) filter (where state = 'held') as held,
                count(*) filter (where state = 'suspended') as suspended,
                count(*) filter (where due_date between $3 and $4) as due_soon,
                count(*) filter (where due_date < $3 or escalation_level >= 3) as breached
         from work_items
         where municipality = $1
           and ($2::text is null or department = $2)
           and state in ('waiting', 'offered', 'held', 'suspended')
         group by 1
         order by ({key}) = '', 1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(municipality)
        .bind(department)
        .bind(jiff_sqlx::Date::from(today))
        .bind(jiff_sqlx::Date::from(soon))
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Tally {
                key: r.try_get("key")?,
                open: r.try_get("open")?,
                waiting: r.try_get("waiting")?,
                offered: r.try_get("offered")?,
                held: r.try_get("held")?,
                suspended: r.try_get("suspended")?,
                due_soon: r.try_get("due_soon")?,
                breached: r.try_get("breached")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// How many items of a department wait for a specialist, as this transaction sees them.
pub async fn count_waiting(
    uow: &mut UnitOfWork,
    municipality: &str,
    department: &str,
) -> Result<i64, RoutingError> {
    Ok(sqlx::query_scalar(
        "select count(*) from work_items
         where municipality = $1 and department = $2 and state = 'waiting'",
    )
    .bind(municipality)
    .bind(department)
    .fetch_one(uow.conn())
    .await?)
}

/// Open items counted by department and state, for the gauges.
pub async fn open_by_department_and_state(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(String, String, i64)>, RoutingError> {
    Ok(sqlx::query_as(
        "select department, state, count(*) from work_items
         where state in ('waiting', 'offered', 'held', 'suspended')
         group by 1, 2",
    )
    .fetch_all(db)
    .await?)
}
