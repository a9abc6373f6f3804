//! Birthplace (Belfiore, *codice catastale*) codes: Italian municipalities, past and
//! present, and foreign countries (`Z…`).
//!
//! The table is data in the repository (`data/birthplaces.psv`, built by
//! `data/convert.py` from the MIT-licensed `python-codicefiscale` tables joined with
//! ISTAT's list of municipalities; see `data/README.md`). It is embedded in the binary
//! and parsed once, on first use. Ceased municipalities are kept, because fiscal codes
//! issued decades ago still carry them.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

static RAW: &str = include_str!("../data/birthplaces.psv");

/// A Belfiore code: one letter and three digits (`E463` La Spezia, `Z404` USA).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BelfioreCode([u8; 4]);

/// Why a string is not a Belfiore code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BelfioreError {
    /// Not four characters.
    #[error("a birthplace code has 4 characters (a letter and three digits), found {0}")]
    Length(usize),
    /// The shape is wrong.
    #[error("birthplace code {0} is not a letter followed by three digits")]
    Shape(String),
}

impl BelfioreCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// Foreign countries have codes starting with `Z`.
    pub fn is_foreign(&self) -> bool {
        self.0[0] == b'Z'
    }

    pub(crate) fn from_bytes_unchecked(bytes: [u8; 4]) -> Self {
        BelfioreCode(bytes)
    }
}

impl FromStr for BelfioreCode {
    type Err = BelfioreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 4 {
            return Err(BelfioreError::Length(chars.len()));
        }
        let up: Vec<char> = chars.iter().map(|c| c.to_ascii_uppercase()).collect();
        let ok = up[0].is_ascii_uppercase() && up[1..].iter().all(|c| c.is_ascii_digit());
        if !ok {
            return Err(BelfioreError::Shape(s.to_string()));
        }
        let mut b = [0u8; 4];
        for (i, c) in up.iter().enumerate() {
            b[i] = *c as u8;
        }
        Ok(BelfioreCode(b))
    }
}

impl fmt::Display for BelfioreCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BelfioreCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BelfioreCode({})", self.as_str())
    }
}

impl Serialize for BelfioreCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BelfioreCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One period in which a Belfiore code had one name and province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Birthplace {
    /// The Belfiore code.
    pub code: BelfioreCode,
    /// ISTAT code, only for municipalities that exist today.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub istat: Option<&'static str>,
    /// Name as the source spells it.
    pub name: &'static str,
    /// Province abbreviation (`SP`), or `EE` for foreign countries.
    pub province: &'static str,
    /// First day of the period, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Date>,
    /// Last day of the period; `None` while it still exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Date>,
}

impl Birthplace {
    /// A foreign country rather than an Italian municipality.
    pub fn is_foreign(&self) -> bool {
        self.province == "EE"
    }

    /// Whether the period covers `date`.
    pub fn covers(&self, date: Date) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }

    /// Still in existence today (no end date).
    pub fn is_current(&self) -> bool {
        self.valid_to.is_none()
    }
}

fn parse_date(s: &str) -> Option<Date> {
    if s.is_empty() { None } else { s.parse().ok() }
}

/// The whole table, sorted by code then start date; parsed on first use.
static TABLE: LazyLock<Vec<Birthplace>> = LazyLock::new(|| {
    RAW.lines()
        .filter_map(|line| {
            let mut f = line.split('|');
            let code = f.next()?.parse().ok()?;
            let istat = f.next()?;
            let name = f.next()?;
            let province = f.next()?;
            let from = f.next()?;
            let to = f.next()?;
            Some(Birthplace {
                code,
                istat: (!istat.is_empty()).then_some(istat),
                name,
                province,
                valid_from: parse_date(from),
                valid_to: parse_date(to),
            })
        })
        .collect()
});

/// Names folded for matching, parallel to [`TABLE`]: folding 15,000 names on every
/// lookup would make a name search cost milliseconds.
static FOLDED: LazyLock<Vec<String>> =
    LazyLock::new(|| TABLE.iter().map(|b| fold_name(b.name)).collect());

