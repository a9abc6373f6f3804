//! pagoPA notice numbers (*numero avviso*) and IUVs, as the pagoPA SACI
//! (*Specifiche attuative dei codici identificativi di versamento*, schemes NAV.0-3 and
//! IUV.0-3) define them.
//!
//! A notice number is 18 digits: `<aux digit><…17 digits…>`, where the aux digit says
//! how the rest is built:
//!
//! | aux | rest | IUV | check digits |
//! | --- | --- | --- | --- |
//! | 0 | application code (2) + IUV base (13) + check (2) | base + check (15) | aux + application + base, mod 93 |
//! | 1 | IUV (17) | the 17 digits | none |
//! | 2 | IUV base (15) + check (2) | base + check (17) | aux + base, mod 93 |
//! | 3 | segregation code (2) + IUV base (13) + check (2) | all 17 | aux + segregation + base, mod 93 |
//!
//! The check digits are the remainder of the preceding 16 digits, read as one number,
//! divided by 93 (so always 00-92). Aux 0-2 are deprecated for new creditors but still
//! printed on notices, so they are read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a notice number is invalid or cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// Not eighteen characters.
    #[error("a notice number has 18 digits, found {0} characters")]
    Length(usize),
    /// A character is not a digit.
    #[error("character {position} must be a digit, found '{found}'")]
    NotDigit {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// Aux digit outside 0-3.
    #[error("aux digit {0} is not one of 0, 1, 2, 3")]
    AuxDigit(u8),
    /// The check digits do not match.
    #[error("check digits are {found:02}, expected {expected:02}")]
    Check {
        /// Digits 17-18.
        found: u8,
        /// The preceding digits mod 93.
        expected: u8,
    },
    /// A component given to the builder is too long.
    #[error("{what} has {found} digits, at most {max}")]
    TooLong {
        /// Which component.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The maximum.
        max: usize,
    },
    /// A component given to the builder is not numeric.
    #[error("{0} must be digits only")]
    NotNumeric(&'static str),
}

/// The IUV (*identificativo univoco di versamento*) inside a notice number.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Iuv(String);

impl Iuv {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iuv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid 18-digit pagoPA notice number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NoticeNumber([u8; 18]);

/// The check digits for a numeric prefix: the number mod 93.
pub fn check_digits(prefix: &str) -> u8 {
    // Digit by digit, so any length fits: (a·10 + d) mod 93.
    prefix
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 93) as u8
}

fn digits(what: &'static str, s: &str, max: usize) -> Result<String, NoticeError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NoticeError::NotNumeric(what));
    }
    if s.len() > max {
        return Err(NoticeError::TooLong {
            what,
            found: s.len(),
            max,
        });
    }
    // Shorter inputs are left-padded: "1" as a 13-digit base is 0000000000001.
    Ok(format!("{s:0>max$}"))
}

impl NoticeNumber {
    fn finish(prefix16: String) -> Result<Self, NoticeError> {
        let check = check_digits(&prefix16);
        format!("{prefix16}{check:02}").parse()
    }

    /// Aux digit 3: segregation code (2 digits) and IUV base (up to 13 digits).
    pub fn build_aux3(segregation: &str, base: &str) -> Result<Self, NoticeError> {
        let seg = digits("segregation code", segregation, 2)?;
        let base = digits("IUV base", base, 13)?;
        Self::finish(format!("3{seg}{base}"))
    }

    /// Aux digit 0: application code (2 digits) and IUV base (up to 13 digits).
    pub fn build_aux0(application: &str, base: &str) -> Result<Self, NoticeError> {
        let app = digits("application code", application, 2)?;
        let base = digits("IUV base", base, 13)?;
        Self::finish(format!("0{app}{base}"))
    }

