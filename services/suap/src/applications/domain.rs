//! An application's state and clock, and the requests that change it, parsed once at the
//! edge.

use jiff::civil::Date;
use sportello_kit::{
    FieldViolation, MunicipalityCode, RequesterRef, ServiceError, domain, privacy,
};
use sportello_pa::{Calendar, ClockOptions, Deadline, Procedure, Stop, clock};
use sportello_proto::{
    common::v1::Channel,
    suap::v1::{FileApplicationRequest, MandateKind, OccupationPlace, RequestOccupationRequest},
};
use uuid::Uuid;

use super::procedures::{self, ProcedureDef, Regime};
use crate::occupations::domain::NewOccupation;

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// SCIA filed and effective; the control term runs.
    Effective,
    /// SCIA: an order to conform was issued.
    ConformOrdered,
    /// SCIA: the measures were reported; the control term runs again.
    MeasuresReported,
    /// SCIA: the control found it compliant.
    Compliant,
    /// SCIA: the control term passed; the power to prohibit lapsed.
    Consolidated,
    /// SCIA: the activity is prohibited.
    Prohibited,
    /// A communication, filed.
    Filed,
    /// Ordinary procedure under review.
    UnderReview,
    /// Ordinary procedure waiting for the integration.
    IntegrationRequested,
    /// Ordinary procedure granted by a decision.
    Granted,
    /// Ordinary procedure granted by silence-assent.
    GrantedBySilence,
    /// Ordinary procedure past its term on a matter without silence-assent.
    DecisionOverdue,
    /// Ordinary procedure refused.
    Refused,
    /// Ordinary procedure: the notice of reasons against granting is out (L. 241/1990
    /// art. 10-bis); the business may file observations, then the back office decides.
    ReasonsNotified,
}

impl Status {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Effective => "effective",
            Status::ConformOrdered => "conform_ordered",
            Status::MeasuresReported => "measures_reported",
            Status::Compliant => "compliant",
            Status::Consolidated => "consolidated",
            Status::Prohibited => "prohibited",
            Status::Filed => "filed",
            Status::UnderReview => "under_review",
            Status::IntegrationRequested => "integration_requested",
            Status::Granted => "granted",
            Status::GrantedBySilence => "granted_by_silence",
            Status::DecisionOverdue => "decision_overdue",
            Status::Refused => "refused",
            Status::ReasonsNotified => "reasons_notified",
        }
    }

    /// From its stored text.
    pub fn from_db(text: &str) -> Result<Self, sqlx::Error> {
        Ok(match text {
            "effective" => Status::Effective,
            "conform_ordered" => Status::ConformOrdered,
            "measures_reported" => Status::MeasuresReported,
            "compliant" => Status::Compliant,
            "consolidated" => Status::Consolidated,
            "prohibited" => Status::Prohibited,
            "filed" => Status::Filed,
            "under_review" => Status::UnderReview,
            "integration_requested" => Status::IntegrationRequested,
            "granted" => Status::Granted,
            "granted_by_silence" => Status::GrantedBySilence,
            "decision_overdue" => Status::DecisionOverdue,
            "refused" => Status::Refused,
            "reasons_notified" => Status::ReasonsNotified,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("unknown application status {other:?}").into(),
                ));
            }
        })
    }
}

impl Status {
    /// Whether the procedure is over: nothing more changes it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Compliant
                | Status::Consolidated
                | Status::Prohibited
                | Status::Filed
                | Status::Granted
                | Status::GrantedBySilence
                | Status::Refused
        )
    }

    /// The status a filing starts in.
    pub fn on_filing(regime: Regime) -> Self {
        match regime {
            Regime::Scia | Regime::SciaBuilding => Status::Effective,
            Regime::Communication => Status::Filed,
            Regime::Ordinary(_) => Status::UnderReview,
        }
    }
}

/// An application's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationId(pub Uuid);

impl std::fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ApplicationId {
    /// Parses `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ServiceError> {
        Uuid::parse_str(value.trim())
            .map(Self)
            .map_err(|_| ServiceError::invalid_field(field, "non è un UUID / is not a UUID"))
    }
}

/// How it reached the SUAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filing {
    /// An operator at the counter, on the business's behalf, under a mandate.
    Counter {
        /// The mandate's kind, stored text.
        mandate: &'static str,
        /// Its reference.
        reference: String,
    },
    /// A department system, in its own right.
    System,
}

/// A filing, parsed.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The business.
    pub business_id: Uuid,
    /// The procedure.
    pub procedure: &'static ProcedureDef,
    /// Subject, free of personal data.
    pub subject: String,
    /// How it came.
    pub filing: Filing,
    /// The legal representative, pseudonymous.
    pub requester_ref: Option<RequesterRef>,
    /// The public land asked for (`suolo.*` procedures).
    pub occupation: Option<NewOccupation>,
}

