//! Stamp duty (imposta di bollo) and secretarial fees (diritti di segreteria).
//!
//! Registry certificates pay the 16 EUR stamp duty (DPR 642/1972, tariff part I art. 4)
//! unless issued for a use that a rule exempts, named on the certificate: the uses of
//! the table in allegato B to DPR 642/1972, and a few special laws. Secretarial fees are
//! 0.52 EUR, 0.26 EUR without stamp duty (L. 604/1962, tab. D), none for adoption
//! (L. 184/1983 art. 82).

use sportello_kit::ServiceError;
use sportello_proto::registry::v1::StampDutyPayment;

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

/// How the stamp duty was paid (DPR 642/1972), as the certificate states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// A stamp applied to the original, by its 14-digit identifier (art. 3).
    Contrassegno(String),
    /// Virtually, under the municipality's authorisation (art. 15).
    Virtual(String),
    /// Through pagoPA with @e.bollo, by the receipt's identifier (IUBD).
    PagoPa(String),
}

impl Payment {
    /// Parses the request's method and reference; `virtual_authorisation` is the
    /// municipality's, if configured. `None`: no method given and none configured.
    pub fn parse(
        method: StampDutyPayment,
        reference: &str,
        virtual_authorisation: Option<&str>,
    ) -> Result<Option<Self>, ServiceError> {
        let reference = reference.trim();
        let field = "stamp_duty_reference";
        match method {
            StampDutyPayment::Contrassegno => {
                if reference.len() == 14 && reference.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(Some(Self::Contrassegno(reference.to_owned())))
                } else {
                    Err(ServiceError::invalid_field(
                        field,
                        "must be the contrassegno's 14-digit identifier",
                    ))
                }
            }
            StampDutyPayment::PagopaEbollo => {
                if (1..=35).contains(&reference.len())
                    && reference.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    Ok(Some(Self::PagoPa(reference.to_owned())))
                } else {
                    Err(ServiceError::invalid_field(
                        field,
                        "must be the @e.bollo receipt's identifier (IUBD, 1-35 letters and digits)",
                    ))
                }
            }
            StampDutyPayment::Virtual | StampDutyPayment::Unspecified => {
                if !reference.is_empty() {
                    return Err(ServiceError::invalid_field(
                        field,
                        "is only for CONTRASSEGNO and PAGOPA_EBOLLO",
                    ));
                }
                match (virtual_authorisation, method) {
                    (Some(a), _) => Ok(Some(Self::Virtual(a.to_owned()))),
                    (None, StampDutyPayment::Virtual) => Err(ServiceError::invalid_field(
                        "stamp_duty_payment",
                        "the municipality has no authorisation for virtual payment configured",
                    )),
                    (None, _) => Ok(None),
                }
            }
        }
    }

    /// The certificate's line, in Italian.
    pub fn line(&self, cents: i32) -> String {
        let amount = euros(cents);
        match self {
            Self::Contrassegno(id) => format!(
                "Imposta di bollo di {amount} assolta mediante contrassegno telematico n. {id} applicato sull'originale (art. 3 DPR 642/1972)."
            ),
            Self::Virtual(authorisation) => format!(
                "Imposta di bollo di {amount} assolta in modo virtuale, {authorisation} (art. 15 DPR 642/1972)."
            ),
            Self::PagoPa(receipt) => format!(
                "Imposta di bollo di {amount} assolta tramite pagoPA (servizio @e.bollo), ricevuta n. {receipt}."
            ),
        }
    }
}

/// The operator's warning when no payment method was given and none is configured.
pub const PAYMENT_MISSING_WARNING: &str = "Modalità di assolvimento dell'imposta di bollo non indicata: indicare il contrassegno, la ricevuta @e.bollo o configurare l'autorizzazione al pagamento virtuale. / How the stamp duty was paid is not stated: enter the contrassegno or the @e.bollo receipt, or configure the authorisation for virtual payment.";

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

    /// DPR 642/1972 art. 3 and 15 (issue 11, point 13): the line says how the duty was
    /// paid; each reference is checked.
    #[test]
    fn the_stamp_duty_line_says_how_it_was_paid_dpr_642_1972() {
        let contrassegno = Payment::parse(StampDutyPayment::Contrassegno, "01234567890123", None)
            .unwrap()
            .unwrap();
        assert!(
            contrassegno
                .line(1600)
                .contains("contrassegno telematico n. 01234567890123")
        );
        let error = Payment::parse(StampDutyPayment::Contrassegno, "123", None).unwrap_err();
        assert_eq!(error.violations()[0].field, "stamp_duty_reference");
        let virtual_ = Payment::parse(
            StampDutyPayment::Unspecified,
            "",
            Some("aut. Agenzia delle Entrate n. 1 del 02/01/2020"),
        )
        .unwrap()
        .unwrap();
        assert!(
            virtual_
                .line(1600)
                .contains("in modo virtuale, aut. Agenzia")
        );
        let error = Payment::parse(StampDutyPayment::Virtual, "", None).unwrap_err();
        assert_eq!(error.violations()[0].field, "stamp_duty_payment");
        let receipt = Payment::parse(StampDutyPayment::PagopaEbollo, "AB12", None)
            .unwrap()
            .unwrap();
        assert!(receipt.line(1600).contains("@e.bollo"));
        assert_eq!(
            Payment::parse(StampDutyPayment::Unspecified, "", None).unwrap(),
            None
        );
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
