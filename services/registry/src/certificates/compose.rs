//! A certificate's text, in Italian, as the law wants it: the municipality's header, what
//! is certified, the use, stamp duty and fees, the validity, the sentence of DPR 445/2000
//! art. 40 c. 02, the issue time and the verification code. [`super::pdf`] lays it out.

use jiff::Timestamp;
use sportello_kit::MunicipalityCode;
use sportello_pa::{Sex, birthplace, calendar::rome};

use super::{
    code::VerificationCode,
    kind::CertificateType,
    stamp::{Charges, Payment, euros},
};
use crate::{
    domain::{Day, ResidentStatus, day::italian},
    records::{Family, Person, PersonState},
};

/// The sentence every certificate carries (DPR 445/2000 art. 40 c. 02, as amended by
/// L. 183/2011): certificates are for private parties only.
pub const ART_40_NOTICE: &str = "Il presente certificato non può essere prodotto agli organi della pubblica amministrazione o ai privati gestori di pubblici servizi";

/// A certificate's text, block by block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Header lines: the municipality first.
    pub header: Vec<String>,
    /// The title.
    pub title: String,
    /// The person certified about, one line each: name, birth, fiscal code.
    pub person: Vec<String>,
    /// What is certified.
    pub paragraphs: Vec<String>,
    /// The family's members: name, date of birth, relationship.
    pub family: Vec<[String; 3]>,
    /// Use, stamp duty, fees, validity.
    pub terms: Vec<String>,
    /// The art. 40 sentence.
    pub notice: String,
    /// Place, day and time of issue.
    pub issued: String,
    /// Signature block.
    pub signature: Vec<String>,
    /// The verification code and where to verify.
    pub verification: Vec<String>,
    /// What the QR code holds: the verification URL.
    pub qr_payload: String,
}

/// Everything a certificate's text is made from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// What it certifies.
    pub kind: CertificateType,
    /// The issuing municipality.
    pub municipality: MunicipalityCode,
    /// The person.
    pub person: &'a Person,
    /// Their state today.
    pub state: &'a PersonState,
    /// Their family, for family certificates.
    pub family: Option<&'a Family>,
    /// Stamp duty and fees.
    pub charges: Charges,
    /// The declared use.
    pub use_text: &'a str,
    /// When it is issued.
    pub issued_at: Timestamp,
    /// Last day of validity; `None` for unlimited.
    pub valid_until: Option<Day>,
    /// Its verification code.
    pub code: &'a VerificationCode,
    /// The verification page, without a trailing slash.
    pub verify_url: &'a str,
    /// The official responsible for the issue (D.Lgs 39/1993 art. 3 c. 2).
    pub official: &'a str,
    /// How the stamp duty was paid, when it is due and known.
    pub payment: Option<&'a Payment>,
}

/// "Comune della Spezia", "Comune di Genova": the article of the name joins "di".
pub fn comune_of(name: &str) -> String {
    for (article, joined) in [
        ("La ", "della "),
        ("Il ", "del "),
        ("Lo ", "dello "),
        ("L'", "dell'"),
        ("I ", "dei "),
        ("Gli ", "degli "),
        ("Le ", "delle "),
    ] {
        if let Some(rest) = name.strip_prefix(article) {
            return format!("Comune {joined}{rest}");
        }
    }
    format!("Comune di {name}")
}

/// A place of birth as certificates print it: "LA SPEZIA (SP)", "ROMANIA".
fn place_upper(state: &PersonState) -> String {
    match birthplace::at(state.data.birthplace, state.data.birth_date) {
        Some(place) if place.is_foreign() => place.name.to_uppercase(),
        Some(place) => format!("{} ({})", place.name.to_uppercase(), place.province),
        None => state.data.birthplace.as_str().to_owned(),
    }
}

/// The masculine or feminine ending.
fn agree<'s>(sex: Sex, masculine: &'s str, feminine: &'s str) -> &'s str {
    if sex == Sex::Female {
        feminine
    } else {
        masculine
    }
}

fn full_name(state: &PersonState) -> String {
    format!(
        "{} {}",
        state.data.surname.to_uppercase(),
        state.data.given_names.to_uppercase()
    )
}

