//! Appointments against a real PostgreSQL, NATS and SMTP server: the contested slot, the
//! caps, tranche release, confirmation by e-mail, holidays and daylight saving, check-in
//! and the appointment called before an earlier walk-in, rescheduling, bad input.
//!
//! The clock starts on Thursday 26 November 2026 at 09:30 in Rome. The technician
//! t.rossi receives Monday to Friday 09:00-12:00 at counter 3; suap.dehors takes 45
//! minutes plus the 5-minute buffer, so the slots are 09:00, 09:50 and 10:40.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Desk, LA_SPEZIA, as_kiosk, as_operator, context, request, settings};
use jiff::{Timestamp, civil::Date};
use sportello_kit::{
    CallContext, PeerChannel as Channel, Role,
    mail::{MailConfig, Mailer},
    testing::{TestService, smtp::SmtpSink},
};
use sportello_pa::{
    BelfioreCode, Sex,
    fiscal_code::{Person, encode},
};
use sportello_proto::routing::v1::{
    AcceptWaitlistOfferRequest, BookRequest, BookResponse, BookingRules, BookingStatus,
    CancelBookingRequest, CheckInRequest, ConfirmBookingRequest, GetBookingRulesRequest,
    GetWaitlistEntryRequest, JoinWaitlistRequest, RescheduleBookingRequest, ScheduleBlock,
    SearchSlotsRequest, SetBookingRulesRequest, SetOpeningHoursRequest, SetOperatorScheduleRequest,
    Tier, WaitlistStatus, WeeklyHours, appointment_service_client::AppointmentServiceClient,
};
use tonic::Code;

const DEHORS: &str = "suap.dehors";
/// A counter service of the same queue the technician also serves.
const DRIVEWAY: &str = "suap.driveway_permit";

struct Agenda {
    desk: Desk,
    api: AppointmentServiceClient<Channel>,
    smtp: SmtpSink,
}

/// The n-th of a family of valid fiscal codes (check character included).
fn fiscal_code(n: i32) -> String {
    let birth: Date = "1950-01-01".parse().unwrap();
    let person = Person {
        surname: "Rossi",
        name: "Mario",
        sex: Sex::Male,
        birth_date: birth.checked_add(jiff::Span::new().days(n)).unwrap(),
        birthplace: "E463".parse::<BelfioreCode>().unwrap(),
    };
    encode(&person).unwrap().as_str().to_owned()
}