/// The occupation a filing asks for, parsed as `RequestOccupation` parses it, each error
/// naming `occupation.<field>`.
fn occupation(
    request: &FileApplicationRequest,
    place: &OccupationPlace,
) -> Result<NewOccupation, ServiceError> {
    let as_request = RequestOccupationRequest {
        municipality_istat_code: request.municipality_istat_code.clone(),
        kind: place.kind,
        vertices: place.vertices.clone(),
        street: place.street.clone(),
        zone_category: place.zone_category,
        start_date: place.start_date.clone(),
        end_date: place.end_date.clone(),
        business_id: request.business_id.clone(),
        requester_ref: String::new(),
        idempotency_key: String::new(),
    };
    NewOccupation::try_from(&as_request).map_err(|error| {
        let violations: Vec<FieldViolation> = error
            .violations()
            .iter()
            .map(|v| FieldViolation {
                field: format!("occupation.{}", v.field),
                description: v.description.clone(),
            })
            .collect();
        if violations.is_empty() {
            error
        } else {
            ServiceError::invalid_fields(violations)
        }
    })
}

impl TryFrom<&FileApplicationRequest> for NewApplication {
    type Error = ServiceError;

    fn try_from(request: &FileApplicationRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let business_id = Uuid::parse_str(request.business_id.trim()).map_err(|_| {
            ServiceError::invalid_field("business_id", "non è un UUID / is not a UUID")
        })?;
        let procedure = procedures::find(request.procedure_code.trim()).ok_or_else(|| {
            let known: Vec<&str> = procedures::PROCEDURES.iter().map(|p| p.code).collect();
            ServiceError::invalid_field(
                "procedure_code",
                format!(
                    "procedimento sconosciuto; uno tra / unknown procedure; one of: {}",
                    known.join(", ")
                ),
            )
        })?;
        let subject = domain::required_text("subject", &request.subject, 300)?;
        // The subject is written in the protocol register and travels in the work request.
        privacy::ensure_free_of_personal_data("subject", &subject)?;
        let filing = match Channel::try_from(request.channel) {
            Ok(Channel::Counter) => {
                let mandate = match MandateKind::try_from(request.mandate) {
                    Ok(MandateKind::SignedForm) => "signed_form",
                    Ok(MandateKind::SpecialPowerOfAttorney) => "special_power_of_attorney",
                    _ => {
                        return Err(ServiceError::invalid_field(
                            "mandate",
                            "allo sportello l'operatore presenta per conto dell'impresa: indicare \
                             il modulo firmato o la procura speciale / at the counter the operator \
                             files on the business's behalf: give its signed form or a special \
                             power of attorney (DPR 160/2010 art. 2 c. 2)",
                        ));
                    }
                };
                let reference =
                    domain::required_text("mandate_reference", &request.mandate_reference, 120)?;
                Filing::Counter { mandate, reference }
            }
            Ok(Channel::Unspecified) => {
                if request.mandate != 0 || !request.mandate_reference.trim().is_empty() {
                    return Err(ServiceError::invalid_field(
                        "mandate",
                        "solo per le presentazioni allo sportello / only for filings at the \
                         counter (channel COUNTER)",
                    ));
                }
                Filing::System
            }
            _ => {
                return Err(ServiceError::invalid_field(
                    "channel",
                    "le pratiche SUAP sono solo telematiche: COUNTER (per conto dell'impresa) o \
                     nessuno (un sistema) / SUAP filings are electronic only: COUNTER (on the \
                     business's behalf) or unspecified (a department system)",
                ));
            }
        };
        let requester_ref = if request.requester_ref.trim().is_empty() {
            None
        } else {
            Some(domain::parse_field(
                "requester_ref",
                request.requester_ref.trim(),
            )?)
        };
        let occupation = match (&request.occupation, procedure.occupies_land()) {
            (Some(place), true) => Some(occupation(request, place)?),
            (None, true) => {
                return Err(ServiceError::invalid_field(
                    "occupation",
                    "una domanda di suolo pubblico indica il luogo e il periodo / an \
                     application for public land gives the place and the period",
                ));
            }
            (Some(_), false) => {
                return Err(ServiceError::invalid_field(
                    "occupation",
                    "solo per le domande di suolo pubblico (suolo.*) / only for applications \
                     for public land (suolo.*)",
                ));
            }
            (None, false) => None,
        };
        Ok(Self {
            municipality,
            business_id,
            procedure,
            subject,
            filing,
            requester_ref,
            occupation,
        })
    }
}

