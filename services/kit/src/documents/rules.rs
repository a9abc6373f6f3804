//! The intake checks, in one place: every store and every service applies these.

use std::{fmt, str::FromStr};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{MediaType, StoredDocument};
use crate::ServiceError;

/// The default size limit: 10 MiB, more than a scanned multi-page form needs and well
/// under a gRPC message's limit with room for the rest of a request.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// A SHA-256 as 64 lowercase hex digits: how the protocol register and work requests
/// name a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// The hash of `content`.
    pub fn of(content: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(content)))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sha256Hex {
    type Err = &'static str;

    /// 64 hex digits, either case (kept lowercase).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err("deve essere di 64 cifre esadecimali / must be 64 hex digits")
        }
    }
}

/// A document that passed the intake checks, ready to store. Only
/// [`DocumentRules::check`] makes one.
#[derive(Clone)]
pub struct CheckedDocument {
    reference: StoredDocument,
    content: Bytes,
}

impl CheckedDocument {
    /// Its reference: hash, media type, size.
    pub fn reference(&self) -> &StoredDocument {
        &self.reference
    }

    /// The bytes.
    pub fn content(&self) -> &Bytes {
        &self.content
    }
}

impl fmt::Debug for CheckedDocument {
    // The content may hold personal data: never in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedDocument")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// The intake checks: an allowed media type, content that agrees with it, not empty, at
/// most `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentRules {
    max_bytes: u64,
}

impl Default for DocumentRules {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// `prefix.field`, or `field` alone at the top of a request.
fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

impl DocumentRules {
    /// Rules with a size limit of `max_bytes` (at least 1).
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        Self {
            max_bytes: max_bytes.max(1),
        }
    }

    /// The size limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Checks `content` declared as `media_type`. `prefix` is the document's path in the
    /// request (`documents[1]`; empty for a request that is the document), so an error
    /// names `documents[1].media_type` or `documents[1].content`.
    pub fn check(
        &self,
        prefix: &str,
        content: Bytes,
        media_type: &str,
    ) -> Result<CheckedDocument, ServiceError> {
        let declared: MediaType = media_type.parse().map_err(|e: super::media::NotAllowed| {
            ServiceError::invalid_field(path(prefix, "media_type"), e.to_string())
        })?;
        if content.is_empty() {
            return Err(ServiceError::invalid_field(
                path(prefix, "content"),
                "è vuoto / is empty",
            ));
        }
        let size_bytes = content.len() as u64;
        if size_bytes > self.max_bytes {
            return Err(ServiceError::invalid_field(
                path(prefix, "content"),
                format!(
                    "{size_bytes} byte superano il limite di {limit} byte / {size_bytes} bytes \
                     exceed the size limit of {limit} bytes",
                    limit = self.max_bytes
                ),
            ));
        }
        if !declared.matches(&content) {
            let found = MediaType::sniff(&content).map_or_else(
                || "un tipo non ammesso / a type not allowed".to_owned(),
                |t| t.to_string(),
            );
            return Err(ServiceError::invalid_field(
                path(prefix, "media_type"),
                format!(
                    "il contenuto non è {declared} (sembra {found}) / the content is not \
                     {declared} (it looks like {found})"
                ),
            ));
        }
        Ok(CheckedDocument {
            reference: StoredDocument {
                sha256: Sha256Hex::of(&content),
                media_type: declared,
                size_bytes,
            },
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ErrorKind;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n";
    const JPEG: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];

    fn field_of(error: &ServiceError) -> &str {
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        &error.violations()[0].field
    }

    #[test]
    fn a_good_document_gets_its_hash_type_and_size() {
        let checked = DocumentRules::default()
            .check("", Bytes::from_static(PDF), "application/pdf")
            .unwrap();
        assert_eq!(checked.reference().media_type, MediaType::Pdf);
        assert_eq!(checked.reference().size_bytes, PDF.len() as u64);
        assert_eq!(checked.reference().sha256, Sha256Hex::of(PDF));
        assert_eq!(checked.reference().sha256.as_str().len(), 64);
        assert!(
            checked
                .reference()
                .sha256
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
    }

    #[test]
    fn a_jpeg_declared_as_pdf_is_refused_naming_the_media_type() {
        let error = DocumentRules::default()
            .check("documents[0]", Bytes::from_static(JPEG), "application/pdf")
            .unwrap_err();
        assert_eq!(field_of(&error), "documents[0].media_type");
        assert!(
            error.message().contains("image/jpeg"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn a_type_outside_the_list_is_refused() {
        let error = DocumentRules::default()
            .check(
                "",
                Bytes::from_static(b"MZ\x90\x00"),
                "application/x-msdownload",
            )
            .unwrap_err();
        assert_eq!(field_of(&error), "media_type");
    }

    #[test]
    fn empty_and_oversized_content_is_refused_naming_the_content_and_the_limit() {
        let rules = DocumentRules::with_max_bytes(16);
        let error = rules
            .check("", Bytes::new(), "application/pdf")
            .unwrap_err();
        assert_eq!(field_of(&error), "content");
        let big = [PDF, &[b' '; 16]].concat();
        let error = rules
            .check("documents[2]", Bytes::from(big), "application/pdf")
            .unwrap_err();
        assert_eq!(field_of(&error), "documents[2].content");
        assert!(error.message().contains("16 bytes"), "{}", error.message());
    }

    #[test]
    fn hashes_parse_in_either_case_and_are_kept_lowercase() {
        let upper = "AB".repeat(32);
        assert_eq!(
            upper.parse::<Sha256Hex>().unwrap().as_str(),
            "ab".repeat(32)
        );
        assert!("abc".parse::<Sha256Hex>().is_err());
        assert!("zz".repeat(32).parse::<Sha256Hex>().is_err());
    }
}
