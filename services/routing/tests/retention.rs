//! Retention: a closed case loses the person after RETENTION_CASES and stays as an
//! anonymous statistical row; a recent one keeps it; the protocol register is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, RESIDENCE, settings};
use sportello_proto::routing::v1::{PriorityCategory, Tier};

const ANAGRAFE: &[(&str, u32)] = &[("anagrafe", 3), ("urp", 1)];
const PERSON: &str = "rr_0123456789abcdef0123456789abcdef";

/// A case served and completed now, then given a person and a free-text reason, as a
/// case opened for a known requester and escalated with a note would have.
async fn served_case(desk: &mut Desk) -> uuid::Uuid {
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    let call = desk.call_next("m.rossi").await.unwrap();
    let id = call.case.unwrap().id;
    desk.complete("m.rossi", &id, "issued").await.unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    sqlx::query("update cases set requester_ref = $2 where id = $1")
        .bind(id)
        .bind(PERSON)
        .execute(desk.pool())
        .await
        .unwrap();
    sqlx::query("update case_history set reason = 'la sig.ra Bianchi tornerà' where case_id = $1")
        .bind(id)
        .execute(desk.pool())
        .await
        .unwrap();
    id
}

async fn person_and_reasons(desk: &Desk, id: uuid::Uuid) -> (Option<String>, i64, String) {
    let (person, status): (Option<String>, String) =
        sqlx::query_as("select requester_ref, status from cases where id = $1")
            .bind(id)
            .fetch_one(desk.pool())
            .await
            .unwrap();
    let reasons: i64 =
        sqlx::query_scalar("select count(*) from case_history where case_id = $1 and reason <> ''")
            .bind(id)
            .fetch_one(desk.pool())
            .await
            .unwrap();
    (person, reasons, status)
}

#[tokio::test]
async fn an_old_closed_case_is_anonymised_and_a_recent_one_not() {
    let mut desk = Desk::open(2, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, ANAGRAFE, 1).await;
    let old = served_case(&mut desk).await;
    desk.wait(200 * 24 * 60);
    let recent = served_case(&mut desk).await;
    desk.wait(201 * 24 * 60);

    let purged = desk
        .routing
        .running
        .workers
        .janitor
        .run_once()
        .await
        .unwrap();
    assert_eq!(purged.rule("routing.cases"), 1);
    assert!(purged.rule("routing.case_history") >= 1);

    // The old case stays as a statistical row, without the person or the operator's text.
    let (person, reasons, status) = person_and_reasons(&desk, old).await;
    assert_eq!((person, reasons, status.as_str()), (None, 0, "completed"));
    let (person, reasons, _) = person_and_reasons(&desk, recent).await;
    assert_eq!(person.as_deref(), Some(PERSON));
    assert!(reasons > 0);

    // Two hundred days on, the recent one's time has come too.
    desk.wait(200 * 24 * 60);
    let purged = desk
        .routing
        .running
        .workers
        .janitor
        .run_once()
        .await
        .unwrap();
    assert_eq!(purged.rule("routing.cases"), 1);
    let (person, reasons, _) = person_and_reasons(&desk, recent).await;
    assert_eq!((person, reasons), (None, 0));
    // Nothing of the protocol register is ever proposed for discard: it is permanent.
    let proposals = sportello_kit::janitor::discard_proposals(desk.pool())
        .await
        .unwrap();
    assert!(proposals.is_empty(), "{proposals:?}");
}
