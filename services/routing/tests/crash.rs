//! One work request → exactly one case, even when routing dies between applying the
//! request and acknowledging it; each of its work events reaches the department exactly
//! once, even when routing dies between committing a completion and publishing it, or
//! its relay between publishing and marking.
//!
//! Routing runs here as its own process (the `sportello-routing` binary). Its death
//! between the commit and the ack is not a signal timed from outside, which could land
//! anywhere: the kit's fault point (`sportello_kit::inbox::fault`, test builds only)
//! makes the process exit exactly there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The fault points exist in debug test builds only (see `sportello_kit::inbox::fault`).
#![cfg(debug_assertions)]

mod common;

use std::{collections::BTreeMap, time::Duration};

use common::{
    Desk,
    replica::{ReplicaProcess, desk_on_real_time, until},
    work::{back_office_person, publish, registry_stream, request, specialist},
};
use prost::Message;
use sportello_kit::{EventRecord, inbox::fault};
use sportello_proto::routing::v1::{
    AcceptOfferRequest, CompleteWorkRequest, WorkChanged, WorkState,
    back_office_service_client::BackOfficeServiceClient,
};
use uuid::Uuid;

/// Routing's durable consumer of the registry's work.
const CONSUMER: &str = "routing-work-registry";

/// The ack wait of every replica process here (production: 30 s): JetStream redelivers
/// what a dead process held after this.
const ACK_WAIT_MS: &str = "2000";

async fn count(desk: &Desk, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(desk.pool())
        .await
        .unwrap()
}

/// (work items, back-office cases, requests in routing's inbox of the registry's work):
/// each test has a database of its own, so these are all there are.
async fn committed(desk: &Desk) -> (i64, i64, i64) {
    (
        count(desk, "select count(*) from work_items").await,
        count(desk, "select count(*) from cases where tier = 4").await,
        count(
            desk,
            "select count(*) from inbox where consumer = 'work-registry'",
        )
        .await,
    )
}

/// The durable consumer's state: (deliveries so far, messages delivered and not yet
/// acknowledged).
async fn consumer_state(js: &async_nats::jetstream::Context, desk: &Desk) -> (u64, usize) {
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream(desk.ctx.config.subject_prefix.stream("registry"))
        .await
        .unwrap()
        .get_consumer(CONSUMER)
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    (info.delivered.consumer_sequence, info.num_ack_pending)
}

/// What the registry reads of `work_id` on routing's stream: per change (`opened`,
/// `offered`, ...), the event ids published under `work.registry.<change>`.
async fn department_sees(desk: &Desk, work_id: Uuid) -> BTreeMap<String, Vec<Uuid>> {
    let prefix = &desk.ctx.config.subject_prefix;
    let js = async_nats::jetstream::new(desk.ctx.nats().await);
    let mut stream = js.get_stream(prefix.stream("routing")).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let department = prefix.subject("work.registry.");
    let mut seen: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let message = stream.get_raw_message(seq).await.unwrap();
        let Some(change) = message.subject.strip_prefix(department.as_str()) else {
            continue;
        };
        let record = EventRecord::from_message(Some(&message.headers), message.payload).unwrap();
        let item = WorkChanged::decode(record.data.clone())
            .unwrap()
            .item
            .unwrap();
        if item.work_id == work_id.to_string() {
            seen.entry(change.to_owned()).or_default().push(record.id);
        }
    }
    seen
}

async fn unpublished(desk: &Desk) -> i64 {
    count(
        desk,
        "select count(*) from outbox where published_at is null",
    )
    .await
}

