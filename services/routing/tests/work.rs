//! The back office against real PostgreSQL and NATS: a department's work request,
//! published on its stream as its outbox would, becomes exactly one case and one item;
//! the item is offered to one specialist at a time, lapses to the next, is accepted,
//! completed with its outcome; the clock escalates it on the right working days; a bad
//! request is dead-lettered with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    Desk, LA_SPEZIA, settings,
    work::{CHECK, back_office_person, publish, publish_as, request, specialist},
};
use prost::Message;
use sportello_kit::inbox::Outcome;
use sportello_proto::routing::v1::{
    AcceptOfferRequest, CompleteWorkRequest, DeclineOfferRequest, GetServiceTypeRequest,
    ListWorkRequest, SummariseWorkRequest, UpsertServiceTypeRequest, WorkState, WorkUpdateKind,
    WorkUpdated, WorkView, back_office_service_client::BackOfficeServiceClient,
    catalogue_service_client::CatalogueServiceClient,
};
use sportello_routing::work::{domain::WorkRequest, flow::WorkFlow, store};
use tonic::Code;
use uuid::Uuid;

/// A desk whose operators never go offline for silence (the tests move the clock by
/// minutes and days; heartbeats are not what they test).
async fn desk() -> Desk {
    let ctx = common::context().await;
    let routing = common::start_with_heartbeat(&ctx, Duration::from_secs(86_400 * 365)).await;
    Desk::open_on(ctx, routing, 2, settings(20, 2)).await
}

/// The back office of the desk's routing, for steps the tests take directly.
fn flow(desk: &Desk) -> WorkFlow {
    let db = desk.routing.running.db().clone();
    WorkFlow {
        catalogue: sportello_routing::catalogue::cache::CatalogueCache::new(db.clone()),
        db,
        settings: sportello_routing::work::flow::OfferSettings {
            offer_timeout: Duration::from_secs(120),
            widen_after: Duration::from_secs(30 * 60),
        },
        // The tests' own flow has an empty view: every offer it makes asks the database,
        // the path a lagging replica takes.
        index: Default::default(),
    }
}

/// Publishes a department's change of its work, as `publish` does.
async fn publish_update(desk: &Desk, event_id: Uuid, message: &WorkUpdated) {
    let procedure = &message.origin.as_ref().unwrap().procedure_id;
    publish_as(desk, event_id, "registry.work.updated", procedure, message).await;
}

/// Steps routing's consumer of the registry's work.
async fn consume(desk: &Desk) -> Vec<Outcome> {
    let consumer = desk
        .routing
        .running
        .workers
        .consumers
        .iter()
        .find(|c| c.durable_name().ends_with("work-registry"))
        .expect("routing consumes the registry's work");
    consumer.run_once(50).await.unwrap()
}

async fn count(desk: &Desk, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(desk.pool())
        .await
        .unwrap()
}

async fn back_office(desk: &Desk) -> BackOfficeServiceClient<sportello_kit::PeerChannel> {
    BackOfficeServiceClient::new(desk.routing.channel().await)
}

#[tokio::test]
async fn one_work_request_makes_one_case_and_one_item_whatever_is_redelivered_or_republished() {
    let desk = desk().await;
    let work_id = Uuid::now_v7();
    let message = request(work_id, "2027-01-11", "2027-01-04");
    let event = Uuid::now_v7();
    publish(&desk, event, &message).await;
    // The same event again (a relay that lost its acknowledgement): the stream drops it.
    publish(&desk, event, &message).await;
    // The department publishes the request again under a new event id.
    publish(&desk, Uuid::now_v7(), &message).await;
    let outcomes = consume(&desk).await;
    assert_eq!(
        outcomes,
        [Outcome::Applied, Outcome::Applied],
        "{outcomes:?}"
    );
    assert_eq!(count(&desk, "select count(*) from work_items").await, 1);
    assert_eq!(
        count(&desk, "select count(*) from cases where tier = 4").await,
        1,
        "one case for one request"
    );
    let item = store::get(
        desk.pool(),
        sqlx::query_scalar("select id from work_items")
            .fetch_one(desk.pool())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(item.work_id, work_id);
    assert_eq!(item.state, WorkState::Waiting, "nobody to offer it to yet");
    // Its work event for the registry is in the outbox, under the registry's subject,
    // and the relay publishes it on routing's stream, where the registry reads it.
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.opened'"
        )
        .await,
        1
    );
    desk.routing.running.workers.relay.run_once().await.unwrap();
    let prefix = &desk.ctx.config.subject_prefix;
    let js = async_nats::jetstream::new(desk.ctx.nats().await);
    let published = js
        .get_stream(prefix.stream("routing"))
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&prefix.subject("work.registry.opened"))
        .await
        .expect("the work event is on routing's stream");
    let changed = sportello_proto::routing::v1::WorkChanged::decode(published.payload).unwrap();
    assert_eq!(changed.item.unwrap().work_id, work_id.to_string());
}

