//! The VAT number (*partita IVA*), DPR 633/1972 art. 35 and DM 23/12/1976: eleven
//! digits, the company serial (7), the provincial office code (3) and a check digit
//! computed with the Luhn algorithm on the first ten (the agency's own `UCheckNum`
//! routine: odd positions as they are, even positions doubled with their digits summed).
//! The same number is the fiscal code of a company or other non-natural person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid VAT number. Positions count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatError {
    /// Not eleven characters.
    #[error("a VAT number has 11 digits, found {0} characters")]
    Length(usize),
    /// A character is not a digit.
    #[error("character {position} must be a digit, found '{found}'")]
    NotDigit {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// The company serial is 0000000, which the agency never assigns.
    #[error("the first seven digits are all zero, which is never assigned")]
    ZeroSerial,
    /// The office code is not one assigned to VAT numbers.
    #[error("office code {0:03} (digits 8-10) is not a VAT office: 001-100, 120, 121, 888 or 999")]
    Office(u16),
    /// The check digit does not match.
    #[error("check digit is {found}, expected {expected}")]
    Check {
        /// The 11th digit.
        found: u8,
        /// The one the first ten give.
        expected: u8,
    },
}

/// A valid Italian VAT number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PartitaIva([u8; 11]);

/// The Luhn check digit for ten digits (values 0-9).
pub fn check_digit(first10: &[u8; 10]) -> u8 {
    let sum: u32 = first10
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            // 1-based even positions (index 1, 3, …) are doubled, digits summed.
            if i % 2 == 1 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl PartitaIva {
    /// The eleven digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The provincial office code (digits 8-10): 001-100 for the provinces; 120, 121,
    /// 888 and 999 have special uses (the agency's `UCheckNum` accepts these).
    pub fn office_code(&self) -> u16 {
        self.0[7..10]
            .iter()
            .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'))
    }
}

impl FromStr for PartitaIva {
    type Err = VatError;
    /// Parses eleven digits; surrounding spaces and an `IT` prefix are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s
            .strip_prefix("IT")
            .or_else(|| s.strip_prefix("it"))
            .unwrap_or(s)
            .trim();
        let n = s.chars().count();
        if n != 11 {
            return Err(VatError::Length(n));
        }
        let mut b = [0u8; 11];
        for (i, c) in s.chars().enumerate() {
            if !c.is_ascii_digit() {
                return Err(VatError::NotDigit {
                    position: i + 1,
                    found: c,
                });
            }
            b[i] = c as u8;
        }
        if b[..7].iter().all(|&c| c == b'0') {
            return Err(VatError::ZeroSerial);
        }
        let office = b[7..10]
            .iter()
            .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'));
        // The agency's UCheckNum (and python-stdnum) accept only these for VAT numbers;
        // other ranges are provisional fiscal codes of people, not VAT numbers.
        if !matches!(office, 1..=100 | 120 | 121 | 888 | 999) {
            return Err(VatError::Office(office));
        }
        let mut digits = [0u8; 10];
        for (d, c) in digits.iter_mut().zip(&b[..10]) {
            *d = c - b'0';
        }
        let expected = check_digit(&digits);
        let found = b[10] - b'0';
        if expected != found {
            return Err(VatError::Check { found, expected });
        }
        Ok(PartitaIva(b))
    }
}

impl TryFrom<&str> for PartitaIva {
    type Error = VatError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for PartitaIva {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PartitaIva {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PartitaIva {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples() {
        // Independently checked with python-stdnum 2.x (`stdnum.it.iva.is_valid`).
        let p: PartitaIva = "00743110157".parse().unwrap();
        assert_eq!(p.office_code(), 15);
        assert_eq!(
            "01234567897".parse::<PartitaIva>().unwrap_err().to_string(),
            "office code 789 (digits 8-10) is not a VAT office: 001-100, 120, 121, 888 or 999"
        );
        assert!("IT 00743110157".parse::<PartitaIva>().is_ok());
        assert_eq!(
            "00743110158".parse::<PartitaIva>().unwrap_err().to_string(),
            "check digit is 8, expected 7"
        );
        assert_eq!(
            "0074311015".parse::<PartitaIva>().unwrap_err(),
            VatError::Length(10)
        );
        assert_eq!(
            "0074311015A".parse::<PartitaIva>().unwrap_err().to_string(),
            "character 11 must be a digit, found 'A'"
        );
        assert_eq!(
            "00000000000".parse::<PartitaIva>().unwrap_err(),
            VatError::ZeroSerial
        );
    }
}
