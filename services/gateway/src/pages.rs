//! The pages: static HTML and assets built by `make ui` (Bootstrap Italia from npm,
//! the pages' own scripts and styles), served from `UI_ASSETS_DIR`. Each page reads its
//! state from the API, so the HTML is the same for everyone and can be cached.

use std::path::PathBuf;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tower_http::services::ServeDir;

use crate::app::AppState;

/// Page routes and the HTML file each serves.
pub const PAGES: [(&str, &str); 20] = [
    ("/", "home.html"),
    ("/accesso", "login.html"),
    ("/console", "console.html"),
    ("/back-office", "backoffice.html"),
    ("/imprese", "suap.html"),
    ("/iscrizioni", "enrolment.html"),
    ("/ufficio", "manager.html"),
    ("/tabellone/{site}", "board.html"),
    ("/totem/{site}", "kiosk.html"),
    ("/prenota", "prenota.html"),
    ("/calendario", "calendario.html"),
    ("/verifica", "verify.html"),
    ("/verifica/{code}", "verify.html"),
    ("/valuta", "rate.html"),
    ("/valuta/{code}", "rate.html"),
    ("/segnalazioni", "segnalazioni.html"),
    ("/segnalazioni/{ref}", "segnalazioni.html"),
    ("/urp", "urp.html"),
    ("/admin", "admin.html"),
    ("/stato", "status.html"),
];

/// The page routes and `/static/…`.
pub fn router(assets: PathBuf) -> Router<AppState> {
    let mut router = Router::new();
    for (path, file) in PAGES {
        if file == "status.html" {
            continue; // rendered by the status module
        }
        router = router.route(path, get(move |state: State<AppState>| page(state, file)));
    }
    router.nest_service("/static", ServeDir::new(assets))
}

async fn page(State(state): State<AppState>, file: &'static str) -> Response {
    let path = state.settings.assets_dir.join(file);
    match tokio::fs::read_to_string(&path).await {
        Ok(html) => (security_headers(), Html(html)).into_response(),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "page missing: is the UI built?");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(format!(
                    "<!doctype html><html lang=\"it\"><title>Sportello</title><main><h1>Interfaccia non disponibile</h1>\
                     <p>The web UI is not built at {}: run <code>make ui</code> (or set UI_ASSETS_DIR).</p>\
                     <p><a href=\"/stato\">Stato dei servizi</a></p></main></html>",
                    state.settings.assets_dir.display()
                )),
            )
                .into_response()
        }
    }
}

/// The headers of every page: never cached without asking, only its own resources.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// Pages load only their own scripts, styles, fonts and images. Fonts may also come as
/// `data:` URIs: Bootstrap Italia's stylesheet embeds one (a data URI can only carry the
/// bytes it shows, so it fetches nothing from elsewhere).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   script-src 'self'; connect-src 'self'; font-src 'self' data:; \
                   frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
