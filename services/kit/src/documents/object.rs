//! The document store in object storage, through the `object_store` crate: each
//! document is one object named by its hash. Today the local file system
//! (`file:///path`); S3 and the other clouds are the same trait behind one of the
//! crate's features (see [`super::DocumentStoreConfig`]).

use std::sync::Arc;

use futures::future::BoxFuture;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, local::LocalFileSystem, path::Path,
};

use super::{
    CheckedDocument, Document, DocumentRules, DocumentStore, MediaType, Sha256Hex, StoredDocument,
    not_found,
};
use crate::{ServiceError, UnitOfWork};

/// Documents as objects: `documents/<first two hex digits>/<sha256>`. The media type is
/// not stored beside the object — not every back end keeps attributes (the local file
/// system does not) — but read back from the content's magic bytes, which intake made
/// sure agree with it.
#[derive(Debug, Clone)]
pub struct ObjectDocuments {
    store: Arc<dyn ObjectStore>,
    rules: DocumentRules,
}

impl ObjectDocuments {
    /// The store on `store`, checking with `rules`.
    pub fn new(store: Arc<dyn ObjectStore>, rules: DocumentRules) -> Self {
        Self { store, rules }
    }

    /// The store in directory `root` (which must exist), each write made durable
    /// (fsync) before it is acknowledged, as an object store's would be.
    pub fn local(root: &std::path::Path, rules: DocumentRules) -> Result<Self, ServiceError> {
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| ServiceError::unavailable("the document store is unavailable", e))?
            .with_fsync(true);
        Ok(Self::new(Arc::new(fs), rules))
    }

    fn location(sha256: &Sha256Hex) -> Path {
        let hash = sha256.as_str();
        Path::from_iter(["documents", &hash[..2], hash])
    }
}

/// A back end's failure: the caller is told to retry, the cause is logged.
fn unavailable(error: object_store::Error) -> ServiceError {
    ServiceError::unavailable("the document store is unavailable", error)
}

impl DocumentStore for ObjectDocuments {
    fn rules(&self) -> &DocumentRules {
        &self.rules
    }

    fn store_in<'a>(
        &'a self,
        _uow: &'a mut UnitOfWork,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>> {
        // Written at once, outside the transaction: see the trait.
        self.store(document)
    }

    fn store<'a>(
        &'a self,
        document: &'a CheckedDocument,
    ) -> BoxFuture<'a, Result<StoredDocument, ServiceError>> {
        Box::pin(async move {
            let reference = document.reference();
            let written = self
                .store
                .put_opts(
                    &Self::location(&reference.sha256),
                    document.content().clone().into(),
                    PutOptions::from(PutMode::Create),
                )
                .await;
            match written {
                // The same bytes are there already: content addressed, nothing to do.
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(reference.clone()),
                Err(error) => Err(unavailable(error)),
            }
        })
    }

    fn get<'a>(&'a self, sha256: &'a Sha256Hex) -> BoxFuture<'a, Result<Document, ServiceError>> {
        Box::pin(async move {
            let content = match self.store.get(&Self::location(sha256)).await {
                Ok(found) => found.bytes().await.map_err(unavailable)?,
                Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
                Err(error) => return Err(unavailable(error)),
            };
            let media_type = MediaType::sniff(&content).ok_or_else(|| {
                ServiceError::internal(format!("stored document {sha256} has no allowed type"))
            })?;
            Ok(Document {
                reference: StoredDocument {
                    sha256: sha256.clone(),
                    media_type,
                    size_bytes: content.len() as u64,
                },
                content,
            })
        })
    }
}
