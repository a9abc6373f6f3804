//! The provisional numeric fiscal code (*codice fiscale numerico provvisorio*): what
//! the tax agency assigns a person when the definitive code cannot be assigned yet
//! (e.g. to foreigners through the Sportello Unico per l'Immigrazione or the Questura,
//! Agenzia delle Entrate circular 8/E of 26 July 2016). It replaces the definitive code
//! until that is assigned, so a person's fiscal code may be written either way
//! ([`PersonCode`]).
//!
//! Eleven digits: a seven-digit serial (*matricola*), the three-digit code of the office
//! that assigned it, and a check digit computed as for the VAT number (DM 23/12/1976;
//! the agency's Luhn routine, [`crate::vat::check_digit`]). Unlike a VAT number, the
//! office code is not limited to the VAT offices: provisional codes come from other
//! offices too. It says nothing about the person, so there is nothing to decode or to
//! compare with declared data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{CodiceFiscale, FiscalCodeError};
use crate::vat;

/// Why a string is not a provisional fiscal code. Positions count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionalError {
    /// Not eleven characters.
    #[error("a provisional fiscal code has 11 digits, found {0} characters")]
    Length(usize),
    /// A character is not a digit.
    #[error("character {position} of a provisional fiscal code must be a digit, found '{found}'")]
    NotDigit {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// The check digit does not match.
    #[error("check digit is {found}, expected {expected}")]
    Check {
        /// The 11th digit.
        found: u8,
        /// The one the first ten give.
        expected: u8,
    },
}

/// A structurally valid provisional fiscal code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProvisionalCode([u8; 11]);

impl ProvisionalCode {
    /// The eleven digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The code of the office that assigned it (digits 8-10).
    pub fn office_code(&self) -> u16 {
        self.0[7..10]
            .iter()
            .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'))
    }
}

impl FromStr for ProvisionalCode {
    type Err = ProvisionalError;
    /// Parses eleven digits; surrounding spaces are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 11 {
            return Err(ProvisionalError::Length(n));
        }
        let mut b = [0u8; 11];
        for (i, c) in s.chars().enumerate() {
            if !c.is_ascii_digit() {
                return Err(ProvisionalError::NotDigit {
                    position: i + 1,
                    found: c,
                });
            }
            b[i] = c as u8;
        }
        let mut first10 = [0u8; 10];
        for (d, c) in first10.iter_mut().zip(&b[..10]) {
            *d = c - b'0';
        }
        let expected = vat::check_digit(&first10);
        let found = b[10] - b'0';
        if expected != found {
            return Err(ProvisionalError::Check { found, expected });
        }
        Ok(ProvisionalCode(b))
    }
}

impl fmt::Display for ProvisionalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Debug shows only that it is a code: it identifies a person.
impl fmt::Debug for ProvisionalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProvisionalCode(…)")
    }
}

impl Serialize for ProvisionalCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProvisionalCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A natural person's fiscal code as the law allows it to be written: the definitive
/// 16-character code, or the 11-digit provisional code that stands for it until the
/// agency assigns it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PersonCode {
    /// The 16-character code (DPR 605/1973; DM 23/12/1976).
    Definitive(CodiceFiscale),
    /// The 11-digit provisional code.
    Provisional(ProvisionalCode),
}

impl PersonCode {
    /// `definitive` or `provisional`.
    pub fn kind(&self) -> &'static str {
        match self {
            PersonCode::Definitive(_) => "definitive",
            PersonCode::Provisional(_) => "provisional",
        }
    }
}

/// Why a string is not a person's fiscal code of either kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonCodeError {
    /// Neither 16 characters nor 11.
    #[error("a fiscal code has 16 characters, or 11 digits when provisional; found {0}")]
    Length(usize),
    /// Read as a definitive code.
    #[error(transparent)]
    Definitive(FiscalCodeError),
    /// Read as a provisional code.
    #[error(transparent)]
    Provisional(ProvisionalError),
}

impl FromStr for PersonCode {
    type Err = PersonCodeError;
    /// Eleven characters starting with a digit are read as a provisional code, anything
    /// else as a definitive one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.chars().count() == 11 && t.starts_with(|c: char| c.is_ascii_digit()) {
            return t
                .parse()
                .map(PersonCode::Provisional)
                .map_err(PersonCodeError::Provisional);
        }
        t.parse().map(PersonCode::Definitive).map_err(|e| match e {
            FiscalCodeError::Length(n) => PersonCodeError::Length(n),
            other => PersonCodeError::Definitive(other),
        })
    }
}

impl fmt::Display for PersonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersonCode::Definitive(c) => c.fmt(f),
            PersonCode::Provisional(c) => c.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The provisional code's check digit is the VAT number's (DM 23/12/1976), and any
    /// office may have assigned it, not only the VAT offices.
    #[test]
    fn provisional_codes_check_like_vat_numbers() {
        // Serial 1234567, office 890 (not a VAT office). Check digit: odd positions
        // 1+3+5+7+9 = 25, even positions doubled 4+8+(1+2)+(1+6)+0 = 22; 47, so 10-7 = 3.
        let p: ProvisionalCode = "12345678903".parse().unwrap();
        assert_eq!(p.office_code(), 890);
        assert_eq!(
            "12345678904".parse::<ProvisionalCode>().unwrap_err(),
            ProvisionalError::Check {
                found: 4,
                expected: 3
            }
        );
        assert_eq!(
            "1234567890A"
                .parse::<ProvisionalCode>()
                .unwrap_err()
                .to_string(),
            "character 11 of a provisional fiscal code must be a digit, found 'A'"
        );
        assert_eq!(format!("{p:?}"), "ProvisionalCode(…)");
    }

    #[test]
    fn a_person_code_is_either_kind() {
        assert_eq!(
            "12345678903".parse::<PersonCode>().unwrap().kind(),
            "provisional"
        );
        assert_eq!(
            " RSSMRA85T10A562S ".parse::<PersonCode>().unwrap().kind(),
            "definitive"
        );
        assert_eq!(
            "RSSMRA85T10".parse::<PersonCode>().unwrap_err().to_string(),
            "a fiscal code has 16 characters, or 11 digits when provisional; found 11"
        );
        assert_eq!(
            "RSSMRA85T10A562K"
                .parse::<PersonCode>()
                .unwrap_err()
                .to_string(),
            "check character is K, expected S"
        );
    }
}
