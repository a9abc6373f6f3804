//! The disabled parking badge (CUDE) end to end, and the rule on its health data: a badge
//! issued on a temporary certification (the registry says the holder is resident), its
//! plate authorised in the ZTL, the certification read by the mobility office only (and
//! audited), a lost badge replaced with the old number blocked, the holder's death
//! revoking it at once — and a canary medical reference found in no event, log line,
//! trace or case note afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use common::{Office, SPEZIA, Who, code_of, count, counter, mobility_desk};
use sportello_proto::{
    common::v1::Channel,
    mobility::v1::{
        BadgeState, IssueBadgeRequest, PermitKind, PlateInput, ReadCertificationRequest,
        ReplaceBadgeRequest, badge_service_client::BadgeServiceClient,
    },
    registry::v1::Sex,
};
use tonic::Code;

const ROSSI: Who = ("Rossi", "Mario", Sex::Male, "1950-01-01", "E463");
/// The medical reference that must never leave the sealed column.
const CANARY: &str = "ASL5-CANARY-7731";

/// Every log line and span of this test binary, as text.
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

fn badge_request(plates: &[&str], term: &str) -> IssueBadgeRequest {
    IssueBadgeRequest {
        municipality_istat_code: SPEZIA.into(),
        holder_fiscal_code: code_of(ROSSI),
        certification_reference: CANARY.into(),
        permanent: false,
        certification_term: term.into(),
        plates: plates
            .iter()
            .map(|p| PlateInput {
                plate: (*p).into(),
                kind: String::new(),
            })
            .collect(),
        channel: Channel::Counter as i32,
        idempotency_key: String::new(),
    }
}

#[tokio::test]
async fn a_badge_is_issued_passes_the_ztl_is_replaced_and_revoked_at_death_and_its_health_data_never_leak()
 {
    let logs = capture();
    // Monday 11 January 2027, 10:00 in Rome.
    let office = Office::start("2027-01-11T09:00:00Z").await;
    office.define_ztl(3_000, 0).await;
    let rossi = office.resident(ROSSI, "CHIODO", "8").await;
    let mut badges = BadgeServiceClient::new(office.mobility.channel().await);

    // Bad input first: nothing written.
    let no_term = badges
        .issue_badge(counter("badge.issue").request(badge_request(&["AB123CD"], "")))
        .await
        .unwrap_err();
    assert_eq!(no_term.code(), Code::InvalidArgument);
    assert!(
        no_term
            .message()
            .starts_with("certification_term: un contrassegno temporaneo richiede"),
        "{}",
        no_term.message()
    );
    let three = badges
        .issue_badge(counter("badge.issue").request(badge_request(
            &["AB123CD", "EF456GH", "LM789NP"],
            "2027-07-11",
        )))
        .await
        .unwrap_err();
    assert!(
        three.message().starts_with("plates: al massimo 2 targhe"),
        "{}",
        three.message()
    );
    assert_eq!(count(office.pool(), "badges").await, 0);

    // A broken hip, certified to 11 July: the badge lasts to then.
    let badge = badges
        .issue_badge(counter("badge.issue").request(badge_request(&["ab 123 cd"], "2027-07-11")))
        .await
        .unwrap()
        .into_inner()
        .badge
        .unwrap();
    assert_eq!(badge.number, "CUDE-011015-2027-00001");
    assert_eq!(badge.state, BadgeState::Active as i32);
    assert!(badge.temporary);
    assert_eq!(
        (badge.valid_from.as_str(), badge.valid_until.as_str()),
        ("2027-01-11", "2027-07-11")
    );
    assert_eq!(badge.platform_state, "pending");

    // Its plate passes the ZTL, though the holder lives outside it.
    office.tick().await;
    let seen = office.until_transit("AB123CD", true).await;
    assert_eq!(seen.permit_kind, PermitKind::DisabledBadge as i32);
    assert_eq!(seen.permit_number, "CUDE-011015-2027-00001");

    // The certification: not for a counter outside the mobility office; for it, audited.
    let refused = badges
        .read_certification(
            counter("badge.certification").request(ReadCertificationRequest {
                badge_id: badge.id.clone(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let read = badges
        .read_certification(mobility_desk("badge.renewal_check").request(
            ReadCertificationRequest {
                badge_id: badge.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.certification_reference, CANARY);
    assert_eq!(read.certification_term, "2027-07-11");
    let audited: (String, String) =
        sqlx::query_as("select actor, purpose from health_data_read_audit")
            .fetch_one(office.pool())
            .await
            .unwrap();
    assert_eq!(
        audited,
        ("operator:mob-2".into(), "badge.renewal_check".into())
    );
    let chain = sportello_kit::audit::verify(office.pool(), "mobility", "health_data_read_audit")
        .await
        .unwrap();
    assert!(chain.is_intact() && chain.rows == 1, "{chain}");

    // Lost: the old number blocked, a new one for the same certification and plate.
    let replaced = badges
        .replace_badge(counter("badge.replace").request(ReplaceBadgeRequest {
            badge_id: badge.id.clone(),
            cause: "lost".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let (blocked, new) = (replaced.blocked.unwrap(), replaced.badge.unwrap());
    assert_eq!(blocked.state, BadgeState::Blocked as i32);
    assert_eq!(blocked.replaced_by, new.id);
    assert_eq!(new.number, "CUDE-011015-2027-00002");
    assert_eq!(new.valid_until, "2027-07-11");
    office.tick().await;
    office
        .until_answer("AB123CD", |a| a.permit_number == "CUDE-011015-2027-00002")
        .await;
    let again = badges
        .read_certification(
            mobility_desk("badge.check").request(ReadCertificationRequest {
                badge_id: new.id.clone(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.certification_reference, CANARY,
        "re-sealed for the new badge"
    );

    // The holder dies: the badge is revoked at once and the plate leaves the whitelist.
    office.dies(&rossi, "2027-01-11").await;
    office.facts_flow().await;
    office.tick().await;
    let refused = office.until_transit("AB123CD", false).await;
    assert!(refused.reason.contains("cessato"), "{}", refused.reason);
    let state: String = sqlx::query_scalar("select state from badges where id = $1::uuid")
        .bind(&new.id)
        .fetch_one(office.pool())
        .await
        .unwrap();
    assert_eq!(state, "revoked");

    // The canary: sealed at rest, and nowhere else.
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("select certification from badges")
        .fetch_all(office.pool())
        .await
        .unwrap();
    for bytes in sealed {
        assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
    }
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("select payload from outbox")
        .fetch_all(office.pool())
        .await
        .unwrap();
    assert!(payloads.len() >= 5, "badge events were published");
    // Case notes: the back office's items and every case's history.
    let notes: Vec<String> = sqlx::query_scalar(
        "select context_note from routing.work_items
         union all select h::text from routing.case_history h",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("badge ended"), "the logs were captured");
    for (place, text) in payloads
        .iter()
        .map(|p| ("event", String::from_utf8_lossy(p).into_owned()))
        .chain(notes.into_iter().map(|n| ("case note", n)))
        .chain([("logs and traces", logs)])
    {
        assert!(!text.contains(CANARY), "the medical reference in a {place}");
    }
}
