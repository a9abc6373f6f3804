//! `/api/v1/session`: sign in, who am I, sign out.

use crate::api::body::Body;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sportello_kit::{ErrorKind, ServiceError};

use super::{Account, Session, Signed, accounts, session, source::ClientIp};
use crate::app::AppState;

/// Sign-in form.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    /// Account id.
    pub username: String,
    /// Password.
    pub password: String,
    /// Where the page goes once signed in (the `?next=` it was opened with); answered
    /// back only if it is a path of this site ([`same_origin_path`]).
    #[serde(default)]
    pub next: Option<String>,
}

/// The signed-in account and the token its pages send back.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// Who.
    pub account: Account,
    /// Send it in `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    /// After signing in: the `next` asked for, when it is a path of this site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        Self {
            account: session.account,
            csrf_token: session.csrf_token,
            next: None,
        }
    }
}

/// `next` if it is an absolute path on this site, else `None` (the page then goes to the
/// account's home page). It must start with exactly one `/` followed by something that
/// is not `/` or `\` (browsers read `//host` and `/\host` as another site), carry no
/// scheme, no control character nor whitespace (browsers drop tabs and newlines, turning
/// `/\t/evil` into `//evil`), no backslash at all, and not lead back to the sign-in page.
pub fn same_origin_path(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && next.len() <= 2048
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && !next.starts_with("/accesso")
        && !next.contains("://");
    ok.then_some(next)
}

/// The error as a response; a 503 (the hashing pool full, a service behind down) says
/// when to retry.
fn with_retry_after(error: ServiceError) -> Response {
    let unavailable = error.kind() == ErrorKind::Unavailable;
    let mut response = error.into_response();
    if unavailable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// `POST /api/v1/session`.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    Body(form): Body<Credentials>,
) -> Response {
    let username = form.username.trim().to_ascii_lowercase();
    // Checked and counted in one step: the attempt stands as a failure until it is
    // settled below, or given back if the password is never checked.
    let attempt = match state.limiter.attempt(&username, source) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            let mut response = ServiceError::new(
                ErrorKind::ResourceExhausted,
                format!(
                    "troppi tentativi falliti: riprova tra {seconds} secondi / \
                     too many failed attempts: try again in {seconds} seconds"
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
    };
    let account = match accounts::authenticate(&state.db, &username, form.password).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            attempt.failed();
            return ServiceError::new(ErrorKind::Unauthenticated, "wrong account or password")
                .into_response();
        }
        Err(error) => return with_retry_after(error),
    };
    attempt.succeeded();
    let ttl = state.settings.session_ttl;
    let (session, token) = match session::open(&state.db, account, ttl).await {
        Ok(opened) => opened,
        Err(error) => return with_retry_after(error),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        session::cookie(&token, ttl.as_secs(), state.settings.cookie_secure),
    );
    let view = SessionView {
        next: form
            .next
            .as_deref()
            .and_then(same_origin_path)
            .map(str::to_owned),
        ..SessionView::from(session)
    };
    (headers, Json(view)).into_response()
}

/// `GET /api/v1/session`.
pub async fn current(signed: Signed) -> Json<SessionView> {
    Json(SessionView::from(signed.0))
}

/// `DELETE /api/v1/session`.
pub async fn sign_out(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Response, ServiceError> {
    session::close(&state.db, &signed.0).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        session::cookie("", 0, state.settings.cookie_secure),
    );
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_path_of_this_site() {
        for good in [
            "/",
            "/console",
            "/tabellone/palazzo-civico",
            "/urp?segnalazione=0001-000001",
            "/imprese?domanda=01a2&x=%2F%2Fevil",
            "/back-office#item",
        ] {
            assert_eq!(same_origin_path(good), Some(good), "{good:?}");
        }
        let long = format!("/{}", "a".repeat(2048));
        for hostile in [
            "",
            "console",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\0/evil.example",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{7f}",
            "/redirect?to=https://evil.example",
            "/a\\b",
            " /console",
            "/accesso",
            "/accesso?next=/console",
            long.as_str(),
        ] {
            assert_eq!(same_origin_path(hostile), None, "{hostile:?}");
        }
    }
}
