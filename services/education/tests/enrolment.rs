//! Issue 16: an enrolment window, applications at the counter with the registry's facts
//! and the protocol register, and the rankings published from them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    Office, SPEZIA, Who, application, code_of, count, counter, criteria, education_office,
};
use sportello_proto::{
    education::v1::{
        Application, Entry, FileApplicationRequest, GetApplicationRequest, GetRankingRequest,
        ListWindowsRequest, ObjectionStatus, OfferStatus, OpenWindowRequest, PublishRankingRequest,
        RankingStage, SchoolLevel, Window,
    },
    registry::v1::Sex,
};
use tonic::Code;

// Parents, and children within the nursery's age on 1 September 2027 (3 to 36 months).
const ROSSI: Who = ("Rossi", "Mario", Sex::Male, "1988-03-02", "E463");
const LUCA: Who = ("Rossi", "Luca", Sex::Male, "2025-05-10", "E463");
const BIANCHI: Who = ("Bianchi", "Giulia", Sex::Female, "1990-07-14", "E463");
const SARA: Who = ("Bianchi", "Sara", Sex::Female, "2025-11-02", "E463");
const VERDI: Who = ("Verdi", "Paolo", Sex::Male, "1985-01-20", "E463");
const TOMMASO: Who = ("Verdi", "Tommaso", Sex::Male, "2025-02-01", "E463");
const NERI: Who = ("Neri", "Elena", Sex::Female, "1987-09-09", "E463");
const BEATRICE: Who = ("Neri", "Beatrice", Sex::Female, "2025-03-03", "E463");
// A family from Sarzana, not in La Spezia's register.
const GALLI: Who = ("Galli", "Marco", Sex::Male, "1986-04-04", "I449");
const PIETRO: Who = ("Galli", "Pietro", Sex::Male, "2025-06-06", "I449");
// Too old for the nursery on 1 September 2027 (three in July 2027).
const ESPOSITO: Who = ("Esposito", "Anna", Sex::Female, "1984-12-12", "E463");
const LEO: Who = ("Esposito", "Leo", Sex::Male, "2024-07-15", "E463");

async fn file(office: &Office, request: FileApplicationRequest) -> Application {
    office
        .enrolment()
        .await
        .file_application(counter("enrolment.apply").request(request))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap()
}

fn with(
    mut request: FileApplicationRequest,
    working_parents: u32,
    isee_euro: Option<i64>,
    disability: bool,
) -> FileApplicationRequest {
    request.working_parents = working_parents;
    request.isee_value_cents = isee_euro.map(|e| e * 100);
    if isee_euro.is_some() {
        request.dsu_protocol = "INPS-ISEE-2027-00012345A-00".into();
    }
    request.disability_certified = disability;
    request
}

async fn publish(
    office: &Office,
    window: &Window,
    stage: RankingStage,
) -> Result<Vec<(u32, String, u32)>, tonic::Status> {
    office
        .enrolment()
        .await
        .publish_ranking(education_office().request(PublishRankingRequest {
            window_id: window.id.clone(),
            stage: stage as i32,
        }))
        .await
        .map(|r| {
            r.into_inner()
                .ranking
                .unwrap()
                .rows
                .into_iter()
                .map(|row| (row.position, row.application_code, row.score))
                .collect()
        })
}

