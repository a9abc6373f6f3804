//! Changes of residence in PostgreSQL: recording the move, deciding (confirming, or
//! rejecting and restoring the previous state), the notice of reasons against.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sqlx::{PgConnection, PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    domain::{Basis, DeclaredChange, Delivery, LegalClock, NoticeDates, Status},
    immigration::{DeclaredImmigration, Origin, Status as ImmigrantStatus},
};
use crate::{
    domain::{FamilyId, HouseNumber, Relationship, ResidenceChangeId, ResidentId, ResidentStatus},
    error::RegistryError,
    records::{Cause, Person},
    residents::store::{
        HomeRef, NewState, bump_version, end_state, insert_family, insert_state, lock_family,
        lock_person, street_id,
    },
};

/// A change of residence as stored.
#[derive(Debug, Clone)]
pub struct Change {
    /// Record id.
    pub id: ResidenceChangeId,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Status.
    pub status: Status,
    /// The family the members left.
    pub family_id: FamilyId,
    /// The family at the new address.
    pub destination_family_id: FamilyId,
    /// Who declared.
    pub declarant_id: ResidentId,
    /// Who moved.
    pub members: Vec<(ResidentId, Relationship)>,
    /// The street's code.
    pub street_code: String,
    /// The house number.
    pub house_number: HouseNumber,
    /// When the declaration was registered.
    pub declared_at: Timestamp,
    /// The day the move took effect.
    pub effective_date: Date,
    /// The legal clock.
    pub clock: LegalClock,
    /// Protocol registration id.
    pub protocol_registration_id: String,
    /// Protocol number.
    pub protocol_number: String,
    /// The check's case in routing; empty until routing's `opened` event is applied.
    pub check_case_id: String,
    /// When the move was recorded.
    pub recorded_at: Timestamp,
    /// When a notice of reasons against was sent, and the reasons.
    pub reasons_against: Option<(Timestamp, String)>,
    /// When it was decided.
    pub decided_at: Option<Timestamp>,
    /// What confirmed it.
    pub basis: Option<Basis>,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// When the check's case was closed.
    pub case_closed_at: Option<Timestamp>,
    /// Record version.
    pub version: i64,
    /// Why the address check failed, when it did.
    pub check_failure: Option<String>,
    /// The notice's outgoing protocol number and the day it was sent.
    pub notice_sent: Option<(String, Date)>,
    /// How the notice was delivered and the day it was received.
    pub notice_received: Option<(Delivery, Date)>,
    /// The day the observations arrived, and what they say.
    pub observations: Option<(Date, String)>,
    /// The answer to them: accepted or not, with its reasons.
    pub observations_answer: Option<(bool, String)>,
    /// Who became head of the family left behind.
    pub remaining_head: Option<ResidentId>,
    /// Who represents an under-age declarant.
    pub representative: Option<ResidentId>,
    /// For a move into the municipality, the municipality of origin (ISTAT code).
    pub origin_municipality: Option<String>,
    /// For a move from abroad, the country (ISO code).
    pub origin_country: Option<String>,
    /// When the 10-bis phase was handed to routing as its own work (after a failed
    /// check); from then on the procedure's clock and decision go to that work.
    pub reasons_against_work_at: Option<Timestamp>,
    /// The 10-bis phase's case in routing; empty until routing's `opened` event.
    pub reasons_against_case_id: String,
    /// When the 10-bis phase's case was closed in routing.
    pub reasons_against_closed_at: Option<Timestamp>,
}

impl Change {
    /// The notice's dates, for the clock.
    pub fn notice_dates(&self) -> Option<NoticeDates> {
        self.notice_sent.as_ref().map(|(_, sent)| NoticeDates {
            sent: *sent,
            received: self.notice_received.map(|(_, day)| day),
            observations: self.observations.as_ref().map(|(day, _)| *day),
        })
    }
}

/// Everything the record step writes, besides what the declaration says.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The change's id.
    pub id: ResidenceChangeId,
    /// The registration.
    pub protocol_registration_id: String,
    /// Its number.
    pub protocol_number: String,
    /// Its time: the declaration's legal date.
    pub registered_at: Timestamp,
    /// The legal clock from the registration's day.
    pub clock: LegalClock,
    /// The day the move takes effect.
    pub effective_date: Date,
    /// SHA-256 of the declaration.
    pub document_sha256: [u8; 32],
    /// Who declared, to act on their behalf later.
    pub caller: String,
    /// The acting user.
    pub actor: String,
    /// The declared purpose.
    pub purpose: String,
}

