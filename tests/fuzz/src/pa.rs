//! sportello-pa's parsers of what a person types: fiscal codes, plates, pagoPA notice
//! numbers, VAT numbers, Belfiore codes. Beyond "no panic", each checks what is cheap to
//! check: a parsed value's text parses back to the same value, and the values derived
//! from it (the base code of an omocodia, a notice's IUV) are themselves valid.

use std::str::FromStr;

use jiff::civil::Date;
use sportello_pa::{
    BelfioreCode, CodiceFiscale, NoticeNumber, PartitaIva, PersonCode, Plate,
    birthplace::{self},
    fiscal_code::{ProvisionalCode, encode},
    pagopa, plate,
};

/// "Today" for what reads a century or a birthplace's validity: fixed, so a failing input
/// fails the same way every day.
const TODAY: Date = Date::constant(2026, 12, 7);

/// The input as text: invalid UTF-8 is replaced, as a lossy front end would.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A value that parses must print as text that parses back to itself.
fn round_trip<T>(value: &T)
where
    T: FromStr + ToString + PartialEq,
{
    let printed = value.to_string();
    assert!(
        T::from_str(&printed).is_ok_and(|again| again == *value),
        "{printed:?} does not parse back to the value it was printed from"
    );
}

/// `CodiceFiscale`, `ProvisionalCode` and `PersonCode`, and the name parts' encoding.
pub fn fiscal_code(data: &[u8]) {
    let s = text(data);
    if let Ok(code) = s.parse::<CodiceFiscale>() {
        round_trip(&code);
        let printed = code.to_string();
        assert!(printed.len() == 16 && printed.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!printed.bytes().any(|b| b.is_ascii_lowercase()));
        // The base code and the seven omocodia variants are valid codes of one person.
        let base = code.base();
        round_trip(&base);
        assert_eq!(base.omocodia_level(), 0);
        assert_eq!(base.base(), base);
        let variants = code.omocodia_variants();
        assert_eq!(variants.len(), 7);
        for (level, variant) in (1u8..).zip(&variants) {
            round_trip(variant);
            assert_eq!(variant.base(), base);
            assert_eq!(variant.omocodia_level(), level);
        }
        let decoded = code.decode(TODAY);
        assert_eq!(decoded.code, printed);
        assert!(decoded.birth_date <= TODAY);
        let _ = code.warnings(TODAY);
        // Sixteen characters are always read as a definitive code.
        assert_eq!(
            s.parse::<PersonCode>().ok(),
            Some(PersonCode::Definitive(code))
        );
    }
    if let Ok(code) = s.parse::<ProvisionalCode>() {
        round_trip(&code);
        let _ = code.office_code();
    }
    if let Ok(code) = s.parse::<PersonCode>() {
        round_trip(&code);
    }
    // The name parts of the code, from a surname and a name as typed.
    let (surname, name) = s.split_once('|').unwrap_or((&s, ""));
    for part in [encode::surname_code(surname), encode::name_code(name)]
        .into_iter()
        .flatten()
    {
        assert!(part.iter().all(u8::is_ascii_uppercase));
    }
}

/// `Plate` and the classifier that lists every candidate kind.
pub fn plate(data: &[u8]) {
    let s = text(data);
    let single = s.parse::<Plate>();
    match plate::recognise(&s) {
        Ok(recognition) => {
            assert!(!recognition.candidates.is_empty());
            // The compact text is recognised again as the same candidates.
            if !s.contains(':') {
                assert_eq!(
                    plate::recognise(&recognition.text).ok().as_ref(),
                    Some(&recognition)
                );
            }
            assert_eq!(single.is_ok(), !recognition.is_ambiguous());
            let first = recognition.candidates.first().cloned();
            let chosen = recognition.clone().choose(|k| Some(k) == first.as_ref());
            assert!(chosen.is_some());
        }
        Err(_) => assert!(single.is_err()),
    }
    if let Ok(plate) = single {
        round_trip(&plate);
        let _ = plate.kind.format();
    }
}

/// pagoPA's `NoticeNumber`, its IUV, and the builders from a segregation or application
/// code and a base.
pub fn notice_number(data: &[u8]) {
    let s = text(data);
    if let Ok(notice) = s.parse::<NoticeNumber>() {
        round_trip(&notice);
        assert!(notice.aux_digit() <= 3);
        let iuv = notice.iuv();
        assert!(!iuv.as_str().is_empty());
        let _ = (
            notice.application_code(),
            notice.segregation_code(),
            notice.iuv_base(),
            notice.check(),
        );
    }
    let _ = pagopa::check_digits(&s);
    // "segregation|base": what a department types to build a notice.
    let (head, base) = s.split_once('|').unwrap_or(("", &s));
    for built in [
        NoticeNumber::build_aux3(head, base),
        NoticeNumber::build_aux0(head, base),
        NoticeNumber::build_aux2(base),
    ]
    .into_iter()
    .flatten()
    {
        round_trip(&built);
    }
}

/// The VAT number (*partita IVA*).
pub fn vat(data: &[u8]) {
    let s = text(data);
    if let Ok(vat) = s.parse::<PartitaIva>() {
        round_trip(&vat);
        let printed = vat.to_string();
        assert!(printed.len() == 11 && printed.bytes().all(|b| b.is_ascii_digit()));
        let _ = vat.office_code();
    }
}

/// Belfiore codes and the birthplace table's look-ups by code, ISTAT code and name.
pub fn belfiore(data: &[u8]) {
    let s = text(data);
    if let Ok(code) = s.parse::<BelfioreCode>() {
        round_trip(&code);
        for place in birthplace::by_code(code) {
            assert_eq!(place.code, code);
        }
        let _ = birthplace::at(code, TODAY);
    }
    let _ = birthplace::by_istat(&s);
    for place in birthplace::find_by_name(&s, Some(TODAY)) {
        assert!(place.covers(TODAY));
    }
}
