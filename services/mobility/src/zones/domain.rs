//! A zone to define, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{
    common::v1::{Parity, StreetRange},
    mobility::v1::{DefineZoneRequest, PermitKind, ZoneKind},
};

use super::hours::{self, Hours};
use crate::permits::domain::Kind;

/// Most stretches of street one zone may list.
const MOST_STRETCHES: usize = 500;

/// A zone as the service records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewZone {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The municipality's code: 1-16 capital letters, digits or '-'.
    pub zone_code: String,
    /// Display name.
    pub name: String,
    /// What it regulates.
    pub kind: ZoneKind,
    /// Most permits valid at once; 0 means no limit.
    pub permit_quota: i32,
    /// The streets it covers.
    pub streets: Vec<Stretch>,
    /// When its rules apply; empty for always.
    pub hours: Vec<Hours>,
    /// Most plates one household holds on resident permits.
    pub plates_per_household: i32,
    /// What each kind of permit costs (cents; per day for temporary ones).
    pub fees: Vec<(Kind, i64)>,
}

/// A stretch of street in the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    /// The gazetteer's code.
    pub street_code: String,
    /// First house number, 0 for the start.
    pub from_number: i32,
    /// Last house number, 0 for the end.
    pub to_number: i32,
    /// `both`, `odd` or `even`.
    pub parity: &'static str,
}

impl Stretch {
    /// As the registry is asked.
    pub fn to_message(&self) -> StreetRange {
        StreetRange {
            street_code: self.street_code.clone(),
            from_number: u32::try_from(self.from_number).unwrap_or_default(),
            to_number: u32::try_from(self.to_number).unwrap_or_default(),
            parity: match self.parity {
                "odd" => Parity::Odd,
                "even" => Parity::Even,
                _ => Parity::Unspecified,
            } as i32,
        }
    }
}

/// The kind's name in the database.
pub fn kind_name(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Ztl => "ztl",
        ZoneKind::ResidentParking => "resident_parking",
        ZoneKind::Unspecified => "unspecified",
    }
}

/// The kind from its name in the database.
pub fn kind_from_name(name: &str) -> ZoneKind {
    match name {
        "ztl" => ZoneKind::Ztl,
        "resident_parking" => ZoneKind::ResidentParking,
        _ => ZoneKind::Unspecified,
    }
}

/// A street code as the gazetteer writes it.
fn street_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    let code = raw.trim().to_ascii_uppercase();
    if !(1..=12).contains(&code.len())
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ServiceError::invalid_field(
            field,
            "deve essere il codice della via nello stradario: 1-12 lettere, cifre o '-' / must be the gazetteer's street code: 1-12 letters, digits or '-'",
        ));
    }
    Ok(code)
}

fn streets(ranges: &[StreetRange]) -> Result<Vec<Stretch>, ServiceError> {
    if ranges.is_empty() {
        return Err(ServiceError::invalid_field(
            "streets",
            "serve almeno un tratto di via / at least one stretch of street is required",
        ));
    }
    if ranges.len() > MOST_STRETCHES {
        return Err(ServiceError::invalid_field(
            "streets",
            format!(
                "al massimo {MOST_STRETCHES} tratti di via / at most {MOST_STRETCHES} stretches of street"
            ),
        ));
    }
    ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let number = |field: &str, n: u32| {
                i32::try_from(n)
                    .ok()
                    .filter(|n| *n <= 99_999)
                    .ok_or_else(|| {
                        ServiceError::invalid_field(
                            format!("streets[{i}].{field}"),
                            "deve essere un numero civico fino a 99999 / must be a house number up to 99999",
                        )
                    })
            };
            let from_number = number("from_number", range.from_number)?;
            let to_number = number("to_number", range.to_number)?;
            if to_number != 0 && to_number < from_number {
                return Err(ServiceError::invalid_field(
                    format!("streets[{i}].to_number"),
                    "non può precedere from_number / must not be before from_number",
                ));
            }
            let parity = match Parity::try_from(range.parity) {
                Ok(Parity::Unspecified) => "both",
                Ok(Parity::Odd) => "odd",
                Ok(Parity::Even) => "even",
                Err(_) => {
                    return Err(ServiceError::invalid_field(
                        format!("streets[{i}].parity"),
                        "non è un lato valido / is not a parity",
                    ));
                }
            };
            Ok(Stretch {
                street_code: street_code(&format!("streets[{i}].street_code"), &range.street_code)?,
                from_number,
                to_number,
                parity,
            })
        })
        .collect()
}

impl TryFrom<&DefineZoneRequest> for NewZone {
    type Error = ServiceError;

