//! Permits end to end: zones defined, residents registered in the registry, permits
//! issued at the counter (residence in the zone asked of the registry), paid at the
//! local pagoPA as a PSP would, activated by the receipt, seen by the cameras; the quota
//! and the household's plates counted by the database; a move out of the zone flagging a
//! permit for the back office and the grace period ending it — real PostgreSQL, NATS,
//! routing, registry and simulator, the workers stepped by the manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Office, SPEZIA, Who, count, counter, resident_permit};
use jiff::SignedDuration;
use sportello_proto::{
    mobility::v1::{
        EndPermitRequest, ExportWhitelistRequest, GetPermitRequest, PermitKind, PermitState,
    },
    registry::v1::Sex,
};
use tonic::Code;

const ROSSI: Who = ("Rossi", "Mario", Sex::Male, "1980-01-01", "E463");
const BIANCHI: Who = ("Bianchi", "Giulia", Sex::Female, "1985-06-15", "E463");
const VERDI: Who = ("Verdi", "Anna", Sex::Female, "1979-09-09", "E463");

#[tokio::test]
async fn a_residents_permit_is_issued_paid_and_activated_and_the_cameras_see_it() {
    // Monday 11 January 2027, 10:00 in Rome.
    let office = Office::start("2027-01-11T09:00:00Z").await;
    office.define_ztl(3_000, 0).await;
    office.resident(ROSSI, "PRIONE", "12").await;

    let issued = office
        .permits()
        .await
        .issue_permit(counter("permit.issue").request(resident_permit(ROSSI, &["ab 123 cd"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.notice_unavailable, "");
    let permit = issued.permit.unwrap();
    assert_eq!(permit.number, "ZTL-CENTRO-2027-00001");
    assert_eq!(permit.state, PermitState::AwaitingPayment as i32);
    assert_eq!(
        (permit.valid_from.as_str(), permit.valid_until.as_str()),
        ("2027-01-11", "2028-01-10")
    );
    assert_eq!(permit.amount_cents, 3_000);
    assert_eq!(permit.notice_number.len(), 18, "a pagoPA notice");
    assert_eq!(permit.plates[0].plate, "AB123CD");
    assert_eq!(permit.plates[0].kind, "car");
    assert!(!permit.holder_ref.is_empty());
    assert_ne!(
        permit.holder_ref,
        common::code_of(ROSSI),
        "the holder by reference, not by code"
    );

    // Not paid yet: the cameras refuse, saying why.
    office.tick().await;
    let unpaid = office
        .until_answer("AB 123 CD", |a| a.reason.contains("pagato"))
        .await;
    assert!(!unpaid.authorised);
    assert!(
        unpaid.reason.contains("non è ancora pagato"),
        "{}",
        unpaid.reason
    );

    // Paid at a PSP; the poller hears of it, the permit is active, the cameras follow.
    office.ctx.clock.advance(SignedDuration::from_mins(5));
    office
        .pagopa
        .pay(&permit.notice_number, 3_000)
        .await
        .unwrap();
    for _ in 0..3 {
        office.ctx.clock.advance(SignedDuration::from_secs(6));
        office.tick().await;
    }
    let active = office
        .permits()
        .await
        .get_permit(counter("permit.read").request(GetPermitRequest {
            permit_id: permit.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .permit
        .unwrap();
    assert_eq!(active.state, PermitState::Active as i32);
    assert!(active.activate_time.is_some());
    let seen = office.until_transit("AB123CD", true).await;
    assert_eq!(seen.permit_number, "ZTL-CENTRO-2027-00001");
    assert_eq!(seen.permit_kind, PermitKind::Resident as i32);
    assert!(seen.zone_in_force);

    // A transit before the payment, asked afterwards (the police's question): refused.
    let before = office
        .transit("AB123CD", Some("2027-01-11T09:01:00Z"))
        .await;
    assert!(!before.authorised);
    assert!(before.reason.contains("pagato solo"), "{}", before.reason);
    // A transit weeks past, before the memory's horizon: the history answers.
    let weeks_ago = office
        .transit("AB123CD", Some("2026-12-14T09:00:00Z"))
        .await;
    assert!(!weeks_ago.authorised);
    assert!(
        weeks_ago.reason.contains("vale dal 2027-01-11"),
        "{}",
        weeks_ago.reason
    );
    // Sunday: the zone is open to all.
    let sunday = office
        .transit("ZZ999ZZ", Some("2027-01-17T10:00:00Z"))
        .await;
    assert!(sunday.authorised && !sunday.zone_in_force);
    // A plate never seen, on a weekday: refused with the reason.
    let stranger = office.transit("ZZ999ZZ", None).await;
    assert!(!stranger.authorised);
    assert!(stranger.reason.contains("mai vista"), "{}", stranger.reason);
    assert!(stranger.permit_id.is_empty());

    // The day's export for the cameras' systems.
    let export = office
        .cameras()
        .await
        .export_whitelist(common::camera().request(ExportWhitelistRequest {
            municipality_istat_code: SPEZIA.into(),
            zone_code: String::new(),
            day: "2027-01-12".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.rows, 1);
    assert_eq!(
        export.csv,
        "plate;zone;valid_from;valid_until;permit\r\n\
         AB123CD;ZTL-CENTRO;2027-01-12T00:00:00+01:00;2027-01-13T00:00:00+01:00;ZTL-CENTRO-2027-00001\r\n"
    );

    // Events carry ids and days, never the plate or the holder.
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("select payload from outbox where event_type like 'mobility.%'")
            .fetch_all(office.pool())
            .await
            .unwrap();
    assert!(payloads.len() >= 3);
    for payload in payloads {
        let text = String::from_utf8_lossy(&payload);
        assert!(!text.contains("AB123CD"), "a plate in an event");
        assert!(
            !text.contains(&common::code_of(ROSSI)),
            "a fiscal code in an event"
        );
    }
}

#[tokio::test]
async fn the_quota_and_the_households_plates_refuse_one_too_many_and_bad_input_writes_nothing() {
    let office = Office::start("2027-01-11T09:00:00Z").await;
    // A free permit, a quota of two.
    office.define_ztl(0, 2).await;
    office.resident(ROSSI, "PRIONE", "12").await;
    office.resident(BIANCHI, "PRIONE", "31").await;
    office.resident(VERDI, "PRIONE", "45").await;
    let permits = office.permits().await;
    let issue = |request| {
        let mut permits = permits.clone();
        async move {
            permits
                .issue_permit(counter("permit.issue").request(request))
                .await
                .map(|r| r.into_inner().permit.unwrap())
        }
    };

    let first = issue(resident_permit(ROSSI, &["AB123CD", "EF456GH"]))
        .await
        .unwrap();
    assert_eq!(
        first.state,
        PermitState::Active as i32,
        "free: valid at once"
    );
    // A third plate for the same household: two is the zone's limit.
    let third = issue(resident_permit(ROSSI, &["LM789NP"]))
        .await
        .unwrap_err();
    assert_eq!(third.code(), Code::FailedPrecondition);
    assert!(
        third.message().contains("nucleo familiare ha già 2 targhe"),
        "{}",
        third.message()
    );

    issue(resident_permit(BIANCHI, &["GH234JK"])).await.unwrap();
    let over = issue(resident_permit(VERDI, &["KL567MN"]))
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::FailedPrecondition);
    assert!(
        over.message()
            .contains("tutti i 2 permessi del suo contingente"),
        "{}",
        over.message()
    );
    assert_eq!(
        count(office.pool(), "permits").await,
        2,
        "nothing written for the refusals"
    );

    // Bad input: a precise error, nothing written.
    let bad_plate = issue(resident_permit(VERDI, &["12345678"]))
        .await
        .unwrap_err();
    assert_eq!(bad_plate.code(), Code::InvalidArgument);
    assert!(
        bad_plate
            .message()
            .starts_with("plates[0]: la targa non corrisponde"),
        "{}",
        bad_plate.message()
    );
    let ambiguous = issue(resident_permit(VERDI, &["SP 12345"]))
        .await
        .unwrap_err();
    assert!(
        ambiguous.message().contains("più formati"),
        "{}",
        ambiguous.message()
    );
    // Via Chiodo is not in the zone.
    let elsewhere: Who = ("Neri", "Paolo", Sex::Male, "1975-03-03", "E463");
    office.resident(elsewhere, "CHIODO", "8").await;
    let outside = issue(resident_permit(elsewhere, &["PR123ST"]))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::FailedPrecondition);
    assert!(
        outside
            .message()
            .contains("non risiede nella zona ZTL-CENTRO"),
        "{}",
        outside.message()
    );
    // From Sarzana: the register does not know them.
    let stranger: Who = ("Galli", "Marco", Sex::Male, "1986-04-04", "I449");
    let not_resident = issue(resident_permit(stranger, &["PR123ST"]))
        .await
        .unwrap_err();
    assert!(
        not_resident.message().contains("non è residente"),
        "{}",
        not_resident.message()
    );
    assert_eq!(count(office.pool(), "permits").await, 2);
    assert_eq!(count(office.pool(), "permit_plates").await, 3);
    let held: i32 = sqlx::query_scalar("select permits_held from zones")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(held, 2);

    // Rossi sells a car: the permit ends, its place and plates go back, Verdi gets one.
    let mut api = office.permits().await;
    let ended = api
        .end_permit(counter("permit.end").request(EndPermitRequest {
            permit_id: first.id.clone(),
            cause: "vehicle_sold".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .permit
        .unwrap();
    assert_eq!(ended.state, PermitState::Ended as i32);
    assert!(ended.reason.contains("veicolo venduto"), "{}", ended.reason);
    let again = api
        .end_permit(counter("permit.end").request(EndPermitRequest {
            permit_id: first.id.clone(),
            cause: "given_up".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    issue(resident_permit(VERDI, &["KL567MN"])).await.unwrap();
    let plates: i32 = sqlx::query_scalar("select sum(plates)::int from household_plates")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(plates, 2, "Rossi's two given back; Bianchi's and Verdi's");
}

#[tokio::test]
async fn a_move_out_of_the_zone_flags_the_permit_and_the_grace_period_ends_it() {
    let office = Office::start("2027-01-11T09:00:00Z").await;
    office.define_ztl(0, 0).await;
    let rossi = office.resident(ROSSI, "PRIONE", "12").await;
    let permit = office
        .permits()
        .await
        .issue_permit(counter("permit.issue").request(resident_permit(ROSSI, &["AB123CD"])))
        .await
        .unwrap()
        .into_inner()
        .permit
        .unwrap();
    office.tick().await;
    office.until_transit("AB123CD", true).await;

    // The registry records the move to Sarzana: the permit goes under review, still
    // valid for 30 days, and the back office has the work.
    office.moves_away(&rossi, "2027-01-11").await;
    office.facts_flow().await;
    office.tick().await;
    let flagged = read(&office, &permit.id).await;
    assert_eq!(flagged.state, PermitState::UnderReview as i32);
    assert_eq!(flagged.grace_until, "2027-02-10");
    assert!(
        flagged.reason.contains("trasferito in un altro comune"),
        "{}",
        flagged.reason
    );
    let work: i64 = sqlx::query_scalar(
        "select count(*) from routing.work_items where service_code = 'mobility.permit_review'",
    )
    .fetch_one(office.pool())
    .await
    .unwrap();
    assert_eq!(work, 1, "one review for the back office");
    assert!(
        office.transit("AB123CD", None).await.authorised,
        "valid during the grace"
    );

    // The grace runs out with nobody keeping it: the permit ends, the cameras refuse.
    office
        .ctx
        .clock
        .set("2027-02-11T08:00:00Z".parse().unwrap());
    office.tick().await;
    office.facts_flow().await;
    let ended = read(&office, &permit.id).await;
    assert_eq!(ended.state, PermitState::Ended as i32);
    assert!(
        ended.reason.contains("periodo di tolleranza finito"),
        "{}",
        ended.reason
    );
    // Thursday 11 February 2027, 9:00 in Rome: in force.
    let refused = office.until_transit("AB123CD", false).await;
    assert!(
        refused.reason.contains("cessato il 2027-02-11"),
        "{}",
        refused.reason
    );
    let state: String = sqlx::query_scalar(
        "select state from routing.work_items where service_code = 'mobility.permit_review'",
    )
    .fetch_one(office.pool())
    .await
    .unwrap();
    assert_eq!(
        state, "completed",
        "routing closed the review with mobility's decision"
    );
    let held: i32 = sqlx::query_scalar("select permits_held from zones")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(held, 0, "the quota's place given back");
}

async fn read(office: &Office, id: &str) -> sportello_proto::mobility::v1::Permit {
    office
        .permits()
        .await
        .get_permit(counter("permit.read").request(GetPermitRequest {
            permit_id: id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .permit
        .unwrap()
}

#[tokio::test]
async fn a_permit_left_unpaid_lapses_after_its_due_date_and_gives_its_place_back() {
    let office = Office::start("2027-01-11T09:00:00Z").await;
    office.define_ztl(3_000, 1).await;
    office.resident(ROSSI, "PRIONE", "12").await;
    office.resident(BIANCHI, "PRIONE", "31").await;
    let mut api = office.permits().await;
    let unpaid = api
        .issue_permit(counter("permit.issue").request(resident_permit(ROSSI, &["AB123CD"])))
        .await
        .unwrap()
        .into_inner()
        .permit
        .unwrap();
    assert_eq!(unpaid.state, PermitState::AwaitingPayment as i32);
    // Without a key a permit with a fee is refused: a retry would make a second one.
    let mut keyless = resident_permit(BIANCHI, &["GH234JK"]);
    keyless.idempotency_key.clear();
    let refused = api
        .issue_permit(counter("permit.issue").request(keyless))
        .await
        .unwrap_err();
    assert!(
        refused.message().starts_with("idempotency_key:"),
        "{}",
        refused.message()
    );
    // The quota's one place is held while the notice waits.
    let full = api
        .issue_permit(counter("permit.issue").request(resident_permit(BIANCHI, &["GH234JK"])))
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::FailedPrecondition);

    // Due 10 February; on the 11th it lapses.
    office
        .ctx
        .clock
        .set("2027-02-10T20:00:00Z".parse().unwrap());
    office.tick().await;
    assert_eq!(
        read(&office, &unpaid.id).await.state,
        PermitState::AwaitingPayment as i32
    );
    office
        .ctx
        .clock
        .set("2027-02-11T08:00:00Z".parse().unwrap());
    office.tick().await;
    let lapsed = read(&office, &unpaid.id).await;
    assert_eq!(lapsed.state, PermitState::Ended as i32);
    assert!(
        lapsed.reason.contains("non è stato pagato"),
        "{}",
        lapsed.reason
    );
    api.issue_permit(counter("permit.issue").request(resident_permit(BIANCHI, &["GH234JK"])))
        .await
        .unwrap();
}
