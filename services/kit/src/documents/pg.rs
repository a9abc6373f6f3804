//! The document store in PostgreSQL: the kit's `documents` table in the service's own
//! schema.

use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::{
    CheckedDocument, Document, DocumentRules, DocumentStore, MediaType, Sha256Hex, StoredDocument,
    not_found,
};
use crate::{Db, ServiceError, UnitOfWork, uow::SqlTimestamp};

/// Documents in the service's PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct PgDocuments {
    db: Db,
    rules: DocumentRules,
}

impl PgDocuments {
    /// The store in the service's database, checking with `rules`.
    pub fn new(db: Db, rules: DocumentRules) -> Self {
        Self { db, rules }
    }

    /// Writes `document` on `conn` unless a row has its hash already. The row there is
    /// the same document: same bytes, so the same size and — the allowed types'
    /// signatures being disjoint — the same media type.
    async fn write(
        conn: &mut PgConnection,
        document: &CheckedDocument,
        now: jiff::Timestamp,
    ) -> Result<StoredDocument, ServiceError> {
        let reference = document.reference();
        sqlx::query(
            "insert into documents (sha256, media_type, size_bytes, content, created_at)
             values ($1, $2, $3, $4, $5) on conflict (sha256) do nothing",
        )
        .bind(reference.sha256.as_str())
        .bind(reference.media_type.as_str())
        .bind(i64::try_from(reference.size_bytes).map_err(ServiceError::internal)?)
        .bind(document.content().as_ref())
        .bind(SqlTimestamp::from(now))
        .execute(&mut *conn)
        .await?;
        Ok(reference.clone())
    }
}

impl DocumentStore for PgDocuments {
    fn rules(&self) -> &DocumentRules {
        &self.rules
    }

    fn store_in<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>> {
        Box::pin(async move {
            let now = uow.now();
            Self::write(uow.conn(), document, now).await
        })
    }

    fn store<'a>(
        &'a self,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>> {
        Box::pin(async move {
            let mut uow = self.db.begin().await?;
            let now = uow.now();
            let stored = Self::write(uow.conn(), document, now).await?;
            uow.commit().await?;
            Ok(stored)
        })
    }

    fn get<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, Result<Document, ServiceError>> {
        Box::pin(async move {
            let row: Option<(String, i64, Vec<u8>)> = sqlx::query_as(
                "select media_type, size_bytes, content from documents where sha256 = $1",
            )
            .bind(sha256.as_str())
            .fetch_optional(self.db.pool())
            .await?;
            let (media_type, size_bytes, content) = row.ok_or_else(not_found)?;
            let media_type: MediaType = media_type.parse().map_err(ServiceError::internal)?;
            Ok(Document {
                reference: StoredDocument {
                    sha256: sha256.clone(),
                    media_type,
                    size_bytes: u64::try_from(size_bytes).map_err(ServiceError::internal)?,
                },
                content: content.into(),
            })
        })
    }
}
