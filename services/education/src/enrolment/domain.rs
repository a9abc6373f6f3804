//! Enrolment requests parsed into domain types at the edge: every field checked and
//! named when wrong, before anything is asked or written.

use std::collections::HashMap;

use jiff::civil::Date;
use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::{
    common::v1::Channel,
    education::v1::{
        Criteria as CriteriaMessage, FileApplicationRequest, IncomeBand as IncomeBandMessage,
        OpenWindowRequest, RankingStage, SchoolLevel,
    },
};
use uuid::Uuid;

use super::{
    age::SchoolYear,
    criteria::{Criteria, Declared, IncomeBand},
};

/// A window's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowId(pub Uuid);

/// An objection's id (and its back-office work's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectionId(pub Uuid);

/// An application's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationId(pub Uuid);

/// The services a window takes applications for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// *Nido d'infanzia*, 3 to 36 months.
    Nursery,
    /// *Scuola dell'infanzia*, 3 to 6 years.
    PreSchool,
}

impl Service {
    /// Its name in the database (the schools' level names).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Nursery => "nido",
            Self::PreSchool => "infanzia",
        }
    }

    /// From its name in the database.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "nido" => Some(Self::Nursery),
            "infanzia" => Some(Self::PreSchool),
            _ => None,
        }
    }

    /// Its level on the wire.
    pub const fn level(self) -> SchoolLevel {
        match self {
            Self::Nursery => SchoolLevel::Nido,
            Self::PreSchool => SchoolLevel::Infanzia,
        }
    }

    /// The prefix of its applications' codes.
    pub const fn code_prefix(self) -> &'static str {
        match self {
            Self::Nursery => "NIDO",
            Self::PreSchool => "INF",
        }
    }
}

/// A window to open.
#[derive(Debug, Clone)]
pub struct NewWindow {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The service.
    pub service: Service,
    /// The school year.
    pub year: SchoolYear,
    /// First day applications are taken.
    pub opens_on: Date,
    /// Last day.
    pub closes_on: Date,
    /// The day the service starts.
    pub starts_on: Date,
    /// The criteria.
    pub criteria: Criteria,
    /// Days after the provisional ranking within which families may object.
    pub objection_days: i16,
    /// Places offered for the year (0: not known yet).
    pub places: i32,
    /// Days a family has to answer an offer.
    pub acceptance_days: i16,
    /// Percentage of applications whose declarations are checked.
    pub check_percent: i16,
}

/// Reads the criteria, checked.
pub fn criteria_from_message(message: Option<&CriteriaMessage>) -> Result<Criteria, ServiceError> {
    let Some(m) = message else {
        return Err(ServiceError::invalid_field(
            "criteria",
            "obbligatori: i criteri di graduatoria pubblicati / required: the published criteria",
        ));
    };
    if m.version == 0 {
        return Err(ServiceError::invalid_field(
            "criteria.version",
            "da 1 / from 1",
        ));
    }
    let working_parents: [u32; 3] = m.working_parents_points.as_slice().try_into().map_err(|_| {
        ServiceError::invalid_field(
            "criteria.working_parents_points",
            "tre valori: nessun genitore, uno, entrambi che lavorano / three values: none, one, \
             both working",
        )
    })?;
    let max_siblings = u8::try_from(m.max_siblings)
        .ok()
        .filter(|n| *n <= 20)
        .ok_or_else(|| {
            ServiceError::invalid_field("criteria.max_siblings", "da 0 a 20 / 0 to 20")
        })?;
    let criteria = Criteria {
        version: m.version,
        resident: m.resident_points,
        working_parents,
        sibling_enrolled: m.sibling_points,
        max_siblings,
        disability: m.disability_points,
        income_bands: m
            .income_bands
            .iter()
            .map(|b| IncomeBand {
                up_to_cents: b.up_to_cents,
                points: b.points,
            })
            .collect(),
    };
    // Points are summed: keep any total far from overflowing.
    let most = [
        criteria.resident,
        criteria.sibling_enrolled,
        criteria.disability,
    ]
    .into_iter()
    .chain(criteria.working_parents)
    .chain(criteria.income_bands.iter().map(|b| b.points))
    .max()
    .unwrap_or(0);
    if most > 1000 {
        return Err(ServiceError::invalid_field(
            "criteria",
            "al massimo 1000 punti per criterio / at most 1000 points per criterion",
        ));
    }
    criteria.check()?;
    Ok(criteria)
}

