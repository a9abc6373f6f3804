//! The occupation's transitions, each a unit of work: lock, check, write, emit.
//!
//! requested → granted (awaiting the canone) → valid (paid) → revoked / expired; a renewal
//! is a new requested occupation of the same place that names the one it renews.

use jiff::Timestamp;
use sportello_kit::{Aggregate, MunicipalityCode, ServiceError, UnitOfWork};
use sportello_proto::suap::v1::{
    OccupationGranted, OccupationRequested, OccupationRevoked, OccupationTariffsPublished,
    OccupationValidated,
};
use uuid::Uuid;

use super::{
    canone::{self, Computation, Kind, Period},
    domain::{NewOccupation, Requester, kind_to_proto},
    events,
    store::{self, Occupation, StoredCanone, TariffTable},
};
use crate::error::SuapError;

pub(super) fn aggregate<'a>(
    id: &'a str,
    version: i64,
    municipality: MunicipalityCode,
) -> Aggregate<'a> {
    Aggregate {
        kind: "suap.occupation",
        id,
        version,
        municipality,
    }
}

/// Records an application (optionally renewing `renews`).
pub async fn request(
    uow: &mut UnitOfWork,
    occupation: &NewOccupation,
    renews: Option<Uuid>,
) -> Result<Occupation, ServiceError> {
    // A business of another municipality is no business here (the foreign key alone would
    // accept it).
    if let Requester::Business(business) = &occupation.requester
        && !store::business_in(uow.conn(), *business, occupation.municipality).await?
    {
        return Err(SuapError::UnknownBusiness.into());
    }
    let saved = store::insert(uow, occupation, renews).await?;
    let id = saved.id.to_string();
    let event = OccupationRequested {
        occupation_id: id.clone(),
        municipality_istat_code: saved.municipality.to_string(),
        kind: kind_to_proto(saved.kind).as_str_name().to_owned(),
        renews_occupation_id: renews.map(|r| r.to_string()).unwrap_or_default(),
    };
    uow.emit_as(
        events::REQUESTED.into(),
        &event,
        aggregate(&id, saved.version, saved.municipality),
    )
    .await?;
    Ok(saved)
}

/// The canone of an occupation with the latest tariffs of its start year.
pub async fn quote(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    kind: Kind,
    zone: i32,
    area_m2: f64,
    period: Period,
) -> Result<StoredCanone, SuapError> {
    let year = period.tariff_year();
    let permanent = period.is_permanent();
    let no_tariff = || SuapError::NoTariff {
        year,
        zone,
        kind: kind.as_str(),
        duration: if permanent { "permanent" } else { "temporary" },
    };
    let (version, standard, rate) = store::current_rate(
        uow.conn(),
        municipality,
        i32::from(year),
        zone,
        kind,
        permanent,
    )
    .await?
    .ok_or_else(no_tariff)?;
    let computation: Computation = canone::compute(area_m2, period, standard, rate);
    Ok(StoredCanone {
        computation,
        tariff_year: i32::from(year),
        tariff_version: version,
    })
}

/// Grants a requested occupation in `municipality`: computes and stores the canone, and
/// lets the database's exclusion constraint decide whether the place is free.
pub async fn grant(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    occupation_id: Uuid,
) -> Result<Occupation, ServiceError> {
    let mut occupation = store::lock(uow, occupation_id)
        .await?
        .filter(|o| o.municipality == municipality)
        .ok_or(SuapError::OccupationNotFound)?;
    if occupation.status != "requested" {
        return Err(SuapError::OccupationStatus {
            status: occupation.status,
            action: "grant",
        }
        .into());
    }
    let canone = quote(
        uow,
        occupation.municipality,
        occupation.kind,
        occupation.zone_category,
        occupation.area_m2,
        occupation.period,
    )
    .await?;
    let version = store::grant(uow, occupation_id, &canone).await?;
    super::expiry::schedule(uow, &occupation).await?;
    occupation.status = "granted".into();
    occupation.canone = Some(canone);
    occupation.version = version;
    let id = occupation_id.to_string();
    let event = OccupationGranted {
        occupation_id: id.clone(),
        municipality_istat_code: occupation.municipality.to_string(),
        canone_cents: canone.computation.amount_cents,
        tariff_year: canone.tariff_year,
        tariff_version: canone.tariff_version,
    };
    uow.emit_as(
        events::GRANTED.into(),
        &event,
        aggregate(&id, version, occupation.municipality),
    )
    .await?;
    Ok(occupation)
}

