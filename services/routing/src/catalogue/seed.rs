//! The catalogue seed: a versioned TOML file per municipality, shipped in the binary.
//!
//! Seeding adds the groups and service types a municipality does not have yet and records
//! the file's version; it never overwrites what an administrator changed over gRPC. A
//! newer file version adds its new entries on the next start.

use serde::Deserialize;
use sportello_kit::{Db, MunicipalityCode, ServiceError};
use sportello_proto::{common::v1::Channel, routing::v1::Tier};

use super::{
    domain::{Outcome, Requirement, ServiceGroup, ServiceType},
    store,
};
use crate::domain::{Stored, tier_from_number};

/// The seeds shipped with routing, by ISTAT code.
pub const SEEDS: &[(&str, &str)] = &[("011015", include_str!("../../seed/catalogue-011015.toml"))];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: i32,
    municipality: String,
    groups: Vec<GroupEntry>,
    services: Vec<ServiceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    code: String,
    letter: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    code: String,
    name: String,
    department: String,
    tier: i16,
    minutes: i16,
    #[serde(default)]
    appointment: bool,
    skills: std::collections::BTreeMap<String, i16>,
    group: String,
    channels: Vec<String>,
    #[serde(default)]
    documents: Vec<String>,
    #[serde(default)]
    rule: String,
    /// The outcomes its back-office work may be completed with; none for the general ones.
    #[serde(default)]
    outcomes: Vec<OutcomeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeEntry {
    code: String,
    name: String,
}

/// A seed file that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("catalogue seed for {municipality}: {reason}")]
pub struct SeedError {
    municipality: String,
    reason: String,
}

/// A parsed seed.
#[derive(Debug)]
pub struct Seed {
    /// The file's version.
    pub version: i32,
    /// Groups.
    pub groups: Vec<ServiceGroup>,
    /// Service types.
    pub services: Vec<ServiceType>,
}

