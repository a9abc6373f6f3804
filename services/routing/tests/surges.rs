//! The peak at the counter: an enrolment window opened by education re-skills the surge
//! roster at 00:00 of its first day and restores every operator exactly at the end of its
//! last (Europe/Rome), with the manual clock; every change is an event; a duplicate
//! schedules nothing; the manager sees applications per day against the capacity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, LA_SPEZIA, SCHOOL, settings};
use prost::Message;
use sportello_kit::{EventRecord, inbox::Outcome};
use sportello_proto::{
    education::v1::{ApplicationFiled, EnrolmentWindowOpened, SchoolLevel},
    routing::v1::{
        GetOperatorRequest, GetSurgeRosterRequest, ListSurgesRequest, ListSurgesResponse, Operator,
        OperatorSkillsChanged, PriorityCategory, SetSurgeRosterRequest, Skill, SkillsChangeReason,
        SurgeRoster, SurgeStatus, Tier, UpsertOperatorRequest,
        surge_service_client::SurgeServiceClient,
    },
};
use tonic::Code;
use uuid::Uuid;

const SKILL: &str = "servizi_educativi";

async fn surges(desk: &Desk) -> SurgeServiceClient<sportello_kit::PeerChannel> {
    SurgeServiceClient::new(desk.routing.channel().await)
}

