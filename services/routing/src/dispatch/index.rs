//! A replica's in-memory view of the cases waiting at counters, organised so that the
//! next case for an operator is found in microseconds: one lane per (site, queue,
//! service), each with its priority and ordinary cases in arrival order.
//!
//! The view is kept current from this replica's own writes and from every replica's
//! case events; each case's version decides which news is newer, so events may arrive
//! late or twice. Cases chosen but not yet claimed are *reserved*, so concurrent calls
//! on this replica choose different cases; PostgreSQL settles races between replicas.

use std::{
    collections::{BTreeSet, HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::policy::{self, Head, Pick};

/// What the index needs to know of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The case.
    pub id: Uuid,
    /// Its site.
    pub site: Uuid,
    /// Its queue.
    pub group: Arc<str>,
    /// Its service.
    pub service: Arc<str>,
    /// Priority or ordinary.
    pub priority: bool,
    /// Its place.
    pub arrival: Timestamp,
    /// Its version.
    pub version: i64,
}

/// A lane: (site, queue, service).
pub type LaneKey = (Uuid, Arc<str>, Arc<str>);

#[derive(Debug, Default)]
struct Lane {
    priority: BTreeSet<Head<Uuid>>,
    ordinary: BTreeSet<Head<Uuid>>,
}

/// How long the index remembers a case that left the queue, so a late event cannot put
/// it back.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// The index.
#[derive(Debug, Default)]
pub struct WaitingIndex {
    lanes: HashMap<LaneKey, Lane>,
    cases: HashMap<Uuid, Waiting>,
    reserved: HashSet<Uuid>,
    gone: HashMap<Uuid, (i64, Instant)>,
    burials: VecDeque<(Instant, Uuid)>,
    per_queue: HashMap<(Uuid, Arc<str>), usize>,
}

impl WaitingIndex {
    /// How many cases wait.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Applies news of a case: waiting (insert or move) or not (remove). Older news than
    /// what the index has seen is ignored.
    pub fn apply(&mut self, id: Uuid, version: i64, waiting: Option<Waiting>) {
        if self
            .cases
            .get(&id)
            .is_some_and(|known| known.version >= version)
            || self.gone.get(&id).is_some_and(|(v, _)| *v >= version)
        {
            return;
        }
        self.remove(id);
        match waiting {
            Some(case) => self.insert(case),
            None => self.bury(id, version),
        }
    }

    fn insert(&mut self, case: Waiting) {
        *self
            .per_queue
            .entry((case.site, case.group.clone()))
            .or_default() += 1;
        let key = (case.site, case.group.clone(), case.service.clone());
        let lane = self.lanes.entry(key).or_default();
        let head = (case.arrival, case.id);
        if case.priority {
            lane.priority.insert(head);
        } else {
            lane.ordinary.insert(head);
        }
        self.gone.remove(&case.id);
        self.cases.insert(case.id, case);
    }

    fn remove(&mut self, id: Uuid) {
        self.reserved.remove(&id);
        let Some(case) = self.cases.remove(&id) else {
            return;
        };
        if let Some(count) = self.per_queue.get_mut(&(case.site, case.group.clone())) {
            *count = count.saturating_sub(1);
        }
        let key = (case.site, case.group.clone(), case.service.clone());
        if let Some(lane) = self.lanes.get_mut(&key) {
            let head = (case.arrival, case.id);
            lane.priority.remove(&head);
            lane.ordinary.remove(&head);
            if lane.priority.is_empty() && lane.ordinary.is_empty() {
                self.lanes.remove(&key);
            }
        }
    }

    /// Remembers that a case left the queue at `version`.
    fn bury(&mut self, id: Uuid, version: i64) {
        let now = Instant::now();
        self.gone.insert(id, (version, now));
        self.burials.push_back((now, id));
        // A few expired memories at a time, oldest first: never a long pause under the lock.
        for _ in 0..8 {
            match self.burials.front() {
                Some((at, old)) if at.elapsed() >= FORGET_AFTER => {
                    let old = *old;
                    let at = *at;
                    self.burials.pop_front();
                    // Only if it was not buried again since.
                    if self.gone.get(&old).is_some_and(|(_, when)| *when == at) {
                        self.gone.remove(&old);
                    }
                }
                _ => break,
            }
        }
    }

    /// Forgets a case that turned out not to be waiting (a claim found it gone), until
    /// newer news of it arrives.
    pub fn forget(&mut self, id: Uuid) {
        let version = self.cases.get(&id).map_or(0, |c| c.version);
        self.remove(id);
        self.bury(id, version);
    }

    /// Releases a reservation (the claim did not happen).
    pub fn release(&mut self, id: Uuid) {
        self.reserved.remove(&id);
    }

    /// Chooses and reserves the next case among `lanes` (the operator's: their site,
    /// the queues and services they may serve).
    pub fn choose(
        &mut self,
        lanes: &[LaneKey],
        now: Timestamp,
        bound: SignedDuration,
    ) -> Option<Pick<Uuid>> {
        let reserved = &self.reserved;
        let free =
            |set: &BTreeSet<Head<Uuid>>| set.iter().find(|(_, id)| !reserved.contains(id)).copied();
        let mut oldest_priority: Option<Head<Uuid>> = None;
        let mut oldest_ordinary: Option<Head<Uuid>> = None;
        for key in lanes {
            let Some(lane) = self.lanes.get(key) else {
                continue;
            };
            if let Some(head) = free(&lane.priority) {
                oldest_priority = Some(oldest_priority.map_or(head, |o| o.min(head)));
            }
            if let Some(head) = free(&lane.ordinary) {
                oldest_ordinary = Some(oldest_ordinary.map_or(head, |o| o.min(head)));
            }
        }
        let pick = policy::pick(oldest_priority, oldest_ordinary, now, bound)?;
        self.reserved.insert(pick.case);
        Some(pick)
    }

    /// How many cases wait in a queue of a site.
    pub fn waiting_in(&self, site: Uuid, group: &Arc<str>) -> usize {
        self.per_queue
            .get(&(site, group.clone()))
            .copied()
            .unwrap_or(0)
    }

    /// The queue a waiting case is in.
    pub fn queue_of(&self, id: Uuid) -> Option<(Uuid, Arc<str>)> {
        self.cases.get(&id).map(|c| (c.site, c.group.clone()))
    }

    /// Every queue with its count, for the waiting gauge after a reload.
    pub fn queues(&self) -> impl Iterator<Item = (&(Uuid, Arc<str>), &usize)> {
        self.per_queue.iter()
    }

    /// Counts per lane, for tests and diagnostics.
    pub fn lane_len(&self, key: &LaneKey) -> usize {
        self.lanes
            .get(key)
            .map_or(0, |l| l.priority.len() + l.ordinary.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(site: Uuid, n: i64, priority: bool) -> Waiting {
        Waiting {
            id: Uuid::now_v7(),
            site,
            group: "anagrafe".into(),
            service: "registry.residence_certificate".into(),
            priority,
            arrival: Timestamp::UNIX_EPOCH
                .checked_add(SignedDuration::from_mins(n))
                .unwrap(),
            version: 1,
        }
    }

    #[test]
    fn concurrent_choices_reserve_different_cases() {
        let site = Uuid::now_v7();
        let mut index = WaitingIndex::default();
        let (a, b) = (waiting(site, 0, false), waiting(site, 1, false));
        index.apply(a.id, 1, Some(a.clone()));
        index.apply(b.id, 1, Some(b.clone()));
        let lanes = [(
            site,
            "anagrafe".into(),
            "registry.residence_certificate".into(),
        )];
        let now = Timestamp::UNIX_EPOCH
            .checked_add(SignedDuration::from_mins(2))
            .unwrap();
        let first = index
            .choose(&lanes, now, SignedDuration::from_mins(20))
            .unwrap();
        let second = index
            .choose(&lanes, now, SignedDuration::from_mins(20))
            .unwrap();
        assert_eq!((first.case, second.case), (a.id, b.id));
        assert!(
            index
                .choose(&lanes, now, SignedDuration::from_mins(20))
                .is_none()
        );
        index.release(a.id);
        assert_eq!(
            index
                .choose(&lanes, now, SignedDuration::from_mins(20))
                .unwrap()
                .case,
            a.id
        );
    }

    #[test]
    fn late_news_never_brings_a_case_back() {
        let site = Uuid::now_v7();
        let mut index = WaitingIndex::default();
        let case = waiting(site, 0, false);
        index.apply(case.id, 2, None); // called (version 2) seen first
        index.apply(case.id, 1, Some(case.clone())); // then the late "opened" (version 1)
        assert!(index.is_empty());
        let transferred = Waiting {
            version: 3,
            group: "imprese".into(),
            ..case.clone()
        };
        index.apply(case.id, 3, Some(transferred)); // newer: back in another queue
        assert_eq!(index.len(), 1);
    }
}