/// Ids of `members` that are part of a change of residence not decided yet.
pub async fn in_open_change<'e>(
    executor: impl PgExecutor<'e>,
    members: &[ResidentId],
) -> Result<Vec<ResidentId>, sqlx::Error> {
    let ids: Vec<Uuid> = members.iter().map(|m| m.0).collect();
    let open: Vec<Uuid> = sqlx::query_scalar(
        "select resident_id from residence_change_members where open and resident_id = any($1)",
    )
    .bind(&ids)
    .fetch_all(executor)
    .await?;
    Ok(open.into_iter().map(ResidentId).collect())
}

/// Checks a declaration against the family as it is now; returns whether the whole
/// family moves. The same rules run before routing is called (on an unlocked read) and
/// again inside the recording transaction (on locked rows).
pub fn check_against_family(
    declared: &DeclaredChange,
    members: &[Person],
    new_street: Uuid,
    today: Date,
) -> Result<bool, RegistryError> {
    let homes: Vec<(&Person, &crate::records::Home)> = members
        .iter()
        .filter_map(|m| Some((m, m.state.as_ref()?.home.as_ref()?)))
        .collect();
    if homes.is_empty() {
        return Err(RegistryError::NotFound {
            field: "family_id",
            what: "no family with this id has members in the register",
        });
    }
    for (i, (id, _)) in declared.members.iter().enumerate() {
        if !homes.iter().any(|(m, _)| m.id == *id) {
            return Err(RegistryError::Invalid {
                field: "members",
                why: format!("members[{i}] is not a member of the family"),
            });
        }
    }
    let whole = homes.len() == declared.members.len();
    if !whole {
        let head_moves = homes.iter().any(|(m, h)| {
            h.relationship == Relationship::Head
                && declared.members.iter().any(|(id, _)| *id == m.id)
        });
        // DPR 223/1989 art. 6: the head may move alone; the declaration names who
        // heads the family left behind, so nobody needs a preliminary step.
        match (head_moves, declared.remaining_head) {
            (true, None) => {
                return Err(RegistryError::invalid(
                    "remaining_head_id",
                    "il capofamiglia si trasferisce senza tutti i componenti: indicare chi \
                     diventa intestatario della famiglia che resta / the head of the family \
                     moves without all its members: name who becomes head of the family \
                     left behind (DPR 223/1989 art. 6)",
                ));
            }
            (true, Some(head)) => {
                if !homes.iter().any(|(m, _)| m.id == head) {
                    return Err(RegistryError::invalid(
                        "remaining_head_id",
                        "is not a member of the family",
                    ));
                }
            }
            (false, Some(_)) => {
                return Err(RegistryError::invalid(
                    "remaining_head_id",
                    "only when the head of the family moves without all its members",
                ));
            }
            (false, None) => {}
        }
    } else if declared.remaining_head.is_some() {
        return Err(RegistryError::invalid(
            "remaining_head_id",
            "the whole family moves: nobody remains to head it",
        ));
    }
    // The declarant is an adult, or the declaration names who represents them.
    let declarant = homes
        .iter()
        .find(|(m, _)| m.id == declared.declarant)
        .and_then(|(m, _)| m.state.as_ref());
    if let Some(state) = declarant
        && !is_adult(state.data.birth_date, today)
        && declared.representative.is_none()
    {
        return Err(RegistryError::invalid(
            "representative_id",
            "il dichiarante è minorenne: indicare chi lo rappresenta (genitore o tutore) / the \
             declarant is under age: name who represents them (a parent or guardian)",
        ));
    }
    let current = &homes[0].1.address;
    if current.street_id == new_street && current.house_number == declared.address.house_number {
        return Err(RegistryError::invalid(
            "address",
            "is the family's current address",
        ));
    }
    Ok(whole)
}

/// Whether someone born on `birth` is 18 on `today`.
pub fn is_adult(birth: Date, today: Date) -> bool {
    birth
        .checked_add(jiff::Span::new().years(18))
        .is_ok_and(|adult| adult <= today)
}