/// The criteria on the wire.
pub fn criteria_message(criteria: &Criteria) -> CriteriaMessage {
    CriteriaMessage {
        version: criteria.version,
        resident_points: criteria.resident,
        working_parents_points: criteria.working_parents.to_vec(),
        sibling_points: criteria.sibling_enrolled,
        max_siblings: u32::from(criteria.max_siblings),
        disability_points: criteria.disability,
        income_bands: criteria
            .income_bands
            .iter()
            .map(|b| IncomeBandMessage {
                up_to_cents: b.up_to_cents,
                points: b.points,
            })
            .collect(),
    }
}

fn parse_service(raw: i32) -> Result<Service, ServiceError> {
    match SchoolLevel::try_from(raw) {
        Ok(SchoolLevel::Nido) => Ok(Service::Nursery),
        Ok(SchoolLevel::Infanzia) => Ok(Service::PreSchool),
        _ => Err(ServiceError::invalid_field(
            "level",
            "SCHOOL_LEVEL_NIDO o SCHOOL_LEVEL_INFANZIA: le iscrizioni del comune / the \
             municipality's enrolments",
        )),
    }
}

impl TryFrom<&OpenWindowRequest> for NewWindow {
    type Error = ServiceError;

    fn try_from(r: &OpenWindowRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let service = parse_service(r.level)?;
        let year = i16::try_from(r.school_year)
            .ok()
            .filter(|y| (2000..=2200).contains(y))
            .map(SchoolYear)
            .ok_or_else(|| {
                ServiceError::invalid_field("school_year", "anno 2000-2200 / year 2000-2200")
            })?;
        let opens_on = domain::parse_date("opens_on", &r.opens_on)?;
        let closes_on = domain::parse_date("closes_on", &r.closes_on)?;
        let starts_on = domain::parse_date("starts_on", &r.starts_on)?;
        if closes_on < opens_on {
            return Err(ServiceError::invalid_field(
                "closes_on",
                "non prima dell'apertura / not before opens_on",
            ));
        }
        if starts_on <= closes_on {
            return Err(ServiceError::invalid_field(
                "starts_on",
                "dopo la chiusura delle iscrizioni / after closes_on",
            ));
        }
        if starts_on.year() != year.0 {
            return Err(ServiceError::invalid_field(
                "starts_on",
                format!("nell'anno scolastico {year} / in the school year {year}"),
            ));
        }
        let objection_days = match r.objection_days {
            0 => 10,
            days @ 1..=60 => i16::try_from(days).unwrap_or(10),
            _ => {
                return Err(ServiceError::invalid_field(
                    "objection_days",
                    "da 1 a 60 giorni (0: 10) / 1 to 60 days (0: 10)",
                ));
            }
        };
        let places = i32::try_from(r.places)
            .ok()
            .filter(|p| *p <= 100_000)
            .ok_or_else(|| {
                ServiceError::invalid_field("places", "al massimo 100000 / at most 100000")
            })?;
        let acceptance_days = match r.acceptance_days {
            0 => 7,
            days @ 1..=30 => i16::try_from(days).unwrap_or(7),
            _ => {
                return Err(ServiceError::invalid_field(
                    "acceptance_days",
                    "da 1 a 30 giorni (0: 7) / 1 to 30 days (0: 7)",
                ));
            }
        };
        let check_percent = match r.check_percent {
            0 => 5,
            percent @ 1..=100 => i16::try_from(percent).unwrap_or(5),
            _ => {
                return Err(ServiceError::invalid_field(
                    "check_percent",
                    "da 1 a 100 (0: 5) / 1 to 100 (0: 5)",
                ));
            }
        };
        Ok(Self {
            municipality,
            service,
            year,
            opens_on,
            closes_on,
            starts_on,
            criteria: criteria_from_message(r.criteria.as_ref())?,
            objection_days,
            places,
            acceptance_days,
            check_percent,
        })
    }
}

