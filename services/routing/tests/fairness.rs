//! The fairness rule as a property, judged on committed state, with three routing
//! replicas following the stream and operators acting at the same instant through
//! different replicas.
//!
//! Each generated case opens its own site (its own bound, 5-29 minutes) with three
//! operators, each calling through their own replica. Tickets arrive at distinct
//! instants (one to four minutes apart, about three in ten priority); in each round the
//! clock moves on (up to five minutes) and the operators act together — complete what they hold and call
//! next, only complete, or stay idle — so their replicas race for the same queue heads and
//! PostgreSQL settles who gets each case. Afterwards, from the database alone, every call
//! is checked against both halves of the rule:
//!
//! - **priority first**: an ordinary ticket is never called while a priority ticket
//!   waits, unless that ordinary ticket had waited at least the bound and the priority
//!   ticket arrived after it;
//! - **the bound**: a priority ticket is never called while an ordinary ticket that
//!   arrived before it has waited at least the bound;
//! - and within each class, first come, first served.
//!
//! It runs 200 generated cases (`FAIRNESS_CASES` changes that) and fails unless both
//! halves were put to work many times (calls decided by priority over an earlier ordinary
//! ticket, and by the bound over a later priority ticket).
//!
//! Deliberate bugs it catches (each was put in `dispatch/policy.rs` and run once):
//! - dropping priority — `pick` calling the older head whatever its class (pure first
//!   come, first served) — fails "priority first" within seconds ("ordinary ticket
//!   (arrived 00:00:08, waited 7m 11s) called at 00:07:19 while a priority ticket that
//!   arrived at 00:04:53 waited"); the 12-case test this one replaced passed with it;
//! - dropping the bound — `pick` without its `overdue && p > o` branch — fails "the
//!   bound" ("priority ticket (arrived 05:08:43) called at 05:11:56 while an ordinary
//!   ticket that arrived at 04:54:25 had waited 17m 31s").
//!
//! Between rounds, when tickets arrived, the test waits until every replica's view holds
//! as many waiting cases as PostgreSQL — in life a ticket that has waited seconds is known
//! to every replica; nothing is waited for inside a round, nor after a round without
//! arrivals (a replica may then still believe in a case another one claimed: it loses the
//! claim and chooses again, as in production).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::{Desk, LA_SPEZIA, RESIDENCE, as_kiosk, as_operator, request, settings};
use jiff::{SignedDuration, Timestamp};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use sportello_proto::{
    common::v1::Address,
    routing::v1::{
        CompleteRequest, CreateSiteRequest, IssueTicketRequest, Operator, Presence,
        PriorityCategory, SetPresenceRequest, SitAtCounterRequest, Skill, Tier,
        UpsertOperatorRequest, site_service_client::SiteServiceClient,
    },
};

/// What an operator does in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Idle,
    /// Completes the case in hand, if any, and calls next.
    CompleteAndCall,
    /// Completes the case in hand, if any.
    Complete,
}

#[derive(Debug, Clone)]
enum Phase {
    /// Tickets, each `(seconds after the previous instant, priority)`.
    Arrivals(Vec<(i64, bool)>),
    /// `seconds` later, the three operators act at once.
    Round { seconds: i64, acts: [Act; 3] },
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        1 => Just(Act::Idle),
        3 => Just(Act::CompleteAndCall),
        1 => Just(Act::Complete),
    ]
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        1 => prop::collection::vec((60..240i64, prop::bool::weighted(0.3)), 1..5)
            .prop_map(Phase::Arrivals),
        1 => (1..300i64, [act(), act(), act()])
            .prop_map(|(seconds, acts)| Phase::Round { seconds, acts }),
    ]
}

fn scenario() -> impl Strategy<Value = (u32, Vec<Phase>)> {
    (5u32..30, prop::collection::vec(phase(), 10..36))
}

/// A routing replica as a library: its own dispatcher and caches, following the stream
/// like a server does; calls go to it directly so the test can see its view's size.
struct Replica {
    flow: sportello_routing::cases::Flow,
}

