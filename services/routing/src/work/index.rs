//! A replica's in-memory view of the back office's waiting items, so that the next item
//! for a specialist is found in microseconds with a whole region's files open: one queue
//! per (municipality, department), ordered by statutory due date (none last), then
//! arrival.
//!
//! The view only proposes. The offer locks the proposed rows in PostgreSQL and checks
//! they still wait (`store::lock_waiting`), and when the view proposes nothing the
//! database is asked directly: a view that lags behind another replica costs a query,
//! never an item. It is kept current from every replica's work events (`dispatch::sync`);
//! each item's version decides which news is newer, so events may arrive late or twice.

use std::{
    collections::{BTreeSet, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use jiff::{Timestamp, civil::Date};
use sportello_proto::routing::v1::{WorkItem as WorkItemMessage, WorkState};
use uuid::Uuid;

use super::domain::WorkItem;

/// What the view needs to know of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct News<'a> {
    /// The item.
    pub id: Uuid,
    /// Its municipality.
    pub municipality: &'a str,
    /// Its department.
    pub department: &'a str,
    /// Its statutory due date.
    pub due: Option<Date>,
    /// Its arrival.
    pub arrived_at: Timestamp,
    /// Its version.
    pub version: i64,
    /// Whether it waits for a specialist.
    pub waiting: bool,
}

impl<'a> From<&'a WorkItem> for News<'a> {
    fn from(item: &'a WorkItem) -> Self {
        Self {
            id: item.id,
            municipality: item.municipality.as_str(),
            department: &item.department,
            due: item.due(),
            arrived_at: item.arrived_at,
            version: item.version,
            waiting: item.state == WorkState::Waiting,
        }
    }
}

impl<'a> News<'a> {
    /// The news a work event carries (its item as it is after the change); `None` when
    /// the message is not a well-formed item.
    pub fn from_message(item: &'a WorkItemMessage) -> Option<Self> {
        let due = match item.clock.as_ref().map(|c| c.due_date.as_str()) {
            None | Some("") => None,
            Some(day) => Some(day.parse().ok()?),
        };
        Some(Self {
            id: item.id.parse().ok()?,
            municipality: &item.municipality_istat_code,
            department: &item.department,
            due,
            arrived_at: item.arrived_at.parse().ok()?,
            version: i64::try_from(item.version).ok()?,
            waiting: item.state() == WorkState::Waiting,
        })
    }
}

/// The order of a queue: due date (an item without one after every dated item), arrival,
/// then the id so two arrivals in the same microsecond stay distinct.
type Place = (Date, Timestamp, Uuid);

/// A queue: (municipality, department).
type QueueKey = (Arc<str>, Arc<str>);

/// The queues, by municipality then department (so a lookup borrows two `&str`).
type Queues = HashMap<Arc<str>, HashMap<Arc<str>, BTreeSet<Place>>>;

/// How long the view remembers an item that stopped waiting, so a late event cannot put
/// it back.
const FORGET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Entry {
    queue: QueueKey,
    place: Place,
    version: i64,
}

#[derive(Debug, Default)]
struct View {
    queues: Queues,
    items: HashMap<Uuid, Entry>,
    /// Who declined (or let lapse) each waiting item: never offered it again.
    declined: HashMap<Uuid, HashSet<Arc<str>>>,
    gone: HashMap<Uuid, (i64, Instant)>,
    burials: VecDeque<(Instant, Uuid)>,
}

impl View {
    fn apply(&mut self, item: &News<'_>) {
        if self
            .items
            .get(&item.id)
            .is_some_and(|known| known.version >= item.version)
            || self
                .gone
                .get(&item.id)
                .is_some_and(|(v, _)| *v >= item.version)
        {
            return;
        }
        self.remove(item.id);
        if item.waiting {
            let queue: QueueKey = (Arc::from(item.municipality), Arc::from(item.department));
            let place = (item.due.unwrap_or(Date::MAX), item.arrived_at, item.id);
            self.queues
                .entry(queue.0.clone())
                .or_default()
                .entry(queue.1.clone())
                .or_default()
                .insert(place);
            self.gone.remove(&item.id);
            self.items.insert(
                item.id,
                Entry {
                    queue,
                    place,
                    version: item.version,
                },
            );
        } else {
            self.declined.remove(&item.id);
            self.bury(item.id, item.version);
        }
    }

    fn remove(&mut self, id: Uuid) {
        let Some(entry) = self.items.remove(&id) else {
            return;
        };
        let (municipality, department) = &entry.queue;
        if let Some(departments) = self.queues.get_mut(municipality) {
            if let Some(queue) = departments.get_mut(department) {
                queue.remove(&entry.place);
                if queue.is_empty() {
                    departments.remove(department);
                }
            }
            if departments.is_empty() {
                self.queues.remove(municipality);
            }
        }
    }