/// Records a change of residence: moves the members (effective from the declaration's
/// day), and stores the change with its members. Everything in `uow`.
pub async fn record(
    uow: &mut UnitOfWork,
    declared: &DeclaredChange,
    intake: &Intake,
) -> Result<Change, RegistryError> {
    let now = uow.now();
    let (municipality, family) =
        lock_family(uow.conn(), declared.family_id)
            .await?
            .ok_or(RegistryError::NotFound {
                field: "family_id",
                what: "no family with this id has members in the register",
            })?;
    if municipality != declared.municipality {
        return Err(RegistryError::NotFound {
            field: "family_id",
            what: "no family with this id has members in the register",
        });
    }
    let street = street_id(
        uow.conn(),
        declared.municipality,
        &declared.address.street_code,
    )
    .await?
    .ok_or_else(|| {
        RegistryError::invalid(
            "address.street_code",
            "no street with this code in the municipality's gazetteer",
        )
    })?;
    let whole = check_against_family(declared, &family, street, intake.effective_date)?;
    let destination = if whole {
        declared.family_id
    } else {
        insert_family(uow.conn(), declared.municipality, now).await?
    };

    sqlx::query(
        "insert into residence_changes (
             id, municipality, status, family_id, destination_family_id, declarant_id,
             street_id, house_number, channel, document_sha256, caller, actor, purpose,
             declared_at, effective_date, registration_due, recorded_at, check_due,
             silence_assent_on, protocol_registration_id, protocol_number, check_case_id,
             version, remaining_head_id, representative_id)
         values ($1, $2, 'recorded', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 $16, $17, $18, $19, $20, $21, 2, $22, $23)",
    )
    .bind(intake.id.0)
    .bind(declared.municipality.as_str())
    .bind(declared.family_id.0)
    .bind(destination.0)
    .bind(declared.declarant.0)
    .bind(street)
    .bind(declared.address.house_number.as_str())
    .bind(declared.channel as i32)
    .bind(&intake.document_sha256[..])
    .bind(&intake.caller)
    .bind(&intake.actor)
    .bind(&intake.purpose)
    .bind(SqlTimestamp::from(intake.registered_at))
    .bind(jiff_sqlx::Date::from(intake.effective_date))
    .bind(jiff_sqlx::Date::from(intake.clock.registration_due))
    .bind(SqlTimestamp::from(now))
    .bind(jiff_sqlx::Date::from(intake.clock.check_due))
    .bind(intake.clock.silence_assent_on.map(jiff_sqlx::Date::from))
    .bind(&intake.protocol_registration_id)
    .bind(&intake.protocol_number)
    // The check's case is opened by routing from the work request; its id arrives
    // with routing's `opened` event.
    .bind("")
    .bind(declared.remaining_head.map(|h| h.0))
    .bind(declared.representative.map(|r| r.0))
    .execute(uow.conn())
    .await
    .map_err(RegistryError::from_write)?;

    // End every mover's state first, then add the new ones: a family never has two
    // heads on one day, even when its head changes with the move.
    let movers: Vec<(&Person, Relationship)> = declared
        .members
        .iter()
        .filter_map(|(id, r)| family.iter().find(|m| m.id == *id).map(|m| (m, *r)))
        .collect();
    for (person, _) in &movers {
        let state = person.state.as_ref().ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        end_state(uow.conn(), state, intake.effective_date, now).await?;
    }
    for (person, relationship) in &movers {
        let state = person.state.as_ref().ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        insert_state(
            uow.conn(),
            person.id,
            NewState {
                valid_from: intake.effective_date,
                cause: Cause::ResidenceChange,
                follows: Some(state.version_id),
                residence_change_id: Some(intake.id),
                data: &state.data,
                status: ResidentStatus::Resident,
                home: Some(HomeRef {
                    family_id: destination,
                    relationship: *relationship,
                    street_id: street,
                    house_number: &declared.address.house_number,
                }),
                destination: None,
                warnings: &state.fiscal_code_warnings,
            },
            now,
        )
        .await?;
        bump_version(uow.conn(), person.id).await?;
        sqlx::query(
            "insert into residence_change_members (residence_change_id, resident_id, relationship, open)
             values ($1, $2, $3, true)",
        )
        .bind(intake.id.0)
        .bind(person.id.0)
        .bind(relationship.as_db())
        .execute(uow.conn())
        .await
        .map_err(RegistryError::from_write)?;
    }
    // The family left behind gets its new head from the same day (the old head's state
    // there has just ended).
    if let Some(head) = declared.remaining_head {
        let person = family
            .iter()
            .find(|m| m.id == head)
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        let state = person.state.as_ref().ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        let home = state.home.as_ref().ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        end_state(uow.conn(), state, intake.effective_date, now).await?;
        insert_state(
            uow.conn(),
            person.id,
            NewState {
                valid_from: intake.effective_date,
                cause: Cause::ResidenceChange,
                follows: Some(state.version_id),
                residence_change_id: Some(intake.id),
                data: &state.data,
                status: state.status,
                home: Some(HomeRef {
                    family_id: home.family_id,
                    relationship: Relationship::Head,
                    street_id: home.address.street_id,
                    house_number: &home.address.house_number,
                }),
                destination: None,
                warnings: &state.fiscal_code_warnings,
            },
            now,
        )
        .await?;
        bump_version(uow.conn(), person.id).await?;
    }
    lock(uow.conn(), intake.id)
        .await?
        .ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
}