#[tokio::test]
async fn a_request_routing_cannot_take_is_dead_lettered_with_its_reason_and_nothing_is_written() {
    let desk = desk().await;
    let mut unknown = request(Uuid::now_v7(), "2027-01-11", "2027-01-04");
    unknown.service_code = "registry.unicorn_licence".into();
    publish(&desk, Uuid::now_v7(), &unknown).await;
    let mut elsewhere = request(Uuid::now_v7(), "2027-01-11", "2027-01-04");
    elsewhere.municipality_istat_code = "099999".into();
    publish(&desk, Uuid::now_v7(), &elsewhere).await;
    let mut foreign = request(Uuid::now_v7(), "2027-01-11", "2027-01-04");
    foreign.origin.as_mut().unwrap().service = "suap".into();
    publish(&desk, Uuid::now_v7(), &foreign).await;
    let outcomes = consume(&desk).await;
    assert_eq!(
        outcomes,
        [
            Outcome::DeadLettered,
            Outcome::DeadLettered,
            Outcome::DeadLettered
        ]
    );
    assert_eq!(count(&desk, "select count(*) from work_items").await, 0);
    assert_eq!(count(&desk, "select count(*) from cases").await, 0);
}

#[tokio::test]
async fn an_offer_goes_to_one_specialist_who_accepts_it_and_no_one_else_can() {
    let mut desk = desk().await;
    specialist(&mut desk, "s.bianchi").await;
    specialist(&mut desk, "s.verdi").await;
    publish(
        &desk,
        Uuid::now_v7(),
        &request(Uuid::now_v7(), "2027-01-11", "2027-01-04"),
    )
    .await;
    assert_eq!(consume(&desk).await, [Outcome::Applied]);
    let item: (Uuid, String) =
        sqlx::query_as("select id, offered_to from work_items where state = 'offered'")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    let (offered, other) = if item.1 == "s.bianchi" {
        ("s.bianchi", "s.verdi")
    } else {
        ("s.verdi", "s.bianchi")
    };
    let mut client = back_office(&desk).await;
    // Accepting an offer made to someone else: PERMISSION_DENIED, nothing changed.
    let refused = client
        .accept_offer(back_office_person(other).request(AcceptOfferRequest {
            item_id: item.0.to_string(),
            operator_id: other.into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let accepted = client
        .accept_offer(back_office_person(offered).request(AcceptOfferRequest {
            item_id: item.0.to_string(),
            operator_id: offered.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(accepted.state, WorkState::Held as i32);
    assert_eq!(accepted.holder, offered);
    // The holder's inbox shows it; completing it without an outcome names the field.
    let mine = client
        .list_work(back_office_person(offered).request(ListWorkRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            operator_id: offered.into(),
            view: WorkView::Mine as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(mine.len(), 1);
    let bare = client
        .complete_work(back_office_person(offered).request(CompleteWorkRequest {
            item_id: item.0.to_string(),
            operator_id: offered.into(),
            outcome_code: String::new(),
            result: Default::default(),
        }))
        .await
        .unwrap_err();
    assert_eq!(bare.code(), Code::InvalidArgument);
    assert!(bare.message().starts_with("outcome_code"), "{bare:?}");
    assert_eq!(
        count(
            &desk,
            "select count(*) from work_items where state = 'held'"
        )
        .await,
        1,
        "nothing changed"
    );
    let done = client
        .complete_work(back_office_person(offered).request(CompleteWorkRequest {
            item_id: item.0.to_string(),
            operator_id: offered.into(),
            outcome_code: "check_passed".into(),
            result: [("check".to_owned(), "passed".to_owned())].into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(done.state, WorkState::Completed as i32);
    assert_eq!(done.result.get("check").map(String::as_str), Some("passed"));
    assert_eq!(
        count(&desk, "select count(*) from cases where status = 'completed' and outcome_code = 'check_passed'").await,
        1
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.completed'"
        )
        .await,
        1,
        "the outcome reaches the registry"
    );
}

/// A reply lost to a restart makes the specialist (or the gateway) ask again: the same
/// accept and the same completion answer as they did and write nothing more; a
/// completion with another outcome is still refused.
#[tokio::test]
async fn a_repeated_accept_or_completion_answers_as_before_and_writes_nothing() {
    let mut desk = desk().await;
    let item = held_check(&mut desk, "s.bianchi").await;
    let before = footprint(&desk, item).await;
    let again = back_office(&desk)
        .await
        .accept_offer(back_office_person("s.bianchi").request(AcceptOfferRequest {
            item_id: item.to_string(),
            operator_id: "s.bianchi".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(again.state, WorkState::Held as i32);
    assert_eq!(
        footprint(&desk, item).await,
        before,
        "the repeated accept wrote nothing"
    );
    let done = complete_as(&desk, "s.bianchi", item, "check_passed")
        .await
        .unwrap();
    let after = footprint(&desk, item).await;
    let repeated = complete_as(&desk, "s.bianchi", item, "check_passed")
        .await
        .unwrap();
    assert_eq!(repeated.state, WorkState::Completed as i32);
    assert_eq!(repeated.outcome_code, done.outcome_code);
    assert_eq!(
        footprint(&desk, item).await,
        after,
        "the repeat wrote nothing"
    );
    let other = complete_as(&desk, "s.bianchi", item, "check_failed")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::FailedPrecondition, "{other:?}");
    assert_eq!(footprint(&desk, item).await, after);
}

/// Publishes the registry's request for an address check, lets routing offer it to the
/// one specialist, who accepts it: the item id, held by `holder`.
async fn held_check(desk: &mut Desk, holder: &str) -> Uuid {
    specialist(desk, holder).await;
    publish(
        desk,
        Uuid::now_v7(),
        &request(Uuid::now_v7(), "2027-01-11", "2027-01-04"),
    )
    .await;
    assert_eq!(consume(desk).await, [Outcome::Applied]);
    let item: Uuid = sqlx::query_scalar("select id from work_items where state = 'offered'")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    back_office(desk)
        .await
        .accept_offer(back_office_person(holder).request(AcceptOfferRequest {
            item_id: item.to_string(),
            operator_id: holder.into(),
        }))
        .await
        .unwrap();
    item
}

/// What a completion changes: the item's state and version, its case's status, the
/// events written.
async fn footprint(desk: &Desk, item: Uuid) -> (String, i64, String, i64) {
    sqlx::query_as(
        "select w.state, w.version, c.status,
                (select count(*) from outbox)
           from work_items w join cases c on c.id = w.case_id
          where w.id = $1",
    )
    .bind(item)
    .fetch_one(desk.pool())
    .await
    .unwrap()
}

async fn complete_as(
    desk: &Desk,
    holder: &str,
    item: Uuid,
    outcome: &str,
) -> Result<sportello_proto::routing::v1::WorkItem, tonic::Status> {
    back_office(desk)
        .await
        .complete_work(back_office_person(holder).request(CompleteWorkRequest {
            item_id: item.to_string(),
            operator_id: holder.into(),
            outcome_code: outcome.into(),
            result: Default::default(),
        }))
        .await
        .map(|r| r.into_inner().item.unwrap())
}

/// The registry acts on the outcome of its address check and knows only check_passed and
/// check_failed, which the catalogue lists for the service: any other outcome is refused
/// naming `outcome_code` with the accepted codes, and leaves the item held, its case
/// open and no event written; a listed one completes it.
#[tokio::test]
async fn completing_with_an_outcome_the_catalogue_does_not_list_is_refused_and_changes_nothing() {
    let mut desk = desk().await;
    let item = held_check(&mut desk, "s.bianchi").await;
    let before = footprint(&desk, item).await;
    assert_eq!(before.0, "held");
    // A general outcome is not one of the address check's; nor is a made-up code.
    for outcome in ["approved", "check_maybe"] {
        let refused = complete_as(&desk, "s.bianchi", item, outcome)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(
            refused.message().starts_with("outcome_code: "),
            "{refused:?}"
        );
        assert!(
            refused.message().contains("check_passed, check_failed"),
            "the accepted codes are listed: {refused:?}"
        );
        assert!(
            refused.message().contains("non è tra gli esiti ammessi"),
            "Italian first: {refused:?}"
        );
        assert_eq!(footprint(&desk, item).await, before, "nothing changed");
    }
    let done = complete_as(&desk, "s.bianchi", item, "check_failed")
        .await
        .unwrap();
    assert_eq!(done.state, WorkState::Completed as i32);
    assert_eq!(done.outcome_code, "check_failed");
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.completed'"
        )
        .await,
        1,
        "the listed outcome reaches the registry"
    );
}

/// A service whose catalogue entry lists no outcomes takes the general ones (approved,
/// rejected, informed) and only those; the administrator's edit of the outcomes holds
/// from the next completion on.
#[tokio::test]
async fn a_service_without_outcomes_takes_the_general_outcomes_only() {
    let mut desk = desk().await;
    let item = held_check(&mut desk, "s.bianchi").await;
    let mut catalogue = CatalogueServiceClient::new(desk.routing.channel().await);
    let mut check = catalogue
        .get_service_type(common::request(GetServiceTypeRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            code: CHECK.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .service_type
        .unwrap();
    let names: Vec<(&str, &str)> = check
        .outcomes
        .iter()
        .map(|o| (o.code.as_str(), o.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("check_passed", "Dimora abituale accertata"),
            ("check_failed", "Dimora abituale non accertata")
        ],
        "the shipped catalogue lists the outcomes the registry reads"
    );
    check.outcomes.clear();
    let stored = catalogue
        .upsert_service_type(common::request(UpsertServiceTypeRequest {
            service_type: Some(check),
        }))
        .await
        .unwrap()
        .into_inner()
        .service_type
        .unwrap();
    assert!(stored.outcomes.is_empty());

    let before = footprint(&desk, item).await;
    let refused = complete_as(&desk, "s.bianchi", item, "check_passed")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().starts_with("outcome_code: ")
            && refused.message().contains("approved, rejected, informed"),
        "{refused:?}"
    );
    assert_eq!(footprint(&desk, item).await, before, "nothing changed");
    let done = complete_as(&desk, "s.bianchi", item, "informed")
        .await
        .unwrap();
    assert_eq!(done.outcome_code, "informed");
}

/// A department that decides its procedure itself (the registry's silence-assent, a
/// decision recorded in its own system) completes routing's work with its outcome: the
/// case is completed, not cancelled, and the holder is free again. An update that
/// carries an outcome without deciding, or decides without one, is dead-lettered with
/// its reason and changes nothing; a second decision leaves the first standing.
#[tokio::test]
async fn a_department_decision_completes_the_work_with_its_outcome() {
    let mut desk = desk().await;
    specialist(&mut desk, "s.bianchi").await;
    let request = request(Uuid::now_v7(), "2027-01-11", "2027-01-04");
    publish(&desk, Uuid::now_v7(), &request).await;
    assert_eq!(consume(&desk).await, [Outcome::Applied]);
    let item: Uuid = sqlx::query_scalar("select id from work_items where state = 'offered'")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    back_office(&desk)
        .await
        .accept_offer(back_office_person("s.bianchi").request(AcceptOfferRequest {
            item_id: item.to_string(),
            operator_id: "s.bianchi".into(),
        }))
        .await
        .unwrap();
    let update = |kind: WorkUpdateKind, outcome: &str| WorkUpdated {
        work_id: request.work_id.clone(),
        origin: request.origin.clone(),
        municipality_istat_code: LA_SPEZIA.into(),
        kind: kind as i32,
        clock: request.clock.clone(),
        note: "Deciso in anagrafe. / Decided in the registry.".into(),
        outcome_code: outcome.into(),
        result: Default::default(),
    };
    // An outcome on a suspension, a decision without an outcome: refused, unchanged.
    publish_update(
        &desk,
        Uuid::now_v7(),
        &update(WorkUpdateKind::Suspended, "confirmed"),
    )
    .await;
    publish_update(&desk, Uuid::now_v7(), &update(WorkUpdateKind::Decided, "")).await;
    assert_eq!(
        consume(&desk).await,
        [Outcome::DeadLettered, Outcome::DeadLettered]
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from work_items where state = 'held'"
        )
        .await,
        1,
        "nothing changed"
    );
    // Not one of the address check's outcomes in the catalogue: a department's decision
    // is its own, and is not limited to what a specialist may choose.
    publish_update(
        &desk,
        Uuid::now_v7(),
        &update(WorkUpdateKind::Decided, "confirmed_by_silence_assent"),
    )
    .await;
    // A second decision (another replica of the department, a late timer): no effect.
    publish_update(
        &desk,
        Uuid::now_v7(),
        &update(WorkUpdateKind::Decided, "rejected"),
    )
    .await;
    assert_eq!(consume(&desk).await, [Outcome::Applied, Outcome::Applied]);
    let done = store::get(desk.pool(), item).await.unwrap();
    assert_eq!(done.state, WorkState::Completed);
    assert_eq!(
        done.outcome_code.as_deref(),
        Some("confirmed_by_silence_assent"),
        "the first decision stands"
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from cases where status = 'completed' and outcome_code = 'confirmed_by_silence_assent'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.completed'"
        )
        .await,
        1,
        "the department hears its work completed once"
    );
}

/// The manager's page counts a department's open items by procedure and by assignee on
/// the municipality's day: waiting, offered, held, due soon, breached (past due); closed
/// items are not counted, and a specialist may not read it.
#[tokio::test]
async fn the_manager_counts_open_work_by_procedure_and_assignee() {
    let mut desk = desk().await;
    desk.ctx
        .clock
        .set("2026-12-10T09:00:00Z".parse::<jiff::Timestamp>().unwrap());
    specialist(&mut desk, "s.bianchi").await;
    // Past due, due in five days, due next month.
    for due in ["2026-12-01", "2026-12-15", "2027-01-11"] {
        publish(&desk, Uuid::now_v7(), &request(Uuid::now_v7(), due, "")).await;
    }
    assert_eq!(consume(&desk).await.len(), 3);
    // The specialist was offered the most urgent; they accept it.
    let offered: Uuid = sqlx::query_scalar("select id from work_items where state = 'offered'")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    back_office(&desk)
        .await
        .accept_offer(back_office_person("s.bianchi").request(AcceptOfferRequest {
            item_id: offered.to_string(),
            operator_id: "s.bianchi".into(),
        }))
        .await
        .unwrap();
    let manager =
        sportello_kit::CallContext::new("gateway", "operator:resp.blu", LA_SPEZIA, "work.report")
            .unwrap()
            .with_roles(&[sportello_kit::Role::Manager]);
    let summary = back_office(&desk)
        .await
        .summarise_work(manager.request(SummariseWorkRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            department: "anagrafe".into(),
            due_soon_days: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.day, "2026-12-10");
    assert_eq!(summary.due_soon_days, 7, "the default");
    let total = summary.total.unwrap();
    assert_eq!(
        (total.open, total.due_soon, total.breached),
        (3, 1, 1),
        "{total:?}"
    );
    // The held item is one of them; the others wait (offers go one at a time).
    assert_eq!(total.held, 1, "{total:?}");
    assert_eq!(total.waiting + total.offered, 2, "{total:?}");
    assert_eq!(summary.by_procedure.len(), 1);
    assert_eq!(summary.by_procedure[0].key, CHECK);
    let holders: Vec<(&str, u32)> = summary
        .by_assignee
        .iter()
        .map(|t| (t.key.as_str(), t.open))
        .collect();
    assert_eq!(holders, [("s.bianchi", 1), ("", 2)], "the unassigned last");
    // Another department has nothing; a bad look-ahead names its field; a specialist is
    // refused.
    let other = back_office(&desk)
        .await
        .summarise_work(manager.request(SummariseWorkRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            department: "suap".into(),
            due_soon_days: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.total.unwrap().open, 0);
    assert!(other.by_procedure.is_empty());
    let bad = back_office(&desk)
        .await
        .summarise_work(manager.request(SummariseWorkRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            department: String::new(),
            due_soon_days: 61,
        }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("due_soon_days"), "{bad:?}");
    let refused = back_office(&desk)
        .await
        .summarise_work(
            back_office_person("s.bianchi").request(SummariseWorkRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_lapsed_offer_goes_to_the_next_specialist_and_is_never_left_assigned() {
    let mut desk = desk().await;
    specialist(&mut desk, "s.bianchi").await;
    publish(
        &desk,
        Uuid::now_v7(),
        &request(Uuid::now_v7(), "2027-01-11", "2027-01-04"),
    )
    .await;
    consume(&desk).await;
    specialist(&mut desk, "s.verdi").await;
    let first: String = sqlx::query_scalar("select offered_to from work_items")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    assert_eq!(first, "s.bianchi");
    desk.wait(3);
    desk.routing
        .running
        .workers
        .timers
        .run_once()
        .await
        .unwrap();
    let (state, to): (String, Option<String>) =
        sqlx::query_as("select state, offered_to from work_items")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), to.as_deref()),
        ("offered", Some("s.verdi"))
    );
    // The first specialist's answer comes too late.
    let id: Uuid = sqlx::query_scalar("select id from work_items")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    let late = back_office(&desk)
        .await
        .accept_offer(back_office_person("s.bianchi").request(AcceptOfferRequest {
            item_id: id.to_string(),
            operator_id: "s.bianchi".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        late.code(),
        Code::PermissionDenied,
        "offered to another now: {late:?}"
    );
    // The second declines: nobody else is free, so it waits — never assigned.
    back_office(&desk)
        .await
        .decline_offer(back_office_person("s.verdi").request(DeclineOfferRequest {
            item_id: id.to_string(),
            operator_id: "s.verdi".into(),
            reason: "fuori competenza".into(),
        }))
        .await
        .unwrap();
    let (state, to): (String, Option<String>) =
        sqlx::query_as("select state, offered_to from work_items")
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!((state.as_str(), to), ("waiting", None));
    assert_eq!(
        count(&desk, "select count(*) from outbox where event_type in ('work.registry.lapsed', 'work.registry.declined')").await,
        2
    );
}

/// L. 241/1990 art. 2 c.9-bis/9-ter: the clock warns the assignee on the warning date,
/// alerts the office manager one working day before the due date, and hands the item to
/// the official with substitute power on the due date — working days of La Spezia, whose
/// patron day is 19 March, across Easter and the year's end.
#[tokio::test]
async fn escalation_steps_fire_on_the_right_working_days() {
    let desk = desk().await;
    let flow = flow(&desk);
    // (due date, the working day before it)
    let cases = [
        // Due Monday 22 March 2027: Friday 19 March is the patron day, so Thursday 18.
        ("2027-03-22", "2027-03-18"),
        // Due Tuesday 30 March 2027, after Easter Monday 29 March: Friday 26 March.
        ("2027-03-30", "2027-03-26"),
        // Due Monday 3 January 2028: 1 January is a holiday, 31 December a Friday.
        ("2028-01-03", "2027-12-31"),
    ];
    for (due, manager_day) in cases {
        let mut uow = desk.routing.running.db().begin().await.unwrap();
        let message = request(Uuid::now_v7(), due, "");
        let (item, _) = flow
            .request(&mut uow, WorkRequest::parse(&message, "registry").unwrap())
            .await
            .unwrap();
        uow.commit().await.unwrap();
        let manager_at: jiff::Timestamp = sqlx::query_scalar::<_, jiff_sqlx::Timestamp>(
            "select due_at from timers where kind = 'routing.work.escalation' and key = $1",
        )
        .bind(format!("{}:2", item.id))
        .fetch_one(desk.pool())
        .await
        .unwrap()
        .to_jiff();
        assert_eq!(
            manager_at
                .to_zoned(sportello_kit::clock::rome())
                .date()
                .to_string(),
            manager_day,
            "the manager's day for an item due {due}"
        );
    }
    // Firing them with the manual clock: the levels follow each other, the last one
    // names the substitute's own due date.
    desk.ctx.clock.set("2028-01-03T12:30:00Z".parse().unwrap());
    desk.routing
        .running
        .workers
        .timers
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        count(&desk, "select count(*) from work_items where escalation_level = 3 and substitute_due_date is not null").await,
        3
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.breached'"
        )
        .await,
        3
    );
}

/// Fifty specialists and a thousand items racing: every item is offered to at most one
/// specialist and held by at most one at any instant (the database's checks and unique
/// index hold it), none is completed twice, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_specialists_and_a_thousand_items_racing_none_held_twice_none_lost() {
    const SPECIALISTS: usize = 50;
    const ITEMS: usize = 1_000;
    let mut desk = desk().await;
    // Fifty specialists at once need more than the test service's five connections.
    let pool = sportello_kit::db::connect(
        &desk.ctx.config.database_url,
        "routing",
        24,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let flow = WorkFlow {
        db: sportello_kit::testing::db_with(pool, desk.ctx.config.clock.clone()),
        ..flow(&desk)
    };
    for i in 0..SPECIALISTS {
        specialist(&mut desk, &format!("s.{i:02}")).await;
    }
    // The requests arrive in batches, as the registry's relay would hand them over.
    for chunk in 0..(ITEMS / 50) {
        let mut uow = desk.routing.running.db().begin().await.unwrap();
        for i in 0..50 {
            let due = format!("2027-01-{:02}", 1 + (chunk * 50 + i) % 28);
            let message = request(Uuid::now_v7(), &due, "");
            flow.request(&mut uow, WorkRequest::parse(&message, "registry").unwrap())
                .await
                .unwrap();
        }
        uow.commit().await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..SPECIALISTS {
        let flow = flow.clone();
        let pool = flow.db.pool().clone();
        tasks.push(tokio::spawn(async move {
            let me = format!("s.{i:02}");
            let context = back_office_person(&me);
            let mut completed = 0_usize;
            loop {
                let offered: Option<Uuid> = sqlx::query_scalar(
                    "select id from work_items where offered_to = $1 and state = 'offered'",
                )
                .bind(&me)
                .fetch_optional(&pool)
                .await
                .unwrap();
                let Some(id) = offered else {
                    let open: i64 = sqlx::query_scalar(
                        "select count(*) from work_items where state in ('waiting', 'offered')",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if open == 0 {
                        return completed;
                    }
                    flow.offer_round(LA_SPEZIA, "anagrafe").await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                if let Err(error) = flow.accept(&context, id, &me).await {
                    panic!("{me} could not accept {id}: {error:?}");
                }
                if let Err(error) = flow
                    .complete(&context, id, &me, "check_passed".into(), Default::default())
                    .await
                {
                    panic!("{me} could not complete {id}: {error:?}");
                }
                completed += 1;
            }
        }));
    }
    let mut total = 0;
    let all = futures::future::join_all(tasks);
    for done in tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .expect("the specialists finish within five minutes")
    {
        total += done.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
    }
    assert_eq!(
        total, ITEMS,
        "every item completed once, by the one who held it"
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from work_items where state = 'completed'"
        )
        .await,
        ITEMS as i64
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from cases where status = 'completed'"
        )
        .await,
        ITEMS as i64,
        "each case completed once"
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.completed'"
        )
        .await,
        ITEMS as i64,
        "each outcome reaches the department once"
    );
    assert_eq!(
        count(
            &desk,
            "select count(*) from outbox where event_type = 'work.registry.assigned'"
        )
        .await,
        ITEMS as i64,
        "each item assigned once"
    );
}

/// Issue 13, Metrics: the items each department holds, by state — never by person — as
/// gauges read from the database, so every replica reports the whole back office.
#[tokio::test]
async fn the_gauges_count_the_items_of_each_department_by_state() {
    let ctx = common::context().await;
    let mut config = sportello_routing::RoutingConfig::from(ctx.config.clone());
    config.seed_municipalities = vec![LA_SPEZIA.parse().unwrap()];
    config.heartbeat_timeout = Duration::from_secs(86_400 * 365);
    config.gauges_every = Duration::from_millis(100);
    let routing = sportello_kit::testing::TestService::start(
        &sportello_routing::SPEC,
        config,
        sportello_routing::start,
    )
    .await;
    let desk = Desk::open_on(ctx, routing, 2, settings(20, 2)).await;
    for _ in 0..2 {
        let message = request(Uuid::now_v7(), "2027-01-11", "2027-01-04");
        publish(&desk, Uuid::now_v7(), &message).await;
    }
    assert_eq!(consume(&desk).await, [Outcome::Applied, Outcome::Applied]);
    // Nobody receives back-office work: both wait.
    let expected = r#"sportello_routing_work_items{department="anagrafe",state="waiting"} 2"#;
    let mut last = String::new();
    for _ in 0..100 {
        last = metrics(desk.routing.running.metrics_addr).await;
        if last.lines().any(|l| l == expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.lines().any(|l| l == expected), "{last}");
    assert!(
        !last.contains("operator") && !last.contains("holder"),
        "no gauge names a person"
    );
}

/// The Prometheus text of a metrics address.
async fn metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}