impl Replica {
    async fn start(desk: &Desk, stop: &tokio_util::sync::CancellationToken) -> Self {
        use sportello_routing::{
            catalogue::cache::CatalogueCache, dispatch::Dispatcher, sites::cache::SiteCache,
        };
        let db = desk.routing.running.db().clone();
        let flow = sportello_routing::cases::Flow {
            db: db.clone(),
            dispatcher: Dispatcher::default(),
            catalogue: CatalogueCache::new(db.clone()),
            sites: SiteCache::new(db.clone()),
        };
        let nats = desk.ctx.nats().await;
        let work = sportello_routing::work::flow::WorkFlow {
            db: db.clone(),
            catalogue: flow.catalogue.clone(),
            settings: Default::default(),
            index: Default::default(),
        };
        tokio::spawn(sportello_routing::dispatch::sync::follow(
            flow.dispatcher.clone(),
            work,
            flow.catalogue.clone(),
            flow.sites.clone(),
            db,
            nats,
            desk.ctx.config.subject_prefix.clone(),
            stop.clone(),
        ));
        Self { flow }
    }
}

/// One routing server (tickets, completions) and three replicas (calls), shared by every
/// generated case; each case works at a site of its own.
struct World {
    desk: Desk,
    replicas: Vec<Replica>,
    _stop: tokio_util::sync::DropGuard,
    sites: AtomicU64,
}

impl World {
    async fn start() -> Self {
        let ctx = common::context().await.with_background_workers();
        // Simulated minutes pass in jumps here, with no consoles beating: presence is not
        // what this test is about, so the heartbeat rule is out of the way.
        let routing =
            common::start_with_heartbeat(&ctx, std::time::Duration::from_secs(86_400 * 365)).await;
        let desk = Desk::open_on(ctx, routing, 1, settings(20, 2)).await;
        let stop = tokio_util::sync::CancellationToken::new();
        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(Replica::start(&desk, &stop).await);
        }
        Self {
            desk,
            replicas,
            _stop: stop.drop_guard(),
            sites: AtomicU64::new(0),
        }
    }

    /// Waits until every replica sees as many waiting cases as the database holds.
    async fn caught_up(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let waiting: i64 =
                sqlx::query_scalar("select count(*) from routing.cases where status = 'waiting'")
                    .fetch_one(self.desk.pool())
                    .await
                    .unwrap();
            if self
                .replicas
                .iter()
                .all(|r| r.flow.dispatcher.waiting() as i64 == waiting)
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replicas did not catch up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    fn advance(&self, seconds: i64) {
        self.desk
            .ctx
            .clock
            .advance(SignedDuration::from_secs(seconds));
    }

    /// A new site with `bound`, and three operators seated there and available.
    async fn site(&self, bound: u32) -> (String, [String; 3]) {
        let n = self.sites.fetch_add(1, Ordering::SeqCst);
        let channel = self.desk.routing.channel().await;
        let site = SiteServiceClient::new(channel)
            .create_site(request(CreateSiteRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                code: format!("sede-{n}"),
                name: format!("Sede {n}"),
                address: Some(Address {
                    street_name: "Piazza Europa".into(),
                    house_number: "1".into(),
                    postal_code: "19124".into(),
                    ..Default::default()
                }),
                counter_count: 3,
                idempotency_key: String::new(),
                settings: Some(settings(bound, 2)),
            }))
            .await
            .unwrap()
            .into_inner()
            .site
            .unwrap()
            .id;
        let ids = ["a", "b", "c"].map(|x| format!("f{n}-{x}"));
        let mut operators = self.desk.operators.clone();
        for (counter, id) in (1..).zip(&ids) {
            operators
                .upsert_operator(request(UpsertOperatorRequest {
                    operator: Some(Operator {
                        id: id.clone(),
                        municipality_istat_code: LA_SPEZIA.into(),
                        display_name: id.clone(),
                        tier: Tier::InfoDesk as i32,
                        department: "anagrafe".into(),
                        skills: vec![Skill {
                            skill: "anagrafe".into(),
                            proficiency: 1,
                        }],
                        ..Default::default()
                    }),
                }))
                .await
                .unwrap();
            operators
                .sit_at_counter(as_operator(
                    id,
                    SitAtCounterRequest {
                        operator_id: id.clone(),
                        site_id: site.clone(),
                        counter_number: counter,
                    },
                ))
                .await
                .unwrap();
            operators
                .set_presence(as_operator(
                    id,
                    SetPresenceRequest {
                        operator_id: id.clone(),
                        presence: Presence::Available as i32,
                    },
                ))
                .await
                .unwrap();
        }
        (site, ids)
    }
}

