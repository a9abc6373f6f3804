//! Vehicle registration plates (*targhe*), Codice della strada (D.Lgs. 285/1992)
//! artt. 97, 100-102, 131 and 138 and its regulation (DPR 495/1992), as amended by
//! DPR 153/2006 (mopeds) and DPR 198/2012 (trailers).
//!
//! Recognised formats (spaces, hyphens and dots ignored, lowercase accepted):
//!
//! | kind | format | since | source |
//! | --- | --- | --- | --- |
//! | car | `AA 000 AA` | 1994 | D.Lgs. 285/1992 art. 100; the 22 letters without I, O, Q, U; `ZA…` square plates; the series never uses `EE` |
//! | local police | `YA 000 AA` | | series reserved to municipal and provincial police |
//! | trailer | `XA 000 AA` | 20 February 2013 | DPR 198/2012 |
//! | trailer before 2013 | `AA 00000` | 1994-2013 | its own series, which does not skip provincial pairs |
//! | motorcycle | `AA 00000` | 1994 | the series skips pairs that are a province's code |
//! | moped | `X` + five letters or digits | 14 July 2006 | DPR 153/2006 (DPR 495/1992 art. 250: "sei caratteri alfanumerici") |
//! | old provincial | `SP 123456`, `MI A12345`, `ROMA 1A2345` | 1927-1994 | province then a serial of up to six characters, at most one letter |
//! | *escursionisti esteri* | `EE 000 AA`, motorcycles `EE A000` | 1985 | customs plates for non-residents |
//! | diplomatic | `CD`/`CC` `0000 AA` (1985-2023), `CD`/`CC`/`PTA` `00000` | DM MIT 11 October 2023 | CD diplomats, CC consuls, PTA administrative and technical staff |
//! | corps | `EI`/`AM` `AA 000` (1997), `CC AA 000` (2000), `MM 000 AA` (1986-1997), `POLIZIA A0000` (1989), `GdiF 000 AA` (1981), `VF` + number (1938), `CRI 000 AA` | | D.Lgs. 285/1992 art. 138 |
//! | foreign | `CH:ZH 12345` | | marked by the caller with its country's international code |
//!
//! Several formats share a shape (`SP 12345` is an old La Spezia plate or a trailer's
//! from before 2013; `VF 12345` a fire brigade's, a motorcycle's or an old trailer's).
//! A plate that fits more than one is reported with every candidate
//! ([`recognise`]); parsing it into one [`Plate`] fails with [`PlateError::Ambiguous`],
//! never picks one silently.
//!
//! Foreign plates follow each country's rules, so they are only checked for shape;
//! the caller must mark them (`COUNTRY:PLATE`), because many foreign plates look Italian.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::Serialize;

use crate::birthplace;

/// The bodies with plates of their own (D.Lgs. 285/1992 art. 138).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Corps {
    /// Esercito Italiano, `EI AA 000`.
    Esercito,
    /// Aeronautica Militare, `AM AA 000`.
    AeronauticaMilitare,
    /// Marina Militare, `MM 000 AA` (1986-1997).
    MarinaMilitare,
    /// Arma dei Carabinieri, `CC AA 000`.
    Carabinieri,
    /// Polizia di Stato: the plate reads `POLIZIA`, then a letter and four digits.
    PoliziaDiStato,
    /// Guardia di Finanza: the plate reads `GdiF`, then `000 AA`.
    GuardiaDiFinanza,
    /// Corpo Nazionale dei Vigili del Fuoco, `VF` and a growing number.
    VigiliDelFuoco,
    /// Croce Rossa Italiana, `CRI 000 AA`.
    CroceRossaItaliana,
}

/// What kind of vehicle or series a plate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlateKind {
    /// Car (and other motor vehicles), `AA000AA`.
    Car,
    /// Local police, `YA000AA`.
    LocalPolice,
    /// Trailer registered since 20 February 2013, `XA000AA`.
    Trailer,
    /// Trailer registered 1994-2013, `AA00000` (a series of its own).
    #[serde(rename = "trailer_before_2013")]
    TrailerBefore2013,
    /// Motorcycle, `AA00000`.
    Motorcycle,
    /// Moped (*ciclomotore*) since 14 July 2006, `X` and five characters.
    Moped,
    /// Provincial plate issued 1927-1994.
    OldProvincial {
        /// Province abbreviation as on the plate (`SP`, `ROMA`).
        province: String,
    },
    /// *Escursionisti esteri*: temporary plate for vehicles of non-residents, `EE000AA`.
    EscursionistiEsteri,
    /// Diplomatic and consular plates.
    Diplomatic {
        /// `CD` (diplomatic corps), `CC` (consular corps), `PTA` (administrative and
        /// technical staff of missions).
        series: String,
    },
    /// A corps with plates of its own.
    Corps {
        /// Which.
        corps: Corps,
    },
    /// Foreign plate, as marked by the caller.
    Foreign {
        /// International vehicle registration code (`CH`, `D`, `F`).
        country: String,
    },
}

