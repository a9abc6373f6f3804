//! Operators in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sportello_proto::routing::v1::Presence;
use sqlx::{PgExecutor, Row, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::domain::{Operator, Profile, Skill};
use crate::{
    domain::{Stored, decode, tier_from_number, tier_number},
    error::RoutingError,
};

const COLUMNS: &str =
    "id, municipality, display_name, tier, department, skills, site_id, counter_number,
    presence, presence_since, last_heartbeat_at, wrap_up_case_id, version";

fn from_row(row: &PgRow) -> Result<Operator, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let tier: i16 = row.try_get("tier")?;
    let Json(skills): Json<Vec<Skill>> = row.try_get("skills")?;
    let site: Option<Uuid> = row.try_get("site_id")?;
    let counter: Option<i16> = row.try_get("counter_number")?;
    Ok(Operator {
        profile: Profile {
            id: row.try_get("id")?,
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            display_name: row.try_get("display_name")?,
            tier: tier_from_number(tier).ok_or_else(|| sqlx::Error::Decode("tier".into()))?,
            department: row.try_get("department")?,
            skills,
        },
        seat: site.zip(counter),
        presence: decode::<Presence>(row.try_get("presence")?)?,
        presence_since: row.try_get::<SqlTimestamp, _>("presence_since")?.to_jiff(),
        last_heartbeat_at: row
            .try_get::<Option<SqlTimestamp>, _>("last_heartbeat_at")?
            .map(SqlTimestamp::to_jiff),
        wrap_up_case: row.try_get("wrap_up_case_id")?,
        version: row.try_get("version")?,
    })
}

/// One operator.
pub async fn get(db: impl PgExecutor<'_>, id: &str) -> Result<Operator, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from operators where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::OperatorNotFound)?;
    Ok(from_row(&row)?)
}

/// One operator, and the case they hold at a counter, if any (one round trip for the
/// start of every call).
pub async fn get_with_held_case(
    db: impl PgExecutor<'_>,
    id: &str,
) -> Result<(Operator, Option<Uuid>), RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, (select c.id from cases c where c.operator_id = o.id and c.status = 'called') as held
         from operators o where o.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::OperatorNotFound)?;
    Ok((from_row(&row)?, row.try_get("held")?))
}

/// One operator, locked: their actions happen one at a time.
pub async fn lock(uow: &mut UnitOfWork, id: &str) -> Result<Operator, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from operators where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .ok_or(RoutingError::OperatorNotFound)?;
    Ok(from_row(&row)?)
}

/// How many back-office items the operator may hold at once.
pub async fn back_office_capacity(uow: &mut UnitOfWork, id: &str) -> Result<i16, RoutingError> {
    sqlx::query_scalar("select back_office_capacity from operators where id = $1")
        .bind(id)
        .fetch_optional(uow.conn())
        .await?
        .ok_or(RoutingError::OperatorNotFound)
}

/// The operators of a municipality (of one site when given), by id.
pub async fn list(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    site_id: Option<Uuid>,
) -> Result<Vec<Operator>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from operators where municipality = $1 and ($2::uuid is null or site_id = $2) order by id"
    )))
    .bind(municipality.as_str())
    .bind(site_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// Creates (`expected_version` 0) or updates a profile; seat and presence are untouched.
pub async fn upsert_profile(
    uow: &mut UnitOfWork,
    p: &Profile,
    expected_version: i64,
) -> Result<Operator, RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into operators as o (id, municipality, display_name, tier, department, skills, presence_since)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (id) do update set display_name = excluded.display_name, tier = excluded.tier,
             department = excluded.department, skills = excluded.skills, version = o.version + 1
           where o.version = $8 and o.municipality = excluded.municipality
         returning {COLUMNS}"
    )))
    .bind(&p.id)
    .bind(p.municipality.as_str())
    .bind(&p.display_name)
    .bind(tier_number(p.tier))
    .bind(&p.department)
    .bind(Json(&p.skills))
    .bind(now)
    .bind(expected_version)
    .fetch_optional(uow.conn())
    .await?;
    match row.as_ref().map(from_row).transpose()? {
        Some(operator) if operator.version == 1 && expected_version != 0 => {
            Err(RoutingError::StaleVersion { what: "operator" })
        }
        Some(operator) => Ok(operator),
        None => {
            // The conflict update refused: an older version, or an operator of another
            // municipality (who never moves; the database refuses it too).
            let home: Option<String> =
                sqlx::query_scalar("select municipality from operators where id = $1")
                    .bind(&p.id)
                    .fetch_optional(uow.conn())
                    .await?;
            match home {
                Some(home) if home != p.municipality.as_str() => {
                    Err(RoutingError::OperatorOfAnotherMunicipality(p.id.clone()))
                }
                _ => Err(RoutingError::StaleVersion { what: "operator" }),
            }
        }
    }
}

/// Saves a locked operator's seat and presence, with the next version.
pub async fn save(uow: &mut UnitOfWork, mut operator: Operator) -> Result<Operator, RoutingError> {
    let (site, counter) = operator
        .seat
        .map_or((None, None), |(s, c)| (Some(s), Some(c)));
    let result = sqlx::query(
        "update operators set site_id = $3, counter_number = $4, presence = $5, presence_since = $6,
             last_heartbeat_at = $7, wrap_up_case_id = $8, version = version + 1
         where id = $1 and version = $2",
    )
    .bind(&operator.profile.id)
    .bind(operator.version)
    .bind(site)
    .bind(counter)
    .bind(operator.presence.to_db())
    .bind(SqlTimestamp::from(operator.presence_since))
    .bind(operator.last_heartbeat_at.map(SqlTimestamp::from))
    .bind(operator.wrap_up_case)
    .execute(uow.conn())
    .await;
    match result {
        Ok(done) if done.rows_affected() == 1 => {
            operator.version += 1;
            Ok(operator)
        }
        Ok(_) => Err(RoutingError::StaleVersion { what: "operator" }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("operators_one_per_counter") =>
        {
            Err(RoutingError::CounterTaken(counter.unwrap_or_default()))
        }
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::FOREIGN_KEY_VIOLATION).is_some() =>
        {
            Err(RoutingError::CounterNotFound(counter.unwrap_or_default()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Records a heartbeat: one short update of the operator's row.
pub async fn heartbeat(
    uow: &mut UnitOfWork,
    id: &str,
    at: Timestamp,
) -> Result<Presence, RoutingError> {
    let presence: Option<String> = sqlx::query_scalar(
        "update operators set last_heartbeat_at = greatest(coalesce(last_heartbeat_at, $2), $2)
         where id = $1 returning presence",
    )
    .bind(id)
    .bind(SqlTimestamp::from(at))
    .fetch_optional(uow.conn())
    .await?;
    let presence = presence.ok_or(RoutingError::OperatorNotFound)?;
    Ok(decode::<Presence>(&presence)?)
}

/// Replaces a locked operator's skills (a rule's change, such as a surge's), with the next
/// version: an administrator's edit made from an older read is then refused as stale
/// instead of undoing it silently.
pub async fn save_skills(
    uow: &mut UnitOfWork,
    mut operator: Operator,
    skills: Vec<Skill>,
) -> Result<Operator, RoutingError> {
    let done = sqlx::query(
        "update operators set skills = $3, version = version + 1 where id = $1 and version = $2",
    )
    .bind(&operator.profile.id)
    .bind(operator.version)
    .bind(Json(&skills))
    .execute(uow.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(RoutingError::StaleVersion { what: "operator" });
    }
    operator.profile.skills = skills;
    operator.version += 1;
    Ok(operator)
}