/// How often each half of the rule decided a call, over all cases.
#[derive(Debug, Default)]
struct Exercised {
    /// A priority ticket called while an earlier ordinary one waited (within the bound).
    priority_over_earlier: AtomicU64,
    /// An ordinary ticket called, past the bound, while a later priority one waited.
    bound_over_later_priority: AtomicU64,
    calls: AtomicU64,
}

async fn run(
    world: &World,
    bound: u32,
    phases: Vec<Phase>,
    exercised: &Exercised,
) -> Result<(), TestCaseError> {
    let (site, operators) = world.site(bound).await;
    let mut held: [Option<String>; 3] = [None, None, None];
    let mut arrived_since_sync = false;
    for phase in phases {
        match phase {
            Phase::Arrivals(tickets) => {
                for (seconds, priority) in tickets {
                    world.advance(seconds);
                    let category = if priority {
                        PriorityCategory::Elderly
                    } else {
                        PriorityCategory::None
                    };
                    world
                        .desk
                        .cases
                        .clone()
                        .issue_ticket(as_kiosk(IssueTicketRequest {
                            site_id: site.clone(),
                            service_codes: vec![RESIDENCE.into()],
                            priority_category: category as i32,
                            ..Default::default()
                        }))
                        .await
                        .unwrap();
                }
                arrived_since_sync = true;
            }
            Phase::Round { seconds, acts } => {
                if arrived_since_sync {
                    world.caught_up().await;
                    arrived_since_sync = false;
                }
                world.advance(seconds);
                let moves = (0..3).map(|n| {
                    let (act, id, in_hand) = (acts[n], operators[n].clone(), held[n].clone());
                    let replica = &world.replicas[n];
                    let mut cases = world.desk.cases.clone();
                    async move {
                        if act == Act::Idle {
                            return in_hand;
                        }
                        if let Some(case) = in_hand {
                            cases
                                .complete(as_operator(
                                    &id,
                                    CompleteRequest {
                                        operator_id: id.clone(),
                                        case_id: case,
                                        outcome_code: "issued".into(),
                                        appointment: None,
                                    },
                                ))
                                .await
                                .unwrap();
                        }
                        if act == Act::Complete {
                            return None;
                        }
                        let context = sportello_kit::CallContext::new(
                            "tests",
                            &format!("operator:{id}"),
                            LA_SPEZIA,
                            "counter.serve",
                        )
                        .unwrap()
                        .with_roles(&[sportello_kit::Role::Polivalente]);
                        let reply = replica.flow.call_next(&context, &id).await.unwrap();
                        reply.call.and_then(|c| c.case).map(|c| c.id)
                    }
                });
                let after = futures::future::join_all(moves).await;
                for (slot, case) in held.iter_mut().zip(after) {
                    *slot = case;
                }
            }
        }
    }
    judge(&world.desk, &site, bound, exercised)
        .await
        .map_err(TestCaseError::fail)
}

/// A case as the judge sees it: id, priority, arrival, first call.
type Seen = (String, bool, Timestamp, Option<Timestamp>);