/// Five applications under the sample criteria, one from a family the register does not
/// know; the provisional and the final ranking exactly as the criteria compute, a tie
/// broken by the lower ISEE; published with nothing but positions, codes and totals.
#[tokio::test]
async fn a_window_ranks_its_applications_as_the_criteria_compute() {
    let office = Box::pin(Office::start("2027-01-20T09:00:00Z")).await;
    for (parent, child) in [
        (ROSSI, LUCA),
        (BIANCHI, SARA),
        (VERDI, TOMMASO),
        (NERI, BEATRICE),
    ] {
        office.resident_family(parent, child).await;
    }
    let window = office.open_window(SchoolLevel::Nido).await;
    assert_eq!(window.applications, 0);
    assert_eq!(window.criteria.as_ref().unwrap(), &criteria());

    // Resident, both parents working, ISEE €7,000: 10 + 8 + 6.
    let luca = file(
        &office,
        with(application(&window, ROSSI, LUCA), 2, Some(7_000), false),
    )
    .await;
    // Resident, one working, ISEE €12,000: 10 + 4 + 4.
    let sara = file(
        &office,
        with(application(&window, BIANCHI, SARA), 1, Some(12_000), false),
    )
    .await;
    // Not resident (Sarzana), both working, ISEE €7,000: 0 + 8 + 6.
    let pietro = file(
        &office,
        with(application(&window, GALLI, PIETRO), 2, Some(7_000), false),
    )
    .await;
    // Resident, one working, ISEE €10,000: 18 as Sara, but the lower ISEE goes first.
    let tommaso = file(
        &office,
        with(application(&window, VERDI, TOMMASO), 1, Some(10_000), false),
    )
    .await;
    // Resident, nobody working, no ISEE (the last band), a certification: 10 + 12.
    let beatrice = file(
        &office,
        with(application(&window, NERI, BEATRICE), 0, None, true),
    )
    .await;

    let scores: Vec<(bool, u32)> = [&luca, &sara, &pietro, &tommaso, &beatrice]
        .iter()
        .map(|a| (a.resident, a.score))
        .collect();
    assert_eq!(
        scores,
        [(true, 24), (true, 18), (false, 14), (true, 18), (true, 22)]
    );
    assert_eq!(luca.code, "NIDO27-00001");
    assert_eq!(beatrice.code, "NIDO27-00005");
    assert_eq!(luca.entry, Entry::Regular as i32);
    assert!(!luca.protocol_number.is_empty());
    assert_ne!(luca.protocol_number, sara.protocol_number);
    // The child is known by reference, the registry's own.
    let key: sportello_kit::PseudonymKey = common::KEY.parse().unwrap();
    assert_eq!(
        luca.child_ref,
        sportello_kit::RequesterRef::derive(&key, SPEZIA.parse().unwrap(), &code_of(LUCA))
            .to_string()
    );
    let again = office
        .enrolment()
        .await
        .get_application(counter("enrolment.read").request(GetApplicationRequest {
            application_id: tommaso.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(again, tommaso);

    // The registry was asked, and audited each answer with the counter's purpose.
    let audited: Vec<(String, String)> = sqlx::query_as(
        "select caller, purpose from registry.audit_log where action = 'fact.is_resident'",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    assert_eq!(audited.len(), 4, "the four resident children: {audited:?}");
    assert!(
        audited
            .iter()
            .all(|(caller, purpose)| caller == "education" && purpose == "enrolment.apply"),
        "{audited:?}"
    );
    // Each application is in the protocol register, sent by the applicant's reference.
    assert_eq!(count(office.pool(), "routing.registrations").await, 5);

    // Not while the window is open.
    let early = publish(&office, &window, RankingStage::Provisional)
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    office.set_today("2027-02-11T08:00:00Z");
    let final_first = publish(&office, &window, RankingStage::Final)
        .await
        .unwrap_err();
    assert_eq!(
        final_first.code(),
        Code::FailedPrecondition,
        "{final_first:?}"
    );

    let expected = vec![
        (1, luca.code.clone(), 24),
        (2, beatrice.code.clone(), 22),
        (3, tommaso.code.clone(), 18),
        (4, sara.code.clone(), 18),
        (5, pietro.code.clone(), 14),
    ];
    assert_eq!(
        publish(&office, &window, RankingStage::Provisional)
            .await
            .unwrap(),
        expected
    );
    let twice = publish(&office, &window, RankingStage::Provisional)
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    // The final ranking waits for the objection days (ten from the provisional one).
    let too_soon = publish(&office, &window, RankingStage::Final)
        .await
        .unwrap_err();
    assert_eq!(too_soon.code(), Code::FailedPrecondition);
    assert!(
        too_soon.message().contains("2027-02-21"),
        "{}",
        too_soon.message()
    );

    // Sara's family objects: both parents work. Registered, handed to the back office
    // without the family's words.
    let grounds =
        "Lavorano entrambi i genitori: allegata la dichiarazione del datore di lavoro della madre";
    let objection = office.object(&sara, grounds).await.unwrap();
    assert_eq!(objection.status, ObjectionStatus::Open as i32);
    assert_eq!(objection.score_before, 18);
    assert!(!objection.protocol_number.is_empty());
    let again = office.object(&sara, "di nuovo").await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    office.hand_over().await;
    let (code, note): (String, String) =
        sqlx::query_as("select service_code, context_note from routing.work_items")
            .fetch_one(office.pool())
            .await
            .unwrap();
    assert_eq!(code, "education.ranking_objection");
    assert!(
        note.contains(&sara.code) && !note.contains("datore"),
        "{note}"
    );
    // Upheld on the corrected declaration: 10 + 8 + 4.
    office.work("upheld", &[("working_parents", "2")]).await;
    let decided = office.objection(&objection.id).await;
    assert_eq!(decided.status, ObjectionStatus::Upheld as i32);
    assert_eq!(decided.score_after, 22);
    assert_eq!(office.application(&sara.id).await.score, 22);

    // After the days no objection is taken; then the final ranking.
    office.set_today("2027-02-22T08:00:00Z");
    let late = office.object(&pietro, "troppo tardi").await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    // Sara (22, ISEE €12,000) before Beatrice (22, no ISEE): the declared value first.
    let expected = vec![
        (1, luca.code.clone(), 24),
        (2, sara.code.clone(), 22),
        (3, beatrice.code.clone(), 22),
        (4, tommaso.code.clone(), 18),
        (5, pietro.code.clone(), 14),
    ];
    assert_eq!(
        publish(&office, &window, RankingStage::Final)
            .await
            .unwrap(),
        expected
    );

    // Three places, offered in the final order with seven days to answer.
    assert_eq!(
        office.offer_places(&window).await,
        [luca.code.clone(), sara.code.clone(), beatrice.code.clone()]
    );
    let offered = office.application(&luca.id).await;
    assert_eq!(offered.offer_status, OfferStatus::Offered as i32);
    assert_eq!(offered.offer_last_day, "2027-03-01");
    assert!(
        office.offer_places(&window).await.is_empty(),
        "no place is free"
    );
    // Sara's family refuses: the place passes to Tommaso at once. Luca's accepts.
    assert_eq!(
        office.answer(&sara, false).await.unwrap(),
        vec![tommaso.code.clone()]
    );
    assert!(office.answer(&luca, true).await.unwrap().is_empty());
    let twice = office.answer(&luca, false).await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    // Beatrice's and Tommaso's offers lapse the day after their last day; the places
    // pass on — to Pietro, the only one left.
    office.set_today("2027-03-01T23:30:00Z");
    let timers = &office.education.running.workers.timers;
    // Four timers fire: the two answered offers' find nothing to do.
    assert_eq!(timers.run_once().await.unwrap(), 4);
    for (who, status) in [
        (&luca, OfferStatus::Accepted),
        (&sara, OfferStatus::Refused),
        (&beatrice, OfferStatus::Lapsed),
        (&tommaso, OfferStatus::Lapsed),
        (&pietro, OfferStatus::Offered),
    ] {
        assert_eq!(
            office.application(&who.id).await.offer_status,
            status as i32,
            "{}",
            who.code
        );
    }
    let late = office.answer(&beatrice, true).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(office.answer(&pietro, true).await.unwrap().is_empty());

    // As published, and as open data: nothing about the children (a canary name and
    // fiscal code), nothing per criterion.
    let published = office
        .enrolment()
        .await
        .get_ranking(counter("enrolment.read").request(GetRankingRequest {
            window_id: window.id.clone(),
            stage: RankingStage::Final as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .ranking
        .unwrap();
    assert_eq!(published.criteria_version, 1);
    let csv = &published.open_data_csv;
    assert_eq!(
        csv,
        &format!(
            "posizione;codice_domanda;punteggio\r\n1;{};24\r\n2;{};22\r\n3;{};22\r\n4;{};18\r\n5;{};14\r\n",
            luca.code, sara.code, beatrice.code, tommaso.code, pietro.code
        )
    );
    let stored: String = sqlx::query_scalar::<_, String>(
        "select rows::text || open_data_csv from enrolment_rankings",
    )
    .fetch_all(office.pool())
    .await
    .unwrap()
    .concat();
    for canary in [
        code_of(BEATRICE),
        "Beatrice".to_owned(),
        "Neri".to_owned(),
        luca.child_ref.clone(),
    ] {
        assert!(
            !csv.contains(&canary) && !stored.contains(&canary),
            "{canary} published"
        );
    }

    // Events carry ids: no fiscal code, no name, no score.
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("select payload from outbox")
        .fetch_all(office.pool())
        .await
        .unwrap();
    let events: Vec<String> = sqlx::query_scalar("select event_type from outbox order by id")
        .fetch_all(office.pool())
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "education.application.filed")
            .count(),
        5
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "education.ranking.published")
            .count(),
        2
    );
    for (event, times) in [
        ("education.offer.made", 5),
        ("education.offer.answered", 5),
        ("education.objection.filed", 1),
        ("education.objection.decided", 1),
    ] {
        assert_eq!(
            events.iter().filter(|e| *e == event).count(),
            times,
            "{event}"
        );
    }
    for payload in payloads {
        let text = String::from_utf8_lossy(&payload);
        for who in [LUCA, SARA, PIETRO, TOMMASO, BEATRICE, ROSSI] {
            assert!(!text.contains(&code_of(who)), "a fiscal code in an event");
            assert!(!text.contains(who.0), "a name in an event");
        }
        assert!(!text.contains("datore"), "the family's grounds in an event");
    }
}

/// Each bad application gets a precise error and writes nothing: not in the register,
/// not in education, not asked of the registry.
/// The ids of the windows open today in La Spezia, as the counter lists them.
async fn open_today(office: &Office) -> Vec<String> {
    office
        .enrolment()
        .await
        .list_windows(counter("enrolment.windows").request(ListWindowsRequest {
            municipality_istat_code: SPEZIA.into(),
            open_today: true,
        }))
        .await
        .unwrap()
        .into_inner()
        .windows
        .into_iter()
        .map(|w| w.id)
        .collect()
}

#[tokio::test]
async fn the_counter_lists_the_windows_open_today_of_its_own_municipality() {
    let office = Box::pin(Office::start("2027-01-09T09:00:00Z")).await;
    let nursery = office.open_window(SchoolLevel::Nido).await;
    let pre_school = office.open_window(SchoolLevel::Infanzia).await;
    let list = |municipality: &str, open_today: bool| ListWindowsRequest {
        municipality_istat_code: municipality.into(),
        open_today,
    };
    let ids = |windows: Vec<Window>| windows.into_iter().map(|w| w.id).collect::<Vec<_>>();
    let mut enrolment = office.enrolment().await;
    let listed = enrolment
        .list_windows(counter("enrolment.windows").request(list(SPEZIA, false)))
        .await
        .unwrap()
        .into_inner()
        .windows;
    // The nursery's first, then the pre-school's, each with its dates and criteria.
    assert_eq!(
        ids(listed.clone()),
        [nursery.id.clone(), pre_school.id.clone()]
    );
    assert_eq!(listed[0].opens_on, "2027-01-10");
    assert_eq!(listed[0].criteria, nursery.criteria);

    // The day before the first: none open; on the first day and on the last, both.
    assert!(open_today(&office).await.is_empty());
    office.set_today("2027-01-10T07:00:00Z");
    assert_eq!(open_today(&office).await.len(), 2);
    office.set_today("2027-02-10T22:30:00Z"); // 23:30 in Rome: still the last day
    assert_eq!(open_today(&office).await.len(), 2);
    office.set_today("2027-02-10T23:30:00Z"); // 00:30 on 11 February in Rome
    assert!(open_today(&office).await.is_empty());

    // Another municipality's windows are not the counter's to list; a bad code is named.
    let refused = enrolment
        .list_windows(counter("enrolment.windows").request(list("010025", false)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = enrolment
        .list_windows(counter("enrolment.windows").request(list("11015", false)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("municipality_istat_code"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn bad_applications_are_refused_naming_what_is_wrong_and_nothing_is_written() {
    let office = Box::pin(Office::start("2027-01-05T09:00:00Z")).await;
    office.resident_family(ROSSI, LUCA).await;
    office.resident_family(ESPOSITO, LEO).await;
    let window = office.open_window(SchoolLevel::Nido).await;
    let pre_school = office.open_window(SchoolLevel::Infanzia).await;
    let mut enrolment = office.enrolment().await;
    let client = enrolment.clone();
    let refused = |request: FileApplicationRequest| {
        let mut enrolment = client.clone();
        async move {
            enrolment
                .file_application(counter("enrolment.apply").request(request))
                .await
                .unwrap_err()
        }
    };

    // Before the window opens (5 January; it opens on the 10th).
    let status = refused(application(&window, ROSSI, LUCA)).await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("2027-01-10"),
        "{}",
        status.message()
    );

    office.set_today("2027-01-20T09:00:00Z");
    let field_of = |status: &tonic::Status| {
        let error = sportello_kit::ServiceError::from(status.clone());
        error
            .violations()
            .first()
            .map(|v| v.field.clone())
            .unwrap_or_default()
    };
    // Leo turns three in July 2027: past the nursery's 36 months on 1 September.
    let status = refused(application(&window, ESPOSITO, LEO)).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_of(&status), "child_fiscal_code");
    assert!(status.message().contains("36 mesi"), "{}", status.message());
    // Luca (May 2025) turns three only in May 2028: too young for pre-school in 2027/28.
    let status = refused(application(&pre_school, ROSSI, LUCA)).await;
    assert_eq!(field_of(&status), "child_fiscal_code");
    assert!(
        status.message().contains("30 aprile"),
        "{}",
        status.message()
    );
    // A negative ISEE value.
    let status = refused(with(application(&window, ROSSI, LUCA), 1, Some(-1), false)).await;
    assert_eq!(field_of(&status), "isee_value_cents");
    // An ISEE without its DSU.
    let mut no_dsu = with(application(&window, ROSSI, LUCA), 1, Some(9_000), false);
    no_dsu.dsu_protocol.clear();
    assert_eq!(field_of(&refused(no_dsu).await), "dsu_protocol");
    // A fiscal code that does not check.
    let mut bad = application(&window, ROSSI, LUCA);
    bad.child_fiscal_code.replace_range(
        15..16,
        if bad.child_fiscal_code.ends_with('A') {
            "B"
        } else {
            "A"
        },
    );
    assert_eq!(field_of(&refused(bad).await), "child_fiscal_code");
    // Three working parents.
    let three = with(application(&window, ROSSI, LUCA), 3, None, false);
    assert_eq!(field_of(&refused(three).await), "working_parents");
    // A window that does not exist.
    let mut nowhere = application(&window, ROSSI, LUCA);
    nowhere.window_id = uuid::Uuid::now_v7().to_string();
    assert_eq!(refused(nowhere).await.code(), Code::NotFound);

    assert_eq!(count(office.pool(), "enrolment_applications").await, 0);
    assert_eq!(count(office.pool(), "routing.registrations").await, 0);
    assert_eq!(
        count(
            office.pool(),
            "registry.audit_log where action = 'fact.is_resident'"
        )
        .await,
        0
    );

    // The first is filed; a second for the same child is refused, naming the first.
    let first = enrolment
        .file_application(counter("enrolment.apply").request(application(&window, ROSSI, LUCA)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let mut second = application(&window, ROSSI, LUCA);
    second.working_parents = 2;
    let status = refused(second).await;
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains(&first.code),
        "{}",
        status.message()
    );
    assert_eq!(count(office.pool(), "enrolment_applications").await, 1);
    assert_eq!(count(office.pool(), "routing.registrations").await, 1);

    // After the window closes.
    office.set_today("2027-02-11T09:00:00Z");
    let status = refused(application(&window, VERDI, TOMMASO)).await;
    assert_eq!(status.code(), Code::FailedPrecondition);

    // A window for the same service and year again; dates the wrong way round.
    let again = OpenWindowRequest {
        municipality_istat_code: SPEZIA.into(),
        level: SchoolLevel::Nido as i32,
        school_year: 2027,
        opens_on: "2027-03-01".into(),
        closes_on: "2027-03-31".into(),
        starts_on: "2027-09-01".into(),
        criteria: Some(criteria()),
        idempotency_key: String::new(),
        objection_days: 0,
        places: 0,
        acceptance_days: 0,
        check_percent: 0,
    };
    let status = enrolment
        .open_window(education_office().request(again.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    let backwards = OpenWindowRequest {
        school_year: 2028,
        closes_on: "2027-02-01".into(),
        starts_on: "2028-09-01".into(),
        ..again.clone()
    };
    let status = enrolment
        .open_window(education_office().request(backwards))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), "closes_on");
    let mut bands = criteria();
    bands.income_bands.pop();
    let unbounded = OpenWindowRequest {
        school_year: 2028,
        starts_on: "2028-09-01".into(),
        criteria: Some(bands),
        ..again
    };
    let status = enrolment
        .open_window(education_office().request(unbounded))
        .await
        .unwrap_err();
    assert_eq!(field_of(&status), "criteria.income_bands");
    assert_eq!(count(office.pool(), "enrolment_windows").await, 2);
}

/// A family that moves out of the municipality: each move flags the application for
/// review as back-office work, with the reason; nothing changes until the specialist
/// decides — here, the residence points go.
#[tokio::test]
async fn a_family_moving_out_flags_its_application_for_review() {
    let office = Box::pin(Office::start("2027-01-20T09:00:00Z")).await;
    let (mario, luca_id) = office.resident_family(ROSSI, LUCA).await;
    let window = office.open_window(SchoolLevel::Nido).await;
    let luca = file(
        &office,
        with(application(&window, ROSSI, LUCA), 2, Some(7_000), false),
    )
    .await;
    assert_eq!((luca.resident, luca.score), (true, 24));

    office.moves_away(&luca_id, "2027-01-20").await;
    office.moves_away(&mario, "2027-01-20").await;
    office.facts_flow().await;
    let reviews: Vec<(String, String)> =
        sqlx::query_as("select reason, status from enrolment_reviews order by reason")
            .fetch_all(office.pool())
            .await
            .unwrap();
    assert_eq!(reviews.len(), 2, "{reviews:?}");
    assert!(reviews.iter().all(|(reason, status)| status == "open"
        && reason.contains("trasferito in un altro comune")
        && reason.contains("2027-01-20")));
    assert!(
        reviews
            .iter()
            .any(|(reason, _)| reason.contains("(bambino"))
    );
    assert!(
        reviews
            .iter()
            .any(|(reason, _)| reason.contains("(richiedente"))
    );
    // Routing's back office has them, without a name or a fiscal code.
    let notes: Vec<String> = sqlx::query_scalar(
        "select context_note from routing.work_items where service_code = 'education.application_review'",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    assert_eq!(notes.len(), 2);
    for note in &notes {
        assert!(note.contains(&luca.code), "{note}");
        assert!(
            !note.contains("Rossi") && !note.contains(&code_of(LUCA)),
            "{note}"
        );
    }
    // Nothing changed by itself.
    assert_eq!(office.application(&luca.id).await.score, 24);

    // Another exchange finds nothing new: one review per move (its id derives from the
    // event's, so even a redelivery past the inbox would add none).
    office.facts_flow().await;
    assert_eq!(count(office.pool(), "enrolment_reviews").await, 2);

    // The final ranking waits for the reviews.
    office.set_today("2027-02-11T08:00:00Z");
    publish(&office, &window, RankingStage::Provisional)
        .await
        .unwrap();
    office.set_today("2027-02-22T08:00:00Z");
    let waiting = publish(&office, &window, RankingStage::Final)
        .await
        .unwrap_err();
    assert_eq!(waiting.code(), Code::FailedPrecondition);
    assert!(
        waiting.message().contains("2 domande in riesame"),
        "{}",
        waiting.message()
    );

    office.work("residence_lost", &[]).await;
    office.work("kept", &[]).await;
    let after = office.application(&luca.id).await;
    assert_eq!((after.resident, after.score), (false, 14));
    assert_eq!(
        publish(&office, &window, RankingStage::Final)
            .await
            .unwrap(),
        vec![(1, luca.code.clone(), 14)]
    );
}

/// The check of self-declarations by sample (DPR 445/2000 art. 71): the window's share is
/// drawn with the provisional ranking and handed to the back office; the final ranking
/// waits for it; a declaration found untrue is rescored on the true values (art. 75).
#[tokio::test]
async fn self_declarations_are_checked_by_sample_art_71() {
    let office = Box::pin(Office::start("2027-01-20T09:00:00Z")).await;
    for (parent, child) in [(ROSSI, LUCA), (BIANCHI, SARA), (VERDI, TOMMASO)] {
        office.resident_family(parent, child).await;
    }
    // 34 % of three: one.
    let window = office.open_window_checking(SchoolLevel::Nido, 34).await;
    assert_eq!(window.check_percent, 34);
    for (parent, child) in [(ROSSI, LUCA), (BIANCHI, SARA), (VERDI, TOMMASO)] {
        file(
            &office,
            with(application(&window, parent, child), 2, Some(7_000), false),
        )
        .await;
    }
    office.set_today("2027-02-11T08:00:00Z");
    publish(&office, &window, RankingStage::Provisional)
        .await
        .unwrap();
    let drawn: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "select application_id, reason from enrolment_reviews where kind = 'declaration_check'",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    assert_eq!(drawn.len(), 1, "{drawn:?}");
    assert!(drawn[0].1.contains("art. 71"), "{}", drawn[0].1);
    office.hand_over().await;
    assert_eq!(
        count(
            office.pool(),
            "routing.work_items where service_code = 'education.declaration_check'"
        )
        .await,
        1
    );

    office.set_today("2027-02-22T08:00:00Z");
    let waiting = publish(&office, &window, RankingStage::Final)
        .await
        .unwrap_err();
    assert_eq!(waiting.code(), Code::FailedPrecondition);
    // Nobody in that family works after all: 10 + 0 + 6.
    office
        .work("not_truthful", &[("working_parents", "0")])
        .await;
    let checked = office.application(&drawn[0].0.to_string()).await;
    assert_eq!((checked.working_parents, checked.score), (0, 16));
    let status: String = sqlx::query_scalar("select status from enrolment_reviews")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(status, "not_truthful");
    let last = publish(&office, &window, RankingStage::Final)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((last.0, last.1, last.2), (3, checked.code, 16));
}