/// Records a move into the municipality: registers every member in a new family at the
/// new address, effective from the declaration's day, their states written by the
/// change; stores the change with its members and their documents. Everything in `uow`.
pub async fn record_immigration(
    uow: &mut UnitOfWork,
    key: &sportello_kit::PseudonymKey,
    declared: &DeclaredImmigration,
    ids: &[ResidentId],
    intake: &Intake,
) -> Result<Change, RegistryError> {
    let now = uow.now();
    let street = street_id(
        uow.conn(),
        declared.municipality,
        &declared.address.street_code,
    )
    .await?
    .ok_or_else(|| {
        RegistryError::invalid(
            "address.street_code",
            "no street with this code in the municipality's gazetteer",
        )
    })?;
    let family = insert_family(uow.conn(), declared.municipality, now).await?;
    for (member, id) in declared.members.iter().zip(ids) {
        let requester_ref = sportello_kit::RequesterRef::derive(
            key,
            declared.municipality,
            member.person.fiscal_code.as_str(),
        );
        sqlx::query(
            "insert into residents (id, municipality, fiscal_code, requester_ref, version, created_at,
                 registration_ground)
             values ($1, $2, $3, $4, 1, $5, 'immigration')",
        )
        .bind(id.0)
        .bind(declared.municipality.as_str())
        .bind(member.person.fiscal_code.as_str())
        .bind(requester_ref.as_str())
        .bind(SqlTimestamp::from(now))
        .execute(uow.conn())
        .await
        .map_err(RegistryError::from_write)?;
    }
    let declarant = ids
        .get(declared.declarant)
        .ok_or_else(|| RegistryError::invalid("declarant_index", "names no member"))?;
    let (origin_municipality, origin_country) = match &declared.origin {
        Origin::Municipality(code) => (Some(code.as_str().to_owned()), None),
        Origin::Country(country) => (None, Some(country.clone())),
    };
    sqlx::query(
        "insert into residence_changes (
             id, municipality, status, family_id, destination_family_id, declarant_id,
             street_id, house_number, channel, document_sha256, caller, actor, purpose,
             declared_at, effective_date, registration_due, recorded_at, check_due,
             silence_assent_on, protocol_registration_id, protocol_number, check_case_id,
             version, kind, origin_municipality, origin_country, dwelling_title,
             dwelling_title_reference)
         values ($1, $2, 'recorded', $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 $15, $16, $17, $18, $19, $20, 2, 'immigration', $21, $22, $23, $24)",
    )
    .bind(intake.id.0)
    .bind(declared.municipality.as_str())
    .bind(family.0)
    .bind(declarant.0)
    .bind(street)
    .bind(declared.address.house_number.as_str())
    .bind(declared.channel as i32)
    .bind(&intake.document_sha256[..])
    .bind(&intake.caller)
    .bind(&intake.actor)
    .bind(&intake.purpose)
    .bind(SqlTimestamp::from(intake.registered_at))
    .bind(jiff_sqlx::Date::from(intake.effective_date))
    .bind(jiff_sqlx::Date::from(intake.clock.registration_due))
    .bind(SqlTimestamp::from(now))
    .bind(jiff_sqlx::Date::from(intake.clock.check_due))
    .bind(intake.clock.silence_assent_on.map(jiff_sqlx::Date::from))
    .bind(&intake.protocol_registration_id)
    .bind(&intake.protocol_number)
    // The check's case is opened by routing from the work request; its id arrives
    // with routing's `opened` event.
    .bind("")
    .bind(origin_municipality)
    .bind(origin_country)
    .bind(declared.dwelling.0)
    .bind(&declared.dwelling.1)
    .execute(uow.conn())
    .await
    .map_err(RegistryError::from_write)?;
    // The head's state first: a family's members relate to a head in force.
    let mut order: Vec<usize> = (0..declared.members.len()).collect();
    order.sort_by_key(|i| declared.members[*i].relationship != Relationship::Head);
    for i in order {
        let member = &declared.members[i];
        let id = ids[i];
        insert_state(
            uow.conn(),
            id,
            NewState {
                valid_from: intake.effective_date,
                cause: Cause::ResidenceChange,
                follows: None,
                residence_change_id: Some(intake.id),
                data: &member.person.data,
                status: ResidentStatus::Resident,
                home: Some(HomeRef {
                    family_id: family,
                    relationship: member.relationship,
                    street_id: street,
                    house_number: &declared.address.house_number,
                }),
                destination: None,
                warnings: &member.person.warnings,
            },
            now,
        )
        .await?;
        let (permit, expiry, ground) = match &member.status {
            ImmigrantStatus::Italian => (None, None, None),
            ImmigrantStatus::Eu(ground) => (None, None, Some(*ground)),
            ImmigrantStatus::Permit(permit, expiry) => (
                Some(permit.as_str()),
                Some(jiff_sqlx::Date::from(*expiry)),
                None,
            ),
        };
        sqlx::query(
            "insert into residence_change_members (residence_change_id, resident_id, relationship,
                 open, residence_permit, residence_permit_expiry, eu_ground)
             values ($1, $2, $3, true, $4, $5, $6)",
        )
        .bind(intake.id.0)
        .bind(id.0)
        .bind(member.relationship.as_db())
        .bind(permit)
        .bind(expiry)
        .bind(ground)
        .execute(uow.conn())
        .await
        .map_err(RegistryError::from_write)?;
    }
    lock(uow.conn(), intake.id)
        .await?
        .ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
}

