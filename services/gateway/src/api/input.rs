//! What the API accepts, checked once at the edge exactly as `openapi.json` states it:
//! a request the document allows is never refused as malformed, and one it refuses is
//! answered 400 naming the field — whatever the services behind would have forgiven
//! (surrounding spaces, other spellings of a UUID).
//!
//! The document's patterns for these checks are written next to each function.

use std::{fmt, marker::PhantomData};

use serde::{
    Deserializer,
    de::{self, Unexpected, Visitor},
};
use sportello_kit::ServiceError;
use uuid::Uuid;

/// Deserializes an integer field, also when the JSON writes it as an integral number
/// with a fraction part (`4294967295.0`): JSON Schema counts that as an integer, so
/// clients generated from the document may send it. Anything else that is not an
/// integer in `T`'s range is refused, as serde would.
///
/// Use it as `#[serde(deserialize_with = "input::integer")]`.
pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64>,
{
    deserializer.deserialize_any(IntegerVisitor(PhantomData))
}

struct IntegerVisitor<T>(PhantomData<T>);

impl<T> Visitor<'_> for IntegerVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer that fits {}", std::any::type_name::<T>())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // Integral and within i64/u64: convert exactly; the casts below cannot truncate.
        const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() == 0.0 && (-TWO_POW_63..2.0 * TWO_POW_63).contains(&value) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return if value >= 0.0 {
                self.visit_u64(value as u64)
            } else {
                self.visit_i64(value as i64)
            };
        }
        Err(E::invalid_type(Unexpected::Float(value), &self))
    }
}

/// A record id in a path or body: a UUID written with its dashes (`format: uuid`).
pub fn record_id(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    if raw.len() == 36
        && let Ok(id) = Uuid::try_parse(raw)
    {
        return Ok(id);
    }
    Err(ServiceError::invalid_field(
        field,
        "must be a record id (a UUID such as 0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f)",
    ))
}

/// An optional idempotency key: empty, or a UUID with its dashes
/// (`^$|^[0-9a-fA-F]{8}-…$`, the document's `OptionalUuid`).
pub fn optional_uuid(field: &str, raw: &str) -> Result<(), ServiceError> {
    if raw.is_empty() {
        Ok(())
    } else {
        record_id(field, raw)
            .map(|_| ())
            .map_err(|_| ServiceError::invalid_field(field, "must be empty or a UUID"))
    }
}

/// Free text of at most `max` characters with no control characters (the document's
/// `^[^\u0000-\u001f\u007f-\u009f]*$` with `maxLength`). The length is the text's as
/// sent, before the services trim it.
pub fn text(field: &str, raw: &str, max: usize) -> Result<(), ServiceError> {
    if raw.chars().count() > max {
        return Err(ServiceError::invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ServiceError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Required free text: [`text`], and not blank (the document's pattern asks for a
/// character that is not white space).
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<(), ServiceError> {
    text(field, raw, max)?;
    if raw.trim().is_empty() {
        return Err(ServiceError::invalid_field(field, "is required"));
    }
    Ok(())
}

/// `1..=max` characters, each allowed by `allowed` (a code such as a site's).
pub fn code(
    field: &str,
    raw: &str,
    max: usize,
    allowed: fn(char) -> bool,
    what: &str,
) -> Result<(), ServiceError> {
    if (1..=max).contains(&raw.chars().count()) && raw.chars().all(allowed) {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(field, what.to_owned()))
    }
}

/// Lowercase ASCII letters, digits and `-` (site codes: `^[a-z0-9-]{1,32}$`).
pub fn site_code_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// Lowercase ASCII letters, digits, `.`, `_` and `-` (account and operator ids:
/// `^[a-z0-9._-]{1,64}$`).
pub fn account_id_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Form {
        #[serde(deserialize_with = "integer")]
        n: u32,
        #[serde(deserialize_with = "integer")]
        tier: i32,
    }

    fn parse(json: &str) -> Result<Form, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_integers() {
        let form = parse(r#"{"n": 4294967295.0, "tier": -2.0}"#).unwrap();
        assert_eq!((form.n, form.tier), (u32::MAX, -2));
        let form = parse(r#"{"n": 7, "tier": 3}"#).unwrap();
        assert_eq!((form.n, form.tier), (7, 3));
        let form = parse(r#"{"n": 1e2, "tier": 0.0}"#).unwrap();
        assert_eq!((form.n, form.tier), (100, 0));
    }

    #[test]
    fn fractions_strings_and_out_of_range_values_are_refused() {
        for bad in [
            r#"{"n": 1.5, "tier": 1}"#,
            r#"{"n": "1", "tier": 1}"#,
            r#"{"n": 4294967296, "tier": 1}"#,
            r#"{"n": 4294967296.0, "tier": 1}"#,
            r#"{"n": -1, "tier": 1}"#,
            r#"{"n": 1, "tier": 2147483648}"#,
            r#"{"n": 1e300, "tier": 1}"#,
            r#"{"n": null, "tier": 1}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        let error = parse(r#"{"n": 4294967296, "tier": 1}"#).unwrap_err();
        assert!(error.contains("u32"), "{error}");
    }

    #[test]
    fn record_ids_are_uuids_with_dashes() {
        assert!(record_id("id", "0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f").is_ok());
        for bad in [
            "0",
            "0190f5b27c4a7b8e9d3c1a2b3c4d5e6f",
            "{0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f}",
            " 0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6",
        ] {
            let error = record_id("id", bad).unwrap_err();
            assert_eq!(error.violations()[0].field, "id");
        }
        assert!(optional_uuid("k", "").is_ok());
        assert!(optional_uuid("k", "x").is_err());
    }

    #[test]
    fn text_is_bounded_as_sent_and_has_no_control_characters() {
        assert!(text("reason", "", 3).is_ok());
        assert!(text("reason", "àèì", 3).is_ok());
        assert!(text("reason", "abcd", 3).is_err());
        assert!(text("reason", "a\u{0}", 3).is_err());
        assert!(text("reason", "a\u{85}", 3).is_err());
        assert!(required_text("name", " \u{a0}", 3).is_err());
        assert!(required_text("name", " a ", 3).is_ok());
        assert!(code("code", "via-roma", 32, site_code_char, "bad").is_ok());
        assert!(code("code", " via", 32, site_code_char, "bad").is_err());
        assert!(code("code", "", 32, site_code_char, "bad").is_err());
    }
}
