//! Ratings, rating codes, completed cases and report periods, parsed once at the edge.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{CaseCompleted, Tier},
    urp::v1::{
        GetRateableCaseRequest, GetSatisfactionReportRequest, RateableKind, RatingChannel,
        SubmitFeedbackRequest,
    },
};
use uuid::Uuid;

/// How long after its completion a case may be rated.
pub const RATING_DAYS: i64 = 30;

/// Longest comment accepted.
pub const MAX_COMMENT: usize = 2_000;

/// The longest period a report covers.
pub const MAX_REPORT_DAYS: i32 = 366;

/// The outcome of a counter case that continues by appointment: rated after the
/// appointment, not twice.
pub const APPOINTMENT_REQUESTED: &str = "appointment_requested";

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or typed is not
/// mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A rating code: ten characters of Crockford base32 (50 random bits), shown as
/// `K7QP3-MZXR2`. Whoever holds it may rate its case once; it is printed for the citizen
/// and reveals nothing about the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingCode(String);

impl RatingCode {
    /// A fresh random code.
    pub fn mint() -> Self {
        let bytes = Uuid::new_v4().into_bytes();
        // 50 bits of the v4 UUID's random part (bytes 9-15 hold no version or variant).
        let mut bits = bytes[9..16]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut code = [b'0'; 10];
        for slot in code.iter_mut().rev() {
            *slot = ALPHABET[usize::try_from(bits & 31).unwrap_or(0)];
            bits >>= 5;
        }
        Self(String::from_utf8_lossy(&code).into_owned())
    }

    /// Parses a code as a person types it: any case, dashes and spaces ignored, `O` read
    /// as zero and `I`/`L` as one.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
        let mut code = String::with_capacity(10);
        for c in raw.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || code.len() == 10 {
                return Err(invalid_code(field));
            }
            code.push(c);
        }
        if code.len() != 10 {
            return Err(invalid_code(field));
        }
        Ok(Self(code))
    }

    /// The ten characters as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as printed: two groups of five.
    pub fn display(stored: &str) -> String {
        if stored.len() == 10 && stored.is_ascii() {
            format!("{}-{}", &stored[..5], &stored[5..])
        } else {
            stored.to_owned()
        }
    }
}

fn invalid_code(field: &str) -> ServiceError {
    ServiceError::invalid_field(
        field,
        "deve essere il codice di valutazione stampato, 10 caratteri come K7QP3-MZXR2 / must \
         be the printed rating code, 10 characters like K7QP3-MZXR2",
    )
}

/// A catalogue code: lowercase dotted words, e.g. `registry.residence_certificate`.
pub fn is_service_code(code: &str) -> bool {
    let mut parts = code.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    let rest: Vec<_> = parts.collect();
    first_ok
        && !rest.is_empty()
        && code.len() <= 64
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// What a rating is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A completed case, by its rating code; the service and channel it states, if any,
    /// must be the case's.
    Case {
        /// The code.
        code: RatingCode,
        /// The service the client believes it rates, if it says.
        service_code: Option<String>,
        /// How the client believes it was served, if it says.
        channel: Option<Channel>,
    },
    /// A service without a case (the per-service path kept from before).
    Service {
        /// Catalogue code.
        service_code: String,
        /// How the service was received.
        channel: Channel,
    },
}

/// A rating as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What it rates.
    pub target: Target,
    /// 1 to 5.
    pub rating: i16,
    /// Free comment (may be empty).
    pub comment: String,
    /// How it was left.
    pub rated_via: RatingChannel,
}

/// A rating as URP records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code of the service rated.
    pub service_code: String,
    /// How the service was received.
    pub channel: Channel,
    /// 1 to 5.
    pub rating: i16,
    /// Free comment (may be empty).
    pub comment: String,
    /// The rated case's record in URP, its site and tier; none without a case.
    pub case: Option<RatedCase>,
    /// How it was left.
    pub rated_via: RatingChannel,
}

/// What a rating keeps of its case: the service's place and tier, never the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedCase {
    /// The rateable case's record id (URP's, not routing's).
    pub rateable_id: Uuid,
    /// The site.
    pub site_id: Uuid,
    /// The tier, 1 to 4.
    pub tier: i16,
}

