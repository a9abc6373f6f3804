//! Access requests end to end, on the law's calendar (2026: Easter Monday is 6 April):
//! access to documents with counter-interested parties (one objecting in time, one too
//! late), an irregular request restarting its term, silence becoming refusal; a FOIA
//! request suspended for a counter-interested party, partly refused on an art. 5-bis
//! ground, reviewed with the Garante consulted, and listed in the published register
//! without personal data; a review asked after its term refused with nothing written —
//! real PostgreSQL, NATS and routing, the manual clock moved day by day.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{CANARY, Office, SPEZIA, transparency_officer, urp_office, web};
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        AccessDecision, AccessKind, AccessRequestRecord, AccessRequester, AccessState,
        ConsultGaranteRequest, DecideAccessRequest, DecideReviewRequest, FileAccessRequest,
        GetAccessRequest, ListAccessRegisterRequest, NotifyCounterInterestedRequest,
        NotifyIrregularRequest, RecordCorrectionRequest, RecordObjectionRequest,
        RequestReviewRequest, ReviewBy, ReviewDecision,
    },
};
use tonic::Code;

/// 10:00 in Rome on `day` (winter time until 29 March 2026, then summer time).
fn morning(office: &Office, day: &str) {
    let date: jiff::civil::Date = day.parse().unwrap();
    let at = date
        .at(10, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .unwrap()
        .timestamp();
    office.ctx.clock.set(at);
}

fn request(kind: AccessKind, subject: &str, interest: &str) -> FileAccessRequest {
    FileAccessRequest {
        municipality_istat_code: SPEZIA.into(),
        kind: kind as i32,
        subject: subject.into(),
        interest: interest.into(),
        requester: Some(AccessRequester {
            fiscal_code: CANARY.into(),
            first_name: "Mario".into(),
            last_name: "Rossi".into(),
            email: "mario.rossi@example.org".into(),
        }),
        channel: Channel::Pec as i32,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    }
}

async fn file(office: &Office, r: FileAccessRequest) -> AccessRequestRecord {
    office
        .accesses()
        .await
        .file_access(web().request(r))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap()
}

async fn get(office: &Office, id: &str) -> AccessRequestRecord {
    office
        .accesses()
        .await
        .get_access(urp_office("urp.access").request(GetAccessRequest {
            access_id: id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap()
}

async fn work(office: &Office, code: &str) -> (String, Option<String>, Option<String>) {
    let (state, due, outcome): (String, Option<jiff_sqlx::Date>, Option<String>) = sqlx::query_as(
        "select state, due_date, outcome_code from routing.work_items where service_code = $1",
    )
    .bind(code)
    .fetch_one(office.pool())
    .await
    .unwrap();
    (state, due.map(|d| d.to_jiff().to_string()), outcome)
}

#[tokio::test]
async fn access_to_documents_waits_for_the_counter_interested_parties_and_decides_with_remedies() {
    let office = Office::start("2026-03-02T09:00:00Z").await;
    morning(&office, "2026-03-02");
    let filed = file(
        &office,
        request(
            AccessKind::Documents,
            "Copia della pratica edilizia del condominio di Via del Prione 20",
            "Sono proprietario confinante e devo valutare un ricorso per le distanze",
        ),
    )
    .await;
    assert_eq!(filed.state, AccessState::Received as i32);
    assert!(!filed.protocol_number.is_empty(), "registered at once");
    // 2 March + 30 = Wednesday 1 April; silence is refusal.
    assert_eq!(filed.due_date, "2026-04-01");
    assert_eq!(filed.outcome_on_expiry, "silence_refusal");
    office.work_flows().await;
    assert_eq!(
        work(&office, "urp.access_request").await,
        ("waiting".into(), Some("2026-04-01".into()), None)
    );

    // Two neighbours are sent the request on Thursday 5 March: their 10 days end on
    // Sunday the 15th, so Monday the 16th. Access to documents keeps its 30 days.
    morning(&office, "2026-03-05");
    let notified = office
        .accesses()
        .await
        .notify_counter_interested(urp_office("urp.access").request(
            NotifyCounterInterestedRequest {
                access_id: filed.id.clone(),
                parties: 2,
                received_date: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(notified.objection_deadline, "2026-03-16");
    assert_eq!(
        notified.due_date, "2026-04-01",
        "no suspension for documents"
    );

    // The first objects within its days.
    morning(&office, "2026-03-09");
    office
        .accesses()
        .await
        .record_objection(urp_office("urp.access").request(RecordObjectionRequest {
            access_id: filed.id.clone(),
            party: 1,
            reasons: "La pratica contiene dati sulla mia salute: chiedo di oscurarli".into(),
        }))
        .await
        .unwrap();
    // Deciding while the second may still object is refused, saying until when.
    morning(&office, "2026-03-10");
    let early = office
        .accesses()
        .await
        .decide_access(urp_office("urp.access").request(DecideAccessRequest {
            access_id: filed.id.clone(),
            decision: AccessDecision::Granted as i32,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("2026-03-16"),
        "{}",
        early.message()
    );
    // The second objects on the 17th: too late.
    morning(&office, "2026-03-17");
    let late = office
        .accesses()
        .await
        .record_objection(urp_office("urp.access").request(RecordObjectionRequest {
            access_id: filed.id.clone(),
            party: 2,
            reasons: "Mi oppongo all'accesso ai documenti del condominio".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(
        late.message().contains("oltre i 10 giorni"),
        "{}",
        late.message()
    );

    // The office grants in part: the health data withheld, twelve pages of copies.
    let decided = office
        .accesses()
        .await
        .decide_access(
            urp_office("urp.access").request(DecideAccessRequest {
                access_id: filed.id.clone(),
                decision: AccessDecision::PartiallyGranted as i32,
                grounds: vec!["24.6.d".into()],
                reasons:
                    "Accesso ai grafici e alle relazioni; oscurati i certificati medici allegati \
                      dal controinteressato."
                        .into(),
                deferred_until: String::new(),
                copy_pages: 12,
                published_url: String::new(),
                idempotency_key: uuid::Uuid::new_v4().to_string(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(decided.state, AccessState::Decided as i32);
    assert_eq!(decided.copy_cost_cents, 300);
    assert!(
        decided.remedies.contains("art. 25 c. 4"),
        "{}",
        decided.remedies
    );
    assert!(!decided.decision_protocol_number.is_empty());
    assert_eq!(decided.objections.len(), 1);
    office.work_flows().await;
    assert_eq!(
        work(&office, "urp.access_request").await.2.as_deref(),
        Some("partially_granted")
    );
    // Review by the transparency officer is civic access's remedy, not this one's.
    let review = office
        .accesses()
        .await
        .request_review(web().request(RequestReviewRequest {
            access_id: filed.id.clone(),
            by: ReviewBy::Requester as i32,
            reasons: "Chiedo il riesame del diniego parziale".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(review.code(), Code::FailedPrecondition);
    assert!(
        review.message().contains("difensore civico"),
        "{}",
        review.message()
    );
}

#[tokio::test]
async fn an_irregular_request_restarts_its_term_and_silence_is_refusal() {
    let office = Office::start("2026-03-02T09:00:00Z").await;
    morning(&office, "2026-03-02");
    let filed = file(
        &office,
        request(
            AccessKind::Documents,
            "Verbali della commissione edilizia di febbraio",
            "Ho presentato un progetto esaminato in quella seduta",
        ),
    )
    .await;
    morning(&office, "2026-03-09");
    let irregular = office
        .accesses()
        .await
        .notify_irregular(urp_office("urp.access").request(NotifyIrregularRequest {
            access_id: filed.id.clone(),
            reason: "Manca la copia del documento d'identità del richiedente".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(irregular.state, AccessState::Irregular as i32);
    assert_eq!(irregular.due_date, "", "no term runs");
    morning(&office, "2026-03-16");
    let corrected = office
        .accesses()
        .await
        .record_correction(urp_office("urp.access").request(RecordCorrectionRequest {
            access_id: filed.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    // 16 March + 30 = Wednesday 15 April.
    assert_eq!(corrected.due_date, "2026-04-15");

    // Nobody decides: the day after the 15th the request is deemed refused.
    morning(&office, "2026-04-16");
    office.work_flows().await;
    let silent = get(&office, &filed.id).await;
    assert_eq!(silent.state, AccessState::SilentlyRefused as i32);
    assert!(
        silent.remedies.contains("art. 25 c. 4"),
        "{}",
        silent.remedies
    );
    assert_eq!(
        work(&office, "urp.access_request").await.2.as_deref(),
        Some("silence_refusal")
    );

    // A second irregular notice, or one after the first 10 days, is refused.
    let again = office
        .accesses()
        .await
        .notify_irregular(urp_office("urp.access").request(NotifyIrregularRequest {
            access_id: filed.id.clone(),
            reason: "Manca ancora un documento necessario".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_foia_request_partly_refused_is_reviewed_and_registered_without_personal_data() {
    let office = Office::start("2026-03-02T09:00:00Z").await;
    morning(&office, "2026-03-02");
    let filed = file(
        &office,
        request(
            AccessKind::CivicGeneralised,
            &format!(
                "Gli esposti sul rumore del locale di Piazza Verdi e le risposte del Comune, \
                 compreso quello di {CANARY}"
            ),
            "",
        ),
    )
    .await;
    assert!(!filed.subject.contains(CANARY), "masked at intake");
    assert_eq!(filed.due_date, "2026-04-01");
    assert_eq!(filed.outcome_on_expiry, "decision_due");

    // The venue's owner is told on the 5th and objects on the 10th: 5 days suspended,
    // 1 April becomes Easter Monday 6 April, so Tuesday 7 April.
    morning(&office, "2026-03-05");
    office
        .accesses()
        .await
        .notify_counter_interested(urp_office("urp.access").request(
            NotifyCounterInterestedRequest {
                access_id: filed.id.clone(),
                parties: 1,
                received_date: String::new(),
            },
        ))
        .await
        .unwrap();
    morning(&office, "2026-03-10");
    let objected = office
        .accesses()
        .await
        .record_objection(urp_office("urp.access").request(RecordObjectionRequest {
            access_id: filed.id.clone(),
            party: 1,
            reasons: "Gli esposti contengono i nomi dei vicini e i miei dati".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(objected.due_date, "2026-04-07");
    office.work_flows().await;
    assert_eq!(
        work(&office, "urp.access_request").await.1.as_deref(),
        Some("2026-04-07")
    );

    // Partly refused on Friday 20 March: the names of the neighbours are personal data.
    morning(&office, "2026-03-20");
    let decided = office
        .accesses()
        .await
        .decide_access(
            urp_office("urp.access").request(DecideAccessRequest {
                access_id: filed.id.clone(),
                decision: AccessDecision::PartiallyGranted as i32,
                grounds: vec!["5bis.2.a".into()],
                reasons: "Si rilasciano esposti e risposte, oscurati i nomi e gli indirizzi degli \
                      esponenti."
                    .into(),
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    // Granted over an objection: sent no earlier than 15 days on; review until 30 days
    // on, 19 April being a Sunday.
    assert_eq!(decided.deliver_from_date, "2026-04-04");
    assert_eq!(decided.review_deadline, "2026-04-20");
    assert!(
        decided.remedies.contains("2026-04-20"),
        "{}",
        decided.remedies
    );

    // The requester asks for review on the 25th: 20 days, to Tuesday 14 April.
    morning(&office, "2026-03-25");
    let under_review = office
        .accesses()
        .await
        .request_review(web().request(RequestReviewRequest {
            access_id: filed.id.clone(),
            by: ReviewBy::Requester as i32,
            reasons: "I nomi degli esponenti sono già noti a tutti nel quartiere".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(under_review.state, AccessState::UnderReview as i32);
    assert_eq!(under_review.review_due_date, "2026-04-14");
    // A back-office specialist is not the transparency officer.
    let not_rpct = office
        .accesses()
        .await
        .decide_review(urp_office("urp.access").request(DecideReviewRequest {
            access_id: filed.id.clone(),
            decision: ReviewDecision::Confirmed as i32,
            reasons: "Confermo la decisione".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(not_rpct.code(), Code::PermissionDenied);

    // The Garante is consulted on the 27th and answers on 1 April: 5 days suspended,
    // 19 April, a Sunday, so Monday 20 April.
    morning(&office, "2026-03-27");
    office
        .accesses()
        .await
        .consult_garante(transparency_officer().request(ConsultGaranteRequest {
            access_id: filed.id.clone(),
            opinion_received: false,
        }))
        .await
        .unwrap();
    morning(&office, "2026-04-01");
    let answered = office
        .accesses()
        .await
        .consult_garante(transparency_officer().request(ConsultGaranteRequest {
            access_id: filed.id.clone(),
            opinion_received: true,
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(answered.review_due_date, "2026-04-20");

    morning(&office, "2026-04-08");
    let reviewed = office
        .accesses()
        .await
        .decide_review(transparency_officer().request(DecideReviewRequest {
            access_id: filed.id.clone(),
            decision: ReviewDecision::Confirmed as i32,
            reasons: "Sentito il Garante, l'oscuramento dei nomi è confermato.".into(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .unwrap()
        .into_inner()
        .access
        .unwrap();
    assert_eq!(reviewed.state, AccessState::Reviewed as i32);
    office.work_flows().await;
    assert_eq!(
        work(&office, "urp.access_review").await.2.as_deref(),
        Some("confirmed")
    );

    // The published register: the line is there, nothing names anyone.
    let register = office
        .accesses()
        .await
        .list_access_register(web().request(ListAccessRegisterRequest {
            municipality_istat_code: SPEZIA.into(),
            year: 2026,
            page: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(register.entries.len(), 1);
    let line = &register.entries[0];
    assert_eq!(line.decision, AccessDecision::PartiallyGranted as i32);
    assert_eq!(line.grounds, ["5bis.2.a"]);
    assert!(line.counter_interested && line.review_requested);
    assert_eq!(line.review_decision, ReviewDecision::Confirmed as i32);
    let text = format!("{register:?}");
    for personal in [CANARY, "Mario", "Rossi", "mario.rossi@example.org"] {
        assert!(!text.contains(personal), "{personal} in the register");
    }
    // Nor in any event or case note.
    let mut payloads: Vec<Vec<u8>> = sqlx::query_scalar("select payload from outbox")
        .fetch_all(office.pool())
        .await
        .unwrap();
    payloads.extend(
        sqlx::query_scalar::<_, Vec<u8>>("select payload from routing.outbox")
            .fetch_all(office.pool())
            .await
            .unwrap(),
    );
    let notes: Vec<String> = sqlx::query_scalar("select context_note from routing.work_items")
        .fetch_all(office.pool())
        .await
        .unwrap();
    for text in payloads
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .chain(notes)
    {
        assert!(!text.contains(CANARY));
        assert!(!text.contains("mario.rossi@example.org"));
    }
}

#[tokio::test]
async fn a_review_asked_after_its_term_is_refused_and_nothing_is_written() {
    let office = Office::start("2026-03-02T09:00:00Z").await;
    morning(&office, "2026-03-02");
    let filed = file(
        &office,
        request(
            AccessKind::CivicGeneralised,
            "Contratti di manutenzione del verde pubblico 2025",
            "",
        ),
    )
    .await;
    morning(&office, "2026-03-12");
    // A ground from the wrong law is named.
    let wrong = office
        .accesses()
        .await
        .decide_access(urp_office("urp.access").request(DecideAccessRequest {
            access_id: filed.id.clone(),
            decision: AccessDecision::Refused as i32,
            grounds: vec!["24.6.d".into()],
            reasons: "Motivo sbagliato per un accesso civico".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    assert!(
        wrong.message().starts_with("grounds[0]"),
        "{}",
        wrong.message()
    );

    office
        .accesses()
        .await
        .decide_access(urp_office("urp.access").request(DecideAccessRequest {
            access_id: filed.id.clone(),
            decision: AccessDecision::Refused as i32,
            grounds: vec!["5bis.2.c".into()],
            reasons:
                "I contratti contengono le offerte tecniche coperte da segreto commerciale".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    // Decided on Thursday 12 March: review until Saturday 11 April (a Saturday does not
    // move a term). On the 14th it is too late.
    morning(&office, "2026-04-14");
    office.work_flows().await;
    let outbox = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>("select count(*) from outbox")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = outbox(office.pool().clone()).await;
    let late = office
        .accesses()
        .await
        .request_review(web().request(RequestReviewRequest {
            access_id: filed.id.clone(),
            by: ReviewBy::Requester as i32,
            reasons: "Chiedo il riesame del diniego".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(
        late.message().contains("oltre il termine del 2026-04-11"),
        "{}",
        late.message()
    );
    assert_eq!(
        outbox(office.pool().clone()).await,
        before,
        "nothing emitted"
    );
    let unchanged = get(&office, &filed.id).await;
    assert_eq!(unchanged.state, AccessState::Decided as i32);
    assert_eq!(unchanged.review_requested_date, "");
}
