//! `/api/v1/session`: sign in, who am I, sign out.

use crate::api::body::Body;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sportello_kit::{ErrorKind, ServiceError};

use super::{Account, Session, Signed, accounts, session};
use crate::app::AppState;

/// Sign-in form.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    /// Account id.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The signed-in account and the token its pages send back.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// Who.
    pub account: Account,
    /// Send it in `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        Self {
            account: session.account,
            csrf_token: session.csrf_token,
        }
    }
}

/// `POST /api/v1/session`.
pub async fn sign_in(
    State(state): State<AppState>,
    Body(form): Body<Credentials>,
) -> Result<Response, ServiceError> {
    let username = form.username.trim().to_ascii_lowercase();
    if let Some(wait) = state.limiter.wait_for(&username) {
        let mut response = ServiceError::new(
            ErrorKind::ResourceExhausted,
            format!(
                "too many failed attempts: try again in {} minutes",
                wait.as_secs().div_ceil(60)
            ),
        )
        .into_response();
        if let Ok(value) = wait.as_secs().to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let Some(account) = accounts::authenticate(&state.db, &username, form.password).await? else {
        state.limiter.failed(&username);
        return Err(ServiceError::new(
            ErrorKind::Unauthenticated,
            "wrong account or password",
        ));
    };
    state.limiter.succeeded(&username);
    let ttl = state.settings.session_ttl;
    let (session, token) = session::open(&state.db, account, ttl).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        session::cookie(&token, ttl.as_secs(), state.settings.cookie_secure),
    );
    Ok((headers, Json(SessionView::from(session))).into_response())
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
