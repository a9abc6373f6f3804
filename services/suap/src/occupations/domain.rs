//! Occupation requests parsed once at the gRPC edge into domain values.

use jiff::civil::Date;
use sportello_kit::{MunicipalityCode, RequesterRef, ServiceError, domain};
use sportello_proto::suap::v1::{self as pb, OccupationKind};
use uuid::Uuid;

use super::{
    canone::{Kind, Period},
    geometry::{LonLat, Place},
};

/// Zone categories (categorie di strada) run 1..=this.
pub const MAX_ZONE_CATEGORY: i32 = 20;

/// Who applied: a business, or a person by pseudonym — never a name or fiscal code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// A registered business.
    Business(Uuid),
    /// A person's pseudonymous reference.
    Person(String),
}

/// An occupation applied for.
#[derive(Debug, Clone)]
pub struct NewOccupation {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What for.
    pub kind: Kind,
    /// Where.
    pub place: Place,
    /// The street, as written.
    pub street: String,
    /// The street's zone category.
    pub zone_category: i32,
    /// When.
    pub period: Period,
    /// Who.
    pub requester: Requester,
}

/// A quote's input.
#[derive(Debug, Clone)]
pub struct QuoteInput {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What for.
    pub kind: Kind,
    /// Where.
    pub place: Place,
    /// The street's zone category.
    pub zone_category: i32,
    /// When.
    pub period: Period,
}

/// The kind from its proto enum; unset or unknown is a bad `field`.
pub fn parse_kind(field: &str, raw: i32) -> Result<Kind, ServiceError> {
    match OccupationKind::try_from(raw) {
        Ok(OccupationKind::Dehors) => Ok(Kind::Dehors),
        Ok(OccupationKind::Scaffolding) => Ok(Kind::Scaffolding),
        Ok(OccupationKind::Event) => Ok(Kind::Event),
        Ok(OccupationKind::MarketStall) => Ok(Kind::MarketStall),
        _ => Err(ServiceError::invalid_field(
            field,
            "tipo di occupazione sconosciuto / unknown kind of occupation",
        )),
    }
}

/// The proto enum of a kind.
pub fn kind_to_proto(kind: Kind) -> OccupationKind {
    match kind {
        Kind::Dehors => OccupationKind::Dehors,
        Kind::Scaffolding => OccupationKind::Scaffolding,
        Kind::Event => OccupationKind::Event,
        Kind::MarketStall => OccupationKind::MarketStall,
    }
}

/// A zone category in 1..=[`MAX_ZONE_CATEGORY`].
pub fn parse_zone(field: &str, raw: i32) -> Result<i32, ServiceError> {
    if (1..=MAX_ZONE_CATEGORY).contains(&raw) {
        Ok(raw)
    } else {
        Err(ServiceError::invalid_field(
            field,
            format!("categoria da 1 a {MAX_ZONE_CATEGORY} / category 1 to {MAX_ZONE_CATEGORY}"),
        ))
    }
}

/// The place from its vertices; a bad ring names `vertices` with the reason.
pub fn parse_place(raw: &[pb::LonLat]) -> Result<Place, ServiceError> {
    let ring: Vec<LonLat> = raw
        .iter()
        .map(|p| LonLat {
            lon: p.longitude,
            lat: p.latitude,
        })
        .collect();
    Place::parse(&ring).map_err(|e| ServiceError::invalid_field("vertices", e.to_string()))
}

/// A period from `start_date` and an optional inclusive `end_date` (empty: open-ended).
pub fn parse_period(start: &str, end: &str) -> Result<Period, ServiceError> {
    let start: Date = domain::parse_date("start_date", start)?;
    let end = if end.trim().is_empty() {
        None
    } else {
        Some(domain::parse_date("end_date", end)?)
    };
    if end.is_some_and(|end| end < start) {
        return Err(ServiceError::invalid_field(
            "end_date",
            "la fine precede l'inizio / the end is before the start",
        ));
    }
    Ok(Period { start, end })
}

impl TryFrom<&pb::RequestOccupationRequest> for NewOccupation {
    type Error = ServiceError;

    fn try_from(request: &pb::RequestOccupationRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let kind = parse_kind("kind", request.kind)?;
        let place = parse_place(&request.vertices)?;
        let street = domain::required_text("street", &request.street, 200)?;
        let zone_category = parse_zone("zone_category", request.zone_category)?;
        let period = parse_period(&request.start_date, &request.end_date)?;
        let requester = match (
            request.business_id.trim().is_empty(),
            request.requester_ref.trim().is_empty(),
        ) {
            (false, true) => Requester::Business(domain::parse_field(
                "business_id",
                request.business_id.trim(),
            )?),
            (true, false) => {
                let reference: RequesterRef =
                    domain::parse_field("requester_ref", request.requester_ref.trim())?;
                Requester::Person(reference.to_string())
            }
            _ => {
                return Err(ServiceError::invalid_field(
                    "business_id",
                    "indicare l'impresa o il requester_ref, uno solo / give the business or the requester_ref, exactly one",
                ));
            }
        };
        Ok(Self {
            municipality,
            kind,
            place,
            street,
            zone_category,
            period,
            requester,
        })
    }
}

impl TryFrom<&pb::QuoteCanoneRequest> for QuoteInput {
    type Error = ServiceError;

    fn try_from(request: &pb::QuoteCanoneRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            kind: parse_kind("kind", request.kind)?,
            place: parse_place(&request.vertices)?,
            zone_category: parse_zone("zone_category", request.zone_category)?,
            period: parse_period(&request.start_date, &request.end_date)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::occupations::geometry::metres_to_degrees;

    fn square(east: f64, north: f64, side: f64) -> Vec<pb::LonLat> {
        [(0.0, 0.0), (side, 0.0), (side, side), (0.0, side)]
            .iter()
            .map(|(e, n)| {
                let (dlon, dlat) = metres_to_degrees(44.107, east + e, north + n);
                pb::LonLat {
                    longitude: 9.824 + dlon,
                    latitude: 44.107 + dlat,
                }
            })
            .collect()
    }

    fn request() -> pb::RequestOccupationRequest {
        pb::RequestOccupationRequest {
            municipality_istat_code: "011015".into(),
            kind: OccupationKind::Dehors as i32,
            vertices: square(0.0, 0.0, 4.0),
            street: "Via del Prione".into(),
            zone_category: 1,
            start_date: "2027-06-01".into(),
            end_date: "2027-09-30".into(),
            business_id: Uuid::now_v7().to_string(),
            requester_ref: String::new(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        let occupation = NewOccupation::try_from(&request()).unwrap();
        assert_eq!(occupation.kind, Kind::Dehors);
        assert!((occupation.place.area_m2 - 16.0).abs() < 1e-3);
        assert!(!occupation.period.is_permanent());
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewOccupation::try_from(r),
            &[
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "11015".into()
                }),
                ("kind", |r| r.kind = 0),
                ("kind", |r| r.kind = 99),
                ("vertices", |r| r.vertices.truncate(2)),
                ("vertices", |r| r.vertices[0].latitude = 91.0),
                ("vertices", |r| r.vertices.swap(1, 2)),
                ("street", |r| r.street.clear()),
                ("zone_category", |r| r.zone_category = 0),
                ("start_date", |r| r.start_date = "1 June".into()),
                ("end_date", |r| r.end_date = "2027-05-31".into()),
                ("business_id", |r| r.business_id = "acme".into()),
                ("business_id", |r| r.business_id.clear()),
            ],
        );
    }
}