impl PlateKind {
    /// The format and its period, for people reading a list of candidates.
    pub fn format(&self) -> &'static str {
        match self {
            PlateKind::Car => "AA 000 AA, cars since 1994",
            PlateKind::LocalPolice => "YA 000 AA, local police",
            PlateKind::Trailer => "XA 000 AA, trailers since 20 February 2013 (DPR 198/2012)",
            PlateKind::TrailerBefore2013 => "AA 00000, trailers registered 1994-2013",
            PlateKind::Motorcycle => "AA 00000, motorcycles since 1994",
            PlateKind::Moped => "X + 5 characters, mopeds since 14 July 2006 (DPR 153/2006)",
            PlateKind::OldProvincial { .. } => "province + serial, 1927-1994",
            PlateKind::EscursionistiEsteri => "EE 000 AA, escursionisti esteri since 1985",
            PlateKind::Diplomatic { .. } => {
                "CD/CC 0000 AA (1985-2023) or CD/CC/PTA 00000 (DM MIT 11 October 2023)"
            }
            PlateKind::Corps { corps } => match corps {
                Corps::Esercito => "EI AA 000, Esercito since 1997",
                Corps::AeronauticaMilitare => "AM AA 000, Aeronautica Militare since 1997",
                Corps::MarinaMilitare => "MM 000 AA, Marina Militare 1986-1997",
                Corps::Carabinieri => "CC AA 000, Carabinieri since 2000",
                Corps::PoliziaDiStato => "POLIZIA A0000, Polizia di Stato since 1989",
                Corps::GuardiaDiFinanza => "GdiF 000 AA, Guardia di Finanza since 1981",
                Corps::VigiliDelFuoco => "VF + number, Vigili del Fuoco since 1938",
                Corps::CroceRossaItaliana => "CRI 000 AA, Croce Rossa Italiana",
            },
            PlateKind::Foreign { .. } => "foreign plate, marked COUNTRY:PLATE",
        }
    }
}

impl fmt::Display for PlateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlateKind::OldProvincial { province } => {
                write!(f, "old provincial plate of {province}")
            }
            PlateKind::Diplomatic { series } => write!(f, "{series} plate ({})", self.format()),
            PlateKind::Foreign { country } => write!(f, "foreign plate ({country})"),
            other => f.write_str(other.format()),
        }
    }
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

/// What a string can be: one kind, or several when formats share a shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognition {
    /// Uppercase, without spaces or separators.
    pub text: String,
    /// Every kind it fits, never empty.
    pub candidates: Vec<PlateKind>,
}

impl Recognition {
    /// More than one format fits.
    pub fn is_ambiguous(&self) -> bool {
        self.candidates.len() > 1
    }

    /// The plate, when exactly one format fits.
    pub fn only(self) -> Result<Plate, PlateError> {
        match <[PlateKind; 1]>::try_from(self.candidates) {
            Ok([kind]) => Ok(Plate {
                text: self.text,
                kind,
            }),
            Err(candidates) => Err(PlateError::Ambiguous {
                text: self.text,
                candidates,
            }),
        }
    }

    /// The plate as the candidate the caller knows it is (e.g. the vehicle is a
    /// motorcycle), if that candidate fits.
    pub fn choose(self, wanted: impl Fn(&PlateKind) -> bool) -> Option<Plate> {
        let text = self.text;
        self.candidates
            .into_iter()
            .find(|k| wanted(k))
            .map(|kind| Plate { text, kind })
    }
}

/// Why a string is not one plate.
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
    /// No Italian format matches.
    #[error(
        "{0} matches no Italian plate format (AA000AA, AA00000, X + 5 for mopeds, province + serial, EE, CD/CC/PTA, corps); mark foreign plates as COUNTRY:PLATE"
    )]
    Unrecognised(String),
    /// More than one format fits: the caller must say which.
    #[error(
        "{text} fits more than one plate format: {}; say which",
        list(candidates)
    )]
    Ambiguous {
        /// The plate.
        text: String,
        /// Every kind it fits.
        candidates: Vec<PlateKind>,
    },
    /// The foreign country code is not 1-3 letters.
    #[error("country code {0} is not 1-3 letters")]
    Country(String),
    /// The foreign registration is empty or too long.
    #[error("foreign registration {0} must have 1-10 letters or digits")]
    ForeignShape(String),
}

