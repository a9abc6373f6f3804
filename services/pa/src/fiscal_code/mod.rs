//! The personal fiscal code (*codice fiscale*), DPR 605/1973 and DM 23/12/1976.
//!
//! Sixteen characters: three for the surname, three for the name, two for the year of
//! birth, a month letter (`ABCDEHLMPRST`), two for the day (plus 40 for women), four
//! for the birthplace (Belfiore code) and a check letter. [`CodiceFiscale`] keeps the
//! code exactly as issued (omocodic letters included) and decodes it on demand.
//!
//! The code the tax agency assigned is authoritative: comparing it with declared data
//! ([`compare`]) yields warnings, never a rejection. Until it assigns one, a person may
//! hold an 11-digit provisional code instead ([`PersonCode`], [`ProvisionalCode`]).

mod check;
pub mod compare;
pub mod encode;
mod omocodia;
mod provisional;

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::birthplace::{self, BelfioreCode, Birthplace};

pub use compare::{Declared, Mismatch};
pub use encode::{EncodeError, Person, encode};
pub use provisional::{PersonCode, PersonCodeError, ProvisionalCode, ProvisionalError};

/// The oldest verified human lifespan (122 years): a birth year read in the previous
/// century is a plausible reading only for people up to this age.
pub const OLDEST_PLAUSIBLE_AGE: i16 = 122;

/// Month letters, January to December (DM 23/12/1976).
pub const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Sex as the fiscal code records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// Male: day of birth as is.
    #[serde(rename = "M")]
    Male,
    /// Female: day of birth plus 40.
    #[serde(rename = "F")]
    Female,
}

impl FromStr for Sex {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "M" | "MALE" => Ok(Sex::Male),
            "F" | "FEMALE" => Ok(Sex::Female),
            other => Err(format!("sex {other} is not M or F")),
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "M",
            Sex::Female => "F",
        })
    }
}

/// Why a string is not a valid fiscal code. Positions count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalCodeError {
    /// Not 16 characters.
    #[error("a fiscal code has 16 characters, found {0}")]
    Length(usize),
    /// A letter was required.
    #[error("character {position} must be a letter, found '{found}'")]
    ExpectedLetter {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// A digit (or an omocodia letter) was required.
    #[error(
        "character {position} must be a digit or one of LMNPQRSTUV (omocodia), found '{found}'"
    )]
    ExpectedDigit {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// Position 9 is not a month letter.
    #[error("month letter {0} is not one of ABCDEHLMPRST")]
    MonthLetter(char),
    /// Day outside 1-31 and 41-71.
    #[error("day {0:02} is not 01-31 (men) or 41-71 (women)")]
    Day(u8),
    /// The day does not exist in that month.
    #[error("day {day} does not exist in month {month} (year ending in {yy:02})")]
    DayNotInMonth {
        /// Day of month (women's +40 removed).
        day: u8,
        /// Month 1-12.
        month: u8,
        /// Last two digits of the year.
        yy: u8,
    },
    /// The check character does not match.
    #[error("check character is {found}, expected {expected}")]
    Check {
        /// The 16th character.
        found: char,
        /// The one the first 15 give.
        expected: char,
    },
}

/// A structurally valid personal fiscal code, as issued (uppercase).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodiceFiscale([u8; 16]);

/// Everything a fiscal code says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decoded {
    /// The code as issued.
    pub code: String,
    /// The code with omocodia letters turned back into digits (and its check char).
    pub base_code: String,
    /// Number of omocodia substitutions (0 = none).
    pub omocodia_level: u8,
    /// Substitutions not in the agency's right-to-left order (valid, but unusual).
    pub omocodia_non_standard: bool,
    /// Surname letters (positions 1-3).
    pub surname_code: String,
    /// Name letters (positions 4-6).
    pub name_code: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date with the century inferred (see [`CodiceFiscale::birth_date`]).
    pub birth_date: Date,
    /// Birthplace code.
    pub birthplace_code: BelfioreCode,
    /// The birthplace on the birth date, when the table knows the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthplace: Option<Birthplace>,
}

impl CodiceFiscale {
    /// The code as issued.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Digits in omocodic positions, with substitution letters turned back into digits.
    fn digit_at(&self, i: usize) -> u8 {
        let c = self.0[i];
        if c.is_ascii_digit() {
            c - b'0'
        } else {
            omocodia::digit_for(c).map_or(0, |d| d - b'0')
        }
    }

