//! Verification codes: 80 random bits as 16 Crockford base-32 characters, printed in
//! four groups ("7KQ2-M9XD-4RTA-0PWE"). Unguessable, and easy to read aloud or type:
//! no I, L, O or U, and typing those for 1, 1, 0 is forgiven.

use std::fmt;

use sportello_kit::ServiceError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A certificate's verification code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerificationCode(String);

impl VerificationCode {
    /// A fresh random code.
    pub fn random() -> Self {
        // UUID v4 carries 122 random bits from the operating system's generator.
        let random = uuid::Uuid::new_v4().as_u128();
        let code = (0..16)
            .map(|i| ALPHABET[((random >> (i * 5)) & 31) as usize] as char)
            .collect();
        Self(code)
    }

    /// Parses a code as typed by a person, dashes and spaces ignored.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
        let code: Option<String> = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => Some('0'),
                'I' | 'L' => Some('1'),
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => Some(c),
                _ => None,
            })
            .collect();
        match code {
            Some(code) if code.len() == 16 => Ok(Self(code)),
            _ => Err(ServiceError::invalid_field(
                field,
                "must be the 16-character code printed on the certificate",
            )),
        }
    }

    /// Trusted text from the database.
    pub fn from_db(raw: String) -> Self {
        Self(raw)
    }

    /// The code as stored: 16 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VerificationCode {
    /// In four groups of four.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_and_read_back_as_printed() {
        let a = VerificationCode::random();
        assert_ne!(a, VerificationCode::random());
        let printed = a.to_string();
        assert_eq!(printed.len(), 19);
        assert_eq!(VerificationCode::parse("c", &printed).unwrap(), a);
        assert_eq!(
            VerificationCode::parse("c", &printed.to_lowercase()).unwrap(),
            a
        );
    }

    #[test]
    fn look_alike_letters_are_forgiven_and_junk_is_refused() {
        let code = VerificationCode::parse("c", "O0IL-2345-6789-ABCD").unwrap();
        assert_eq!(code.as_str(), "0011234567 89ABCD".replace(' ', ""));
        for bad in [
            "",
            "1234",
            "1234-5678-9ABC-DEFU",
            "1234-5678-9ABC-DEFGH",
            "1234-5678-9ABC-DÉF",
        ] {
            let error = VerificationCode::parse("verification_code", bad).unwrap_err();
            assert_eq!(error.violations()[0].field, "verification_code", "{bad}");
        }
    }
}
