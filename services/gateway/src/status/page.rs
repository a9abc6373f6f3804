//! The status page: plain, accessible HTML, Italian first.

use super::StackStatus;

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the page.
pub(super) fn render(stack: &StackStatus) -> String {
    let rows: String = stack
        .services
        .iter()
        .map(|s| {
            let (class, label) = match s.status {
                "SERVING" => ("ok", "In servizio"),
                "NOT_SERVING" => ("ko", "Non pronto"),
                _ => ("ko", "Non raggiungibile"),
            };
            format!(
                "<tr><th scope=\"row\">{}</th><td><code>{}</code></td>\
                 <td class=\"{class}\">{label} <span lang=\"en\">({})</span></td></tr>",
                escape(s.name),
                escape(&s.url),
                s.status
            )
        })
        .collect();
    let summary = if stack.all_serving {
        "Tutti i servizi sono in servizio."
    } else {
        "Alcuni servizi non sono pronti."
    };
    format!(
        r#"<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>Sportello — stato dei servizi</title>
<style>
 body {{ font-family: "Titillium Web", system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }}
 h1 {{ color: #0066cc; }}
 table {{ border-collapse: collapse; min-width: 36rem; }}
 th, td {{ border-bottom: 1px solid #ccc; padding: .5rem 1rem; text-align: left; }}
 .ok {{ color: #00703c; font-weight: 600; }}
 .ko {{ color: #a4001c; font-weight: 600; }}
</style>
</head>
<body>
<main>
<h1>Sportello Unico Servizi</h1>
<p role="status">{summary}</p>
<table>
<caption>Stato dei servizi <span lang="en">(service health)</span></caption>
<thead><tr><th scope="col">Servizio</th><th scope="col">Indirizzo</th><th scope="col">Stato</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<p><a href="/api/v1/status">JSON</a></p>
</main>
</body>
</html>
"#
    )
}
