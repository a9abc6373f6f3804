//! The day's register as CSV (RFC 4180), for the records office.

use sportello_pa::calendar::rome;

use super::{
    domain::{Names, formatted_number},
    store::Registration,
};
use crate::domain::Stored;

// New columns go at the end, so a reader of the older layout keeps its positions.
const HEADER: &str = "numero,anno,data_ora,tipo,mittente,oggetto,impronta_sha256,canale,pratica,annullata,data_annullamento,motivo_annullamento,verso,destinatario,annullata_da,autorizzazione_annullamento,nome_mittente,nome_destinatario";

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

/// Renders the registrations, header first, CRLF line ends; times in Europe/Rome. The
/// names columns are filled from `names` (one per registration, the protocol role's
/// export) and empty without them.
pub fn render(registrations: &[Registration], names: Option<&[Names]>) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\r\n");
    for (i, r) in registrations.iter().enumerate() {
        let named = names.and_then(|n| n.get(i));
        let name =
            |pick: fn(&Names) -> Option<&str>| field(named.and_then(pick).unwrap_or_default());
        let time = |t: jiff::Timestamp| rome::zoned(t).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let (voided, voided_at, why, by, authorisation) = match &r.voided {
            Some(a) => (
                "si",
                time(a.at),
                a.reason.as_str(),
                a.by.as_deref().unwrap_or_default(),
                a.authorisation.as_deref().unwrap_or_default(),
            ),
            None => ("no", String::new(), "", "", ""),
        };
        let direction = match r.entry.kind.direction_db() {
            "outgoing" => "uscita",
            _ => "entrata",
        };
        let row = [
            formatted_number(r.number),
            r.year.to_string(),
            time(r.registered_at),
            r.entry.kind.to_db().to_owned(),
            field(&r.entry.sender_ref),
            field(&r.entry.subject),
            r.entry.document_sha256.clone(),
            r.entry.channel.to_db().to_owned(),
            r.entry.case_id.map(|c| c.to_string()).unwrap_or_default(),
            voided.to_owned(),
            voided_at,
            field(why),
            direction.to_owned(),
            field(r.entry.recipient_ref.as_deref().unwrap_or_default()),
            field(by),
            field(authorisation),
            name(|n| n.sender.as_ref().map(|s| s.as_str())),
            name(|n| n.recipient.as_ref().map(|s| s.as_str())),
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
