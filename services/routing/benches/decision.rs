//! The in-memory decision of "call next", in process, with a whole region waiting:
//! 100,000 waiting cases (10 % priority) in 50 queues of 3 services each; 1,000 operators,
//! each with the skills of 10 of the 50 queues. Two figures:
//!
//! 1. **The index alone** — `WaitingIndex::choose` on one thread with the operator's lanes
//!    computed beforehand: no dispatcher lock, no lane filtering, no reservation held (each
//!    pick is released at once). The data structure's own cost, nothing else.
//! 2. **The served path** — what `CallNext` does in memory for each call, as the server
//!    runs it: the operator's lanes filtered from the catalogue (`dispatch::lanes_for`:
//!    tier, skills, the site's queues), the queue names for the reply, then
//!    `Dispatcher::choose` (its mutex, the index, the reservation, the decision histogram
//!    of the installed Prometheus recorder). Several callers at once (`BENCH_CALLERS`,
//!    default 2 — the server's Tokio workers on this 2-core machine), each keeping its last
//!    16 picks reserved as claims in flight (so 32 reservations outstanding, skipped by
//!    every choice), then settling them: nine in ten claimed (the case leaves the index and
//!    a new one arrives), one in ten released. A follower thread meanwhile applies other
//!    replicas' news under the same lock, as `dispatch::sync` does: 500 arrivals and 500
//!    calls elsewhere a second. The database claim that follows in production is not
//!    here: `make bench-routing`'s e2e bench measures CallNext whole.
//!
//! `cargo bench -p sportello-routing --bench decision` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp};
use sportello_kit::MunicipalityCode;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{CaseStatus, PriorityCategory, Tier},
};
use sportello_routing::{
    cases::domain::Case,
    catalogue::{
        cache::Catalogue,
        domain::{Requirement, ServiceType},
    },
    dispatch::{
        Dispatcher,
        index::{LaneKey, Waiting, WaitingIndex},
        lanes_for,
    },
    operators::domain::{Profile, Skill},
    sites::domain::SiteSettings,
};
use uuid::Uuid;

const CASES: usize = 100_000;
const QUEUES: usize = 50;
const SERVICES_PER_QUEUE: usize = 3;
const OPERATORS: usize = 1_000;
const QUEUES_PER_OPERATOR: usize = 10;
const DECISIONS: usize = 200_000;
/// Picks each caller keeps reserved, as claims in flight.
const HELD: usize = 16;
/// Other replicas' news per second, of each kind (arrivals, calls).
const NEWS_PER_SECOND: u64 = 500;

/// A small deterministic generator (xorshift), so every run sees the same region.
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

fn group(q: usize) -> String {
    format!("group_{q:02}")
}

fn service(q: usize, s: usize) -> String {
    format!("svc.q{q:02}_{s}")
}

/// The region: where each case waits, and the operators' eligibility.
struct Region {
    site: Uuid,
    municipality: MunicipalityCode,
    start: Timestamp,
    now: Timestamp,
    catalogue: Catalogue,
    operators: Vec<Profile>,
}

impl Region {
    fn new(rng: &mut Rng) -> Self {
        let municipality: MunicipalityCode = "011015".parse().unwrap();
        let mut catalogue = Catalogue::default();
        for q in 0..QUEUES {
            for s in 0..SERVICES_PER_QUEUE {
                let code = service(q, s);
                catalogue.services.insert(
                    code.clone(),
                    Arc::new(ServiceType {
                        municipality,
                        code,
                        name: format!("Service {q}/{s}"),
                        department: format!("dept_{q:02}"),
                        tier: Tier::InfoDesk,
                        expected_minutes: 10,
                        appointment_required: false,
                        required_skills: vec![Requirement {
                            skill: format!("skill_{q:02}"),
                            min_proficiency: 1,
                        }],
                        group: group(q),
                        channels: vec![Channel::Counter],
                        documents: Vec::new(),
                        statutory_rule: String::new(),
                        active: true,
                        outcomes: Vec::new(),
                    }),
                );
            }
        }
        let operators = (0..OPERATORS)
            .map(|n| {
                let mut queues = std::collections::BTreeSet::new();
                while queues.len() < QUEUES_PER_OPERATOR {
                    queues.insert(rng.below(QUEUES));
                }
                Profile {
                    id: format!("op-{n:04}"),
                    municipality,
                    display_name: format!("Operator {n}"),
                    tier: Tier::Polivalente,
                    department: "dept_00".into(),
                    skills: queues
                        .into_iter()
                        .map(|q| Skill {
                            skill: format!("skill_{q:02}"),
                            proficiency: 3,
                        })
                        .collect(),
                }
            })
            .collect();
        let start = Timestamp::from_second(1_795_000_000).unwrap();
        Self {
            site: Uuid::now_v7(),
            municipality,
            start,
            now: start.checked_add(SignedDuration::from_hours(4)).unwrap(),
            catalogue,
            operators,
        }
    }