    /// Aux digit 2: IUV base (up to 15 digits).
    pub fn build_aux2(base: &str) -> Result<Self, NoticeError> {
        let base = digits("IUV base", base, 15)?;
        Self::finish(format!("2{base}"))
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The aux digit, 0-3.
    pub fn aux_digit(&self) -> u8 {
        self.0[0] - b'0'
    }

    /// The application code (aux 0 only).
    pub fn application_code(&self) -> Option<&str> {
        (self.aux_digit() == 0).then(|| &self.as_str()[1..3])
    }

    /// The segregation code (aux 3 only).
    pub fn segregation_code(&self) -> Option<&str> {
        (self.aux_digit() == 3).then(|| &self.as_str()[1..3])
    }

    /// The IUV base.
    pub fn iuv_base(&self) -> &str {
        match self.aux_digit() {
            0 | 3 => &self.as_str()[3..16],
            1 => &self.as_str()[1..18],
            _ => &self.as_str()[1..16],
        }
    }

    /// The check digits (none for aux 1).
    pub fn check(&self) -> Option<&str> {
        (self.aux_digit() != 1).then(|| &self.as_str()[16..18])
    }

    /// The IUV: 15 digits for aux 0 (base and check), 17 for the others.
    pub fn iuv(&self) -> Iuv {
        let s = self.as_str();
        Iuv(if self.aux_digit() == 0 {
            s[3..].to_string()
        } else {
            s[1..].to_string()
        })
    }
}

impl FromStr for NoticeNumber {
    type Err = NoticeError;
    /// Parses 18 digits; spaces (as printed on paper notices) are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let compact: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() != 18 {
            return Err(NoticeError::Length(compact.len()));
        }
        let mut b = [0u8; 18];
        for (i, c) in compact.iter().enumerate() {
            if !c.is_ascii_digit() {
                return Err(NoticeError::NotDigit {
                    position: i + 1,
                    found: *c,
                });
            }
            b[i] = *c as u8;
        }
        let aux = b[0] - b'0';
        if aux > 3 {
            return Err(NoticeError::AuxDigit(aux));
        }
        if aux != 1 {
            let prefix = std::str::from_utf8(&b[..16]).unwrap_or("");
            let expected = check_digits(prefix);
            let found = (b[16] - b'0') * 10 + (b[17] - b'0');
            if found != expected {
                return Err(NoticeError::Check { found, expected });
            }
        }
        Ok(NoticeNumber(b))
    }
}

impl TryFrom<&str> for NoticeNumber {
    type Error = NoticeError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for NoticeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for NoticeNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NoticeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected check digits computed independently with Python's big integers:
    // `int("3010000000000001") % 93 == 44`, and so on.
    #[test]
    fn worked_examples() {
        let n = NoticeNumber::build_aux3("01", "1").unwrap();
        assert_eq!(n.as_str(), "301000000000000144");
        assert_eq!(n.segregation_code(), Some("01"));
        assert_eq!(n.iuv().as_str(), "01000000000000144");
        assert_eq!(n.iuv_base(), "0000000000001");
        assert_eq!(
            NoticeNumber::build_aux3("47", "12345").unwrap().as_str(),
            "347000000001234592"
        );
        let z = NoticeNumber::build_aux0("01", "1234567890123").unwrap();
        assert_eq!(z.as_str(), "001123456789012313");
        assert_eq!(z.iuv().as_str(), "123456789012313");
        assert_eq!(z.application_code(), Some("01"));
        assert_eq!(
            NoticeNumber::build_aux2("123456789012345")
                .unwrap()
                .as_str(),
            "212345678901234544"
        );
        // Aux 1 has no check digits: any 17 digits.
        assert_eq!(
            "100000000000000001"
                .parse::<NoticeNumber>()
                .unwrap()
                .check(),
            None
        );
        // Spaces as printed on a notice.
        assert!("3010 0000 0000 0001 44".parse::<NoticeNumber>().is_ok());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| s.parse::<NoticeNumber>().unwrap_err().to_string();
        assert_eq!(e("301000000000000145"), "check digits are 45, expected 44");
        assert_eq!(
            e("401000000000000144"),
            "aux digit 4 is not one of 0, 1, 2, 3"
        );
        assert_eq!(
            e("3010000000000001"),
            "a notice number has 18 digits, found 16 characters"
        );
        assert_eq!(
            e("30100000000000014x"),
            "character 18 must be a digit, found 'x'"
        );
        assert_eq!(
            NoticeNumber::build_aux3("1", "12345678901234")
                .unwrap_err()
                .to_string(),
            "IUV base has 14 digits, at most 13"
        );
        assert_eq!(
            NoticeNumber::build_aux3("a", "1").unwrap_err().to_string(),
            "segregation code must be digits only"
        );
    }
}
