//! Which slots exist and which are free: the calendars of a service's sites loaded once,
//! laid out day by day ([`super::calendar`]), less what is booked, past or not yet
//! released. The search and the booking both ask here, so what the search offers is
//! exactly what a booking accepts.

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp, civil::Date};
use sportello_kit::MunicipalityCode;
use sportello_pa::calendar::{Calendar, rome};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    calendar::{self, Span},
    domain::{Block, BookingRules},
    store,
};
use crate::{catalogue::domain::ServiceType, error::RoutingError, operators::domain::Profile};

/// A slot an operator could hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Who receives.
    pub operator: String,
    /// Where.
    pub site: Uuid,
    /// The counter or room.
    pub counter: i16,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// When it is released for booking.
    pub released: Timestamp,
}

/// Whether `profile` receives `service` by appointment: a tier at least the service's
/// (back-office specialists who receive included) and every skill it needs.
pub fn receives(profile: &Profile, service: &ServiceType) -> bool {
    (profile.tier as i32) >= (service.tier as i32)
        && service.required_skills.iter().all(|need| {
            profile
                .skills
                .iter()
                .any(|have| have.skill == need.skill && have.proficiency >= need.min_proficiency)
        })
}

/// The calendars of one service at some sites.
#[derive(Debug)]
pub struct Calendars {
    /// The municipality's rules.
    pub rules: BookingRules,
    length: SignedDuration,
    group: String,
    hours: HashMap<(Uuid, String), Vec<(i16, Span)>>,
    closures: HashSet<(Uuid, Date)>,
    blocks: Vec<(String, Block)>,
    calendar: Calendar,
}

/// How long a replica reuses what it read of a municipality's calendars: changes made
/// through this replica apply at once (they invalidate it), other replicas' within this.
const CALENDARS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Everything a municipality's slots are made of, as read at one moment: rules, hours,
/// closures, schedules, who receives. Booking and search read it here instead of five
/// queries per request — a contested slot's losers must be answered in milliseconds.
#[derive(Debug)]
pub struct Snapshot {
    rules: BookingRules,
    hours: HashMap<(Uuid, String), Vec<(i16, Span)>>,
    closures: HashSet<(Uuid, Date)>,
    blocks: Vec<(String, Block)>,
    profiles: HashMap<String, Profile>,
    read_at: std::time::Instant,
}

impl Snapshot {
    async fn read(
        pool: &PgPool,
        municipality: MunicipalityCode,
        now: jiff::Timestamp,
    ) -> Result<Self, RoutingError> {
        let sites: Vec<Uuid> = crate::sites::store::list(pool, municipality.as_str())
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let rules = store::rules(pool, municipality).await?;
        let mut hours: HashMap<(Uuid, String), Vec<(i16, Span)>> = HashMap::new();
        for (site, group, weekday, span) in store::hours(pool, &sites).await? {
            hours
                .entry((site, group))
                .or_default()
                .push((weekday, span));
        }
        // Closures from yesterday on: a booking is never in the past.
        let today = rome::date_of(now);
        let (from, to) = (
            today.yesterday().unwrap_or(today),
            today
                .checked_add(jiff::Span::new().days(400))
                .unwrap_or(today),
        );
        let closures = store::closures(pool, &sites, from, to)
            .await?
            .into_iter()
            .collect();
        let profiles = crate::operators::store::list(pool, municipality, None)
            .await?
            .into_iter()
            .map(|o| (o.profile.id.clone(), o.profile))
            .collect();
        let blocks = store::schedules(pool, municipality, &sites).await?;
        Ok(Self {
            rules,
            hours,
            closures,
            blocks,
            profiles,
            read_at: std::time::Instant::now(),
        })
    }
}