/// How an application arrived: at the counter, or from a department system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    /// An operator at the counter, with the family.
    Counter,
    /// A department system (the municipality's online portal, a school's office).
    System,
}

impl Filing {
    /// Parses the `channel` field.
    pub fn parse(raw: i32) -> Result<Self, ServiceError> {
        match Channel::try_from(raw) {
            Ok(Channel::Counter) => Ok(Self::Counter),
            Ok(Channel::Web | Channel::Pec) => Ok(Self::System),
            _ => Err(ServiceError::invalid_field(
                "channel",
                "CHANNEL_COUNTER allo sportello, CHANNEL_WEB o CHANNEL_PEC da un sistema / the \
                 counter, or a department system",
            )),
        }
    }

    /// The channel the protocol register records.
    pub const fn channel(self) -> Channel {
        match self {
            Self::Counter => Channel::Counter,
            Self::System => Channel::Web,
        }
    }

    /// Its name in the database.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::System => "system",
        }
    }
}

/// An application to file, parsed; residence is the registry's, asked next.
pub struct NewApplication {
    /// The window.
    pub window_id: WindowId,
    /// The child.
    pub child: CodiceFiscale,
    /// The applicant (a parent or guardian).
    pub applicant: CodiceFiscale,
    /// The applicant's name, for the protocol register only.
    pub applicant_name: String,
    /// The declarations (`resident` false until the registry answers).
    pub declared: Declared,
    /// The DSU protocol number, with an ISEE value.
    pub dsu_protocol: Option<String>,
    /// How it arrived.
    pub filing: Filing,
}

impl std::fmt::Debug for NewApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Fiscal codes and names stay out of logs.
        f.debug_struct("NewApplication")
            .field("window_id", &self.window_id)
            .field("filing", &self.filing)
            .finish_non_exhaustive()
    }
}

/// Reads a required fiscal code, naming `field` when it is missing or wrong.
pub fn parse_fiscal_code(field: &str, raw: &str) -> Result<CodiceFiscale, ServiceError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ServiceError::invalid_field(
            field,
            "obbligatorio / required",
        ));
    }
    raw.to_ascii_uppercase()
        .parse::<CodiceFiscale>()
        .map_err(|e| ServiceError::invalid_field(field, e.to_string()))
}

/// A DSU protocol number as INPS prints it (`INPS-ISEE-2027-00012345A-00`): capitals,
/// digits and dashes.
pub fn parse_dsu(raw: &str) -> Result<String, ServiceError> {
    let dsu = raw.trim().to_ascii_uppercase();
    if dsu.is_empty()
        || dsu.len() > 40
        || !dsu
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ServiceError::invalid_field(
            "dsu_protocol",
            "il numero di protocollo della DSU, es. INPS-ISEE-2027-00012345A-00 / the DSU's \
             protocol number",
        ));
    }
    Ok(dsu)
}

impl TryFrom<&FileApplicationRequest> for NewApplication {
    type Error = ServiceError;

    fn try_from(r: &FileApplicationRequest) -> Result<Self, Self::Error> {
        let window_id = WindowId(domain::parse_field("window_id", r.window_id.trim())?);
        let child = parse_fiscal_code("child_fiscal_code", &r.child_fiscal_code)?;
        let applicant = parse_fiscal_code("applicant_fiscal_code", &r.applicant_fiscal_code)?;
        if applicant == child {
            return Err(ServiceError::invalid_field(
                "applicant_fiscal_code",
                "chi presenta la domanda è un genitore o il tutore, non il bambino / the \
                 applicant is a parent or guardian, not the child",
            ));
        }
        let applicant_name = r.applicant_name.trim().chars().take(200).collect();
        let working_parents = u8::try_from(r.working_parents).unwrap_or(u8::MAX);
        let siblings_enrolled = u8::try_from(r.siblings_enrolled)
            .ok()
            .filter(|n| *n <= 20)
            .ok_or_else(|| {
                ServiceError::invalid_field("siblings_enrolled", "da 0 a 20 / 0 to 20")
            })?;
        let declared = Declared {
            resident: false,
            working_parents,
            siblings_enrolled,
            disability: r.disability_certified,
            isee_cents: r.isee_value_cents,
        };
        declared.check()?;
        let dsu_protocol = match (r.isee_value_cents, r.dsu_protocol.trim()) {
            (Some(_), raw) => Some(parse_dsu(raw)?),
            (None, "") => None,
            (None, _) => {
                return Err(ServiceError::invalid_field(
                    "isee_value_cents",
                    "manca il valore ISEE della DSU indicata / the ISEE value of the DSU given \
                     is missing",
                ));
            }
        };
        let filing = Filing::parse(r.channel)?;
        Ok(Self {
            window_id,
            child,
            applicant,
            applicant_name,
            declared,
            dsu_protocol,
            filing,
        })
    }
}

