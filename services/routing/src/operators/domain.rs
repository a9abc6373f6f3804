//! Operators as routing keeps them.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, ServiceError, domain, events::to_proto_timestamp};
use sportello_proto::routing::v1::{
    Operator as OperatorMessage, Presence, Skill as SkillMessage, Tier,
};
use uuid::Uuid;

use crate::{catalogue::domain::ServiceType, domain::Stored};

/// A skill with its proficiency (1-5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skill {
    /// Skill code.
    pub skill: String,
    /// 1-5.
    pub proficiency: i16,
}

/// An operator's profile, as administrators set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Account id.
    pub id: String,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Name on the console and the board.
    pub display_name: String,
    /// Tier.
    pub tier: Tier,
    /// Department.
    pub department: String,
    /// Skills.
    pub skills: Vec<Skill>,
}

/// An operator: profile, seat, presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The profile.
    pub profile: Profile,
    /// Site and counter, when seated.
    pub seat: Option<(Uuid, i16)>,
    /// Presence.
    pub presence: Presence,
    /// Since when.
    pub presence_since: Timestamp,
    /// Last heartbeat.
    pub last_heartbeat_at: Option<Timestamp>,
    /// The case whose paperwork the operator is wrapping up.
    pub wrap_up_case: Option<Uuid>,
    /// Record version.
    pub version: i64,
}

/// An account id: 1-64 lowercase letters, digits, '.', '_' or '-'.
pub fn parse_operator_id(field: &str, raw: &str) -> Result<String, ServiceError> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "must be 1-64 lowercase letters, digits, '.', '_' or '-'",
        ))
    }
}

impl Profile {
    /// Parses a profile from an operator message.
    pub fn parse(m: &OperatorMessage) -> Result<Self, ServiceError> {
        let mut skills = Vec::new();
        for SkillMessage { skill, proficiency } in &m.skills {
            if !crate::catalogue::domain::is_code(skill, 32) {
                return Err(ServiceError::invalid_field(
                    "operator.skills",
                    format!("{skill:?} is not a skill code"),
                ));
            }
            let proficiency = i16::try_from(*proficiency)
                .ok()
                .filter(|p| (1..=5).contains(p))
                .ok_or_else(|| {
                    ServiceError::invalid_field(
                        "operator.skills",
                        format!("proficiency for {skill} must be 1 to 5"),
                    )
                })?;
            skills.push(Skill {
                skill: skill.clone(),
                proficiency,
            });
        }
        if !crate::catalogue::domain::is_code(&m.department, 32) {
            return Err(ServiceError::invalid_field(
                "operator.department",
                "must be a lowercase code, e.g. anagrafe",
            ));
        }
        Ok(Self {
            id: parse_operator_id("operator.id", &m.id)?,
            municipality: domain::parse_field(
                "operator.municipality_istat_code",
                &m.municipality_istat_code,
            )?,
            display_name: domain::required_text("operator.display_name", &m.display_name, 120)?,
            tier: Tier::from_request(m.tier, "operator.tier")?,
            department: m.department.clone(),
            skills,
        })
    }

    /// Whether the operator may serve `service` at a counter: a tier at least the
    /// service's, never back-office, and every required skill at its least proficiency.
    pub fn can_serve(&self, service: &ServiceType) -> bool {
        self.tier != Tier::BackOffice
            && (self.tier as i32) >= (service.tier as i32)
            && service.required_skills.iter().all(|need| {
                self.skills.iter().any(|have| {
                    have.skill == need.skill && have.proficiency >= need.min_proficiency
                })
            })
    }
}

impl Operator {
    /// As a message; `current_case` is the case they hold, if any.
    pub fn to_message(&self, current_case: Option<Uuid>) -> OperatorMessage {
        let p = &self.profile;
        OperatorMessage {
            id: p.id.clone(),
            municipality_istat_code: p.municipality.to_string(),
            display_name: p.display_name.clone(),
            tier: p.tier as i32,
            department: p.department.clone(),
            skills: p
                .skills
                .iter()
                .map(|s| SkillMessage {
                    skill: s.skill.clone(),
                    proficiency: u32::try_from(s.proficiency).unwrap_or_default(),
                })
                .collect(),
            site_id: self
                .seat
                .map(|(site, _)| site.to_string())
                .unwrap_or_default(),
            counter_number: self
                .seat
                .and_then(|(_, n)| u32::try_from(n).ok())
                .unwrap_or_default(),
            presence: self.presence as i32,
            presence_time: Some(to_proto_timestamp(self.presence_since)),
            current_case_id: current_case.map(|c| c.to_string()).unwrap_or_default(),
            version: u64::try_from(self.version).unwrap_or_default(),
        }
    }

    /// The seat, or [`crate::error::RoutingError::NotSeated`].
    pub fn seat(&self) -> Result<(Uuid, i16), crate::error::RoutingError> {
        self.seat.ok_or(crate::error::RoutingError::NotSeated)
    }

    /// Whether presence lets the operator take a case: available, or finishing the
    /// previous one's paperwork (calling ends the wrap-up).
    pub fn free_to_call(&self) -> bool {
        matches!(self.presence, Presence::Available | Presence::WrapUp)
    }

    /// The presence's name.
    pub fn presence_name(&self) -> &'static str {
        self.presence.to_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::domain::Requirement;

    fn profile(tier: Tier, skills: &[(&str, i16)]) -> Profile {
        Profile {
            id: "m.rossi".into(),
            municipality: "011015".parse().unwrap(),
            display_name: "Maria Rossi".into(),
            tier,
            department: "anagrafe".into(),
            skills: skills
                .iter()
                .map(|(s, p)| Skill {
                    skill: (*s).into(),
                    proficiency: *p,
                })
                .collect(),
        }
    }

    fn service(tier: Tier, needs: &[(&str, i16)]) -> ServiceType {
        ServiceType {
            municipality: "011015".parse().unwrap(),
            code: "registry.change_of_residence".into(),
            name: "Cambio di residenza".into(),
            department: "anagrafe".into(),
            tier,
            expected_minutes: 20,
            appointment_required: false,
            required_skills: needs
                .iter()
                .map(|(s, m)| Requirement {
                    skill: (*s).into(),
                    min_proficiency: *m,
                })
                .collect(),
            group: "anagrafe".into(),
            channels: vec![],
            documents: vec![],
            statutory_rule: String::new(),
            active: true,
            outcomes: vec![],
        }
    }

    #[test]
    fn skills_proficiency_and_tier_decide() {
        let residence = service(Tier::Polivalente, &[("anagrafe", 3)]);
        assert!(profile(Tier::Polivalente, &[("anagrafe", 3)]).can_serve(&residence));
        assert!(
            profile(Tier::Tecnico, &[("anagrafe", 5)]).can_serve(&residence),
            "a higher tier may"
        );
        assert!(
            !profile(Tier::Polivalente, &[("anagrafe", 2)]).can_serve(&residence),
            "too little proficiency"
        );
        assert!(
            !profile(Tier::InfoDesk, &[("anagrafe", 5)]).can_serve(&residence),
            "too low a tier"
        );
        assert!(
            !profile(Tier::BackOffice, &[("anagrafe", 5)]).can_serve(&residence),
            "back-office is not at a counter"
        );
        assert!(
            !profile(Tier::Polivalente, &[("suap", 5)]).can_serve(&residence),
            "another skill"
        );
    }
}
