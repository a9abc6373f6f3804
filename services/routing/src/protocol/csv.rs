//! The day's register as CSV (RFC 4180), for the records office.

use sportello_pa::calendar::rome;

use super::{domain::formatted_number, store::Registration};
use crate::domain::Stored;

const HEADER: &str = "numero,anno,data_ora,tipo,mittente,oggetto,impronta_sha256,canale,pratica,annullata,data_annullamento,motivo_annullamento";

/// Quotes a field when it holds a comma, a quote or a line break; a field a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab) is prefixed with `'` and stays text.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Renders the registrations, header first, CRLF line ends; times in Europe/Rome.
pub fn render(registrations: &[Registration]) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\r\n");
    for r in registrations {
        let time = |t: jiff::Timestamp| rome::zoned(t).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let (voided, voided_at, why) = match &r.voided {
            Some((at, why)) => ("si", time(*at), why.as_str()),
            None => ("no", String::new(), ""),
        };
        let row = [
            formatted_number(r.number),
            r.year.to_string(),
            time(r.registered_at),
            r.incoming.kind.to_db().to_owned(),
            field(&r.incoming.sender_ref),
            field(&r.incoming.subject),
            r.incoming.document_sha256.clone(),
            r.incoming.channel.to_db().to_owned(),
            r.incoming
                .case_id
                .map(|c| c.to_string())
                .unwrap_or_default(),
            voided.to_owned(),
            voided_at,
            field(why),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("Cambio di residenza"), "Cambio di residenza");
        assert_eq!(field("Via Roma, 1"), "\"Via Roma, 1\"");
        assert_eq!(field("detto \"il Moro\""), "\"detto \"\"il Moro\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
    }
}
