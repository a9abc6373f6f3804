//! Surges as routing keeps them: rosters, windows, what a surge did to each operator, and
//! the counters' capacity on a day.

use std::collections::BTreeMap;

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, ServiceError, domain, events::to_proto_timestamp};
use sportello_pa::calendar::rome;
use sportello_proto::{
    education::v1::{ApplicationFiled, EnrolmentWindowOpened, SchoolLevel},
    routing::v1::{
        Surge as SurgeMessage, SurgeOperator as SurgeOperatorMessage, SurgeRoster as RosterMessage,
        SurgeStatus,
    },
};
use uuid::Uuid;

use crate::{
    domain::{Stored, stored},
    operators::domain::{Skill, parse_operator_id},
};

stored!(SurgeStatus {
    Scheduled => "scheduled",
    Active => "active",
    Ended => "ended",
});

/// How many operators a roster may name.
pub const MAX_ROSTER: usize = 200;

/// The operators designated to reinforce a skill during peaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The skill they gain.
    pub skill: String,
    /// At this proficiency (1-5).
    pub proficiency: i16,
    /// Their account ids, in the order given.
    pub operator_ids: Vec<String>,
    /// Record version (0: none set).
    pub version: i64,
}

/// A skill code field: lowercase letters, digits and `_`, 1-32.
pub fn parse_skill(field: &str, raw: &str) -> Result<String, ServiceError> {
    if crate::catalogue::domain::is_code(raw, 32) {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "un codice di competenza, es. servizi_educativi / a skill code, e.g. servizi_educativi",
        ))
    }
}

impl Roster {
    /// Parses SetSurgeRoster's roster; the version is the one the caller read.
    pub fn parse(m: &RosterMessage) -> Result<Self, ServiceError> {
        let municipality =
            domain::parse_field("roster.municipality_istat_code", &m.municipality_istat_code)?;
        let skill = parse_skill("roster.skill", &m.skill)?;
        let proficiency = i16::try_from(m.proficiency)
            .ok()
            .filter(|p| (1..=5).contains(p))
            .ok_or_else(|| {
                ServiceError::invalid_field("roster.proficiency", "da 1 a 5 / must be 1 to 5")
            })?;
        if m.operator_ids.len() > MAX_ROSTER {
            return Err(ServiceError::invalid_field(
                "roster.operator_ids",
                format!("al massimo {MAX_ROSTER} operatori / at most {MAX_ROSTER} operators"),
            ));
        }
        let mut operator_ids = Vec::with_capacity(m.operator_ids.len());
        for raw in &m.operator_ids {
            let id = parse_operator_id("roster.operator_ids", raw)?;
            if operator_ids.contains(&id) {
                return Err(ServiceError::invalid_field(
                    "roster.operator_ids",
                    format!("{id} è ripetuto / {id} is repeated"),
                ));
            }
            operator_ids.push(id);
        }
        let version = i64::try_from(m.version).map_err(|_| {
            ServiceError::invalid_field("roster.version", "troppo grande / is too large")
        })?;
        Ok(Self {
            municipality,
            skill,
            proficiency,
            operator_ids,
            version,
        })
    }

    /// As a message.
    pub fn to_message(&self) -> RosterMessage {
        RosterMessage {
            municipality_istat_code: self.municipality.to_string(),
            skill: self.skill.clone(),
            proficiency: u32::try_from(self.proficiency).unwrap_or_default(),
            operator_ids: self.operator_ids.clone(),
            version: u64::try_from(self.version).unwrap_or_default(),
        }
    }
}

/// An enrolment window as education announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Education's window id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The school level, e.g. `nido`.
    pub level: String,
    /// The school year by the calendar year it starts in.
    pub school_year: i32,
    /// The first day.
    pub opens_on: Date,
    /// The last day.
    pub closes_on: Date,
}

