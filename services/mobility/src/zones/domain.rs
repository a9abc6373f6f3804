//! A zone to define, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::mobility::v1::{DefineZoneRequest, ZoneKind};

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
}

/// The kind's name in the database.
pub fn kind_name(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Ztl => "ztl",
        ZoneKind::ResidentParking => "resident_parking",
        ZoneKind::Unspecified => "unspecified",
    }
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
                "must be 1-16 letters, digits or '-', e.g. ZTL-CENTRO",
            ));
        }
        let kind = match ZoneKind::try_from(request.kind) {
            Ok(ZoneKind::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field("kind", "is required"));
            }
            Ok(kind) => kind,
        };
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            zone_code,
            name: domain::required_text("name", &request.name, 120)?,
            kind,
            permit_quota: i32::try_from(request.permit_quota)
                .map_err(|_| ServiceError::invalid_field("permit_quota", "is too large"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DefineZoneRequest {
        DefineZoneRequest {
            municipality_istat_code: "011015".into(),
            zone_code: "ztl-centro".into(),
            name: "ZTL Centro storico".into(),
            kind: ZoneKind::Ztl as i32,
            permit_quota: 0,
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        let zone = NewZone::try_from(&request()).unwrap();
        assert_eq!(zone.zone_code, "ZTL-CENTRO");
        assert_eq!(kind_name(zone.kind), "ztl");
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
            ],
        );
    }
}
