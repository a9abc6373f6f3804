//! Categories and reports as URP means them, parsed once at the edge: a code is a code,
//! a point is on the globe, the description's personal data are found and masked here,
//! before anything else sees it.

use sportello_kit::{
    IdempotencyKey, MunicipalityCode, ServiceError, domain,
    mail::Address,
    privacy::{self, Found},
};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        Category as CategoryMessage, DefineCategoryRequest, FileReportRequest, ReplyOutcome,
        ReplyToReportRequest, ReportKind, ReportStatus,
    },
};
use uuid::Uuid;

/// The most attachments one report takes.
pub const MAX_ATTACHMENTS: usize = 4;

/// Report or complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A report (segnalazione): public.
    Report,
    /// A complaint (reclamo): never listed.
    Complaint,
}

impl Kind {
    /// Its stored name.
    pub const fn id(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Complaint => "complaint",
        }
    }

    /// From its stored name.
    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "report" => Some(Self::Report),
            "complaint" => Some(Self::Complaint),
            _ => None,
        }
    }

    /// Its protobuf value.
    pub fn message(self) -> ReportKind {
        match self {
            Self::Report => ReportKind::Report,
            Self::Complaint => ReportKind::Complaint,
        }
    }
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Registered, waiting for the office.
    Received,
    /// An operator holds its work.
    InProgress,
    /// Replied to.
    Closed,
}

impl Status {
    /// Its stored name.
    pub const fn id(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::InProgress => "in_progress",
            Self::Closed => "closed",
        }
    }

    /// From its stored name.
    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "received" => Some(Self::Received),
            "in_progress" => Some(Self::InProgress),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// Its protobuf value.
    pub fn message(self) -> ReportStatus {
        match self {
            Self::Received => ReportStatus::Received,
            Self::InProgress => ReportStatus::InProgress,
            Self::Closed => ReportStatus::Closed,
        }
    }

    /// From its protobuf value (`UNSPECIFIED` is none).
    pub fn from_message(status: ReportStatus) -> Option<Self> {
        match status {
            ReportStatus::Unspecified => None,
            ReportStatus::Received => Some(Self::Received),
            ReportStatus::InProgress => Some(Self::InProgress),
            ReportStatus::Closed => Some(Self::Closed),
        }
    }
}

/// How the office closed a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fixed, or the complaint upheld.
    Resolved,
    /// Nothing to fix, or not upheld.
    Unfounded,
    /// Passed to the body responsible.
    Forwarded,
}

impl Outcome {
    /// Its stored name (and the work's outcome code).
    pub const fn id(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Unfounded => "unfounded",
            Self::Forwarded => "forwarded",
        }
    }

    /// From its stored name.
    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "resolved" => Some(Self::Resolved),
            "unfounded" => Some(Self::Unfounded),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }

    /// Its protobuf value.
    pub fn message(self) -> ReplyOutcome {
        match self {
            Self::Resolved => ReplyOutcome::Resolved,
            Self::Unfounded => ReplyOutcome::Unfounded,
            Self::Forwarded => ReplyOutcome::Forwarded,
        }
    }
}

/// A category code: lowercase words joined by dots, 2-60 characters (`strade.buca`).
pub fn category_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    let code = raw.trim();
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if !(2..=60).contains(&code.len()) || !code.split('.').all(word) {
        return Err(ServiceError::invalid_field(
            field,
            "deve essere un codice di categoria: minuscole, cifre, _ e punti, ad es. strade.buca \
             / must be a category code: lowercase letters, digits, _ and dots, e.g. strade.buca",
        ));
    }
    Ok(code.to_owned())
}

fn optional_text(field: &str, raw: &str, max: usize) -> Result<String, ServiceError> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(ServiceError::invalid_field(
            field,
            format!("al massimo {max} caratteri / at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ServiceError::invalid_field(
            field,
            "contiene caratteri di controllo / holds control characters",
        ));
    }
    Ok(text.to_owned())
}

fn text_between(field: &str, raw: &str, min: usize, max: usize) -> Result<String, ServiceError> {
    let text = optional_text(field, raw, max)?;
    if text.chars().count() < min {
        return Err(ServiceError::invalid_field(
            field,
            format!("almeno {min} caratteri / at least {min} characters"),
        ));
    }
    Ok(text)
}

/// A category as defined.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its group.
    pub group: String,
    /// Report or complaint.
    pub kind: Kind,
    /// Whether a place is required.
    pub location_required: bool,
    /// Its own reply term, if any.
    pub reply_days: Option<u32>,
    /// Other words.
    pub keywords: Vec<String>,
    /// The office that answers.
    pub office: String,
    /// Whether it is offered.
    pub active: bool,
}

