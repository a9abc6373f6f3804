//! Stored occupations and tariff tables as their proto messages.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::{
    common::v1::Money,
    suap::v1::{self as pb, OccupationStatus},
};

use super::{
    domain::{self as occ, Requester},
    store::{Occupation, StoredCanone, TariffTable},
};

/// The database's name of a status; `None` for unspecified.
pub fn status_to_db(status: OccupationStatus) -> Option<&'static str> {
    match status {
        OccupationStatus::Requested => Some("requested"),
        OccupationStatus::Granted => Some("granted"),
        OccupationStatus::Valid => Some("valid"),
        OccupationStatus::Revoked => Some("revoked"),
        OccupationStatus::Expired => Some("expired"),
        OccupationStatus::Unspecified => None,
    }
}

/// A status from the database's name.
pub fn status_from_db(status: &str) -> OccupationStatus {
    match status {
        "requested" => OccupationStatus::Requested,
        "granted" => OccupationStatus::Granted,
        "valid" => OccupationStatus::Valid,
        "revoked" => OccupationStatus::Revoked,
        "expired" => OccupationStatus::Expired,
        _ => OccupationStatus::Unspecified,
    }
}

/// The proto of a stored canone.
pub fn canone_to_message(canone: &StoredCanone) -> pb::Canone {
    let c = &canone.computation;
    pb::Canone {
        amount: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: c.amount_cents,
        }),
        billed_area_m2: c.billed_area_m2,
        billed_days: c.billed_days,
        tariff_year: canone.tariff_year,
        tariff_version: canone.tariff_version,
        standard_tariff_cents: c.standard_cents,
        coefficient_milli: c.rate.coefficient_milli,
        reduction_percent: c.rate.reduction_percent,
        permanent: c.permanent,
    }
}

/// The proto of a tariff table.
pub fn tariffs_to_message(table: &TariffTable) -> pb::TariffTable {
    pb::TariffTable {
        municipality_istat_code: table.municipality.to_string(),
        year: table.year,
        version: table.version,
        population: table.population,
        standard_annual_cents: table.standard.annual_cents,
        standard_daily_cents: table.standard.daily_cents,
        rates: table
            .rates
            .iter()
            .map(|(zone, kind, permanent, rate)| pb::TariffRate {
                zone_category: *zone,
                kind: occ::kind_to_proto(*kind) as i32,
                permanent: *permanent,
                coefficient_milli: rate.coefficient_milli,
                reduction_percent: rate.reduction_percent,
            })
            .collect(),
        create_time: Some(to_proto_timestamp(table.created_at)),
    }
}

/// The proto of a stored occupation.
pub fn to_message(o: &Occupation) -> pb::Occupation {
    let (business_id, requester_ref) = match &o.requester {
        Requester::Business(id) => (id.to_string(), String::new()),
        Requester::Person(reference) => (String::new(), reference.clone()),
    };
    pb::Occupation {
        id: o.id.to_string(),
        municipality_istat_code: o.municipality.to_string(),
        kind: occ::kind_to_proto(o.kind) as i32,
        vertices: o
            .vertices
            .iter()
            .map(|p| pb::LonLat {
                longitude: p.lon,
                latitude: p.lat,
            })
            .collect(),
        street: o.street.clone(),
        zone_category: o.zone_category,
        area_m2: o.area_m2,
        start_date: o.period.start.to_string(),
        end_date: o.period.end.map(|d| d.to_string()).unwrap_or_default(),
        permanent: o.permanent,
        business_id,
        requester_ref,
        status: status_from_db(&o.status) as i32,
        canone: o.canone.as_ref().map(canone_to_message),
        renews_occupation_id: o.renews.map(|r| r.to_string()).unwrap_or_default(),
        receipt_ref: o.receipt_ref.clone().unwrap_or_default(),
        revocation_reason: o.revocation_reason.clone().unwrap_or_default(),
        version: u64::try_from(o.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(o.created_at)),
        paid_time: o.paid_at.map(to_proto_timestamp),
    }
}
