//! Worked examples of each format, and of the strings that fit more than one.

use super::*;

fn kind(s: &str) -> PlateKind {
    s.parse::<Plate>().unwrap().kind
}

fn candidates(s: &str) -> Vec<PlateKind> {
    recognise(s).unwrap().candidates
}

fn old(p: &str) -> PlateKind {
    PlateKind::OldProvincial { province: p.into() }
}

#[test]
fn current_series() {
    assert_eq!(kind("EM 700 TV"), PlateKind::Car);
    assert_eq!(kind("ab-123-cd"), PlateKind::Car);
    assert_eq!(kind("XA 000 AA"), PlateKind::Trailer);
    assert_eq!(kind("YA123BC"), PlateKind::LocalPolice);
    assert_eq!(
        "AB123CO".parse::<Plate>().unwrap_err().to_string(),
        "letter O is never used on current plates (I, O, Q and U are excluded)"
    );
}

/// D.Lgs. 285/1992 art. 100: motorcycles have `AA 00000` since 1994; trailers had the
/// same shape in a series of their own until DPR 198/2012 gave them `XA 000 AA` on
/// 20 February 2013, so the string alone cannot tell them apart.
#[test]
fn motorcycle_plates_are_reported_with_the_old_trailer_series() {
    let r = recognise("BC 12345").unwrap();
    assert!(r.is_ambiguous());
    assert_eq!(
        r.candidates,
        [PlateKind::Motorcycle, PlateKind::TrailerBefore2013]
    );
    // The caller who knows the vehicle picks its candidate.
    assert_eq!(
        r.choose(|k| *k == PlateKind::Motorcycle).unwrap().kind,
        PlateKind::Motorcycle
    );
    let err = "BC 12345".parse::<Plate>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "BC12345 fits more than one plate format: AA 00000, motorcycles since 1994; AA 00000, trailers registered 1994-2013; say which"
    );
}

/// DPR 153/2006 (DPR 495/1992 art. 250 c. 1: "sei caratteri alfanumerici"): mopeds
/// registered since 14 July 2006 carry six characters, the first an X.
#[test]
fn dpr_153_2006_moped_plates() {
    assert_eq!(kind("X2B 3CD"), PlateKind::Moped);
    assert_eq!(kind("x22222"), PlateKind::Moped);
    assert!(matches!(
        "X2B3C".parse::<Plate>(),
        Err(PlateError::Unrecognised(_))
    ));
}

#[test]
fn old_provincial() {
    assert_eq!(kind("SP 123456"), old("SP"));
    assert_eq!(kind("MI A12345"), old("MI"));
    assert_eq!(kind("ROMA 1A2345"), old("ROMA"));
    assert_eq!(kind("ROMA 123"), old("ROMA"));
    assert!("RM 123456".parse::<Plate>().is_err());
    assert!("SP AB1234".parse::<Plate>().is_err());
}

/// A string that fits more than one historic format is never silently classed.
#[test]
fn shared_shapes_list_every_candidate() {
    // La Spezia 1927-1994, or a trailer of 1994-2013 (that series did not skip
    // provincial pairs); never a motorcycle, whose series skips them.
    assert_eq!(
        candidates("SP12345"),
        [PlateKind::TrailerBefore2013, old("SP")]
    );
    // A letter the current series excludes leaves only the provincial reading.
    assert_eq!(candidates("MI12345"), [old("MI")]);
    // Pistoia's old A12345 serial, or a PTA plate of 2023.
    assert_eq!(
        candidates("PTA 12345"),
        [
            PlateKind::Diplomatic {
                series: "PTA".into()
            },
            old("PT")
        ]
    );
    // Fire brigade, or the motorcycle and old trailer series.
    assert_eq!(
        candidates("VF 12345"),
        [
            PlateKind::Motorcycle,
            PlateKind::TrailerBefore2013,
            PlateKind::Corps {
                corps: Corps::VigiliDelFuoco
            }
        ]
    );
    // Marina Militare 1986-1997, or a car of the current series.
    assert_eq!(
        candidates("MM 123 AB"),
        [
            PlateKind::Car,
            PlateKind::Corps {
                corps: Corps::MarinaMilitare
            }
        ]
    );
    assert!(matches!(
        "SP12345".parse::<Plate>(),
        Err(PlateError::Ambiguous { .. })
    ));
}

#[test]
fn escursionisti_esteri() {
    // The current series never uses EE, so EE 000 AA is always a customs plate.
    assert_eq!(kind("EE 123 AB"), PlateKind::EscursionistiEsteri);
    assert_eq!(kind("EE A123"), PlateKind::EscursionistiEsteri);
}

/// DM MIT 11 October 2023: CD, CC and PTA series with five digits; before it CD and CC
/// with four digits and the mission's two letters.
#[test]
fn diplomatic_and_consular() {
    let d = |s: &str| PlateKind::Diplomatic { series: s.into() };
    assert_eq!(kind("CD 1234 AB"), d("CD"));
    assert_eq!(kind("CC 0001 UE"), d("CC"));
    assert_eq!(
        candidates("CD 12345"),
        [PlateKind::Motorcycle, PlateKind::TrailerBefore2013, d("CD")]
    );
}

/// D.Lgs. 285/1992 art. 138: armed forces, police and the Red Cross have their own plates.
#[test]
fn corps_plates() {
    let c = |corps| PlateKind::Corps { corps };
    assert_eq!(kind("EI AB 123"), c(Corps::Esercito));
    assert_eq!(kind("AM AH 500"), c(Corps::AeronauticaMilitare));
    // CC: Carabinieri (CC AA 000), not the consular CC 0000 AA.
    assert_eq!(kind("CC BK 512"), c(Corps::Carabinieri));
    assert_eq!(kind("POLIZIA F1234"), c(Corps::PoliziaDiStato));
    assert_eq!(kind("GdiF 123 AB"), c(Corps::GuardiaDiFinanza));
    assert_eq!(kind("VF 2130"), c(Corps::VigiliDelFuoco));
    assert_eq!(kind("CRI 299 AD"), c(Corps::CroceRossaItaliana));
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
