//! Property tests: round trips and the monotonicity the law guarantees.

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::{Date, date};
use proptest::prelude::*;
use sportello_pa::calendar::{Calendar, Closure};
use sportello_pa::clock::{ClockError, ClockOptions, Outcome, Procedure, Stop, Term, deadline};
use sportello_pa::fiscal_code::{Person, PersonCode, ProvisionalCode, encode};
use sportello_pa::plate::{PlateError, recognise};
use sportello_pa::{BelfioreCode, CodiceFiscale, NoticeNumber, PartitaIva, Sex, birthplace};

fn any_date() -> impl Strategy<Value = Date> {
    // 1900-2099 covers every fiscal code in use and every deadline Sportello computes.
    (0i64..73_000).prop_map(|n| {
        date(1900, 1, 1)
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
    })
}

fn recent_date() -> impl Strategy<Value = Date> {
    (0i64..3_650).prop_map(|n| {
        date(2024, 1, 1)
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
    })
}

fn any_name() -> impl Strategy<Value = String> {
    // Letters, accents, apostrophes and spaces, as names are written.
    proptest::string::string_regex("[A-Za-zÀÈÉÌÒÙàèéìòùç' ]{0,3}[A-Za-zÀÈÉÌÒÙàèéìòù]{1,12}")
        .unwrap()
}

fn any_place() -> impl Strategy<Value = BelfioreCode> {
    let all = birthplace::all();
    (0..all.len()).prop_map(move |i| all[i].code)
}