#[tokio::test]
async fn routing_killed_between_applying_a_work_request_and_acknowledging_it_opens_one_case() {
    let mut desk = desk_on_real_time().await;
    specialist(&mut desk, "s.bianchi").await;
    let js = registry_stream(&desk).await;
    let routing = desk.ctx.nats_url_for("routing");

    // A replica that dies the instant it has committed a request of the registry, before
    // acknowledging it.
    let mut doomed = ReplicaProcess::spawn_with(
        &desk,
        &routing,
        &[
            (fault::EXIT_AFTER_APPLY, CONSUMER),
            (fault::ACK_WAIT_MS, ACK_WAIT_MS),
        ],
    )
    .await;
    let work_id = Uuid::now_v7();
    publish(
        &desk,
        Uuid::now_v7(),
        &request(work_id, "2027-01-11", "2027-01-04"),
    )
    .await;
    let status = doomed.exited(Duration::from_secs(30)).await;
    assert_eq!(
        status.code(),
        Some(fault::EXIT_CODE),
        "died at the fault point: {status}"
    );

    // JetStream holds the request as delivered and unacknowledged, and the unit of work
    // is committed: the case, the item, the event id in the inbox.
    let (_, pending) = consumer_state(&js, &desk).await;
    assert_eq!(pending, 1, "never acknowledged");
    assert_eq!(committed(&desk).await, (1, 1, 1), "committed");

    // Routing again, as the same durable consumer: JetStream redelivers the request, the
    // inbox knows it, and it is acknowledged without a second case.
    let survivor =
        ReplicaProcess::spawn_with(&desk, &routing, &[(fault::ACK_WAIT_MS, ACK_WAIT_MS)]).await;
    let (js, d) = (&js, &desk);
    until(
        "the request is redelivered and acknowledged",
        || async move {
            let (delivered, pending) = consumer_state(js, d).await;
            delivered >= 2 && pending == 0
        },
    )
    .await;
    assert_eq!(
        committed(&desk).await,
        (1, 1, 1),
        "one case and one item for one request"
    );

    // Every work event of it reaches the registry once: the survivor's relay publishes
    // what the dead replica committed (or finds it published, had the dead one's relay
    // been quicker than its exit).
    until("the outbox is published", || async move {
        unpublished(d).await == 0
    })
    .await;
    let seen = department_sees(&desk, work_id).await;
    assert_eq!(
        seen.iter()
            .map(|(change, ids)| (change.as_str(), ids.len()))
            .collect::<Vec<_>>(),
        [("offered", 1), ("opened", 1)],
        "{seen:?}"
    );
    drop(survivor);
}

#[tokio::test]
async fn routing_killed_between_committing_a_completion_and_publishing_it_tells_the_department_once()
 {
    let mut desk = desk_on_real_time().await;
    specialist(&mut desk, "s.bianchi").await;
    let routing = desk.ctx.nats_url_for("routing");
    let work_id = Uuid::now_v7();
    registry_stream(&desk).await;
    {
        // A replica takes the request and publishes its events, and is gone.
        let _replica =
            ReplicaProcess::spawn_with(&desk, &routing, &[(fault::ACK_WAIT_MS, ACK_WAIT_MS)]).await;
        publish(
            &desk,
            Uuid::now_v7(),
            &request(work_id, "2027-01-11", "2027-01-04"),
        )
        .await;
        let d = &desk;
        until(
            "the request is applied and its events published",
            || async move {
                count(d, "select count(*) from work_items where state = 'offered'").await == 1
                    && unpublished(d).await == 0
            },
        )
        .await;
    }
    let item: Uuid = sqlx::query_scalar("select id from work_items")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    // The specialist accepts on the test's own routing, whose relay the test steps.
    BackOfficeServiceClient::new(desk.routing.channel().await)
        .accept_offer(back_office_person("s.bianchi").request(AcceptOfferRequest {
            item_id: item.to_string(),
            operator_id: "s.bianchi".into(),
        }))
        .await
        .unwrap();

    // The completion goes to a replica without NATS: it commits the outcome and its
    // event, its relay cannot publish, and it is killed.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut doomed = ReplicaProcess::spawn(&desk, &format!("nats://{nowhere}")).await;
    let done = BackOfficeServiceClient::new(doomed.channel().await.unwrap())
        .complete_work(
            back_office_person("s.bianchi").request(CompleteWorkRequest {
                item_id: item.to_string(),
                operator_id: "s.bianchi".into(),
                outcome_code: "check_passed".into(),
                result: [("check".to_owned(), "passed".to_owned())].into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(done.state, WorkState::Completed as i32);
    doomed.kill();
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox
             where event_type = 'work.registry.completed' and published_at is null"
        )
        .await,
        1,
        "committed, not published"
    );

    // A routing that runs after it publishes what it left, once.
    let left = usize::try_from(unpublished(&desk).await).unwrap();
    let relay = &desk.routing.running.workers.relay;
    let pass = relay.run_once().await.unwrap();
    assert_eq!((pass.published, pass.duplicates), (left, 0), "{pass:?}");
    assert_eq!(unpublished(&desk).await, 0);

    // A relay that dies after JetStream took its batch and before marking it leaves the
    // rows as they were before the pass (its transaction rolls back). No process dies
    // here: the rows are unmarked as that rollback leaves them. The next pass publishes
    // them again, under the same Nats-Msg-Id, and the stream drops them.
    let unmarked = sqlx::query(
        "update outbox set published_at = null
         where event_type in ('work.registry.assigned', 'work.registry.completed')",
    )
    .execute(desk.pool())
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(unmarked, 2);
    let pass = relay.run_once().await.unwrap();
    assert_eq!((pass.published, pass.duplicates), (2, 2), "{pass:?}");

    let seen = department_sees(&desk, work_id).await;
    assert_eq!(
        seen.iter()
            .map(|(change, ids)| (change.as_str(), ids.len()))
            .collect::<Vec<_>>(),
        [
            ("assigned", 1),
            ("completed", 1),
            ("offered", 1),
            ("opened", 1)
        ],
        "{seen:?}"
    );
}
