//! The media types a document may have, and how its content proves it.
//!
//! The list is short on purpose: what a citizen or a department system hands in for a
//! procedure — a PDF (forms, leases, PEC attachments), a JPEG or PNG (a scan or a photo
//! of a document), a CAdES-signed file (`.p7m`, the usual Italian digital signature) and
//! XML (FatturaPA-like structured documents). Anything else (office files, archives,
//! executables) is refused at intake rather than stored unread.

use std::{fmt, str::FromStr};

/// An allowed media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/pdf`.
    Pdf,
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `application/pkcs7-mime`: a CAdES signed file (`.p7m`), DER-encoded.
    Pkcs7,
    /// `application/xml`.
    Xml,
}

impl MediaType {
    /// Every allowed type.
    pub const ALL: [Self; 5] = [Self::Pdf, Self::Jpeg, Self::Png, Self::Pkcs7, Self::Xml];

    /// The type's name, as in a `Content-Type` header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pkcs7 => "application/pkcs7-mime",
            Self::Xml => "application/xml",
        }
    }

    /// Whether `content` starts as a file of this type does. The `infer` crate's
    /// matchers know PDF, JPEG, PNG and XML; it has no matcher for PKCS #7, so that one
    /// is the DER signature of a CMS `signedData` (see [`is_signed_data`]).
    pub fn matches(self, content: &[u8]) -> bool {
        match self {
            Self::Pdf => infer::archive::is_pdf(content),
            Self::Jpeg => infer::image::is_jpeg(content),
            Self::Png => infer::image::is_png(content),
            Self::Pkcs7 => is_signed_data(content),
            Self::Xml => infer::text::is_xml(content),
        }
    }

    /// The allowed type `content` is, if any. The types' signatures do not overlap, so
    /// at most one matches: a store that keeps only bytes (object storage) reads the
    /// type back from them.
    pub fn sniff(content: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.matches(content))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media type outside the allowed list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tipo non ammesso; ammessi: application/pdf, image/jpeg, image/png, \
     application/pkcs7-mime, application/xml / not an allowed type; allowed: \
     application/pdf, image/jpeg, image/png, application/pkcs7-mime, application/xml"
)]
pub struct NotAllowed;

impl FromStr for MediaType {
    type Err = NotAllowed;

    /// Case-insensitive, without parameters (`; charset=…` is refused: the content says
    /// its own encoding). `image/jpg` and `application/x-pkcs7-mime`, common in the wild,
    /// are taken as their registered names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "application/pdf" => Ok(Self::Pdf),
            "image/jpeg" | "image/jpg" => Ok(Self::Jpeg),
            "image/png" => Ok(Self::Png),
            "application/pkcs7-mime" | "application/x-pkcs7-mime" => Ok(Self::Pkcs7),
            "application/xml" | "text/xml" => Ok(Self::Xml),
            _ => Err(NotAllowed),
        }
    }
}

/// The DER object identifier of CMS `signedData` (1.2.840.113549.1.7.2), tag and length
/// included.
const SIGNED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];

/// A DER `ContentInfo` of type `signedData`: a SEQUENCE whose first element is the OID.
/// The SEQUENCE's length takes 1 to 5 bytes (short form, long form up to 4 bytes, or
/// the indefinite form some signing tools write), so the OID starts at byte 2 to 6.
/// A base64 `.p7m` is refused: it is the DER one, re-encoded, and signing tools write
/// DER.
fn is_signed_data(content: &[u8]) -> bool {
    if content.first() != Some(&0x30) {
        return false;
    }
    let oid_at = match content.get(1) {
        Some(&length) if length < 0x80 => 2,
        Some(&0x80) => 2,
        Some(&length) if (0x81..=0x84).contains(&length) => 2 + usize::from(length - 0x80),
        _ => return false,
    };
    content
        .get(oid_at..oid_at + SIGNED_DATA_OID.len())
        .is_some_and(|oid| oid == SIGNED_DATA_OID)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
    const JPEG: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];

    fn p7m() -> Vec<u8> {
        let mut der = vec![0x30, 0x82, 0x01, 0x00];
        der.extend_from_slice(&SIGNED_DATA_OID);
        der.extend_from_slice(&[0xa0, 0x82]);
        der
    }

    #[test]
    fn each_type_is_known_by_its_content_and_only_its_own() {
        let samples: [(MediaType, Vec<u8>); 5] = [
            (MediaType::Pdf, PDF.to_vec()),
            (MediaType::Jpeg, JPEG.to_vec()),
            (MediaType::Png, PNG.to_vec()),
            (MediaType::Pkcs7, p7m()),
            (
                MediaType::Xml,
                b"<?xml version=\"1.0\"?><p:FatturaElettronica/>".to_vec(),
            ),
        ];
        for (kind, content) in &samples {
            assert_eq!(MediaType::sniff(content), Some(*kind), "{kind}");
            for other in MediaType::ALL.into_iter().filter(|o| o != kind) {
                assert!(!other.matches(content), "{kind} content is not {other}");
            }
        }
        assert_eq!(MediaType::sniff(b"PK\x03\x04 a zip"), None);
        assert_eq!(MediaType::sniff(b""), None);
    }

    #[test]
    fn a_p7m_is_recognised_whatever_the_length_form() {
        let mut short = vec![0x30, 0x30];
        short.extend_from_slice(&SIGNED_DATA_OID);
        let mut indefinite = vec![0x30, 0x80];
        indefinite.extend_from_slice(&SIGNED_DATA_OID);
        assert!(is_signed_data(&short));
        assert!(is_signed_data(&indefinite));
        assert!(is_signed_data(&p7m()));
        // Another CMS type (enveloped data, 1.2.840.113549.1.7.3) is not a signed file.
        let mut enveloped = p7m();
        enveloped[14] = 0x03;
        assert!(!is_signed_data(&enveloped));
        assert!(!is_signed_data(&[0x30]));
    }

    #[test]
    fn names_parse_case_insensitively_and_others_are_refused() {
        assert_eq!("Application/PDF".parse(), Ok(MediaType::Pdf));
        assert_eq!("image/jpg".parse(), Ok(MediaType::Jpeg));
        assert_eq!("application/zip".parse::<MediaType>(), Err(NotAllowed));
        assert_eq!("application/pdf; q=1".parse::<MediaType>(), Err(NotAllowed));
    }
}
