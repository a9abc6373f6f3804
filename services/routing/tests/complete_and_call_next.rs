//! The counter's "complete and call next" in one transaction, and openings committed
//! together (group commit): the throughput changes of issue 20 keep every guarantee —
//! each case claimed once, events with their commit, an acknowledged opening committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, INFO, RESIDENCE, as_operator, as_service, settings};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        CaseStatus, CompleteAndCallNextRequest, CompleteAndCallNextResponse, DecisionReason,
        OpenCaseRequest, PriorityCategory, Tier,
    },
};
use tonic::Code;

const ANAGRAFE: &[(&str, u32)] = &[("anagrafe", 3), ("urp", 1)];

async fn complete_and_call_next(
    desk: &mut Desk,
    operator: &str,
    case_id: &str,
) -> Result<CompleteAndCallNextResponse, tonic::Status> {
    Ok(desk
        .cases
        .complete_and_call_next(as_operator(
            operator,
            CompleteAndCallNextRequest {
                operator_id: operator.into(),
                case_id: case_id.into(),
                outcome_code: "issued".into(),
            },
        ))
        .await?
        .into_inner())
}

/// The event types written for `aggregate`, in order.
async fn events_of(desk: &Desk, aggregate: &str) -> Vec<String> {
    sqlx::query_scalar("select event_type from routing.outbox where aggregate_id = $1 order by seq")
        .bind(aggregate)
        .fetch_all(desk.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn completing_and_calling_next_is_one_step_without_a_wrap_up() {
    let mut desk = Desk::open(4, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    let first = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    desk.wait(1);
    let second = desk.ticket(&[INFO], PriorityCategory::None).await;
    let held = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    assert_eq!(held.id, first.cases[0].id);
    desk.wait(2);
    let presence_events = events_of(&desk, "m.rossi").await.len();

    let done = complete_and_call_next(&mut desk, "m.rossi", &held.id)
        .await
        .unwrap();
    let completed = done.case.unwrap();
    assert_eq!(completed.status(), CaseStatus::Completed);
    assert_eq!(completed.outcome_code, "issued");
    let call = done.call.unwrap();
    let called = call.case.unwrap();
    assert_eq!(called.id, second.cases[0].id);
    assert_eq!(called.status(), CaseStatus::Called);
    assert_eq!(call.counter_number, 1);
    assert_eq!(done.decision.unwrap().reason(), DecisionReason::Fifo);
    assert_eq!(call.ticket.unwrap().label, second.ticket.unwrap().label);

    // Busy throughout: no presence change, no wrap-up; each case's events in order.
    let operator: (String, Option<uuid::Uuid>) =
        sqlx::query_as("select presence, wrap_up_case_id from routing.operators where id = $1")
            .bind("m.rossi")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(operator, ("busy".to_owned(), None));
    assert_eq!(
        events_of(&desk, "m.rossi").await.len(),
        presence_events,
        "no presence change between the two cases"
    );
    assert_eq!(
        events_of(&desk, &held.id).await,
        vec!["case.opened", "case.called", "case.completed"]
    );
    assert_eq!(
        events_of(&desk, &called.id).await,
        vec!["case.opened", "case.called"]
    );
    let wrap_up: Option<i32> =
        sqlx::query_scalar("select wrap_up_seconds from routing.cases where id = $1::uuid")
            .bind(&held.id)
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(wrap_up, Some(0), "no wrap-up between the two cases");

    // Nothing left: the case is completed and the operator enters wrap-up, as after Complete.
    let done = complete_and_call_next(&mut desk, "m.rossi", &called.id)
        .await
        .unwrap();
    assert_eq!(done.case.unwrap().status(), CaseStatus::Completed);
    assert!(done.call.is_none());
    assert_eq!(
        done.decision.unwrap().reason(),
        DecisionReason::NothingWaiting
    );
    let presence: String =
        sqlx::query_scalar("select presence from routing.operators where id = $1")
            .bind("m.rossi")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(presence, "wrap_up");

    // A retry after a lost reply finds the case completed: refused, nothing changed.
    let again = complete_and_call_next(&mut desk, "m.rossi", &called.id)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
}

#[tokio::test]
async fn a_case_is_claimed_once_when_operators_complete_and_call_together() {
    let mut desk = Desk::open(8, settings(20, 2)).await;
    let operators: Vec<String> = (1..=6).map(|n| format!("op.{n}")).collect();
    for (n, id) in operators.iter().enumerate() {
        desk.operator(id, Tier::InfoDesk, ANAGRAFE, u32::try_from(n + 1).unwrap())
            .await;
    }
    // Each operator holds a case; three more wait for six operators.
    let mut held = Vec::new();
    for id in &operators {
        desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
        held.push(desk.call_next(id).await.unwrap().case.unwrap().id);
    }
    for _ in 0..3 {
        desk.ticket(&[INFO], PriorityCategory::None).await;
    }
    let mut racing = Vec::new();
    for (id, case) in operators.iter().zip(&held) {
        let mut cases = desk.cases.clone();
        let (id, case) = (id.clone(), case.clone());
        racing.push(tokio::spawn(async move {
            cases
                .complete_and_call_next(as_operator(
                    &id,
                    CompleteAndCallNextRequest {
                        operator_id: id.clone(),
                        case_id: case,
                        outcome_code: "issued".into(),
                    },
                ))
                .await
                .unwrap()
                .into_inner()
        }));
    }
    let mut called = Vec::new();
    for race in racing {
        let done = race.await.unwrap();
        assert_eq!(done.case.unwrap().status(), CaseStatus::Completed);
        if let Some(call) = done.call {
            called.push(call.case.unwrap().id);
        }
    }
    called.sort();
    let before = called.len();
    called.dedup();
    assert_eq!(
        (before, called.len()),
        (3, 3),
        "three cases, each claimed once"
    );
    let held_now: i64 =
        sqlx::query_scalar("select count(*) from routing.cases where status = 'called'")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(held_now, 3);
}

#[tokio::test]
async fn concurrent_openings_are_each_committed_once_with_their_event() {
    let desk = Desk::open(2, settings(20, 2)).await;
    let mut opening = Vec::new();
    for n in 0..200 {
        let mut cases = desk.cases.clone();
        let site_id = desk.site_id.clone();
        opening.push(tokio::spawn(async move {
            cases
                .open_case(as_service(OpenCaseRequest {
                    municipality_istat_code: common::LA_SPEZIA.into(),
                    service_code: if n % 2 == 0 { RESIDENCE } else { INFO }.into(),
                    channel: Channel::Counter as i32,
                    site_id,
                    priority_category: PriorityCategory::None as i32,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().case.unwrap().id)
        }));
    }
    let mut ids = Vec::new();
    for open in opening {
        ids.push(open.await.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    // Every acknowledged case is committed with its history line and its one event.
    let (cases, history, events): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from routing.cases where id::text = any($1)),
                (select count(*) from routing.case_history where case_id::text = any($1)),
                (select count(*) from routing.outbox
                  where event_type = 'case.opened' and aggregate_id = any($1))",
    )
    .bind(&ids)
    .fetch_one(desk.pool())
    .await
    .unwrap();
    assert_eq!((cases, history, events), (200, 200, 200));
}
