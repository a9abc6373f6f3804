//! Documents handed in with a declaration of change of residence: checked at intake,
//! kept once in the registry's document store in the declaration's transaction, handed
//! to routing's address check as references, and read back audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, count, operator};
use prost::Message as _;
use sportello_kit::{CallContext, Role, testing::TestService};
use sportello_proto::{
    common::v1::Channel,
    registry::v1::{
        AttachedDocument, DeclareResidenceChangeRequest, GetResidenceChangeDocumentRequest,
        MovingMember, NewAddress, Relationship, Resident,
    },
    routing::v1::{
        GetRegistrationRequest, WorkRequested, protocol_service_client::ProtocolServiceClient,
    },
};
use tonic::Code;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

fn sha256_hex(content: &[u8]) -> String {
    sportello_kit::documents::Sha256Hex::of(content).to_string()
}

fn attached(content: &[u8], media_type: &str, title: &str) -> AttachedDocument {
    AttachedDocument {
        content: content.to_vec(),
        media_type: media_type.into(),
        title: title.into(),
    }
}

/// The Rossi family moves whole to Via Domenico Chiodo, with `documents`.
fn declaration(
    family: &[Resident],
    documents: Vec<AttachedDocument>,
) -> DeclareResidenceChangeRequest {
    let members = [
        (&family[0], Relationship::Head),
        (&family[1], Relationship::Spouse),
        (&family[2], Relationship::Child),
    ]
    .iter()
    .map(|(m, r)| MovingMember {
        resident_id: m.id.clone(),
        relationship: *r as i32,
    })
    .collect::<Vec<_>>();
    DeclareResidenceChangeRequest {
        municipality_istat_code: "011015".into(),
        family_id: family[0].family_id.clone(),
        declarant_id: members[0].resident_id.clone(),
        members,
        address: Some(NewAddress {
            street_code: "CHIODO".into(),
            house_number: "5".into(),
        }),
        channel: Channel::Web as i32,
        documents,
        ..Default::default()
    }
}

async fn desk() -> (Harness, TestService, Vec<Resident>) {
    let (h, routing) = Harness::start_with_routing().await;
    let family = h.rossi_family().await;
    h.street("CHIODO", "Via", "Domenico Chiodo").await;
    (h, routing, family)
}

