//! Residents and families in PostgreSQL: the write side (registrations, status changes)
//! and the locked reads that writes start from.
//!
//! Every change locks the person's `residents` row (in id order when several), ends
//! their current state — closed the day before the change, or superseded when it began
//! that same day — adds the next state, and bumps the record's version. The database's
//! constraints (no overlapping states, one head per family per day) are the last word.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, PseudonymKey, RequesterRef, UnitOfWork, uow::SqlTimestamp};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::domain::{Joining, NewResident, StatusChange};
use crate::{
    domain::{
        Day, FamilyId, HouseNumber, Relationship, ResidenceChangeId, ResidentId, ResidentStatus,
    },
    error::RegistryError,
    records::{Cause, PERSON_COLUMNS, Person, PersonData, PersonState, person_from_row},
};

/// Where a state puts a resident.
#[derive(Debug, Clone, Copy)]
pub struct HomeRef<'a> {
    /// The family.
    pub family_id: FamilyId,
    /// Relationship to its head.
    pub relationship: Relationship,
    /// The street's record id.
    pub street_id: Uuid,
    /// The house number.
    pub house_number: &'a HouseNumber,
}

/// A state to add to a person's record.
#[derive(Debug, Clone, Copy)]
pub struct NewState<'a> {
    /// First day in force.
    pub valid_from: Day,
    /// Why.
    pub cause: Cause,
    /// The state it follows, if any.
    pub follows: Option<Uuid>,
    /// The change of residence writing it, if any.
    pub residence_change_id: Option<ResidenceChangeId>,
    /// Personal data.
    pub data: &'a PersonData,
    /// Status.
    pub status: ResidentStatus,
    /// Family, relationship and address, exactly when resident.
    pub home: Option<HomeRef<'a>>,
    /// Moved away or AIRE: where to.
    pub destination: Option<&'a str>,
    /// Fiscal-code warnings.
    pub warnings: &'a [String],
}

/// The id of a street of the municipality's gazetteer.
pub async fn street_id(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    street_code: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select id from streets where municipality = $1 and street_code = $2")
        .bind(municipality.as_str())
        .bind(street_code)
        .fetch_optional(conn)
        .await
}

/// The person with their current state, their record locked until the unit of work ends.
pub async fn lock_person(
    conn: &mut PgConnection,
    id: ResidentId,
) -> Result<Option<Person>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS}
         from residents r
         left join resident_versions v on v.resident_id = r.id
              and v.superseded_at is null and v.valid_to is null
         left join streets s on s.id = v.street_id
         where r.id = $1
         for update of r"
    )))
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// The current members of a family, head first, their records locked (in id order, so
/// two writers never wait on each other crosswise). `None` if the family does not exist.
pub async fn lock_family(
    conn: &mut PgConnection,
    id: FamilyId,
) -> Result<Option<(MunicipalityCode, Vec<Person>)>, sqlx::Error> {
    let municipality: Option<String> =
        sqlx::query_scalar("select municipality from families where id = $1 for share")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(municipality) = municipality else {
        return Ok(None);
    };
    let municipality = municipality
        .parse()
        .map_err(|_| sqlx::Error::Decode("unexpected value in column municipality".into()))?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select r.id from residents r
         join resident_versions v on v.resident_id = r.id
         where v.family_id = $1 and v.valid_to is null and v.superseded_at is null
         order by r.id
         for update of r",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut members = Vec::with_capacity(ids.len());
    for member in ids {
        if let Some(person) = lock_person(conn, ResidentId(member)).await? {
            members.push(person);
        }
    }
    members.sort_by_key(|p| {
        let head = p
            .state
            .as_ref()
            .and_then(|s| s.home.as_ref())
            .is_some_and(|h| h.relationship == Relationship::Head);
        (!head, p.state.as_ref().map(|s| s.data.birth_date))
    });
    Ok(Some((municipality, members)))
}

/// Ends a person's current state on `on`: closed (in force until the day before) when it
/// began earlier, superseded when it began that very day.
pub async fn end_state(
    conn: &mut PgConnection,
    state: &PersonState,
    on: Day,
    now: Timestamp,
) -> Result<(), RegistryError> {
    if state.valid_from > on {
        return Err(RegistryError::invalid(
            "effective_date",
            format!(
                "is before the person's current state began ({})",
                state.valid_from
            ),
        ));
    }
    let query = if state.valid_from < on {
        sqlx::query("update resident_versions set valid_to = $2 where id = $1 and valid_to is null")
            .bind(state.version_id)
            .bind(jiff_sqlx::Date::from(on))
    } else {
        sqlx::query(
            "update resident_versions set superseded_at = $2 where id = $1 and superseded_at is null",
        )
        .bind(state.version_id)
        .bind(SqlTimestamp::from(now))
    };
    let done = query
        .execute(conn)
        .await
        .map_err(RegistryError::from_write)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
    }
}

