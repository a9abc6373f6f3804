//! Stamp duty (imposta di bollo) and secretarial fees (diritti di segreteria).
//!
//! Registry certificates pay the 16 EUR stamp duty (DPR 642/1972, tariff part I art. 4)
//! unless issued for a use that a rule exempts, named on the certificate: the uses of
//! the table in allegato B to DPR 642/1972, and a few special laws. Secretarial fees are
//! 0.52 EUR, 0.26 EUR without stamp duty (L. 604/1962, tab. D), none for adoption
//! (L. 184/1983 art. 82).

use sportello_kit::ServiceError;

/// The stamp duty, in cents.
pub const STAMP_DUTY_CENTS: i32 = 1600;
/// Secretarial fees with stamp duty, in cents.
pub const FEES_CENTS: i32 = 52;
/// Secretarial fees without stamp duty, in cents.
pub const FEES_EXEMPT_CENTS: i32 = 26;

/// An exemption from stamp duty.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Exemption {
    /// Stable code.
    pub code: &'static str,
    /// The use it covers, as printed.
    pub use_text: &'static str,
    /// The rule, as printed.
    pub rule: &'static str,
    /// Whether the secretarial fees are waived too.
    pub fees_waived: bool,
    /// Whether the use is before a public office (or a private manager of a public
    /// service), which may not ask for certificates (DPR 445/2000 art. 40 c. 01, art. 43).
    pub before_public_office: bool,
}

impl Exemption {
    /// The operator's warning for a use before a public office: offer the
    /// self-declaration instead. Italian first, English second.
    pub fn warning(&self) -> Option<String> {
        self.before_public_office.then(|| {
            format!(
                "Uso «{}»: la pubblica amministrazione e i gestori di pubblici servizi non \
                 possono chiedere certificati (DPR 445/2000 art. 40 c. 01 e art. 43); proporre \
                 al cittadino la dichiarazione sostitutiva di certificazione (art. 46). / This \
                 use is before a public office, which may not ask for certificates (DPR \
                 445/2000 art. 40 c. 01, art. 43): offer the citizen a self-declaration \
                 (art. 46) instead.",
                self.use_text
            )
        })
    }
}

macro_rules! exemptions {
    ($(($code:literal, $use:literal, $rule:literal, $waived:literal, $public:literal),)*) => {
        /// The exemptions, by code.
        pub static EXEMPTIONS: &[Exemption] = &[
            $(Exemption {
                code: $code,
                use_text: $use,
                rule: $rule,
                fees_waived: $waived,
                before_public_office: $public,
            },)*
        ];
    };
}

// The last column: the use is before a public office (DPR 445/2000 art. 40 c. 01, art.
// 43), which must take a self-declaration instead. Judicial uses (courts in their
// jurisdictional function) and foreign institutions are not.
exemptions! {
    ("adozione", "adozione e affidamento di minori", "art. 13 tab. all. B DPR 642/1972; art. 82 L. 184/1983", true, false),
    ("assegni_familiari", "assegni familiari, pensioni, assicurazioni sociali obbligatorie", "art. 9 tab. all. B DPR 642/1972", false, true),
    ("carta_identita", "rilascio della carta d'identità", "art. 18 tab. all. B DPR 642/1972", false, true),
    ("collocamento", "iscrizione nelle liste di collocamento", "art. 9 tab. all. B DPR 642/1972", false, true),
    ("controversie_lavoro", "controversie in materia di lavoro, previdenza e assistenza", "art. 12 tab. all. B DPR 642/1972", false, false),
    ("elettorale", "esercizio dei diritti elettorali", "art. 1 tab. all. B DPR 642/1972", false, true),
    ("giudice_popolare", "leva militare e ufficio di giudice popolare", "art. 2 tab. all. B DPR 642/1972", false, true),
    ("pensione_estera", "pensione estera", "art. 9 tab. all. B DPR 642/1972", false, false),
    ("procedimento_giurisdizionale", "procedimento giurisdizionale (uso processuale)", "art. 18 DPR 115/2002", false, false),
    ("procedimento_penale", "procedimento penale", "art. 3 tab. all. B DPR 642/1972", false, false),
    ("sanita", "assistenza sanitaria e accertamenti sanitari", "art. 10 tab. all. B DPR 642/1972", false, true),
    ("scuola", "iscrizione e frequenza scolastica, borse di studio", "art. 11 tab. all. B DPR 642/1972", false, true),
    ("separazione_divorzio", "separazione e divorzio", "art. 19 L. 74/1987", false, false),
    ("sport_dilettantistico", "federazioni sportive, enti di promozione sportiva, associazioni e società sportive dilettantistiche", "art. 27-bis tab. all. B DPR 642/1972", false, false),
    ("sussidi", "sussidi, beneficenza, contrassegno per invalidi", "art. 8 tab. all. B DPR 642/1972", false, true),
    ("terzo_settore", "enti del Terzo settore", "art. 82 c. 5 D.Lgs. 117/2017", false, false),
    ("tributi", "applicazione delle leggi tributarie, dichiarazione di successione", "art. 5 tab. all. B DPR 642/1972", false, true),
    ("tutela_minori", "tutela di minori, interdizione, amministrazione di sostegno", "art. 13 tab. all. B DPR 642/1972", false, false),
}