fn channel_of(raw: i32) -> Option<Channel> {
    match Channel::try_from(raw) {
        Ok(Channel::Unspecified) | Err(_) => None,
        Ok(channel) => Some(channel),
    }
}

impl TryFrom<&SubmitFeedbackRequest> for Rating {
    type Error = ServiceError;

    fn try_from(request: &SubmitFeedbackRequest) -> Result<Self, Self::Error> {
        let service_code = (!request.service_code.is_empty())
            .then(|| {
                if is_service_code(&request.service_code) {
                    Ok(request.service_code.clone())
                } else {
                    Err(ServiceError::invalid_field(
                        "service_code",
                        "deve essere un codice del catalogo, ad es. registry.residence_certificate \
                         / must be a catalogue code such as registry.residence_certificate",
                    ))
                }
            })
            .transpose()?;
        if Channel::try_from(request.channel).is_err() {
            return Err(ServiceError::invalid_field(
                "channel",
                "canale sconosciuto / unknown channel",
            ));
        }
        let channel = channel_of(request.channel);
        let target = if request.case_code.is_empty() {
            Target::Service {
                service_code: service_code.ok_or_else(|| {
                    ServiceError::invalid_field(
                        "service_code",
                        "è obbligatorio senza codice di valutazione / is required without a \
                         rating code",
                    )
                })?,
                channel: channel.ok_or_else(|| {
                    ServiceError::invalid_field(
                        "channel",
                        "è obbligatorio senza codice di valutazione / is required without a \
                         rating code",
                    )
                })?,
            }
        } else {
            Target::Case {
                code: RatingCode::parse("case_code", &request.case_code)?,
                service_code,
                channel,
            }
        };
        let rating = i16::try_from(request.rating)
            .ok()
            .filter(|r| (1..=5).contains(r))
            .ok_or_else(|| ServiceError::invalid_field("rating", "da 1 a 5 / must be 1 to 5"))?;
        let comment = request.comment.trim();
        if comment.chars().count() > MAX_COMMENT {
            return Err(ServiceError::invalid_field(
                "comment",
                format!(
                    "al massimo {MAX_COMMENT} caratteri / must be at most {MAX_COMMENT} characters"
                ),
            ));
        }
        let rated_via = RatingChannel::try_from(request.rated_via).map_err(|_| {
            ServiceError::invalid_field("rated_via", "canale sconosciuto / unknown channel")
        })?;
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            target,
            rating,
            comment: comment.to_owned(),
            rated_via,
        })
    }
}

/// How a rateable case is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// By its rating code.
    Code(RatingCode),
    /// By routing's case id.
    CaseId(Uuid),
}

/// GetRateableCase's request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateableQuery {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Which case.
    pub lookup: Lookup,
}

impl TryFrom<&GetRateableCaseRequest> for RateableQuery {
    type Error = ServiceError;

    fn try_from(request: &GetRateableCaseRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let lookup = match (request.code.is_empty(), request.case_id.is_empty()) {
            (false, true) => Lookup::Code(RatingCode::parse("code", &request.code)?),
            (true, false) => Lookup::CaseId(Uuid::parse_str(&request.case_id).map_err(|_| {
                ServiceError::invalid_field("case_id", "deve essere un UUID / must be a UUID")
            })?),
            _ => {
                return Err(ServiceError::invalid_field(
                    "code",
                    "indicare il codice oppure l'id della pratica, uno solo / give the code or \
                     the case id, exactly one",
                ));
            }
        };
        Ok(Self {
            municipality,
            lookup,
        })
    }
}

/// A case completed in person, as routing's event tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedCase {
    /// Routing's case id.
    pub case_id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code.
    pub service_code: String,
    /// The site.
    pub site_id: Uuid,
    /// 1 to 4.
    pub tier: i16,
    /// Counter or appointment.
    pub kind: RateableKind,
    /// The outcome.
    pub outcome_code: String,
    /// From arrival to the call.
    pub waited_seconds: i32,
    /// From the call to completion.
    pub handling_seconds: i32,
    /// When it was completed: the call plus its handling.
    pub completed_at: Timestamp,
}