    /// The code with every omocodia letter turned back into its digit and the check
    /// character recomputed: the code the person would have had without omocodia.
    pub fn base(&self) -> CodiceFiscale {
        let mut b = self.0;
        for &p in &omocodia::POSITIONS_RIGHT_TO_LEFT {
            if let Some(d) = omocodia::digit_for(b[p]) {
                b[p] = d;
            }
        }
        b[15] = check::check_char(&b[..15]);
        CodiceFiscale(b)
    }

    /// How many digits were replaced by letters.
    pub fn omocodia_level(&self) -> u8 {
        omocodia::POSITIONS_RIGHT_TO_LEFT
            .iter()
            .filter(|&&p| self.0[p].is_ascii_uppercase())
            .count() as u8
    }

    /// The seven variants the agency would issue, in order (level 1 to 7), built from
    /// the base code: each is valid and decodes to the same person.
    pub fn omocodia_variants(&self) -> Vec<CodiceFiscale> {
        let base = self.base();
        let mut b = base.0;
        omocodia::POSITIONS_RIGHT_TO_LEFT
            .iter()
            .map(|&p| {
                b[p] = omocodia::letter_for(b[p]);
                b[15] = check::check_char(&b[..15]);
                CodiceFiscale(b)
            })
            .collect()
    }

    /// Surname letters.
    pub fn surname_code(&self) -> &str {
        &self.as_str()[0..3]
    }

    /// Name letters.
    pub fn name_code(&self) -> &str {
        &self.as_str()[3..6]
    }

