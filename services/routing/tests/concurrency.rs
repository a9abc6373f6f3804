//! The invariants under concurrency and across replicas, judged on committed state:
//! a case is held by at most one operator; an operator holds at most one case; a
//! replica process killed (SIGKILL) with its claim transaction open, or after the claim
//! committed but before it replied and before its relay published, loses nothing and
//! double-assigns nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    Desk, RESIDENCE, as_operator,
    replica::{ReplicaProcess, desk_on_real_time, until},
    settings,
};
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

/// A dispatcher that chose a case and went away without claiming it: its reservation
/// lived in its memory only, so the case waits in PostgreSQL as before and another replica
/// calls it. (No process dies here; the kills are below.)
#[tokio::test]
async fn a_case_chosen_but_never_claimed_is_called_through_another_replica() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;

    // A dispatcher (the same code the server runs) chooses the case and is dropped.
    let chooser = sportello_routing::dispatch::Dispatcher::default();
    chooser.reload(desk.routing.running.db()).await.unwrap();
    let lanes = vec![(
        desk.site_id.parse().unwrap(),
        "anagrafe".into(),
        RESIDENCE.into(),
    )];
    let now = desk.routing.running.db().clock().now();
    let pick = chooser.choose(&lanes, now, &Default::default()).unwrap();
    assert_eq!(pick.case.to_string(), ticket.cases[0].id);
    drop(chooser);

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

/// A connection of the test's own, in a transaction, that can hold table locks.
async fn locker(desk: &Desk) -> (sqlx::PgConnection, i32) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&desk.ctx.config.database_url)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("begin").execute(&mut conn).await.unwrap();
    (conn, pid)
}

/// The backends waiting on a lock `holder` has, running a statement that starts with
/// `statement`.
async fn blocked_by(pool: &sqlx::PgPool, holder: i32, statement: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "select pid from pg_stat_activity
         where $1 = any(pg_blocking_pids(pid)) and ltrim(query) like $2 || '%'",
    )
    .bind(holder)
    .bind(statement)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// (status, call count, operator, presence of m.rossi, `called` history rows, `case.called` events)
async fn committed(
    pool: &sqlx::PgPool,
    case: &str,
) -> (String, i16, Option<String>, String, i64, i64) {
    sqlx::query_as(
        "select c.status, c.call_count, c.operator_id,
                (select presence from routing.operators where id = 'm.rossi'),
                (select count(*) from routing.case_history h where h.case_id = c.id and h.status = 'called'),
                (select count(*) from routing.outbox where event_type = 'case.called')
         from routing.cases c where c.id = $1::uuid",
    )
    .bind(case)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_replica_process_killed_with_its_claim_transaction_open_loses_nothing() {
    let mut desk = desk_on_real_time().await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let case = ticket.cases[0].id.clone();
    let pool = desk.pool().clone();
    let mut doomed = ReplicaProcess::spawn(&desk, &desk.ctx.nats_url_for("routing")).await;

    // The outbox is locked against writes: the claim will stop at its last statement,
    // the events' insert, with the case already updated in its open transaction.
    let (mut outbox_lock, holder) = locker(&desk).await;
    sqlx::query("lock table routing.outbox in share mode")
        .execute(&mut outbox_lock)
        .await
        .unwrap();
    let mut console = CaseServiceClient::new(doomed.channel().await.unwrap());
    let call = tokio::spawn(async move {
        console
            .call_next(as_operator(
                "m.rossi",
                CallNextRequest {
                    operator_id: "m.rossi".into(),
                },
            ))
            .await
    });
    until("the claim waits at the outbox", || {
        let pool = pool.clone();
        async move {
            !blocked_by(&pool, holder, "insert into outbox")
                .await
                .is_empty()
        }
    })
    .await;
    let claim_backend = blocked_by(&pool, holder, "insert into outbox").await[0];
    let row_lock = sqlx::query("select 1 from routing.cases where id = $1::uuid for update nowait")
        .bind(&case)
        .execute(&pool)
        .await
        .expect_err("the open claim holds the case's row");
    assert_eq!(
        row_lock.as_database_error().unwrap().code().as_deref(),
        Some("55P03")
    );

    doomed.kill();
    let reply = call.await.unwrap();
    assert!(reply.is_err(), "the console got no reply: {reply:?}");
    // PostgreSQL finds the client gone when the statement can finish, and rolls back.
    sqlx::query("rollback")
        .execute(&mut outbox_lock)
        .await
        .unwrap();
    until("the dead replica's backend is gone", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from pg_stat_activity where pid = $1")
                .bind(claim_backend)
                .fetch_one(&pool)
                .await
                .unwrap()
                == 0
        }
    })
    .await;
    assert_eq!(
        committed(&pool, &case).await,
        ("waiting".into(), 0, None, "available".into(), 0, 0),
        "nothing of the claim was committed"
    );

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
    assert_eq!(
        retry.call.unwrap().case.unwrap().id,
        case,
        "the case was not lost"
    );
    assert_eq!(
        committed(&pool, &case).await,
        (
            "called".into(),
            1,
            Some("m.rossi".into()),
            "busy".into(),
            1,
            1
        )
    );
}