fn list(candidates: &[PlateKind]) -> String {
    candidates
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join("; ")
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

fn excluded_letter(s: &str) -> Option<char> {
    s.chars().find(|c| matches!(c, 'I' | 'O' | 'Q' | 'U'))
}

fn digits(s: &str, range: std::ops::RangeInclusive<usize>) -> bool {
    range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
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

fn corps(corps: Corps) -> PlateKind {
    PlateKind::Corps { corps }
}

fn diplomatic(series: &str) -> PlateKind {
    PlateKind::Diplomatic {
        series: series.to_string(),
    }
}

/// Every Italian kind `text` (compact) fits, in a stable order.
fn italian_candidates(text: &str) -> Vec<PlateKind> {
    let mut out = Vec::new();
    let sh = shape(text);
    let current = excluded_letter(text).is_none();
    let (head2, tail2) = text.split_at(text.len().min(2));
    match sh.as_str() {
        "AA000AA" => {
            match text.as_bytes()[0] {
                // The current series skips EE so as not to clash with these.
                _ if head2 == "EE" => out.push(PlateKind::EscursionistiEsteri),
                b'X' if current => out.push(PlateKind::Trailer),
                b'Y' if current => out.push(PlateKind::LocalPolice),
                _ if current => out.push(PlateKind::Car),
                _ => {}
            }
            if head2 == "MM" {
                out.push(corps(Corps::MarinaMilitare));
            }
        }
        "AA00000" => {
            let province = OLD_PROVINCES.contains(head2);
            // Motorcycles skip provincial pairs; the old trailer series did not.
            if current && !province {
                out.push(PlateKind::Motorcycle);
            }
            if current {
                out.push(PlateKind::TrailerBefore2013);
            }
        }
        "AA0000AA" if matches!(head2, "CD" | "CC") => out.push(diplomatic(head2)),
        "AAAA000" if matches!(head2, "EI" | "AM" | "CC") => out.push(corps(match head2 {
            "EI" => Corps::Esercito,
            "AM" => Corps::AeronauticaMilitare,
            _ => Corps::Carabinieri,
        })),
        "AAA000" if head2 == "EE" => out.push(PlateKind::EscursionistiEsteri),
        "AAA000AA" if text.starts_with("CRI") => out.push(corps(Corps::CroceRossaItaliana)),
        "AAAA000AA" if text.starts_with("GDIF") => out.push(corps(Corps::GuardiaDiFinanza)),
        "AAAAAAAA0000" if text.starts_with("POLIZIA") => out.push(corps(Corps::PoliziaDiStato)),
        _ => {}
    }
    if matches!(head2, "CD" | "CC") && digits(tail2, 5..=5) {
        out.push(diplomatic(head2));
    }
    if let Some(serial) = text.strip_prefix("PTA")
        && digits(serial, 5..=5)
    {
        out.push(diplomatic("PTA"));
    }
    if head2 == "VF" && digits(tail2, 1..=5) {
        out.push(corps(Corps::VigiliDelFuoco));
    }
    if text.len() == 6 && text.starts_with('X') && current {
        out.push(PlateKind::Moped);
    }
    let prov_len = if text.starts_with("ROMA") { 4 } else { 2 };
    let (prov, serial) = text.split_at(prov_len.min(text.len()));
    if OLD_PROVINCES.contains(prov) && old_serial_ok(serial) {
        out.push(PlateKind::OldProvincial {
            province: prov.to_string(),
        });
    }
    out
}

/// Every kind a string fits: one, or several when formats share a shape. Foreign
/// plates must be marked `COUNTRY:PLATE`.
pub fn recognise(s: &str) -> Result<Recognition, PlateError> {
    if let Some((country, reg)) = s.split_once(':') {
        let country = country.trim().to_ascii_uppercase();
        if !(1..=3).contains(&country.len()) || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(PlateError::Country(country));
        }
        let text = compact(reg)?;
        if text.len() > 10 {
            return Err(PlateError::ForeignShape(text));
        }
        return Ok(Recognition {
            text,
            candidates: vec![PlateKind::Foreign { country }],
        });
    }
    let text = compact(s)?;
    let candidates = italian_candidates(&text);
    if candidates.is_empty() {
        // For the current series' shapes, name the letter that rules it out.
        return Err(match excluded_letter(&text) {
            Some(c) if matches!(shape(&text).as_str(), "AA000AA" | "AA00000") => {
                PlateError::ExcludedLetter(c)
            }
            _ => PlateError::Unrecognised(text),
        });
    }
    Ok(Recognition { text, candidates })
}

impl FromStr for Plate {
    type Err = PlateError;
    /// One plate of one kind; a string that fits several fails with
    /// [`PlateError::Ambiguous`] (see [`recognise`] for the candidates).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        recognise(s)?.only()
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
mod tests;
