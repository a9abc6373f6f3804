//! The whitelist in memory: every permit a plate is on, per zone, for the transits of
//! now — a camera's check never waits on the database. It is loaded from PostgreSQL and
//! kept current by mobility's own permit events ([`super::follow`]), each of which
//! reloads that permit's rows. It answers for instants from its load's horizon on; older
//! transits go to the history.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use sportello_kit::{Db, MunicipalityCode};
use sportello_pa::calendar::rome;
use uuid::Uuid;

use super::{decision::Entry, store};
use crate::zones::{self, hours::Hours};

/// How far back from its load the memory answers.
pub const HORIZON: Duration = Duration::from_secs(24 * 60 * 60);

/// A zone as the check needs it.
#[derive(Debug, Clone)]
pub struct ZoneRules {
    /// When its rules apply.
    pub hours: Vec<Hours>,
}

#[derive(Debug, Default)]
struct Index {
    /// "municipality|zone|plate" → the permits the plate is on there.
    plates: HashMap<String, Vec<Entry>>,
    /// A permit's keys, to replace its rows when it changes.
    permits: HashMap<Uuid, Vec<String>>,
    /// "municipality|zone" → its rules.
    zones: HashMap<String, Arc<ZoneRules>>,
    /// The first instant it answers for; `None` until loaded.
    since: Option<Timestamp>,
}

/// The shared whitelist; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Whitelist {
    index: Arc<RwLock<Index>>,
}

fn key(municipality: MunicipalityCode, zone: &str, plate: &str) -> String {
    format!("{}|{zone}|{plate}", municipality.as_str())
}

impl Index {
    fn remove(&mut self, permit: Uuid) {
        for key in self.permits.remove(&permit).unwrap_or_default() {
            if let Some(entries) = self.plates.get_mut(&key) {
                entries.retain(|e| e.permit_id != permit);
                if entries.is_empty() {
                    self.plates.remove(&key);
                }
            }
        }
    }

    fn insert(&mut self, rows: Vec<store::WhitelistRow>) {
        for row in rows {
            let key = key(row.municipality, &row.zone_code, &row.plate);
            self.permits
                .entry(row.entry.permit_id)
                .or_default()
                .push(key.clone());
            self.plates.entry(key).or_default().push(row.entry);
        }
    }
}

impl Whitelist {
    /// Reloads everything from `db`: the permits live from [`HORIZON`] before now.
    pub async fn reload(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let since = db
            .clock()
            .now()
            .checked_sub(SignedDuration::try_from(HORIZON).unwrap_or_default())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut conn = db.pool().acquire().await?;
        let rows = store::live(&mut conn, since, rome::date_of(since)).await?;
        let count = rows.len();
        let mut index = Index {
            since: Some(since),
            ..Index::default()
        };
        index.insert(rows);
        if let Ok(mut shared) = self.index.write() {
            // Zones never change once defined: keep the ones already read.
            index.zones = std::mem::take(&mut shared.zones);
            *shared = index;
        }
        Ok(count)
    }

    /// Reloads one permit's rows after an event about it.
    pub async fn refresh(&self, db: &Db, permit: Uuid) -> Result<(), sqlx::Error> {
        let mut conn = db.pool().acquire().await?;
        let rows = store::of_permit(&mut conn, permit).await?;
        if let Ok(mut index) = self.index.write() {
            index.remove(permit);
            index.insert(rows);
        }
        Ok(())
    }

    /// The permits `plate` is on in the zone, if the memory answers for `at`.
    pub fn entries(
        &self,
        municipality: MunicipalityCode,
        zone: &str,
        plate: &str,
        at: Timestamp,
    ) -> Option<Vec<Entry>> {
        let index = self.index.read().ok()?;
        if index.since.is_none_or(|since| at < since) {
            return None;
        }
        Some(
            index
                .plates
                .get(&key(municipality, zone, plate))
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// The zone's rules, from memory or else from `db`; `None` when no such zone.
    pub async fn zone(
        &self,
        db: &Db,
        municipality: MunicipalityCode,
        zone: &str,
    ) -> Result<Option<Arc<ZoneRules>>, sqlx::Error> {
        let key = format!("{}|{zone}", municipality.as_str());
        if let Some(rules) = self
            .index
            .read()
            .ok()
            .and_then(|i| i.zones.get(&key).cloned())
        {
            return Ok(Some(rules));
        }
        let mut conn = db.pool().acquire().await?;
        let Some(found) = zones::store::find(&mut conn, municipality, zone).await? else {
            return Ok(None);
        };
        let rules = Arc::new(ZoneRules {
            hours: found.zone.hours,
        });
        if let Ok(mut index) = self.index.write() {
            index.zones.insert(key, rules.clone());
        }
        Ok(Some(rules))
    }

    /// How many plate-zone pairs it holds (for the logs and tests).
    pub fn len(&self) -> usize {
        self.index.read().map(|i| i.plates.len()).unwrap_or(0)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