impl Window {
    /// Parses education's event; what is wrong names the event's field.
    pub fn parse(m: &EnrolmentWindowOpened) -> Result<Self, ServiceError> {
        let opens_on = domain::parse_date("opens_on", &m.opens_on)?;
        let closes_on = domain::parse_date("closes_on", &m.closes_on)?;
        if closes_on < opens_on {
            return Err(ServiceError::invalid_field(
                "closes_on",
                "precede opens_on / is before opens_on",
            ));
        }
        let too_long = opens_on
            .until(closes_on)
            .map(|span| span.get_days() > 366)
            .unwrap_or(true);
        if too_long {
            return Err(ServiceError::invalid_field(
                "closes_on",
                "più di un anno dopo opens_on / more than a year after opens_on",
            ));
        }
        let level = SchoolLevel::try_from(m.level)
            .ok()
            .filter(|l| *l != SchoolLevel::Unspecified)
            .ok_or_else(|| {
                ServiceError::invalid_field("level", "livello sconosciuto / unknown level")
            })?;
        let school_year = Some(m.school_year)
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| ServiceError::invalid_field("school_year", "2000-2100"))?;
        Ok(Self {
            id: domain::parse_field("window_id", &m.window_id)?,
            municipality: domain::parse_field(
                "municipality_istat_code",
                &m.municipality_istat_code,
            )?,
            level: level
                .as_str_name()
                .trim_start_matches("SCHOOL_LEVEL_")
                .to_ascii_lowercase(),
            school_year,
            opens_on,
            closes_on,
        })
    }

    /// When its surge starts: 00:00 of the first day, and ends: the end of the last day
    /// (Europe/Rome).
    pub fn span(&self) -> Result<(Timestamp, Timestamp), ServiceError> {
        let starts = rome::start_of_day(self.opens_on).map_err(ServiceError::internal)?;
        let ends = rome::end_of_day(self.closes_on).map_err(ServiceError::internal)?;
        Ok((starts, ends))
    }
}

/// An application filed in a window: ids only, counted on the Rome day it was filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// The application's id.
    pub application_id: Uuid,
    /// The window's id.
    pub window_id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The Europe/Rome day it was filed (the event's commit time).
    pub filed_on: Date,
}

impl Filed {
    /// Parses education's event, filed at `time` (the event's commit time). The child's
    /// reference is not read: routing counts, it does not need to know whose.
    pub fn parse(m: &ApplicationFiled, time: Timestamp) -> Result<Self, ServiceError> {
        Ok(Self {
            application_id: domain::parse_field("application_id", &m.application_id)?,
            window_id: domain::parse_field("window_id", &m.window_id)?,
            municipality: domain::parse_field(
                "municipality_istat_code",
                &m.municipality_istat_code,
            )?,
            filed_on: rome::date_of(time),
        })
    }
}

/// What a surge did to one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reskilled {
    /// The operator.
    pub operator_id: String,
    /// Their proficiency before, if they had the skill.
    pub prior: Option<i16>,
    /// The proficiency the surge gave (or found in place).
    pub granted: i16,
    /// Whether the surge changed their skills.
    pub changed: bool,
    /// Whether the end put the prior proficiency back.
    pub restored: bool,
}

/// A surge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surge {
    /// Its id.
    pub id: Uuid,
    /// The window.
    pub window: Window,
    /// The skill reinforced.
    pub skill: String,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// State.
    pub status: SurgeStatus,
    /// What it did to each operator, by operator id.
    pub operators: Vec<Reskilled>,
    /// Record version.
    pub version: i64,
}

impl Surge {
    /// As a message.
    pub fn to_message(&self) -> SurgeMessage {
        let w = &self.window;
        SurgeMessage {
            id: self.id.to_string(),
            municipality_istat_code: w.municipality.to_string(),
            window_id: w.id.to_string(),
            level: w.level.clone(),
            school_year: w.school_year,
            skill: self.skill.clone(),
            opens_on: w.opens_on.to_string(),
            closes_on: w.closes_on.to_string(),
            starts_at: Some(to_proto_timestamp(self.starts_at)),
            ends_at: Some(to_proto_timestamp(self.ends_at)),
            status: self.status as i32,
            operators: self
                .operators
                .iter()
                .map(|o| SurgeOperatorMessage {
                    operator_id: o.operator_id.clone(),
                    prior_proficiency: o
                        .prior
                        .and_then(|p| u32::try_from(p).ok())
                        .unwrap_or_default(),
                    granted_proficiency: u32::try_from(o.granted).unwrap_or_default(),
                    changed: o.changed,
                    restored: o.restored,
                })
                .collect(),
            version: u64::try_from(self.version).unwrap_or_default(),
        }
    }
}

/// The proficiency an operator holds in `skill`, if any.
pub fn proficiency_in(skills: &[Skill], skill: &str) -> Option<i16> {
    skills
        .iter()
        .filter(|s| s.skill == skill)
        .map(|s| s.proficiency)
        .max()
}

/// `skills` with `skill` at `proficiency` (`None`: without it), the others untouched
/// and in their order.
pub fn with_skill(skills: &[Skill], skill: &str, proficiency: Option<i16>) -> Vec<Skill> {
    let mut out: Vec<Skill> = skills
        .iter()
        .filter(|s| s.skill != skill)
        .cloned()
        .collect();
    if let Some(proficiency) = proficiency {
        // Back where it was, when it was there.
        let at = skills
            .iter()
            .position(|s| s.skill == skill)
            .unwrap_or(out.len())
            .min(out.len());
        out.insert(
            at,
            Skill {
                skill: skill.to_owned(),
                proficiency,
            },
        );
    }
    out
}