const COLUMNS: &str = "c.id, c.municipality, c.status, c.family_id, c.destination_family_id,
     c.declarant_id, s.street_code, c.house_number, c.declared_at, c.effective_date,
     c.registration_due, c.check_due, c.silence_assent_on, c.protocol_registration_id,
     c.protocol_number, c.check_case_id, c.recorded_at, c.reasons_against_at,
     c.reasons_against, c.decided_at, c.confirmation_basis, c.rejection_reason,
     c.case_closed_at, c.version, c.check_failure, c.notice_sent_on, c.notice_protocol_number,
     c.notice_delivery, c.notice_received_on, c.observations_window_end, c.observations_on,
     c.observations, c.observations_outcome, c.observations_answer, c.remaining_head_id,
     c.representative_id, c.origin_municipality, c.origin_country, c.reasons_against_work_at,
     c.reasons_against_case_id, c.reasons_against_closed_at";

/// A change, locked until the unit of work ends.
pub async fn lock(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
) -> Result<Option<Change>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from residence_changes c join streets s on s.id = c.street_id
         where c.id = $1 for update of c"
    )))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(with_members(conn, &row).await?)),
        None => Ok(None),
    }
}

/// A change, without locking.
pub async fn get(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
) -> Result<Option<Change>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from residence_changes c join streets s on s.id = c.street_id
         where c.id = $1"
    )))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(with_members(conn, &row).await?)),
        None => Ok(None),
    }
}