/// A Rome local time as the API's timestamp.
fn at(day: &str, time: &str) -> prost_types::Timestamp {
    let instant = format!("{day}T{time}:00[Europe/Rome]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp();
    sportello_kit::events::to_proto_timestamp(instant)
}

fn instant(t: &prost_types::Timestamp) -> Timestamp {
    Timestamp::new(t.seconds, t.nanos).unwrap()
}

/// A back-office specialist booking on a citizen's behalf.
fn staff<T>(message: T) -> tonic::Request<T> {
    CallContext::new("gateway", "operator:bo-1", LA_SPEZIA, "appointment.book")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .request(message)
}

/// The public booking page (no one signed in).
fn public<T>(message: T) -> tonic::Request<T> {
    CallContext::new(
        "gateway",
        "system:booking-web",
        LA_SPEZIA,
        "appointment.book",
    )
    .unwrap()
    .request(message)
}

impl Agenda {
    async fn open() -> Self {
        let ctx = context().await;
        let smtp = SmtpSink::start().await;
        let mut config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        config.seed_municipalities = vec![LA_SPEZIA.parse().unwrap()];
        config.mailer =
            Some(Mailer::new(&MailConfig::from_url(&smtp.smtp_url()).unwrap()).unwrap());
        let routing =
            TestService::start(&sportello_routing::SPEC, config, sportello_routing::start).await;
        // A long fairness bound: the walk-in in these stories has not waited it out.
        let mut desk = Desk::open_on(ctx, routing, 3, settings(60, 2)).await;
        desk.operator("t.rossi", Tier::Tecnico, &[("suap", 3)], 3)
            .await;
        let channel = desk.routing.channel().await;
        let mut api = AppointmentServiceClient::new(channel);
        api.set_opening_hours(request(SetOpeningHoursRequest {
            site_id: desk.site_id.clone(),
            service_group: String::new(),
            hours: (1..=5)
                .map(|weekday| WeeklyHours {
                    weekday,
                    opens: "08:30".into(),
                    closes: "13:00".into(),
                })
                .collect(),
        }))
        .await
        .unwrap();
        api.set_operator_schedule(request(SetOperatorScheduleRequest {
            operator_id: "t.rossi".into(),
            blocks: (1..=5)
                .map(|weekday| ScheduleBlock {
                    weekday,
                    starts: "09:00".into(),
                    ends: "12:00".into(),
                    site_id: desk.site_id.clone(),
                    counter_number: 3,
                })
                .collect(),
        }))
        .await
        .unwrap();
        Self { desk, api, smtp }
    }

    fn booking(&self, day: &str, time: &str, person: i32) -> BookRequest {
        BookRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            service_code: DEHORS.into(),
            site_id: self.desk.site_id.clone(),
            start_time: Some(at(day, time)),
            fiscal_code: fiscal_code(person),
            ..Default::default()
        }
    }

    async fn book_for(
        &mut self,
        day: &str,
        time: &str,
        person: i32,
    ) -> Result<BookResponse, tonic::Status> {
        let message = self.booking(day, time, person);
        self.api.book(staff(message)).await.map(|r| r.into_inner())
    }

    async fn search(&mut self, from: &str, days: u32) -> Vec<Timestamp> {
        self.api
            .search_slots(public(SearchSlotsRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                service_code: DEHORS.into(),
                from_date: from.into(),
                days,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .slots
            .iter()
            .map(|s| instant(s.start_time.as_ref().unwrap()))
            .collect()
    }

    async fn holding(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from bookings where status in ('unconfirmed', 'confirmed', 'checked_in')",
        )
        .fetch_one(self.desk.pool())
        .await
        .unwrap()
    }

    async fn rules(&mut self, change: impl FnOnce(&mut BookingRules)) {
        let mut rules = self
            .api
            .get_booking_rules(request(GetBookingRulesRequest {
                municipality_istat_code: LA_SPEZIA.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .rules
            .unwrap();
        change(&mut rules);
        self.api
            .set_booking_rules(request(SetBookingRulesRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                rules: Some(rules),
            }))
            .await
            .unwrap();
    }

    async fn fire_timers(&self) {
        self.desk
            .routing
            .running
            .workers
            .timers
            .run_once()
            .await
            .unwrap();
    }
}

fn field_of(status: &tonic::Status) -> String {
    sportello_kit::ServiceError::from(status.clone())
        .violations()
        .first()
        .map(|v| v.field.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn two_hundred_concurrent_bookings_of_one_slot_give_exactly_one() {
    let agenda = Agenda::open().await;
    let mut tasks = Vec::new();
    for person in 0..200 {
        let mut api = agenda.api.clone();
        let message = agenda.booking("2026-11-27", "09:50", person);
        tasks.push(tokio::spawn(async move { api.book(staff(message)).await }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => assert_eq!(status.code(), Code::AlreadyExists, "{status:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(agenda.holding().await, 1);
}

/// A booking whose reply was lost is asked for again with its key at once, while the
/// slot's in-memory claim from the first attempt still stands: each answer is the one
/// booking, not "slot taken". (Tried again while the first attempt is still before its
/// key's insert, it can still be refused: see the README's notes.)
#[tokio::test]
async fn a_keyed_booking_tried_again_at_once_answers_with_the_same_booking() {
    let agenda = Agenda::open().await;
    let mut message = agenda.booking("2026-11-27", "09:50", 1);
    message.idempotency_key = uuid::Uuid::new_v4().to_string();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let mut api = agenda.api.clone();
        let booked = api.book(staff(message.clone())).await.unwrap().into_inner();
        codes.push(booked.booking.unwrap().code);
    }
    codes.dedup();
    assert_eq!(codes.len(), 1, "one booking: {codes:?}");
    assert_eq!(agenda.holding().await, 1);
}

#[tokio::test]
async fn a_person_is_capped_per_service_and_per_day() {
    let mut agenda = Agenda::open().await;
    agenda.book_for("2026-11-27", "09:00", 1).await.unwrap();
    // Another dehors appointment for the same person: one open booking per service.
    let error = agenda.book_for("2026-11-30", "09:00", 1).await.unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted);
    assert!(
        error.message().contains("max_open_per_service"),
        "{error:?}"
    );
    assert_eq!(agenda.holding().await, 1);
    // Two per service allowed, but one a day: the same day is refused by the day's cap.
    agenda
        .rules(|r| {
            r.max_open_per_service = 3;
            r.max_per_person_per_day = 1;
        })
        .await;
    let error = agenda.book_for("2026-11-27", "10:40", 1).await.unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted);
    assert!(
        error.message().contains("max_per_person_per_day"),
        "{error:?}"
    );
    agenda.book_for("2026-11-30", "09:00", 1).await.unwrap();
    assert_eq!(agenda.holding().await, 2);
}

#[tokio::test]
async fn slots_are_released_at_the_published_time_in_tranches() {
    let mut agenda = Agenda::open().await;
    // Released one day ahead at 10:00, in two tranches an hour apart.
    agenda
        .rules(|r| {
            r.release_days_ahead = 1;
            r.release_time = "10:00".into();
            r.release_tranches = 2;
            r.tranche_interval_minutes = 60;
        })
        .await;
    let search = agenda
        .api
        .search_slots(public(SearchSlotsRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            service_code: DEHORS.into(),
            from_date: "2026-11-27".into(),
            days: 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(search.slots.is_empty());
    assert_eq!(
        instant(search.next_release_time.as_ref().unwrap()),
        instant(&at("2026-11-26", "10:00"))
    );
    // The public cannot book it yet, and is told when it opens.
    let mut early = agenda.booking("2026-11-27", "09:00", 1);
    early.email = "mario@example.org".into();
    early.source = "203.0.113.7".into();
    let error = agenda.api.book(public(early.clone())).await.unwrap_err();
    assert_eq!(field_of(&error), "start_time");
    assert!(error.message().contains("26/11/2026 10:00"), "{error:?}");

    // 10:00: the first tranche (the 1st and 3rd slot of the block).
    agenda.desk.wait(31);
    let first = agenda.search("2026-11-27", 1).await;
    assert_eq!(
        first,
        vec![
            instant(&at("2026-11-27", "09:00")),
            instant(&at("2026-11-27", "10:40"))
        ]
    );
    // 11:00: the second.
    agenda.desk.wait(60);
    assert_eq!(agenda.search("2026-11-27", 1).await.len(), 3);
    agenda.api.book(public(early)).await.unwrap();
}

#[tokio::test]
async fn a_citizen_confirms_with_the_emailed_code_or_loses_the_slot() {
    let mut agenda = Agenda::open().await;
    let mut message = agenda.booking("2026-11-27", "09:00", 7);
    message.email = "Mario.Rossi@Example.org".into();
    message.source = "203.0.113.7".into();
    let booked = agenda.api.book(public(message)).await.unwrap().into_inner();
    assert!(booked.confirmation_sent);
    let booking = booked.booking.unwrap();
    assert_eq!(booking.status, BookingStatus::Unconfirmed as i32);
    assert!(booking.requester_ref.starts_with("rr_"));
    let mail = agenda
        .smtp
        .wait_for("Mario.Rossi@example.org", Duration::from_secs(10))
        .await;
    assert!(mail.text.contains(&booking.code), "{}", mail.text);
    assert!(mail.text.contains("Documenti da portare"), "{}", mail.text);
    let code: String = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Codice di conferma: "))
        .unwrap()
        .trim()
        .to_owned();
    // The slot is held while it waits: no one else gets it.
    assert_eq!(
        agenda
            .book_for("2026-11-27", "09:00", 8)
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let error = agenda
        .api
        .confirm_booking(public(ConfirmBookingRequest {
            code: booking.code.clone(),
            confirmation_code: wrong.into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(field_of(&error), "confirmation_code");
    let confirmed = agenda
        .api
        .confirm_booking(public(ConfirmBookingRequest {
            code: booking.code.to_lowercase(),
            confirmation_code: code,
        }))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    assert_eq!(confirmed.status, BookingStatus::Confirmed as i32);

    // Another citizen books and never confirms: after 15 minutes the slot is free again.
    let mut message = agenda.booking("2026-11-27", "09:50", 9);
    message.email = "luigi@example.org".into();
    message.source = "198.51.100.4".into();
    agenda.api.book(public(message)).await.unwrap();
    assert!(
        !agenda
            .search("2026-11-27", 1)
            .await
            .contains(&instant(&at("2026-11-27", "09:50")))
    );
    agenda.desk.wait(16);
    agenda.fire_timers().await;
    assert!(
        agenda
            .search("2026-11-27", 1)
            .await
            .contains(&instant(&at("2026-11-27", "09:50")))
    );
    let status: String = sqlx::query_scalar("select status from bookings where lower(slot) = $1")
        .bind(jiff_sqlx::Timestamp::from(instant(&at(
            "2026-11-27",
            "09:50",
        ))))
        .fetch_one(agenda.desk.pool())
        .await
        .unwrap();
    assert_eq!(status, "expired");
}

#[tokio::test]
async fn five_hundred_scripted_bookings_from_one_source_are_stopped_by_the_caps() {
    let mut agenda = Agenda::open().await;
    let slots = agenda.search("2026-11-26", 31).await;
    assert!(slots.len() >= 40, "{}", slots.len());
    let mut accepted = 0;
    let mut refused_by = std::collections::BTreeMap::<String, u32>::new();
    // A script from one address, a fresh valid fiscal code and mailbox each time.
    for i in 0..500 {
        let mut message = agenda.booking("2026-11-27", "09:00", 1000 + i);
        message.start_time = Some(sportello_kit::events::to_proto_timestamp(
            slots[usize::try_from(i).unwrap() % slots.len()],
        ));
        message.email = format!("bot{i}@example.net");
        message.source = "203.0.113.66".into();
        match agenda.api.book(public(message)).await {
            Ok(_) => accepted += 1,
            // The script comes back to slots it already holds: those are simply taken.
            Err(e) if e.code() == Code::AlreadyExists => {
                *refused_by.entry("taken".to_owned()).or_default() += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                let rule = e
                    .message()
                    .split(['(', ' '])
                    .find(|w| w.starts_with("max_"))
                    .unwrap();
                *refused_by.entry(rule.to_owned()).or_default() += 1;
            }
        }
    }
    // Free slots were left (the month has more than 40): the cap stopped it, not the
    // calendar.
    assert_eq!(accepted, 20, "the default per-source cap: {refused_by:?}");
    let capped = refused_by
        .get("max_per_source_per_day")
        .copied()
        .unwrap_or(0);
    assert!(capped >= 300, "{refused_by:?}");
    assert_eq!(capped + refused_by.get("taken").copied().unwrap_or(0), 480);
    // The same script rotating addresses but reusing one mailbox: the address cap.
    let mut accepted = 0;
    for i in 0..50 {
        let mut message = agenda.booking("2026-11-27", "09:00", 2000 + i);
        message.start_time = Some(sportello_kit::events::to_proto_timestamp(
            slots[20 + usize::try_from(i).unwrap() % (slots.len() - 20)],
        ));
        message.email = "collector@example.net".into();
        message.source = format!("198.51.100.{i}");
        if agenda.api.book(public(message)).await.is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3, "the default per-address cap");
    assert_eq!(agenda.holding().await, 23);
}

#[tokio::test]
async fn holidays_and_the_patron_day_have_no_slots() {
    let mut agenda = Agenda::open().await;
    agenda.rules(|r| r.release_days_ahead = 180).await;
    // 8 December 2026, Immacolata, is a Tuesday; 19 March 2027, San Giuseppe, La
    // Spezia's patron, a Friday.
    let days = |slots: &[Timestamp]| -> Vec<Date> {
        slots
            .iter()
            .map(|s| sportello_pa::calendar::rome::date_of(*s))
            .collect()
    };
    let december = days(&agenda.search("2026-12-07", 3).await);
    assert!(december.contains(&"2026-12-07".parse().unwrap()));
    assert!(!december.contains(&"2026-12-08".parse().unwrap()));
    assert!(december.contains(&"2026-12-09".parse().unwrap()));
    let march = days(&agenda.search("2027-03-18", 2).await);
    assert!(march.contains(&"2027-03-18".parse().unwrap()));
    assert!(!march.contains(&"2027-03-19".parse().unwrap()));
    let error = agenda.book_for("2026-12-08", "09:00", 1).await.unwrap_err();
    assert_eq!(field_of(&error), "start_time");
    assert!(error.message().contains("Immacolata"), "{error:?}");
}

#[tokio::test]
async fn daylight_saving_days_keep_the_local_times() {
    let mut agenda = Agenda::open().await;
    agenda.rules(|r| r.release_days_ahead = 180).await;
    // The Friday before the clocks go forward (Sunday 28 March 2027, also Easter) and
    // the Tuesday after (Monday is Pasquetta, closed): the same local times, an hour
    // apart in UTC. (The block across the change itself is a unit test of calendar.rs.)
    let friday = agenda.search("2027-03-26", 1).await;
    let tuesday = agenda.search("2027-03-29", 2).await;
    assert_eq!(friday.len(), 3);
    assert_eq!(tuesday.len(), 3, "Pasquetta has none, the Tuesday three");
    assert_eq!(
        friday[0],
        "2027-03-26T08:00:00Z".parse::<Timestamp>().unwrap()
    );
    assert_eq!(
        tuesday[0],
        "2027-03-30T07:00:00Z".parse::<Timestamp>().unwrap()
    );
    assert_eq!(
        tuesday[2],
        "2027-03-30T08:40:00Z".parse::<Timestamp>().unwrap()
    );
}

#[tokio::test]
async fn a_move_never_leaves_two_bookings_and_keeps_the_old_slot_when_the_new_is_taken() {
    let mut agenda = Agenda::open().await;
    let a = agenda
        .book_for("2026-11-27", "09:00", 1)
        .await
        .unwrap()
        .booking
        .unwrap();
    agenda.book_for("2026-11-27", "09:50", 2).await.unwrap();
    let onto_taken = agenda
        .api
        .reschedule_booking(staff(RescheduleBookingRequest {
            code: a.code.clone(),
            site_id: agenda.desk.site_id.clone(),
            start_time: Some(at("2026-11-27", "09:50")),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(onto_taken.code(), Code::AlreadyExists);
    assert_eq!(agenda.holding().await, 2);
    let moved = agenda
        .api
        .reschedule_booking(staff(RescheduleBookingRequest {
            code: a.code.clone(),
            site_id: agenda.desk.site_id.clone(),
            start_time: Some(at("2026-11-27", "10:40")),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    assert_eq!(moved.code, a.code);
    assert_eq!(moved.version, 2);
    assert_eq!(agenda.holding().await, 2);
    // The old slot is free: another person takes it.
    agenda.book_for("2026-11-27", "09:00", 3).await.unwrap();
    // A cancelled booking frees its slot too, and a citizen needs their own fiscal code.
    let not_theirs = agenda
        .api
        .cancel_booking(public(CancelBookingRequest {
            code: a.code.clone(),
            fiscal_code: fiscal_code(2),
            reason: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::NotFound);
    agenda
        .api
        .cancel_booking(public(CancelBookingRequest {
            code: a.code.clone(),
            fiscal_code: fiscal_code(1),
            reason: String::new(),
        }))
        .await
        .unwrap();
    agenda.book_for("2026-11-27", "10:40", 4).await.unwrap();
}

#[tokio::test]
async fn check_in_opens_early_closes_late_and_a_missed_appointment_is_a_no_show() {
    let mut agenda = Agenda::open().await;
    // Today 10:40 (now 09:30): check-in opens 30 minutes before.
    let booking = agenda
        .book_for("2026-11-26", "10:40", 1)
        .await
        .unwrap()
        .booking
        .unwrap();
    let check_in = |code: &str, site: &str| {
        as_kiosk(CheckInRequest {
            code: code.to_owned(),
            site_id: site.to_owned(),
        })
    };
    let early = agenda
        .api
        .check_in(check_in(&booking.code, &agenda.desk.site_id))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("10:10"), "{early:?}");
    agenda.desk.wait(45);
    let arrived = agenda
        .api
        .check_in(check_in(&booking.code, &agenda.desk.site_id))
        .await
        .unwrap()
        .into_inner();
    assert!(
        arrived.ticket_label.starts_with('C'),
        "{}",
        arrived.ticket_label
    );
    assert_eq!(
        arrived.booking.unwrap().status,
        BookingStatus::CheckedIn as i32
    );

    // Tomorrow 09:00, never checked in: at 09:11 it is a no-show, and too late to check in.
    let missed = agenda
        .book_for("2026-11-27", "09:00", 2)
        .await
        .unwrap()
        .booking
        .unwrap();
    agenda
        .desk
        .ctx
        .clock
        .set(instant(&at("2026-11-27", "09:11")));
    let late = agenda
        .api
        .check_in(check_in(&missed.code, &agenda.desk.site_id))
        .await
        .unwrap_err();
    assert!(late.message().contains("troppo tardi"), "{late:?}");
    agenda.fire_timers().await;
    let status: String = sqlx::query_scalar("select status from bookings where code = $1")
        .bind(&missed.code)
        .fetch_one(agenda.desk.pool())
        .await
        .unwrap();
    assert_eq!(status, "no_show");
}

#[tokio::test]
async fn a_checked_in_appointment_is_called_at_its_time_before_an_earlier_walk_in() {
    let mut agenda = Agenda::open().await;
    let booking = agenda
        .book_for("2026-11-26", "10:40", 1)
        .await
        .unwrap()
        .booking
        .unwrap();
    // 10:15: a walk-in takes a ticket for a counter service of the same queue, then the
    // appointment checks in.
    agenda.desk.wait(45);
    let walk_in = agenda
        .desk
        .ticket(
            &[DRIVEWAY],
            sportello_proto::routing::v1::PriorityCategory::None,
        )
        .await;
    agenda.desk.wait(5);
    let arrived = agenda
        .api
        .check_in(as_kiosk(CheckInRequest {
            code: booking.code.clone(),
            site_id: agenda.desk.site_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    // 10:40, the appointment's time: the technician calls it first.
    agenda
        .desk
        .ctx
        .clock
        .set(instant(&at("2026-11-26", "10:40")));
    let call = agenda.desk.call_next("t.rossi").await.unwrap();
    assert_eq!(call.case.as_ref().unwrap().id, arrived.case_id);
    agenda
        .desk
        .complete("t.rossi", &arrived.case_id, "informed")
        .await
        .unwrap();
    let call = agenda.desk.call_next("t.rossi").await.unwrap();
    assert_eq!(call.case.unwrap().id, walk_in.cases[0].id);
}

#[tokio::test]
async fn before_its_time_an_appointment_lets_the_walk_ins_go_first() {
    let mut agenda = Agenda::open().await;
    let booking = agenda
        .book_for("2026-11-26", "10:40", 1)
        .await
        .unwrap()
        .booking
        .unwrap();
    agenda.desk.wait(45);
    agenda
        .api
        .check_in(as_kiosk(CheckInRequest {
            code: booking.code.clone(),
            site_id: agenda.desk.site_id.clone(),
        }))
        .await
        .unwrap();
    let walk_in = agenda
        .desk
        .ticket(
            &[DRIVEWAY],
            sportello_proto::routing::v1::PriorityCategory::None,
        )
        .await;
    // 10:15: the appointment is at 10:40; the walk-in is served now.
    let call = agenda.desk.call_next("t.rossi").await.unwrap();
    assert_eq!(call.case.unwrap().id, walk_in.cases[0].id);
}

#[tokio::test]
async fn bad_bookings_are_refused_naming_the_field_or_rule_and_nothing_is_written() {
    let mut agenda = Agenda::open().await;
    // In the past (today 09:00; now is 09:30).
    let error = agenda.book_for("2026-11-26", "09:00", 1).await.unwrap_err();
    assert_eq!(
        (error.code(), field_of(&error).as_str()),
        (Code::InvalidArgument, "start_time")
    );
    // On a closed day: Saturday has no hours, Immacolata is a holiday.
    let error = agenda.book_for("2026-11-28", "09:00", 1).await.unwrap_err();
    assert_eq!(field_of(&error), "start_time");
    // Not a slot: 09:10 starts none.
    let error = agenda.book_for("2026-11-27", "09:10", 1).await.unwrap_err();
    assert_eq!(field_of(&error), "start_time");
    // A fiscal code that fails its check character.
    let mut message = agenda.booking("2026-11-27", "09:00", 1);
    let mut code = message.fiscal_code.clone();
    let last = code.pop().unwrap();
    code.push(if last == 'A' { 'B' } else { 'A' });
    message.fiscal_code = code;
    let error = agenda.api.book(staff(message)).await.unwrap_err();
    assert_eq!(field_of(&error), "fiscal_code");
    assert!(error.message().contains("codice fiscale"), "{error:?}");
    // Online without an e-mail address, or with a malformed one.
    let mut message = agenda.booking("2026-11-27", "09:00", 1);
    message.source = "203.0.113.7".into();
    let error = agenda.api.book(public(message.clone())).await.unwrap_err();
    assert_eq!(field_of(&error), "email");
    message.email = "mario@".into();
    let error = agenda.api.book(public(message)).await.unwrap_err();
    assert_eq!(field_of(&error), "email");
    // Over the person's cap.
    agenda.book_for("2026-11-27", "09:00", 1).await.unwrap();
    let error = agenda.book_for("2026-11-27", "09:50", 1).await.unwrap_err();
    assert!(
        error.message().contains("max_open_per_service"),
        "{error:?}"
    );
    assert_eq!(agenda.holding().await, 1);
    let written: i64 = sqlx::query_scalar("select count(*) from bookings")
        .fetch_one(agenda.desk.pool())
        .await
        .unwrap();
    assert_eq!(written, 1);
    // A counter operator is not a citizen: as_operator books on behalf (tier 2 role).
    let mut message = agenda.booking("2026-11-27", "10:40", 5);
    message.fiscal_code = fiscal_code(5);
    agenda
        .api
        .book(as_operator("t.rossi", message))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_freed_slot_is_offered_to_the_first_in_line_then_to_the_next_when_the_offer_lapses() {
    let mut agenda = Agenda::open().await;
    agenda.rules(|r| r.waitlist_offer_minutes = 30).await;
    let first = agenda
        .book_for("2026-11-27", "09:00", 1)
        .await
        .unwrap()
        .booking
        .unwrap();
    // Two people wait for a dehors appointment from tomorrow on, in this order.
    let join_api = agenda.api.clone();
    let join = |person: i32| {
        let mut api = join_api.clone();
        async move {
            api.join_waitlist(public(JoinWaitlistRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                service_code: DEHORS.into(),
                fiscal_code: fiscal_code(person),
                site_ids: vec![],
                from_date: "2026-11-27".into(),
                to_date: "2026-11-30".into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .entry
            .unwrap()
        }
    };
    let second = join(2).await;
    let third = join(3).await;
    assert_eq!(second.status, WaitlistStatus::Waiting as i32);
    // The same person cannot queue twice.
    let mut again = agenda.api.clone();
    let twice = again
        .join_waitlist(public(JoinWaitlistRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            service_code: DEHORS.into(),
            fiscal_code: fiscal_code(2),
            site_ids: vec![],
            from_date: "2026-11-27".into(),
            to_date: "2026-11-27".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    let waitlist_api = agenda.api.clone();
    let entry = |id: String, person: i32| {
        let mut api = waitlist_api.clone();
        async move {
            api.get_waitlist_entry(public(GetWaitlistEntryRequest {
                entry_id: id,
                fiscal_code: fiscal_code(person),
            }))
            .await
            .unwrap()
            .into_inner()
            .entry
            .unwrap()
        }
    };
    // The 09:00 booking is cancelled: the slot is held for the first in line at once.
    agenda
        .api
        .cancel_booking(staff(CancelBookingRequest {
            code: first.code.clone(),
            fiscal_code: String::new(),
            reason: "il cittadino ha telefonato".into(),
        }))
        .await
        .unwrap();
    let offered = entry(second.id.clone(), 2).await;
    assert_eq!(offered.status, WaitlistStatus::Offered as i32);
    let held = offered.booking.unwrap();
    assert_eq!(held.status, BookingStatus::Offered as i32);
    assert_eq!(held.start_time, first.start_time);
    assert!(
        !agenda
            .search("2026-11-27", 1)
            .await
            .contains(&instant(&at("2026-11-27", "09:00")))
    );
    assert_eq!(
        agenda
            .book_for("2026-11-27", "09:00", 4)
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
    assert_eq!(
        entry(third.id.clone(), 3).await.status,
        WaitlistStatus::Waiting as i32
    );

    // Unanswered for 30 minutes: the offer lapses and goes to the next in line.
    agenda.desk.wait(31);
    agenda.fire_timers().await;
    assert_eq!(
        entry(second.id.clone(), 2).await.status,
        WaitlistStatus::Lapsed as i32
    );
    let next = entry(third.id.clone(), 3).await;
    assert_eq!(next.status, WaitlistStatus::Offered as i32);
    assert_eq!(next.booking.as_ref().unwrap().start_time, first.start_time);
    // Someone else cannot take it; the third person can.
    let mut api = agenda.api.clone();
    let not_theirs = api
        .accept_waitlist_offer(public(AcceptWaitlistOfferRequest {
            entry_id: third.id.clone(),
            fiscal_code: fiscal_code(2),
        }))
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::NotFound);
    let booked = api
        .accept_waitlist_offer(public(AcceptWaitlistOfferRequest {
            entry_id: third.id.clone(),
            fiscal_code: fiscal_code(3),
        }))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(booked.status, WaitlistStatus::Booked as i32);
    assert_eq!(
        booked.booking.unwrap().status,
        BookingStatus::Confirmed as i32
    );
    assert_eq!(agenda.holding().await, 1);
}