impl TryFrom<&DefineCategoryRequest> for Category {
    type Error = ServiceError;

    fn try_from(request: &DefineCategoryRequest) -> Result<Self, Self::Error> {
        let Some(c) = &request.category else {
            return Err(ServiceError::invalid_field(
                "category",
                "è obbligatoria / is required",
            ));
        };
        Self::parse(c)
    }
}

impl Category {
    fn parse(c: &CategoryMessage) -> Result<Self, ServiceError> {
        let kind = match ReportKind::try_from(c.kind) {
            Ok(ReportKind::Report) => Kind::Report,
            Ok(ReportKind::Complaint) => Kind::Complaint,
            _ => {
                return Err(ServiceError::invalid_field(
                    "category.kind",
                    "segnalazione (REPORT) o reclamo (COMPLAINT) / REPORT or COMPLAINT",
                ));
            }
        };
        let reply_days = match c.reply_days {
            0 => None,
            d @ 1..=365 => Some(d),
            _ => {
                return Err(ServiceError::invalid_field(
                    "category.reply_days",
                    "da 1 a 365 giorni, 0 per il termine della carta dei servizi / 1 to 365 \
                     days, 0 for the service charter's term",
                ));
            }
        };
        if c.keywords.len() > 20 {
            return Err(ServiceError::invalid_field(
                "category.keywords",
                "al massimo 20 parole / at most 20 keywords",
            ));
        }
        let keywords = c
            .keywords
            .iter()
            .enumerate()
            .map(|(i, k)| domain::required_text(&format!("category.keywords[{i}]"), k, 40))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            municipality: domain::parse_field(
                "category.municipality_istat_code",
                &c.municipality_istat_code,
            )?,
            code: category_code("category.code", &c.code)?,
            name: text_between("category.name", &c.name, 2, 120)?,
            description: optional_text("category.description", &c.description, 1000)?,
            group: optional_text("category.group", &c.group, 120)?,
            kind,
            location_required: c.location_required,
            reply_days,
            keywords,
            office: optional_text("category.office", &c.office, 120)?,
            active: c.active,
        })
    }
}

/// Where a report is: a point, an address, or both.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    /// Latitude and longitude (WGS84).
    pub point: Option<(f64, f64)>,
    /// The address as written.
    pub address: String,
}

impl Place {
    /// Whether anything says where.
    pub fn is_given(&self) -> bool {
        self.point.is_some() || !self.address.is_empty()
    }
}

/// The person who filed a report, when they say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// The fiscal code.
    pub fiscal_code: Option<CodiceFiscale>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Where the reply goes.
    pub email: Option<Address>,
    /// A phone number.
    pub phone: String,
}

/// A report as filed, checked.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The category's code (checked against the municipality's categories by the flow).
    pub category_code: String,
    /// As written.
    pub description: String,
    /// Personal data masked.
    pub description_masked: String,
    /// What was masked.
    pub masked: Vec<Found>,
    /// Where.
    pub place: Place,
    /// A link to a photo.
    pub media_url: String,
    /// Who.
    pub requester: Requester,
    /// How it arrived.
    pub channel: Channel,
    /// Through which app or system.
    pub source: String,
    /// The retry key.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// A kind of masked data's stored name.
pub const fn found_id(found: Found) -> &'static str {
    match found {
        Found::FiscalCode => "fiscal_code",
        Found::Email => "email",
        Found::Phone => "phone",
    }
}

fn place(request: &FileReportRequest) -> Result<Place, ServiceError> {
    let Some(location) = &request.location else {
        return Ok(Place::default());
    };
    let point = match (location.latitude, location.longitude) {
        (None, None) => None,
        (Some(lat), Some(long)) => {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                return Err(ServiceError::invalid_field(
                    "location.latitude",
                    "tra -90 e 90 gradi / between -90 and 90 degrees",
                ));
            }
            if !(long.is_finite() && (-180.0..=180.0).contains(&long)) {
                return Err(ServiceError::invalid_field(
                    "location.longitude",
                    "tra -180 e 180 gradi / between -180 and 180 degrees",
                ));
            }
            Some((lat, long))
        }
        (Some(_), None) => {
            return Err(ServiceError::invalid_field(
                "location.longitude",
                "serve con la latitudine / is required with the latitude",
            ));
        }
        (None, Some(_)) => {
            return Err(ServiceError::invalid_field(
                "location.latitude",
                "serve con la longitudine / is required with the longitude",
            ));
        }
    };
    Ok(Place {
        point,
        address: optional_text("location.address", &location.address, 300)?,
    })
}