async fn with_members(conn: &mut PgConnection, row: &PgRow) -> Result<Change, sqlx::Error> {
    let id: Uuid = row.try_get("id")?;
    let members: Vec<(Uuid, String)> = sqlx::query_as(
        "select resident_id, relationship from residence_change_members
         where residence_change_id = $1 order by relationship = 'head' desc, resident_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    let decode =
        |column: &str| sqlx::Error::Decode(format!("unexpected value in column {column}").into());
    let date = |column: &str| -> Result<Option<Date>, sqlx::Error> {
        Ok(row
            .try_get::<Option<jiff_sqlx::Date>, _>(column)?
            .map(jiff_sqlx::Date::to_jiff))
    };
    let time = |column: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row
            .try_get::<Option<SqlTimestamp>, _>(column)?
            .map(SqlTimestamp::to_jiff))
    };
    let status: String = row.try_get("status")?;
    let municipality: String = row.try_get("municipality")?;
    let basis: Option<String> = row.try_get("confirmation_basis")?;
    let reasons_at = time("reasons_against_at")?;
    let reasons: Option<String> = row.try_get("reasons_against")?;
    Ok(Change {
        id: ResidenceChangeId(id),
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        status: Status::from_db(&status).ok_or_else(|| decode("status"))?,
        family_id: FamilyId(row.try_get("family_id")?),
        destination_family_id: FamilyId(row.try_get("destination_family_id")?),
        declarant_id: ResidentId(row.try_get("declarant_id")?),
        members: members
            .into_iter()
            .map(|(id, r)| {
                Relationship::from_db(&r)
                    .map(|r| (ResidentId(id), r))
                    .ok_or_else(|| decode("relationship"))
            })
            .collect::<Result<_, _>>()?,
        street_code: row.try_get("street_code")?,
        house_number: HouseNumber::from_db(row.try_get("house_number")?),
        declared_at: time("declared_at")?.ok_or_else(|| decode("declared_at"))?,
        effective_date: date("effective_date")?.ok_or_else(|| decode("effective_date"))?,
        clock: LegalClock {
            registration_due: date("registration_due")?
                .ok_or_else(|| decode("registration_due"))?,
            check_due: date("check_due")?.ok_or_else(|| decode("check_due"))?,
            silence_assent_on: date("silence_assent_on")?,
            observations_window_end: date("observations_window_end")?,
        },
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        protocol_number: row.try_get("protocol_number")?,
        check_case_id: row
            .try_get::<Option<String>, _>("check_case_id")?
            .unwrap_or_default(),
        recorded_at: time("recorded_at")?.ok_or_else(|| decode("recorded_at"))?,
        reasons_against: reasons_at.zip(reasons),
        decided_at: time("decided_at")?,
        basis: basis
            .as_deref()
            .map(|b| Basis::from_db(b).ok_or_else(|| decode("confirmation_basis")))
            .transpose()?,
        rejection_reason: row.try_get("rejection_reason")?,
        case_closed_at: time("case_closed_at")?,
        version: row.try_get("version")?,
        check_failure: row.try_get("check_failure")?,
        notice_sent: row
            .try_get::<Option<String>, _>("notice_protocol_number")?
            .zip(date("notice_sent_on")?),
        notice_received: match (
            row.try_get::<Option<String>, _>("notice_delivery")?,
            date("notice_received_on")?,
        ) {
            (Some(d), Some(day)) => Some((
                Delivery::from_db(&d).ok_or_else(|| decode("notice_delivery"))?,
                day,
            )),
            _ => None,
        },
        observations: date("observations_on")?
            .zip(row.try_get::<Option<String>, _>("observations")?),
        observations_answer: row
            .try_get::<Option<String>, _>("observations_outcome")?
            .map(|o| o == "accepted")
            .zip(row.try_get::<Option<String>, _>("observations_answer")?),
        remaining_head: row
            .try_get::<Option<Uuid>, _>("remaining_head_id")?
            .map(ResidentId),
        representative: row
            .try_get::<Option<Uuid>, _>("representative_id")?
            .map(ResidentId),
        origin_municipality: row.try_get("origin_municipality")?,
        origin_country: row.try_get("origin_country")?,
        reasons_against_work_at: time("reasons_against_work_at")?,
        reasons_against_case_id: row.try_get("reasons_against_case_id")?,
        reasons_against_closed_at: time("reasons_against_closed_at")?,
    })
}

fn undecided(change: &Change) -> Result<(), RegistryError> {
    match change.status {
        Status::Recorded => Ok(()),
        Status::Confirmed => Err(RegistryError::Precondition(
            "residence_change_id: the change of residence is confirmed already".into(),
        )),
        Status::Rejected => Err(RegistryError::Precondition(
            "residence_change_id: the change of residence was rejected already".into(),
        )),
    }
}

