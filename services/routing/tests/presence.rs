//! Presence changes only when the operator acts or a rule fires — never by itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, as_operator, settings};
use prost::Message;
use sportello_proto::routing::v1::{
    GetOperatorRequest, HeartbeatRequest, OperatorPresenceChanged, Presence, PresenceChangeReason,
    Tier,
};

async fn presence_of(desk: &mut Desk, id: &str) -> Presence {
    desk.operators
        .get_operator(common::request(GetOperatorRequest {
            operator_id: id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .operator
        .unwrap()
        .presence()
}

async fn heartbeat(desk: &mut Desk, id: &str) {
    desk.operators
        .heartbeat(as_operator(
            id,
            HeartbeatRequest {
                operator_id: id.into(),
            },
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_silent_client_turns_its_operator_offline_with_an_event_saying_why() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let timers = desk.routing.running.workers.timers.clone();

    // Heartbeats every 30 s for five minutes: nothing changes.
    for _ in 0..10 {
        desk.ctx.clock.advance(jiff::SignedDuration::from_secs(30));
        heartbeat(&mut desk, "m.rossi").await;
        timers.run_once().await.unwrap();
        assert_eq!(presence_of(&mut desk, "m.rossi").await, Presence::Available);
    }
    // The tab is closed: 89 s of silence is still within the 90-second timeout.
    desk.ctx.clock.advance(jiff::SignedDuration::from_secs(89));
    timers.run_once().await.unwrap();
    assert_eq!(presence_of(&mut desk, "m.rossi").await, Presence::Available);
    desk.ctx.clock.advance(jiff::SignedDuration::from_secs(1));
    assert_eq!(timers.run_once().await.unwrap(), 1);
    assert_eq!(presence_of(&mut desk, "m.rossi").await, Presence::Offline);

    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from routing.outbox where event_type = 'operator.presence_changed' order by seq desc limit 1",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    let event = OperatorPresenceChanged::decode(payload.as_slice()).unwrap();
    assert_eq!(
        (event.from(), event.to(), event.reason()),
        (
            Presence::Available,
            Presence::Offline,
            PresenceChangeReason::HeartbeatLost
        )
    );

    // Hours pass: an offline operator never becomes available by itself.
    desk.ctx.clock.advance(jiff::SignedDuration::from_hours(5));
    timers.run_once().await.unwrap();
    assert_eq!(presence_of(&mut desk, "m.rossi").await, Presence::Offline);
    // Only the operator's own action brings them back.
    assert_eq!(
        desk.presence("m.rossi", Presence::Available)
            .await
            .unwrap()
            .presence(),
        Presence::Available
    );
}

#[tokio::test]
async fn an_operator_without_a_seat_cannot_be_available_nor_on_a_break() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    desk.operators
        .upsert_operator(common::request(
            sportello_proto::routing::v1::UpsertOperatorRequest {
                operator: Some(sportello_proto::routing::v1::Operator {
                    id: "g.verdi".into(),
                    municipality_istat_code: "011015".into(),
                    display_name: "Giulia Verdi".into(),
                    tier: Tier::Polivalente as i32,
                    department: "suap".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    let status = desk
        .presence("g.verdi", Presence::Available)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    // Nor on a break, which is taken from a counter (this was an internal error: the
    // table's seat check refused it).
    let status = desk.presence("g.verdi", Presence::Break).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        desk.presence("g.verdi", Presence::BackOffice)
            .await
            .unwrap()
            .presence(),
        Presence::BackOffice
    );

    // Counter 1 is taken by m.rossi.
    let taken = desk
        .operators
        .sit_at_counter(as_operator(
            "g.verdi",
            sportello_proto::routing::v1::SitAtCounterRequest {
                operator_id: "g.verdi".into(),
                site_id: desk.site_id.clone(),
                counter_number: 1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::FailedPrecondition, "{taken:?}");
}

#[tokio::test]
async fn every_silence_turns_the_operator_offline_not_only_the_first() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let timers = desk.routing.running.workers.timers.clone();
    for round in 0..3 {
        desk.ctx.clock.advance(jiff::SignedDuration::from_secs(91));
        timers.run_once().await.unwrap();
        assert_eq!(
            presence_of(&mut desk, "m.rossi").await,
            Presence::Offline,
            "round {round}"
        );
        // Back at work: heartbeats keep them available for a while…
        desk.presence("m.rossi", Presence::Available).await.unwrap();
        for _ in 0..4 {
            desk.ctx.clock.advance(jiff::SignedDuration::from_secs(30));
            heartbeat(&mut desk, "m.rossi").await;
            timers.run_once().await.unwrap();
        }
        assert_eq!(
            presence_of(&mut desk, "m.rossi").await,
            Presence::Available,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn an_operator_lost_while_serving_gives_the_case_back_to_its_queue() {
    use sportello_proto::routing::v1::{CaseStatus, GetCaseRequest, PriorityCategory};
    let mut desk = Desk::open(3, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    let ticket = desk
        .ticket(&[common::RESIDENCE], PriorityCategory::None)
        .await;
    let called = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    desk.ctx.clock.advance(jiff::SignedDuration::from_secs(91));
    desk.routing
        .running
        .workers
        .timers
        .run_once()
        .await
        .unwrap();
    assert_eq!(presence_of(&mut desk, "m.rossi").await, Presence::Offline);

    let case = desk
        .cases
        .get_case(common::request(GetCaseRequest {
            case_id: called.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status(), CaseStatus::Waiting, "back in its queue");
    assert_eq!(
        case.arrival_time, ticket.cases[0].arrival_time,
        "keeping its place"
    );

    // Another operator calls it: the replica learns of it from the stream (or reloads).
    desk.operator("p.neri", Tier::InfoDesk, &[("anagrafe", 1)], 2)
        .await;
    desk.routing.running.workers.relay.run_once().await.unwrap();
    let mut again = None;
    for _ in 0..100 {
        again = desk.call_next("p.neri").await;
        if again.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(again.unwrap().case.unwrap().id, called.id);
}
