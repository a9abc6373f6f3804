//! The sign-in: `/accedi/oidc` sends the browser to the provider with state, nonce and a
//! PKCE S256 challenge; `/auth/callback` takes the sign-in back once, exchanges the code
//! with the verifier, has the ID token verified (signature, issuer, audience, expiry,
//! nonce), maps its claims and opens the same session a local sign-in opens;
//! `/auth/logout` ends it and names the provider's logout when a provider opened it.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use jiff::SignedDuration;
use openidconnect::{
    AuthorizationCode, CsrfToken, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, Scope, TokenResponse, core::CoreAuthenticationFlow,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sportello_kit::{ErrorKind, Role, ServiceError};
use subtle::ConstantTimeEq;

use super::{
    OidcState,
    claims::{self, MappingError},
    config::CALLBACK_PATH,
    provider::{Provider, error_chain},
    store::{self, LinkError},
};
use crate::auth::session;

/// The cookie binding a sign-in to the browser that started it.
const BROWSER_COOKIE: &str = "sportello_oidc";
/// How long the person has at the provider.
const PENDING_TTL: SignedDuration = SignedDuration::from_mins(10);

/// Why a sign-in through the provider did not happen. Each text is shown to the person.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No provider configured.
    #[error(
        "l'accesso con il sistema di identità del Comune non è configurato / signing in with \
         the municipality's identity provider is not configured"
    )]
    NotConfigured,
    #[error(
        "richiesta di accesso sconosciuta, scaduta o già usata: ricominciare dall'accesso / \
         unknown, expired or already used sign-in request: start again"
    )]
    /// No such sign-in under way (unknown, expired, used, or another browser's).
    UnknownState,
    /// The provider answered with an error.
    #[error(
        "il fornitore di identità ha rifiutato l'accesso ({0}) / the identity provider refused the sign-in ({0})"
    )]
    Provider(String),
    #[error(
        "il fornitore di identità non risponde: riprovare tra poco / the identity provider \
         does not answer: try again shortly"
    )]
    /// The provider could not be reached.
    Unreachable,
    #[error(
        "il token d'identità ricevuto non è valido: accesso negato / the identity token \
         received is not valid: sign-in refused"
    )]
    /// The code exchange failed or the ID token did not verify.
    Token,
    /// The claims map to no account.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The account cannot be linked or is deactivated.
    #[error(transparent)]
    Link(LinkError),
    /// A bug or the database.
    #[error("errore interno: riprovare / internal error: try again")]
    Internal,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotConfigured => StatusCode::NOT_FOUND,
            Self::UnknownState => StatusCode::BAD_REQUEST,
            Self::Provider(_) | Self::Token => StatusCode::UNAUTHORIZED,
            Self::Unreachable => StatusCode::BAD_GATEWAY,
            Self::Mapping(_) | Self::Link(LinkError::Inactive) => StatusCode::FORBIDDEN,
            Self::Link(LinkError::Taken(_)) => StatusCode::CONFLICT,
            Self::Link(LinkError::Db(_)) | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        tracing::error!(%error, "oidc sign-in failed");
        Self::Internal
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let message = escape(&self.to_string());
        let page = format!(
            "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\">\
             <title>Accesso non riuscito — Sportello</title></head><body><main>\
             <h1>Accesso non riuscito / Sign-in failed</h1><p id=\"oidc-error\">{message}</p>\
             <p><a href=\"/accesso\">Torna all'accesso / Back to sign-in</a></p></main></body></html>"
        );
        (self.status(), crate::pages::security_headers(), Html(page)).into_response()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn provider(state: &OidcState) -> Result<&Provider, Refusal> {
    state.provider.as_deref().ok_or(Refusal::NotConfigured)
}

fn random_token() -> Result<String, Refusal> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| Refusal::Internal)?;
    Ok(hex::encode(bytes))
}