/// An operator's profile, not seated.
async fn profile(desk: &mut Desk, id: &str, skills: &[(&str, u32)]) {
    desk.operators
        .upsert_operator(common::request(UpsertOperatorRequest {
            operator: Some(Operator {
                id: id.into(),
                municipality_istat_code: LA_SPEZIA.into(),
                display_name: format!("Operatore {id}"),
                tier: Tier::Polivalente as i32,
                department: "anagrafe".into(),
                skills: skills
                    .iter()
                    .map(|(s, p)| Skill {
                        skill: (*s).into(),
                        proficiency: *p,
                    })
                    .collect(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
}

async fn skills_of(desk: &mut Desk, id: &str) -> (Vec<(String, u32)>, u64) {
    let operator = desk
        .operators
        .get_operator(common::request(GetOperatorRequest {
            operator_id: id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .operator
        .unwrap();
    (
        operator
            .skills
            .into_iter()
            .map(|s| (s.skill, s.proficiency))
            .collect(),
        operator.version,
    )
}

fn owned(skills: &[(&str, u32)]) -> Vec<(String, u32)> {
    skills.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect()
}

async fn set_roster(desk: &Desk, operators: &[&str], version: u64) -> SurgeRoster {
    surges(desk)
        .await
        .set_surge_roster(common::request(SetSurgeRosterRequest {
            roster: Some(SurgeRoster {
                municipality_istat_code: LA_SPEZIA.into(),
                skill: SKILL.into(),
                proficiency: 2,
                operator_ids: operators.iter().map(|o| (*o).to_owned()).collect(),
                version,
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .roster
        .unwrap()
}

/// Publishes `message` on education's stream as its outbox relay would, committed at
/// `time`; `msg_id` overrides the `Nats-Msg-Id` (a re-send JetStream does not drop).
async fn publish<M: prost::Name>(
    desk: &Desk,
    event_id: Uuid,
    msg_id: Option<&str>,
    event_type: &str,
    time: jiff::Timestamp,
    message: &M,
) {
    let js = async_nats::jetstream::new(desk.ctx.nats().await);
    js.get_or_create_stream(sportello_kit::nats::stream_config(
        &desk.ctx.config.subject_prefix,
        &sportello_kit::StreamSpec {
            part: "education",
            subjects: &["education.>"],
        },
        1,
    ))
    .await
    .unwrap();
    let record = EventRecord {
        id: event_id,
        source: "//sportello/education".into(),
        event_type: event_type.into(),
        time,
        aggregate_kind: "education.window".into(),
        aggregate_id: Uuid::now_v7().to_string(),
        aggregate_version: 1,
        municipality: LA_SPEZIA.into(),
        data_type: M::full_name(),
        data: message.encode_to_vec().into(),
        traceparent: None,
    };
    let mut headers = record.headers();
    if let Some(msg_id) = msg_id {
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
    }
    js.publish_with_headers(
        desk.ctx.config.subject_prefix.subject(event_type),
        headers,
        record.data.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

fn window(id: Uuid, opens_on: &str, closes_on: &str) -> EnrolmentWindowOpened {
    EnrolmentWindowOpened {
        window_id: id.to_string(),
        municipality_istat_code: LA_SPEZIA.into(),
        level: SchoolLevel::Nido as i32,
        school_year: 2027,
        opens_on: opens_on.into(),
        closes_on: closes_on.into(),
    }
}

async fn open_window(desk: &Desk, event_id: Uuid, msg_id: Option<&str>, w: &EnrolmentWindowOpened) {
    publish(
        desk,
        event_id,
        msg_id,
        "education.enrolment_window.opened",
        jiff::Timestamp::now(),
        w,
    )
    .await;
}

async fn list(desk: &Desk) -> ListSurgesResponse {
    surges(desk)
        .await
        .list_surges(common::request(ListSurgesRequest {
            municipality_istat_code: LA_SPEZIA.into(),
        }))
        .await
        .unwrap()
        .into_inner()
}

async fn events(desk: &Desk, event_type: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar("select payload from routing.outbox where event_type = $1 order by seq")
        .bind(event_type)
        .fetch_all(desk.pool())
        .await
        .unwrap()
}

fn at(instant: &str) -> jiff::Timestamp {
    instant.parse().unwrap()
}

#[tokio::test]
async fn a_window_re_skills_the_roster_at_its_first_day_and_restores_it_exactly_after_its_last() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    // Bianchi has no education skill, Neri has it too low, Verdi already higher.
    desk.operator("a.bianchi", Tier::Polivalente, &[("anagrafe", 3)], 1)
        .await;
    profile(&mut desk, "e.neri", &[(SKILL, 1), ("urp", 2)]).await;
    profile(&mut desk, "c.verdi", &[(SKILL, 3)]).await;
    let roster = set_roster(&desk, &["a.bianchi", "e.neri", "c.verdi"], 0).await;
    assert_eq!(roster.version, 1);
    let (_, verdi_version) = skills_of(&mut desk, "c.verdi").await;
    let timers = desk.routing.running.workers.timers.clone();

    // Education opens the nido window for 1-3 December (the clock reads 26 November).
    let window_id = Uuid::now_v7();
    let opened = window(window_id, "2026-12-01", "2026-12-03");
    let event_id = Uuid::now_v7();
    open_window(&desk, event_id, None, &opened).await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Applied]
    );
    let listed = list(&desk).await;
    assert_eq!(listed.surges.len(), 1);
    let surge = listed.surges[0].surge.clone().unwrap();
    assert_eq!(surge.status(), SurgeStatus::Scheduled);
    assert_eq!(
        (
            surge.starts_at.unwrap().seconds,
            surge.ends_at.unwrap().seconds
        ),
        (
            at("2026-11-30T23:00:00Z").as_second(),
            at("2026-12-03T23:00:00Z").as_second()
        ),
        "00:00 of the first day to the end of the last, Europe/Rome"
    );

    // The same event delivered again (a redelivery past JetStream's de-duplication), and
    // education re-sending the window under a new event id: nothing new is scheduled.
    open_window(&desk, event_id, Some("again"), &opened).await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Duplicate]
    );
    open_window(&desk, Uuid::now_v7(), None, &opened).await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Applied]
    );
    assert_eq!(list(&desk).await.surges.len(), 1);
    let pending: i64 = sqlx::query_scalar(
        "select count(*) from routing.timers where kind like 'routing.surge.%' and fired_at is null",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    assert_eq!(pending, 2, "one start and one end");
    assert_eq!(events(&desk, "routing.surge.scheduled").await.len(), 1);

    // Before the first day nothing changes; Bianchi may not serve an enrolment.
    desk.ctx.clock.set(at("2026-11-30T22:59:59Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3)])
    );

    // 00:00 in Rome on 1 December: the roster gains the skill.
    desk.ctx.clock.set(at("2026-11-30T23:00:00Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3), (SKILL, 2)])
    );
    assert_eq!(
        skills_of(&mut desk, "e.neri").await.0,
        owned(&[(SKILL, 2), ("urp", 2)])
    );
    assert_eq!(
        skills_of(&mut desk, "c.verdi").await,
        (owned(&[(SKILL, 3)]), verdi_version),
        "already higher: untouched"
    );
    let started = list(&desk).await.surges[0].surge.clone().unwrap();
    assert_eq!(started.status(), SurgeStatus::Active);
    let changed: Vec<(String, u32, bool)> = started
        .operators
        .iter()
        .map(|o| (o.operator_id.clone(), o.prior_proficiency, o.changed))
        .collect();
    assert_eq!(
        changed,
        [
            ("a.bianchi".to_owned(), 0, true),
            ("c.verdi".to_owned(), 3, false),
            ("e.neri".to_owned(), 1, true)
        ]
    );
    let reskilled = events(&desk, "operator.skills_changed").await;
    assert_eq!(reskilled.len(), 2);
    let first = OperatorSkillsChanged::decode(reskilled[0].as_slice()).unwrap();
    assert_eq!(
        (first.operator_id.as_str(), first.reason()),
        ("a.bianchi", SkillsChangeReason::SurgeStarted)
    );
    assert_eq!(events(&desk, "routing.surge.started").await.len(), 1);

    // The dispatch sees the skill at once: Bianchi calls an enrolment ticket.
    desk.available("a.bianchi").await;
    desk.ticket(&[SCHOOL], PriorityCategory::None).await;
    let call = desk
        .call_next("a.bianchi")
        .await
        .expect("an enrolment to call");
    assert_eq!(call.case.unwrap().service_code, SCHOOL);

    // Applications: two on 1 December (one at 23:30 in Rome), one on 2 December (00:30 in
    // Rome, still 1 December in UTC); one delivered twice counts once.
    let filed = |day_time: &str| (Uuid::now_v7(), at(day_time));
    let applications = [
        filed("2026-12-01T09:00:00Z"),
        filed("2026-12-01T22:30:00Z"),
        filed("2026-12-01T23:30:00Z"),
    ];
    for (application, time) in &applications {
        let message = ApplicationFiled {
            application_id: application.to_string(),
            window_id: window_id.to_string(),
            municipality_istat_code: LA_SPEZIA.into(),
            child_ref: "ref".into(),
            protocol_id: String::new(),
        };
        publish(
            &desk,
            Uuid::now_v7(),
            None,
            "education.application.filed",
            *time,
            &message,
        )
        .await;
        if *application == applications[0].0 {
            publish(
                &desk,
                Uuid::now_v7(),
                None,
                "education.application.filed",
                *time,
                &message,
            )
            .await;
        }
    }
    let mut outcomes = Vec::new();
    while outcomes.len() < 4 {
        let step = desk.routing.step("surge-education").await;
        assert!(!step.is_empty(), "applications delivered");
        outcomes.extend(step);
    }
    let overview = list(&desk).await.surges.remove(0);
    let days: Vec<(String, u32, u32)> = overview
        .days
        .iter()
        .map(|d| (d.date.clone(), d.applications, d.capacity))
        .collect();
    // Two counters × 300 minutes ÷ 15 minutes per enrolment = 40 a day.
    assert_eq!(
        days,
        [
            ("2026-12-01".to_owned(), 2, 40),
            ("2026-12-02".to_owned(), 1, 40),
            ("2026-12-03".to_owned(), 0, 40)
        ]
    );
    assert_eq!(overview.applications, 3);

    // The last second of 3 December in Rome: still on.
    desk.ctx.clock.set(at("2026-12-03T22:59:59Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        list(&desk).await.surges[0].surge.clone().unwrap().status(),
        SurgeStatus::Active
    );
    // The window closed: every skill is restored exactly.
    desk.ctx.clock.set(at("2026-12-03T23:00:00Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3)])
    );
    assert_eq!(
        skills_of(&mut desk, "e.neri").await.0,
        owned(&[(SKILL, 1), ("urp", 2)])
    );
    assert_eq!(
        skills_of(&mut desk, "c.verdi").await,
        (owned(&[(SKILL, 3)]), verdi_version)
    );
    let ended = list(&desk).await.surges[0].surge.clone().unwrap();
    assert_eq!(ended.status(), SurgeStatus::Ended);
    let restored: Vec<bool> = ended.operators.iter().map(|o| o.restored).collect();
    assert_eq!(restored, [true, false, true]);
    let changes: Vec<(String, SkillsChangeReason)> = events(&desk, "operator.skills_changed")
        .await
        .iter()
        .map(|p| {
            let e = OperatorSkillsChanged::decode(p.as_slice()).unwrap();
            (e.operator_id.clone(), e.reason())
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("a.bianchi".to_owned(), SkillsChangeReason::SurgeStarted),
            ("e.neri".to_owned(), SkillsChangeReason::SurgeStarted),
            ("a.bianchi".to_owned(), SkillsChangeReason::SurgeEnded),
            ("e.neri".to_owned(), SkillsChangeReason::SurgeEnded),
        ]
    );
    assert_eq!(events(&desk, "routing.surge.ended").await.len(), 1);

    // Education re-sends the window after it closed: nothing is scheduled again.
    open_window(&desk, Uuid::now_v7(), None, &opened).await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Applied]
    );
    timers.run_once().await.unwrap();
    assert_eq!(list(&desk).await.surges.len(), 1);
    assert_eq!(events(&desk, "operator.skills_changed").await.len(), 4);
}

#[tokio::test]
async fn a_window_whose_first_day_has_passed_starts_at_once_and_overlapping_windows_restore_once() {
    let mut desk = Desk::open(1, settings(20, 2)).await;
    profile(&mut desk, "a.bianchi", &[("anagrafe", 3)]).await;
    set_roster(&desk, &["a.bianchi"], 0).await;
    let timers = desk.routing.running.workers.timers.clone();

    // The nido window opened on 20 November; the clock reads 26 November.
    open_window(
        &desk,
        Uuid::now_v7(),
        None,
        &window(Uuid::now_v7(), "2026-11-20", "2026-11-30"),
    )
    .await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Applied]
    );
    assert_eq!(timers.run_once().await.unwrap(), 1, "the start, at once");
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3), (SKILL, 2)])
    );
    // The infanzia window runs on to 5 December: it finds Bianchi holding the skill.
    let mut infanzia = window(Uuid::now_v7(), "2026-11-26", "2026-12-05");
    infanzia.level = SchoolLevel::Infanzia as i32;
    open_window(&desk, Uuid::now_v7(), None, &infanzia).await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::Applied]
    );
    timers.run_once().await.unwrap();

    // The nido window ends: the infanzia one still needs Bianchi, and restores later.
    desk.ctx.clock.set(at("2026-11-30T23:00:00Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3), (SKILL, 2)])
    );
    desk.ctx.clock.set(at("2026-12-05T23:00:00Z"));
    timers.run_once().await.unwrap();
    assert_eq!(
        skills_of(&mut desk, "a.bianchi").await.0,
        owned(&[("anagrafe", 3)])
    );
    let statuses: Vec<SurgeStatus> = list(&desk)
        .await
        .surges
        .iter()
        .map(|s| s.surge.as_ref().unwrap().status())
        .collect();
    assert_eq!(statuses, [SurgeStatus::Ended, SurgeStatus::Ended]);
}

fn field_of(status: &tonic::Status) -> String {
    sportello_kit::ServiceError::from(status.clone())
        .violations()
        .first()
        .map(|v| v.field.clone())
        .unwrap_or_default()
}

#[test]
fn each_bad_roster_field_is_named() {
    let valid = SurgeRoster {
        municipality_istat_code: LA_SPEZIA.into(),
        skill: SKILL.into(),
        proficiency: 2,
        operator_ids: vec!["a.bianchi".into()],
        version: 0,
    };
    sportello_kit::testing::assert_each_bad_field_is_named(
        &valid,
        sportello_routing::surges::domain::Roster::parse,
        &[
            ("roster.municipality_istat_code", |r| {
                r.municipality_istat_code = "11015".into()
            }),
            ("roster.skill", |r| r.skill = "Servizi Educativi".into()),
            ("roster.proficiency", |r| r.proficiency = 6),
            ("roster.proficiency", |r| r.proficiency = 0),
            ("roster.operator_ids", |r| {
                r.operator_ids = vec!["A.Bianchi".into()]
            }),
            ("roster.operator_ids", |r| {
                r.operator_ids = vec!["a.bianchi".into(), "a.bianchi".into()]
            }),
            ("roster.operator_ids", |r| {
                r.operator_ids = (0..201).map(|i| format!("op-{i}")).collect()
            }),
            ("roster.version", |r| r.version = u64::MAX),
        ],
    );
}

#[tokio::test]
async fn bad_roster_requests_and_bad_windows_change_nothing() {
    let mut desk = Desk::open(1, settings(20, 2)).await;
    profile(&mut desk, "a.bianchi", &[("anagrafe", 3)]).await;
    let mut client = surges(&desk).await;
    let outbox = |desk: &Desk| {
        let pool = desk.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select (select count(*) from routing.outbox) + (select count(*) from routing.surge_rosters)
                      + (select count(*) from routing.surges)",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let before = outbox(&desk).await;
    let roster = |operators: &[&str], version: u64| SurgeRoster {
        municipality_istat_code: LA_SPEZIA.into(),
        skill: SKILL.into(),
        proficiency: 2,
        operator_ids: operators.iter().map(|o| (*o).to_owned()).collect(),
        version,
    };

    // No roster at all; an operator nobody knows; another municipality's.
    let status = client
        .set_surge_roster(common::request(SetSurgeRosterRequest { roster: None }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), field_of(&status)),
        (Code::InvalidArgument, "roster".into())
    );
    let status = client
        .set_surge_roster(common::request(SetSurgeRosterRequest {
            roster: Some(roster(&["a.bianchi", "x.nessuno"], 0)),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), field_of(&status)),
        (Code::InvalidArgument, "roster.operator_ids".into())
    );
    assert!(status.message().contains("x.nessuno"), "{status:?}");
    let mut sarzana = roster(&["a.bianchi"], 0);
    sarzana.municipality_istat_code = "011027".into();
    let status = client
        .set_surge_roster(common::request(SetSurgeRosterRequest {
            roster: Some(sarzana),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // A version that is not the current one.
    let status = client
        .set_surge_roster(common::request(SetSurgeRosterRequest {
            roster: Some(roster(&["a.bianchi"], 3)),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(outbox(&desk).await, before, "nothing written");

    // The reads name their bad fields too.
    let status = client
        .get_surge_roster(common::request(GetSurgeRosterRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            skill: "servizi educativi".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), field_of(&status)),
        (Code::InvalidArgument, "skill".into())
    );
    let status = client
        .list_surges(common::request(ListSurgesRequest {
            municipality_istat_code: "La Spezia".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), field_of(&status)),
        (Code::InvalidArgument, "municipality_istat_code".into())
    );
    let empty = client
        .get_surge_roster(common::request(GetSurgeRosterRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            skill: SKILL.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .roster
        .unwrap();
    assert_eq!((empty.version, empty.operator_ids.len()), (0, 0));

    // A window closing before it opens is dead-lettered: no surge.
    open_window(
        &desk,
        Uuid::now_v7(),
        None,
        &window(Uuid::now_v7(), "2026-12-10", "2026-12-01"),
    )
    .await;
    assert_eq!(
        desk.routing.step("surge-education").await,
        [Outcome::DeadLettered]
    );
    assert_eq!(outbox(&desk).await, before, "nothing written");
}
