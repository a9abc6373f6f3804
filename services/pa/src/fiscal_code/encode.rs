//! Computing a fiscal code from a person's data (DM 23/12/1976, allegato).
//!
//! Surname: its consonants in order, then its vowels, then `X` up to three letters.
//! Name: the same, except that a name with four or more consonants takes the 1st, 3rd
//! and 4th. Accented and foreign letters count as their plain letter (`È` as `E`);
//! apostrophes, spaces and hyphens are ignored (`D'Amico` is `DAMICO`). Only the
//! agency can assign a code (omocodia, corrections): a computed code is an expectation.

use jiff::civil::Date;
use serde::Serialize;

use super::{CodiceFiscale, MONTH_LETTERS, Sex, check, fold_letter};
use crate::birthplace::BelfioreCode;

/// The data a fiscal code is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person<'a> {
    /// Surname(s) as written, accents and apostrophes included.
    pub surname: &'a str,
    /// Given name(s) as written.
    pub name: &'a str,
    /// Sex.
    pub sex: Sex,
    /// Date of birth.
    pub birth_date: Date,
    /// Birthplace: municipality or foreign country code.
    pub birthplace: BelfioreCode,
}

/// Why a code cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The surname has no letters.
    #[error("surname has no letters")]
    EmptySurname,
    /// The name has no letters.
    #[error("name has no letters")]
    EmptyName,
}

fn letters(s: &str) -> Vec<u8> {
    s.chars()
        .flat_map(|c| fold_letter(c).into_bytes())
        .filter(u8::is_ascii_uppercase)
        .collect()
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'A' | b'E' | b'I' | b'O' | b'U')
}

fn split(s: &str) -> (Vec<u8>, Vec<u8>) {
    letters(s).into_iter().partition(|&c| !is_vowel(c))
}

fn pad(mut v: Vec<u8>) -> [u8; 3] {
    v.extend_from_slice(b"XXX");
    [v[0], v[1], v[2]]
}

/// The three surname letters: consonants, then vowels, then `X`.
pub fn surname_code(surname: &str) -> Result<[u8; 3], EncodeError> {
    let (mut cons, vowels) = split(surname);
    if cons.is_empty() && vowels.is_empty() {
        return Err(EncodeError::EmptySurname);
    }
    cons.extend(vowels);
    Ok(pad(cons))
}

/// The three name letters: with four or more consonants the 1st, 3rd and 4th;
/// otherwise consonants, then vowels, then `X`.
pub fn name_code(name: &str) -> Result<[u8; 3], EncodeError> {
    let (mut cons, vowels) = split(name);
    if cons.is_empty() && vowels.is_empty() {
        return Err(EncodeError::EmptyName);
    }
    if cons.len() >= 4 {
        return Ok([cons[0], cons[2], cons[3]]);
    }
    cons.extend(vowels);
    Ok(pad(cons))
}

/// Computes the code the rules give for a person (without omocodia).
pub fn encode(p: &Person<'_>) -> Result<CodiceFiscale, EncodeError> {
    let mut b = [0u8; 16];
    b[0..3].copy_from_slice(&surname_code(p.surname)?);
    b[3..6].copy_from_slice(&name_code(p.name)?);
    let yy = p.birth_date.year().rem_euclid(100) as u8;
    b[6] = b'0' + yy / 10;
    b[7] = b'0' + yy % 10;
    b[8] = MONTH_LETTERS[(p.birth_date.month() - 1) as usize];
    let day = p.birth_date.day() as u8 + if p.sex == Sex::Female { 40 } else { 0 };
    b[9] = b'0' + day / 10;
    b[10] = b'0' + day % 10;
    b[11..15].copy_from_slice(p.birthplace.as_str().as_bytes());
    b[15] = check::check_char(&b[..15]);
    Ok(CodiceFiscale(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn code(surname: &str, name: &str, sex: Sex, d: Date, place: &str) -> String {
        encode(&Person {
            surname,
            name,
            sex,
            birth_date: d,
            birthplace: place.parse().unwrap(),
        })
        .unwrap()
        .to_string()
    }

    // Every expected code below was computed with python-codicefiscale 0.12.1
    // (`codicefiscale.encode`), not written from memory.
    #[test]
    fn worked_examples() {
        assert_eq!(
            code("Rossi", "Mario", Sex::Male, date(1985, 12, 10), "A562"),
            "RSSMRA85T10A562S"
        );
        assert_eq!(
            code("Rossi", "Maria", Sex::Female, date(1990, 3, 19), "E463"),
            "RSSMRA90C59E463G"
        );
    }

    #[test]
    fn surname_rules() {
        let s = |x| String::from_utf8(surname_code(x).unwrap().to_vec()).unwrap();
        assert_eq!(s("Rossi"), "RSS");
        assert_eq!(s("Fo"), "FOX"); // short surname padded with X
        assert_eq!(s("Oca"), "COA"); // consonants first
        assert_eq!(s("D'Amico"), "DMC"); // apostrophe ignored
        assert_eq!(s("De Luca"), "DLC"); // space ignored
        assert_eq!(s("Nicolò"), "NCL");
        assert_eq!(s("Àlè"), "LAE"); // accents fold to the plain vowel
        assert_eq!(surname_code("'- "), Err(EncodeError::EmptySurname));
    }

    #[test]
    fn name_rules() {
        let n = |x| String::from_utf8(name_code(x).unwrap().to_vec()).unwrap();
        assert_eq!(n("Mario"), "MRA");
        assert_eq!(n("Gianfranco"), "GFR"); // 4+ consonants: 1st, 3rd, 4th
        assert_eq!(n("Alberto"), "LRT"); // L B R T: 1st, 3rd, 4th
        assert_eq!(n("Ugo"), "GUO");
        assert_eq!(n("Al"), "LAX");
        assert_eq!(n("Maria Luisa"), "MLS");
    }
}