fn browser_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Lax, not Strict: the provider's redirect back is a navigation from its site.
    HeaderValue::from_str(&format!(
        "{BROWSER_COOKIE}={value}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; \
         Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// `GET /auth/oidc`: whether the sign-in page offers the provider.
pub async fn offered(State(state): State<OidcState>) -> Json<Value> {
    Json(json!({ "enabled": state.provider.is_some(), "start": "/accedi/oidc" }))
}

/// `GET /accedi/oidc`: to the provider.
pub async fn start(State(state): State<OidcState>) -> Result<Response, Refusal> {
    let provider = provider(&state)?;
    let metadata = provider.metadata().await.map_err(|e| {
        tracing::warn!(error = %e, "oidc provider unreachable");
        Refusal::Unreachable
    })?;
    let client = provider.client(&metadata);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &provider.config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let browser = random_token()?;
    let now = state.app.db.clock().now();
    let expires = now.saturating_add(PENDING_TTL).unwrap_or(now);
    store::save(
        &state.app.db,
        csrf.secret(),
        &browser,
        nonce.secret(),
        verifier.secret(),
        expires,
    )
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        browser_cookie(
            &browser,
            PENDING_TTL.as_secs(),
            state.app.settings.cookie_secure,
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((headers, Redirect::to(url.as_str())).into_response())
}

/// The provider's answer.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// RFC 9207: the issuer that answers, where the provider says it.
    iss: Option<String>,
}

/// `GET /auth/callback`: back from the provider.
pub async fn callback(
    State(state): State<OidcState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let provider = provider(&state)?;
    let db = &state.app.db;
    // The state is taken (and deleted) first, whatever else the answer holds: once.
    let given_state = query.state.as_deref().ok_or(Refusal::UnknownState)?;
    let pending = store::take(db, given_state)
        .await?
        .ok_or(Refusal::UnknownState)?;
    let browser = cookie_value(&headers, BROWSER_COOKIE).unwrap_or_default();
    let same_browser: bool = store::digest(browser).ct_eq(&pending.browser_sha256).into();
    if pending.expires_at <= db.clock().now() || !same_browser {
        tracing::info!(
            expired = !same_browser,
            "oidc sign-in refused: state not usable here"
        );
        return Err(Refusal::UnknownState);
    }
    // A provider that names itself (RFC 9207) must be ours: a mix-up attack sends the
    // browser back with another provider's code.
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.config.issuer.as_str())
    {
        tracing::warn!("oidc callback from another issuer");
        return Err(Refusal::Token);
    }
    if let Some(error) = query.error {
        // The provider's error code is one of OAuth's, shown as a word.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        tracing::info!(error = %code, "oidc provider refused the sign-in");
        return Err(Refusal::Provider(code));
    }
    let code = query.code.ok_or(Refusal::Token)?;
    let metadata = provider.metadata().await.map_err(|e| {
        tracing::warn!(error = %e, "oidc provider unreachable");
        Refusal::Unreachable
    })?;
    let client = provider.client(&metadata);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| {
            tracing::warn!(error = %e, "oidc provider has no token endpoint");
            Refusal::Unreachable
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(provider.http())
        .await
        .map_err(|e| {
            tracing::warn!(error = %error_chain(&e), "oidc code exchange failed");
            Refusal::Token
        })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        tracing::warn!("oidc token response without an id token");
        Refusal::Token
    })?;
    let verifier = provider.verifier(&client, &metadata);
    let verified = id_token
        .claims(&verifier, &Nonce::new(pending.nonce))
        .map_err(|e| {
            // The reason (signature, issuer, audience, expiry, nonce), never a claim's value
            // that could name the person.
            tracing::warn!(reason = %reason(&e), "oidc id token refused");
            Refusal::Token
        })?;
    let all = serde_json::to_value(verified)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or(Refusal::Internal)?;
    let mapped = claims::map(&provider.config.claims, &all).inspect_err(|e| {
        tracing::info!(reason = ?std::mem::discriminant(e), "oidc claims map to no account");
    })?;
    let issuer = provider.config.issuer.as_str();
    let account = store::sign_in(db, issuer, verified.subject().as_str(), &mapped)
        .await
        .map_err(|e| match e {
            LinkError::Db(e) => Refusal::from(e),
            e => Refusal::Link(e),
        })?;
    let landing = if account.roles.contains(&Role::Admin) {
        "/admin"
    } else {
        "/console"
    };
    let ttl = state.app.settings.session_ttl;
    let (session, token) = session::open(db, account, ttl).await?;
    store::mark_session(db, session.id, issuer).await?;
    let secure = state.app.settings.cookie_secure;
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        session::cookie(&token, ttl.as_secs(), secure),
    );
    headers.append(header::SET_COOKIE, browser_cookie("", 0, secure));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((headers, Redirect::to(landing)).into_response())
}

/// Which check refused a token, in a word.
fn reason(error: &openidconnect::ClaimsVerificationError) -> &'static str {
    use openidconnect::ClaimsVerificationError as E;
    match error {
        E::Expired(_) => "expired",
        E::InvalidAudience(_) => "audience",
        E::InvalidAuthTime(_) => "auth_time",
        E::InvalidIssuer(_) => "issuer",
        E::InvalidNonce(_) => "nonce",
        E::InvalidSubject(_) => "subject",
        E::SignatureVerification(_) => "signature",
        E::Unsupported(_) => "unsupported",
        E::Other(_) => "other",
        _ => "unknown",
    }
}

/// `POST /auth/logout` (with the session's CSRF header): ends the session; the answer's
/// `redirect` is where the browser goes next — the provider's logout for a session it
/// opened, when it has one, else the sign-in page.
pub async fn logout(
    State(state): State<OidcState>,
    headers: HeaderMap,
) -> Result<Response, ServiceError> {
    let db = &state.app.db;
    let found = match session::token_from(&headers) {
        Some(token) => session::find(db, &token).await?,
        None => None,
    };
    let mut redirect = "/accesso".to_owned();
    if let Some(signed) = found {
        signed.check_csrf(&headers)?;
        let issuer = store::session_issuer(db, signed.id).await?;
        session::close(db, &signed).await?;
        if let (Some(issuer), Some(provider)) = (issuer, state.provider.as_deref())
            && issuer == provider.config.issuer.as_str()
        {
            match provider.metadata().await {
                Ok(metadata) => {
                    if let Some(end) = &metadata.additional_metadata().end_session_endpoint {
                        let url = LogoutRequest::from(end.clone())
                            .set_client_id(provider.config.client_id.clone())
                            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
                                provider.config.post_logout_url.clone(),
                            ))
                            .http_get_url();
                        redirect = url.to_string();
                    }
                }
                // The local session is over all the same; the provider's stays.
                Err(e) => tracing::warn!(error = %e, "oidc provider unreachable at logout"),
            }
        }
    } else if session::token_from(&headers).is_none() {
        return Err(ServiceError::new(
            ErrorKind::Unauthenticated,
            "sign in first",
        ));
    }
    let mut out = HeaderMap::new();
    out.insert(
        header::SET_COOKIE,
        session::cookie("", 0, state.app.settings.cookie_secure),
    );
    Ok((out, Json(json!({ "redirect": redirect }))).into_response())
}
