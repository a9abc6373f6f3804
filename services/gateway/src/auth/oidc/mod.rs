//! Operators signing in with OpenID Connect: authorization code with PKCE S256, state
//! and nonce, the ID token verified by the `openidconnect` crate against the provider's
//! published keys, issuer and audience; its claims mapped to role, department and
//! municipality by configuration ([`config`]). Local accounts stay beside it.
//!
//! Layout: [`config`] (the `OIDC_*` variables), [`provider`] (discovery, keys, client),
//! [`flow`] (the routes), [`claims`] (claims → account), [`store`] (the SQL).

pub mod claims;
pub mod config;
pub mod flow;
pub mod provider;
pub mod store;

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};

use crate::app::AppState;

pub use self::{config::OidcConfig, provider::Provider};

/// What the OpenID Connect routes share.
#[derive(Debug, Clone)]
pub struct OidcState {
    /// The gateway's handlers' state (database, web settings).
    pub app: AppState,
    /// The provider, when one is configured.
    pub provider: Option<Arc<Provider>>,
}

/// `/accedi/oidc`, `/auth/callback`, `/auth/oidc` (is it offered) and `/auth/logout`
/// (which also ends local sessions). Without a provider the first two answer 404.
pub fn router(state: OidcState) -> Router {
    Router::new()
        .route("/accedi/oidc", get(flow::start))
        .route(config::CALLBACK_PATH, get(flow::callback))
        .route("/auth/oidc", get(flow::offered))
        .route("/auth/logout", post(flow::logout))
        .with_state(state)
}
