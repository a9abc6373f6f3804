//! Where the service reads residents and families from.
//!
//! In real life a municipality's register mirrors ANPR, the national register; the
//! service reads through [`RegistrySource`] so that an ANPR-backed source can replace
//! the embedded default, [`LocalSource`], which reads the registry's own PostgreSQL
//! tables. Writes (registrations, changes of residence) are the municipality's own
//! procedures and go to the local store.

use futures::future::BoxFuture;
use sportello_kit::{MunicipalityCode, RequesterRef};
use sportello_pa::CodiceFiscale;
use sqlx::PgPool;

use crate::{
    domain::{Day, FamilyId, ResidentId},
    error::RegistryError,
    records::{Family, PERSON_COLUMNS, Person, PersonState, person_from_row},
};

/// How a person is looked up: by record id, fiscal code or requester_ref, never by name.
#[derive(Debug, Clone)]
pub enum PersonKey {
    /// Record id.
    Id(ResidentId),
    /// Fiscal code in a municipality's register.
    FiscalCode(MunicipalityCode, CodiceFiscale),
    /// Pseudonymous reference (it already names its municipality).
    RequesterRef(RequesterRef),
}

/// A person with every state of their record, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    /// The person (its `state` is the current one).
    pub person: Person,
    /// Every state still standing for its days, oldest first.
    pub states: Vec<PersonState>,
}

/// Reads the register.
pub trait RegistrySource: Send + Sync + std::fmt::Debug + 'static {
    /// The person `key` names, with their state on `on`; `None` if the register does not
    /// know them.
    fn person<'a>(
        &'a self,
        key: &'a PersonKey,
        on: Day,
    ) -> BoxFuture<'a, Result<Option<Person>, RegistryError>>;

    /// A family with its members on `on`; `None` if there is no such family.
    fn family(&self, id: FamilyId, on: Day)
    -> BoxFuture<'_, Result<Option<Family>, RegistryError>>;

    /// A person's whole history; `None` if the register does not know them.
    fn history(&self, id: ResidentId) -> BoxFuture<'_, Result<Option<History>, RegistryError>>;
}

/// The embedded default: the registry's own tables.
#[derive(Debug, Clone)]
pub struct LocalSource {
    pool: PgPool,
}

impl LocalSource {
    /// Reads from `pool` (the registry's schema).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The version in force on `$2`, joined to its person `r`.
const IN_FORCE: &str = "left join resident_versions v on v.resident_id = r.id
       and v.superseded_at is null and v.valid_from <= $2
       and (v.valid_to is null or v.valid_to > $2)
     left join streets s on s.id = v.street_id";

impl RegistrySource for LocalSource {
    fn person<'a>(
        &'a self,
        key: &'a PersonKey,
        on: Day,
    ) -> BoxFuture<'a, Result<Option<Person>, RegistryError>> {
        Box::pin(async move {
            let on = jiff_sqlx::Date::from(on);
            let row = match key {
                PersonKey::Id(id) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "select {PERSON_COLUMNS} from residents r {IN_FORCE} where r.id = $1"
                    )))
                    .bind(id.0)
                    .bind(on)
                    .fetch_optional(&self.pool)
                    .await?
                }
                PersonKey::FiscalCode(municipality, code) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "select {PERSON_COLUMNS} from residents r {IN_FORCE}
                         where r.municipality = $3 and r.fiscal_code = $1"
                    )))
                    .bind(code.as_str())
                    .bind(on)
                    .bind(municipality.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                }
                PersonKey::RequesterRef(reference) => {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "select {PERSON_COLUMNS} from residents r {IN_FORCE}
                         where r.requester_ref = $1"
                    )))
                    .bind(reference.as_str())
                    .bind(on)
                    .fetch_optional(&self.pool)
                    .await?
                }
            };
            Ok(row.as_ref().map(person_from_row).transpose()?)
        })
    }

    fn family(
        &self,
        id: FamilyId,
        on: Day,
    ) -> BoxFuture<'_, Result<Option<Family>, RegistryError>> {
        Box::pin(async move {
            let municipality: Option<String> =
                sqlx::query_scalar("select municipality from families where id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(municipality) = municipality else {
                return Ok(None);
            };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "select {PERSON_COLUMNS}
                 from resident_versions v
                 join residents r on r.id = v.resident_id
                 left join streets s on s.id = v.street_id
                 where v.family_id = $1 and v.superseded_at is null and v.valid_from <= $2
                   and (v.valid_to is null or v.valid_to > $2)
                 order by v.relationship = 'head' desc, v.birth_date, r.id"
            )))
            .bind(id.0)
            .bind(jiff_sqlx::Date::from(on))
            .fetch_all(&self.pool)
            .await?;
            let members = rows
                .iter()
                .map(person_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Family {
                id,
                municipality: municipality.parse().map_err(|_| {
                    sqlx::Error::Decode("unexpected value in column municipality".into())
                })?,
                as_of: jiff_sqlx::Date::from(on).to_jiff(),
                members,
            }))
        })
    }

    fn history(&self, id: ResidentId) -> BoxFuture<'_, Result<Option<History>, RegistryError>> {
        Box::pin(async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "select {PERSON_COLUMNS}
                 from residents r
                 left join resident_versions v on v.resident_id = r.id and v.superseded_at is null
                 left join streets s on s.id = v.street_id
                 where r.id = $1
                 order by v.valid_from"
            )))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?;
            let mut person: Option<Person> = None;
            let mut states = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut read = person_from_row(row)?;
                states.extend(read.state.take());
                person.get_or_insert(read);
            }
            let person = person.map(|mut person| {
                person.state = states.iter().find(|s| s.valid_to.is_none()).cloned();
                person
            });
            Ok(person.map(|person| History { person, states }))
        })
    }
}
