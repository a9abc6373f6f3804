//! Which document store a service uses, from its environment.

use std::{path::PathBuf, sync::Arc};

use super::{DEFAULT_MAX_BYTES, DocumentRules, DocumentStore, ObjectDocuments, PgDocuments};
use crate::{ConfigError, Db, Env, ServiceError};

/// Where documents are kept: unset or `postgres` for the service's own schema (the
/// embedded default); `file:///absolute/path` for a directory through `object_store`.
///
/// `s3://bucket/prefix` is not built in: `object_store`'s `aws` feature takes its
/// dependency tree from 84 crates to 171 — reqwest, hyper, quick-xml, and rustls on
/// aws-lc-rs, a C library built with cmake, beside the ring every service already uses —
/// in every service's build. To add it, enable the
/// feature in the workspace's `object_store` line, parse the URL here with
/// `object_store::aws::AmazonS3Builder::from_env().with_url(url)`, and wrap the store in
/// [`ObjectDocuments::new`]: nothing else changes.
pub const DOCUMENT_STORE_URL_VAR: &str = "DOCUMENT_STORE_URL";
/// The size limit of one document, in bytes; 10 MiB when unset.
pub const DOCUMENT_MAX_BYTES_VAR: &str = "DOCUMENT_MAX_BYTES";

/// The document store's back end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The service's PostgreSQL schema.
    Postgres,
    /// A directory on the local file system.
    LocalFileSystem(PathBuf),
}

/// The document store's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentStoreConfig {
    /// Where.
    pub backend: Backend,
    /// The intake checks.
    pub rules: DocumentRules,
}

impl Default for DocumentStoreConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Postgres,
            rules: DocumentRules::default(),
        }
    }
}

impl DocumentStoreConfig {
    /// From `DOCUMENT_STORE_URL` and `DOCUMENT_MAX_BYTES`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_bytes: u64 = env.or(DOCUMENT_MAX_BYTES_VAR, DEFAULT_MAX_BYTES)?;
        if max_bytes == 0 {
            return Err(ConfigError::invalid(
                DOCUMENT_MAX_BYTES_VAR,
                "0",
                "must be at least 1",
            ));
        }
        let backend = match env.raw(DOCUMENT_STORE_URL_VAR) {
            None | Some("postgres") => Backend::Postgres,
            Some(url) => match url.strip_prefix("file://") {
                Some(path) if path.starts_with('/') => Backend::LocalFileSystem(path.into()),
                Some(_) => {
                    return Err(ConfigError::invalid(
                        DOCUMENT_STORE_URL_VAR,
                        url,
                        "a file URL names an absolute path: file:///var/lib/sportello/documents",
                    ));
                }
                None => {
                    return Err(ConfigError::invalid(
                        DOCUMENT_STORE_URL_VAR,
                        url,
                        "must be `postgres` or file:///path (S3 is not built in: see the kit's \
                         documents module)",
                    ));
                }
            },
        };
        Ok(Self {
            backend,
            rules: DocumentRules::with_max_bytes(max_bytes),
        })
    }

    /// Opens the store. A directory is created if missing.
    pub fn open(&self, db: &Db) -> Result<Arc<dyn DocumentStore>, ServiceError> {
        Ok(match &self.backend {
            Backend::Postgres => Arc::new(PgDocuments::new(db.clone(), self.rules)),
            Backend::LocalFileSystem(root) => {
                std::fs::create_dir_all(root).map_err(|e| {
                    ServiceError::unavailable("the document store is unavailable", e)
                })?;
                Arc::new(ObjectDocuments::local(root, self.rules)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn postgres_is_the_default_and_a_file_url_names_a_directory() {
        let default = DocumentStoreConfig::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(default, DocumentStoreConfig::default());
        assert_eq!(default.rules.max_bytes(), 10 * 1024 * 1024);
        let file = DocumentStoreConfig::from_env(&Env::from_pairs([
            ("DOCUMENT_STORE_URL", "file:///srv/documents"),
            ("DOCUMENT_MAX_BYTES", "1024"),
        ]))
        .unwrap();
        assert_eq!(
            file.backend,
            Backend::LocalFileSystem("/srv/documents".into())
        );
        assert_eq!(file.rules.max_bytes(), 1024);
    }

    #[test]
    fn other_urls_and_a_zero_limit_are_refused_naming_the_variable() {
        for (var, value) in [
            ("DOCUMENT_STORE_URL", "s3://bucket/prefix"),
            ("DOCUMENT_STORE_URL", "file://relative"),
            ("DOCUMENT_MAX_BYTES", "0"),
        ] {
            let error =
                DocumentStoreConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert!(error.to_string().contains(var), "{error}");
        }
    }
}
