//! Domain types every service shares, parsed once at the edge.

use std::{fmt, str::FromStr};

/// An ISTAT municipality code: six digits (three for the province, three for the
/// municipality), e.g. `011015` for La Spezia. Every case and record carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MunicipalityCode([u8; 6]);

impl MunicipalityCode {
    /// A code from six ASCII digits, in constant context (`None` unless valid).
    pub const fn from_digits(digits: [u8; 6]) -> Option<Self> {
        let mut i = 0;
        let mut all_zero = true;
        while i < 6 {
            if !digits[i].is_ascii_digit() {
                return None;
            }
            all_zero &= digits[i] == b'0';
            i += 1;
        }
        if all_zero { None } else { Some(Self(digits)) }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }
}

impl FromStr for MunicipalityCode {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes: [u8; 6] = s
            .as_bytes()
            .try_into()
            .map_err(|_| "must be a six-digit ISTAT code, e.g. 011015")?;
        if bytes.iter().all(u8::is_ascii_digit) && bytes != *b"000000" {
            Ok(Self(bytes))
        } else {
            Err("must be a six-digit ISTAT code, e.g. 011015")
        }
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for MunicipalityCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A client-chosen key that makes a create call safe to retry (a UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(uuid::Uuid);

impl IdempotencyKey {
    /// Parses the optional `idempotency_key` field of a request: empty means none.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, crate::ServiceError> {
        if raw.is_empty() {
            return Ok(None);
        }
        uuid::Uuid::parse_str(raw)
            .map(|uuid| Some(Self(uuid)))
            .map_err(|_| {
                crate::ServiceError::invalid_field("idempotency_key", "must be a UUID when given")
            })
    }

    /// The key.
    pub fn uuid(&self) -> uuid::Uuid {
        self.0
    }
}

/// Reads the `field` of a request as `T`, or says which field is wrong and why.
pub fn parse_field<T>(field: &str, raw: &str) -> Result<T, crate::ServiceError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| crate::ServiceError::invalid_field(field, e.to_string()))
}

/// A required day field, `YYYY-MM-DD`, in the years an office's dates fall in
/// (2000-2200): a year typed wrong is caught here, not stored.
pub fn parse_date(field: &str, raw: &str) -> Result<jiff::civil::Date, crate::ServiceError> {
    let date: jiff::civil::Date = raw.trim().parse().map_err(|_| {
        crate::ServiceError::invalid_field(field, "data AAAA-MM-GG / a date YYYY-MM-DD")
    })?;
    if !(2000..=2200).contains(&date.year()) {
        return Err(crate::ServiceError::invalid_field(
            field,
            "anno 2000-2200 / year 2000-2200",
        ));
    }
    Ok(date)
}

/// A required free-text field: trimmed, not empty, at most `max` characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, crate::ServiceError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(crate::ServiceError::invalid_field(field, "is required"));
    }
    if text.chars().count() > max {
        return Err(crate::ServiceError::invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(crate::ServiceError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn municipality_codes_are_six_digits() {
        assert_eq!(
            "011015".parse::<MunicipalityCode>().unwrap().as_str(),
            "011015"
        );
        for bad in ["11015", "0110150", "01101A", "000000", ""] {
            assert!(bad.parse::<MunicipalityCode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_uuids_or_absent() {
        assert!(IdempotencyKey::parse_optional("").unwrap().is_none());
        assert!(
            IdempotencyKey::parse_optional("0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f")
                .unwrap()
                .is_some()
        );
        let err = IdempotencyKey::parse_optional("abc").unwrap_err();
        assert_eq!(err.violations()[0].field, "idempotency_key");
    }

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Prione ", 10).unwrap(), "Prione");
        assert!(required_text("name", "   ", 10).is_err());
        assert!(required_text("name", "abcdefghijk", 10).is_err());
        assert!(required_text("name", "a\nb", 10).is_err());
    }
}
