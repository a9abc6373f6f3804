//! Retention: a closed report is a procedure file — never deleted by the janitor, it shows
//! up in the discard proposals once its archival term is over.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{CANARY, Office, SPEZIA, urp_office, web};
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        FileReportRequest, Location, ReplyOutcome, ReplyToReportRequest, ReportKind, Requester,
    },
};

fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

#[tokio::test]
async fn a_decision_is_never_deleted_and_shows_up_in_the_discard_proposals() {
    let office = Office::start("2026-11-06T09:00:00Z").await;
    office.define("strade.buca", ReportKind::Report, true).await;
    let filed = office
        .reports()
        .await
        .file_report(web().request(FileReportRequest {
            municipality_istat_code: SPEZIA.into(),
            category_code: "strade.buca".into(),
            description: "Buca profonda davanti al civico 12 di via del Prione.".into(),
            location: Some(Location {
                latitude: Some(44.10253),
                longitude: Some(9.82415),
                address: "Via del Prione 12".into(),
            }),
            requester: Some(Requester {
                fiscal_code: CANARY.into(),
                first_name: "Mario".into(),
                last_name: "Rossi".into(),
                ..Default::default()
            }),
            channel: Channel::Web as i32,
            source: "test".into(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    office.ctx.clock.advance(days(5));
    office
        .reports()
        .await
        .reply_to_report(
            urp_office("urp.report.reply").request(ReplyToReportRequest {
                report_id: filed.id.clone(),
                text: "La buca è stata chiusa dalla squadra di manutenzione.".into(),
                outcome: ReplyOutcome::Resolved as i32,
                idempotency_key: uuid::Uuid::new_v4().to_string(),
            }),
        )
        .await
        .unwrap();
    let janitor = &office.urp.running.workers.janitor;

    // Years pass, short of the archival term: nothing is proposed, nothing deleted.
    office.ctx.clock.advance(days(3_000));
    janitor.run_once().await.unwrap();
    assert!(
        sportello_kit::janitor::discard_proposals(office.pool())
            .await
            .unwrap()
            .is_empty()
    );

    // Past it: proposed once, however many passes, and the file is still whole.
    office.ctx.clock.advance(days(700));
    let purged = janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("urp.reports"), 1);
    let purged = janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("urp.reports"), 0);
    let proposals = sportello_kit::janitor::discard_proposals(office.pool())
        .await
        .unwrap();
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    assert_eq!(proposals[0].category, "urp.reports");
    assert_eq!(proposals[0].record_table, "reports");
    assert_eq!(proposals[0].record_id, filed.id);
    assert!(proposals[0].class.contains("segnalazioni e reclami"));
    let (status, last_name): (String, String) =
        sqlx::query_as("select status, requester_last_name from reports where id = $1::uuid")
            .bind(&filed.id)
            .fetch_one(office.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), last_name.as_str()), ("closed", "Rossi"));
}