/// The canone was paid: granted → valid. For the payments seam (pagoPA receipts); a
/// repeated receipt for a valid occupation changes nothing.
pub async fn mark_paid(
    uow: &mut UnitOfWork,
    occupation_id: Uuid,
    paid_at: Timestamp,
    receipt_ref: &str,
) -> Result<Occupation, ServiceError> {
    let mut occupation = store::lock(uow, occupation_id)
        .await?
        .ok_or(SuapError::OccupationNotFound)?;
    match occupation.status.as_str() {
        "granted" => {}
        "valid" if occupation.receipt_ref.as_deref() == Some(receipt_ref) => return Ok(occupation),
        _ => {
            return Err(SuapError::OccupationStatus {
                status: occupation.status,
                action: "mark paid",
            }
            .into());
        }
    }
    let version = store::mark_paid(uow, occupation_id, paid_at, receipt_ref).await?;
    occupation.status = "valid".into();
    occupation.paid_at = Some(paid_at);
    occupation.receipt_ref = Some(receipt_ref.to_owned());
    occupation.version = version;
    let id = occupation_id.to_string();
    let event = OccupationValidated {
        occupation_id: id.clone(),
        municipality_istat_code: occupation.municipality.to_string(),
        receipt_ref: receipt_ref.to_owned(),
    };
    uow.emit_as(
        events::VALIDATED.into(),
        &event,
        aggregate(&id, version, occupation.municipality),
    )
    .await?;
    Ok(occupation)
}

/// Revokes a requested, granted or valid occupation: the place is free again.
pub async fn revoke(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    occupation_id: Uuid,
    reason: &str,
) -> Result<Occupation, ServiceError> {
    let mut occupation = store::lock(uow, occupation_id)
        .await?
        .filter(|o| o.municipality == municipality)
        .ok_or(SuapError::OccupationNotFound)?;
    if !matches!(
        occupation.status.as_str(),
        "requested" | "granted" | "valid"
    ) {
        return Err(SuapError::OccupationStatus {
            status: occupation.status,
            action: "revoke",
        }
        .into());
    }
    let version = store::revoke(uow, occupation_id, reason).await?;
    occupation.status = "revoked".into();
    occupation.revocation_reason = Some(reason.to_owned());
    occupation.version = version;
    let id = occupation_id.to_string();
    let event = OccupationRevoked {
        occupation_id: id.clone(),
        municipality_istat_code: occupation.municipality.to_string(),
    };
    uow.emit_as(
        events::REVOKED.into(),
        &event,
        aggregate(&id, version, occupation.municipality),
    )
    .await?;
    Ok(occupation)
}

/// Applies for a new period of the place of a granted, valid or expired occupation.
pub async fn renew(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    occupation_id: Uuid,
    period: Period,
) -> Result<Occupation, ServiceError> {
    let old = store::lock(uow, occupation_id)
        .await?
        .filter(|o| o.municipality == municipality)
        .ok_or(SuapError::OccupationNotFound)?;
    if !matches!(old.status.as_str(), "granted" | "valid" | "expired") {
        return Err(SuapError::OccupationStatus {
            status: old.status,
            action: "renew",
        }
        .into());
    }
    // The same ring re-checked (it was checked at the request; this rebuilds the shape).
    let place = super::geometry::Place::parse(&old.vertices)
        .map_err(|e| ServiceError::invalid_field("occupation_id", e.to_string()))?;
    let renewal = NewOccupation {
        municipality: old.municipality,
        kind: old.kind,
        place,
        street: old.street.clone(),
        zone_category: old.zone_category,
        period,
        requester: old.requester.clone(),
    };
    request(uow, &renewal, Some(occupation_id)).await
}

/// Publishes a year's tariffs as a new version.
pub async fn set_tariffs(
    uow: &mut UnitOfWork,
    mut table: TariffTable,
) -> Result<TariffTable, ServiceError> {
    table.version = store::insert_tariffs(uow, &table).await?;
    let key = format!("{}.{}", table.municipality, table.year);
    let event = OccupationTariffsPublished {
        municipality_istat_code: table.municipality.to_string(),
        year: table.year,
        version: table.version,
    };
    uow.emit_as(
        events::TARIFFS_PUBLISHED.into(),
        &event,
        Aggregate {
            kind: "suap.occupation_tariffs",
            id: &key,
            version: i64::from(table.version),
            municipality: table.municipality,
        },
    )
    .await?;
    Ok(table)
}