/// Every row of the table.
pub fn all() -> &'static [Birthplace] {
    &TABLE
}

/// All periods recorded for a code, oldest first (empty when unknown).
pub fn by_code(code: BelfioreCode) -> &'static [Birthplace] {
    let t = &*TABLE;
    let lo = t.partition_point(|b| b.code < code);
    let hi = t.partition_point(|b| b.code <= code);
    &t[lo..hi]
}

/// The place a code meant on `date`: the period covering it, else the closest one
/// (sources have gaps; a code the tax agency issued is authoritative anyway).
pub fn at(code: BelfioreCode, date: Date) -> Option<&'static Birthplace> {
    let rows = by_code(code);
    rows.iter()
        .find(|b| b.covers(date))
        .or_else(|| rows.iter().find(|b| b.valid_from.is_some_and(|f| f > date)))
        .or_else(|| rows.last())
}

/// The current municipality with this ISTAT code.
pub fn by_istat(istat: &str) -> Option<&'static Birthplace> {
    TABLE.iter().find(|b| b.istat == Some(istat))
}

/// Places whose name matches (case, accents, apostrophes and spaces ignored), optionally
/// only those existing on `date`. A name may be followed by its province, `"Spezia (SP)"`.
pub fn find_by_name(name: &str, date: Option<Date>) -> Vec<&'static Birthplace> {
    let (name, province) = match name.trim().rsplit_once('(') {
        Some((n, p)) if p.ends_with(')') => {
            (n, Some(p.trim_end_matches(')').trim().to_uppercase()))
        }
        _ => (name, None),
    };
    let key = fold_name(name);
    TABLE
        .iter()
        .zip(FOLDED.iter())
        .filter(|(_, folded)| **folded == key)
        .map(|(b, _)| b)
        .filter(|b| province.as_deref().is_none_or(|p| b.province == p))
        .filter(|b| date.is_none_or(|d| b.covers(d)))
        .collect()
}

/// Lowercase ASCII letters and digits only, accents folded.
pub(crate) fn fold_name(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            crate::fiscal_code::fold_letter(c)
                .chars()
                .collect::<Vec<_>>()
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn code(s: &str) -> BelfioreCode {
        s.parse().unwrap()
    }

    #[test]
    fn la_spezia_has_its_history() {
        let rows = by_code(code("E463"));
        assert!(rows.len() >= 3);
        assert_eq!(at(code("E463"), date(1925, 1, 1)).unwrap().name, "Spezia");
        let now = at(code("E463"), date(2000, 1, 1)).unwrap();
        assert_eq!(now.name, "La Spezia");
        assert_eq!(now.istat, Some("011015"));
    }

    #[test]
    fn foreign_and_ceased() {
        assert!(at(code("Z404"), date(1980, 1, 1)).unwrap().is_foreign());
        let cz = at(code("Z105"), date(1980, 1, 1)).unwrap();
        assert_eq!(cz.name, "Cecoslovacchia");
        assert!(!cz.is_current());
        assert!(by_code(code("Z999")).is_empty());
    }

    #[test]
    fn istat_and_name_lookups() {
        assert_eq!(by_istat("058091").unwrap().code.as_str(), "H501");
        let found = find_by_name("la spezia", None);
        assert_eq!(found.len(), 1);
        assert_eq!(
            find_by_name("Genova (GE)", Some(date(1990, 1, 1)))[0]
                .code
                .as_str(),
            "D969"
        );
        assert!(all().len() > 15_000);
    }

    #[test]
    fn belfiore_shape() {
        assert_eq!("e463".parse::<BelfioreCode>().unwrap().as_str(), "E463");
        assert!(matches!(
            "E46".parse::<BelfioreCode>(),
            Err(BelfioreError::Length(3))
        ));
        assert!(matches!(
            "1463".parse::<BelfioreCode>(),
            Err(BelfioreError::Shape(_))
        ));
    }
}
