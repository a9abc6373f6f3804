//! The back office's in-memory pick with a region's files open: 100,000 waiting items in
//! 20 departments (due dates spread over ninety days, a tenth without one), 400
//! specialists (20 per department), each having declined a few items of their
//! department. What is measured is `WorkIndex::window` — the specialist's best 8 items
//! they have not declined, due date then arrival — as an offer asks it, from
//! `BENCH_CALLERS` threads at once (default 2, the server's Tokio workers on this 2-core
//! machine) through the view's mutex, while a follower thread applies other replicas'
//! news under the same lock (500 items taken and 500 arriving a second, as
//! `dispatch::sync` does). The database's confirmation of the proposal (`lock_waiting`)
//! and the continuity query that follow in production are not here.
//!
//! `cargo bench -p sportello-routing --bench pick` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp, civil::Date};
use sportello_routing::work::index::{News, WorkIndex};
use uuid::Uuid;

const ITEMS: usize = 100_000;
const DEPARTMENTS: usize = 20;
const SPECIALISTS_PER_DEPARTMENT: usize = 20;
const DECLINES_PER_SPECIALIST: usize = 5;
const PICKS_PER_CALLER: usize = 200_000;
const WINDOW: usize = 8;
const NEWS_PER_SECOND: u64 = 500;
const MUNICIPALITY: &str = "011015";

#[derive(Clone)]
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Region {
    departments: Vec<String>,
    specialists: Vec<(usize, String)>,
    first_day: Date,
    start: Timestamp,
}

impl Region {
    fn item(&self, rng: &mut Rng, n: usize) -> (Uuid, usize, Option<Date>, Timestamp) {
        let department = rng.below(DEPARTMENTS);
        let due = (rng.below(10) != 0).then(|| {
            self.first_day
                .checked_add(jiff::Span::new().days(i64::try_from(rng.below(90)).unwrap()))
                .unwrap()
        });
        let arrived = self
            .start
            .checked_add(SignedDuration::from_secs(i64::try_from(n).unwrap()))
            .unwrap();
        (Uuid::now_v7(), department, due, arrived)
    }

    fn news(
        &self,
        item: &(Uuid, usize, Option<Date>, Timestamp),
        version: i64,
        waiting: bool,
    ) -> News<'_> {
        News {
            id: item.0,
            municipality: MUNICIPALITY,
            department: &self.departments[item.1],
            due: item.2,
            arrived_at: item.3,
            version,
            waiting,
        }
    }
}

fn micros(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1_000.0
}

fn main() {
    let callers: usize = std::env::var("BENCH_CALLERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut rng = Rng(0x5eed_0ff1_ce00_0001);
    let region = Arc::new(Region {
        departments: (0..DEPARTMENTS).map(|d| format!("dept_{d:02}")).collect(),
        specialists: (0..DEPARTMENTS * SPECIALISTS_PER_DEPARTMENT)
            .map(|n| (n % DEPARTMENTS, format!("spec-{n:04}")))
            .collect(),
        first_day: "2027-01-04".parse().unwrap(),
        start: Timestamp::from_second(1_795_000_000).unwrap(),
    });
    println!(
        "pick: {ITEMS} waiting items in {DEPARTMENTS} departments, {} specialists ({DECLINES_PER_SPECIALIST} declines each), \
         window of {WINDOW}; {} build",
        region.specialists.len(),
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        }
    );

    let index = WorkIndex::default();
    let mut items: Vec<(Uuid, usize, Option<Date>, Timestamp)> =
        (0..ITEMS).map(|n| region.item(&mut rng, n)).collect();
    for item in &items {
        index.apply(&region.news(item, 1, true));
    }
    for (department, specialist) in &region.specialists {
        let mine: Vec<_> = items
            .iter()
            .filter(|i| i.1 == *department)
            .take(200)
            .collect();
        for _ in 0..DECLINES_PER_SPECIALIST {
            index.declined(mine[rng.below(mine.len())].0, specialist);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    // Other replicas' news: an item taken (no longer waiting), another arriving.
    let follower = {
        let (index, region, stop) = (index.clone(), region.clone(), stop.clone());
        let mut rng = rng.clone();
        std::thread::spawn(move || {
            let period = Duration::from_micros(1_000_000 / NEWS_PER_SECOND);
            let mut n = ITEMS;
            while !stop.load(Ordering::Relaxed) {
                let taken = items.swap_remove(rng.below(items.len()));
                index.apply(&region.news(&taken, 2, false));
                let fresh = region.item(&mut rng, n);
                n += 1;
                index.apply(&region.news(&fresh, 1, true));
                items.push(fresh);
                std::thread::sleep(period);
            }
        })
    };

    let began = Instant::now();
    let workers: Vec<_> = (0..callers)
        .map(|c| {
            let (index, region) = (index.clone(), region.clone());
            let mut rng = Rng(0x1234_5678 + c as u64);
            std::thread::spawn(move || {
                let mut histogram = Histogram::<u64>::new(3).unwrap();
                let mut empty = 0_usize;
                for _ in 0..PICKS_PER_CALLER {
                    let (department, specialist) =
                        &region.specialists[rng.below(region.specialists.len())];
                    let t = Instant::now();
                    let window = index.window(
                        MUNICIPALITY,
                        &region.departments[*department],
                        specialist,
                        WINDOW,
                    );
                    let took = t.elapsed();
                    if window.is_empty() {
                        empty += 1;
                    }
                    std::hint::black_box(window);
                    histogram
                        .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX))
                        .unwrap();
                }
                (histogram, empty)
            })
        })
        .collect();
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut empty = 0;
    for worker in workers {
        let (h, e) = worker.join().unwrap();
        histogram.add(h).unwrap();
        empty += e;
    }
    let elapsed = began.elapsed();
    stop.store(true, Ordering::Relaxed);
    follower.join().unwrap();
    println!(
        "window ({callers} callers at once, other replicas' news {NEWS_PER_SECOND}+{NEWS_PER_SECOND}/s under the same lock): \
         {} picks in {:.2} s  p50 {:.1} µs  p99 {:.1} µs  p99.9 {:.1} µs  max {:.1} µs  (target p99 ≤ 50 µs; {empty} found nothing)",
        histogram.len(),
        elapsed.as_secs_f64(),
        micros(&histogram, 0.50),
        micros(&histogram, 0.99),
        micros(&histogram, 0.999),
        histogram.max() as f64 / 1_000.0,
    );
}
