//! Personal data in free text. Events, case notes and logs carry ids and pseudonyms,
//! never a person's data — but a note typed by an operator or a description written by a
//! citizen can hold a fiscal code, an e-mail address or a phone number. This finds them,
//! so a field that must stay free of them can be refused (naming what was found) or
//! masked (showing the operator what was hidden).

use std::sync::OnceLock;

use regex::Regex;

/// A kind of personal data found in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// An Italian fiscal code (omocodia letters included).
    FiscalCode,
    /// An e-mail address.
    Email,
    /// An Italian phone number (mobile or landline, with or without +39).
    Phone,
}

impl Found {
    /// The Italian and English name, for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::FiscalCode => "un codice fiscale (a fiscal code)",
            Self::Email => "un indirizzo e-mail (an e-mail address)",
            Self::Phone => "un numero di telefono (a phone number)",
        }
    }

    fn mask(self) -> &'static str {
        match self {
            Self::FiscalCode => "[codice fiscale]",
            Self::Email => "[e-mail]",
            Self::Phone => "[telefono]",
        }
    }
}

fn patterns() -> &'static [(Found, Regex)] {
    static PATTERNS: OnceLock<Vec<(Found, Regex)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        // Digits of a fiscal code may be replaced by letters (omocodia): LMNPQRSTUV.
        let d = "[0-9LMNPQRSTUVlmnpqrstuv]";
        let patterns = [
            (
                Found::FiscalCode,
                format!(r"(?i)\b[A-Z]{{6}}{d}{{2}}[A-Z]{d}{{2}}[A-Z]{d}{{3}}[A-Z]\b"),
            ),
            (
                Found::Email,
                r"(?i)\b[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}\b".to_owned(),
            ),
            // Mobile (3xx) or landline (0x…), 9 to 11 digits, optional +39/0039, spaces,
            // dots or dashes between groups.
            (
                Found::Phone,
                r"(?:(?:\+|\b00)39[\s.-]?|\b)(?:3\d{2}|0\d{1,3})(?:[\s.-]?\d){6,8}\b".to_owned(),
            ),
        ];
        patterns
            .into_iter()
            .filter_map(|(kind, pattern)| Regex::new(&pattern).ok().map(|re| (kind, re)))
            .collect()
    })
}

/// Every kind of personal data in `text`, in a fixed order, each once.
pub fn find(text: &str) -> Vec<Found> {
    patterns()
        .iter()
        .filter(|(_, re)| re.is_match(text))
        .map(|(kind, _)| *kind)
        .collect()
}

/// `text` with each piece of personal data replaced by a label (`[codice fiscale]`, …),
/// and what was masked.
pub fn mask(text: &str) -> (String, Vec<Found>) {
    let mut masked = text.to_owned();
    let mut found = Vec::new();
    for (kind, re) in patterns() {
        if re.is_match(&masked) {
            masked = re.replace_all(&masked, kind.mask()).into_owned();
            found.push(*kind);
        }
    }
    (masked, found)
}

/// Refuses free text that holds personal data, naming `field` and what it holds.
pub fn ensure_free_of_personal_data(field: &str, text: &str) -> Result<(), crate::ServiceError> {
    match find(text).first() {
        None => Ok(()),
        Some(kind) => Err(crate::ServiceError::invalid_field(
            field,
            format!(
                "contiene {}: i dati personali non viaggiano nelle note (holds personal data)",
                kind.describe()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fiscal_codes_emails_and_phones() {
        assert_eq!(
            find("Sig. RSSMRA80A01E463K allo sportello"),
            [Found::FiscalCode]
        );
        // Omocodia: digits replaced by letters.
        assert_eq!(find("rssmra80a01e46pk"), [Found::FiscalCode]);
        assert_eq!(find("scrivere a mario.rossi@example.it"), [Found::Email]);
        for phone in [
            "347 123 4567",
            "+39 347-1234567",
            "0187 727 111",
            "00393471234567",
        ] {
            assert_eq!(
                find(&format!("chiamare il {phone} domani")),
                [Found::Phone],
                "{phone}"
            );
        }
    }

    #[test]
    fn ordinary_notes_pass() {
        for note in [
            "Visti i documenti: carta d'identità e contratto di locazione.",
            "Protocollo 2026/000123 del 05/12/2026, scadenza 45 giorni.",
            "Promesso riscontro entro il 20 gennaio; pratica SUAP n. 42.",
            "Caso 0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f trasferito.",
        ] {
            assert_eq!(find(note), [], "{note}");
        }
    }

    #[test]
    fn masking_shows_what_was_hidden() {
        let (masked, found) = mask("CF RSSMRA80A01E463K, tel. 347 1234567");
        assert_eq!(masked, "CF [codice fiscale], tel. [telefono]");
        assert_eq!(found, [Found::FiscalCode, Found::Phone]);
    }

    #[test]
    fn a_refusal_names_the_field_and_the_kind() {
        let err = ensure_free_of_personal_data("context_note", "mail a a@b.it").unwrap_err();
        assert_eq!(err.violations()[0].field, "context_note");
        assert!(err.to_string().contains("e-mail"), "{err}");
    }
}