/// A site's counters and opening for the capacity count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteOpening {
    /// Its counters.
    pub counters: i64,
    /// Opening minutes per ISO weekday (1 Monday … 7 Sunday) from its hours, when it has
    /// any for the service's group (or for every group).
    pub minutes_by_weekday: Option<BTreeMap<i8, i64>>,
    /// Days it is closed.
    pub closures: Vec<Date>,
}

/// Opening minutes of a site without hours of its own: 08:30-13:30, Monday to Friday.
pub const DEFAULT_OPENING_MINUTES: i64 = 300;

/// How many of the service's cases the counters can take on `day`:
/// Σ over the sites (counters × that day's opening minutes) ÷ the service's expected
/// minutes. A site's opening minutes are its appointment hours for that weekday (the
/// service's group's, else every group's); a site without hours is open
/// [`DEFAULT_OPENING_MINUTES`] Monday to Friday. National holidays and the site's
/// closures count 0.
pub fn capacity(day: Date, sites: &[SiteOpening], expected_minutes: i64) -> i64 {
    if expected_minutes <= 0 || sportello_pa::calendar::holidays::national_holiday(day).is_some() {
        return 0;
    }
    let weekday = day.weekday().to_monday_one_offset();
    let minutes: i64 = sites
        .iter()
        .filter(|s| !s.closures.contains(&day))
        .map(|s| {
            let open = match &s.minutes_by_weekday {
                Some(hours) => hours.get(&weekday).copied().unwrap_or(0),
                None if weekday <= 5 => DEFAULT_OPENING_MINUTES,
                None => 0,
            };
            s.counters.saturating_mul(open)
        })
        .sum();
    minutes / expected_minutes
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn skills(list: &[(&str, i16)]) -> Vec<Skill> {
        list.iter()
            .map(|(s, p)| Skill {
                skill: (*s).into(),
                proficiency: *p,
            })
            .collect()
    }

    #[test]
    fn a_skill_is_set_and_taken_back_in_place() {
        let before = skills(&[("anagrafe", 3), ("servizi_educativi", 1), ("urp", 2)]);
        let raised = with_skill(&before, "servizi_educativi", Some(2));
        assert_eq!(
            raised,
            skills(&[("anagrafe", 3), ("servizi_educativi", 2), ("urp", 2)])
        );
        assert_eq!(with_skill(&raised, "servizi_educativi", Some(1)), before);
        let plain = skills(&[("anagrafe", 3)]);
        let added = with_skill(&plain, "servizi_educativi", Some(2));
        assert_eq!(added, skills(&[("anagrafe", 3), ("servizi_educativi", 2)]));
        assert_eq!(with_skill(&added, "servizi_educativi", None), plain);
        assert_eq!(proficiency_in(&added, "servizi_educativi"), Some(2));
        assert_eq!(proficiency_in(&plain, "servizi_educativi"), None);
    }

    #[test]
    fn capacity_is_counters_times_minutes_over_the_service_time() {
        let default_site = SiteOpening {
            counters: 4,
            minutes_by_weekday: None,
            closures: vec![],
        };
        // Thursday 14 January 2027: 4 counters × 300 min ÷ 15 min = 80.
        assert_eq!(
            capacity(date(2027, 1, 14), std::slice::from_ref(&default_site), 15),
            80
        );
        // Saturday: closed; 6 January (Epiphany): a national holiday.
        assert_eq!(
            capacity(date(2027, 1, 16), std::slice::from_ref(&default_site), 15),
            0
        );
        assert_eq!(
            capacity(date(2027, 1, 6), std::slice::from_ref(&default_site), 15),
            0
        );
        let with_hours = SiteOpening {
            counters: 2,
            minutes_by_weekday: Some(BTreeMap::from([(4, 180), (6, 240)])),
            closures: vec![date(2027, 1, 21)],
        };
        let both = [default_site, with_hours];
        // Thursday: 4 × 300 + 2 × 180 = 1,560 min ÷ 15 = 104.
        assert_eq!(capacity(date(2027, 1, 14), &both, 15), 104);
        // Saturday: only the site with Saturday hours, 2 × 240 ÷ 15 = 32.
        assert_eq!(capacity(date(2027, 1, 16), &both, 15), 32);
        // A Thursday the second site is closed.
        assert_eq!(capacity(date(2027, 1, 21), &both, 15), 80);
        assert_eq!(capacity(date(2027, 1, 14), &both, 0), 0);
    }
}
