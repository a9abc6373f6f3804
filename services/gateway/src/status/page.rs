//! The status page: plain, accessible HTML, Italian first.

use super::StackStatus;

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the page: the summary for anyone, the table of services for operations
/// staff (when `stack.services` is given).
pub(super) fn render(stack: &StackStatus) -> String {
    let details = match &stack.services {
        Some(services) => {
            let rows: String = services
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
            format!(
                r#"<table id="services">
<caption>Stato dei servizi <span lang="en">(service health)</span>, aggiornato ogni 5 secondi <span lang="en">(updated every 5 seconds)</span></caption>
<thead><tr><th scope="col">Servizio</th><th scope="col">Indirizzo</th><th scope="col">Stato</th></tr></thead>
<tbody>{rows}</tbody>
</table>"#
            )
        }
        None => r#"<p id="details-note">I dettagli dei servizi sono riservati al personale tecnico: <a href="/accesso?next=%2Fstato">accedi</a>. <span lang="en">Service details are for operations staff: sign in.</span></p>"#.to_owned(),
    };
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
<link rel="icon" href="data:,">
<title>Sportello — stato dei servizi</title>
<style>
 body {{ font-family: "Titillium Web", system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }}
 h1 {{ color: #0066cc; }}
 table {{ border-collapse: collapse; min-width: 36rem; }}
 th, td {{ border-bottom: 1px solid #ccc; padding: .5rem 1rem; text-align: left; }}
 .ok {{ color: #00703c; font-weight: 600; }}
 .ko {{ color: #a4001c; font-weight: 600; }}
</style>
<script src="/stato.js" defer></script>
</head>
<body>
<main>
<h1>Sportello Unico Servizi</h1>
<p id="summary" role="status">{summary}</p>
{details}
<p><a href="/api/v1/status">JSON</a></p>
</main>
</body>
</html>
"#
    )
}

/// Keeps the page current without reloading it: a page that reloads itself
/// (`<meta http-equiv="refresh">`) moves the focus and the screen reader's place every
/// five seconds (WCAG 2.2.1, 3.2.5). The summary, and for operations staff the rows, are
/// rebuilt from `/api/v1/status` (same cookie, same view) with the same labels as
/// [`render`]'s.
pub(super) const SCRIPT: &str = r#"'use strict';
const LABELS = { SERVING: ['ok', 'In servizio'], NOT_SERVING: ['ko', 'Non pronto'] };
function cell(tag, text, attrs) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}
async function refresh() {
  let stack;
  try {
    const response = await fetch('/api/v1/status', { headers: { accept: 'application/json' } });
    if (!response.ok) return;
    stack = await response.json();
  } catch {
    return; // the gateway itself is down: keep the last known state on screen
  }
  const body = document.querySelector('#services tbody');
  if (body && stack.services) body.replaceChildren(...rows(stack.services));
  const summary = stack.all_serving ? 'Tutti i servizi sono in servizio.' : 'Alcuni servizi non sono pronti.';
  const live = document.getElementById('summary');
  if (live.textContent !== summary) live.textContent = summary;
}
function rows(services) {
  return services.map((s) => {
    const [cls, label] = LABELS[s.status] || ['ko', 'Non raggiungibile'];
    const tr = document.createElement('tr');
    tr.append(cell('th', s.name, { scope: 'row' }));
    const td = document.createElement('td');
    td.append(cell('code', s.url));
    tr.append(td);
    const state = cell('td', label + ' ', { class: cls });
    state.append(cell('span', '(' + s.status + ')', { lang: 'en' }));
    tr.append(state);
    return tr;
  });
}
setInterval(refresh, 5000);
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ServiceStatus;

    #[test]
    fn the_public_page_says_up_or_down_and_nothing_of_the_services() {
        let public = StackStatus {
            all_serving: true,
            services: None,
        };
        let html = render(&public);
        assert!(html.contains("Tutti i servizi sono in servizio"));
        assert!(!html.contains("<table"));
        let staff = StackStatus {
            all_serving: false,
            services: Some(vec![ServiceStatus {
                name: "routing",
                url: "https://routing:50051".into(),
                status: "UNREACHABLE",
            }]),
        };
        let html = render(&staff);
        assert!(html.contains("https://routing:50051") && html.contains("Non raggiungibile"));
    }
}
