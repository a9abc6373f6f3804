//! Who is calling, for whom, about which municipality, and why.
//!
//! The server side never reads this from the caller's word: the calling service comes
//! from its certificate, the person acting (with roles, department, municipality and
//! purpose) from an assertion it signed, and a service acting as itself may only state
//! its municipality and purpose ([`crate::trust::gate`]). The gate puts the resulting
//! [`CallContext`] in the request's extensions; handlers read it with
//! [`CallContext::of`] and authorise on it.
//!
//! The client side builds one with [`CallContext::new`] (and [`CallContext::with_roles`]
//! for a person) and sends it with [`CallContext::request`]; the kit's channel
//! ([`crate::trust::PeerChannel`]) turns it into a signed assertion or headers.

use std::{fmt, time::Duration};

use tokio::time::Instant;
use tonic::{Request, Status, metadata::MetadataValue};

use crate::{domain::MunicipalityCode, role::Role, trust::PeerId};

/// Metadata key: the calling service (informational: the certificate decides).
pub const CALLER: &str = "x-sportello-caller";
/// Metadata key: the job of a service acting as itself (`system:<job>`).
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
    roles: Vec<Role>,
    department: Option<String>,
    /// Who authenticated the person (`spiffe://…`), when a person acts.
    asserter: Option<String>,
    /// Whether a person acts (signed assertion), not the service itself.
    person: bool,
    deadline: Option<Instant>,
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

fn check_actor(actor: &str) -> Result<(), ContextError> {
    let ok = actor.split_once(':').is_some_and(|(kind, id)| {
        is_token(kind, 16, &[]) && is_token(id, 128, &['.', '_', '-', '@'])
    });
    if ok {
        Ok(())
    } else {
        Err(ContextError::Malformed {
            key: ACTOR,
            reason: "expected <kind>:<id>, e.g. operator:op-17",
        })
    }
}

fn check_purpose(purpose: &str) -> Result<(), ContextError> {
    if is_token(purpose, 64, &['.', '_', '-']) && !purpose.chars().any(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ContextError::Malformed {
            key: PURPOSE,
            reason: "expected lowercase dotted words, e.g. certificate.issue",
        })
    }
}

fn parse_municipality(text: &str) -> Result<MunicipalityCode, ContextError> {
    text.parse().map_err(|reason| ContextError::Malformed {
        key: MUNICIPALITY,
        reason,
    })
}

/// Whether an actor names a person (`operator:`, `citizen:`) rather than a job.
fn names_person(actor: &str) -> bool {
    matches!(actor.split_once(':'), Some(("operator" | "citizen", _)))
}

/// `grpc-timeout`'s value for `budget` (at most eight digits, the finest unit that fits).
pub fn grpc_timeout(budget: Duration) -> String {
    let micros = budget.as_micros();
    if micros < 100_000_000 {
        format!("{}u", micros.max(1))
    } else {
        format!("{}m", (budget.as_millis()).min(99_999_999))
    }
}