    /// A case of queue `q`, as the dispatcher receives it.
    fn case(&self, rng: &mut Rng, arrival: Timestamp) -> Case {
        let q = rng.below(QUEUES);
        let priority = if rng.below(10) == 0 {
            PriorityCategory::Elderly
        } else {
            PriorityCategory::None
        };
        Case {
            id: Uuid::now_v7(),
            municipality: self.municipality,
            requester_ref: None,
            service_code: service(q, rng.below(SERVICES_PER_QUEUE)),
            department: format!("dept_{q:02}"),
            tier: Tier::InfoDesk,
            channel: Channel::Counter,
            site_id: Some(self.site),
            group: group(q),
            priority,
            status: CaseStatus::Waiting,
            ticket_id: None,
            ticket_label: None,
            ticket_position: 0,
            arrival_at: arrival,
            opened_at: arrival,
            operator_id: None,
            counter_number: None,
            call_count: 0,
            called_at: None,
            outcome_code: None,
            closed_at: None,
            version: 1,
        }
    }
}

/// The case as news of its call: no longer waiting.
fn called(mut case: Case) -> Case {
    case.status = CaseStatus::Called;
    case.version += 1;
    case
}

/// The queue names a reply carries (as `cases::counter` computes them per call).
fn group_names(lanes: &[LaneKey]) -> Vec<String> {
    let mut groups: Vec<String> = lanes.iter().map(|(_, g, _)| g.to_string()).collect();
    groups.sort();
    groups.dedup();
    groups
}

fn micros(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1_000.0
}

fn index_alone(region: &Region, rng: &mut Rng) -> Histogram<u64> {
    let mut index = WaitingIndex::default();
    for n in 0..CASES {
        // Spread over four hours of arrivals.
        let arrival = region
            .start
            .checked_add(SignedDuration::from_millis(i64::try_from(n).unwrap() * 144))
            .unwrap();
        let case = region.case(rng, arrival);
        index.apply(
            case.id,
            1,
            Some(Waiting {
                id: case.id,
                site: region.site,
                group: Arc::from(case.group.as_str()),
                service: Arc::from(case.service_code.as_str()),
                priority: case.priority != PriorityCategory::None,
                arrival: case.arrival_at,
                version: 1,
            }),
        );
    }
    let settings = SiteSettings::default();
    let lanes: Vec<Vec<LaneKey>> = region
        .operators
        .iter()
        .map(|p| lanes_for(p, region.site, &settings, &region.catalogue))
        .collect();
    let bound = SignedDuration::from_mins(20);
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for n in 0..DECISIONS {
        let began = Instant::now();
        let pick = index.choose(&lanes[n % OPERATORS], region.now, bound);
        let took = began.elapsed();
        // Keep the region as it is: the reservation is given back.
        if let Some(pick) = pick {
            index.release(pick.case);
        }
        histogram
            .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX))
            .unwrap();
    }
    histogram
}

struct Served {
    histogram: Histogram<u64>,
    decisions: usize,
    elapsed: Duration,
    callers: usize,
    nothing: usize,
}