/// How a certificate pays: stamp duty or an exemption, and fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charges {
    /// The exemption, if one applies.
    pub exemption: Option<&'static Exemption>,
    /// Stamp duty, cents.
    pub stamp_duty_cents: i32,
    /// Secretarial fees, cents.
    pub fees_cents: i32,
}

impl Charges {
    /// The charges for an exemption code (empty: none) of request field `field`.
    pub fn parse(field: &str, code: &str) -> Result<Self, ServiceError> {
        let code = code.trim();
        if code.is_empty() {
            return Ok(Self {
                exemption: None,
                stamp_duty_cents: STAMP_DUTY_CENTS,
                fees_cents: FEES_CENTS,
            });
        }
        let exemption = by_code(code).ok_or_else(|| {
            ServiceError::invalid_field(
                field,
                "is not a stamp-duty exemption the registry knows (see ListStampDutyExemptions)",
            )
        })?;
        Ok(Self::exempt(exemption))
    }

    /// The charges under `exemption`.
    pub fn exempt(exemption: &'static Exemption) -> Self {
        Self {
            exemption: Some(exemption),
            stamp_duty_cents: 0,
            fees_cents: if exemption.fees_waived {
                0
            } else {
                FEES_EXEMPT_CENTS
            },
        }
    }
}

/// The exemption with this code.
pub fn by_code(code: &str) -> Option<&'static Exemption> {
    EXEMPTIONS.iter().find(|e| e.code == code)
}

/// Cents as Italian documents print euros: "€ 16,00".
pub fn euros(cents: i32) -> String {
    format!("€ {},{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_exemption_pays_the_bollo() {
        let charges = Charges::parse("exemption_code", "").unwrap();
        assert_eq!((charges.stamp_duty_cents, charges.fees_cents), (1600, 52));
        assert_eq!(euros(charges.stamp_duty_cents), "€ 16,00");
    }

    #[test]
    fn an_exemption_names_its_rule_and_lowers_the_fees() {
        let charges = Charges::parse("exemption_code", "pensione_estera").unwrap();
        assert_eq!((charges.stamp_duty_cents, charges.fees_cents), (0, 26));
        assert_eq!(
            charges.exemption.unwrap().rule,
            "art. 9 tab. all. B DPR 642/1972"
        );
        assert_eq!(Charges::parse("x", "adozione").unwrap().fees_cents, 0);
        let error = Charges::parse("exemption_code", "amicizia").unwrap_err();
        assert_eq!(error.violations()[0].field, "exemption_code");
    }

    /// DPR 445/2000 art. 40 c. 01 and art. 43 (issue 11, point 15): a use before a public
    /// office warns the operator and offers the self-declaration; Third-sector bodies cite
    /// D.Lgs 117/2017 art. 82 c. 5, amateur sports stay under art. 27-bis of table B.
    #[test]
    fn public_office_uses_warn_and_third_sector_cites_art_82_c_5() {
        let school = by_code("scuola").unwrap();
        let warning = school.warning().unwrap();
        assert!(warning.contains("art. 40 c. 01") && warning.contains("art. 43"));
        assert!(warning.starts_with("Uso «iscrizione"), "Italian first");
        assert!(by_code("pensione_estera").unwrap().warning().is_none());
        assert_eq!(
            by_code("terzo_settore").unwrap().rule,
            "art. 82 c. 5 D.Lgs. 117/2017"
        );
        assert_eq!(
            by_code("sport_dilettantistico").unwrap().rule,
            "art. 27-bis tab. all. B DPR 642/1972"
        );
        assert!(by_code("onlus_sport").is_none(), "no more ONLUS category");
        assert!(EXEMPTIONS.iter().all(|e| !e.use_text.contains("ONLUS")));
    }

    #[test]
    fn codes_are_unique_and_sorted() {
        let codes: Vec<_> = EXEMPTIONS.iter().map(|e| e.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }
}
