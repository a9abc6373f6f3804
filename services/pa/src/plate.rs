//! Vehicle registration plates (*targhe*), Codice della strada (D.Lgs. 285/1992)
//! artt. 100-102 and its regulation (DPR 495/1992), as amended by DPR 198/2012.
//!
//! Recognised shapes (spaces, hyphens and dots ignored, lowercase accepted):
//!
//! | kind | shape | notes |
//! | --- | --- | --- |
//! | car | `AA 000 AA` | since 1994; the 22 letters without I, O, Q, U; `ZA…` square plates |
//! | local police | `YA 000 AA` | series reserved to municipal and provincial police |
//! | trailer | `XA 000 AA` | since 20 February 2013 (DPR 198/2012) |
//! | motorcycle | `AA 00000` | since 1994; trailers registered before 2013 have the same shape |
//! | old provincial | `SP 123456`, `MI A12345`, `ROMA 1A2345` | 1927-1994: province then a six-character serial with at most one letter |
//! | foreign | `CH:ZH 12345` | marked by the caller with its country's international code |
//!
//! Foreign plates follow each country's rules, so they are only checked for shape;
//! the caller must mark them (`CC:`), because many foreign plates look Italian.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::Serialize;

use crate::birthplace;

/// What kind of vehicle or series a plate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlateKind {
    /// Car (and other motor vehicles), `AA000AA`.
    Car,
    /// Local police, `YA000AA`.
    LocalPolice,
    /// Trailer registered since 2013, `XA000AA`.
    Trailer,
    /// Motorcycle `AA00000` (or a trailer registered before 2013).
    Motorcycle,
    /// Provincial plate issued 1927-1994.
    OldProvincial {
        /// Province abbreviation as on the plate (`SP`, `ROMA`).
        province: String,
    },
    /// Foreign plate, as marked by the caller.
    Foreign {
        /// International vehicle registration code (`CH`, `D`, `F`).
        country: String,
    },
}

/// A recognised plate: its compact text (no spaces) and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plate {
    /// Uppercase, without spaces or separators (`AB123CD`).
    pub text: String,
    /// Which series it belongs to.
    #[serde(flatten)]
    pub kind: PlateKind,
}

/// Why a string is not a plate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    /// Nothing to read.
    #[error("plate is empty")]
    Empty,
    /// A character that no plate has.
    #[error("character '{0}' cannot appear on a plate")]
    BadChar(char),
    /// A current-series letter that the series never uses.
    #[error("letter {0} is never used on current plates (I, O, Q and U are excluded)")]
    ExcludedLetter(char),
    /// No Italian shape matches.
    #[error(
        "{0} matches no Italian plate shape (AA000AA, AA00000, province + serial); mark foreign plates as CC:PLATE"
    )]
    Unrecognised(String),
    /// The foreign country code is not 1-3 letters.
    #[error("country code {0} is not 1-3 letters")]
    Country(String),
    /// The foreign registration is empty or too long.
    #[error("foreign registration {0} must have 1-10 letters or digits")]
    ForeignShape(String),
}

/// Provinces that had plates before 1994: those of the municipalities recorded before
/// then (from the birthplace table), with Rome as `ROMA`, as its plates read.
static OLD_PROVINCES: LazyLock<BTreeSet<&'static str>> = LazyLock::new(|| {
    let cutoff = jiff::civil::date(1994, 3, 2);
    let mut set: BTreeSet<&'static str> = birthplace::all()
        .iter()
        .filter(|b| !b.is_foreign() && b.valid_from.is_none_or(|f| f < cutoff))
        .map(|b| b.province)
        .filter(|p| *p != "RM")
        .collect();
    set.insert("ROMA");
    set
});

fn compact(s: &str) -> Result<String, PlateError> {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '-' | '.' | '·' | '•') {
            continue;
        }
        let u = c.to_ascii_uppercase();
        if !u.is_ascii_alphanumeric() {
            return Err(PlateError::BadChar(c));
        }
        out.push(u);
    }
    if out.is_empty() {
        Err(PlateError::Empty)
    } else {
        Ok(out)
    }
}

fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { 'A' })
        .collect()
}

fn check_current_letters(s: &str) -> Result<(), PlateError> {
    match s.chars().find(|c| matches!(c, 'I' | 'O' | 'Q' | 'U')) {
        Some(c) => Err(PlateError::ExcludedLetter(c)),
        None => Ok(()),
    }
}

