//! The counter flow end to end: tickets, call next with its explanation, recall,
//! no-show, park and resume, transfer keeping the place, multi-service tickets, complete.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, FAMILY, INFO, RESIDENCE, SCHOOL, as_operator, settings};
use sportello_proto::routing::v1::{
    CallTicketRequest, CaseStatus, DecisionReason, GetCaseRequest, ListQueuesRequest,
    ListRecentCallsRequest, MarkNoShowRequest, ParkRequest, Presence, PriorityCategory,
    RecallRequest, ResumeRequest, Tier, TransferRequest,
};
use tonic::Code;

const ANAGRAFE: &[(&str, u32)] = &[("anagrafe", 3), ("urp", 1)];

#[tokio::test]
async fn a_kiosk_ticket_is_called_served_and_completed() {
    let mut desk = Desk::open(4, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 3).await;
    let ticket = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    assert_eq!(ticket.ticket.as_ref().unwrap().label, "A001");
    assert_eq!(ticket.people_ahead, 0);
    desk.wait(4);

    let call = desk.call_next("m.rossi").await.unwrap();
    let case = call.case.unwrap();
    assert_eq!(
        (case.ticket_label.as_str(), call.counter_number),
        ("A001", 3)
    );
    let decision = call.decision.unwrap();
    assert_eq!(decision.reason(), DecisionReason::Fifo);
    assert_eq!(decision.waited_minutes, 4);
    assert!(
        decision.explanation.contains("A001"),
        "{}",
        decision.explanation
    );

    desk.wait(3);
    let done = desk.complete("m.rossi", &case.id, "issued").await.unwrap();
    assert_eq!(done.case.unwrap().status(), CaseStatus::Completed);
    assert!(done.next_call.is_none());
    let operator = desk.presence("m.rossi", Presence::Available).await.unwrap();
    assert_eq!(operator.presence(), Presence::Available);

    let wrap_up: Option<i32> =
        sqlx::query_scalar("select wrap_up_seconds from routing.cases where id = $1::uuid")
            .bind(&case.id)
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(
        wrap_up,
        Some(0),
        "wrap-up time is tracked (the clock did not move)"
    );

    let history = desk
        .cases
        .get_case(common::request(GetCaseRequest {
            case_id: case.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .history;
    let statuses: Vec<_> = history.iter().map(|h| h.status()).collect();
    assert_eq!(
        statuses,
        [
            CaseStatus::Waiting,
            CaseStatus::Called,
            CaseStatus::Completed
        ]
    );
    assert_eq!(history[1].actor, "operator:m.rossi");

    let calls = desk
        .cases
        .list_recent_calls(common::request(ListRecentCallsRequest {
            site_id: desk.site_id.clone(),
            limit: 5,
        }))
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert_eq!(
        (calls[0].ticket_label.as_str(), calls[0].counter_number),
        ("A001", 3)
    );

    // Every transition is an event, each once, in commit order.
    let events: Vec<String> =
        sqlx::query_scalar("select event_type from routing.outbox order by seq")
            .fetch_all(desk.pool())
            .await
            .unwrap();
    assert_eq!(
        events,
        [
            "routing.catalogue.changed", // the catalogue seeded at start
            "routing.site.created",
            "operator.presence_changed", // available
            "case.opened",
            "ticket.issued",
            "operator.presence_changed", // busy, in the call's transaction
            "case.called",
            "case.completed",
            "operator.presence_changed", // wrap-up
            "operator.presence_changed", // available again
        ]
    );
    let published = desk
        .routing
        .running
        .workers
        .relay
        .run_once()
        .await
        .unwrap()
        .published;
    assert_eq!(published, events.len(), "the relay publishes every one");
}

#[tokio::test]
async fn ticket_numbers_restart_each_rome_day_per_site_and_letter() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    let labels = [
        desk.ticket(&[RESIDENCE], PriorityCategory::None).await,
        desk.ticket(&[FAMILY], PriorityCategory::None).await,
        desk.ticket(&[SCHOOL], PriorityCategory::None).await,
    ]
    .map(|t| t.ticket.unwrap().label);
    assert_eq!(labels, ["A001", "A002", "B001"]);
    // TEST_START is 09:30 in Rome; 15 hours later it is 00:30 the next day.
    desk.wait(15 * 60);
    assert_eq!(
        desk.ticket(&[RESIDENCE], PriorityCategory::None)
            .await
            .ticket
            .unwrap()
            .label,
        "A001"
    );
}

#[tokio::test]
async fn priority_goes_first_but_never_passes_an_ordinary_ticket_past_the_bound() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    let ordinary = desk.ticket(&[RESIDENCE], PriorityCategory::None).await; // A001 at 0'
    desk.wait(5);
    let priority = desk
        .ticket(&[RESIDENCE], PriorityCategory::Disability)
        .await; // A002 at 5'
    desk.wait(1);
    let call = desk.call_next("m.rossi").await.unwrap();
    assert_eq!(
        call.case.as_ref().unwrap().ticket_label,
        "A002",
        "priority first within the bound"
    );
    assert_eq!(call.case.as_ref().unwrap().id, priority.cases[0].id);
    assert_eq!(
        call.case.as_ref().unwrap().priority_category(),
        PriorityCategory::Disability,
        "the category as stored and called"
    );
    assert_eq!(
        call.decision.unwrap().reason(),
        DecisionReason::PriorityFirst
    );
    desk.complete("m.rossi", &call.case.unwrap().id, "issued")
        .await
        .unwrap();

    desk.wait(15); // A001 has now waited 21 minutes.
    let later = desk.ticket(&[RESIDENCE], PriorityCategory::Pregnancy).await; // A003 at 21'
    let call = desk.call_next("m.rossi").await.unwrap();
    assert_eq!(
        call.case.as_ref().unwrap().id,
        ordinary.cases[0].id,
        "past the bound: A001 before the later priority ticket"
    );
    let decision = call.decision.unwrap();
    assert_eq!(decision.reason(), DecisionReason::BoundReached);
    assert_eq!((decision.waited_minutes, decision.bound_minutes), (21, 20));

    // The later priority ticket still waits, with its category as stored.
    let waiting = desk
        .cases
        .get_case(common::request(GetCaseRequest {
            case_id: later.cases[0].id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (waiting.status(), waiting.priority_category()),
        (CaseStatus::Waiting, PriorityCategory::Pregnancy)
    );
}

/// Disability and pregnancy are health data (GDPR art. 9): an event reaches every consumer
/// of the stream, so it says that a ticket has priority and never why.
#[tokio::test]
async fn events_say_priority_without_its_ground() {
    use prost::Message as _;
    use sportello_proto::routing::v1::{CaseCalled, CaseCompleted, CaseOpened, TicketIssued};

    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::Pregnancy).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    for _ in 0..2 {
        let call = desk.call_next("m.rossi").await.unwrap();
        assert_ne!(
            call.case.as_ref().unwrap().priority_category(),
            PriorityCategory::Withheld,
            "the operator at the counter sees the ground"
        );
        desk.complete("m.rossi", &call.case.unwrap().id, "issued")
            .await
            .unwrap();
    }

    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("select data_type, payload from routing.outbox order by seq")
            .fetch_all(desk.pool())
            .await
            .unwrap();
    let mut seen = Vec::new();
    for (data_type, payload) in &rows {
        let category = match data_type.as_str() {
            "sportello.routing.v1.TicketIssued" => TicketIssued::decode(payload.as_slice())
                .unwrap()
                .ticket
                .unwrap()
                .priority_category(),
            "sportello.routing.v1.CaseOpened" => CaseOpened::decode(payload.as_slice())
                .unwrap()
                .case
                .unwrap()
                .priority_category(),
            "sportello.routing.v1.CaseCalled" => CaseCalled::decode(payload.as_slice())
                .unwrap()
                .case
                .unwrap()
                .priority_category(),
            "sportello.routing.v1.CaseCompleted" => CaseCompleted::decode(payload.as_slice())
                .unwrap()
                .case
                .unwrap()
                .priority_category(),
            _ => continue,
        };
        seen.push((data_type.as_str(), category));
    }
    assert_eq!(
        seen.len(),
        8,
        "two tickets, each issued, opened, called, completed: {seen:?}"
    );
    for (data_type, category) in &seen {
        assert!(
            matches!(
                category,
                PriorityCategory::Withheld | PriorityCategory::None
            ),
            "{data_type} says {category:?}"
        );
    }
    assert_eq!(
        seen.iter()
            .filter(|(_, c)| *c == PriorityCategory::Withheld)
            .count(),
        4,
        "the priority ticket's four events say it has priority: {seen:?}"
    );
}

#[tokio::test]
async fn a_transfer_keeps_the_place_in_the_other_queue() {
    let mut desk = Desk::open(3, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 3)], 1)
        .await;
    desk.operator("l.bianchi", Tier::InfoDesk, &[("urp", 2)], 2)
        .await;
    let first = desk.ticket(&[RESIDENCE], PriorityCategory::None).await; // A001 at 0'
    desk.wait(2);
    let info = desk.ticket(&[INFO], PriorityCategory::None).await; // E001 at 2'
    desk.wait(2);

    let call = desk.call_next("m.rossi").await.unwrap();
    let case_id = call.case.unwrap().id;
    assert_eq!(case_id, first.cases[0].id);
    // The citizen needs general information instead: to the URP queue, keeping 0'.
    let moved = desk
        .cases
        .transfer(as_operator(
            "m.rossi",
            TransferRequest {
                operator_id: "m.rossi".into(),
                case_id: case_id.clone(),
                to_service_group: "informazioni".into(),
                to_service_code: INFO.into(),
                reason: "chiede informazioni generali".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (moved.status(), moved.service_group.as_str()),
        (CaseStatus::Waiting, "informazioni")
    );
    assert_eq!(
        moved.arrival_time, first.cases[0].arrival_time,
        "the original arrival time"
    );
    let operator = desk
        .operators
        .get_operator(common::request(
            sportello_proto::routing::v1::GetOperatorRequest {
                operator_id: "m.rossi".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .operator
        .unwrap();
    assert_eq!(operator.presence(), Presence::Available);

    let call = desk.call_next("l.bianchi").await.unwrap();
    assert_eq!(
        call.case.unwrap().id,
        case_id,
        "the transferred ticket goes before E001, which came later"
    );
    assert_eq!(info.ticket.unwrap().label, "E001");
}

#[tokio::test]
async fn a_no_show_comes_only_after_the_configured_number_of_calls() {
    let mut desk = Desk::open(2, settings(20, 3)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    desk.ticket(&[RESIDENCE, FAMILY], PriorityCategory::None)
        .await;
    let case_id = desk.call_next("m.rossi").await.unwrap().case.unwrap().id;
    let no_show = MarkNoShowRequest {
        operator_id: "m.rossi".into(),
        case_id: case_id.clone(),
    };
    let recall = RecallRequest {
        operator_id: "m.rossi".into(),
        case_id: case_id.clone(),
    };

    let early = desk
        .cases
        .mark_no_show(as_operator("m.rossi", no_show.clone()))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("called 1 of 3 times"),
        "{}",
        early.message()
    );
    for expected in [2, 3] {
        let call = desk
            .cases
            .recall(as_operator("m.rossi", recall.clone()))
            .await
            .unwrap()
            .into_inner()
            .call
            .unwrap();
        assert_eq!(call.case.unwrap().call_count, expected);
    }
    let limit = desk
        .cases
        .recall(as_operator("m.rossi", recall))
        .await
        .unwrap_err();
    assert_eq!(limit.code(), Code::FailedPrecondition);

    let case = desk
        .cases
        .mark_no_show(as_operator("m.rossi", no_show))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status(), CaseStatus::NoShow);
    let rest: Vec<String> =
        sqlx::query_scalar("select status from routing.cases where id <> $1::uuid")
            .bind(&case_id)
            .fetch_all(desk.pool())
            .await
            .unwrap();
    assert_eq!(rest, ["no_show"], "the ticket's other service goes with it");
    assert!(
        desk.call_next("m.rossi").await.is_none(),
        "the operator is free again"
    );
}

#[tokio::test]
async fn a_parked_case_is_resumed_later_and_the_operator_serves_others_meanwhile() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    let first = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let second = desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let parked_id = desk.call_next("m.rossi").await.unwrap().case.unwrap().id;
    assert_eq!(parked_id, first.cases[0].id);
    let parked = desk
        .cases
        .park(as_operator(
            "m.rossi",
            ParkRequest {
                operator_id: "m.rossi".into(),
                case_id: parked_id.clone(),
                reason: "va a prendere il documento".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(parked.status(), CaseStatus::Parked);

    let other = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    assert_eq!(other.id, second.cases[0].id);
    let busy = desk
        .cases
        .resume(as_operator(
            "m.rossi",
            ResumeRequest {
                operator_id: "m.rossi".into(),
                case_id: parked_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition, "one case at a time");
    desk.complete("m.rossi", &other.id, "issued").await.unwrap();
    let resumed = desk
        .cases
        .resume(as_operator(
            "m.rossi",
            ResumeRequest {
                operator_id: "m.rossi".into(),
                case_id: parked_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(resumed.case.unwrap().status(), CaseStatus::Called);
    desk.complete("m.rossi", &parked_id, "issued")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_ticket_for_several_services_is_served_at_one_counter_and_the_rest_keeps_its_place() {
    let mut desk = Desk::open(3, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    desk.operator("g.verdi", Tier::Polivalente, &[("servizi_educativi", 2)], 2)
        .await;
    let ticket = desk
        .ticket(&[RESIDENCE, FAMILY, SCHOOL], PriorityCategory::None)
        .await; // A001
    desk.wait(1);
    let later = desk.ticket(&[SCHOOL], PriorityCategory::None).await; // B001, later
    assert_eq!(
        ticket.cases.iter().map(|c| c.status()).collect::<Vec<_>>(),
        [
            CaseStatus::Waiting,
            CaseStatus::Pending,
            CaseStatus::Pending
        ]
    );

    let first = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    assert_eq!(first.id, ticket.cases[0].id);
    let done = desk.complete("m.rossi", &first.id, "issued").await.unwrap();
    let next = done
        .next_call
        .expect("the family certificate at the same counter");
    assert_eq!(next.case.as_ref().unwrap().id, ticket.cases[1].id);
    assert_eq!(next.decision.unwrap().reason(), DecisionReason::SameTicket);
    let done = desk
        .complete("m.rossi", &ticket.cases[1].id, "issued")
        .await
        .unwrap();
    assert!(done.next_call.is_none(), "m.rossi cannot enrol in school");

    let school = desk.call_next("g.verdi").await.unwrap().case.unwrap();
    assert_eq!(
        school.id, ticket.cases[2].id,
        "the enrolment keeps A001's place, ahead of B001"
    );
    assert_eq!(later.ticket.unwrap().label, "B001");
}

#[tokio::test]
async fn an_operator_calls_a_specific_ticket() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let call = desk
        .cases
        .call_ticket(as_operator(
            "m.rossi",
            CallTicketRequest {
                operator_id: "m.rossi".into(),
                ticket: "a002".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(call.case.unwrap().ticket_label, "A002");
    assert_eq!(
        call.decision.unwrap().reason(),
        DecisionReason::SpecificTicket
    );
    let queues = desk
        .cases
        .list_queues(common::request(ListQueuesRequest {
            site_id: desk.site_id.clone(),
            operator_id: "m.rossi".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .queues;
    let anagrafe = queues.iter().find(|q| q.letter == "A").unwrap();
    assert_eq!(anagrafe.waiting, 1);
    assert!(
        queues.iter().all(|q| q.letter == "A" || q.letter == "E"),
        "only the queues m.rossi may serve"
    );
}

#[tokio::test]
async fn a_transfer_to_a_queue_alone_keeps_a_service_that_waits_there() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let case = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    let transfer = |group: &str| TransferRequest {
        operator_id: "m.rossi".into(),
        case_id: case.id.clone(),
        to_service_group: group.into(),
        to_service_code: String::new(),
        reason: String::new(),
    };
    // The residence certificate does not wait in the URP queue: the service must be named.
    let status = desk
        .cases
        .transfer(as_operator("m.rossi", transfer("informazioni")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("to_service_code:"),
        "{}",
        status.message()
    );
    // Back to its own queue, keeping its place: allowed.
    let moved = desk
        .cases
        .transfer(as_operator("m.rossi", transfer("anagrafe")))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (moved.status(), moved.service_code.as_str()),
        (CaseStatus::Waiting, RESIDENCE)
    );
}

#[tokio::test]
async fn closing_a_parked_case_sends_its_tickets_next_service_to_its_queue() {
    let mut desk = Desk::open(3, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    let ticket = desk
        .ticket(&[RESIDENCE, SCHOOL, INFO], PriorityCategory::None)
        .await;
    let head = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    desk.cases
        .park(as_operator(
            "m.rossi",
            ParkRequest {
                operator_id: "m.rossi".into(),
                case_id: head.id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap();
    desk.cases
        .close_case(common::request(
            sportello_proto::routing::v1::CloseCaseRequest {
                case_id: head.id.clone(),
                outcome_code: "withdrawn".into(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap();
    let statuses: Vec<(String, String)> =
        sqlx::query_as("select id::text, status from routing.cases order by ticket_position")
            .fetch_all(desk.pool())
            .await
            .unwrap();
    assert_eq!(
        statuses[0],
        (ticket.cases[0].id.clone(), "completed".into())
    );
    assert_eq!(
        statuses[1],
        (ticket.cases[1].id.clone(), "waiting".into()),
        "the next service queues"
    );
    assert_eq!(
        statuses[2],
        (ticket.cases[2].id.clone(), "pending".into()),
        "the one after waits its turn"
    );
}

/// The wait estimate a queue shows: never blank — from the catalogue while recent
/// handlings are few, from their percentiles once there are enough, and no figure (with
/// the reason) when nobody is present to serve the queue.
#[tokio::test]
async fn the_wait_estimate_says_what_it_rests_on() {
    let mut desk = Desk::open(4, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 3).await;
    let queues = |desk: &Desk| {
        let mut cases = desk.cases.clone();
        let site_id = desk.site_id.clone();
        async move {
            cases
                .list_queues(common::request(ListQueuesRequest {
                    site_id,
                    operator_id: String::new(),
                }))
                .await
                .unwrap()
                .into_inner()
                .queues
                .into_iter()
                .find(|q| q.letter == "A")
                .unwrap()
        }
    };
    // Twelve served, four minutes each.
    for _ in 0..12 {
        desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
        let case = desk.call_next("m.rossi").await.unwrap().case.unwrap();
        desk.wait(4);
        desk.complete("m.rossi", &case.id, "issued").await.unwrap();
        desk.presence("m.rossi", Presence::Available).await.unwrap();
    }
    for _ in 0..3 {
        desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    }
    let a = queues(&desk).await;
    assert_eq!(a.waiting, 3);
    // Three cases ahead, one operator, 240 s each.
    assert_eq!(
        (a.wait_p50_seconds, a.wait_p90_seconds),
        (720, 720),
        "{}",
        a.wait_basis
    );
    assert!(
        a.wait_basis.contains("ultime 12 pratiche"),
        "{}",
        a.wait_basis
    );

    desk.presence("m.rossi", Presence::Break).await.unwrap();
    let a = queues(&desk).await;
    assert_eq!((a.wait_p50_seconds, a.wait_p90_seconds), (0, 0));
    assert!(
        a.wait_basis.contains("nessun operatore presente"),
        "{}",
        a.wait_basis
    );
}

/// Issue 13, point 5: a counter case past its budget continues by appointment — it
/// completes with `appointment_requested` and `case.appointment_requested` carries the
/// note and the budget (the catalogue's expected minutes) for the booking to pick up. A
/// note naming a person, a missing note, or another outcome is refused naming the field,
/// and the case stays held.
#[tokio::test]
async fn a_case_past_its_budget_continues_by_appointment_with_its_note() {
    use sportello_proto::routing::v1::{AppointmentHandOff, CompleteRequest};
    let mut desk = Desk::open(4, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 3).await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let case = desk.call_next("m.rossi").await.unwrap().case.unwrap();
    assert!(
        case.called_time.is_some(),
        "the console reads the budget from it"
    );
    desk.wait(40);
    let hand_off = |outcome: &str, note: &str| {
        as_operator(
            "m.rossi",
            CompleteRequest {
                operator_id: "m.rossi".into(),
                case_id: case.id.clone(),
                outcome_code: outcome.into(),
                appointment: Some(AppointmentHandOff {
                    context_note: note.into(),
                }),
            },
        )
    };
    for (outcome, note, field) in [
        (
            "issued",
            "Serve il sopralluogo del tecnico.",
            "outcome_code",
        ),
        ("", "  ", "appointment.context_note"),
        (
            "",
            "Richiamare RSSMRA85M01E463X",
            "appointment.context_note",
        ),
    ] {
        let refused = desk
            .cases
            .complete(hand_off(outcome, note))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains(field), "{refused:?}");
    }
    let held = desk
        .cases
        .get_case(as_operator(
            "m.rossi",
            GetCaseRequest {
                case_id: case.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(held.status(), CaseStatus::Called, "nothing changed");

    let done = desk
        .cases
        .complete(hand_off(
            "",
            "Serve il sopralluogo del tecnico: documenti visti.",
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(done.status(), CaseStatus::Completed);
    assert_eq!(done.outcome_code, "appointment_requested");
    let (payload, budget): (Vec<u8>, i16) = sqlx::query_as(
        "select o.payload, s.expected_minutes from routing.outbox o, routing.service_types s
         where o.event_type = 'case.appointment_requested' and o.aggregate_id = $1
           and s.code = $2",
    )
    .bind(&case.id)
    .bind(RESIDENCE)
    .fetch_one(desk.pool())
    .await
    .unwrap();
    let handed =
        <sportello_proto::routing::v1::CaseAppointmentRequested as prost::Message>::decode(
            payload.as_slice(),
        )
        .unwrap();
    assert_eq!(
        handed.context_note,
        "Serve il sopralluogo del tecnico: documenti visti."
    );
    assert_eq!(handed.budget_minutes, u32::try_from(budget).unwrap());
    assert_eq!(handed.handling_seconds, 40 * 60);
    assert_eq!(handed.case.unwrap().outcome_code, "appointment_requested");
}