/// This replica's snapshots of the municipalities' calendars.
#[derive(Debug, Clone, Default)]
pub struct CalendarCache {
    snapshots:
        std::sync::Arc<std::sync::Mutex<HashMap<MunicipalityCode, std::sync::Arc<Snapshot>>>>,
    /// One reader at a time: when a snapshot ages out under load, the requests arriving
    /// together wait for one read instead of each making their own.
    reading: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl CalendarCache {
    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<MunicipalityCode, std::sync::Arc<Snapshot>>> {
        // A map of snapshots holds no invariant a panicking holder could break.
        self.snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The municipality's snapshot, read again when older than a few seconds.
    pub async fn get(
        &self,
        pool: &PgPool,
        municipality: MunicipalityCode,
        now: jiff::Timestamp,
    ) -> Result<std::sync::Arc<Snapshot>, RoutingError> {
        let fresh_one = || {
            self.map()
                .get(&municipality)
                .filter(|s| s.read_at.elapsed() < CALENDARS_FRESH_FOR)
                .cloned()
        };
        if let Some(s) = fresh_one() {
            return Ok(s);
        }
        let _reading = self.reading.lock().await;
        if let Some(s) = fresh_one() {
            return Ok(s);
        }
        let fresh = std::sync::Arc::new(Snapshot::read(pool, municipality, now).await?);
        self.map().insert(municipality, fresh.clone());
        Ok(fresh)
    }

    /// Forgets a municipality's snapshot (its calendars or rules changed here).
    pub fn invalidate(&self, municipality: MunicipalityCode) {
        self.map().remove(&municipality);
    }
}

impl Calendars {
    /// The calendars of `service` at `sites`, from this replica's snapshot.
    pub async fn load(
        cache: &CalendarCache,
        db: &sportello_kit::Db,
        municipality: MunicipalityCode,
        service: &ServiceType,
        sites: &[Uuid],
    ) -> Result<Self, RoutingError> {
        let snapshot = cache.get(db.pool(), municipality, db.clock().now()).await?;
        let blocks = snapshot
            .blocks
            .iter()
            .filter(|(operator, block)| {
                sites.contains(&block.site_id)
                    && snapshot
                        .profiles
                        .get(operator)
                        .is_some_and(|p| receives(p, service))
            })
            .cloned()
            .collect();
        Ok(Self {
            length: snapshot.rules.slot_length(service.expected_minutes),
            rules: snapshot.rules,
            group: service.group.clone(),
            hours: snapshot.hours.clone(),
            closures: snapshot.closures.clone(),
            blocks,
            calendar: Calendar::for_municipality(municipality.as_str()),
        })
    }

    /// Why `site` takes no appointments on `day`, if it does not: a holiday's or a
    /// closure's name.
    pub fn closed_because(&self, site: Uuid, day: Date) -> Option<String> {
        if self.closures.contains(&(site, day)) {
            return Some("chiusura della sede / the site is closed".to_owned());
        }
        self.calendar
            .entries_on(day)
            .into_iter()
            .find(|e| e.office_closed)
            .map(|e| e.name)
    }

    /// The site's hours on a weekday for the service's group: its own, or the site's
    /// general ones.
    fn hours_on(&self, site: Uuid, weekday: i16) -> Vec<Span> {
        let own = self.hours.get(&(site, self.group.clone()));
        let general = self.hours.get(&(site, String::new()));
        own.or(general)
            .map(|hours| {
                hours
                    .iter()
                    .filter(|(d, _)| *d == weekday)
                    .map(|(_, s)| *s)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every slot of `day`, free or not, by start.
    pub fn lay(&self, day: Date) -> Vec<Candidate> {
        let weekday = i16::from(day.weekday().to_monday_one_offset());
        let mut out = Vec::new();
        for (operator, block) in self.blocks.iter().filter(|(_, b)| b.weekday == weekday) {
            if self.closed_because(block.site_id, day).is_some() {
                continue;
            }
            let hours = self.hours_on(block.site_id, weekday);
            for laid in calendar::lay_block(day, block.span, &hours, self.length) {
                let Some(released) = calendar::released_at(
                    day,
                    laid.ordinal,
                    self.rules.release_days_ahead,
                    self.rules.release_time,
                    self.rules.release_tranches,
                    BookingRules::minutes(self.rules.tranche_interval_minutes),
                ) else {
                    continue;
                };
                out.push(Candidate {
                    operator: operator.clone(),
                    site: block.site_id,
                    counter: block.counter_number,
                    start: laid.start,
                    end: laid.end,
                    released,
                });
            }
        }
        out.sort_by(|a, b| (a.start, a.site, &a.operator).cmp(&(b.start, b.site, &b.operator)));
        out
    }
}

/// The booked time of the sites: by operator and by counter.
#[derive(Debug, Default)]
pub struct Taken {
    by_operator: HashMap<String, Vec<(Timestamp, Timestamp)>>,
    by_counter: HashMap<(Uuid, i16), Vec<(Timestamp, Timestamp)>>,
}

impl Taken {
    /// What is booked at `sites` between two instants.
    pub async fn load(
        pool: &PgPool,
        sites: &[Uuid],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Self, RoutingError> {
        let mut taken = Self::default();
        for (operator, site, counter, start, end) in store::taken(pool, sites, from, to).await? {
            taken
                .by_operator
                .entry(operator)
                .or_default()
                .push((start, end));
            taken
                .by_counter
                .entry((site, counter))
                .or_default()
                .push((start, end));
        }
        Ok(taken)
    }

    /// Whether the candidate's operator or counter is booked during it.
    pub fn clashes(&self, c: &Candidate) -> bool {
        let overlaps = |ranges: Option<&Vec<(Timestamp, Timestamp)>>| {
            ranges.is_some_and(|r| r.iter().any(|(s, e)| *s < c.end && c.start < *e))
        };
        overlaps(self.by_operator.get(&c.operator))
            || overlaps(self.by_counter.get(&(c.site, c.counter)))
    }
}

/// The Rome day range `[from, from + days)` as instants.
pub fn instants(from: Date, days: i16) -> Result<(Timestamp, Timestamp), RoutingError> {
    let bad = |_| RoutingError::invalid("from_date", "fuori intervallo / out of range");
    let to = from
        .checked_add(jiff::Span::new().days(days))
        .map_err(bad)?;
    Ok((
        rome::start_of_day(from).map_err(bad)?,
        rome::start_of_day(to).map_err(bad)?,
    ))
}