/// The deadline a caller gave in `grpc-timeout`, from now.
pub fn deadline_from_headers(headers: &http::HeaderMap) -> Option<Instant> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let n: u64 = digits.parse().ok()?;
    let budget = match unit {
        "H" => Duration::from_secs(n.checked_mul(3_600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Instant::now().checked_add(budget)
}

impl CallContext {
    /// Builds a context, checking each part.
    ///
    /// - `caller`: a service name, lowercase letters and `-` (`gateway`);
    /// - `actor`: `<kind>:<id>` (`operator:op-17`, `citizen:<requester_ref>`,
    ///   `system:silence-assent`); an operator or citizen is a person, whose call is
    ///   signed by the channel;
    /// - `purpose`: lowercase dotted words (`certificate.issue`).
    pub fn new(
        caller: &str,
        actor: &str,
        municipality: &str,
        purpose: &str,
    ) -> Result<Self, ContextError> {
        if !is_token(caller, 64, &['-', '/']) || caller.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ContextError::Malformed {
                key: CALLER,
                reason: "expected a service name: lowercase letters, digits and '-'",
            });
        }
        check_actor(actor)?;
        let municipality = parse_municipality(municipality)?;
        check_purpose(purpose)?;
        Ok(Self {
            caller: caller.to_owned(),
            actor: actor.to_owned(),
            municipality,
            purpose: purpose.to_owned(),
            roles: Vec::new(),
            department: None,
            asserter: None,
            person: names_person(actor),
            deadline: None,
        })
    }

    /// A person with `roles` acts (their call is signed as theirs).
    pub fn with_roles(mut self, roles: &[Role]) -> Self {
        self.roles = roles.to_vec();
        self.person = true;
        self
    }

    /// The person works for `department`.
    pub fn with_department(mut self, department: Option<&str>) -> Self {
        self.department = department.map(str::to_owned);
        self
    }

    /// The context a signed assertion from `peer` establishes (the gate).
    pub(crate) fn asserted(
        peer: &PeerId,
        claims: crate::trust::token::Claims,
        deadline: Option<Instant>,
    ) -> Result<Self, Status> {
        check_actor(&claims.sub)?;
        check_purpose(&claims.pur)?;
        let municipality = parse_municipality(&claims.mun)?;
        if let Some(dept) = &claims.dept
            && !is_token(dept, 32, &['-', '_'])
        {
            return Err(Status::invalid_argument(
                "the asserted department is malformed",
            ));
        }
        let asserter = match claims.act {
            Some(act) => act.sub,
            None => claims.iss,
        };
        Ok(Self {
            caller: peer.caller_name(),
            actor: claims.sub,
            municipality,
            purpose: claims.pur,
            roles: claims.roles,
            department: claims.dept,
            asserter: Some(asserter),
            person: true,
            deadline,
        })
    }

    /// The context of `peer` acting as itself, from its municipality and purpose headers
    /// (none when they are absent: calls that need a context are then refused by
    /// [`require_call_context`]). A header naming a person is refused: a person acts
    /// only through a signed assertion.
    pub(crate) fn from_service_headers(
        peer: &PeerId,
        headers: &http::HeaderMap,
        deadline: Option<Instant>,
    ) -> Result<Option<Self>, Status> {
        let get = |key: &'static str| -> Result<Option<&str>, ContextError> {
            headers
                .get(key)
                .map(|v| {
                    v.to_str().map_err(|_| ContextError::Malformed {
                        key,
                        reason: "not ASCII",
                    })
                })
                .transpose()
        };
        let actor = match get(ACTOR)? {
            Some(actor) if names_person(actor) => {
                return Err(Status::unauthenticated(format!(
                    "una persona agisce solo con un'asserzione firmata: {ACTOR} non basta                      (a person acts only through a signed assertion, not {ACTOR})"
                )));
            }
            Some(actor) => {
                check_actor(actor)?;
                actor.to_owned()
            }
            None => format!("system:{}", peer.name()),
        };
        let (Some(municipality), Some(purpose)) = (get(MUNICIPALITY)?, get(PURPOSE)?) else {
            return Ok(None);
        };
        check_purpose(purpose)?;
        Ok(Some(Self {
            caller: peer.caller_name(),
            actor,
            municipality: parse_municipality(municipality)?,
            purpose: purpose.to_owned(),
            roles: Vec::new(),
            department: None,
            asserter: None,
            person: false,
            deadline,
        }))
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

    /// The person's roles (none when a service acts as itself).
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The person's department.
    pub fn department(&self) -> Option<&str> {
        self.department.as_deref()
    }

    /// Who authenticated the person (`spiffe://…`).
    pub fn asserter(&self) -> Option<&str> {
        self.asserter.as_deref()
    }

    /// Whether a person acts (as opposed to a service acting as itself).
    pub fn asserts_person(&self) -> bool {
        self.person
    }

    /// Whether the person holds one of `roles`.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        self.person && self.roles.iter().any(|r| roles.contains(r))
    }

    /// Refuses unless a person holding one of `roles` acts.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), crate::ServiceError> {
        if self.has_any_role(roles) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(crate::ServiceError::new(
            crate::ErrorKind::PermissionDenied,
            format!(
                "serve uno dei ruoli {} (one of the roles {} is needed)",
                names.join(", "),
                names.join(", ")
            ),
        ))
    }

    /// Time left before the caller's deadline, if it gave one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
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

    /// The same person, municipality, purpose and deadline, calling onward as `caller`:
    /// the onward call asserts the person on the original asserter's authority (its
    /// token names that asserter in `act`).
    pub fn forwarded_by(&self, caller: &str) -> Self {
        Self {
            caller: caller.to_owned(),
            ..self.clone()
        }
    }

    /// Puts this context and the current trace context into an outgoing request; the
    /// kit's channel turns the context into what travels.
    pub fn attach<T>(&self, request: &mut Request<T>) {
        request.extensions_mut().insert(self.clone());
        crate::propagation::inject_into_metadata(request.metadata_mut());
    }

    /// A request carrying `message` and this context.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        self.attach(&mut request);
        request
    }

    /// The headers of a service acting as itself: municipality, purpose and its job.
    pub(crate) fn write_service_headers(&self, headers: &mut http::HeaderMap) {
        for (key, value) in [
            (CALLER, self.caller.as_str()),
            (ACTOR, self.actor.as_str()),
            (MUNICIPALITY, self.municipality.as_str()),
            (PURPOSE, self.purpose.as_str()),
        ] {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(key, value);
            }
        }
    }

    /// The same context written as metadata (for clients outside the kit, e.g. tests of
    /// what the gate refuses).
    pub fn write_metadata<T>(&self, request: &mut Request<T>) {
        let metadata = request.metadata_mut();
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

/// The server interceptor every domain gRPC service is wrapped in: the gate has put
/// the call context in the request's extensions, or the call said nothing of its
/// municipality and purpose and is refused (UNAUTHENTICATED, naming what is missing).
pub fn require_call_context(request: Request<()>) -> Result<Request<()>, Status> {
    if request.extensions().get::<CallContext>().is_some() {
        return Ok(request);
    }
    let metadata = request.metadata();
    let missing = [MUNICIPALITY, PURPOSE]
        .into_iter()
        .find(|key| metadata.get(*key).is_none())
        .unwrap_or(MUNICIPALITY);
    Err(ContextError::Missing(missing).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_rides_in_the_request_extensions() {
        let context =
            CallContext::new("gateway", "operator:op-17", "011015", "certificate.issue").unwrap();
        let request = context.request(());
        let parsed = require_call_context(request).unwrap();
        assert_eq!(CallContext::of(&parsed).unwrap(), &context);
        assert!(context.asserts_person(), "an operator is a person");
    }

    #[test]
    fn missing_entries_are_unauthenticated() {
        let status = require_call_context(Request::new(())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains(MUNICIPALITY));
    }

    #[test]
    fn a_person_header_without_an_assertion_is_refused() {
        let peer = PeerId::parse("svc/gateway").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(ACTOR, "operator:op-17".parse().unwrap());
        headers.insert(MUNICIPALITY, "011015".parse().unwrap());
        headers.insert(PURPOSE, "x".parse().unwrap());
        let status = CallContext::from_service_headers(&peer, &headers, None).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        headers.insert(ACTOR, "system:silence-assent".parse().unwrap());
        let context = CallContext::from_service_headers(&peer, &headers, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            context.caller(),
            "gateway",
            "the caller is the certificate's"
        );
        assert!(!context.asserts_person());
        assert!(context.roles().is_empty());
    }

    #[test]
    fn grpc_timeouts_round_trip() {
        for budget in [
            Duration::from_millis(1),
            Duration::from_secs(5),
            Duration::from_secs(600),
        ] {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", grpc_timeout(budget).parse().unwrap());
            let left = deadline_from_headers(&headers).unwrap() - Instant::now();
            assert!(
                left <= budget && left + Duration::from_millis(50) >= budget,
                "{budget:?}"
            );
        }
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
