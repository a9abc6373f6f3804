//! Service types and groups, parsed from their messages once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        ServiceGroup as GroupMessage, ServiceOutcome, ServiceType as TypeMessage, SkillRequirement,
        Tier,
    },
};

use crate::domain::Stored;

/// A skill a service needs, with the least proficiency (1-5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Requirement {
    /// Skill code.
    pub skill: String,
    /// Least proficiency, 1-5.
    pub min_proficiency: i16,
}

/// The outcomes a back-office item may be completed with when its service lists none:
/// what a counter's hand-off or a department that reads no particular outcome ends with.
/// The same set the back-office page offered before the catalogue listed outcomes.
pub const GENERAL_OUTCOMES: &[&str] = &["approved", "rejected", "informed"];

/// The most outcomes a service lists: a choice an operator makes from one short list.
pub const OUTCOMES_MAX: usize = 20;

/// The longest outcome code: as long as any outcome code a case keeps.
pub const OUTCOME_CODE_MAX: usize = 40;

/// The longest outcome name shown to the operator.
pub const OUTCOME_NAME_MAX: usize = 120;

/// An outcome a service's back-office work may be completed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Lowercase code.
    pub code: String,
    /// Name for the operator (Italian).
    pub name: String,
}

/// A service the municipality offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceType {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Owning department.
    pub department: String,
    /// Tier that handles it.
    pub tier: Tier,
    /// Expected handling minutes.
    pub expected_minutes: i16,
    /// Served only by appointment.
    pub appointment_required: bool,
    /// Skills needed.
    pub required_skills: Vec<Requirement>,
    /// Queue.
    pub group: String,
    /// Allowed channels.
    pub channels: Vec<Channel>,
    /// Documents to bring.
    pub documents: Vec<String>,
    /// Statutory rule name, or empty.
    pub statutory_rule: String,
    /// Offered now.
    pub active: bool,
    /// The outcomes its back-office work may be completed with; empty for
    /// [`GENERAL_OUTCOMES`].
    pub outcomes: Vec<Outcome>,
}

/// A queue and its letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceGroup {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Group code.
    pub code: String,
    /// Ticket letter.
    pub letter: String,
    /// Name.
    pub name: String,
}