fn served_path(region: Arc<Region>, rng: &mut Rng) -> Served {
    let callers: usize = std::env::var("BENCH_CALLERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let dispatcher = Dispatcher::default();
    for n in 0..CASES {
        let arrival = region
            .start
            .checked_add(SignedDuration::from_millis(i64::try_from(n).unwrap() * 144))
            .unwrap();
        dispatcher.apply(&region.case(rng, arrival));
    }

    // Other replicas' news, under the same lock, at a steady rate until the callers end.
    let running = Arc::new(AtomicBool::new(true));
    let follower = {
        let (dispatcher, region, running, mut rng) = (
            dispatcher.clone(),
            region.clone(),
            running.clone(),
            Rng(rng.next() | 1),
        );
        std::thread::spawn(move || {
            let mut elsewhere: VecDeque<Case> = VecDeque::new();
            let tick = Duration::from_millis(10);
            let per_tick = NEWS_PER_SECOND / 100;
            while running.load(Ordering::Relaxed) {
                for _ in 0..per_tick {
                    let case = region.case(&mut rng, region.now);
                    dispatcher.apply(&case);
                    elsewhere.push_back(case);
                    // Another replica calls a case that arrived a while ago.
                    if elsewhere.len() > 100
                        && let Some(old) = elsewhere.pop_front()
                    {
                        dispatcher.apply(&called(old));
                    }
                }
                std::thread::sleep(tick);
            }
        })
    };

    let began = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|c| {
            let (dispatcher, region, mut rng) =
                (dispatcher.clone(), region.clone(), Rng(rng.next() | 1));
            std::thread::spawn(move || {
                let settings = SiteSettings::default();
                let mut histogram = Histogram::<u64>::new(3).unwrap();
                let mut held: VecDeque<Uuid> = VecDeque::new();
                let mut nothing = 0;
                for n in 0..DECISIONS / callers {
                    let operator = &region.operators[(n * callers + c) % OPERATORS];
                    let started = Instant::now();
                    let lanes = lanes_for(operator, region.site, &settings, &region.catalogue);
                    let groups = group_names(&lanes);
                    let pick = dispatcher.choose(&lanes, region.now, &settings);
                    let took = started.elapsed();
                    std::hint::black_box(groups);
                    histogram
                        .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX))
                        .unwrap();
                    match pick {
                        Some(pick) => held.push_back(pick.case),
                        None => nothing += 1,
                    }
                    // The oldest claim in flight settles.
                    if held.len() > HELD
                        && let Some(id) = held.pop_front()
                    {
                        if rng.below(10) == 0 {
                            dispatcher.release(id);
                        } else {
                            // Claimed: the case leaves the index; someone new arrives.
                            let mut gone = region.case(&mut rng, region.now);
                            gone.id = id;
                            dispatcher.apply(&called(gone));
                            dispatcher.apply(&region.case(&mut rng, region.now));
                        }
                    }
                }
                (histogram, nothing)
            })
        })
        .collect();
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut nothing = 0;
    for thread in threads {
        let (h, n) = thread.join().unwrap();
        histogram.add(h).unwrap();
        nothing += n;
    }
    let elapsed = began.elapsed();
    running.store(false, Ordering::Relaxed);
    follower.join().unwrap();
    Served {
        decisions: histogram.len() as usize,
        histogram,
        elapsed,
        callers,
        nothing,
    }
}

fn main() {
    // The server records every decision in the Prometheus recorder: so does this bench.
    sportello_kit::metrics::install();
    let mut rng = Rng(0x5eed_1e55_0000_0001);
    let region = Arc::new(Region::new(&mut rng));
    println!(
        "decision: {CASES} waiting (10% priority) in {QUEUES} queues of {SERVICES_PER_QUEUE} services, \
         {OPERATORS} operators with the skills of {QUEUES_PER_OPERATOR} queues each; {} build",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        }
    );

    let alone = index_alone(&region, &mut rng.clone());
    println!(
        "index alone (one thread, no lock, lanes precomputed, no reservation held): {DECISIONS} choices  \
         p50 {:.1} µs  p99 {:.1} µs  max {:.1} µs",
        micros(&alone, 0.50),
        micros(&alone, 0.99),
        alone.max() as f64 / 1_000.0
    );

    let served = served_path(region, &mut rng);
    let h = &served.histogram;
    println!(
        "served path (lanes_for + queue names + Dispatcher::choose; {} callers at once, {} reservations \
         outstanding, other replicas' news {NEWS_PER_SECOND}+{NEWS_PER_SECOND}/s under the same lock): \
         {} choices in {:.2} s  p50 {:.1} µs  p99 {:.1} µs  p99.9 {:.1} µs  max {:.1} µs  \
         (target p99 ≤ 50 µs; {} found nothing)",
        served.callers,
        served.callers * HELD,
        served.decisions,
        served.elapsed.as_secs_f64(),
        micros(h, 0.50),
        micros(h, 0.99),
        micros(h, 0.999),
        h.max() as f64 / 1_000.0,
        served.nothing,
    );
}
