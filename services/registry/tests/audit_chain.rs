//! The audit log is hash-chained: every read's row follows the one before, the chain
//! verifies, and a row changed afterwards is found at its seq.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, operator};
use sportello_kit::audit::{self, Break, Problem};
use sportello_proto::registry::v1::GetResidentRequest;

#[tokio::test]
async fn reads_are_chained_and_a_changed_row_is_found() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut residents = h.residents().await;
    for member in &family {
        residents
            .get_resident(operator("case.serve").request(GetResidentRequest {
                resident_id: member.id.clone(),
                as_of: String::new(),
            }))
            .await
            .unwrap();
    }
    let reads = h.audit_rows().await;
    assert!(reads >= family.len() as i64);
    let chain = audit::verify(h.pool(), "registry", "audit_log")
        .await
        .unwrap();
    assert!(chain.is_intact(), "{chain}");
    assert_eq!(chain.rows as i64, reads);
    let schema = audit::verify_schema(h.pool(), "registry").await.unwrap();
    assert!(schema.is_intact(), "{schema:?}");

    // Someone with the database's keys says the second read had another purpose.
    sqlx::raw_sql(
        "begin;
         alter table registry.audit_log disable trigger user;
         update registry.audit_log set purpose = 'statistics' where seq = 2;
         alter table registry.audit_log enable trigger user;
         commit;",
    )
    .execute(h.pool())
    .await
    .unwrap();
    let chain = audit::verify(h.pool(), "registry", "audit_log")
        .await
        .unwrap();
    assert_eq!(
        chain.first_bad,
        Some(Break {
            seq: 2,
            problem: Problem::Changed
        })
    );
}
