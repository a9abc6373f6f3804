//! The catalogue in PostgreSQL.

use sportello_kit::{MunicipalityCode, UnitOfWork, db};
use sportello_proto::common::v1::Channel;
use sqlx::{PgExecutor, Row, postgres::PgRow, types::Json};

use super::domain::{Outcome, Requirement, ServiceGroup, ServiceType};
use crate::{
    domain::{Stored, decode, tier_from_number, tier_number},
    error::RoutingError,
};

const TYPE_COLUMNS: &str = "municipality, code, name, department, default_tier, expected_minutes,
    appointment_required, required_skills, service_group, allowed_channels, required_documents,
    statutory_rule, active, outcome_codes, outcome_names, version";

fn type_from_row(row: &PgRow) -> Result<(ServiceType, i64), sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let channels: Vec<String> = row.try_get("allowed_channels")?;
    let tier: i16 = row.try_get("default_tier")?;
    let Json(required_skills): Json<Vec<Requirement>> = row.try_get("required_skills")?;
    let codes: Vec<String> = row.try_get("outcome_codes")?;
    let names: Vec<String> = row.try_get("outcome_names")?;
    // The table's check keeps the two arrays the same length; a row that is not is a
    // broken row, not one to read half of.
    if codes.len() != names.len() {
        return Err(sqlx::Error::Decode(
            "outcome_codes and outcome_names differ in length".into(),
        ));
    }
    Ok((
        ServiceType {
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            code: row.try_get("code")?,
            name: row.try_get("name")?,
            department: row.try_get("department")?,
            tier: tier_from_number(tier).ok_or_else(|| sqlx::Error::Decode("tier".into()))?,
            expected_minutes: row.try_get("expected_minutes")?,
            appointment_required: row.try_get("appointment_required")?,
            required_skills,
            group: row.try_get("service_group")?,
            channels: channels
                .iter()
                .map(|c| decode::<Channel>(c))
                .collect::<Result<_, _>>()?,
            documents: row.try_get("required_documents")?,
            statutory_rule: row.try_get("statutory_rule")?,
            active: row.try_get("active")?,
            outcomes: codes
                .into_iter()
                .zip(names)
                .map(|(code, name)| Outcome { code, name })
                .collect(),
        },
        row.try_get("version")?,
    ))
}

/// Creates (`expected_version` 0) or replaces (the current version) a service type.
/// Returns the new version. Moving a service to another queue while some of its cases
/// wait in the old one is refused: they would wait where nobody calls them.
pub async fn upsert_type(
    uow: &mut UnitOfWork,
    service: &ServiceType,
    expected_version: i64,
) -> Result<i64, RoutingError> {
    let stranded: i64 = sqlx::query_scalar(
        "select count(*) from cases
         where municipality = $1 and service_code = $2 and service_group <> $3
           and status in ('waiting', 'pending', 'parked')",
    )
    .bind(service.municipality.as_str())
    .bind(&service.code)
    .bind(&service.group)
    .fetch_one(uow.conn())
    .await?;
    if stranded > 0 {
        return Err(RoutingError::WrongStatus {
            status: "in use",
            hint: "cases of this service wait in its current queue: move it when they are served",
        });
    }
    let channels: Vec<&str> = service.channels.iter().map(|c| c.to_db()).collect();
    let outcome_codes: Vec<&str> = service.outcomes.iter().map(|o| o.code.as_str()).collect();
    let outcome_names: Vec<&str> = service.outcomes.iter().map(|o| o.name.as_str()).collect();
    let result = sqlx::query_scalar::<_, i64>(
        "insert into service_types as t (municipality, code, name, department, default_tier,
             expected_minutes, appointment_required, required_skills, service_group,
             allowed_channels, required_documents, statutory_rule, active, outcome_codes,
             outcome_names, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, 1)
         on conflict (municipality, code) do update set
             name = excluded.name, department = excluded.department,
             default_tier = excluded.default_tier, expected_minutes = excluded.expected_minutes,
             appointment_required = excluded.appointment_required,
             required_skills = excluded.required_skills, service_group = excluded.service_group,
             allowed_channels = excluded.allowed_channels,
             required_documents = excluded.required_documents,
             statutory_rule = excluded.statutory_rule, active = excluded.active,
             outcome_codes = excluded.outcome_codes, outcome_names = excluded.outcome_names,
             version = t.version + 1
           where t.version = $14
         returning version",
    )
    .bind(service.municipality.as_str())
    .bind(&service.code)
    .bind(&service.name)
    .bind(&service.department)
    .bind(tier_number(service.tier))
    .bind(service.expected_minutes)
    .bind(service.appointment_required)
    .bind(Json(&service.required_skills))
    .bind(&service.group)
    .bind(&channels)
    .bind(&service.documents)
    .bind(&service.statutory_rule)
    .bind(service.active)
    .bind(expected_version)
    .bind(&outcome_codes)
    .bind(&outcome_names)
    .fetch_optional(uow.conn())
    .await;
    match result {
        // A new row starts at 1: only right when the caller expected none.
        Ok(Some(1)) if expected_version != 0 => Err(RoutingError::StaleVersion {
            what: "service type",
        }),
        Ok(Some(version)) => Ok(version),
        Ok(None) => Err(RoutingError::StaleVersion {
            what: "service type",
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::FOREIGN_KEY_VIOLATION).is_some() =>
        {
            Err(RoutingError::UnknownGroup(service.group.clone()))
        }
        Err(error) => Err(error.into()),
    }
}

/// One service type and its version.
pub async fn get_type(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    code: &str,
) -> Result<(ServiceType, i64), RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {TYPE_COLUMNS} from service_types where municipality = $1 and code = $2"
    )))
    .bind(municipality.as_str())
    .bind(code)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| RoutingError::UnknownService(code.to_owned()))?;
    Ok(type_from_row(&row)?)
}

/// Every service type of a municipality, by code.
pub async fn list_types(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
) -> Result<Vec<(ServiceType, i64)>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {TYPE_COLUMNS} from service_types where municipality = $1 order by code"
    )))
    .bind(municipality.as_str())
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| type_from_row(r).map_err(RoutingError::from))
        .collect()
}

/// Creates or replaces a group.
pub async fn upsert_group(uow: &mut UnitOfWork, group: &ServiceGroup) -> Result<(), RoutingError> {
    let result = sqlx::query(
        "insert into service_groups as g (municipality, code, letter, name) values ($1, $2, $3, $4)
         on conflict (municipality, code) do update
           set letter = excluded.letter, name = excluded.name, version = g.version + 1",
    )
    .bind(group.municipality.as_str())
    .bind(&group.code)
    .bind(&group.letter)
    .bind(&group.name)
    .execute(uow.conn())
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("service_groups_letter_unique") =>
        {
            Err(RoutingError::LetterTaken(group.letter.clone()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Every group of a municipality, by letter.
pub async fn list_groups(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
) -> Result<Vec<ServiceGroup>, RoutingError> {
    let rows = sqlx::query(
        "select code, letter, name from service_groups where municipality = $1 order by letter",
    )
    .bind(municipality.as_str())
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ServiceGroup {
                municipality,
                code: row.try_get("code")?,
                letter: row.try_get("letter")?,
                name: row.try_get("name")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(RoutingError::from)
}