/// Composes a certificate's text.
pub fn compose(facts: &Facts<'_>) -> Document {
    let Facts {
        kind,
        municipality,
        person,
        state,
        family,
        charges,
        use_text,
        issued_at,
        valid_until,
        code,
        verify_url,
        official,
        payment,
    } = *facts;
    let sex = state.data.sex;
    let place = birthplace::by_istat(municipality.as_str());
    let town = place.map_or_else(|| municipality.to_string(), |p| p.name.to_owned());
    let town_line = place.map_or_else(
        || town.to_uppercase(),
        |p| format!("{} ({})", p.name.to_uppercase(), p.province),
    );

    let header = vec![
        comune_of(&town).to_uppercase(),
        "Servizi Demografici - Ufficio Anagrafe".to_owned(),
        "Sportello Unico Servizi".to_owned(),
    ];
    let person_lines = vec![
        full_name(state),
        format!(
            "{} a {} il {}",
            agree(sex, "nato", "nata"),
            place_upper(state),
            italian(state.data.birth_date)
        ),
        format!("codice fiscale {}", person.fiscal_code.as_str()),
    ];

    let registered_abroad = state.status == ResidentStatus::Aire;
    let registered = if registered_abroad {
        let country = state
            .destination
            .as_deref()
            .and_then(crate::domain::Citizenship::by_iso)
            .map_or_else(String::new, |c| {
                format!(" (residente in {})", c.country().name.to_uppercase())
            });
        format!(
            "è {} nell'Anagrafe degli Italiani Residenti all'Estero (AIRE) di questo Comune{country}",
            agree(sex, "iscritto", "iscritta")
        )
    } else {
        format!(
            "è {} nell'Anagrafe della popolazione residente di questo Comune",
            agree(sex, "iscritto", "iscritta")
        )
    };
    let residence = state.home.as_ref().map(|home| {
        format!(
            "è residente in questo Comune in {} - {} {}.",
            home.address.line(),
            home.address.postal_code,
            town_line
        )
    });

    let mut paragraphs =
        vec!["L'Ufficiale d'Anagrafe, visti gli atti d'ufficio, certifica che".to_owned()];
    match kind {
        CertificateType::Residence => paragraphs.extend(residence),
        CertificateType::FamilyStatus | CertificateType::ResidenceFamily => {
            let count = family.map_or(0, |f| f.members.len());
            let members = format!(
                "{count} {}",
                if count == 1 {
                    "componente"
                } else {
                    "componenti"
                }
            );
            // One Italian sentence whose subject is the person above: "certifica che
            // ROSSI MARIO, nato…, fa parte della famiglia anagrafica composta…".
            if kind == CertificateType::ResidenceFamily {
                paragraphs.extend(residence);
                paragraphs.push(format!(
                    "e che fa parte della famiglia anagrafica composta dalle seguenti persone ({members}):"
                ));
            } else {
                paragraphs.push(format!(
                    "fa parte della famiglia anagrafica composta dalle seguenti persone ({members}):"
                ));
            }
        }
        CertificateType::Birth => paragraphs.push(format!(
            "{registered}, con i dati di nascita sopra indicati."
        )),
        // Issued only for Italian citizens (the handler refuses the others): the
        // registry certifies Italian citizenship, not a foreign state's.
        CertificateType::Citizenship => paragraphs.push(format!(
            "{registered} ed è in possesso della cittadinanza italiana."
        )),
        CertificateType::Existence => paragraphs.push(format!(
            "{registered} e risulta in vita alla data del presente certificato."
        )),
    }

    let family_rows = family
        .filter(|_| kind.lists_family())
        .map(|f| {
            f.members
                .iter()
                .filter_map(|m| {
                    let s = m.state.as_ref()?;
                    let relationship = s.home.as_ref()?.relationship;
                    Some([
                        full_name(s),
                        italian(s.data.birth_date),
                        relationship.italian(s.data.sex).to_owned(),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();

    let mut terms = vec![format!("Si rilascia per uso: {use_text}.")];
    match charges.exemption {
        Some(exemption) => terms.push(format!(
            "Esente dall'imposta di bollo ai sensi dell'{} ({}).",
            exemption.rule, exemption.use_text
        )),
        None => terms.push(match payment {
            Some(payment) => payment.line(charges.stamp_duty_cents),
            None => format!(
                "Imposta di bollo assolta: {} (art. 4 tariffa all. A DPR 642/1972).",
                euros(charges.stamp_duty_cents)
            ),
        }),
    }
    terms.push(format!(
        "Diritti di segreteria: {}.",
        euros(charges.fees_cents)
    ));
    terms.push(match valid_until {
        Some(day) => format!(
            "Il presente certificato è valido fino al {} (sei mesi dal rilascio, art. 41 c. 1 DPR 445/2000).",
            italian(day)
        ),
        None => "Il presente certificato ha validità illimitata: attesta fatti non soggetti a modificazioni (art. 41 c. 1 DPR 445/2000).".to_owned(),
    });

    let local = rome::zoned(issued_at);
    let issued = format!(
        "{}, {} ore {:02}:{:02}",
        town,
        italian(local.date()),
        local.hour(),
        local.minute()
    );
    let url = format!("{verify_url}/{}", code.as_str());
    Document {
        header,
        title: kind.title().to_owned(),
        person: person_lines,
        paragraphs,
        family: family_rows,
        terms,
        notice: format!("{ART_40_NOTICE}."),
        issued,
        signature: vec![
            format!("L'Ufficiale d'Anagrafe: {official}"),
            "Firma autografa sostituita a mezzo stampa ai sensi dell'art. 3 c. 2 D.Lgs. 39/1993."
                .to_owned(),
        ],
        verification: vec![
            format!("Codice di verifica: {code}"),
            format!("Verifica l'autenticità su {url}"),
        ],
        qr_payload: url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_municipality_is_named_with_its_article() {
        assert_eq!(comune_of("La Spezia"), "Comune della Spezia");
        assert_eq!(comune_of("Genova"), "Comune di Genova");
        assert_eq!(comune_of("L'Aquila"), "Comune dell'Aquila");
    }
}