async fn close_members(conn: &mut PgConnection, id: ResidenceChangeId) -> Result<(), sqlx::Error> {
    sqlx::query("update residence_change_members set open = false where residence_change_id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Confirms a recorded change.
pub async fn confirm(
    uow: &mut UnitOfWork,
    change: &Change,
    basis: Basis,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    if basis == Basis::SilenceAssent && change.reasons_against.is_some() {
        return Err(RegistryError::Precondition(
            "a notice of reasons against was sent: no silence-assent".into(),
        ));
    }
    let now = uow.now();
    sqlx::query(
        "update residence_changes set status = 'confirmed', confirmation_basis = $2,
             decided_at = $3, version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(basis.as_db())
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    close_members(uow.conn(), change.id).await?;
    lock(uow.conn(), change.id)
        .await?
        .ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
}

/// Rejects a recorded change: every member's state written by it is superseded and the
/// state it replaced comes back, from the same day, with the reason kept on the change.
pub async fn reject(
    uow: &mut UnitOfWork,
    change: &Change,
    reason: &str,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    let now = uow.now();
    may_reject(change, sportello_pa::calendar::rome::date_of(now))?;
    let mut ids: Vec<ResidentId> = change.members.iter().map(|(id, _)| *id).collect();
    // The remaining head's state was written by the change too: it goes back as well.
    ids.extend(change.remaining_head);
    ids.sort();
    let mut movers = Vec::with_capacity(ids.len());
    for id in ids {
        let person = lock_person(uow.conn(), id)
            .await?
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        let state = person
            .state
            .clone()
            .filter(|s| {
                s.residence_change_id == Some(change.id) && s.cause == Cause::ResidenceChange
            })
            .ok_or_else(|| {
                RegistryError::Precondition(
                    "a member's record changed after the move: the previous state cannot be \
                     restored automatically"
                        .into(),
                )
            })?;
        // A member who moved in has no previous state here: the registration is
        // annulled from the declaration's day and nothing comes back.
        movers.push((person.id, state.clone(), state.follows));
    }
    for (_, state, _) in &movers {
        let done = sqlx::query(
            "update resident_versions set superseded_at = $2 where id = $1 and superseded_at is null",
        )
        .bind(state.version_id)
        .bind(SqlTimestamp::from(now))
        .execute(uow.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ));
        }
    }
    for (resident, _, previous) in &movers {
        if let Some(previous) = previous {
            restore(uow.conn(), *resident, *previous, change, now).await?;
        }
        bump_version(uow.conn(), *resident).await?;
    }
    sqlx::query(
        "update residence_changes set status = 'rejected', rejection_reason = $2,
             decided_at = $3, version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(reason)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    close_members(uow.conn(), change.id).await?;
    lock(uow.conn(), change.id)
        .await?
        .ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
}

/// Adds a state copying `previous` (family, relationship, address and all), in force from
/// the change's day.
async fn restore(
    conn: &mut PgConnection,
    resident: ResidentId,
    previous: Uuid,
    change: &Change,
    now: Timestamp,
) -> Result<(), RegistryError> {
    let inserted = sqlx::query(
        "insert into resident_versions (
             id, resident_id, valid_from, recorded_at, cause, follows_version_id,
             residence_change_id, surname, given_names, sex, birth_date, birthplace_code,
             citizenship, status, family_id, relationship, street_id, house_number,
             destination, fiscal_code_warnings)
         select $1, resident_id, $3, $4, 'residence_change_rejected', id, $5, surname,
                given_names, sex, birth_date, birthplace_code, citizenship, status, family_id,
                relationship, street_id, house_number, destination, fiscal_code_warnings
         from resident_versions where id = $2 and resident_id = $6",
    )
    .bind(Uuid::now_v7())
    .bind(previous)
    .bind(jiff_sqlx::Date::from(change.effective_date))
    .bind(SqlTimestamp::from(now))
    .bind(change.id.0)
    .bind(resident.0)
    .execute(conn)
    .await
    .map_err(RegistryError::from_write)?;
    if inserted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))
    }
}

/// Whether the previous state may be restored on `today` (DPR 223/1989 art. 18-bis c. 2,
/// L. 241/1990 art. 10-bis): a notice was sent and received, and the observations were
/// rejected with reasons or the window passed unused.
pub fn may_reject(change: &Change, today: Date) -> Result<(), RegistryError> {
    let no_notice = || {
        RegistryError::Precondition(
            "residence_change_id: nessun rigetto senza preavviso (L. 241/1990 art. 10-bis) \
             inviato e ricevuto / no rejection without a notice of reasons against \
             (L. 241/1990 art. 10-bis) sent and received"
                .into(),
        )
    };
    if change.notice_sent.is_none() || change.notice_received.is_none() {
        return Err(no_notice());
    }
    match (&change.observations, &change.observations_answer) {
        (Some(_), Some((false, _))) => Ok(()),
        (Some(_), _) => Err(RegistryError::Precondition(
            "residence_change_id: le osservazioni vanno prima respinte con motivazione / the \
             observations must first be rejected with reasons (L. 241/1990 art. 10-bis)"
                .into(),
        )),
        (None, _) => match change.clock.observations_window_end {
            Some(end) if today > end => Ok(()),
            _ => Err(RegistryError::Precondition(format!(
                "residence_change_id: il termine di 10 giorni per le osservazioni non è \
                 scaduto / the 10-day window for observations (L. 241/1990 art. 10-bis) has \
                 not passed: it ends {}",
                change
                    .clock
                    .observations_window_end
                    .map_or_else(String::new, |d| d.to_string())
            ))),
        },
    }
}