    fn bury(&mut self, id: Uuid, version: i64) {
        let now = Instant::now();
        self.gone.insert(id, (version, now));
        self.burials.push_back((now, id));
        // A few expired memories at a time: never a long pause under the lock.
        for _ in 0..8 {
            match self.burials.front() {
                Some((at, old)) if at.elapsed() >= FORGET_AFTER => {
                    let (at, old) = (*at, *old);
                    self.burials.pop_front();
                    if self.gone.get(&old).is_some_and(|(_, when)| *when == at) {
                        self.gone.remove(&old);
                    }
                }
                _ => break,
            }
        }
    }

    fn window(&self, municipality: &str, department: &str, operator: &str, n: usize) -> Vec<Uuid> {
        let Some(queue) = self
            .queues
            .get(municipality)
            .and_then(|departments| departments.get(department))
        else {
            return Vec::new();
        };
        queue
            .iter()
            .map(|(_, _, id)| *id)
            .filter(|id| {
                !self
                    .declined
                    .get(id)
                    .is_some_and(|who| who.contains(operator))
            })
            .take(n)
            .collect()
    }
}

/// The view, shared by a replica's flows and its event follower.
#[derive(Debug, Clone, Default)]
pub struct WorkIndex {
    view: Arc<Mutex<View>>,
}

impl WorkIndex {
    fn view(&self) -> MutexGuard<'_, View> {
        // The view holds no invariant a panicking holder could break half-way.
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies what is now true of an item (from this replica's commit or an event).
    pub fn apply(&self, news: &News<'_>) {
        self.view().apply(news);
    }

    /// Replaces the view with `waiting` (every waiting item, as the database has them)
    /// and their declines.
    pub fn reload(&self, waiting: &[News<'_>], declines: &[(Uuid, String)]) {
        let mut fresh = View::default();
        for news in waiting {
            fresh.apply(news);
        }
        for (item, operator) in declines {
            fresh
                .declined
                .entry(*item)
                .or_default()
                .insert(Arc::from(operator.as_str()));
        }
        *self.view() = fresh;
    }

    /// Remembers that `operator` declined `item` (or let its offer lapse).
    pub fn declined(&self, item: Uuid, operator: &str) {
        self.view()
            .declined
            .entry(item)
            .or_default()
            .insert(Arc::from(operator));
    }

    /// The first `n` items of a department's queue that `operator` has not declined,
    /// best first.
    pub fn window(
        &self,
        municipality: &str,
        department: &str,
        operator: &str,
        n: usize,
    ) -> Vec<Uuid> {
        self.view().window(municipality, department, operator, n)
    }

    /// How many items wait, in all.
    pub fn len(&self) -> usize {
        self.view().items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn news<'a>(department: &'a str, due: Option<&str>, arrived: i64) -> News<'a> {
        News {
            id: Uuid::now_v7(),
            municipality: "011015",
            department,
            due: due.map(|d| d.parse().unwrap()),
            arrived_at: Timestamp::from_second(arrived).unwrap(),
            version: 1,
            waiting: true,
        }
    }

    #[test]
    fn due_date_first_then_arrival_and_undated_last() {
        let index = WorkIndex::default();
        let late = news("anagrafe", Some("2027-03-01"), 1);
        let soon = news("anagrafe", Some("2027-01-10"), 5);
        let undated = news("anagrafe", None, 0);
        let early_same_day = news("anagrafe", Some("2027-01-10"), 2);
        for n in [&late, &soon, &undated, &early_same_day] {
            index.apply(n);
        }
        let w = index.window("011015", "anagrafe", "op", 10);
        assert_eq!(w, vec![early_same_day.id, soon.id, late.id, undated.id]);
    }

    #[test]
    fn declined_items_are_skipped_for_that_operator_only() {
        let index = WorkIndex::default();
        let a = news("anagrafe", Some("2027-01-10"), 1);
        let b = news("anagrafe", Some("2027-01-11"), 1);
        index.apply(&a);
        index.apply(&b);
        index.declined(a.id, "rossi");
        assert_eq!(index.window("011015", "anagrafe", "rossi", 1), vec![b.id]);
        assert_eq!(index.window("011015", "anagrafe", "bianchi", 1), vec![a.id]);
    }

    #[test]
    fn late_news_does_not_bring_an_item_back() {
        let index = WorkIndex::default();
        let mut a = news("anagrafe", None, 1);
        index.apply(&a);
        a.waiting = false;
        a.version = 3;
        index.apply(&a);
        let stale = News {
            waiting: true,
            version: 2,
            ..a
        };
        index.apply(&stale);
        assert!(index.is_empty());
        // A newer return to the queue (a department resumed it) does.
        index.apply(&News {
            version: 4,
            ..stale
        });
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn departments_and_municipalities_are_separate_queues() {
        let index = WorkIndex::default();
        let a = news("anagrafe", None, 1);
        let s = news("suap", None, 1);
        let elsewhere = News {
            municipality: "011027",
            ..news("suap", None, 0)
        };
        for n in [&a, &s, &elsewhere] {
            index.apply(n);
        }
        assert_eq!(index.window("011015", "suap", "op", 5), vec![s.id]);
        assert_eq!(index.window("011027", "suap", "op", 5), vec![elsewhere.id]);
        assert!(index.window("011027", "anagrafe", "op", 5).is_empty());
    }
}
