//! The fairness rule as a property, judged on committed state, with three routing
//! replicas: random arrivals of priority and ordinary tickets, random operator timings,
//! each operator calling through their own replica; afterwards, from the database alone, no priority ticket was ever called while an ordinary ticket that had
//! arrived before it had waited past the bound, and each class was served in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, RESIDENCE, as_operator, settings};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use sportello_proto::routing::v1::{CompleteRequest, PriorityCategory, Tier};

#[derive(Debug, Clone)]
enum Step {
    Arrive { priority: bool },
    Call { operator: usize },
    Complete { operator: usize },
}

fn step() -> impl Strategy<Value = (i64, Step)> {
    let action = prop_oneof![
        // About one arrival in three is a priority ticket.
        3 => prop::bool::weighted(0.3).prop_map(|priority| Step::Arrive { priority }),
        2 => (0..3usize).prop_map(|operator| Step::Call { operator }),
        2 => (0..3usize).prop_map(|operator| Step::Complete { operator }),
    ];
    (0..7i64, action)
}

const OPERATORS: [&str; 3] = ["op-a", "op-b", "op-c"];

/// A routing replica as a library: its own dispatcher and caches, following the stream
/// like a server does. Calls go to it directly, so the test can wait until every
/// replica's view has caught up before each step — as, in life, a case that has waited
/// minutes is known to every replica.
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
        tokio::spawn(sportello_routing::dispatch::sync::follow(
            flow.dispatcher.clone(),
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

/// Waits until every replica sees exactly the cases waiting in the database.
async fn caught_up(desk: &Desk, replicas: &[Replica]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 =
            sqlx::query_scalar("select count(*) from routing.cases where status = 'waiting'")
                .fetch_one(desk.pool())
                .await
                .unwrap();
        if replicas
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

async fn run(bound: u32, steps: Vec<(i64, Step)>) {
    let ctx = common::context().await.with_background_workers();
    // Simulated minutes pass in jumps here, with no consoles beating: presence is not
    // what this test is about, so the heartbeat rule is out of the way.
    let routing =
        common::start_with_heartbeat(&ctx, std::time::Duration::from_secs(86_400 * 365)).await;
    let mut desk = Desk::open_on(ctx, routing, 3, settings(bound, 2)).await;
    for (n, id) in OPERATORS.iter().enumerate() {
        desk.operator(
            id,
            Tier::InfoDesk,
            &[("anagrafe", 1)],
            u32::try_from(n + 1).unwrap(),
        )
        .await;
    }
    // Three replicas; operator n calls through replica n.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(&desk, &stop).await);
    }
    let mut held: [Option<String>; 3] = [None, None, None];
    for (minutes, step) in steps {
        desk.wait(minutes);
        caught_up(&desk, &replicas).await;
        match step {
            Step::Arrive { priority } => {
                let category = if priority {
                    PriorityCategory::Elderly
                } else {
                    PriorityCategory::None
                };
                desk.ticket(&[RESIDENCE], category).await;
            }
            Step::Call { operator } => {
                let id = OPERATORS[operator];
                let context = sportello_kit::CallContext::new(
                    "tests",
                    &format!("operator:{id}"),
                    "011015",
                    "counter.serve",
                )
                .unwrap()
                .with_roles(&[sportello_kit::Role::Polivalente]);
                let reply = replicas[operator]
                    .flow
                    .call_next(&context, id)
                    .await
                    .unwrap();
                held[operator] = reply.call.and_then(|c| c.case).map(|c| c.id);
            }
            Step::Complete { operator } => {
                if let Some(case) = held[operator].take() {
                    let id = OPERATORS[operator];
                    desk.cases
                        .complete(as_operator(
                            id,
                            CompleteRequest {
                                operator_id: id.into(),
                                case_id: case,
                                outcome_code: "issued".into(),
                            },
                        ))
                        .await
                        .unwrap();
                }
            }
        }
    }
    stop.cancel();
    judge(&desk, bound).await;
}

/// Checks the committed history.
async fn judge(desk: &Desk, bound: u32) {
    let rows: Vec<(String, bool, jiff_sqlx::Timestamp, Option<jiff_sqlx::Timestamp>)> = sqlx::query_as(
        "select c.ticket_id::text, c.priority <> 'none', c.arrival_at,
                (select min(h.at) from routing.case_history h where h.case_id = c.id and h.status = 'called')
         from routing.cases c",
    )
    .fetch_all(desk.pool())
    .await
    .unwrap();
    let cases: Vec<(String, bool, Timestamp, Option<Timestamp>)> = rows
        .into_iter()
        .map(|(id, p, a, c)| (id, p, a.to_jiff(), c.map(|c| c.to_jiff())))
        .collect();
    let bound = SignedDuration::from_mins(i64::from(bound));
    let waiting_at = |case: &(String, bool, Timestamp, Option<Timestamp>), t: Timestamp| {
        case.2 <= t && case.3.is_none_or(|c| c > t)
    };

    for called in cases.iter().filter(|c| c.3.is_some()) {
        let t = called.3.unwrap();
        for other in &cases {
            if !waiting_at(other, t) || other.0 == called.0 {
                continue;
            }
            // The bound: a priority ticket never passes an ordinary one that had waited past it.
            if called.1 && !other.1 && other.2 < called.2 {
                assert!(
                    t.duration_since(other.2) < bound,
                    "priority ticket (arrived {}) called at {t} while ordinary ticket (arrived {}) had waited {}",
                    called.2,
                    other.2,
                    t.duration_since(other.2)
                );
            }
            // Within a class, first come first served.
            if called.1 == other.1 {
                assert!(
                    other.2 >= called.2,
                    "a later ticket of the same class was called first at {t}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn priority_never_passes_an_ordinary_ticket_past_the_bound(
        bound in 5u32..30,
        steps in proptest::collection::vec(step(), 20..60),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(run(bound, steps));
    }
}
