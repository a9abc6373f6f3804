//! Comparing a fiscal code with the data a person declared.
//!
//! The code the tax agency assigned is authoritative (omocodia, old corrections and
//! registry errors all make a real code differ from the computed one), so a mismatch
//! is a warning for the operator to look at, never a reason to refuse the code.

use jiff::civil::Date;
use serde::Serialize;

use super::{CodiceFiscale, Sex, encode};
use crate::birthplace::BelfioreCode;

/// What the person declared; each field is optional and compared only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared<'a> {
    /// Surname.
    pub surname: Option<&'a str>,
    /// Name.
    pub name: Option<&'a str>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Birthplace code.
    pub birthplace: Option<BelfioreCode>,
}

/// One field where the code and the declaration disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `surname`, `name`, `sex`, `birth_date` or `birthplace`.
    pub field: &'static str,
    /// What the code says.
    pub in_code: String,
    /// What the declaration gives (encoded the way the code would hold it).
    pub declared: String,
}

impl CodiceFiscale {
    /// Compares the code with declared data. Omocodic letters are decoded first, and the
    /// birth date is compared whole (so the century is checked too).
    pub fn compare(&self, declared: &Declared<'_>) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut push = |field, in_code: String, declared: String| {
            if in_code != declared {
                out.push(Mismatch {
                    field,
                    in_code,
                    declared,
                });
            }
        };
        if let Some(s) = declared.surname {
            let d = encode::surname_code(s).map_or_else(|e| e.to_string(), |c| ascii(&c));
            push("surname", self.surname_code().to_string(), d);
        }
        if let Some(n) = declared.name {
            let d = encode::name_code(n).map_or_else(|e| e.to_string(), |c| ascii(&c));
            push("name", self.name_code().to_string(), d);
        }
        if let Some(sex) = declared.sex {
            push("sex", self.sex().to_string(), sex.to_string());
        }
        if let Some(d) = declared.birth_date {
            // Compare what the code can hold: two year digits, month and day.
            let in_code = format!(
                "{:02}-{:02}-{:02}",
                self.birth_yy(),
                self.birth_month(),
                self.birth_day()
            );
            let decl = format!(
                "{:02}-{:02}-{:02}",
                d.year().rem_euclid(100),
                d.month(),
                d.day()
            );
            push("birth_date", in_code, decl);
        }
        if let Some(p) = declared.birthplace {
            push(
                "birthplace",
                self.birthplace_code().to_string(),
                p.to_string(),
            );
        }
        out
    }
}

fn ascii(c: &[u8; 3]) -> String {
    String::from_utf8_lossy(c).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn mismatches_are_listed_not_rejected() {
        let cf: CodiceFiscale = "RSSMRA85T10A56NH".parse().unwrap(); // omocodic Mario Rossi
        let ok = Declared {
            surname: Some("Rossi"),
            name: Some("Mario"),
            sex: Some(Sex::Male),
            birth_date: Some(date(1985, 12, 10)),
            birthplace: Some("A562".parse().unwrap()),
        };
        assert!(cf.compare(&ok).is_empty());
        let wrong = Declared {
            name: Some("Marco"),
            birth_date: Some(date(1985, 12, 11)),
            ..ok
        };
        let m = cf.compare(&wrong);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            Mismatch {
                field: "name",
                in_code: "MRA".into(),
                declared: "MRC".into()
            }
        );
        assert_eq!(m[1].field, "birth_date");
    }
}