fn sex() -> impl Strategy<Value = Sex> {
    prop_oneof![Just(Sex::Male), Just(Sex::Female)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Encoding then decoding gives back the person's sex, birth date and birthplace.
    #[test]
    fn fiscal_code_round_trip(surname in any_name(), name in any_name(), sex in sex(), birth in any_date(), place in any_place()) {
        let cf = encode(&Person { surname: &surname, name: &name, sex, birth_date: birth, birthplace: place }).unwrap();
        let parsed: CodiceFiscale = cf.as_str().parse().unwrap();
        prop_assert_eq!(parsed, cf);
        prop_assert_eq!(parsed.sex(), sex);
        prop_assert_eq!(parsed.birthplace_code(), place);
        // The century is inferred against a day after the birth and less than 100 years later.
        prop_assert_eq!(parsed.birth_date(date(2099, 12, 31).min(birth.checked_add(jiff::Span::new().years(99)).unwrap())), birth);
    }

    /// Every omocodia variant (the agency's 7 levels and every other subset) is valid and
    /// decodes to the same person.
    #[test]
    fn omocodia_variants_are_the_same_person(surname in any_name(), name in any_name(), sex in sex(), birth in any_date(), place in any_place(), mask in 0u8..128) {
        let cf = encode(&Person { surname: &surname, name: &name, sex, birth_date: birth, birthplace: place }).unwrap();
        let today = date(2100, 1, 1).min(birth.checked_add(jiff::Span::new().years(99)).unwrap());
        for v in cf.omocodia_variants() {
            let v: CodiceFiscale = v.as_str().parse().unwrap();
            prop_assert_eq!(v.base(), cf);
            prop_assert_eq!(v.decode(today).birth_date, birth);
            prop_assert_eq!(v.sex(), sex);
            prop_assert_eq!(v.birthplace_code(), place);
        }
        // Any subset of positions, with the check character recomputed.
        let positions = [14usize, 13, 12, 10, 9, 7, 6];
        let mut b: Vec<u8> = cf.as_str().bytes().collect();
        for (i, p) in positions.iter().enumerate() {
            if mask & (1 << i) != 0 {
                b[*p] = b"LMNPQRSTUV"[(b[*p] - b'0') as usize];
            }
        }
        let body = std::str::from_utf8(&b[..15]).unwrap();
        let fits: Vec<CodiceFiscale> = (b'A'..=b'Z').filter_map(|c| format!("{body}{}", c as char).parse().ok()).collect();
        prop_assert_eq!(fits.len(), 1, "exactly one check character fits {}", body);
        let v = fits[0];
        prop_assert_eq!(v.base(), cf);
        prop_assert_eq!(v.birth_date(today), birth);
    }

    /// Parsing arbitrary input never panics.
    #[test]
    fn parsers_never_panic(s in "\\PC{0,24}") {
        let _ = s.parse::<CodiceFiscale>();
        let _ = s.parse::<PartitaIva>();
        let _ = s.parse::<NoticeNumber>();
        let _ = s.parse::<sportello_pa::Plate>();
        let _ = s.parse::<PersonCode>();
        let _ = s.parse::<BelfioreCode>();
        let _ = birthplace::find_by_name(&s, None);
    }

    /// Notice numbers built from their parts parse back to the same parts.
    #[test]
    fn notice_round_trip(seg in 0u8..100, app in 0u8..100, base13 in 0u64..10_000_000_000_000, base15 in 0u64..1_000_000_000_000_000) {
        let n = NoticeNumber::build_aux3(&format!("{seg:02}"), &base13.to_string()).unwrap();
        let back: NoticeNumber = n.as_str().parse().unwrap();
        let seg_s = format!("{seg:02}");
        prop_assert_eq!(back.segregation_code(), Some(seg_s.as_str()));
        prop_assert_eq!(back.iuv_base().to_string(), format!("{base13:013}"));
        prop_assert_eq!(u64::from(back.check().unwrap().parse::<u8>().unwrap()), format!("3{seg:02}{base13:013}").parse::<u64>().unwrap() % 93);
        let z = NoticeNumber::build_aux0(&format!("{app:02}"), &base13.to_string()).unwrap();
        let app_s = format!("{app:02}");
        let z_back = z.as_str().parse::<NoticeNumber>().unwrap();
        prop_assert_eq!(z_back.application_code(), Some(app_s.as_str()));
        let two = NoticeNumber::build_aux2(&base15.to_string()).unwrap();
        let two_back = two.as_str().parse::<NoticeNumber>().unwrap();
        prop_assert_eq!(two_back.iuv_base().to_string(), format!("{base15:015}"));
    }

    /// Changing one digit of a valid notice or VAT number is always caught.
    #[test]
    fn single_digit_errors_are_caught(base13 in 0u64..10_000_000_000_000, pos in 0usize..18, delta in 1u8..10) {
        let n = NoticeNumber::build_aux3("01", &base13.to_string()).unwrap();
        let mut b: Vec<u8> = n.as_str().bytes().collect();
        b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
        let s = String::from_utf8(b).unwrap();
        // The aux digit itself may change to another valid aux with a different layout,
        // but then the check digits no longer match either (aux 1 has none: skip it).
        if !s.starts_with('1') {
            prop_assert!(s.parse::<NoticeNumber>().is_err(), "{}", s);
        }
    }

    /// A suspension never brings a deadline earlier. A stop that falls within the term
    /// must be accepted (that is the property, so an error fails it); one after the term
    /// must be refused with the precise error, never silently skipped.
    #[test]
    fn a_suspension_never_shortens(received in recent_date(), term in 1u32..120, offset in 0i64..120, len in 0i64..60, kind in 0u8..2) {
        let cal = Calendar::for_municipality("011015");
        let p = Procedure::Generic { term: Term::Days(term), silence_assent: false };
        let base = deadline(&cal, p, received, &[], ClockOptions::default()).unwrap().due.unwrap();
        let from = received.checked_add(jiff::Span::new().days(offset)).unwrap();
        let until = Some(from.checked_add(jiff::Span::new().days(len)).unwrap());
        let stop = if kind == 0 {
            Stop::InformationRequest { from, until }
        } else {
            // Handed over the day it was sent; observations `len` days later.
            Stop::ReasonsAgainst { sent: from, received: Some(from), observations: until }
        };
        let got = deadline(&cal, p, received, &[stop], ClockOptions::default());
        if from <= base {
            let d = got.map_err(|e| TestCaseError::fail(format!("{stop:?} within the term refused: {e}")))?;
            prop_assert!(d.due.unwrap() >= base);
        } else if kind == 0 {
            prop_assert_eq!(got, Err(ClockError::AfterExpiry { kind: "information", from, due: base }));
        } else {
            prop_assert!(
                matches!(got, Err(ClockError::NoticeAfterTerm { sent, due, .. }) if sent == from && due == base),
                "{:?}", got
            );
        }

        // SCIA: measures reported within the order's 30 days restart the full term
        // later, so it never shortens; reported late, the activity is prohibited when
        // the order's term ended (L. 241/1990 art. 19 c. 3).
        let scia = deadline(&cal, Procedure::Scia, received, &[], ClockOptions::default()).unwrap().due.unwrap();
        let order = Stop::SciaConformOrder { from, days: 30, until };
        let got = deadline(&cal, Procedure::Scia, received, &[order], ClockOptions::default());
        if from <= scia {
            let d = got.map_err(|e| TestCaseError::fail(format!("{order:?} within the term refused: {e}")))?;
            let measures_due = cal.roll_forward(from.checked_add(jiff::Span::new().days(30)).unwrap());
            if until.is_some_and(|u| u <= measures_due) {
                prop_assert!(d.due.unwrap() >= scia);
                prop_assert_eq!(d.outcome_on_expiry, Outcome::ControlsLapsed);
            } else {
                prop_assert_eq!(d.due, Some(measures_due));
                prop_assert_eq!(d.outcome_on_expiry, Outcome::ActivityProhibited);
            }
        } else {
            prop_assert_eq!(got, Err(ClockError::AfterExpiry { kind: "scia-conform", from, due: scia }));
        }
    }

    /// Adding a holiday (a closure that moves deadlines) never brings a deadline earlier;
    /// nor does the Saturday roll-over.
    #[test]
    fn adding_a_holiday_never_brings_a_deadline_earlier(received in recent_date(), term in 0u32..120, extra in 0i64..150, working in proptest::bool::ANY) {
        let cal = Calendar::for_municipality("011015");
        let day = received.checked_add(jiff::Span::new().days(extra)).unwrap();
        let more = cal.clone().with_closure(Closure { date: day, name: "x".into(), moves_deadlines: true });
        let p = if working { Procedure::ResidenceRegistration } else { Procedure::Generic { term: Term::Days(term), silence_assent: false } };
        let a = deadline(&cal, p, received, &[], ClockOptions::default()).unwrap().due.unwrap();
        let b = deadline(&more, p, received, &[], ClockOptions::default()).unwrap().due.unwrap();
        prop_assert!(b >= a);
        let c = deadline(&cal.clone().with_saturday_rollover(true), p, received, &[], ClockOptions::default()).unwrap().due.unwrap();
        prop_assert!(c >= a);
        // And the deadline is never a day that moves deadlines.
        prop_assert!(!cal.moves_deadline(a));
    }

    /// A plate string is never silently classed: parsing into one plate succeeds exactly
    /// when one format fits, and fails naming every candidate otherwise.
    #[test]
    fn plates_are_one_kind_or_reported_ambiguous(s in "[A-Z]{1,7}[0-9]{0,6}[A-Z]{0,2}|[ A-Z0-9]{1,12}") {
        match recognise(&s) {
            Ok(r) => {
                prop_assert!(!r.candidates.is_empty());
                match s.parse::<sportello_pa::Plate>() {
                    Ok(p) => prop_assert_eq!(vec![p.kind], r.candidates),
                    Err(PlateError::Ambiguous { candidates, .. }) => {
                        prop_assert!(candidates.len() > 1);
                        prop_assert_eq!(candidates, r.candidates);
                    }
                    Err(e) => prop_assert!(false, "{} recognised but parse failed: {}", s, e),
                }
            }
            Err(e) => prop_assert_eq!(s.parse::<sportello_pa::Plate>(), Err(e)),
        }
    }

    /// Provisional fiscal codes: whatever the office, exactly one check digit fits.
    #[test]
    fn provisional_check_digit_is_unique(serial in 0u32..10_000_000, office in 0u16..1000) {
        let body = format!("{serial:07}{office:03}");
        let valid: Vec<u8> = (0..10).filter(|d| format!("{body}{d}").parse::<ProvisionalCode>().is_ok()).collect();
        prop_assert_eq!(valid.len(), 1);
        let code = format!("{body}{}", valid[0]);
        prop_assert_eq!(code.parse::<PersonCode>().map(|c| c.kind()), Ok("provisional"));
    }

    /// Valid VAT numbers are accepted; the check digit is the only one that fits.
    #[test]
    fn vat_check_digit_is_unique(serial in 1u32..10_000_000, office in 1u16..=100) {
        let body = format!("{serial:07}{office:03}");
        let valid: Vec<u8> = (0..10).filter(|d| format!("{body}{d}").parse::<PartitaIva>().is_ok()).collect();
        prop_assert_eq!(valid.len(), 1);
    }
}