/// Why a completed case is not rateable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRateable {
    /// Not served in person (back-office work, a digital request closed elsewhere), or it
    /// continues by appointment and is rated then: nothing to record.
    Skip(&'static str),
    /// The event is malformed: it can never be recorded.
    Malformed(String),
}

impl TryFrom<&CaseCompleted> for CompletedCase {
    type Error = NotRateable;

    fn try_from(event: &CaseCompleted) -> Result<Self, Self::Error> {
        let malformed = |what: &str| NotRateable::Malformed(format!("case.completed: {what}"));
        let case = event.case.as_ref().ok_or_else(|| malformed("no case"))?;
        // Served in person: called to a counter at a site.
        let called = case
            .called_time
            .as_ref()
            .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok());
        let Some(called) = called else {
            return Err(NotRateable::Skip("never called to a counter"));
        };
        if case.site_id.is_empty() {
            return Err(NotRateable::Skip("no site"));
        }
        if case.outcome_code == APPOINTMENT_REQUESTED {
            return Err(NotRateable::Skip("continues by appointment"));
        }
        let arrival = case
            .arrival_time
            .as_ref()
            .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
            .ok_or_else(|| malformed("arrival_time"))?;
        let tier = match Tier::try_from(case.tier) {
            Ok(Tier::InfoDesk) => 1,
            Ok(Tier::Polivalente) => 2,
            Ok(Tier::Tecnico) => 3,
            Ok(Tier::BackOffice) => 4,
            _ => return Err(malformed("tier")),
        };
        let kind = match Channel::try_from(case.channel) {
            Ok(Channel::Appointment) => RateableKind::Appointment,
            _ => RateableKind::Counter,
        };
        let handling = i32::try_from(event.handling_seconds).unwrap_or(i32::MAX);
        let waited = called
            .duration_since(arrival)
            .as_secs()
            .clamp(0, i64::from(i32::MAX));
        let completed_at = called
            .checked_add(jiff::SignedDuration::from_secs(i64::from(handling)))
            .map_err(|_| malformed("handling"))?;
        let outcome = case.outcome_code.clone();
        let outcome_ok = (1..=40).contains(&outcome.len())
            && outcome
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !outcome_ok {
            return Err(malformed("outcome_code"));
        }
        if !is_service_code(&case.service_code) {
            return Err(malformed("service_code"));
        }
        Ok(Self {
            case_id: Uuid::parse_str(&case.id).map_err(|_| malformed("id"))?,
            municipality: case
                .municipality_istat_code
                .parse()
                .map_err(|_| malformed("municipality"))?,
            service_code: case.service_code.clone(),
            site_id: Uuid::parse_str(&case.site_id).map_err(|_| malformed("site_id"))?,
            tier,
            kind,
            outcome_code: outcome,
            waited_seconds: i32::try_from(waited).unwrap_or(i32::MAX),
            handling_seconds: handling,
            completed_at,
        })
    }
}

/// A report's period and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// First day (Europe/Rome), inclusive.
    pub from: Date,
    /// Last day, inclusive.
    pub to: Date,
    /// One site, or all.
    pub site_id: Option<Uuid>,
}

impl TryFrom<&GetSatisfactionReportRequest> for ReportQuery {
    type Error = ServiceError;