/// A catalogue code: lowercase dotted words, `registry.residence_certificate`.
pub fn is_service_code(code: &str) -> bool {
    let mut parts = code.split('.');
    let head_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && code.len() <= 64
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// A lowercase code: skills, departments, groups, rules (`[a-z0-9_]`, 1-`max`).
pub fn is_code(code: &str, max: usize) -> bool {
    (1..=max).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn invalid(prefix: &str, field: &str, why: impl Into<String>) -> ServiceError {
    ServiceError::invalid_field(format!("{prefix}.{field}"), why)
}

impl ServiceType {
    /// Parses a service type message; `prefix` is its path in the request.
    pub fn parse(m: &TypeMessage, prefix: &str) -> Result<Self, ServiceError> {
        let municipality = domain::parse_field(
            &format!("{prefix}.municipality_istat_code"),
            &m.municipality_istat_code,
        )?;
        if !is_service_code(&m.code) {
            return Err(invalid(
                prefix,
                "code",
                "must be lowercase dotted words, e.g. registry.residence_certificate",
            ));
        }
        if !is_code(&m.department, 32) {
            return Err(invalid(
                prefix,
                "department",
                "must be a lowercase code, e.g. anagrafe",
            ));
        }
        let tier = Tier::from_request(m.default_tier, &format!("{prefix}.default_tier"))?;
        let expected_minutes = i16::try_from(m.expected_minutes)
            .ok()
            .filter(|n| (1..=480).contains(n))
            .ok_or_else(|| invalid(prefix, "expected_minutes", "must be 1 to 480"))?;
        let mut required_skills = Vec::new();
        for SkillRequirement {
            skill,
            min_proficiency,
        } in &m.required_skills
        {
            if !is_code(skill, 32) {
                return Err(invalid(
                    prefix,
                    "required_skills",
                    format!("{skill:?} is not a skill code"),
                ));
            }
            let min = i16::try_from(*min_proficiency)
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| {
                    invalid(
                        prefix,
                        "required_skills",
                        format!("proficiency for {skill} must be 1 to 5"),
                    )
                })?;
            required_skills.push(Requirement {
                skill: skill.clone(),
                min_proficiency: min,
            });
        }
        if !is_code(&m.service_group, 32) {
            return Err(invalid(
                prefix,
                "service_group",
                "must be a service group code",
            ));
        }
        let channels = m
            .allowed_channels
            .iter()
            .map(|c| Channel::from_request(*c, &format!("{prefix}.allowed_channels")))
            .collect::<Result<Vec<_>, _>>()?;
        if channels.is_empty() {
            return Err(invalid(
                prefix,
                "allowed_channels",
                "must name at least one channel",
            ));
        }
        let documents = m
            .required_documents
            .iter()
            .map(|d| domain::required_text(&format!("{prefix}.required_documents"), d, 200))
            .collect::<Result<Vec<_>, _>>()?;
        if !(m.statutory_rule.is_empty() || is_code(&m.statutory_rule, 40)) {
            return Err(invalid(
                prefix,
                "statutory_rule",
                "must be a lowercase rule name or empty",
            ));
        }
        let outcomes = parse_outcomes(&m.outcomes, prefix)?;
        Ok(Self {
            municipality,
            code: m.code.clone(),
            name: domain::required_text(&format!("{prefix}.name"), &m.name, 120)?,
            department: m.department.clone(),
            tier,
            expected_minutes,
            appointment_required: m.appointment_required,
            required_skills,
            group: m.service_group.clone(),
            channels,
            documents,
            statutory_rule: m.statutory_rule.clone(),
            active: m.active,
            outcomes,
        })
    }

    /// As a message.
    pub fn to_message(&self, version: i64) -> TypeMessage {
        TypeMessage {
            municipality_istat_code: self.municipality.to_string(),
            code: self.code.clone(),
            name: self.name.clone(),
            department: self.department.clone(),
            default_tier: self.tier as i32,
            expected_minutes: u32::try_from(self.expected_minutes).unwrap_or_default(),
            appointment_required: self.appointment_required,
            required_skills: self
                .required_skills
                .iter()
                .map(|r| SkillRequirement {
                    skill: r.skill.clone(),
                    min_proficiency: u32::try_from(r.min_proficiency).unwrap_or_default(),
                })
                .collect(),
            service_group: self.group.clone(),
            allowed_channels: self.channels.iter().map(|c| *c as i32).collect(),
            required_documents: self.documents.clone(),
            statutory_rule: self.statutory_rule.clone(),
            active: self.active,
            version: u64::try_from(version).unwrap_or_default(),
            outcomes: self
                .outcomes
                .iter()
                .map(|o| ServiceOutcome {
                    code: o.code.clone(),
                    name: o.name.clone(),
                })
                .collect(),
        }
    }

    /// Whether a request may arrive through `channel`.
    pub fn allows(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }

    /// The codes its back-office work may be completed with: its own outcomes, or the
    /// general ones when it lists none.
    pub fn outcome_codes(&self) -> Vec<&str> {
        if self.outcomes.is_empty() {
            GENERAL_OUTCOMES.to_vec()
        } else {
            self.outcomes.iter().map(|o| o.code.as_str()).collect()
        }
    }
}

/// Parses a service's outcomes, each named by its path (`service_type.outcomes[1].code`)
/// so an administrator finds the one entry that is wrong.
fn parse_outcomes(list: &[ServiceOutcome], prefix: &str) -> Result<Vec<Outcome>, ServiceError> {
    if list.len() > OUTCOMES_MAX {
        return Err(invalid(
            prefix,
            "outcomes",
            format!("must list at most {OUTCOMES_MAX} outcomes"),
        ));
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(list.len());
    for (i, ServiceOutcome { code, name }) in list.iter().enumerate() {
        let at = format!("{prefix}.outcomes[{i}]");
        if !is_code(code, OUTCOME_CODE_MAX) {
            return Err(ServiceError::invalid_field(
                format!("{at}.code"),
                format!(
                    "must be a lowercase code of 1 to {OUTCOME_CODE_MAX} characters \
                     (a-z, 0-9, _), e.g. check_passed"
                ),
            ));
        }
        // Two entries with one code: the operator would see two names for one outcome,
        // and the department could not tell which was meant.
        if outcomes.iter().any(|o| o.code == *code) {
            return Err(ServiceError::invalid_field(
                format!("{at}.code"),
                format!("{code} is listed twice"),
            ));
        }
        let name = domain::required_text(&format!("{at}.name"), name, OUTCOME_NAME_MAX)?;
        outcomes.push(Outcome {
            code: code.clone(),
            name,
        });
    }
    Ok(outcomes)
}

impl ServiceGroup {
    /// Parses a group message.
    pub fn parse(m: &GroupMessage) -> Result<Self, ServiceError> {
        let prefix = "service_group";
        let municipality = domain::parse_field(
            &format!("{prefix}.municipality_istat_code"),
            &m.municipality_istat_code,
        )?;
        if !is_code(&m.code, 32) {
            return Err(invalid(
                prefix,
                "code",
                "must be a lowercase code, e.g. anagrafe",
            ));
        }
        if m.letter.len() != 1 || !m.letter.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(invalid(prefix, "letter", "must be one capital letter"));
        }
        Ok(Self {
            municipality,
            code: m.code.clone(),
            letter: m.letter.clone(),
            name: domain::required_text(&format!("{prefix}.name"), &m.name, 80)?,
        })
    }

    /// As a message.
    pub fn to_message(&self) -> GroupMessage {
        GroupMessage {
            municipality_istat_code: self.municipality.to_string(),
            code: self.code.clone(),
            letter: self.letter.clone(),
            name: self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn message() -> TypeMessage {
        TypeMessage {
            municipality_istat_code: "011015".into(),
            code: "registry.residence_certificate".into(),
            name: "Certificato di residenza".into(),
            department: "anagrafe".into(),
            default_tier: Tier::InfoDesk as i32,
            expected_minutes: 3,
            appointment_required: false,
            required_skills: vec![SkillRequirement {
                skill: "anagrafe".into(),
                min_proficiency: 1,
            }],
            service_group: "anagrafe".into(),
            allowed_channels: vec![Channel::Counter as i32],
            required_documents: vec!["Documento d'identità".into()],
            statutory_rule: String::new(),
            active: true,
            version: 0,
            outcomes: vec![
                ServiceOutcome {
                    code: "issued".into(),
                    name: "Certificato rilasciato".into(),
                },
                ServiceOutcome {
                    code: "not_issued".into(),
                    name: "Certificato non rilasciabile".into(),
                },
            ],
        }
    }

    #[test]
    fn a_service_type_round_trips() {
        let parsed = ServiceType::parse(&message(), "service_type").unwrap();
        assert_eq!(parsed.to_message(0), message());
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &message(),
            |m| ServiceType::parse(m, "service_type"),
            &[
                ("service_type.code", |m| m.code = "Residence".into()),
                ("service_type.department", |m| {
                    m.department = "Anagrafe".into()
                }),
                ("service_type.default_tier", |m| m.default_tier = 0),
                ("service_type.expected_minutes", |m| m.expected_minutes = 0),
                ("service_type.required_skills", |m| {
                    m.required_skills[0].min_proficiency = 6
                }),
                ("service_type.service_group", |m| m.service_group.clear()),
                ("service_type.allowed_channels", |m| {
                    m.allowed_channels.clear()
                }),
                ("service_type.statutory_rule", |m| {
                    m.statutory_rule = "L. 241".into()
                }),
                ("service_type.name", |m| m.name.clear()),
                ("service_type.outcomes[1].code", |m| {
                    m.outcomes[1].code = "Not issued".into()
                }),
                ("service_type.outcomes[1].code", |m| {
                    m.outcomes[1].code = "issued".into()
                }),
                ("service_type.outcomes[0].code", |m| {
                    m.outcomes[0].code.clear()
                }),
                ("service_type.outcomes[0].name", |m| {
                    m.outcomes[0].name = " ".into()
                }),
                ("service_type.outcomes[1].name", |m| {
                    m.outcomes[1].name = "x".repeat(121)
                }),
                ("service_type.outcomes", |m| {
                    m.outcomes = (0..21)
                        .map(|i| ServiceOutcome {
                            code: format!("outcome_{i}"),
                            name: format!("Esito {i}"),
                        })
                        .collect()
                }),
            ],
        );
    }

    #[test]
    fn without_outcomes_a_service_takes_the_general_ones() {
        let mut m = message();
        let listed = ServiceType::parse(&m, "service_type").unwrap();
        assert_eq!(listed.outcome_codes(), ["issued", "not_issued"]);
        m.outcomes.clear();
        let general = ServiceType::parse(&m, "service_type").unwrap();
        assert_eq!(general.outcome_codes(), GENERAL_OUTCOMES);
    }
}