/// Records a failed address check: the change waits for a notice of reasons against.
pub async fn check_failed(
    uow: &mut UnitOfWork,
    change: &Change,
    reason: &str,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    if change.check_failure.is_some() {
        return Err(RegistryError::Precondition(
            "residence_change_id: l'accertamento negativo è già registrato / the failed check \
             is recorded already"
                .into(),
        ));
    }
    let now = uow.now();
    sqlx::query(
        "update residence_changes set check_failed_at = $2, check_failure = $3,
             version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(SqlTimestamp::from(now))
    .bind(reason)
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

async fn relock(uow: &mut UnitOfWork, id: ResidenceChangeId) -> Result<Change, RegistryError> {
    lock(uow.conn(), id).await?.ok_or(RegistryError::Conflict(
        "the record changed meanwhile; retry",
    ))
}

/// Records a notice of reasons against, sent on `sent_on` under outgoing protocol
/// `protocol_number`: the clock is suspended and silence-assent no longer applies.
pub async fn notice(
    uow: &mut UnitOfWork,
    change: &Change,
    reasons: &str,
    protocol_number: &str,
    sent_on: Date,
    clock: LegalClock,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    if change.reasons_against.is_some() {
        return Err(RegistryError::Precondition(
            "residence_change_id: a notice of reasons against was sent already".into(),
        ));
    }
    let now = uow.now();
    sqlx::query(
        "update residence_changes set reasons_against_at = $2, reasons_against = $3,
             check_due = $4, silence_assent_on = $5, notice_protocol_number = $6,
             notice_sent_on = $7, version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(SqlTimestamp::from(now))
    .bind(reasons)
    .bind(jiff_sqlx::Date::from(clock.check_due))
    .bind(clock.silence_assent_on.map(jiff_sqlx::Date::from))
    .bind(protocol_number)
    .bind(jiff_sqlx::Date::from(sent_on))
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

/// Records the notice's receipt and the window it opens.
pub async fn notice_received(
    uow: &mut UnitOfWork,
    change: &Change,
    delivery: Delivery,
    received_on: Date,
    clock: LegalClock,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    let window_end = clock
        .observations_window_end
        .ok_or_else(|| RegistryError::Precondition("received_date: no window opened".into()))?;
    sqlx::query(
        "update residence_changes set notice_delivery = $2, notice_received_on = $3,
             observations_window_end = $4, check_due = $5, version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(delivery.as_db())
    .bind(jiff_sqlx::Date::from(received_on))
    .bind(jiff_sqlx::Date::from(window_end))
    .bind(jiff_sqlx::Date::from(clock.check_due))
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

/// Records the citizen's observations.
pub async fn observations(
    uow: &mut UnitOfWork,
    change: &Change,
    received_on: Date,
    text: &str,
    clock: LegalClock,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    sqlx::query(
        "update residence_changes set observations_on = $2, observations = $3, check_due = $4,
             version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(jiff_sqlx::Date::from(received_on))
    .bind(text)
    .bind(jiff_sqlx::Date::from(clock.check_due))
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

/// Records the answer to the observations (before the decision it leads to).
pub async fn answer(
    uow: &mut UnitOfWork,
    change: &Change,
    accepted: bool,
    reasons: &str,
) -> Result<Change, RegistryError> {
    undecided(change)?;
    sqlx::query(
        "update residence_changes set observations_outcome = $2, observations_answer = $3,
             version = version + 1
         where id = $1",
    )
    .bind(change.id.0)
    .bind(if accepted { "accepted" } else { "rejected" })
    .bind(reasons)
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

/// Notes that the check's case was closed in routing.
pub async fn mark_case_closed(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update residence_changes set case_closed_at = coalesce(case_closed_at, $2) where id = $1",
    )
    .bind(id.0)
    .bind(SqlTimestamp::from(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes the check's case routing opened for the change's work (the first `opened` event
/// wins: a redelivered one changes nothing).
pub async fn note_case(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
    case_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update residence_changes set check_case_id = $2 where id = $1 and check_case_id = ''",
    )
    .bind(id.0)
    .bind(case_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes that the 10-bis phase was handed to routing as work (the first time wins: the
/// request is made once per failed check).
pub async fn reasons_against_requested(
    uow: &mut UnitOfWork,
    change: &Change,
) -> Result<Change, RegistryError> {
    let now = uow.now();
    sqlx::query(
        "update residence_changes
         set reasons_against_work_at = coalesce(reasons_against_work_at, $2)
         where id = $1",
    )
    .bind(change.id.0)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    relock(uow, change.id).await
}

/// Notes the 10-bis phase's case routing opened (the first `opened` event wins).
pub async fn note_reasons_against_case(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
    case_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update residence_changes set reasons_against_case_id = $2
         where id = $1 and reasons_against_case_id = '' and reasons_against_work_at is not null",
    )
    .bind(id.0)
    .bind(case_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes that the 10-bis phase's case was closed in routing.
pub async fn mark_reasons_against_closed(
    conn: &mut PgConnection,
    id: ResidenceChangeId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update residence_changes
         set reasons_against_closed_at = coalesce(reasons_against_closed_at, $2)
         where id = $1 and reasons_against_work_at is not null",
    )
    .bind(id.0)
    .bind(SqlTimestamp::from(now))
    .execute(conn)
    .await?;
    Ok(())
}
