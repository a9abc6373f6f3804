//! The decision, in process: how long an operator's "call next" takes to choose, with a
//! whole region waiting. 100,000 waiting cases (10 % priority) in 50 queues; 1,000
//! operators, each eligible for 10 of the 50 queues. Prints p50/p99/max of one choice.
//!
//! `cargo bench -p sportello-routing --bench decision` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{sync::Arc, time::Instant};

use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp};
use sportello_routing::dispatch::index::{LaneKey, Waiting, WaitingIndex};
use uuid::Uuid;

const CASES: usize = 100_000;
const QUEUES: usize = 50;
const SERVICES_PER_QUEUE: usize = 3;
const OPERATORS: usize = 1_000;
const QUEUES_PER_OPERATOR: usize = 10;
const DECISIONS: usize = 200_000;

/// A small deterministic generator (xorshift), so every run sees the same region.
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

fn main() {
    let mut rng = Rng(0x5eed_1e55_0000_0001);
    let site = Uuid::now_v7();
    let groups: Vec<Arc<str>> = (0..QUEUES)
        .map(|q| Arc::from(format!("group_{q:02}")))
        .collect();
    let services: Vec<Vec<Arc<str>>> = (0..QUEUES)
        .map(|q| {
            (0..SERVICES_PER_QUEUE)
                .map(|s| Arc::from(format!("svc.q{q:02}_{s}")))
                .collect()
        })
        .collect();
    let start = Timestamp::from_second(1_795_000_000).unwrap();

    let mut index = WaitingIndex::default();
    for n in 0..CASES {
        let q = rng.below(QUEUES);
        let id = Uuid::now_v7();
        let waiting = Waiting {
            id,
            site,
            group: groups[q].clone(),
            service: services[q][rng.below(SERVICES_PER_QUEUE)].clone(),
            priority: rng.below(10) == 0,
            // Spread over four hours of arrivals.
            arrival: start
                .checked_add(SignedDuration::from_millis(i64::try_from(n).unwrap() * 144))
                .unwrap(),
            version: 1,
        };
        index.apply(id, 1, Some(waiting));
    }
    let operators: Vec<Vec<LaneKey>> = (0..OPERATORS)
        .map(|_| {
            let mut lanes = Vec::new();
            let mut chosen = std::collections::HashSet::new();
            while chosen.len() < QUEUES_PER_OPERATOR {
                chosen.insert(rng.below(QUEUES));
            }
            for q in chosen {
                for service in &services[q] {
                    lanes.push((site, groups[q].clone(), service.clone()));
                }
            }
            lanes
        })
        .collect();
    let now = start.checked_add(SignedDuration::from_hours(4)).unwrap();
    let bound = SignedDuration::from_mins(20);

    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for n in 0..DECISIONS {
        let lanes = &operators[n % OPERATORS];
        let began = Instant::now();
        let pick = index.choose(lanes, now, bound);
        let took = began.elapsed();
        // Keep the region as it is: the reservation is given back.
        if let Some(pick) = pick {
            index.release(pick.case);
        }
        histogram
            .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX))
            .unwrap();
    }
    let micros = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "decision: {CASES} waiting ({}% priority) in {QUEUES} queues, {OPERATORS} operators eligible for {QUEUES_PER_OPERATOR} queues each",
        10
    );
    println!(
        "decision: {DECISIONS} choices  p50 {:.1} µs  p99 {:.1} µs  max {:.1} µs  (target p99 ≤ 50 µs)",
        micros(0.50),
        micros(0.99),
        histogram.max() as f64 / 1_000.0
    );
}
