//! Reports end to end: a report filed with a fiscal code, an e-mail address and a phone
//! number in its description, registered in routing's protocol register, handed to the
//! back office on the service charter's clock, replied to and closed — real PostgreSQL,
//! NATS and routing, the workers stepped by the manual clock — and the canary fiscal
//! code found in no event, case note, log line or trace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use common::{CANARY, Office, SPEZIA, urp_office, web};
use sportello_kit::{CallContext, Role};
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        FileReportRequest, GetReportRequest, GetReportRequesterRequest, ListReportsRequest,
        Location, ReplyOutcome, ReplyToReportRequest, ReportKind, ReportStatus, Requester,
    },
};
use tonic::Code;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the first subscriber of this test binary");
    captured
}

fn pothole(description: &str) -> FileReportRequest {
    FileReportRequest {
        municipality_istat_code: SPEZIA.into(),
        category_code: "strade.buca".into(),
        description: description.into(),
        location: Some(Location {
            latitude: Some(44.10253),
            longitude: Some(9.82415),
            address: "Via del Prione 12".into(),
        }),
        attachments: vec![],
        media_url: String::new(),
        requester: Some(Requester {
            fiscal_code: CANARY.into(),
            first_name: "Mario".into(),
            last_name: "Rossi".into(),
            email: "mario.rossi@example.org".into(),
            phone: String::new(),
        }),
        channel: Channel::Web as i32,
        source: "test".into(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    }
}

#[tokio::test]
async fn a_report_is_registered_worked_on_the_charters_clock_replied_and_closed() {
    let logs = capture();
    // Friday 6 November 2026, 10:00 in Rome.
    let office = Office::start("2026-11-06T09:00:00Z").await;
    office.define("strade.buca", ReportKind::Report, true).await;
    let description = format!(
        "Buca profonda davanti al civico 12. Sono {CANARY}, chiamatemi al 333 1234567 o \
         scrivete a mario.rossi@example.org"
    );
    let filed = office
        .reports()
        .await
        .file_report(web().request(pothole(&description)))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(filed.code, "2026-000001");
    assert!(!filed.protocol_number.is_empty(), "registered at once");
    assert_eq!(filed.status, ReportStatus::Received as i32);
    // 30 days from 6 November end on Sunday 6 December: due Monday the 7th.
    assert_eq!(filed.due_date, "2026-12-07");
    assert_eq!(filed.masked, ["fiscal_code", "email", "phone"]);
    assert!(!filed.description.contains(CANARY));
    assert!(filed.description.contains("[codice fiscale]"));

    // The back office's work, on the charter's clock.
    office.work_flows().await;
    let (state, due, note): (String, Option<jiff_sqlx::Date>, String) = sqlx::query_as(
        "select state, due_date, context_note from routing.work_items
         where service_code = 'urp.report_reply'",
    )
    .fetch_one(office.pool())
    .await
    .unwrap();
    assert_eq!(state, "waiting");
    assert_eq!(due.unwrap().to_jiff().to_string(), "2026-12-07");
    assert!(note.contains("2026-000001"), "{note}");
    assert!(note.contains("[codice fiscale]"), "{note}");

    // The office reads who wrote it (audited), then replies.
    let private = office
        .reports()
        .await
        .get_report_requester(
            urp_office("urp.report.reply").request(GetReportRequesterRequest {
                report_id: filed.id.clone(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(private.requester.unwrap().fiscal_code, CANARY);
    assert!(private.description.contains(CANARY));
    let audited: i64 = sqlx::query_scalar("select count(*) from report_reads_audit")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let chain = sportello_kit::audit::verify(office.pool(), "urp", "report_reads_audit")
        .await
        .unwrap();
    assert!(chain.is_intact() && chain.rows == 1, "{chain}");
    // Someone outside the URP may not.
    let outsider = CallContext::new("gateway", "operator:op-7", SPEZIA, "curiosity")
        .unwrap()
        .with_roles(&[Role::Polivalente]);
    let refused = office
        .reports()
        .await
        .get_report_requester(outsider.request(GetReportRequesterRequest {
            report_id: filed.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    office
        .ctx
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 5));
    let closed = office
        .reports()
        .await
        .reply_to_report(
            urp_office("urp.report.reply").request(ReplyToReportRequest {
                report_id: filed.id.clone(),
                text: "La buca è stata chiusa dalla squadra di manutenzione l'11 novembre.".into(),
                outcome: ReplyOutcome::Resolved as i32,
                idempotency_key: uuid::Uuid::new_v4().to_string(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(closed.status, ReportStatus::Closed as i32);
    assert!(!closed.reply_protocol_number.is_empty());
    assert!(closed.reply.contains("2026-000001"));
    // A second reply is refused, saying why.
    let again = office
        .reports()
        .await
        .reply_to_report(
            urp_office("urp.report.reply").request(ReplyToReportRequest {
                report_id: filed.id.clone(),
                text: "Seconda risposta, che non deve passare.".into(),
                outcome: ReplyOutcome::Resolved as i32,
                idempotency_key: String::new(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(
        again.message().contains("già avuto risposta"),
        "{}",
        again.message()
    );

    // Routing completes the work with URP's outcome.
    office.work_flows().await;
    let (state, outcome): (String, Option<String>) = sqlx::query_as(
        "select state, outcome_code from routing.work_items
         where service_code = 'urp.report_reply'",
    )
    .fetch_one(office.pool())
    .await
    .unwrap();
    assert_eq!(
        (state.as_str(), outcome.as_deref()),
        ("completed", Some("resolved"))
    );

    // Followed by code, as the citizen does.
    let followed = office
        .reports()
        .await
        .get_report(web().request(GetReportRequest {
            municipality_istat_code: SPEZIA.into(),
            code_or_id: "2026-000001".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(followed.status, ReportStatus::Closed as i32);
    let listed = office
        .reports()
        .await
        .list_reports(web().request(ListReportsRequest {
            municipality_istat_code: SPEZIA.into(),
            statuses: vec![ReportStatus::Closed as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reports.len(), 1);

    // The canary: in URP's own columns, nowhere else.
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
    assert!(payloads.len() >= 4, "the report's and the work's events");
    let notes: Vec<String> = sqlx::query_scalar(
        "select context_note from routing.work_items
         union all select h::text from routing.case_history h",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("file_report"), "the logs were captured");
    for (place, text) in payloads
        .iter()
        .map(|p| ("event", String::from_utf8_lossy(p).into_owned()))
        .chain(notes.into_iter().map(|n| ("case note", n)))
        .chain([("logs and traces", logs)])
    {
        assert!(!text.contains(CANARY), "the fiscal code in a {place}");
        assert!(
            !text.contains("mario.rossi@example.org"),
            "the e-mail in a {place}"
        );
    }
}

#[tokio::test]
async fn bad_reports_are_refused_by_name_and_nothing_is_written() {
    let office = Office::start("2026-11-06T09:00:00Z").await;
    office.define("strade.buca", ReportKind::Report, true).await;
    office
        .define("servizi.reclamo", ReportKind::Complaint, false)
        .await;

    // An unknown category: the active ones are named.
    let mut request = pothole("Una buca in mezzo alla strada, profonda.");
    request.category_code = "strade.voragine".into();
    let error = office
        .reports()
        .await
        .file_report(web().request(request))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().contains("category_code"),
        "{}",
        error.message()
    );
    assert!(
        error.message().contains("strade.buca"),
        "{}",
        error.message()
    );

    // A pothole needs a place.
    let mut request = pothole("Una buca in mezzo alla strada, profonda.");
    request.location = None;
    let error = office
        .reports()
        .await
        .file_report(web().request(request))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().starts_with("location"),
        "{}",
        error.message()
    );

    // Nothing registered, nothing stored, nothing emitted.
    for table in ["reports", "outbox"] {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(office.pool())
                .await
                .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    let registered: i64 = sqlx::query_scalar("select count(*) from routing.registrations")
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(registered, 0, "nothing in the protocol register");

    // A complaint needs no place, and is never listed publicly.
    let mut complaint = pothole("Allo sportello mi hanno fatto aspettare due ore senza motivo.");
    complaint.category_code = "servizi.reclamo".into();
    complaint.location = None;
    let filed = office
        .reports()
        .await
        .file_report(web().request(complaint))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(filed.kind, ReportKind::Complaint as i32);
    let listed = office
        .reports()
        .await
        .list_reports(web().request(ListReportsRequest {
            municipality_istat_code: SPEZIA.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reports.is_empty(), "complaints are not public");
    // Codes are guessable: a complaint is not read by its code from the web, only by its
    // id (the token its filer got), or by the municipality's operators.
    let by_code = office
        .reports()
        .await
        .get_report(web().request(GetReportRequest {
            municipality_istat_code: SPEZIA.into(),
            code_or_id: filed.code.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(by_code.code(), Code::NotFound);
    for (context, key) in [
        (web(), filed.id.clone()),
        (urp_office("urp.report"), filed.code.clone()),
    ] {
        let found = office
            .reports()
            .await
            .get_report(context.request(GetReportRequest {
                municipality_istat_code: SPEZIA.into(),
                code_or_id: key,
            }))
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        assert_eq!(found.id, filed.id);
    }

    // Sent twice the same day without a key (a client that lost the answer): one report.
    let mut once = pothole("Lampione spento da una settimana in Via Chiodo.");
    once.idempotency_key = String::new();
    let first = office
        .reports()
        .await
        .file_report(web().request(once.clone()))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let second = office
        .reports()
        .await
        .file_report(web().request(once))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!((first.id, first.code), (second.id, second.code));
}
