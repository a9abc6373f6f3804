//! Who is calling, for whom, about which municipality, and why.
//!
//! Every gRPC call between Sportello services carries four metadata entries (documented
//! in `proto/sportello/common/v1/call.proto`). The server side parses them once, in
//! [`require_call_context`], into a [`CallContext`] that handlers authorise on and audit
//! logs record; the client side writes them with [`CallContext::attach`], together with
//! the W3C trace context.

use std::fmt;

use tonic::{Request, Status, metadata::MetadataValue};

use crate::domain::MunicipalityCode;

/// Metadata key: the calling service.
pub const CALLER: &str = "x-sportello-caller";
/// Metadata key: the end user on whose behalf the call is made.
pub const ACTOR: &str = "x-sportello-actor";
/// Metadata key: the municipality the call is about (ISTAT code).
pub const MUNICIPALITY: &str = "x-sportello-municipality";
/// Metadata key: the declared purpose.
pub const PURPOSE: &str = "x-sportello-purpose";

/// The parsed call context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    caller: String,
    actor: String,
    municipality: MunicipalityCode,
    purpose: String,
}

/// Why a call context is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A required entry is missing.
    #[error("metadata {0} is required")]
    Missing(&'static str),
    /// An entry is malformed.
    #[error("metadata {key} is malformed: {reason}")]
    Malformed {
        /// The metadata key.
        key: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl From<ContextError> for Status {
    fn from(error: ContextError) -> Self {
        match error {
            ContextError::Missing(_) => Status::unauthenticated(error.to_string()),
            ContextError::Malformed { .. } => Status::invalid_argument(error.to_string()),
        }
    }
}

fn is_token(s: &str, max: usize, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

impl CallContext {
    /// Builds a context, checking each part.
    ///
    /// - `caller`: a service name, lowercase letters and `-` (`gateway`);
    /// - `actor`: `<kind>:<id>` (`operator:op-17`, `citizen:<requester_ref>`,
    ///   `system:silence-assent`);
    /// - `purpose`: lowercase dotted words (`certificate.issue`).
    pub fn new(
        caller: &str,
        actor: &str,
        municipality: &str,
        purpose: &str,
    ) -> Result<Self, ContextError> {
        if !is_token(caller, 32, &['-']) || caller.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ContextError::Malformed {
                key: CALLER,
                reason: "expected a service name: lowercase letters, digits and '-'",
            });
        }
        let actor_ok = actor.split_once(':').is_some_and(|(kind, id)| {
            is_token(kind, 16, &[]) && is_token(id, 128, &['.', '_', '-', '@'])
        });
        if !actor_ok {
            return Err(ContextError::Malformed {
                key: ACTOR,
                reason: "expected <kind>:<id>, e.g. operator:op-17",
            });
        }
        let municipality = municipality
            .parse()
            .map_err(|reason| ContextError::Malformed {
                key: MUNICIPALITY,
                reason,
            })?;
        if !is_token(purpose, 64, &['.', '_', '-'])
            || purpose.chars().any(|c| c.is_ascii_uppercase())
        {
            return Err(ContextError::Malformed {
                key: PURPOSE,
                reason: "expected lowercase dotted words, e.g. certificate.issue",
            });
        }
        Ok(Self {
            caller: caller.to_owned(),
            actor: actor.to_owned(),
            municipality,
            purpose: purpose.to_owned(),
        })
    }

    /// The calling service.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The end user acting.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The municipality the call is about.
    pub fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    /// The declared purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The context of a request that passed [`require_call_context`].
    pub fn of<T>(request: &Request<T>) -> Result<&Self, Status> {
        request
            .extensions()
            .get::<Self>()
            .ok_or_else(|| Status::unauthenticated("call context is missing"))
    }

    /// Refuses a call about another municipality than the one the caller acts for.
    pub fn ensure_municipality(&self, record: MunicipalityCode) -> Result<(), crate::ServiceError> {
        if record == self.municipality {
            Ok(())
        } else {
            Err(crate::ServiceError::new(
                crate::ErrorKind::PermissionDenied,
                format!(
                    "the caller acts for municipality {}, not {record}",
                    self.municipality
                ),
            ))
        }
    }

    /// Hides a record of another municipality: for reads and actions by id, NOT_FOUND —
    /// a caller of one municipality does not learn what exists in another.
    pub fn ensure_visible(&self, record: MunicipalityCode) -> Result<(), crate::ServiceError> {
        if record == self.municipality {
            Ok(())
        } else {
            Err(crate::ServiceError::new(
                crate::ErrorKind::NotFound,
                "not found",
            ))
        }
    }

    /// The same actor, municipality and purpose, calling onward as `caller`.
    pub fn forwarded_by(&self, caller: &str) -> Self {
        Self {
            caller: caller.to_owned(),
            ..self.clone()
        }
    }

    /// Writes this context and the current trace context into an outgoing request.
    pub fn attach<T>(&self, request: &mut Request<T>) {
        let metadata = request.metadata_mut();
        // All four values were validated as ASCII tokens, so they are valid metadata.
        for (key, value) in [
            (CALLER, self.caller.as_str()),
            (ACTOR, self.actor.as_str()),
            (MUNICIPALITY, self.municipality.as_str()),
            (PURPOSE, self.purpose.as_str()),
        ] {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(key, value);
            }
        }
        crate::propagation::inject_into_metadata(metadata);
    }

    /// A request carrying `message` and this context.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        self.attach(&mut request);
        request
    }
}

impl fmt::Display for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for {} in {} ({})",
            self.caller, self.actor, self.municipality, self.purpose
        )
    }
}

/// The server interceptor every domain gRPC service is wrapped in: parses the call
/// context into the request's extensions, or refuses the call (UNAUTHENTICATED when an
/// entry is missing, INVALID_ARGUMENT when one is malformed).
pub fn require_call_context(mut request: Request<()>) -> Result<Request<()>, Status> {
    let metadata = request.metadata();
    let get = |key: &'static str| -> Result<&str, ContextError> {
        metadata
            .get(key)
            .ok_or(ContextError::Missing(key))?
            .to_str()
            .map_err(|_| ContextError::Malformed {
                key,
                reason: "not ASCII",
            })
    };
    let context = CallContext::new(get(CALLER)?, get(ACTOR)?, get(MUNICIPALITY)?, get(PURPOSE)?)?;
    request.extensions_mut().insert(context);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_round_trips_through_metadata() {
        let context =
            CallContext::new("gateway", "operator:op-17", "011015", "certificate.issue").unwrap();
        let request = context.request(());
        let parsed = require_call_context(request).unwrap();
        assert_eq!(CallContext::of(&parsed).unwrap(), &context);
    }

    #[test]
    fn missing_entries_are_unauthenticated() {
        let status = require_call_context(Request::new(())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains(CALLER));
    }

    #[test]
    fn malformed_entries_name_the_key() {
        let err = CallContext::new("gateway", "op17", "011015", "x").unwrap_err();
        assert!(err.to_string().contains(ACTOR));
        let err = CallContext::new("gateway", "operator:1", "11015", "x").unwrap_err();
        assert!(err.to_string().contains(MUNICIPALITY));
    }

    #[test]
    fn another_municipality_is_refused() {
        let context = CallContext::new("suap", "operator:1", "011015", "x").unwrap();
        let err = context
            .ensure_municipality("010025".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PermissionDenied);
    }
}
