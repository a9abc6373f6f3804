//! The document store against a real PostgreSQL and a real directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use sportello_kit::{
    Api, ErrorKind,
    documents::{DocumentRules, DocumentStore, MediaType, ObjectDocuments, PgDocuments, Sha256Hex},
    testing::TestService,
};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

async fn start(ctx: &sportello_kit::testing::TestContext) -> TestService {
    TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await
}

/// What every store must do, whatever keeps the bytes.
async fn behaves_as_a_content_addressed_store(store: &dyn DocumentStore) {
    let stored = store
        .put(Bytes::from_static(PDF), "application/pdf")
        .await
        .unwrap();
    assert_eq!(stored.sha256, Sha256Hex::of(PDF));
    assert_eq!(stored.media_type, MediaType::Pdf);
    assert_eq!(stored.size_bytes, PDF.len() as u64);
    let again = store
        .put(Bytes::from_static(PDF), "application/pdf")
        .await
        .unwrap();
    assert_eq!(again, stored, "the same bytes twice are the same document");

    let read = store.get(&stored.sha256).await.unwrap();
    assert_eq!(read.content.as_ref(), PDF);
    assert_eq!(read.reference, stored);

    let error = store
        .put(Bytes::from_static(JPEG), "application/pdf")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert_eq!(error.violations()[0].field, "media_type");
    assert!(matches!(
        store.get(&Sha256Hex::of(JPEG)).await.unwrap_err().kind(),
        ErrorKind::NotFound
    ));

    let too_big = [PDF, &[b' '; 128]].concat();
    let error = store
        .put(Bytes::from(too_big), "application/pdf")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert_eq!(error.violations()[0].field, "content");
    assert!(
        error
            .message()
            .contains("bytes exceed the size limit of 128 bytes")
    );

    let unknown: Sha256Hex = "0".repeat(64).parse().unwrap();
    assert_eq!(
        store.get(&unknown).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn rules() -> DocumentRules {
    DocumentRules::with_max_bytes(128)
}

#[tokio::test]
async fn postgres_stores_each_content_once_and_refuses_what_intake_refuses() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db().clone();
    let store = PgDocuments::new(db.clone(), rules());
    behaves_as_a_content_addressed_store(&store).await;

    let rows: i64 = sqlx::query_scalar("select count(*) from documents")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "one row for the one content, none for the refused");
    service.stop().await;
}

#[tokio::test]
async fn postgres_stores_inside_a_unit_of_work_and_a_rollback_stores_nothing() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db().clone();
    let store = PgDocuments::new(db.clone(), rules());
    let checked = store
        .rules()
        .check("documents[0]", Bytes::from_static(PDF), "application/pdf")
        .unwrap();

    let mut uow = db.begin().await.unwrap();
    store.store_in(&mut uow, &checked).await.unwrap();
    drop(uow);
    let sha256 = &checked.reference().sha256;
    assert_eq!(
        store.get(sha256).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let mut uow = db.begin().await.unwrap();
    store.store_in(&mut uow, &checked).await.unwrap();
    uow.commit().await.unwrap();
    assert_eq!(store.get(sha256).await.unwrap().content.as_ref(), PDF);
    service.stop().await;
}

#[tokio::test]
async fn the_database_refuses_a_row_whose_size_is_not_its_content() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let refused = sqlx::query(
        "insert into documents (sha256, media_type, size_bytes, content, created_at)
         values ($1, 'application/pdf', 3, '\\x00', now())",
    )
    .bind("a".repeat(64))
    .execute(service.running.db().pool())
    .await;
    assert!(refused.is_err(), "size_bytes must be octet_length(content)");
    service.stop().await;
}

#[tokio::test]
async fn a_directory_through_object_store_behaves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectDocuments::local(dir.path(), rules()).unwrap();
    behaves_as_a_content_addressed_store(&store).await;

    let hash = Sha256Hex::of(PDF);
    let file = dir
        .path()
        .join("documents")
        .join(&hash.as_str()[..2])
        .join(hash.as_str());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        PDF,
        "one file, named by its hash"
    );
    let files = std::fs::read_dir(dir.path().join("documents"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "nothing else was written");
}