/// Checks the committed history of `site`.
async fn judge(desk: &Desk, site: &str, bound: u32, exercised: &Exercised) -> Result<(), String> {
    let rows: Vec<(String, bool, jiff_sqlx::Timestamp, Option<jiff_sqlx::Timestamp>)> =
        sqlx::query_as(
            "select c.ticket_id::text, c.priority <> 'none', c.arrival_at,
                (select min(h.at) from routing.case_history h where h.case_id = c.id and h.status = 'called')
         from routing.cases c where c.site_id = $1::uuid",
        )
        .bind(site)
        .fetch_all(desk.pool())
        .await
        .unwrap();
    let cases: Vec<Seen> = rows
        .into_iter()
        .map(|(id, p, a, c)| (id, p, a.to_jiff(), c.map(|c| c.to_jiff())))
        .collect();
    let mut arrivals: Vec<Timestamp> = cases.iter().map(|c| c.2).collect();
    arrivals.sort();
    arrivals.dedup();
    if arrivals.len() != cases.len() {
        return Err("two tickets share an arrival instant".into());
    }
    let bound = SignedDuration::from_mins(i64::from(bound));
    let waiting_at = |case: &Seen, t: Timestamp| case.2 <= t && case.3.is_none_or(|c| c > t);
    let class = |priority: bool| if priority { "priority" } else { "ordinary" };

    for called in cases.iter().filter(|c| c.3.is_some()) {
        let t = called.3.unwrap();
        exercised.calls.fetch_add(1, Ordering::Relaxed);
        let (mut over_earlier, mut over_later_priority) = (false, false);
        for other in cases.iter().filter(|o| o.0 != called.0 && waiting_at(o, t)) {
            let waited = t.duration_since(other.2);
            match (called.1, other.1) {
                // The bound: a priority ticket never passes an ordinary one that had waited past it.
                (true, false) if other.2 < called.2 => {
                    if waited >= bound {
                        return Err(format!(
                            "the bound: priority ticket (arrived {}) called at {t} while an ordinary ticket \
                             that arrived at {} had waited {waited:#}",
                            called.2, other.2
                        ));
                    }
                    over_earlier = true;
                }
                // Priority first: an ordinary ticket goes before a waiting priority one only
                // once it has waited the bound, and only before priority tickets that came after it.
                (false, true) => {
                    let called_waited = t.duration_since(called.2);
                    if other.2 < called.2 || called_waited < bound {
                        return Err(format!(
                            "priority first: ordinary ticket (arrived {}, waited {called_waited:#}) called \
                             at {t} while a priority ticket that arrived at {} waited",
                            called.2, other.2
                        ));
                    }
                    over_later_priority = true;
                }
                // Within a class, first come first served.
                (p, q) if p == q && other.2 < called.2 => {
                    return Err(format!(
                        "{} ticket (arrived {}) called at {t} before one of its class that arrived at {}",
                        class(p),
                        called.2,
                        other.2
                    ));
                }
                _ => {}
            }
        }
        if over_earlier {
            exercised
                .priority_over_earlier
                .fetch_add(1, Ordering::Relaxed);
        }
        if over_later_priority {
            exercised
                .bound_over_later_priority
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[test]
fn priority_goes_first_and_never_passes_an_ordinary_ticket_past_the_bound() {
    let cases = std::env::var("FAIRNESS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let world = runtime.block_on(World::start());
    let exercised = Exercised::default();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let outcome = runner.run(&scenario(), |(bound, phases)| {
        runtime.block_on(run(&world, bound, phases, &exercised))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let priority = exercised.priority_over_earlier.load(Ordering::Relaxed);
    let bound = exercised.bound_over_later_priority.load(Ordering::Relaxed);
    let calls = exercised.calls.load(Ordering::Relaxed);
    eprintln!(
        "{cases} cases, {calls} calls: {priority} decided by priority over an earlier ordinary \
         ticket, {bound} by the bound over a later priority ticket"
    );
    assert!(
        priority >= u64::from(cases) / 4 && bound >= u64::from(cases) / 4,
        "the scenarios must put both halves of the rule to work \
         ({priority} priority-first calls, {bound} bound calls in {cases} cases)"
    );
}