fn requester(request: &FileReportRequest) -> Result<Requester, ServiceError> {
    let Some(r) = &request.requester else {
        return Ok(Requester::default());
    };
    let fiscal_code = match r.fiscal_code.trim() {
        "" => None,
        raw => Some(
            raw.to_ascii_uppercase()
                .parse::<CodiceFiscale>()
                .map_err(|e| ServiceError::invalid_field("requester.fiscal_code", e.to_string()))?,
        ),
    };
    let email = match r.email.trim() {
        "" => None,
        raw => Some(
            raw.parse::<Address>()
                .map_err(|e| ServiceError::invalid_field("requester.email", e.reason()))?,
        ),
    };
    let phone = optional_text("requester.phone", &r.phone, 30)?;
    if !phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '.' | '-' | '(' | ')'))
    {
        return Err(ServiceError::invalid_field(
            "requester.phone",
            "solo cifre, spazi e + - . ( ) / digits, spaces and + - . ( ) only",
        ));
    }
    Ok(Requester {
        fiscal_code,
        first_name: optional_text("requester.first_name", &r.first_name, 100)?,
        last_name: optional_text("requester.last_name", &r.last_name, 100)?,
        email,
        phone,
    })
}

impl TryFrom<&FileReportRequest> for NewReport {
    type Error = ServiceError;

    fn try_from(request: &FileReportRequest) -> Result<Self, Self::Error> {
        let channel = match Channel::try_from(request.channel) {
            Ok(
                c @ (Channel::Counter
                | Channel::Web
                | Channel::Phone
                | Channel::Email
                | Channel::Pec),
            ) => c,
            _ => {
                return Err(ServiceError::invalid_field(
                    "channel",
                    "sportello, web, telefono, e-mail o PEC / counter, web, phone, email or pec",
                ));
            }
        };
        if request.attachments.len() > MAX_ATTACHMENTS {
            return Err(ServiceError::invalid_field(
                "attachments",
                format!(
                    "al massimo {MAX_ATTACHMENTS} allegati / at most {MAX_ATTACHMENTS} attachments"
                ),
            ));
        }
        let media_url = optional_text("media_url", &request.media_url, 500)?;
        let web = media_url.starts_with("https://") || media_url.starts_with("http://");
        if !(media_url.is_empty() || web) {
            return Err(ServiceError::invalid_field(
                "media_url",
                "deve essere un indirizzo http(s) / must be an http(s) URL",
            ));
        }
        let description = text_between("description", &request.description, 10, 4000)?;
        let (description_masked, masked) = privacy::mask(&description);
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            category_code: category_code("category_code", &request.category_code)?,
            description,
            description_masked,
            masked,
            place: place(request)?,
            media_url,
            requester: requester(request)?,
            channel,
            source: optional_text("source", &request.source, 80)?,
            idempotency_key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
        })
    }
}

/// A reply to send, checked.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The report.
    pub report_id: Uuid,
    /// The letter.
    pub text: String,
    /// How it closes.
    pub outcome: Outcome,
    /// The retry key.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl TryFrom<&ReplyToReportRequest> for Reply {
    type Error = ServiceError;

    fn try_from(request: &ReplyToReportRequest) -> Result<Self, Self::Error> {
        let outcome = match ReplyOutcome::try_from(request.outcome) {
            Ok(ReplyOutcome::Resolved) => Outcome::Resolved,
            Ok(ReplyOutcome::Unfounded) => Outcome::Unfounded,
            Ok(ReplyOutcome::Forwarded) => Outcome::Forwarded,
            _ => {
                return Err(ServiceError::invalid_field(
                    "outcome",
                    "risolta (RESOLVED), infondata (UNFOUNDED) o inoltrata (FORWARDED) / \
                     RESOLVED, UNFOUNDED or FORWARDED",
                ));
            }
        };
        Ok(Self {
            report_id: report_id("report_id", &request.report_id)?,
            text: text_between("text", &request.text, 10, 8000)?,
            outcome,
            idempotency_key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
        })
    }
}

/// A report's id field.
pub fn report_id(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ServiceError::invalid_field(
            field,
            "deve essere l'id di una segnalazione (UUID) / must be a report's id (UUID)",
        )
    })
}

