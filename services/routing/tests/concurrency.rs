//! The invariants under concurrency and across replicas, judged on committed state:
//! a case is held by at most one operator; an operator holds at most one case; a
//! replica that dies at any point loses nothing and double-assigns nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Desk, RESIDENCE, as_operator, settings};
use sportello_kit::testing::TestService;
use sportello_proto::routing::v1::{
    CallNextRequest, DecisionReason, PriorityCategory, Tier, case_service_client::CaseServiceClient,
};

#[tokio::test]
async fn two_hundred_concurrent_calls_on_a_queue_of_one_hundred_cases_across_three_replicas() {
    let mut desk = Desk::open(200, settings(20, 2)).await;
    for n in 1..=200 {
        desk.operator(&format!("op-{n:03}"), Tier::InfoDesk, &[("anagrafe", 1)], n)
            .await;
    }
    for _ in 0..100 {
        desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    }
    // Two more replicas on the same database; each starts from the waiting cases.
    let (b, c) = tokio::join!(replica(&desk), replica(&desk));
    let clients = [
        desk.cases.clone(),
        CaseServiceClient::new(b.channel().await),
        CaseServiceClient::new(c.channel().await),
    ];
    let mut calls = Vec::new();
    for n in 1..=200 {
        let mut client = clients[usize::try_from(n).unwrap() % 3].clone();
        let id = format!("op-{n:03}");
        calls.push(tokio::spawn(async move {
            client
                .call_next(as_operator(
                    &id,
                    CallNextRequest {
                        operator_id: id.clone(),
                    },
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut called = Vec::new();
    let mut told_empty = 0;
    for call in calls {
        let reply = call.await.unwrap().unwrap();
        match reply.call {
            Some(call) => called.push(call.case.unwrap().id),
            None => {
                assert_eq!(
                    reply.decision.unwrap().reason(),
                    DecisionReason::NothingWaiting
                );
                told_empty += 1;
            }
        }
    }
    called.sort();
    let before = called.len();
    called.dedup();
    assert_eq!(
        (before, called.len(), told_empty),
        (100, 100, 100),
        "100 assignments, none twice, 100 told empty"
    );

    // Committed state agrees: 100 called cases, 100 distinct operators, one call each.
    let (cases, operators, calls): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(distinct operator_id), sum(call_count) from routing.cases where status = 'called'",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    assert_eq!((cases, operators, calls), (100, 100, 100));
    let history_calls: i64 =
        sqlx::query_scalar("select count(*) from routing.case_history where status = 'called'")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(history_calls, 100);
}

/// A second replica on the same database and stream.
async fn replica(desk: &Desk) -> TestService {
    common::start(&desk.ctx).await
}

#[tokio::test]
async fn a_replica_killed_after_choosing_and_before_claiming_loses_nothing() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;

    // A replica's dispatcher (the same code the server runs) chooses the case…
    let doomed = sportello_routing::dispatch::Dispatcher::default();
    doomed.reload(desk.routing.running.db()).await.unwrap();
    let lanes = vec![(
        desk.site_id.parse().unwrap(),
        "anagrafe".into(),
        RESIDENCE.into(),
    )];
    let now = desk.routing.running.db().clock().now();
    let pick = doomed.choose(&lanes, now, &Default::default()).unwrap();
    assert_eq!(pick.case.to_string(), ticket.cases[0].id);
    // …and dies before claiming it.
    drop(doomed);

    // Two other replicas run; the console's retry lands on one of them.
    let (other, _third) = tokio::join!(replica(&desk), replica(&desk));
    let mut client = CaseServiceClient::new(other.channel().await);
    let call = client
        .call_next(as_operator(
            "m.rossi",
            CallNextRequest {
                operator_id: "m.rossi".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        call.call.unwrap().case.unwrap().id,
        ticket.cases[0].id,
        "the case was not lost"
    );
}

#[tokio::test]
async fn a_replica_killed_after_claiming_and_before_replying_double_assigns_nothing() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let db = desk.routing.running.db().clone();

    // A replica claims the case for m.rossi (committed)…
    let doomed = sportello_routing::cases::Flow {
        db: db.clone(),
        dispatcher: sportello_routing::dispatch::Dispatcher::default(),
        catalogue: sportello_routing::catalogue::cache::CatalogueCache::new(db.clone()),
        sites: sportello_routing::sites::cache::SiteCache::new(db.clone()),
    };
    let context =
        sportello_kit::CallContext::new("gateway", "operator:m.rossi", "011015", "counter.serve")
            .unwrap()
            .with_roles(&[sportello_kit::Role::Polivalente]);
    let claimed = doomed
        .claim(
            &context,
            "m.rossi",
            ticket.cases[0].id.parse().unwrap(),
            DecisionReason::Fifo,
        )
        .await
        .unwrap()
        .unwrap();
    // …and dies before the reply reaches the console.
    drop(doomed);

    // The console retries on another replica: it gets the same case, called once.
    // Two other replicas run; the console's retry lands on one of them.
    let (other, _third) = tokio::join!(replica(&desk), replica(&desk));
    let mut client = CaseServiceClient::new(other.channel().await);
    let retry = client
        .call_next(as_operator(
            "m.rossi",
            CallNextRequest {
                operator_id: "m.rossi".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.call.unwrap().case.unwrap().id, claimed.id.to_string());
    let calls: i64 =
        sqlx::query_scalar("select count(*) from routing.case_history where status = 'called'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(calls, 1, "called once");
}

#[tokio::test]
async fn a_replica_killed_after_replying_and_before_publishing_loses_no_event() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let call = desk.call_next("m.rossi").await.unwrap();
    // The replica replied; its relay never ran (manual workers). Kill it.
    let Desk { ctx, routing, .. } = desk;
    routing.stop().await;

    let (survivor, _other) = tokio::join!(common::start(&ctx), common::start(&ctx));
    let mut published = 0;
    loop {
        let pass = survivor.running.workers.relay.run_once().await.unwrap();
        if pass.published == 0 {
            break;
        }
        published += pass.published;
    }
    assert!(published > 0);
    let js = async_nats::jetstream::new(ctx.nats().await);
    let mut stream = js
        .get_stream(ctx.config.subject_prefix.stream("routing"))
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages as usize, published, "each event once");
    let called = js
        .get_stream(ctx.config.subject_prefix.stream("routing"))
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&ctx.config.subject_prefix.subject("case.called"))
        .await
        .unwrap();
    let record =
        sportello_kit::EventRecord::from_message(Some(&called.headers), called.payload).unwrap();
    assert_eq!(record.aggregate_id, call.case.unwrap().id);
}

#[tokio::test]
async fn a_case_opened_on_one_replica_is_called_on_another() {
    let ctx = common::context().await.with_background_workers();
    let mut desk = Desk::open_with(ctx, 2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let (other, _third) = tokio::join!(replica(&desk), replica(&desk));
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;

    // The other replica learns of the case from the stream; its console polls.
    let mut client = CaseServiceClient::new(other.channel().await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = client
            .call_next(as_operator(
                "m.rossi",
                CallNextRequest {
                    operator_id: "m.rossi".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        if let Some(call) = reply.call {
            assert_eq!(call.case.unwrap().id, ticket.cases[0].id);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other replica never saw the case"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
