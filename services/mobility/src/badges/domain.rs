//! A badge to issue, parsed once at the edge, and the rule of its days.
//!
//! A badge on a permanent condition lasts five years; on a temporary one, to the
//! certification's term (DPR 495/1992 art. 381 c. 2 and 3, as amended by DPR 151/2012).

use std::fmt;

use jiff::{ToSpan, civil::Date};
use sportello_kit::{IdempotencyKey, MunicipalityCode, ServiceError, domain};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::{common::v1::Channel, mobility::v1::IssueBadgeRequest};

use crate::permits::domain::{VehiclePlate, parse_plate};

/// Most plates a holder declares for the ZTLs (the national platform's two).
pub const MOST_PLATES: usize = 2;
/// A permanent condition's badge lasts this many years.
pub const PERMANENT_YEARS: i16 = 5;

/// The medical certification: health data. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Certification {
    /// The health authority's reference.
    pub reference: String,
    /// A permanent condition.
    pub permanent: bool,
    /// A temporary one's term.
    pub term: Option<Date>,
}

impl fmt::Debug for Certification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Certification(<health data>)")
    }
}

/// A badge to issue.
#[derive(Debug, Clone)]
pub struct NewBadge {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The holder, for the registry; never stored.
    pub holder: CodiceFiscale,
    /// The certification, sealed before it is stored.
    pub certification: Certification,
    /// The declared plates.
    pub plates: Vec<VehiclePlate>,
    /// Where it was asked.
    pub channel: Channel,
    /// Retry key.
    pub key: Option<IdempotencyKey>,
}

/// The badge's days from `today`: five years on a permanent certification (to the day
/// before the fifth anniversary), else to the certification's term.
pub fn validity(certification: &Certification, today: Date) -> Result<(Date, Date), ServiceError> {
    let until = match (certification.permanent, certification.term) {
        (true, _) => today
            .checked_add(i64::from(PERMANENT_YEARS).years())
            .and_then(|d| d.checked_sub(1.day()))
            .map_err(ServiceError::internal)?,
        (false, Some(term)) if term >= today => {
            let longest = today
                .checked_add(i64::from(PERMANENT_YEARS).years())
                .map_err(ServiceError::internal)?;
            if term >= longest {
                return Err(ServiceError::invalid_field(
                    "certification_term",
                    "un contrassegno temporaneo dura meno di cinque anni: oltre, la condizione è permanente / a temporary badge lasts under five years: beyond that the condition is permanent",
                ));
            }
            term
        }
        (false, Some(_)) => {
            return Err(ServiceError::invalid_field(
                "certification_term",
                "il termine della certificazione è già passato / the certification's term is past",
            ));
        }
        (false, None) => {
            return Err(ServiceError::invalid_field(
                "certification_term",
                "un contrassegno temporaneo richiede il termine della certificazione (o indicare permanent) / a temporary badge needs the certification's term (or mark it permanent)",
            ));
        }
    };
    Ok((today, until))
}

impl TryFrom<&IssueBadgeRequest> for NewBadge {
    type Error = ServiceError;

    fn try_from(request: &IssueBadgeRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let holder: CodiceFiscale = request
            .holder_fiscal_code
            .trim()
            .to_ascii_uppercase()
            .parse()
            .map_err(|e| {
                ServiceError::invalid_field(
                    "holder_fiscal_code",
                    format!("codice fiscale non valido / not a valid fiscal code: {e}"),
                )
            })?;
        let reference = domain::required_text(
            "certification_reference",
            &request.certification_reference,
            100,
        )?;
        let term = match request.certification_term.trim() {
            "" => None,
            raw => Some(domain::parse_date("certification_term", raw)?),
        };
        if request.permanent && term.is_some() {
            return Err(ServiceError::invalid_field(
                "certification_term",
                "una certificazione permanente non ha termine / a permanent certification has no term",
            ));
        }
        if request.plates.len() > MOST_PLATES {
            return Err(ServiceError::invalid_field(
                "plates",
                format!("al massimo {MOST_PLATES} targhe / at most {MOST_PLATES} plates"),
            ));
        }
        let mut plates: Vec<VehiclePlate> = Vec::new();
        for (i, input) in request.plates.iter().enumerate() {
            let plate = parse_plate(&format!("plates[{i}]"), input)?;
            if plates.iter().any(|p| p.plate == plate.plate) {
                return Err(ServiceError::invalid_field(
                    format!("plates[{i}]"),
                    "la targa è ripetuta / the plate is listed twice",
                ));
            }
            plates.push(plate);
        }
        let channel = match Channel::try_from(request.channel) {
            Ok(Channel::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field("channel", "is required"));
            }
            Ok(channel) => channel,
        };
        Ok(Self {
            municipality,
            holder,
            certification: Certification {
                reference,
                permanent: request.permanent,
                term,
            },
            plates,
            channel,
            key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn certification(permanent: bool, term: Option<Date>) -> Certification {
        Certification {
            reference: "ASL5-ML-2027-0042".into(),
            permanent,
            term,
        }
    }

    #[test]
    fn a_permanent_condition_gives_five_years() {
        let today = date(2027, 1, 11);
        assert_eq!(
            validity(&certification(true, None), today).unwrap(),
            (today, date(2032, 1, 10))
        );
    }

    #[test]
    fn a_temporary_one_lasts_to_the_certifications_term() {
        let today = date(2027, 1, 11);
        // A broken leg, certified for six months.
        assert_eq!(
            validity(&certification(false, Some(date(2027, 7, 11))), today).unwrap(),
            (today, date(2027, 7, 11))
        );
    }

    #[test]
    fn a_temporary_one_without_its_term_or_past_it_is_refused() {
        let today = date(2027, 1, 11);
        for bad in [
            certification(false, None),
            certification(false, Some(date(2027, 1, 10))),
            certification(false, Some(date(2032, 1, 11))),
        ] {
            let error = validity(&bad, today).unwrap_err();
            assert_eq!(error.violations()[0].field, "certification_term", "{error}");
        }
    }

    #[test]
    fn its_debug_shows_no_health_data() {
        let shown = format!("{:?}", certification(false, Some(date(2027, 7, 11))));
        assert!(
            !shown.contains("ASL5") && !shown.contains("2027"),
            "{shown}"
        );
    }
}
