//! Change of residence end to end: the registry with routing running in-process (its
//! protocol register, its cases and its back office are real), PostgreSQL, NATS, and the
//! manual clock. The address check travels as work over NATS: the tests step both
//! services' relays and consumers as the running workers would ([`hand_over`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, SPEZIA, administrator, count, operator};
use jiff::Timestamp;
use sportello_kit::{
    CallContext, Role,
    inbox::Outcome,
    testing::{TestService, exchange},
};
use sportello_proto::{
    common::v1::{Address, Channel},
    registry::v1::{
        AnswerObservationsRequest, CheckOutcome, ConfirmationBasis, DeclareImmigrationRequest,
        DeclareResidenceChangeRequest, DwellingTitle, GetFamilyRequest, GetResidentHistoryRequest,
        GetResidentRequest, IncomingMember, MovingMember, NewAddress, NoticeDelivery,
        ObservationsOutcome, RecordAddressCheckRequest, RecordNoticeReceiptRequest,
        RecordObservationsRequest, Relationship, ResidenceChange, ResidenceChangeDeclared,
        ResidenceChangeRejected, ResidenceChangeStatus, Resident, SendReasonsAgainstRequest,
    },
    routing::v1::{
        AcceptOfferRequest, CaseStatus, CompleteWorkRequest, CreateSiteRequest, GetCaseRequest,
        GetRegistrationRequest, GetServiceTypeRequest, IncomingKind, Operator, Presence,
        SetPresenceRequest, Skill, Tier, UpsertOperatorRequest, UpsertServiceTypeRequest,
        WorkRequested, WorkState, WorkUpdateKind, WorkUpdated,
        back_office_service_client::BackOfficeServiceClient,
        case_service_client::CaseServiceClient, catalogue_service_client::CatalogueServiceClient,
        operator_service_client::OperatorServiceClient,
        protocol_service_client::ProtocolServiceClient, site_service_client::SiteServiceClient,
    },
};
use tonic::Code;

fn moving(members: &[(&Resident, Relationship)]) -> Vec<MovingMember> {
    members
        .iter()
        .map(|(m, r)| MovingMember {
            resident_id: m.id.clone(),
            relationship: *r as i32,
        })
        .collect()
}

fn declaration(family: &[Resident], members: Vec<MovingMember>) -> DeclareResidenceChangeRequest {
    DeclareResidenceChangeRequest {
        municipality_istat_code: "011015".into(),
        family_id: family[0].family_id.clone(),
        declarant_id: members[0].resident_id.clone(),
        members,
        address: Some(NewAddress {
            street_code: "CHIODO".into(),
            house_number: "5".into(),
        }),
        channel: Channel::Web as i32,
        document_sha256: String::new(),
        idempotency_key: String::new(),
        site_id: String::new(),
        remaining_head_id: String::new(),
        representative_id: String::new(),
        documents: Vec::new(),
    }
}

/// The Rossi family, Via Domenico Chiodo in the gazetteer, and routing.
async fn desk() -> (Harness, TestService, Vec<Resident>) {
    let (h, routing) = Harness::start_with_routing().await;
    let family = h.rossi_family().await;
    h.street("CHIODO", "Via", "Domenico Chiodo").await;
    (h, routing, family)
}