fn old_serial_ok(serial: &str) -> bool {
    let letters: Vec<usize> = serial
        .char_indices()
        .filter(|(_, c)| c.is_ascii_uppercase())
        .map(|(i, _)| i)
        .collect();
    match letters.as_slice() {
        [] => (1..=6).contains(&serial.len()),
        // One letter, in the positions the provincial series used (A12345, 1A2345,
        // 12A345, 12345A), always on a six-character serial.
        [i] => serial.len() == 6 && matches!(i, 0 | 1 | 2 | 5),
        _ => false,
    }
}

impl FromStr for Plate {
    type Err = PlateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((country, reg)) = s.split_once(':') {
            let country = country.trim().to_ascii_uppercase();
            if !(1..=3).contains(&country.len()) || !country.chars().all(|c| c.is_ascii_uppercase())
            {
                return Err(PlateError::Country(country));
            }
            let text = compact(reg)?;
            if text.len() > 10 {
                return Err(PlateError::ForeignShape(text));
            }
            return Ok(Plate {
                text,
                kind: PlateKind::Foreign { country },
            });
        }
        let text = compact(s)?;
        let kind = match shape(&text).as_str() {
            "AA000AA" => {
                check_current_letters(&text)?;
                match text.as_bytes()[0] {
                    b'X' => PlateKind::Trailer,
                    b'Y' => PlateKind::LocalPolice,
                    _ => PlateKind::Car,
                }
            }
            "AA00000" if !OLD_PROVINCES.contains(&text[..2]) => {
                check_current_letters(&text)?;
                PlateKind::Motorcycle
            }
            _ => {
                let prov_len = if text.starts_with("ROMA") { 4 } else { 2 };
                let (prov, serial) = text.split_at(prov_len.min(text.len()));
                if OLD_PROVINCES.contains(prov) && old_serial_ok(serial) {
                    PlateKind::OldProvincial {
                        province: prov.to_string(),
                    }
                } else {
                    return Err(PlateError::Unrecognised(text));
                }
            }
        };
        Ok(Plate { text, kind })
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PlateKind::Foreign { country } => write!(f, "{country}:{}", self.text),
            _ => f.write_str(&self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> PlateKind {
        s.parse::<Plate>().unwrap().kind
    }

    #[test]
    fn current_series() {
        assert_eq!(kind("EM 700 TV"), PlateKind::Car);
        assert_eq!(kind("ab-123-cd"), PlateKind::Car);
        assert_eq!(kind("XA 000 AA"), PlateKind::Trailer);
        assert_eq!(kind("YA123BC"), PlateKind::LocalPolice);
        assert_eq!(kind("BC 12345"), PlateKind::Motorcycle);
        assert_eq!(
            "AB123CO".parse::<Plate>().unwrap_err().to_string(),
            "letter O is never used on current plates (I, O, Q and U are excluded)"
        );
    }

    #[test]
    fn old_provincial() {
        assert_eq!(
            kind("SP 123456"),
            PlateKind::OldProvincial {
                province: "SP".into()
            }
        );
        assert_eq!(
            kind("MI A12345"),
            PlateKind::OldProvincial {
                province: "MI".into()
            }
        );
        assert_eq!(
            kind("ROMA 1A2345"),
            PlateKind::OldProvincial {
                province: "ROMA".into()
            }
        );
        // SP 12345 is a La Spezia plate, not a motorcycle: SP is a province.
        assert_eq!(
            kind("SP12345"),
            PlateKind::OldProvincial {
                province: "SP".into()
            }
        );
        assert!("RM 123456".parse::<Plate>().is_err());
        assert!("SP AB1234".parse::<Plate>().is_err());
    }

    #[test]
    fn foreign_must_be_marked() {
        assert_eq!(
            kind("CH:ZH 123456"),
            PlateKind::Foreign {
                country: "CH".into()
            }
        );
        assert_eq!(
            "d:M-AB 1234".parse::<Plate>().unwrap().to_string(),
            "D:MAB1234"
        );
        assert!(matches!(
            "1234 ABC".parse::<Plate>(),
            Err(PlateError::Unrecognised(_))
        ));
        assert!(matches!(
            "CHE1:ZH1".parse::<Plate>(),
            Err(PlateError::Country(_))
        ));
        assert_eq!("".parse::<Plate>(), Err(PlateError::Empty));
        assert_eq!("AB#123".parse::<Plate>(), Err(PlateError::BadChar('#')));
    }
}
