//! The document store: the files that work and procedures refer to (a signed
//! declaration, a lease, an identity document's scan), addressed by the SHA-256 of their
//! content — the same hash the protocol register records for an incoming document
//! (DPR 445/2000 art. 53), so an entry and its document are tied by content alone.
//!
//! - [`DocumentStore`]: put bytes with a declared media type, get them back by hash;
//!   storing the same bytes twice stores them once (content addressed);
//! - [`DocumentRules`] (in `rules`): the intake checks, in one place — an allowed media
//!   type ([`MediaType`], in `media`), content whose magic bytes agree with it, not
//!   empty, not over the size limit;
//! - [`PgDocuments`] (in `pg`): PostgreSQL, the embedded default, in the service's own
//!   schema (a kit table), so a department stores a document in the unit of work that
//!   records its procedure;
//! - [`ObjectDocuments`] (in `object`): object storage through the `object_store`
//!   crate, today its local file system;
//! - [`DocumentStoreConfig`] (in `config`): which one, from `DOCUMENT_STORE_URL` and
//!   `DOCUMENT_MAX_BYTES`.
//!
//! A document of a procedure about a person holds personal data: it is read through the
//! owning service, which authorises and audits the read; its hash and media type are not
//! personal data and may travel in events.

mod config;
mod media;
mod object;
mod pg;
mod rules;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use config::{Backend, DOCUMENT_MAX_BYTES_VAR, DOCUMENT_STORE_URL_VAR, DocumentStoreConfig};
pub use media::{MediaType, NotAllowed};
pub use object::ObjectDocuments;
pub use pg::PgDocuments;
pub use rules::{CheckedDocument, DEFAULT_MAX_BYTES, DocumentRules, Sha256Hex};

use crate::{ServiceError, UnitOfWork};

/// A stored document, as procedures and work requests refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: Sha256Hex,
    /// The media type checked at intake.
    pub media_type: MediaType,
    /// The content's size in bytes.
    pub size_bytes: u64,
}

/// A document read back.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    /// What is stored, as it was taken in.
    pub reference: StoredDocument,
    /// The bytes.
    pub content: Bytes,
}

impl std::fmt::Debug for Document {
    // The content may hold personal data: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("reference", &self.reference)
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .finish()
    }
}

/// Where documents are kept. Every implementation checks documents with the same
/// [`DocumentRules`] before storing them.
pub trait DocumentStore: Send + Sync + std::fmt::Debug + 'static {
    /// The intake checks this store applies.
    fn rules(&self) -> &DocumentRules;

    /// Stores a checked document (again: a no-op) inside `uow`. PostgreSQL writes it in
    /// the unit of work's transaction, so it is committed with the procedure or not at
    /// all; object storage writes it at once — an object left by a unit of work that
    /// rolls back is referred to by nothing, and the same bytes taken in again find it.
    fn store_in<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>>;

    /// Stores a checked document on its own (again: a no-op).
    fn store<'a>(
        &'a self,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>>;

    /// The document with this hash; NOT_FOUND naming `sha256` when there is none.
    fn get<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, Result<Document, ServiceError>>;

    /// Checks `content` declared as `media_type` and stores it. A bad document is
    /// refused naming `media_type` or `content`.
    fn put<'a>(
        &'a self,
        content: Bytes,
        media_type: &'a str,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>> {
        Box::pin(async move {
            let checked = self.rules().check("", content, media_type)?;
            self.store(&checked).await
        })
    }
}

/// NOT_FOUND for a hash no document has.
pub(crate) fn not_found() -> ServiceError {
    ServiceError::new(
        crate::ErrorKind::NotFound,
        "sha256: nessun documento con questo hash / no document with this hash",
    )
}