/// Parses a seed file, checking every entry as the gRPC API would.
pub fn parse(text: &str) -> Result<Seed, SeedError> {
    let error = |municipality: &str, reason: String| SeedError {
        municipality: municipality.to_owned(),
        reason,
    };
    let file: File = toml::from_str(text).map_err(|e| error("?", e.to_string()))?;
    let m = file.municipality.as_str();
    let municipality: MunicipalityCode = m.parse().map_err(|e: &str| error(m, e.to_owned()))?;
    let groups = file
        .groups
        .into_iter()
        .map(|g| ServiceGroup {
            municipality,
            code: g.code,
            letter: g.letter,
            name: g.name,
        })
        .collect();
    let mut services = Vec::new();
    for entry in file.services {
        let code = entry.code.clone();
        let bad = |what: &str| error(m, format!("service {code}: {what}"));
        let tier: Tier = tier_from_number(entry.tier).ok_or_else(|| bad("tier must be 1 to 4"))?;
        let channels = entry
            .channels
            .iter()
            .map(|c| Channel::from_db(c).ok_or_else(|| bad(&format!("unknown channel {c}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let service = ServiceType {
            municipality,
            code: entry.code,
            name: entry.name,
            department: entry.department,
            tier,
            expected_minutes: entry.minutes,
            appointment_required: entry.appointment,
            required_skills: entry
                .skills
                .into_iter()
                .map(|(skill, min_proficiency)| Requirement {
                    skill,
                    min_proficiency,
                })
                .collect(),
            group: entry.group,
            channels,
            documents: entry.documents,
            statutory_rule: entry.rule,
            active: true,
            outcomes: entry
                .outcomes
                .into_iter()
                .map(|o| Outcome {
                    code: o.code,
                    name: o.name,
                })
                .collect(),
        };
        // The same checks as an administrator's edit.
        ServiceType::parse(&service.to_message(0), "service")
            .map_err(|e: ServiceError| bad(e.message()))?;
        services.push(service);
    }
    Ok(Seed {
        version: file.version,
        groups,
        services,
    })
}

/// Applies the shipped seed of `municipality`, if there is one and it is newer than what
/// the municipality has received. Returns whether anything was applied.
pub async fn apply(db: &Db, municipality: MunicipalityCode) -> Result<bool, ServiceError> {
    let Some((_, text)) = SEEDS
        .iter()
        .find(|(istat, _)| *istat == municipality.as_str())
    else {
        return Ok(false);
    };
    let seed = parse(text).map_err(ServiceError::internal)?;
    let mut uow = db.begin().await?;
    // Replicas starting together: one seeds, the others find it done.
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(sportello_kit::db::advisory_key(&format!(
            "routing.seed.{municipality}"
        )))
        .execute(uow.conn())
        .await?;
    let applied: Option<i32> =
        sqlx::query_scalar("select version from catalogue_seeds where municipality = $1")
            .bind(municipality.as_str())
            .fetch_optional(uow.conn())
            .await?;
    if applied.is_some_and(|v| v >= seed.version) {
        return Ok(false);
    }
    for group in &seed.groups {
        sqlx::query(
            "insert into service_groups (municipality, code, letter, name) values ($1, $2, $3, $4)
             on conflict do nothing",
        )
        .bind(group.municipality.as_str())
        .bind(&group.code)
        .bind(&group.letter)
        .bind(&group.name)
        .execute(uow.conn())
        .await?;
    }
    for service in &seed.services {
        let exists: bool = sqlx::query_scalar(
            "select exists (select 1 from service_types where municipality = $1 and code = $2)",
        )
        .bind(municipality.as_str())
        .bind(&service.code)
        .fetch_one(uow.conn())
        .await?;
        if !exists {
            store::upsert_type(&mut uow, service, 0).await?;
        }
    }
    sqlx::query(
        "insert into catalogue_seeds (municipality, version, applied_at) values ($1, $2, $3)
         on conflict (municipality) do update set version = excluded.version, applied_at = excluded.applied_at",
    )
    .bind(municipality.as_str())
    .bind(seed.version)
    .bind(sportello_kit::uow::SqlTimestamp::from(uow.now()))
    .execute(uow.conn())
    .await?;
    super::grpc::emit_changed(&mut uow, municipality, "", "").await?;
    uow.commit().await?;
    tracing::info!(%municipality, version = seed.version, "catalogue seeded");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_seeds_parse() {
        for (istat, text) in SEEDS {
            let seed = parse(text).unwrap();
            assert!(seed.services.len() >= 20, "{istat}: a realistic catalogue");
            for service in &seed.services {
                assert!(
                    seed.groups.iter().any(|g| g.code == service.group),
                    "{} has a known group",
                    service.code
                );
            }
            // The registry reads exactly these two outcomes of its address check
            // (services/registry/src/residence/work.rs): the catalogue offers no other.
            if istat == &"011015" {
                let check = seed
                    .services
                    .iter()
                    .find(|s| s.code == "registry.residence_address_check")
                    .unwrap();
                let codes: Vec<&str> = check.outcomes.iter().map(|o| o.code.as_str()).collect();
                assert_eq!(codes, ["check_passed", "check_failed"]);
            }
            let letters: std::collections::HashSet<_> =
                seed.groups.iter().map(|g| &g.letter).collect();
            assert_eq!(letters.len(), seed.groups.len(), "letters are unique");
        }
    }

    #[test]
    fn a_bad_entry_is_named() {
        let text = r#"
            version = 1
            municipality = "011015"
            [[groups]]
            code = "anagrafe"
            letter = "A"
            name = "Anagrafe"
            [[services]]
            code = "registry.x"
            name = "X"
            department = "anagrafe"
            tier = 7
            minutes = 3
            skills = {}
            group = "anagrafe"
            channels = ["counter"]
        "#;
        let error = parse(text).unwrap_err();
        assert!(
            error.to_string().contains("service registry.x: tier"),
            "{error}"
        );
    }
}