    fn try_from(request: &GetSatisfactionReportRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let from = domain::parse_date("from_date", &request.from_date)?;
        let to = domain::parse_date("to_date", &request.to_date)?;
        if to < from {
            return Err(ServiceError::invalid_field(
                "to_date",
                "non può precedere from_date / must not be before from_date",
            ));
        }
        // Days are the largest unit of a span between two dates.
        if from
            .until(to)
            .map_or(true, |span| span.get_days() > MAX_REPORT_DAYS)
        {
            return Err(ServiceError::invalid_field(
                "to_date",
                format!(
                    "al massimo {MAX_REPORT_DAYS} giorni dopo from_date / at most \
                     {MAX_REPORT_DAYS} days after from_date"
                ),
            ));
        }
        let site_id = (!request.site_id.is_empty())
            .then(|| {
                Uuid::parse_str(&request.site_id).map_err(|_| {
                    ServiceError::invalid_field("site_id", "deve essere un UUID / must be a UUID")
                })
            })
            .transpose()?;
        Ok(Self {
            municipality,
            from,
            to,
            site_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SubmitFeedbackRequest {
        SubmitFeedbackRequest {
            municipality_istat_code: "011015".into(),
            service_code: "registry.residence_certificate".into(),
            channel: Channel::Counter as i32,
            rating: 5,
            comment: "Veloce e cortese".into(),
            idempotency_key: String::new(),
            case_code: String::new(),
            rated_via: 0,
        }
    }

    #[test]
    fn a_rating_of_a_service_parses() {
        let rating = Rating::try_from(&request()).unwrap();
        assert_eq!(rating.rating, 5);
        assert!(matches!(rating.target, Target::Service { .. }));
    }

    #[test]
    fn a_rating_of_a_case_needs_only_its_code() {
        let rating = Rating::try_from(&SubmitFeedbackRequest {
            service_code: String::new(),
            channel: 0,
            case_code: "k7qp3-mzxr2".into(),
            rated_via: RatingChannel::Qr as i32,
            ..request()
        })
        .unwrap();
        assert_eq!(
            rating.target,
            Target::Case {
                code: RatingCode("K7QP3MZXR2".into()),
                service_code: None,
                channel: None
            }
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| Rating::try_from(r),
            &[
                ("service_code", |r| r.service_code = "Registry".into()),
                ("service_code", |r| r.service_code = String::new()),
                ("channel", |r| r.channel = 0),
                ("channel", |r| r.channel = 99),
                ("rating", |r| r.rating = 0),
                ("rating", |r| r.rating = 6),
                ("comment", |r| r.comment = "a".repeat(2_001)),
                ("case_code", |r| r.case_code = "ABC".into()),
                ("case_code", |r| r.case_code = "K7QP3-MZXR2-X".into()),
                ("case_code", |r| r.case_code = "K7QP3-MZXRU".into()),
                ("rated_via", |r| r.rated_via = 9),
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "11015".into();
                }),
            ],
        );
    }

    #[test]
    fn codes_are_ten_crockford_characters_read_forgivingly() {
        for _ in 0..100 {
            let code = RatingCode::mint();
            assert_eq!(code.as_str().len(), 10);
            assert_eq!(RatingCode::parse("code", code.as_str()).unwrap(), code);
            let shown = RatingCode::display(code.as_str());
            assert_eq!(
                RatingCode::parse("code", &shown.to_lowercase()).unwrap(),
                code
            );
        }
        assert_eq!(
            RatingCode::parse("code", "o1il0 ABCDE").unwrap().as_str(),
            "01110ABCDE"
        );
        assert_ne!(RatingCode::mint(), RatingCode::mint());
    }

    #[test]
    fn service_codes_are_dotted_lowercase() {
        assert!(is_service_code("suap.dehors"));
        assert!(is_service_code("registry.residence_certificate"));
        for bad in ["suap", "suap.", ".dehors", "Suap.dehors", "suap.de hors"] {
            assert!(!is_service_code(bad), "{bad}");
        }
    }

    #[test]
    fn a_report_covers_at_most_a_year() {
        let query = |from: &str, to: &str| {
            ReportQuery::try_from(&GetSatisfactionReportRequest {
                municipality_istat_code: "011015".into(),
                from_date: from.into(),
                to_date: to.into(),
                site_id: String::new(),
            })
        };
        assert!(query("2026-01-01", "2026-12-31").is_ok());
        for (from, to) in [("2026-01-02", "2026-01-01"), ("2025-01-01", "2026-12-31")] {
            let error = query(from, to).unwrap_err();
            assert_eq!(error.violations()[0].field, "to_date", "{error}");
        }
        assert_eq!(
            query("2026-13-01", "2026-12-31").unwrap_err().violations()[0].field,
            "from_date"
        );
    }
}
