//! Deciding in memory, committing in PostgreSQL.
//!
//! Each replica keeps the cases waiting at counters in a [`WaitingIndex`], rebuilt from
//! PostgreSQL at start and kept current from its own writes and from the case events of
//! every replica (read through its own ordered subscription, see [`sync`]). A call picks
//! the next case there in microseconds and claims it with a conditional write in
//! PostgreSQL — the only arbiter; a replica that loses the race forgets the case and
//! picks again. Fairness and the invariants are judged on committed state.

pub mod index;
pub mod policy;
pub mod sync;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::{SignedDuration, Timestamp};
use sportello_proto::routing::v1::CaseStatus;
use uuid::Uuid;

use self::{
    index::{LaneKey, Waiting, WaitingIndex},
    policy::Pick,
};
use crate::{
    cases::domain::Case, catalogue::cache::Catalogue, domain::is_priority, error::RoutingError,
    operators::domain::Profile, sites::domain::SiteSettings,
};

/// A replica's dispatcher. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Dispatcher {
    index: Arc<Mutex<WaitingIndex>>,
}

impl Dispatcher {
    fn index(&self) -> MutexGuard<'_, WaitingIndex> {
        // The index holds no invariant a panicking holder could break half-way.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the view with every case waiting at a counter now. In-flight choices lose
    /// their reservation; PostgreSQL still settles any race they start.
    pub async fn reload(&self, db: &sportello_kit::Db) -> Result<usize, RoutingError> {
        let cases = crate::cases::store::waiting_at_counters(db.pool()).await?;
        Ok(self.reload_from(&cases))
    }

    /// Replaces the view with `cases` (every case waiting at a counter, as the database
    /// has them); returns how many wait. Public for the simulation, which keeps its
    /// database in memory.
    pub fn reload_from(&self, cases: &[Case]) -> usize {
        let mut fresh = WaitingIndex::default();
        for case in cases {
            apply_to(&mut fresh, case);
        }
        let mut index = self.index();
        *index = fresh;
        for ((site, group), waiting) in index.queues() {
            set_waiting_gauge(*site, group, *waiting);
        }
        index.len()
    }

    /// Applies what is now true of a case (after this replica's commit, or from an event).
    pub fn apply(&self, case: &Case) {
        let mut index = self.index();
        let before = index.queue_of(case.id);
        apply_to(&mut index, case);
        let after = index.queue_of(case.id);
        for (site, group) in before.into_iter().chain(after) {
            set_waiting_gauge(site, &group, index.waiting_in(site, &group));
        }
    }

    /// Chooses and reserves the next case for an operator at `site`.
    pub fn choose(
        &self,
        lanes: &[LaneKey],
        now: Timestamp,
        settings: &SiteSettings,
    ) -> Option<Pick<Uuid>> {
        let bound = SignedDuration::from_mins(i64::from(settings.priority_bound_minutes));
        let started = std::time::Instant::now();
        let pick = self.index().choose(lanes, now, bound);
        metrics::histogram!("sportello_routing_decision_seconds")
            .record(started.elapsed().as_secs_f64());
        pick
    }

    /// The claim found the case gone: forget it until newer news.
    pub fn forget(&self, id: Uuid) {
        self.index().forget(id);
    }

    /// The claim did not happen: the case may be chosen again.
    pub fn release(&self, id: Uuid) {
        self.index().release(id);
    }

    /// How many cases wait (all sites).
    pub fn waiting(&self) -> usize {
        self.index().len()
    }
}

/// The queue-length gauge, per site and queue (never per operator).
fn set_waiting_gauge(site: Uuid, group: &Arc<str>, waiting: usize) {
    metrics::gauge!("sportello_routing_waiting", "site" => site.to_string(), "queue" => group.to_string())
        .set(waiting as f64);
}

fn apply_to(index: &mut WaitingIndex, case: &Case) {
    let waiting = (case.status == CaseStatus::Waiting && case.at_counter())
        .then_some(case.site_id)
        .flatten()
        .map(|site| Waiting {
            id: case.id,
            site,
            group: Arc::from(case.group.as_str()),
            service: Arc::from(case.service_code.as_str()),
            // A checked-in appointment goes ahead of walk-ins from its time on (its
            // arrival is its start): see policy.
            priority: is_priority(case.priority)
                || case.channel == sportello_proto::common::v1::Channel::Appointment,
            arrival: case.arrival_at,
            version: case.version,
        });
    index.apply(case.id, case.version, waiting);
}

/// The lanes an operator may call from at `site`: every active service they may serve
/// whose queue the site serves.
pub fn lanes_for(
    operator: &Profile,
    site: Uuid,
    settings: &SiteSettings,
    catalogue: &Catalogue,
) -> Vec<LaneKey> {
    catalogue
        .services
        .values()
        .filter(|s| s.active && operator.can_serve(s))
        .filter(|s| {
            settings.service_groups.is_empty() || settings.service_groups.contains(&s.group)
        })
        .map(|s| {
            (
                site,
                Arc::from(s.group.as_str()),
                Arc::from(s.code.as_str()),
            )
        })
        .collect()
}