/// Adds a state to a person's record. Returns its row id.
pub async fn insert_state(
    conn: &mut PgConnection,
    resident: ResidentId,
    state: NewState<'_>,
    now: Timestamp,
) -> Result<Uuid, RegistryError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into resident_versions (
             id, resident_id, valid_from, recorded_at, cause, follows_version_id,
             residence_change_id, surname, given_names, sex, birth_date, birthplace_code,
             citizenship, status, family_id, relationship, street_id, house_number,
             destination, fiscal_code_warnings)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20)",
    )
    .bind(id)
    .bind(resident.0)
    .bind(jiff_sqlx::Date::from(state.valid_from))
    .bind(SqlTimestamp::from(now))
    .bind(state.cause.as_db())
    .bind(state.follows)
    .bind(state.residence_change_id.map(|c| c.0))
    .bind(&state.data.surname)
    .bind(&state.data.given_names)
    .bind(state.data.sex.to_string())
    .bind(jiff_sqlx::Date::from(state.data.birth_date))
    .bind(state.data.birthplace.as_str())
    .bind(state.data.citizenship.iso())
    .bind(state.status.as_db())
    .bind(state.home.map(|h| h.family_id.0))
    .bind(state.home.map(|h| h.relationship.as_db()))
    .bind(state.home.map(|h| h.street_id))
    .bind(state.home.map(|h| h.house_number.as_str()))
    .bind(state.destination)
    .bind(state.warnings)
    .execute(conn)
    .await
    .map_err(RegistryError::from_write)?;
    Ok(id)
}

/// Bumps a person's record version; returns the new one.
pub async fn bump_version(
    conn: &mut PgConnection,
    resident: ResidentId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("update residents set version = version + 1 where id = $1 returning version")
        .bind(resident.0)
        .fetch_one(conn)
        .await
}

/// Creates a family record.
pub async fn insert_family(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    now: Timestamp,
) -> Result<FamilyId, sqlx::Error> {
    let id = FamilyId::new();
    sqlx::query("insert into families (id, municipality, created_at) values ($1, $2, $3)")
        .bind(id.0)
        .bind(municipality.as_str())
        .bind(SqlTimestamp::from(now))
        .execute(conn)
        .await?;
    Ok(id)
}

/// A family that does not exist, or not in the caller's municipality.
fn no_family(field: &'static str) -> RegistryError {
    RegistryError::NotFound {
        field,
        what: "no family with this id has members in the register",
    }
}

/// Registers a person. Returns them with their first state.
pub async fn register(
    uow: &mut UnitOfWork,
    key: &PseudonymKey,
    new: &NewResident,
) -> Result<Person, RegistryError> {
    let now = uow.now();
    let (family_id, relationship, street, house_number) = match &new.joining {
        Joining::NewFamily(address) => {
            let street = street_id(uow.conn(), new.municipality, &address.street_code)
                .await?
                .ok_or_else(|| {
                    RegistryError::invalid(
                        "address.street_code",
                        "no street with this code in the municipality's gazetteer",
                    )
                })?;
            let family = insert_family(uow.conn(), new.municipality, now).await?;
            (
                family,
                Relationship::Head,
                street,
                address.house_number.clone(),
            )
        }
        Joining::Family(family, relationship) => {
            let (municipality, members) = lock_family(uow.conn(), *family)
                .await?
                .ok_or_else(|| no_family("family_id"))?;
            let head = members
                .iter()
                .filter(|_| municipality == new.municipality)
                .filter_map(|m| m.state.as_ref()?.home.as_ref().map(|h| (m, h)))
                .find(|(_, h)| h.relationship == Relationship::Head)
                .ok_or_else(|| no_family("family_id"))?;
            if let Some(state) = &head.0.state
                && new.effective_date < state.valid_from
            {
                return Err(RegistryError::invalid(
                    "effective_date",
                    "is before the family's current address took effect",
                ));
            }
            let address = &head.1.address;
            (
                *family,
                *relationship,
                address.street_id,
                address.house_number.clone(),
            )
        }
    };

    let id = ResidentId::new();
    let requester_ref = RequesterRef::derive(key, new.municipality, new.fiscal_code.as_str());
    sqlx::query(
        "insert into residents (id, municipality, fiscal_code, requester_ref, version, created_at,
             registration_ground)
         values ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(id.0)
    .bind(new.municipality.as_str())
    .bind(new.fiscal_code.as_str())
    .bind(requester_ref.as_str())
    .bind(SqlTimestamp::from(now))
    .bind(new.ground)
    .execute(uow.conn())
    .await
    .map_err(RegistryError::from_write)?;
    insert_state(
        uow.conn(),
        id,
        NewState {
            valid_from: new.effective_date,
            cause: Cause::Registration,
            follows: None,
            residence_change_id: None,
            data: &new.data,
            status: ResidentStatus::Resident,
            home: Some(HomeRef {
                family_id,
                relationship,
                street_id: street,
                house_number: &house_number,
            }),
            destination: None,
            warnings: &new.warnings,
        },
        now,
    )
    .await?;
    reload(uow.conn(), id).await
}

/// The person again, with the state just written.
pub async fn reload(conn: &mut PgConnection, id: ResidentId) -> Result<Person, RegistryError> {
    lock_person(conn, id).await?.ok_or(RegistryError::Conflict(
        "the record changed meanwhile; retry",
    ))
}