/// A day given as `YYYY-MM-DD` in `field`, or `today` when empty.
pub fn day_or_today(field: &str, value: &str, today: Date) -> Result<Date, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(today);
    }
    let day: Date = value.parse().map_err(|_| {
        ServiceError::invalid_field(field, "una data AAAA-MM-GG / a date YYYY-MM-DD")
    })?;
    if day > today {
        return Err(ServiceError::invalid_field(
            field,
            format!("è nel futuro (oggi è {today}) / is in the future (today is {today})"),
        ));
    }
    Ok(day)
}

/// The application's clock, from the PA library: its procedure's term from the day of
/// receipt, with its stops. `None` for a communication.
pub fn deadline(
    municipality: MunicipalityCode,
    regime: Regime,
    received: Date,
    stops: &[Stop],
) -> Result<Option<Deadline>, sportello_pa::clock::ClockError> {
    let Some(procedure) = regime.clock() else {
        return Ok(None);
    };
    let calendar = Calendar::for_municipality(municipality.as_str());
    clock::deadline(
        &calendar,
        procedure,
        received,
        stops,
        ClockOptions::default(),
    )
    .map(Some)
}

/// The PA library's procedure behind an opinion's rule.
pub fn opinion_procedure(rule: &str, term_days: u32) -> Result<Procedure, ServiceError> {
    let term = (term_days > 0).then_some(sportello_pa::Term::Days(term_days));
    if !matches!(
        rule,
        "opinion" | "opinion_protected" | "assent" | "assent_sensitive"
    ) {
        return Err(ServiceError::invalid_field(
            "rule",
            "uno tra / one of: opinion, opinion_protected, assent, assent_sensitive",
        ));
    }
    Procedure::parse(rule, term).map_err(|e| {
        let field = if term_days > 0 { "term_days" } else { "rule" };
        ServiceError::invalid_field(field, e.to_string())
    })
}

/// A body's code: `asl`, `vvf`, `soprintendenza`, `polizia_locale`.
pub fn office(value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    let ok = (2..=40).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            "office",
            "un codice di 2-40 lettere minuscole, cifre o _ (asl, vvf, soprintendenza) / a \
             code of 2-40 lowercase letters, digits or _",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> FileApplicationRequest {
        FileApplicationRequest {
            municipality_istat_code: "011015".into(),
            business_id: Uuid::nil().to_string(),
            procedure_code: "commercio.vicinato_apertura".into(),
            subject: "Apertura esercizio di vicinato, Via del Prione 42".into(),
            documents: Vec::new(),
            channel: Channel::Counter as i32,
            mandate: MandateKind::SpecialPowerOfAttorney as i32,
            mandate_reference: "Procura del 2026-12-01".into(),
            requester_ref: String::new(),
            idempotency_key: String::new(),
            occupation: None,
        }
    }

    #[test]
    fn a_counter_filing_parses_with_its_mandate() {
        let parsed = NewApplication::try_from(&request()).unwrap();
        assert_eq!(parsed.procedure.regime, Regime::Scia);
        assert!(matches!(
            parsed.filing,
            Filing::Counter {
                mandate: "special_power_of_attorney",
                ..
            }
        ));
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewApplication::try_from(r),
            &[
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "11015".into()
                }),
                ("business_id", |r| r.business_id = "x".into()),
                ("procedure_code", |r| {
                    r.procedure_code = "commercio.boh".into()
                }),
                ("subject", |r| r.subject.clear()),
                ("subject", |r| {
                    r.subject = "Apertura per RSSMRA80A01E463K".into()
                }),
                ("mandate", |r| r.mandate = 0),
                ("mandate_reference", |r| r.mandate_reference.clear()),
                ("channel", |r| r.channel = Channel::Email as i32),
                ("mandate", |r| r.channel = 0),
                ("requester_ref", |r| r.requester_ref = "rr_x".into()),
            ],
        );
    }

    #[test]
    fn an_opinion_rule_needs_its_term_only_when_protected() {
        assert!(opinion_procedure("opinion", 0).is_ok());
        assert!(opinion_procedure("assent_sensitive", 0).is_ok());
        assert_eq!(
            opinion_procedure("opinion_protected", 0)
                .unwrap_err()
                .violations()[0]
                .field,
            "rule"
        );
        assert!(opinion_procedure("opinion_protected", 60).is_ok());
        assert_eq!(
            opinion_procedure("opinion", 10).unwrap_err().violations()[0].field,
            "term_days"
        );
        assert!(opinion_procedure("generic", 0).is_err());
    }

    #[test]
    fn office_codes() {
        assert!(office("asl").is_ok());
        assert!(office("polizia_locale").is_ok());
        for bad in ["", "a", "ASL", "1asl", "asl-sp"] {
            assert!(office(bad).is_err(), "{bad}");
        }
    }
}
