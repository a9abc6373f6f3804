//! Who is asking: local accounts with argon2id passwords, cookie sessions with CSRF
//! tokens, roles, the rate limit on signing in and the network source it counts by.
//!
//! Every API handler takes a [`Signed`] (or nothing, for the public endpoints) and
//! states the roles it allows with [`Signed::require`]; municipality and department
//! are checked against the record acted on, on the server, whatever the UI shows.

pub mod accounts;
pub mod limiter;
pub mod login;
pub mod oidc;
pub mod password;
pub mod roles;
pub mod session;
pub mod source;

use axum::{
    extract::FromRequestParts,
    http::{Method, request::Parts},
};
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, ServiceError};

pub use self::{accounts::Account, roles::Role, session::Session};
use crate::app::AppState;

/// A request from a signed-in account. Extracting it refuses (401) a request without a
/// live session, and (403) a state-changing one without the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Signed(pub Session);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthenticated = || ServiceError::new(ErrorKind::Unauthenticated, "sign in first");
        let token = session::token_from(&parts.headers).ok_or_else(unauthenticated)?;
        let session = session::find(&state.db, &token)
            .await?
            .ok_or_else(unauthenticated)?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            session.check_csrf(&parts.headers)?;
        }
        Ok(Signed(session))
    }
}

impl Signed {
    /// The account.
    pub fn account(&self) -> &Account {
        &self.0.account
    }

    /// Refuses (403) an account holding none of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Account, ServiceError> {
        let account = self.account();
        if account.has_any(roles) {
            Ok(account)
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(ServiceError::new(
                ErrorKind::PermissionDenied,
                format!("this needs one of the roles: {}", names.join(", ")),
            ))
        }
    }

    /// Refuses (403) a record of another municipality.
    pub fn same_municipality(&self, record: &str) -> Result<(), ServiceError> {
        if self.account().municipality.as_str() == record {
            Ok(())
        } else {
            Err(ServiceError::new(
                ErrorKind::PermissionDenied,
                "this record belongs to another municipality",
            ))
        }
    }

    /// Refuses (403) a case of a department a departmental account does not work for.
    pub fn may_serve_department(&self, department: &str) -> Result<(), ServiceError> {
        if self.account().may_serve_department(department) {
            Ok(())
        } else {
            Err(ServiceError::new(
                ErrorKind::PermissionDenied,
                format!("this case belongs to the {department} department, not yours"),
            ))
        }
    }

    /// The call context for a gRPC call made for this account: the person, their roles
    /// and department, signed by the gateway for each call.
    pub fn context(&self, purpose: &str) -> Result<CallContext, ServiceError> {
        let account = self.account();
        Ok(context_for(
            &format!("{}:{}", actor_kind(account), account.id),
            account.municipality,
            purpose,
        )?
        .with_roles(&account.roles)
        .with_department(account.department.as_deref()))
    }
}

fn actor_kind(account: &Account) -> &'static str {
    if account.roles == [Role::Kiosk] {
        "device"
    } else {
        "operator"
    }
}

/// A call context from the gateway.
pub fn context_for(
    actor: &str,
    municipality: MunicipalityCode,
    purpose: &str,
) -> Result<CallContext, ServiceError> {
    CallContext::new("gateway", actor, municipality.as_str(), purpose)
        .map_err(|e| ServiceError::internal(e.to_string()))
}