/// What a status change did.
#[derive(Debug, Clone)]
pub struct StatusChanged {
    /// The person, in their new status.
    pub person: Person,
    /// The family they left, if they were resident.
    pub family_id: Option<FamilyId>,
    /// The family's new head, when the head left.
    pub new_head: Option<ResidentId>,
}

/// Records that a person moved away, died or moved abroad.
pub async fn change_status(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    change: &StatusChange,
) -> Result<StatusChanged, RegistryError> {
    let now = uow.now();
    let not_found = RegistryError::NotFound {
        field: "resident_id",
        what: "no person with this id in the register",
    };
    // Lock the family's members (in id order) before the person, as every other writer
    // does, so two changes in one family never wait on each other crosswise.
    let family_members = match current_family(uow.conn(), change.resident_id).await? {
        Some(family) => lock_family(uow.conn(), family).await?.map(|(_, m)| m),
        None => None,
    };
    let person = lock_person(uow.conn(), change.resident_id)
        .await?
        .filter(|p| p.municipality == municipality)
        .ok_or(not_found)?;
    let state = person.state.clone().ok_or(RegistryError::Conflict(
        "the record changed meanwhile; retry",
    ))?;
    let target = change.departure.status();
    let allowed = match state.status {
        ResidentStatus::Resident => true,
        ResidentStatus::Aire => target == ResidentStatus::Deceased,
        ResidentStatus::MovedAway | ResidentStatus::Deceased => false,
    };
    if !allowed {
        return Err(RegistryError::Precondition(format!(
            "status: the person is {}, and cannot become {}",
            state.status.words(),
            target.words()
        )));
    }

    let mut new_head = None;
    let family_id = state.home.as_ref().map(|h| h.family_id);
    if let Some(home) = &state.home {
        let members = family_members
            .filter(|m| m.iter().any(|p| p.id == person.id))
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        let others: Vec<&Person> = members.iter().filter(|m| m.id != person.id).collect();
        let leaving_head = home.relationship == Relationship::Head && !others.is_empty();
        match (leaving_head, change.new_head_id) {
            (true, None) => {
                return Err(RegistryError::invalid(
                    "new_head_id",
                    "the person is the head of a family others remain in: name its new head",
                ));
            }
            (false, Some(_)) => {
                return Err(RegistryError::invalid(
                    "new_head_id",
                    "only when the head of a family leaves it",
                ));
            }
            (true, Some(head)) => {
                let successor = others.iter().find(|m| m.id == head).ok_or_else(|| {
                    RegistryError::invalid("new_head_id", "is not a member of the person's family")
                })?;
                new_head = Some((*successor).clone());
            }
            (false, None) => {}
        }
    }

    // The old head leaves first, so the family never has two heads on one day.
    end_state(uow.conn(), &state, change.effective_date, now).await?;
    let destination = change.departure.destination();
    insert_state(
        uow.conn(),
        person.id,
        NewState {
            valid_from: change.effective_date,
            cause: Cause::StatusChange,
            follows: Some(state.version_id),
            residence_change_id: None,
            data: &state.data,
            status: target,
            home: None,
            destination: destination.as_deref(),
            warnings: &state.fiscal_code_warnings,
        },
        now,
    )
    .await?;
    bump_version(uow.conn(), person.id).await?;

    if let Some(successor) = &new_head {
        let successor_state = successor.state.as_ref().ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        let home = successor_state
            .home
            .as_ref()
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        end_state(uow.conn(), successor_state, change.effective_date, now).await?;
        insert_state(
            uow.conn(),
            successor.id,
            NewState {
                valid_from: change.effective_date,
                cause: Cause::FamilyChange,
                follows: Some(successor_state.version_id),
                residence_change_id: None,
                data: &successor_state.data,
                status: ResidentStatus::Resident,
                home: Some(HomeRef {
                    family_id: home.family_id,
                    relationship: Relationship::Head,
                    street_id: home.address.street_id,
                    house_number: &home.address.house_number,
                }),
                destination: None,
                warnings: &successor_state.fiscal_code_warnings,
            },
            now,
        )
        .await?;
        bump_version(uow.conn(), successor.id).await?;
    }

    Ok(StatusChanged {
        person: reload(uow.conn(), person.id).await?,
        family_id,
        new_head: new_head.map(|p| p.id),
    })
}

/// The family a person currently belongs to (read without locking).
pub async fn current_family(
    conn: &mut PgConnection,
    id: ResidentId,
) -> Result<Option<FamilyId>, sqlx::Error> {
    let family: Option<Option<Uuid>> = sqlx::query_scalar(
        "select family_id from resident_versions
         where resident_id = $1 and valid_to is null and superseded_at is null",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(family.flatten().map(FamilyId))
}

/// How many people the municipality's register holds (any status).
pub async fn count_residents(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("select count(*) as n from residents where municipality = $1")
        .bind(municipality.as_str())
        .fetch_one(conn)
        .await?;
    row.try_get("n")
}