/// Reads the corrected declarations a specialist gives in a work result (an objection
/// upheld, a check that found a declaration untrue) over `declared`: only the keys given
/// change; a bad value is named by its key. Returns them with the DSU number
/// when the result changes it (`Some(None)`: no ISEE any more).
pub fn corrected_declarations(
    mut declared: Declared,
    result: &HashMap<String, String>,
) -> Result<(Declared, Option<Option<String>>), ServiceError> {
    let get = |key: &str| result.get(key).map(|raw| raw.trim());
    let count = |key: &str, raw: &str| {
        raw.parse::<u8>().ok().filter(|n| *n <= 20).ok_or_else(|| {
            ServiceError::invalid_field(format!("result.{key}"), "da 0 a 20 / 0 to 20")
        })
    };
    if let Some(raw) = get("working_parents") {
        declared.working_parents = count("working_parents", raw)?;
    }
    if let Some(raw) = get("siblings_enrolled") {
        declared.siblings_enrolled = count("siblings_enrolled", raw)?;
    }
    if let Some(raw) = get("disability_certified") {
        declared.disability = match raw {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ServiceError::invalid_field(
                    "result.disability_certified",
                    "true o false / true or false",
                ));
            }
        };
    }
    let mut dsu = match get("dsu_protocol") {
        Some(raw) => Some(Some(parse_dsu(raw).map_err(|_| {
            ServiceError::invalid_field(
                "result.dsu_protocol",
                "il numero della DSU, es. INPS-ISEE-2027-00012345A-00 / the DSU's number",
            )
        })?)),
        None => None,
    };
    match get("isee_value_cents") {
        // `none` wins over a DSU number given beside it: no ISEE, no DSU.
        Some("none") => {
            declared.isee_cents = None;
            dsu = Some(None);
        }
        Some(raw) => {
            declared.isee_cents = Some(raw.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                ServiceError::invalid_field(
                    "result.isee_value_cents",
                    "centesimi di euro, non negativi, o none / euro cents, not negative, or none",
                )
            })?);
        }
        None => {}
    }
    if declared.working_parents > 2 {
        return Err(ServiceError::invalid_field(
            "result.working_parents",
            "0, 1 o 2 / 0, 1 or 2",
        ));
    }
    Ok((declared, dsu))
}

/// A ranking's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Open to objections.
    Provisional,
    /// Places are offered in its order.
    Final,
}

impl Stage {
    /// Parses the `stage` field.
    pub fn parse(raw: i32) -> Result<Self, ServiceError> {
        match RankingStage::try_from(raw) {
            Ok(RankingStage::Provisional) => Ok(Self::Provisional),
            Ok(RankingStage::Final) => Ok(Self::Final),
            _ => Err(ServiceError::invalid_field(
                "stage",
                "RANKING_STAGE_PROVISIONAL o RANKING_STAGE_FINAL",
            )),
        }
    }

    /// Its name in the database.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Provisional => "provisional",
            Self::Final => "final",
        }
    }

    /// On the wire.
    pub const fn message(self) -> RankingStage {
        match self {
            Self::Provisional => RankingStage::Provisional,
            Self::Final => RankingStage::Final,
        }
    }
}