    fn try_from(request: &DefineZoneRequest) -> Result<Self, Self::Error> {
        let zone_code = request.zone_code.trim().to_ascii_uppercase();
        let code_ok = (1..=16).contains(&zone_code.len())
            && zone_code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !code_ok {
            return Err(ServiceError::invalid_field(
                "zone_code",
                "deve essere di 1-16 lettere, cifre o '-', ad es. ZTL-CENTRO / must be 1-16 letters, digits or '-', e.g. ZTL-CENTRO",
            ));
        }
        let kind = match ZoneKind::try_from(request.kind) {
            Ok(ZoneKind::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field(
                    "kind",
                    "è obbligatorio / is required",
                ));
            }
            Ok(kind) => kind,
        };
        let plates_per_household = match request.plates_per_household {
            0 => 2,
            n @ 1..=10 => i32::try_from(n).unwrap_or(2),
            _ => {
                return Err(ServiceError::invalid_field(
                    "plates_per_household",
                    "deve essere da 1 a 10 (0 per 2) / must be 1 to 10 (0 for 2)",
                ));
            }
        };
        if request.fees.is_empty() {
            return Err(ServiceError::invalid_field(
                "fees",
                "serve almeno un tipo di permesso con la sua tariffa / at least one kind of permit with its fee is required",
            ));
        }
        let mut fees: Vec<(Kind, i64)> = Vec::new();
        for (i, fee) in request.fees.iter().enumerate() {
            let kind = PermitKind::try_from(fee.kind)
                .ok()
                .and_then(Kind::issued_by_zones)
                .ok_or_else(|| {
                    ServiceError::invalid_field(
                        format!("fees[{i}].kind"),
                        "deve essere resident, guest, works o delivery / must be resident, guest, works or delivery",
                    )
                })?;
            if fees.iter().any(|(k, _)| *k == kind) {
                return Err(ServiceError::invalid_field(
                    format!("fees[{i}].kind"),
                    "è ripetuto / is listed twice",
                ));
            }
            let cents = i64::try_from(fee.amount_cents)
                .ok()
                .filter(|c| *c <= 10_000_000)
                .ok_or_else(|| {
                    ServiceError::invalid_field(
                        format!("fees[{i}].amount_cents"),
                        "al massimo 100.000 € / must be at most €100,000",
                    )
                })?;
            fees.push((kind, cents));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            zone_code,
            name: domain::required_text("name", &request.name, 120)?,
            kind,
            permit_quota: i32::try_from(request.permit_quota).map_err(|_| {
                ServiceError::invalid_field("permit_quota", "è troppo grande / is too large")
            })?,
            streets: streets(&request.streets)?,
            hours: hours::parse(&request.hours)?,
            plates_per_household,
            fees,
        })
    }
}

#[cfg(test)]
mod tests {
    use sportello_proto::mobility::v1::{ActiveHours, PermitFee};

    use super::*;

    fn request() -> DefineZoneRequest {
        DefineZoneRequest {
            municipality_istat_code: "011015".into(),
            zone_code: "ztl-centro".into(),
            name: "ZTL Centro storico".into(),
            kind: ZoneKind::Ztl as i32,
            permit_quota: 0,
            idempotency_key: String::new(),
            streets: vec![StreetRange {
                street_code: "prione".into(),
                from_number: 1,
                to_number: 99,
                parity: Parity::Odd as i32,
            }],
            hours: vec![ActiveHours {
                weekdays: vec![1, 2, 3, 4, 5],
                from: "07:30".into(),
                until: "20:00".into(),
            }],
            plates_per_household: 0,
            fees: vec![PermitFee {
                kind: PermitKind::Resident as i32,
                amount_cents: 3_000,
            }],
        }
    }

    #[test]
    fn a_valid_request_parses() {
        let zone = NewZone::try_from(&request()).unwrap();
        assert_eq!(zone.zone_code, "ZTL-CENTRO");
        assert_eq!(kind_name(zone.kind), "ztl");
        assert_eq!(zone.streets[0].street_code, "PRIONE");
        assert_eq!(zone.streets[0].parity, "odd");
        assert_eq!(zone.plates_per_household, 2);
        assert_eq!(zone.fees, vec![(Kind::Resident, 3_000)]);
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewZone::try_from(r),
            &[
                ("zone_code", |r| r.zone_code = "ZTL CENTRO".into()),
                ("kind", |r| r.kind = 0),
                ("name", |r| r.name.clear()),
                ("permit_quota", |r| r.permit_quota = u32::MAX),
                ("streets", |r| r.streets.clear()),
                ("streets[0].street_code", |r| {
                    r.streets[0].street_code = "VIA DEL PRIONE".into()
                }),
                ("streets[0].to_number", |r| r.streets[0].from_number = 120),
                ("hours[0].from", |r| r.hours[0].from = "7h30".into()),
                ("plates_per_household", |r| r.plates_per_household = 11),
                ("fees", |r| r.fees.clear()),
                ("fees[0].kind", |r| {
                    r.fees[0].kind = PermitKind::DisabledBadge as i32
                }),
            ],
        );
    }
}