async fn get_document(
    h: &Harness,
    context: CallContext,
    sha256: &str,
) -> Result<sportello_proto::registry::v1::GetResidenceChangeDocumentResponse, tonic::Status> {
    h.changes()
        .await
        .get_residence_change_document(context.request(GetResidenceChangeDocumentRequest {
            sha256: sha256.into(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_pdf_handed_in_is_kept_referred_to_in_the_work_request_and_read_back_audited() {
    let (h, routing, family) = Box::pin(desk()).await;
    let form = attached(PDF, "application/pdf", "Modulo di dichiarazione");
    let change = h
        .changes()
        .await
        .declare_residence_change(
            operator("residence.declare").request(declaration(&family, vec![form])),
        )
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    let hash = sha256_hex(PDF);

    // Routing's work request carries the reference, never the bytes.
    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.work.requested'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let work = WorkRequested::decode(payload.as_slice()).unwrap();
    assert_eq!(work.documents.len(), 1);
    let reference = &work.documents[0];
    assert_eq!(reference.sha256, hash);
    assert_eq!(reference.media_type, "application/pdf");
    assert_eq!(reference.size_bytes, PDF.len() as u64);
    assert_eq!(reference.title, "Modulo di dichiarazione");
    assert!(
        !payload.windows(PDF.len()).any(|w| w == PDF),
        "no bytes in the event"
    );

    // Routing takes the work with the reference: the specialist's item lists it.
    h.registry.running.workers.relay.run_once().await.unwrap();
    routing
        .running
        .workers
        .consumers
        .iter()
        .find(|c| c.durable_name().ends_with("work-registry"))
        .unwrap()
        .run_once(50)
        .await
        .unwrap();
    let (sha256, title): (String, String) = sqlx::query_as(
        "select documents -> 0 ->> 'sha256', documents -> 0 ->> 'title' from routing.work_items",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(
        (sha256.as_str(), title.as_str()),
        (hash.as_str(), "Modulo di dichiarazione")
    );

    // The protocol register records the form's hash.
    let registration = ProtocolServiceClient::new(routing.channel().await)
        .get_registration(operator("protocol.read").request(GetRegistrationRequest {
            registration_id: change.protocol_registration_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(registration.document_sha256, hash);

    // An operator of the municipality reads it back; the read is audited.
    let audited = count(h.pool(), "audit_log").await;
    let read = get_document(&h, operator("residence.document"), &hash.to_uppercase())
        .await
        .unwrap();
    assert_eq!(read.content, PDF);
    assert_eq!(read.media_type, "application/pdf");
    assert_eq!(read.title, "Modulo di dichiarazione");
    assert_eq!(read.residence_change_id, change.id);
    assert_eq!(count(h.pool(), "audit_log").await, audited + 1);
    let (kind, purpose, disclosed): (String, String, i32) = sqlx::query_as(
        "select record_kind, purpose, cardinality(resident_ids) from audit_log order by at desc, id desc limit 1",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(kind, "residence_change_document");
    assert_eq!(purpose, "residence.document");
    assert_eq!(disclosed, 3, "the document discloses the three who moved");

    // Not for another municipality, not for a kiosk, not for an unknown hash.
    let elsewhere = CallContext::new("gateway", "operator:ge-1", "010025", "residence.document")
        .unwrap()
        .with_roles(&[Role::Polivalente]);
    assert_eq!(
        get_document(&h, elsewhere, &hash).await.unwrap_err().code(),
        Code::NotFound
    );
    let kiosk = CallContext::new(
        "gateway",
        "operator:kiosk-1",
        "011015",
        "residence.document",
    )
    .unwrap()
    .with_roles(&[Role::Kiosk]);
    assert_eq!(
        get_document(&h, kiosk, &hash).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        get_document(&h, operator("residence.document"), &sha256_hex(JPEG))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        count(h.pool(), "audit_log").await,
        audited + 1,
        "refused reads disclose nothing"
    );
}

#[tokio::test]
async fn a_jpeg_declared_as_pdf_refuses_the_declaration_and_nothing_is_written() {
    let (h, _routing, family) = Box::pin(desk()).await;
    let documents = vec![
        attached(PDF, "application/pdf", "Modulo di dichiarazione"),
        attached(JPEG, "application/pdf", "Contratto di locazione"),
    ];
    let error = h
        .changes()
        .await
        .declare_residence_change(
            operator("residence.declare").request(declaration(&family, documents)),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    let refused = sportello_kit::ServiceError::from(error);
    assert_eq!(refused.violations()[0].field, "documents[1].media_type");

    // A title with personal data is refused too: it would travel to routing.
    let error = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(declaration(
            &family,
            vec![attached(
                PDF,
                "application/pdf",
                "Modulo di RSSMRA80A01E463K",
            )],
        )))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let refused = sportello_kit::ServiceError::from(error);
    assert_eq!(refused.violations()[0].field, "documents[0].title");

    // At most five documents.
    let six = vec![attached(PDF, "application/pdf", "Allegato"); 6];
    let error = h
        .changes()
        .await
        .declare_residence_change(operator("residence.declare").request(declaration(&family, six)))
        .await
        .unwrap_err();
    let refused = sportello_kit::ServiceError::from(error);
    assert_eq!(refused.violations()[0].field, "documents");

    for table in [
        "documents",
        "residence_change_documents",
        "residence_changes",
        // The set-up's own events (residents, street) are there; none of a change.
        "outbox where event_type like 'registry.residence_change.%' \
         or event_type like 'registry.work.%'",
        "routing.registrations",
    ] {
        assert_eq!(count(h.pool(), table).await, 0, "nothing in {table}");
    }
}

#[tokio::test]
async fn the_same_document_handed_in_twice_is_kept_once() {
    let (h, _routing, family) = Box::pin(desk()).await;
    let form = attached(PDF, "application/pdf", "Modulo di dichiarazione");
    let copy = attached(PDF, "application/pdf", "Copia del modulo");
    h.changes()
        .await
        .declare_residence_change(
            operator("residence.declare").request(declaration(&family, vec![form, copy])),
        )
        .await
        .unwrap();
    assert_eq!(
        count(h.pool(), "documents").await,
        1,
        "one row for one content"
    );
    assert_eq!(count(h.pool(), "residence_change_documents").await, 2);
    let hash = sha256_hex(PDF);
    let read = get_document(&h, operator("residence.document"), &hash)
        .await
        .unwrap();
    assert_eq!(read.content, PDF);
    assert_eq!(
        read.title, "Modulo di dichiarazione",
        "the first it was handed in as"
    );
}

/// A scan of several pages is larger than tonic's default 4 MiB message: the service
/// takes it, up to the document size limit.
#[tokio::test]
async fn a_document_larger_than_grpcs_default_message_is_taken() {
    let (h, _routing, family) = Box::pin(desk()).await;
    let mut scan = PDF.to_vec();
    scan.resize(6 * 1024 * 1024, b' ');
    h.changes()
        .await
        .declare_residence_change(operator("residence.declare").request(declaration(
            &family,
            vec![attached(&scan, "application/pdf", "Modulo scansionato")],
        )))
        .await
        .unwrap();
    let size: i64 = sqlx::query_scalar("select size_bytes from documents")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(size, 6 * 1024 * 1024);
}