    /// Sex: women have 40 added to the day of birth.
    pub fn sex(&self) -> Sex {
        if self.raw_day() > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    fn raw_day(&self) -> u8 {
        self.digit_at(9) * 10 + self.digit_at(10)
    }

    /// Day of birth, 1-31.
    pub fn birth_day(&self) -> u8 {
        let d = self.raw_day();
        if d > 40 { d - 40 } else { d }
    }

    /// Month of birth, 1-12.
    pub fn birth_month(&self) -> u8 {
        MONTH_LETTERS
            .iter()
            .position(|&m| m == self.0[8])
            .map_or(1, |i| i as u8 + 1)
    }

    /// Last two digits of the year of birth.
    pub fn birth_yy(&self) -> u8 {
        self.digit_at(6) * 10 + self.digit_at(7)
    }

    /// Birth date. The code holds only two digits of the year, so the century is
    /// inferred against `today`: the most recent year ending in those digits that is
    /// not after `today` (a code read in 2026 with `25` is 2025, with `30` is 1930).
    /// People over 100 years old therefore decode a century late: the only fix is
    /// the declared birth date. [`CodiceFiscale::birth_year_readings`] lists every
    /// plausible reading, and [`CodiceFiscale::warnings`] warns when there are two.
    pub fn birth_date(&self, today: Date) -> Date {
        let yy = i16::from(self.birth_yy());
        let (m, d) = (self.birth_month() as i8, self.birth_day() as i8);
        let this_century = today.year() - today.year().rem_euclid(100);
        let mut candidates = [this_century + yy, this_century - 100 + yy]
            .into_iter()
            .filter_map(|y| Date::new(y, m, d).ok())
            .filter(|date| *date <= today);
        // Parsing guarantees the day exists in at least one of the two centuries.
        candidates
            .next()
            .unwrap_or_else(|| Date::new(this_century - 100 + yy, m, 1).unwrap_or(today))
    }

    /// Every year the two digits can mean for a person alive on `today`: the birth date
    /// must exist, not be after `today`, and the age be at most [`OLDEST_PLAUSIBLE_AGE`].
    /// Most recent first; the first is the one [`CodiceFiscale::birth_date`] reads. Two
    /// years mean the century is ambiguous (a code with `05` read in 2026: 2005 or 1905).
    pub fn birth_year_readings(&self, today: Date) -> Vec<i16> {
        let yy = i16::from(self.birth_yy());
        let (m, d) = (self.birth_month() as i8, self.birth_day() as i8);
        let this_century = today.year() - today.year().rem_euclid(100);
        [
            this_century + yy,
            this_century - 100 + yy,
            this_century - 200 + yy,
        ]
        .into_iter()
        .filter(|&y| today.year() - y <= OLDEST_PLAUSIBLE_AGE)
        .filter(|&y| Date::new(y, m, d).is_ok_and(|date| date <= today))
        .collect()
    }

    /// Birthplace code (positions 12-15, omocodia letters decoded).
    pub fn birthplace_code(&self) -> BelfioreCode {
        let b = [
            self.0[11],
            b'0' + self.digit_at(12),
            b'0' + self.digit_at(13),
            b'0' + self.digit_at(14),
        ];
        BelfioreCode::from_bytes_unchecked(b)
    }

    /// Everything the code says, the century inferred against `today`.
    pub fn decode(&self, today: Date) -> Decoded {
        let birth_date = self.birth_date(today);
        let code = self.birthplace_code();
        Decoded {
            code: self.as_str().to_string(),
            base_code: self.base().as_str().to_string(),
            omocodia_level: self.omocodia_level(),
            omocodia_non_standard: !omocodia::is_standard_order(&self.0),
            surname_code: self.surname_code().to_string(),
            name_code: self.name_code().to_string(),
            sex: self.sex(),
            birth_date,
            birthplace_code: code,
            birthplace: birthplace::at(code, birth_date).cloned(),
        }
    }

    /// Warnings about a valid code worth a second look: an unknown birthplace code, a
    /// birthplace that did not exist on the birth date, omocodia out of order, a birth
    /// year whose century the code alone cannot tell.
    pub fn warnings(&self, today: Date) -> Vec<String> {
        let mut w = self.warnings_on(self.birth_date(today));
        if let [read, other, ..] = self.birth_year_readings(today).as_slice() {
            w.push(format!(
                "birth year {:02} may be {read} or {other}: read as {read}; the code holds only two digits, the birth date on the person's documents tells",
                self.birth_yy()
            ));
        }
        w
    }

    /// [`CodiceFiscale::warnings`] read with the declared data: a declared birth date
    /// settles the century (and [`CodiceFiscale::compare`] reports one that disagrees
    /// with the code), so the birthplace is checked on it and no century warning is given.
    pub fn warnings_with(&self, today: Date, declared: &Declared<'_>) -> Vec<String> {
        match declared.birth_date {
            Some(date) => self.warnings_on(date),
            None => self.warnings(today),
        }
    }

    /// The warnings for a holder born on `date`.
    fn warnings_on(&self, date: Date) -> Vec<String> {
        let mut w = Vec::new();
        let code = self.birthplace_code();
        let rows = birthplace::by_code(code);
        if rows.is_empty() {
            w.push(format!("birthplace code {code} is not in the table"));
        } else if !rows.iter().any(|b| b.covers(date)) {
            w.push(format!(
                "birthplace code {code} is not recorded as existing on {date}"
            ));
        }
        if !omocodia::is_standard_order(&self.0) {
            w.push("omocodia letters are not in the agency's right-to-left order".to_string());
        }
        w
    }
}

fn days_in_month(month: u8, yy: u8) -> u8 {
    match month {
        2 => {
            // Either 19yy or 20yy (or 18yy…): a year ending in a multiple of 4 is a leap
            // year in one of the centuries (2000 is), so 29 February can be valid.
            if yy.is_multiple_of(4) { 29 } else { 28 }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for CodiceFiscale {
    type Err = FiscalCodeError;

    /// Parses a code: surrounding spaces are ignored and lowercase accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 16 {
            return Err(FiscalCodeError::Length(n));
        }
        let mut b = [0u8; 16];
        for (i, c) in s.chars().enumerate() {
            let c = c.to_ascii_uppercase();
            let letter_pos = matches!(i, 0..=5 | 8 | 11 | 15);
            if letter_pos {
                if !c.is_ascii_uppercase() {
                    return Err(FiscalCodeError::ExpectedLetter {
                        position: i + 1,
                        found: c,
                    });
                }
            } else if !(c.is_ascii_digit()
                || (c.is_ascii() && omocodia::digit_for(c as u8).is_some()))
            {
                return Err(FiscalCodeError::ExpectedDigit {
                    position: i + 1,
                    found: c,
                });
            }
            b[i] = c as u8;
        }
        let cf = CodiceFiscale(b);
        if !MONTH_LETTERS.contains(&b[8]) {
            return Err(FiscalCodeError::MonthLetter(b[8] as char));
        }
        let raw_day = cf.raw_day();
        if !(1..=31).contains(&raw_day) && !(41..=71).contains(&raw_day) {
            return Err(FiscalCodeError::Day(raw_day));
        }
        let (day, month, yy) = (cf.birth_day(), cf.birth_month(), cf.birth_yy());
        if day > days_in_month(month, yy) {
            return Err(FiscalCodeError::DayNotInMonth { day, month, yy });
        }
        let expected = check::check_char(&b[..15]);
        if expected != b[15] {
            return Err(FiscalCodeError::Check {
                found: b[15] as char,
                expected: expected as char,
            });
        }
        Ok(cf)
    }
}

impl TryFrom<&str> for CodiceFiscale {
    type Error = FiscalCodeError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for CodiceFiscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Debug shows only that it is a code: fiscal codes are personal data and must not
/// reach logs through a stray `{:?}`.
impl fmt::Debug for CodiceFiscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodiceFiscale(…)")
    }
}

impl Serialize for CodiceFiscale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CodiceFiscale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Folds one character to plain uppercase ASCII letters the way fiscal codes treat
/// accented and foreign letters (`È` → `E`, `ß` → `SS`); other characters pass as they are.
pub(crate) fn fold_letter(c: char) -> String {
    let up: String = c.to_uppercase().collect();
    let folded = match up.as_str() {
        "À" | "Á" | "Â" | "Ã" | "Ä" | "Å" | "Ā" | "Ă" | "Ą" => "A",
        "Æ" => "AE",
        "Ç" | "Ć" | "Č" | "Ĉ" => "C",
        "Ď" | "Đ" => "D",
        "È" | "É" | "Ê" | "Ë" | "Ē" | "Ė" | "Ę" | "Ě" => "E",
        "Ğ" => "G",
        "Ì" | "Í" | "Î" | "Ï" | "Ī" | "İ" => "I",
        "Ł" => "L",
        "Ñ" | "Ń" | "Ň" => "N",
        "Ò" | "Ó" | "Ô" | "Õ" | "Ö" | "Ø" | "Ō" | "Ő" => "O",
        "Œ" => "OE",
        "Ř" => "R",
        "Ś" | "Š" | "Ş" => "S",
        "SS" => "SS",
        "Ť" | "Ţ" => "T",
        "Ù" | "Ú" | "Û" | "Ü" | "Ū" | "Ů" | "Ű" => "U",
        "Ý" | "Ÿ" => "Y",
        "Ź" | "Ż" | "Ž" => "Z",
        _ => return up,
    };
    folded.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn cf(s: &str) -> CodiceFiscale {
        s.parse().unwrap()
    }

    #[test]
    fn decodes_the_agency_example() {
        // Verified with python-codicefiscale 0.12.1: Mario Rossi, 10/12/1985, San Giuliano Terme (PI).
        let d = cf("RSSMRA85T10A562S").decode(date(2026, 1, 1));
        assert_eq!(d.sex, Sex::Male);
        assert_eq!(d.birth_date, date(1985, 12, 10));
        assert_eq!(d.birthplace.unwrap().name, "San Giuliano Terme");
        assert_eq!(d.omocodia_level, 0);
    }

    #[test]
    fn decodes_a_woman_born_in_la_spezia() {
        // python-codicefiscale: Maria Rossi, F, 19/03/1990, La Spezia -> RSSMRA90C59E463G.
        let d = cf("rssmra90c59e463g").decode(date(2026, 1, 1));
        assert_eq!(d.sex, Sex::Female);
        assert_eq!(d.birth_date, date(1990, 3, 19));
        assert_eq!(d.birthplace.unwrap().istat, Some("011015"));
    }

    #[test]
    fn omocodic_codes_decode_to_the_same_person() {
        // Both listed by python-codicefiscale among the omocodes of RSSMRA85T10A562S.
        for code in ["RSSMRA85T10A56NH", "RSSMRAURTMLARSNL", "RSSMRA85T10A5S2E"] {
            let c = cf(code);
            assert_eq!(c.base().as_str(), "RSSMRA85T10A562S");
            assert_eq!(c.birth_date(date(2026, 1, 1)), date(1985, 12, 10));
            assert_eq!(c.birthplace_code().as_str(), "A562");
        }
        assert_eq!(cf("RSSMRAURTMLARSNL").omocodia_level(), 7);
        // 5S2: position 14 substituted but not 15: valid, flagged as unusual.
        assert!(!cf("RSSMRA85T10A5S2E").warnings(date(2026, 1, 1)).is_empty());
        let v = cf("RSSMRA85T10A562S").omocodia_variants();
        assert_eq!(v[0].as_str(), "RSSMRA85T10A56NH");
        assert_eq!(v[6].as_str(), "RSSMRAURTMLARSNL");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| s.parse::<CodiceFiscale>().unwrap_err().to_string();
        assert_eq!(e("RSSMRA85T10A562K"), "check character is K, expected S");
        assert_eq!(
            e("RSSMRA85X10A562S"),
            "month letter X is not one of ABCDEHLMPRST"
        );
        assert_eq!(
            e("RSSMRA85T10A562"),
            "a fiscal code has 16 characters, found 15"
        );
        assert_eq!(
            e("RSSMRA85T35A562S"),
            "day 35 is not 01-31 (men) or 41-71 (women)"
        );
        assert_eq!(
            e("RSSMRA85B30A562S"),
            "day 30 does not exist in month 2 (year ending in 85)"
        );
        assert_eq!(
            e("RSSMR185T10A562S"),
            "character 6 must be a letter, found '1'"
        );
        assert_eq!(
            e("RSSMRA8AT10A562S"),
            "character 8 must be a digit or one of LMNPQRSTUV (omocodia), found 'A'"
        );
        assert_eq!(
            e("RSSMRA85T10A562SÈ"),
            "a fiscal code has 16 characters, found 17"
        );
    }

    #[test]
    fn century_is_inferred_against_today() {
        let c = encode(&Person {
            surname: "Rossi",
            name: "Mario",
            sex: Sex::Male,
            birth_date: date(1930, 5, 1),
            birthplace: "E463".parse().unwrap(),
        })
        .unwrap();
        assert_eq!(c.birth_date(date(2026, 1, 1)), date(1930, 5, 1));
        // Read in 2031 the same code means 2030 (documented ambiguity).
        assert_eq!(c.birth_date(date(2031, 1, 1)), date(2030, 5, 1));
        // 29 February of a year ending in 00: 2000 was a leap year, 1900 was not.
        let leap = encode(&Person {
            surname: "Rossi",
            name: "Mario",
            sex: Sex::Male,
            birth_date: date(2000, 2, 29),
            birthplace: "E463".parse().unwrap(),
        })
        .unwrap();
        assert_eq!(leap.birth_date(date(2026, 1, 1)), date(2000, 2, 29));
    }

    /// The code holds two digits of the year (DM 23/12/1976): when both centuries give
    /// a living person, the reading is ambiguous and says so.
    #[test]
    fn an_ambiguous_century_gives_a_warning() {
        let today = date(2026, 11, 26);
        let young = encode(&Person {
            surname: "Rossi",
            name: "Luca",
            sex: Sex::Male,
            birth_date: date(2012, 11, 10),
            birthplace: "E463".parse().unwrap(),
        })
        .unwrap();
        assert_eq!(young.birth_year_readings(today), [2012, 1912]);
        let w = young.warnings(today);
        assert_eq!(
            w,
            [
                "birth year 12 may be 2012 or 1912: read as 2012; the code holds only two digits, the birth date on the person's documents tells"
            ]
        );
        // A declared birth date settles it.
        let declared = Declared {
            birth_date: Some(date(2012, 11, 10)),
            ..Declared::default()
        };
        assert!(young.warnings_with(today, &declared).is_empty());
        // 1990: 2090 is in the future and 1890 beyond any human age.
        assert_eq!(cf("RSSMRA90C59E463G").birth_year_readings(today), [1990]);
        assert!(cf("RSSMRA90C59E463G").warnings(today).is_empty());
        // 1904 is 122 years before 2026, the oldest plausible age; 1903 is not.
        let c = |y| {
            encode(&Person {
                surname: "Rossi",
                name: "Luca",
                sex: Sex::Male,
                birth_date: date(y, 1, 1),
                birthplace: "E463".parse().unwrap(),
            })
            .unwrap()
        };
        assert_eq!(c(2004).birth_year_readings(today), [2004, 1904]);
        assert_eq!(c(2003).birth_year_readings(today), [2003]);
        // 29 February 2000: 1900 was not a leap year, so only one reading exists.
        assert_eq!(
            encode(&Person {
                surname: "Rossi",
                name: "Luca",
                sex: Sex::Male,
                birth_date: date(2000, 2, 29),
                birthplace: "E463".parse().unwrap(),
            })
            .unwrap()
            .birth_year_readings(today),
            [2000]
        );
    }

    #[test]
    fn debug_hides_the_code() {
        assert_eq!(format!("{:?}", cf("RSSMRA85T10A562S")), "CodiceFiscale(…)");
    }
}