#[tokio::test]
async fn a_replica_process_killed_after_its_claim_committed_before_replying_and_publishing_loses_nothing()
 {
    let mut desk = desk_on_real_time().await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let case = ticket.cases[0].id.clone();
    let pool = desk.pool().clone();
    // No NATS for this replica: its relay cannot publish what it commits.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut doomed = ReplicaProcess::spawn(&desk, &format!("nats://{nowhere}")).await;

    // Stop the claim at its events' insert (as above), then queue an exclusive lock on
    // the tickets behind it: once the claim commits, the replica's next statement —
    // reading the ticket for its reply — waits, so it dies between commit and reply.
    let (mut outbox_lock, outbox_holder) = locker(&desk).await;
    sqlx::query("lock table routing.outbox in share mode")
        .execute(&mut outbox_lock)
        .await
        .unwrap();
    let mut console = CaseServiceClient::new(doomed.channel().await.unwrap());
    let call = tokio::spawn(async move {
        console
            .call_next(as_operator(
                "m.rossi",
                CallNextRequest {
                    operator_id: "m.rossi".into(),
                },
            ))
            .await
    });
    until("the claim waits at the outbox", || {
        let pool = pool.clone();
        async move {
            !blocked_by(&pool, outbox_holder, "insert into outbox")
                .await
                .is_empty()
        }
    })
    .await;
    let (mut tickets_lock, tickets_holder) = locker(&desk).await;
    let tickets_lock = tokio::spawn(async move {
        sqlx::query("lock table routing.tickets in access exclusive mode")
            .execute(&mut tickets_lock)
            .await
            .unwrap();
        tickets_lock
    });
    until("the tickets lock is queued behind the claim", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "select exists (select 1 from pg_locks where pid = $1 and not granted)",
            )
            .bind(tickets_holder)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    })
    .await;
    sqlx::query("commit")
        .execute(&mut outbox_lock)
        .await
        .unwrap();
    let mut tickets_lock = tickets_lock.await.unwrap();
    until("the replica waits to read the ticket for its reply", || {
        let pool = pool.clone();
        async move {
            !blocked_by(&pool, tickets_holder, "select id, site_id, day, label")
                .await
                .is_empty()
        }
    })
    .await;
    assert_eq!(
        committed(&pool, &case).await,
        (
            "called".into(),
            1,
            Some("m.rossi".into()),
            "busy".into(),
            1,
            1
        ),
        "the claim is committed"
    );

    doomed.kill();
    let reply = call.await.unwrap();
    assert!(reply.is_err(), "the console got no reply: {reply:?}");
    sqlx::query("rollback")
        .execute(&mut tickets_lock)
        .await
        .unwrap();
    let unpublished: i64 =
        sqlx::query_scalar("select count(*) from routing.outbox where published_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(unpublished > 0);

    // The console retries on another replica: it gets the same case, called once.
    let Desk { ctx, .. } = desk;
    let (survivor, _other) = tokio::join!(common::start(&ctx), common::start(&ctx));
    let mut client = CaseServiceClient::new(survivor.channel().await);
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
    assert_eq!(
        retry.decision.as_ref().unwrap().reason(),
        DecisionReason::AlreadyCalled
    );
    assert_eq!(retry.call.unwrap().case.unwrap().id, case);
    assert_eq!(
        committed(&pool, &case).await,
        (
            "called".into(),
            1,
            Some("m.rossi".into()),
            "busy".into(),
            1,
            1
        ),
        "called once"
    );

    // The dead replica's events are published by a survivor's relay, each once.
    let mut published = 0;
    loop {
        let pass = survivor.running.workers.relay.run_once().await.unwrap();
        if pass.published == 0 {
            break;
        }
        published += pass.published;
    }
    assert_eq!(
        usize::try_from(unpublished).unwrap(),
        published,
        "every event left behind"
    );
    let js = async_nats::jetstream::new(ctx.nats().await);
    let mut stream = js
        .get_stream(ctx.config.subject_prefix.stream("routing"))
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages as usize, published, "each event once");
    let called = stream
        .get_last_raw_message_by_subject(&ctx.config.subject_prefix.subject("case.called"))
        .await
        .unwrap();
    let record =
        sportello_kit::EventRecord::from_message(Some(&called.headers), called.payload).unwrap();
    assert_eq!(record.aggregate_id, case);
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