/// How a report is looked up: by its code (`2026-000123`) or its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Year and number.
    Code(i32, i32),
    /// The record id.
    Id(Uuid),
}

impl Lookup {
    /// Parses `raw`, naming `field` when it is neither.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
        let raw = raw.trim();
        if let Ok(id) = Uuid::parse_str(raw) {
            return Ok(Self::Id(id));
        }
        parse_code(raw).map(|(y, n)| Self::Code(y, n)).ok_or_else(|| {
            ServiceError::invalid_field(
                field,
                "deve essere il codice della segnalazione (ad es. 2026-000123) o il suo id / must \
                 be the report's code (e.g. 2026-000123) or its id",
            )
        })
    }
}

/// `2026-000123` as year and number.
pub fn parse_code(raw: &str) -> Option<(i32, i32)> {
    let (year, number) = raw.split_once('-')?;
    if year.len() != 4 || number.is_empty() || number.len() > 9 {
        return None;
    }
    if !(year.chars().all(|c| c.is_ascii_digit()) && number.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let number: i32 = number.parse().ok()?;
    (number > 0).then_some((year.parse().ok()?, number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_proto::urp::v1::{Location, Requester as RequesterMessage};

    fn filing() -> FileReportRequest {
        FileReportRequest {
            municipality_istat_code: "011015".into(),
            category_code: "strade.buca".into(),
            description: "Buca profonda davanti al civico 12, pericolosa per i motorini".into(),
            location: Some(Location {
                latitude: Some(44.1025),
                longitude: Some(9.8241),
                address: "Via Roma 12".into(),
            }),
            channel: Channel::Web as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_fiscal_code_an_email_and_a_phone_in_the_description_are_masked_and_named() {
        let mut request = filing();
        request.description = "Sono RSSMRA85T10A562S, scrivetemi a mario@example.org o al \
                               333 1234567: la buca è ancora lì"
            .into();
        let report = NewReport::try_from(&request).expect("valid");
        assert!(!report.description_masked.contains("RSSMRA85T10A562S"));
        assert!(!report.description_masked.contains("mario@example.org"));
        assert!(!report.description_masked.contains("1234567"));
        assert!(report.description_masked.contains("[codice fiscale]"));
        let ids: Vec<&str> = report.masked.iter().map(|f| found_id(*f)).collect();
        assert_eq!(ids, ["fiscal_code", "email", "phone"]);
        // The original stays for the office.
        assert!(report.description.contains("RSSMRA85T10A562S"));
    }

    #[test]
    fn half_a_point_and_a_point_off_the_globe_name_the_field() {
        let mut request = filing();
        request.location = Some(Location {
            latitude: Some(44.0),
            longitude: None,
            address: String::new(),
        });
        let error = NewReport::try_from(&request).expect_err("half a point");
        assert_eq!(error.violations()[0].field, "location.longitude");
        request.location = Some(Location {
            latitude: Some(95.0),
            longitude: Some(9.0),
            address: String::new(),
        });
        let error = NewReport::try_from(&request).expect_err("off the globe");
        assert_eq!(error.violations()[0].field, "location.latitude");
    }

    #[test]
    fn a_bad_fiscal_code_email_or_channel_is_refused_by_name() {
        let mut request = filing();
        request.requester = Some(RequesterMessage {
            fiscal_code: "RSSMRA85T10A562X".into(),
            ..Default::default()
        });
        let error = NewReport::try_from(&request).expect_err("check digit");
        assert_eq!(error.violations()[0].field, "requester.fiscal_code");
        request.requester = Some(RequesterMessage {
            email: "not an address".into(),
            ..Default::default()
        });
        let error = NewReport::try_from(&request).expect_err("email");
        assert_eq!(error.violations()[0].field, "requester.email");
        let mut request = filing();
        request.channel = Channel::Appointment as i32;
        let error = NewReport::try_from(&request).expect_err("channel");
        assert_eq!(error.violations()[0].field, "channel");
    }

    #[test]
    fn codes_parse_both_ways_and_nothing_else() {
        assert_eq!(parse_code("2026-000123"), Some((2026, 123)));
        assert_eq!(parse_code("2026-0"), None);
        assert_eq!(parse_code("26-1"), None);
        assert_eq!(parse_code("2026-12a"), None);
        assert!(Lookup::parse("code_or_id", "2026-000123").is_ok());
        assert!(Lookup::parse("code_or_id", "0194f5d2-7c1e-7000-8000-000000000001").is_ok());
        assert!(Lookup::parse("code_or_id", "'; drop table reports").is_err());
    }
}