async fn declare_whole_family(h: &Harness, family: &[Resident]) -> ResidenceChange {
    let members = moving(&[
        (&family[0], Relationship::Head),
        (&family[1], Relationship::Spouse),
        (&family[2], Relationship::Child),
    ]);
    h.changes()
        .await
        .declare_residence_change(
            operator("residence.declare").request(declaration(family, members)),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap()
}

async fn event_types(h: &Harness) -> Vec<String> {
    sqlx::query_scalar("select event_type from outbox where event_type like 'registry.residence_change.%' order by id")
        .fetch_all(h.pool())
        .await
        .unwrap()
}

/// Moves the work between the registry and routing as their running workers would, until
/// nothing is left in flight (a decision's update and routing's answer to it included).
async fn hand_over(h: &Harness, routing: &TestService) {
    exchange(&[(routing, "work-registry"), (&h.registry, "registry-work")]).await;
}

async fn get_change(h: &Harness, id: &str) -> ResidenceChange {
    h.changes()
        .await
        .get_residence_change(operator("residence.read").request(
            sportello_proto::registry::v1::GetResidenceChangeRequest {
                residence_change_id: id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap()
}

/// The check's case in routing, after handing the work over: routing opened it from the
/// registry's work request and the registry noted its id from routing's `opened` event.
async fn routing_case(
    h: &Harness,
    routing: &TestService,
    change_id: &str,
) -> sportello_proto::routing::v1::Case {
    hand_over(h, routing).await;
    let change = get_change(h, change_id).await;
    assert!(
        !change.check_case_id.is_empty(),
        "routing opened the check's case and the registry noted it"
    );
    CaseServiceClient::new(routing.channel().await)
        .get_case(operator("case.serve").request(GetCaseRequest {
            case_id: change.check_case_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

async fn family_now(h: &Harness, family_id: &str, as_of: &str) -> Vec<(String, String, i32)> {
    let family = h
        .residents()
        .await
        .get_family(operator("case.serve").request(GetFamilyRequest {
            family_id: family_id.into(),
            as_of: as_of.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .family
        .unwrap();
    family
        .members
        .iter()
        .map(|m| {
            (
                m.given_names.clone(),
                m.address.as_ref().unwrap().street_name.clone(),
                m.relationship,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_family_moves_its_declaration_is_registered_and_the_check_confirms_it() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    assert_eq!(change.status, ResidenceChangeStatus::Recorded as i32);
    assert_eq!(
        change.destination_family_id, family[0].family_id,
        "the family moves whole"
    );
    assert_eq!(
        change.effective_date, "2026-11-26",
        "effective from the declaration"
    );
    assert_eq!(change.registration_due, "2026-11-30", "two working days");
    assert_eq!(
        change.check_due, "2027-01-11",
        "45 days, Sunday rolled to Monday"
    );
    assert_eq!(change.silence_assent_date, "2027-01-12");
    assert!(!change.protocol_number.is_empty());

    // The family lives at the new address from today, and lived at the old one before.
    let now = family_now(&h, &family[0].family_id, "").await;
    assert!(
        now.iter()
            .all(|(_, street, _)| street == "Via Domenico Chiodo"),
        "{now:?}"
    );
    let before = family_now(&h, &family[0].family_id, "2026-11-25").await;
    assert!(
        before
            .iter()
            .all(|(_, street, _)| street == "Via del Prione"),
        "{before:?}"
    );

    // Routing holds the declaration in its register and the check as a tier-4 case.
    let registration = ProtocolServiceClient::new(routing.channel().await)
        .get_registration(operator("protocol.read").request(GetRegistrationRequest {
            registration_id: change.protocol_registration_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(registration.kind, IncomingKind::Declaration as i32);
    // The declaration is registered before routing has a case: the case comes from the
    // work request, and the work item carries the registration instead.
    assert_eq!(registration.case_id, "");
    assert_eq!(
        change.check_case_id, "",
        "no case until routing takes the work"
    );
    assert_eq!(registration.sender_ref, family[0].requester_ref);
    assert_eq!(registration.formatted_number, change.protocol_number);
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.service_code, "registry.residence_address_check");
    assert_eq!(case.tier, Tier::BackOffice as i32);
    assert_eq!(case.status, CaseStatus::Waiting as i32);

    // Every step is an event, with ids and references only.
    assert_eq!(
        event_types(&h).await,
        [
            "registry.residence_change.declared",
            "registry.residence_change.recorded"
        ]
    );
    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.residence_change.declared'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let declared = <ResidenceChangeDeclared as prost::Message>::decode(payload.as_slice()).unwrap();
    assert_eq!(declared.requester_refs.len(), 3);
    let text = String::from_utf8_lossy(&payload);
    assert!(!text.contains("Rossi") && !text.contains(&family[0].fiscal_code));
    let work: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.work.requested'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&work);
    assert!(!text.contains("Rossi") && !text.contains(&family[0].fiscal_code));
    h.registry.running.workers.relay.run_once().await.unwrap();
    assert_eq!(
        count(h.pool(), "outbox where published_at is null").await,
        0,
        "the declaration's events and its work request are all published"
    );

    // The municipal police find the family there.
    let decided = h
        .changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Confirmed as i32,
                reason: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(decided.status, ResidenceChangeStatus::Confirmed as i32);
    assert_eq!(decided.confirmation_basis, ConfirmationBasis::Check as i32);
    // Decided here, not in the back office: routing completes the work with the
    // registry's outcome (a DECIDED work update), and routing's answer closes the case on
    // the registry's side.
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "confirmed");
    assert!(
        get_change(&h, &change.id).await.check_close_time.is_some(),
        "the case was closed in routing"
    );
    assert_eq!(
        event_types(&h).await.last().unwrap(),
        "registry.residence_change.confirmed"
    );

    // Nothing is left for the timers: no silence-assent after a decision.
    h.ctx.clock.set("2027-02-01T10:00:00Z".parse().unwrap());
    assert_eq!(
        h.registry.running.workers.timers.run_once().await.unwrap(),
        0
    );
}

/// DPR 445/2000 art. 53 c. 1 lett. c: the declaration's entry in routing's register names
/// its sender — the declarant's name and surname as the registry holds them — and only
/// the records office (role `protocollo`) reads it; the counter operator sees the
/// pseudonymous reference alone.
#[tokio::test]
async fn the_declaration_is_registered_naming_its_declarant_dpr_445_2000_art_53() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    let mut register = ProtocolServiceClient::new(routing.channel().await);
    let get = || GetRegistrationRequest {
        registration_id: change.protocol_registration_id.clone(),
    };
    let records_office =
        CallContext::new("gateway", "operator:prot-1", SPEZIA, "protocol.register")
            .unwrap()
            .with_roles(&[Role::Protocollo]);
    let named = register
        .get_registration(records_office.request(get()))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        named.sender_name,
        format!("{} {}", family[0].given_names, family[0].surname)
    );
    let seen = register
        .get_registration(operator("protocol.read").request(get()))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (seen.sender_name.as_str(), seen.sender_ref.as_str()),
        ("", family[0].requester_ref.as_str())
    );
}

#[tokio::test]
async fn silence_assent_confirms_the_change_on_the_day_the_clock_gives() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    let timers = &h.registry.running.workers.timers;

    // 23:59 in Rome on Monday 11 January 2027, the last day of the term: not yet.
    h.ctx
        .clock
        .set("2027-01-11T22:59:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(timers.run_once().await.unwrap(), 0);
    // Midnight in Rome: the term has passed; silence-assent, and the work is withdrawn
    // from routing in the same transaction.
    h.ctx
        .clock
        .set("2027-01-11T23:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(timers.run_once().await.unwrap(), 1);
    hand_over(&h, &routing).await;

    let now = h
        .changes()
        .await
        .get_residence_change(operator("residence.read").request(
            sportello_proto::registry::v1::GetResidenceChangeRequest {
                residence_change_id: change.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(now.status, ResidenceChangeStatus::Confirmed as i32);
    assert_eq!(
        now.confirmation_basis,
        ConfirmationBasis::SilenceAssent as i32
    );
    assert!(now.check_close_time.is_some());
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(
        case.status,
        CaseStatus::Completed as i32,
        "completed with the registry's decision"
    );
    assert_eq!(case.outcome_code, "confirmed_by_silence_assent");
    assert_eq!(
        event_types(&h).await,
        [
            "registry.residence_change.declared",
            "registry.residence_change.recorded",
            "registry.residence_change.confirmed"
        ]
    );
    assert_eq!(timers.run_once().await.unwrap(), 0, "fired once");
}

#[tokio::test]
async fn a_notice_of_reasons_against_removes_silence_assent() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    h.ctx
        .clock
        .set("2026-12-15T09:00:00Z".parse::<Timestamp>().unwrap());
    let noticed = h
        .changes()
        .await
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: change.id.clone(),
                reasons: "al primo sopralluogo l'abitazione risultava disabitata".into(),
                outgoing_protocol_number: "2026/0000412".into(),
                sent_date: "2026-12-15".into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(noticed.silence_assent_date, "");
    assert!(noticed.reasons_against_time.is_some());
    assert_eq!(noticed.notice_sent_date, "2026-12-15");
    assert_eq!(noticed.notice_protocol_number, "2026/0000412");
    assert_eq!(
        noticed.observations_window_end, "",
        "no window runs until the receipt is recorded"
    );
    // The notice suspends the check's term in routing too (a work update).
    hand_over(&h, &routing).await;
    let item: (String, String) =
        sqlx::query_as("select state, clock::text from routing.work_items")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(item.0, "suspended", "{item:?}");
    assert!(item.1.contains("reasons_against"), "{item:?}");
    h.ctx
        .clock
        .set("2027-03-01T09:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(
        h.registry.running.workers.timers.run_once().await.unwrap(),
        0
    );
    let status: String = sqlx::query_scalar("select status from residence_changes")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(status, "recorded", "no silence-assent after a notice");
}

/// The legal effect is the registry's, the warnings and escalations routing's, and both
/// come from the same PA-library clock (DPR 223/1989 art. 18-bis c. 1; L. 241/1990 art.
/// 10-bis and art. 2 c. 9-bis): routing's due date is always the registry's `check_due`;
/// routing's last escalation (to the substitute) falls on that day and the registry's
/// silence-assent timer on the next; a 10-bis notice suspends both — the registry drops
/// silence-assent, routing takes back its escalations while the term has no end — and
/// once the notice's receipt and the observations are recorded both run to the same later
/// day.
#[tokio::test]
async fn routing_and_the_registry_keep_one_clock_across_a_10_bis_suspension() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    // The days each side has armed, as Europe/Rome dates.
    let armed = |schema: &'static str, kind: &'static str, key: &'static str| {
        let pool = h.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "select (due_at at time zone 'Europe/Rome')::date::text from {schema}timers
                 where kind = '{kind}' and key like '{key}'
                   and fired_at is null and cancelled_at is null"
            )))
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    };
    let routing_due = || {
        let pool = h.pool().clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>("select due_date::text from routing.work_items")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let day_after = |day: &str| {
        day.parse::<jiff::civil::Date>()
            .unwrap()
            .tomorrow()
            .unwrap()
            .to_string()
    };

    let before = get_change(&h, &change.id).await;
    assert_eq!(
        routing_due().await.as_deref(),
        Some(before.check_due.as_str())
    );
    assert_eq!(
        armed("routing.", "routing.work.escalation", "%:3")
            .await
            .as_deref(),
        Some(before.check_due.as_str()),
        "the substitute is alerted on the last day of the term"
    );
    assert_eq!(before.silence_assent_date, day_after(&before.check_due));
    assert_eq!(
        armed("", "registry.residence_silence_assent", "%")
            .await
            .as_deref(),
        Some(before.silence_assent_date.as_str()),
        "silence-assent takes effect the day after"
    );

    // The notice is sent: no receipt yet, so the term is suspended with no end.
    let mut changes = h.changes().await;
    h.ctx
        .clock
        .set("2026-12-16T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: change.id.clone(),
                reasons: "nessuno abita all'indirizzo dichiarato (tre sopralluoghi)".into(),
                outgoing_protocol_number: "2026/0000500".into(),
                sent_date: "2026-12-14".into(),
            }),
        )
        .await
        .unwrap();
    hand_over(&h, &routing).await;
    assert_eq!(
        armed("", "registry.residence_silence_assent", "%").await,
        None,
        "no silence-assent after a notice"
    );
    assert_eq!(routing_due().await, None, "suspended, no end yet");
    assert_eq!(
        armed("routing.", "routing.work.escalation", "%").await,
        None,
        "no escalation while the term has no end"
    );

    // Received at the counter, observations within the window: the term runs again.
    changes
        .record_notice_receipt(
            operator("residence.check").request(RecordNoticeReceiptRequest {
                residence_change_id: change.id.clone(),
                delivery: NoticeDelivery::Counter as i32,
                received_date: "2026-12-16".into(),
            }),
        )
        .await
        .unwrap();
    hand_over(&h, &routing).await;
    let received = get_change(&h, &change.id).await;
    assert_eq!(
        routing_due().await.as_deref(),
        Some(received.check_due.as_str())
    );
    h.ctx
        .clock
        .set("2026-12-21T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .record_observations(
            operator("residence.check").request(RecordObservationsRequest {
                residence_change_id: change.id.clone(),
                received_date: "2026-12-21".into(),
                observations: "Abito all'indirizzo da novembre; allego il contratto.".into(),
            }),
        )
        .await
        .unwrap();
    hand_over(&h, &routing).await;
    let after = get_change(&h, &change.id).await;
    assert!(
        after.check_due > before.check_due,
        "the suspension moved the term: {} → {}",
        before.check_due,
        after.check_due
    );
    assert_eq!(
        routing_due().await.as_deref(),
        Some(after.check_due.as_str())
    );
    assert_eq!(
        armed("routing.", "routing.work.escalation", "%:3")
            .await
            .as_deref(),
        Some(after.check_due.as_str()),
        "routing escalates on the registry's new last day"
    );
    assert_eq!(
        after.silence_assent_date, "",
        "a decision is due, not silence-assent"
    );
}

/// DPR 223/1989 art. 18-bis c. 2 and L. 241/1990 art. 10-bis (issue 11, point 1): a
/// failed check no longer rejects at once; the previous state is restored only after the
/// notice was sent and received and the observations were rejected with reasons, and the
/// rejection states the appeal (DPR 223/1989 art. 36) and the communications (DL 5/2012
/// art. 5 c. 4).
#[tokio::test]
async fn a_failed_check_restores_the_previous_state_and_records_why() {
    let (h, routing, family) = Box::pin(desk()).await;
    let luca = &family[2];
    // Luca (14) leaves to live on his own: a new family, of which he is the head; being
    // under age, his father represents him.
    let mut request = declaration(&family, moving(&[(luca, Relationship::Head)]));
    request.representative_id = family[0].id.clone();
    let change = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_ne!(change.destination_family_id, family[0].family_id);
    let moved = h
        .residents()
        .await
        .get_resident(operator("case.serve").request(GetResidentRequest {
            resident_id: luca.id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(moved.family_id, change.destination_family_id);
    assert_eq!(moved.relationship, Relationship::Head as i32);
    assert_eq!(family_now(&h, &family[0].family_id, "").await.len(), 2);

    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    let failed = h
        .changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno abita all'indirizzo dichiarato (tre sopralluoghi)".into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    // DPR 223/1989 art. 18-bis c. 2: no rejection without a 10-bis notice.
    assert_eq!(failed.status, ResidenceChangeStatus::Recorded as i32);
    assert_eq!(
        failed.check_failure,
        "nessuno abita all'indirizzo dichiarato (tre sopralluoghi)"
    );
    assert_eq!(family_now(&h, &family[0].family_id, "").await.len(), 2);
    let rejected = through_the_notice(&h, &change.id, false).await;
    assert_eq!(rejected.status, ResidenceChangeStatus::Rejected as i32);
    assert_eq!(
        rejected.rejection_reason,
        "le osservazioni non superano l'esito dei sopralluoghi"
    );
    assert!(rejected.appeal.contains("DPR 223/1989 art. 36"));

    // Luca is back in his family at Via del Prione, for every day since the declaration.
    for as_of in ["2026-11-26", ""] {
        let members = family_now(&h, &family[0].family_id, as_of).await;
        assert_eq!(members.len(), 3, "{as_of}: {members:?}");
        assert!(
            members
                .iter()
                .all(|(_, street, _)| street == "Via del Prione")
        );
        assert!(members.contains(&(
            "Luca".into(),
            "Via del Prione".into(),
            Relationship::Child as i32
        )));
    }
    let history = h
        .residents()
        .await
        .get_resident_history(operator("case.serve").request(GetResidentHistoryRequest {
            resident_id: luca.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .versions;
    let causes: Vec<_> = history
        .iter()
        .map(|v| (v.cause, v.valid_from.as_str(), v.valid_to.as_str()))
        .collect();
    assert_eq!(
        causes,
        [
            (
                sportello_proto::registry::v1::ChangeCause::Registration as i32,
                "2020-01-01",
                "2026-11-26"
            ),
            (
                sportello_proto::registry::v1::ChangeCause::ResidenceChangeRejected as i32,
                "2026-11-26",
                ""
            ),
        ],
        "the rejected state is kept aside (superseded), the restored one stands"
    );
    let superseded: i64 = sqlx::query_scalar(
        "select count(*) from resident_versions where superseded_at is not null and cause = 'residence_change'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(superseded, 1);
    // The check's case ended with the check (failed); the 10-bis phase's work, requested
    // with the failure, is completed with the registry's decision.
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "check_failed");
    assert_eq!(
        routing_item(&h, REASONS_AGAINST).await,
        ("completed".into(), Some("rejected".into())),
        "completed with the registry's decision"
    );
    assert_eq!(
        event_types(&h).await.last().unwrap(),
        "registry.residence_change.rejected"
    );
    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.residence_change.rejected'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let event = <ResidenceChangeRejected as prost::Message>::decode(payload.as_slice()).unwrap();
    assert_eq!(event.communications, ["public_security_authority"]);
    assert!(event.appeal.contains("ricorso al Prefetto entro 30 giorni"));

    // Decided: a second check is refused.
    let again = h
        .changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Confirmed as i32,
                reason: String::new(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

/// A failed check's change through the 10-bis procedure: the notice sent on 14 December
/// (outgoing protocol), received on the 16th at the counter, observations on the 21st,
/// answered (accepted or not) on the 28th.
async fn through_the_notice(h: &Harness, id: &str, accept: bool) -> ResidenceChange {
    let mut changes = h.changes().await;
    h.ctx
        .clock
        .set("2026-12-16T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: id.into(),
                reasons: "nessuno abita all'indirizzo dichiarato (tre sopralluoghi)".into(),
                outgoing_protocol_number: "2026/0000500".into(),
                sent_date: "2026-12-14".into(),
            }),
        )
        .await
        .unwrap();
    let received = changes
        .record_notice_receipt(
            operator("residence.check").request(RecordNoticeReceiptRequest {
                residence_change_id: id.into(),
                delivery: NoticeDelivery::Counter as i32,
                received_date: "2026-12-16".into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(received.notice_received_date, "2026-12-16");
    assert_eq!(received.observations_window_end, "2026-12-28");
    // Not yet: the window is open and no observations were answered.
    assert_eq!(
        h.registry.running.workers.timers.run_once().await.unwrap(),
        0
    );
    h.ctx
        .clock
        .set("2026-12-21T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .record_observations(
            operator("residence.check").request(RecordObservationsRequest {
                residence_change_id: id.into(),
                received_date: "2026-12-21".into(),
                observations: "Abito all'indirizzo da novembre; allego il contratto di locazione."
                    .into(),
            }),
        )
        .await
        .unwrap();
    h.ctx
        .clock
        .set("2026-12-28T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .answer_observations(
            operator("residence.check").request(AnswerObservationsRequest {
                residence_change_id: id.into(),
                outcome: if accept {
                    ObservationsOutcome::Accepted
                } else {
                    ObservationsOutcome::Rejected
                } as i32,
                reasons: "le osservazioni non superano l'esito dei sopralluoghi".into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap()
}

/// L. 241/1990 art. 10-bis, DPR 223/1989 art. 18-bis c. 2 (issue 11, points 1 and 5): when
/// the 10 days from the notice's receipt pass with no observations, the durable timer
/// rejects the change on the day after the window ends; observations after the window are
/// refused naming the rule, and nothing is written.
#[tokio::test]
async fn the_window_lapses_unused_and_the_timer_rejects_art_10_bis() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    let mut changes = h.changes().await;
    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    // The back office cannot reject without the notice: there is no RPC that would, and
    // a failed check leaves the family where it declared.
    changes
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "abitazione disabitata".into(),
            }),
        )
        .await
        .unwrap();
    // A notice dated in the future, or before receipt is recorded observations: refused.
    let future = changes
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: change.id.clone(),
                reasons: "abitazione disabitata".into(),
                outgoing_protocol_number: "2026/0000600".into(),
                sent_date: "2026-12-11".into(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(future.code(), Code::InvalidArgument);
    changes
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: change.id.clone(),
                reasons: "abitazione disabitata".into(),
                outgoing_protocol_number: "2026/0000600".into(),
                sent_date: "2026-12-10".into(),
            }),
        )
        .await
        .unwrap();
    let early = changes
        .record_observations(
            operator("residence.check").request(RecordObservationsRequest {
                residence_change_id: change.id.clone(),
                received_date: "2026-12-10".into(),
                observations: "abito qui".into(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("10-bis"), "{}", early.message());
    // Received by PEC on Saturday 12 December: the window ends on Tuesday 22.
    h.ctx
        .clock
        .set("2026-12-12T15:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .record_notice_receipt(
            operator("residence.check").request(RecordNoticeReceiptRequest {
                residence_change_id: change.id.clone(),
                delivery: NoticeDelivery::PecReceipt as i32,
                received_date: "2026-12-12".into(),
            }),
        )
        .await
        .unwrap();
    h.ctx
        .clock
        .set("2026-12-22T20:00:00Z".parse::<Timestamp>().unwrap());
    let timers = &h.registry.running.workers.timers;
    assert_eq!(timers.run_once().await.unwrap(), 0, "the window's last day");
    h.ctx
        .clock
        .set("2026-12-23T09:00:00Z".parse::<Timestamp>().unwrap());
    let late = changes
        .record_observations(
            operator("residence.check").request(RecordObservationsRequest {
                residence_change_id: change.id.clone(),
                received_date: "2026-12-23".into(),
                observations: "abito qui".into(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(
        late.message().starts_with("received_date:") && late.message().contains("10-bis"),
        "{}",
        late.message()
    );
    let written: Option<String> = sqlx::query_scalar("select observations from residence_changes")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(written, None, "nothing written");
    assert!(timers.run_once().await.unwrap() >= 1);
    let status: (String, String) =
        sqlx::query_as("select status, rejection_reason from residence_changes")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(status, ("rejected".into(), "abitazione disabitata".into()));
    timers.run_once().await.unwrap();
    // The check's case ended with the failed check; the 10-bis work carries the decision.
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "check_failed");
    assert_eq!(
        routing_item(&h, REASONS_AGAINST).await,
        ("completed".into(), Some("rejected".into())),
        "completed with the registry's decision"
    );
    assert_eq!(
        family_now(&h, &family[0].family_id, "").await[0].1,
        "Via del Prione"
    );
}

/// DPR 223/1989 art. 18-bis c. 2 (issue 11, point 1), held by the database: a change
/// cannot be written as rejected without a received notice and a lapsed window or
/// rejected observations, whatever the code above it does.
#[tokio::test]
async fn the_database_refuses_a_rejection_without_notice_art_18_bis() {
    let (h, _routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    let refused = sqlx::query(
        "update residence_changes set status = 'rejected', rejection_reason = 'x',
             decided_at = now() where id = $1::uuid",
    )
    .bind(&change.id)
    .execute(h.pool())
    .await
    .unwrap_err();
    let refused = refused.as_database_error().unwrap().constraint();
    assert_eq!(refused, Some("residence_changes_rejected_after_notice"));
}

/// L. 241/1990 art. 10-bis (issue 11, point 1): observations that overcome the reasons
/// against are answered by confirming the move.
#[tokio::test]
async fn accepted_observations_confirm_the_move_art_10_bis() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    h.changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno in casa".into(),
            }),
        )
        .await
        .unwrap();
    let confirmed = through_the_notice(&h, &change.id, true).await;
    assert_eq!(confirmed.status, ResidenceChangeStatus::Confirmed as i32);
    assert_eq!(
        confirmed.observations_outcome,
        ObservationsOutcome::Accepted as i32
    );
    assert_eq!(confirmed.appeal, "");
    // The check's case ended with the failed check; the 10-bis work carries the decision.
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "check_failed");
    assert_eq!(
        routing_item(&h, REASONS_AGAINST).await,
        ("completed".into(), Some("confirmed".into())),
        "completed with the registry's decision"
    );
}

/// DPR 223/1989 art. 6 (issue 11, point 3): the head of a family may move alone; the
/// declaration names who heads the family left behind, and a rejection gives both back
/// their previous places.
#[tokio::test]
async fn the_head_moves_alone_naming_the_new_head_art_6_dpr_223_1989() {
    let (h, _routing, family) = Box::pin(desk()).await;
    let mut request = declaration(&family, moving(&[(&family[0], Relationship::Head)]));
    request.remaining_head_id = family[1].id.clone();
    let change = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(change.remaining_head_id, family[1].id);
    assert_ne!(change.destination_family_id, family[0].family_id);
    let remaining = family_now(&h, &family[0].family_id, "").await;
    assert_eq!(remaining.len(), 2);
    assert!(remaining.contains(&(
        "Maria".into(),
        "Via del Prione".into(),
        Relationship::Head as i32
    )));
    // A rejection restores Mario as head and Maria as his spouse.
    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    h.changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno abita all'indirizzo dichiarato".into(),
            }),
        )
        .await
        .unwrap();
    let rejected = through_the_notice(&h, &change.id, false).await;
    assert_eq!(rejected.status, ResidenceChangeStatus::Rejected as i32);
    let restored = family_now(&h, &family[0].family_id, "").await;
    assert_eq!(restored.len(), 3);
    assert!(restored.contains(&(
        "Mario".into(),
        "Via del Prione".into(),
        Relationship::Head as i32
    )));
    assert!(restored.contains(&(
        "Maria".into(),
        "Via del Prione".into(),
        Relationship::Spouse as i32
    )));
}

/// DPR 445/2000 art. 54 (issue 11, point 9): a received declaration is never annulled
/// because of an internal error of ours. When recording fails after the protocol
/// registration, the registration stays; the same request again reuses it.
#[tokio::test]
async fn an_internal_failure_never_voids_the_registration_art_54_dpr_445_2000() {
    let (h, _routing, family) = Box::pin(desk()).await;
    sqlx::raw_sql(
        "create function fail_once() returns trigger language plpgsql as $$
         begin raise exception 'simulated failure'; end $$;
         create trigger fail_once before insert on residence_changes
             for each row execute function fail_once();",
    )
    .execute(h.pool())
    .await
    .unwrap();
    let members = moving(&[
        (&family[0], Relationship::Head),
        (&family[1], Relationship::Spouse),
        (&family[2], Relationship::Child),
    ]);
    let request = declaration(&family, members);
    let failed = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(request.clone()))
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Internal, "{failed:?}");
    let registrations: Vec<(String, bool)> =
        sqlx::query_as("select id::text, voided_at is not null from routing.registrations")
            .fetch_all(h.pool())
            .await
            .unwrap();
    assert_eq!(registrations.len(), 1);
    assert!(!registrations[0].1, "not annulled");
    sqlx::raw_sql("drop trigger fail_once on residence_changes")
        .execute(h.pool())
        .await
        .unwrap();
    let change = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(change.protocol_registration_id, registrations[0].0);
    assert_eq!(count(h.pool(), "routing.registrations").await, 1);
}

/// DL 5/2012 art. 5 (issue 11, point 2): a move into the municipality from another one
/// goes through the same procedure — protocol entry, registration from the declaration's
/// day, address check, silence-assent after 45 days — with the requirements the law adds:
/// the title to occupy the dwelling (DL 47/2014 art. 5) and a non-EU citizen's residence
/// permit; without them nothing is written, here or in routing.
#[tokio::test]
async fn immigration_from_another_municipality_reaches_silence_assent_dl_5_2012_art_5() {
    let (h, routing, _family) = Box::pin(desk()).await;
    const ARBEN: common::Who = (
        "Hoxha",
        "Arben",
        sportello_proto::registry::v1::Sex::Male,
        "1985-03-02",
        "Z100",
    );
    let anna = common::person(common::ANNA, "");
    let mut arben = common::person(ARBEN, "");
    arben.citizenship = "AL".into();
    let request = DeclareImmigrationRequest {
        municipality_istat_code: "011015".into(),
        members: vec![
            IncomingMember {
                person: Some(anna),
                relationship: Relationship::Head as i32,
                ..Default::default()
            },
            IncomingMember {
                person: Some(arben),
                relationship: Relationship::Cohabitant as i32,
                residence_permit: "I123456789".into(),
                residence_permit_expiry: "2028-01-01".into(),
                ..Default::default()
            },
        ],
        declarant_index: 0,
        address: Some(NewAddress {
            street_code: "CHIODO".into(),
            house_number: "5".into(),
        }),
        origin_municipality_istat_code: "010025".into(),
        dwelling_title: DwellingTitle::Tenant as i32,
        dwelling_title_reference: "contratto registrato 1234/3T/2026".into(),
        channel: Channel::Web as i32,
        ..Default::default()
    };
    let mut changes = h.changes().await;
    let mut no_permit = request.clone();
    no_permit.members[1].residence_permit.clear();
    let mut no_title = request.clone();
    no_title.dwelling_title = 0;
    for (bad, field) in [
        (no_permit, "members[1].residence_permit"),
        (no_title, "dwelling_title"),
    ] {
        let status = changes
            .declare_immigration(operator("residence.declare").request(bad))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }
    assert_eq!(count(h.pool(), "residence_changes").await, 0);
    assert_eq!(count(h.pool(), "routing.registrations").await, 0);

    let change = changes
        .declare_immigration(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(change.status, ResidenceChangeStatus::Recorded as i32);
    assert_eq!(change.origin_municipality_istat_code, "010025");
    assert_eq!(change.effective_date, "2026-11-26");
    assert_eq!(change.silence_assent_date, "2027-01-12");
    let members = family_now(&h, &change.destination_family_id, "").await;
    assert_eq!(members.len(), 2);
    assert!(
        members
            .iter()
            .all(|(_, street, _)| street == "Via Domenico Chiodo")
    );
    let timers = &h.registry.running.workers.timers;
    h.ctx
        .clock
        .set("2027-01-11T23:00:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "silence-assent; the work update needs no timer"
    );
    let confirmed: (String, String) =
        sqlx::query_as("select status, confirmation_basis from residence_changes")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(confirmed, ("confirmed".into(), "silence_assent".into()));
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(
        case.status,
        CaseStatus::Completed as i32,
        "completed with the registry's decision"
    );
    assert_eq!(case.outcome_code, "confirmed_by_silence_assent");
}

#[tokio::test]
async fn a_counter_declaration_queues_its_check_at_the_site_and_retries_are_safe() {
    let (h, routing, family) = Box::pin(desk()).await;
    let site = SiteServiceClient::new(routing.channel().await)
        .create_site(administrator("site.create").request(CreateSiteRequest {
            municipality_istat_code: "011015".into(),
            code: "palazzo-civico".into(),
            name: "Palazzo Civico".into(),
            address: Some(Address {
                street_name: "Piazza Europa".into(),
                house_number: "1".into(),
                postal_code: "19124".into(),
                ..Default::default()
            }),
            counter_count: 4,
            idempotency_key: String::new(),
            settings: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    let members = moving(&[
        (&family[0], Relationship::Head),
        (&family[1], Relationship::Spouse),
        (&family[2], Relationship::Child),
    ]);
    let mut request = declaration(&family, members);
    request.channel = Channel::Counter as i32;
    request.site_id = site.id.clone();
    request.idempotency_key = uuid::Uuid::new_v4().to_string();
    let mut changes = h.changes().await;
    let first = changes
        .declare_residence_change(operator("residence.declare").request(request.clone()))
        .await
        .unwrap()
        .into_inner();
    let second = changes
        .declare_residence_change(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second, "a retry answers the first declaration again");
    let change = first.residence_change.unwrap();
    // The check is back-office work (tier 4): routing keeps it in the department's
    // queue, not at the counter's site, and opens it once for the retried declaration.
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.tier, Tier::BackOffice as i32);
    assert_eq!(
        case.site_id, "",
        "site {} is the counter's, not the check's",
        site.id
    );
    assert_eq!(
        count(h.pool(), "routing.work_items").await,
        1,
        "one request, one item"
    );
    assert_eq!(count(h.pool(), "residence_changes").await, 1);
    let registrations: i64 = sqlx::query_scalar("select count(*) from routing.registrations")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(registrations, 1, "registered once");
}

#[tokio::test]
async fn bad_declarations_name_the_field_and_write_nothing() {
    let (h, _routing, family) = Box::pin(desk()).await;
    // Anna lives in another family.
    let mut anna = common::person(common::ANNA, "");
    anna.address.as_mut().unwrap().house_number = "40".into();
    let anna = h
        .residents()
        .await
        .register_resident(operator("resident.register").request(anna))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    let all = || {
        moving(&[
            (&family[0], Relationship::Head),
            (&family[1], Relationship::Spouse),
            (&family[2], Relationship::Child),
        ])
    };
    let mut stranger = declaration(&family, all());
    stranger.members.push(MovingMember {
        resident_id: anna.id.clone(),
        relationship: Relationship::Cohabitant as i32,
    });
    let head_leaves = declaration(&family, moving(&[(&family[0], Relationship::Head)]));
    let minor_alone = declaration(&family, moving(&[(&family[2], Relationship::Head)]));
    let mut minor_by_minor = minor_alone.clone();
    minor_by_minor.representative_id = family[2].id.clone();
    let mut head_named_needlessly = declaration(&family, all());
    head_named_needlessly.remaining_head_id = family[1].id.clone();
    let mut same_address = declaration(&family, all());
    same_address.address = Some(NewAddress {
        street_code: "PRIONE".into(),
        house_number: "12".into(),
    });
    let mut no_street = declaration(&family, all());
    no_street.address.as_mut().unwrap().street_code = "NOWHERE".into();
    let mut no_family = declaration(&family, all());
    no_family.family_id = sportello_registry::domain::FamilyId::new().to_string();
    let mut malformed = declaration(&family, all());
    malformed.members[1].relationship = Relationship::Head as i32;
    let mut counter_without_site = declaration(&family, all());
    counter_without_site.channel = Channel::Counter as i32;

    let mut changes = h.changes().await;
    for (request, code, field) in [
        (stranger, Code::InvalidArgument, "members"),
        (head_leaves, Code::InvalidArgument, "remaining_head_id"),
        (minor_alone, Code::InvalidArgument, "representative_id"),
        (minor_by_minor, Code::InvalidArgument, "representative_id"),
        (
            head_named_needlessly,
            Code::InvalidArgument,
            "remaining_head_id",
        ),
        (same_address, Code::InvalidArgument, "address"),
        (no_street, Code::InvalidArgument, "address.street_code"),
        (no_family, Code::NotFound, "family_id"),
        (malformed, Code::InvalidArgument, "members"),
        (counter_without_site, Code::InvalidArgument, "site_id"),
    ] {
        let status = changes
            .declare_residence_change(operator("residence.declare").request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{field}: {status:?}");
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }
    assert_eq!(count(h.pool(), "residence_changes").await, 0);
    assert!(event_types(&h).await.is_empty());
    for table in ["routing.registrations", "routing.cases"] {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(h.pool())
                .await
                .unwrap();
        assert_eq!(rows, 0, "nothing in {table}");
    }

    // One change at a time per person.
    declare_whole_family(&h, &family).await;
    let twice = changes
        .declare_residence_change(
            operator("residence.declare").request(declaration(&family, all())),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
}

#[tokio::test]
async fn without_routing_a_declaration_is_unavailable_and_nothing_is_written() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    h.street("CHIODO", "Via", "Domenico Chiodo").await;
    let status = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(declaration(
            &family,
            moving(&[
                (&family[0], Relationship::Head),
                (&family[1], Relationship::Spouse),
                (&family[2], Relationship::Child),
            ]),
        )))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(count(h.pool(), "residence_changes").await, 0);
}

/// A back-office specialist of the registry in routing, present for back-office work.
async fn specialist(routing: &TestService, id: &str) -> CallContext {
    let mut operators = OperatorServiceClient::new(routing.channel().await);
    operators
        .upsert_operator(
            administrator("operator.upsert").request(UpsertOperatorRequest {
                operator: Some(Operator {
                    id: id.into(),
                    municipality_istat_code: SPEZIA.into(),
                    display_name: format!("Specialista {id}"),
                    tier: Tier::BackOffice as i32,
                    department: "anagrafe".into(),
                    skills: vec![Skill {
                        skill: "anagrafe".into(),
                        proficiency: 4,
                    }],
                    ..Default::default()
                }),
            }),
        )
        .await
        .unwrap();
    let context = CallContext::new("gateway", &format!("operator:{id}"), SPEZIA, "work.serve")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("anagrafe"));
    operators
        .set_presence(context.request(SetPresenceRequest {
            operator_id: id.into(),
            presence: Presence::BackOffice as i32,
        }))
        .await
        .unwrap();
    context
}

/// The specialist accepts the check's offer and completes it with `outcome`.
async fn work_the_check(
    h: &Harness,
    routing: &TestService,
    who: &CallContext,
    id: &str,
    outcome: &str,
    result: &[(&str, &str)],
) {
    let item: (String, String, String) =
        sqlx::query_as("select id::text, state, coalesce(offered_to, '') from routing.work_items")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(item.1, "offered", "{item:?}");
    assert_eq!(item.2, id);
    let mut back_office = BackOfficeServiceClient::new(routing.channel().await);
    back_office
        .accept_offer(who.request(AcceptOfferRequest {
            item_id: item.0.clone(),
            operator_id: id.into(),
        }))
        .await
        .unwrap();
    let done = back_office
        .complete_work(
            who.request(CompleteWorkRequest {
                item_id: item.0,
                operator_id: id.into(),
                outcome_code: outcome.into(),
                result: result
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(done.state, WorkState::Completed as i32);
}

/// Issue 13: the declaration hands the check to routing as work (WorkRequested in the
/// outbox, with the statutory clock and no personal data); routing opens one case and
/// offers it; the specialist completes it with `check_passed`; routing's `completed`
/// event confirms the move in the registry — once, whatever is redelivered.
#[tokio::test]
async fn the_check_worked_in_routings_back_office_confirms_the_move_once() {
    let (h, routing, family) = Box::pin(desk()).await;
    let who = specialist(&routing, "s.bianchi").await;
    let change = declare_whole_family(&h, &family).await;

    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.work.requested'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let work = <WorkRequested as prost::Message>::decode(payload.as_slice()).unwrap();
    let origin = work.origin.clone().unwrap();
    assert_eq!(
        (origin.service.as_str(), origin.procedure_kind.as_str()),
        ("registry", "residence_change")
    );
    assert_eq!(origin.procedure_id, change.id);
    assert_eq!(work.work_id, change.id);
    assert_eq!(work.service_code, "registry.residence_address_check");
    assert_eq!(work.municipality_istat_code, SPEZIA);
    assert_eq!(work.requester_ref, family[0].requester_ref);
    assert_eq!(
        work.protocol_registration_id,
        change.protocol_registration_id
    );
    let clock = work.clock.unwrap();
    assert_eq!(clock.rule, "residence_check");
    assert_eq!(clock.start_date, "2026-11-26");
    assert_eq!(
        clock.due_date, change.check_due,
        "the same PA-library clock"
    );
    assert!(!clock.warning_date.is_empty());
    assert_eq!(
        clock.outcome_on_expiry,
        sportello_proto::routing::v1::OutcomeOnExpiry::SilenceAssent as i32
    );
    let text = String::from_utf8_lossy(&payload);
    assert!(!text.contains("Rossi") && !text.contains(&family[0].fiscal_code));

    // Routing takes it: one case, one item, offered to the specialist.
    hand_over(&h, &routing).await;
    assert_eq!(count(h.pool(), "routing.work_items").await, 1);
    assert_eq!(
        count(h.pool(), "routing.cases").await,
        1,
        "one request, one case"
    );
    let noted = get_change(&h, &change.id).await;
    assert!(
        !noted.check_case_id.is_empty(),
        "the case id came with `opened`"
    );
    assert_eq!(noted.status, ResidenceChangeStatus::Recorded as i32);

    work_the_check(
        &h,
        &routing,
        &who,
        "s.bianchi",
        "check_passed",
        &[("check", "passed")],
    )
    .await;
    hand_over(&h, &routing).await;
    let decided = get_change(&h, &change.id).await;
    assert_eq!(decided.status, ResidenceChangeStatus::Confirmed as i32);
    assert_eq!(decided.confirmation_basis, ConfirmationBasis::Check as i32);
    assert!(decided.check_close_time.is_some());
    let case = routing_case(&h, &routing, &change.id).await;
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "check_passed");
    // Closed by routing: the registry sends nothing back.
    assert_eq!(
        count(
            h.pool(),
            "outbox where event_type = 'registry.work.updated'"
        )
        .await,
        0
    );

    // Routing's `completed` delivered again (a relay that lost its acknowledgement, under
    // a new message id so that the stream lets it through): the inbox drops it.
    let (id, aggregate_id, version, data): (uuid::Uuid, String, i64, Vec<u8>) = sqlx::query_as(
        "select id, aggregate_id, aggregate_version, payload from routing.outbox
          where event_type = 'work.registry.completed'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let record = sportello_kit::EventRecord {
        id,
        source: "//sportello/routing".into(),
        event_type: "work.registry.completed".into(),
        time: Timestamp::now(),
        aggregate_kind: "routing.work".into(),
        aggregate_id,
        aggregate_version: version,
        municipality: SPEZIA.into(),
        data_type: "sportello.routing.v1.WorkChanged".into(),
        data: data.into(),
        traceparent: None,
    };
    let mut headers = record.headers();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{id}-again").as_str(),
    );
    async_nats::jetstream::new(h.ctx.nats().await)
        .publish_with_headers(
            h.ctx
                .config
                .subject_prefix
                .subject("work.registry.completed"),
            headers,
            record.data.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(h.registry.step("registry-work").await, [Outcome::Duplicate]);
    assert_eq!(
        count(
            h.pool(),
            "outbox where event_type = 'registry.residence_change.confirmed'"
        )
        .await,
        1,
        "confirmed once"
    );
}

/// A failed check completed in routing records the failure as RecordAddressCheck does:
/// no rejection before the 10-bis notice (DPR 223/1989 art. 18-bis c. 2).
#[tokio::test]
async fn a_check_failed_in_routing_waits_for_the_notice_art_18_bis() {
    let (h, routing, family) = Box::pin(desk()).await;
    let who = specialist(&routing, "s.verdi").await;
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    work_the_check(
        &h,
        &routing,
        &who,
        "s.verdi",
        "check_failed",
        &[("reason", "abitazione disabitata")],
    )
    .await;
    hand_over(&h, &routing).await;
    let failed = get_change(&h, &change.id).await;
    assert_eq!(
        failed.status,
        ResidenceChangeStatus::Recorded as i32,
        "not rejected yet"
    );
    assert!(failed.check_close_time.is_some());
    let reason: Option<String> = sqlx::query_scalar("select check_failure from residence_changes")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some("abitazione disabitata"));
    assert_eq!(
        event_types(&h).await.last().unwrap(),
        "registry.residence_change.check_failed"
    );
}

/// Bad input from routing: a check completed with an outcome the registry's procedure
/// does not know goes to the dead-letter subject with its reason; nothing changes here.
/// Routing refuses such an outcome itself while the catalogue lists the check's two; an
/// administrator who empties that list (the general outcomes then apply) lets one
/// through, and the registry is the second line.
#[tokio::test]
async fn an_outcome_the_check_does_not_know_is_dead_lettered_and_changes_nothing() {
    let (h, routing, family) = Box::pin(desk()).await;
    let who = specialist(&routing, "s.neri").await;
    let mut catalogue = CatalogueServiceClient::new(routing.channel().await);
    let mut check = catalogue
        .get_service_type(
            administrator("catalogue.read").request(GetServiceTypeRequest {
                municipality_istat_code: SPEZIA.into(),
                code: "registry.residence_address_check".into(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .service_type
        .unwrap();
    check.outcomes.clear();
    catalogue
        .upsert_service_type(
            administrator("catalogue.admin").request(UpsertServiceTypeRequest {
                service_type: Some(check),
            }),
        )
        .await
        .unwrap();
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    work_the_check(&h, &routing, &who, "s.neri", "approved", &[]).await;
    routing.running.workers.relay.run_once().await.unwrap();
    let outcomes = h.registry.step("registry-work").await;
    assert!(outcomes.contains(&Outcome::DeadLettered), "{outcomes:?}");
    let unchanged = get_change(&h, &change.id).await;
    assert_eq!(unchanged.status, ResidenceChangeStatus::Recorded as i32);
    assert!(unchanged.check_close_time.is_none(), "nothing half-written");
    assert_eq!(
        count(
            h.pool(),
            "outbox where event_type like 'registry.residence_change.%'"
        )
        .await,
        2,
        "declared and recorded only"
    );
}

/// DPR 445/2000 art. 53 c. 5 (issue 11, point 8): a notice of reasons against sent without
/// an outgoing protocol number is registered by the registry itself as an outgoing entry
/// to the declarant, dated the day it is sent; a notice that would be refused takes no
/// number (its checks run first), and sending it again registers nothing.
#[tokio::test]
async fn the_notice_is_registered_as_an_outgoing_entry_dpr_445_2000_art_53_c5() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    h.ctx
        .clock
        .set("2026-12-15T09:00:00Z".parse::<Timestamp>().unwrap());
    let request = SendReasonsAgainstRequest {
        residence_change_id: change.id.clone(),
        reasons: "al primo sopralluogo l'abitazione risultava disabitata".into(),
        outgoing_protocol_number: String::new(),
        sent_date: String::new(),
    };
    let mut changes = h.changes().await;
    let noticed = changes
        .send_reasons_against(operator("residence.check").request(request.clone()))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(
        noticed.notice_sent_date, "2026-12-15",
        "the day it was registered"
    );
    assert_eq!(
        noticed.notice_protocol_number, "0000002",
        "the declaration is 1, the notice 2"
    );
    let declarant_ref: String =
        sqlx::query_scalar("select requester_ref from residents where id = $1::uuid")
            .bind(&family[0].id)
            .fetch_one(h.pool())
            .await
            .unwrap();
    let outgoing = || async {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select kind, recipient_ref, sender_ref from routing.registrations
             where direction = 'outgoing' order by number",
        )
        .fetch_all(routing.running.db().pool())
        .await
        .unwrap();
        rows
    };
    assert_eq!(
        outgoing().await,
        vec![(
            "notice_of_reasons_against".to_owned(),
            declarant_ref,
            "registry".to_owned()
        )]
    );

    // Sent already: refused before any number is taken.
    let again = changes
        .send_reasons_against(operator("residence.check").request(request))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(outgoing().await.len(), 1, "no second entry");
    let counter: i64 = sqlx::query_scalar("select last_number from routing.protocol_counters")
        .fetch_one(routing.running.db().pool())
        .await
        .unwrap();
    assert_eq!(counter, 2, "no number taken by the refused notice");
}

/// DPR 445/2000 art. 53 c. 5 and DL 5/2012 art. 5 c. 4 (issue 11, point 8): a rejection
/// is an outgoing entry to the declarant, and its communication to the public-security
/// authority is one too, each with its recipient; the notice whose number the operator
/// brought is not registered again.
#[tokio::test]
async fn a_rejection_and_its_communications_are_outgoing_entries_dl_5_2012_art_5_c4() {
    let (h, routing, family) = Box::pin(desk()).await;
    let change = declare_whole_family(&h, &family).await;
    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    h.changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno in casa".into(),
            }),
        )
        .await
        .unwrap();
    let rejected = through_the_notice(&h, &change.id, false).await;
    assert_eq!(rejected.status, ResidenceChangeStatus::Rejected as i32);
    let declarant_ref: String =
        sqlx::query_scalar("select requester_ref from residents where id = $1::uuid")
            .bind(&family[0].id)
            .fetch_one(h.pool())
            .await
            .unwrap();
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "select number, kind, recipient_ref from routing.registrations
         where direction = 'outgoing' order by number",
    )
    .fetch_all(routing.running.db().pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (2, "rejection".to_owned(), declarant_ref),
            (
                3,
                "communication".to_owned(),
                "pubblica_sicurezza:011015".to_owned()
            ),
        ]
    );
}

/// DL 5/2012 art. 5 c. 4 and DPR 445/2000 art. 53 c. 5 (issue 11, point 8): a rejected
/// move from another municipality is communicated to the municipality of origin too, as
/// an outgoing entry whose recipient is its ISTAT code.
#[tokio::test]
async fn a_rejected_immigration_is_communicated_to_the_municipality_of_origin_dl_5_2012_art_5_c4() {
    let (h, routing, _family) = Box::pin(desk()).await;
    let request = DeclareImmigrationRequest {
        municipality_istat_code: "011015".into(),
        members: vec![IncomingMember {
            person: Some(common::person(common::ANNA, "")),
            relationship: Relationship::Head as i32,
            ..Default::default()
        }],
        declarant_index: 0,
        address: Some(NewAddress {
            street_code: "CHIODO".into(),
            house_number: "5".into(),
        }),
        origin_municipality_istat_code: "010025".into(),
        dwelling_title: DwellingTitle::Tenant as i32,
        dwelling_title_reference: "contratto registrato 1234/3T/2026".into(),
        channel: Channel::Web as i32,
        ..Default::default()
    };
    let change = h
        .changes()
        .await
        .declare_immigration(operator("residence.declare").request(request))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    h.ctx
        .clock
        .set("2026-12-10T10:00:00Z".parse::<Timestamp>().unwrap());
    h.changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno in casa".into(),
            }),
        )
        .await
        .unwrap();
    let rejected = through_the_notice(&h, &change.id, false).await;
    assert_eq!(rejected.status, ResidenceChangeStatus::Rejected as i32);
    let recipients: Vec<(String, String)> = sqlx::query_as(
        "select kind, recipient_ref from routing.registrations
         where direction = 'outgoing' and kind = 'communication' order by number",
    )
    .fetch_all(routing.running.db().pool())
    .await
    .unwrap();
    assert_eq!(
        recipients,
        vec![
            (
                "communication".to_owned(),
                "pubblica_sicurezza:011015".to_owned()
            ),
            ("communication".to_owned(), "istat:010025".to_owned()),
        ]
    );
}

/// The registry's work requests in its outbox, in order.
async fn work_requests(h: &Harness) -> Vec<WorkRequested> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.work.requested' order by id",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| <WorkRequested as prost::Message>::decode(p.as_slice()).unwrap())
        .collect()
}

/// The registry's work updates in its outbox, in order: (work id, kind, outcome).
async fn work_updates(h: &Harness) -> Vec<(String, i32, String)> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.work.updated' order by id",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| {
            let u = <WorkUpdated as prost::Message>::decode(p.as_slice()).unwrap();
            (u.work_id, u.kind, u.outcome_code)
        })
        .collect()
}

/// Routing's item for a registry service: (state, outcome).
async fn routing_item(h: &Harness, service: &str) -> (String, Option<String>) {
    sqlx::query_as("select state, outcome_code from routing.work_items where service_code = $1")
        .bind(service)
        .fetch_one(h.pool())
        .await
        .unwrap()
}

const REASONS_AGAINST: &str = "registry.residence_reasons_against";

/// Issue 13, the 10-bis phase: a check failed in routing's back office hands the 10-bis
/// steps to routing as their own work (a derived id, the change as procedure, the same
/// clock, no personal data), once whatever is redelivered; the notice suspends that work,
/// not the check's; the answer to the observations decides it.
#[tokio::test]
async fn a_failed_check_puts_the_10_bis_steps_in_the_back_office_until_the_answer() {
    let (h, routing, family) = Box::pin(desk()).await;
    let who = specialist(&routing, "s.verdi").await;
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    work_the_check(
        &h,
        &routing,
        &who,
        "s.verdi",
        "check_failed",
        &[("reason", "abitazione disabitata")],
    )
    .await;
    hand_over(&h, &routing).await;

    let change_id: uuid::Uuid = change.id.parse().unwrap();
    let derived = sportello_registry::residence::work::reasons_against_work_id(
        sportello_registry::domain::ResidenceChangeId(change_id),
    )
    .to_string();
    let requests = work_requests(&h).await;
    assert_eq!(requests.len(), 2, "the check, then the 10-bis phase");
    let tenbis = &requests[1];
    assert_eq!(tenbis.work_id, derived);
    assert_ne!(tenbis.work_id, change.id);
    assert_eq!(tenbis.service_code, REASONS_AGAINST);
    let origin = tenbis.origin.clone().unwrap();
    assert_eq!(origin.procedure_kind, "residence_change");
    assert_eq!(origin.procedure_id, change.id, "continuity with the check");
    assert_eq!(tenbis.requester_ref, family[0].requester_ref);
    assert_eq!(
        tenbis.clock.as_ref().unwrap().due_date,
        get_change(&h, &change.id).await.check_due,
        "the same statutory clock"
    );
    assert!(tenbis.context_note.contains("10-bis"));
    assert!(tenbis.context_note.contains("send the notice"));
    for private in [
        "abitazione disabitata",
        "Rossi",
        family[0].fiscal_code.as_str(),
    ] {
        assert!(!tenbis.context_note.contains(private), "{private}");
    }
    // Routing opened it: the back office lists it, and the registry noted its case.
    assert_eq!(count(h.pool(), "routing.work_items").await, 2);
    let (state, _) = routing_item(&h, REASONS_AGAINST).await;
    assert!(["waiting", "offered"].contains(&state.as_str()), "{state}");
    let case_id: String =
        sqlx::query_scalar("select reasons_against_case_id from residence_changes")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert!(!case_id.is_empty());

    // The check's `completed` delivered again: the inbox drops it, one 10-bis request.
    let (id, aggregate_id, version, data): (uuid::Uuid, String, i64, Vec<u8>) = sqlx::query_as(
        "select id, aggregate_id, aggregate_version, payload from routing.outbox
          where event_type = 'work.registry.completed'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let record = sportello_kit::EventRecord {
        id,
        source: "//sportello/routing".into(),
        event_type: "work.registry.completed".into(),
        time: Timestamp::now(),
        aggregate_kind: "routing.work".into(),
        aggregate_id,
        aggregate_version: version,
        municipality: SPEZIA.into(),
        data_type: "sportello.routing.v1.WorkChanged".into(),
        data: data.into(),
        traceparent: None,
    };
    let mut headers = record.headers();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{id}-again").as_str(),
    );
    async_nats::jetstream::new(h.ctx.nats().await)
        .publish_with_headers(
            h.ctx
                .config
                .subject_prefix
                .subject("work.registry.completed"),
            headers,
            record.data.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(h.registry.step("registry-work").await, [Outcome::Duplicate]);
    assert_eq!(work_requests(&h).await.len(), 2, "still one 10-bis request");

    // The notice suspends the 10-bis work, not the check's (closed by the specialist).
    let mut changes = h.changes().await;
    h.ctx
        .clock
        .set("2026-12-16T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .send_reasons_against(
            operator("residence.check").request(SendReasonsAgainstRequest {
                residence_change_id: change.id.clone(),
                reasons: "nessuno abita all'indirizzo dichiarato (tre sopralluoghi)".into(),
                outgoing_protocol_number: "2026/0000500".into(),
                sent_date: "2026-12-14".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        work_updates(&h).await,
        [(
            derived.clone(),
            WorkUpdateKind::Suspended as i32,
            String::new()
        )]
    );
    hand_over(&h, &routing).await;
    assert_eq!(routing_item(&h, REASONS_AGAINST).await.0, "suspended");
    assert_eq!(
        routing_item(&h, "registry.residence_address_check").await,
        ("completed".into(), Some("check_failed".into()))
    );

    // Receipt, observations, answer: the answer decides the 10-bis work.
    changes
        .record_notice_receipt(
            operator("residence.check").request(RecordNoticeReceiptRequest {
                residence_change_id: change.id.clone(),
                delivery: NoticeDelivery::Counter as i32,
                received_date: "2026-12-16".into(),
            }),
        )
        .await
        .unwrap();
    h.ctx
        .clock
        .set("2026-12-21T10:00:00Z".parse::<Timestamp>().unwrap());
    changes
        .record_observations(
            operator("residence.check").request(RecordObservationsRequest {
                residence_change_id: change.id.clone(),
                received_date: "2026-12-21".into(),
                observations: "Abito all'indirizzo da novembre.".into(),
            }),
        )
        .await
        .unwrap();
    hand_over(&h, &routing).await;
    let (state, _) = routing_item(&h, REASONS_AGAINST).await;
    assert!(
        ["waiting", "offered"].contains(&state.as_str()),
        "resumed: {state}"
    );
    changes
        .answer_observations(
            operator("residence.check").request(AnswerObservationsRequest {
                residence_change_id: change.id.clone(),
                outcome: ObservationsOutcome::Accepted as i32,
                reasons: "il contratto prova la dimora".into(),
            }),
        )
        .await
        .unwrap();
    let updates = work_updates(&h).await;
    assert!(
        updates.iter().all(|(work, _, _)| *work == derived),
        "nothing to the check's closed work: {updates:?}"
    );
    assert_eq!(
        updates.last().unwrap(),
        &(
            derived.clone(),
            WorkUpdateKind::Decided as i32,
            "confirmed".to_owned()
        )
    );
    hand_over(&h, &routing).await;
    assert_eq!(
        routing_item(&h, REASONS_AGAINST).await,
        ("completed".into(), Some("confirmed".into()))
    );
    let closed: bool =
        sqlx::query_scalar("select reasons_against_closed_at is not null from residence_changes")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert!(closed, "routing's `completed` noted the case closed");
    let decided = get_change(&h, &change.id).await;
    assert_eq!(decided.status, ResidenceChangeStatus::Confirmed as i32);
}

/// A failure recorded over gRPC (RecordAddressCheck) closes the check's open work with
/// `check_failed` and requests the 10-bis work in the same transaction; a specialist
/// completing the 10-bis item with a check outcome changes nothing in the procedure.
#[tokio::test]
async fn the_10_bis_work_is_not_completed_by_a_check_outcome() {
    let (h, routing, family) = Box::pin(desk()).await;
    let who = specialist(&routing, "s.neri").await;
    let change = declare_whole_family(&h, &family).await;
    hand_over(&h, &routing).await;
    h.changes()
        .await
        .record_address_check(
            operator("residence.check").request(RecordAddressCheckRequest {
                residence_change_id: change.id.clone(),
                outcome: CheckOutcome::Failed as i32,
                reason: "nessuno abita all'indirizzo dichiarato".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(work_requests(&h).await.len(), 2);
    hand_over(&h, &routing).await;
    assert_eq!(
        routing_item(&h, "registry.residence_address_check").await,
        ("completed".into(), Some("check_failed".into()))
    );
    // The 10-bis item goes to the specialist; they complete it by hand.
    let item: String = sqlx::query_scalar(
        "select id::text from routing.work_items where service_code = $1 and state = 'offered'",
    )
    .bind(REASONS_AGAINST)
    .fetch_one(h.pool())
    .await
    .unwrap();
    let mut back_office = BackOfficeServiceClient::new(routing.channel().await);
    back_office
        .accept_offer(who.request(AcceptOfferRequest {
            item_id: item.clone(),
            operator_id: "s.neri".into(),
        }))
        .await
        .unwrap();
    // Routing refuses a check's outcome on this work (its catalogue entry lists none, so
    // only the general outcomes apply); a general one reaches the registry, which does not
    // take it for its decision.
    let refused = back_office
        .complete_work(who.request(CompleteWorkRequest {
            item_id: item.clone(),
            operator_id: "s.neri".into(),
            outcome_code: "check_passed".into(),
            result: Default::default(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    back_office
        .complete_work(who.request(CompleteWorkRequest {
            item_id: item,
            operator_id: "s.neri".into(),
            outcome_code: "approved".into(),
            result: Default::default(),
        }))
        .await
        .unwrap();
    hand_over(&h, &routing).await;
    let after = get_change(&h, &change.id).await;
    assert_eq!(
        after.status,
        ResidenceChangeStatus::Recorded as i32,
        "not confirmed by a check outcome on the 10-bis work"
    );
    assert!(!after.check_failure.is_empty());
    assert_eq!(
        count(
            h.pool(),
            "outbox where event_type = 'registry.residence_change.confirmed'"
        )
        .await,
        0
    );
}
