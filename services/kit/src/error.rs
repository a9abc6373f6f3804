//! One error table for gRPC and HTTP.
//!
//! Each service turns its own error enum into a [`ServiceError`] in one place; the
//! [`ErrorKind`] then gives both the gRPC code and the HTTP status, so the gateway's REST
//! API and the gRPC API always agree. Validation errors name their field (as
//! `google.rpc.BadRequest` details a UI can put next to the field); internal errors are
//! logged with their cause and reach the caller only as "internal error".

use std::{error::Error as StdError, fmt};

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed; the violations say which field and why.
    InvalidArgument,
    /// The thing asked for does not exist (or the caller may not know it exists).
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The request is well formed but the system is not in a state that allows it.
    FailedPrecondition,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The caller did not say who it is.
    Unauthenticated,
    /// A quota or rate limit was hit.
    ResourceExhausted,
    /// A concurrent change won; retrying may succeed.
    Aborted,
    /// A dependency is down; retrying later may succeed.
    Unavailable,
    /// The deadline passed.
    DeadlineExceeded,
    /// A bug or an unexpected failure; details are in the log, not in the reply.
    Internal,
}

impl ErrorKind {
    /// The gRPC status code.
    pub const fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Aborted => Code::Aborted,
            Self::Unavailable => Code::Unavailable,
            Self::DeadlineExceeded => Code::DeadlineExceeded,
            Self::Internal => Code::Internal,
        }
    }

    /// The HTTP status.
    pub const fn http_status(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            // Every conflict with the current state answers 409 (RFC 9110 §15.5.10): a
            // duplicate, a concurrent change, or a state that does not allow the action
            // (a no-show before the last call, serving a parked case). The body's `code`
            // tells them apart; 422 is not used (bad content is 400 with its field).
            Self::AlreadyExists | Self::Aborted | Self::FailedPrecondition => StatusCode::CONFLICT,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind a gRPC code stands for, for errors that come back from another service.
    pub const fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::FailedPrecondition => Self::FailedPrecondition,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::ResourceExhausted => Self::ResourceExhausted,
            Code::Aborted => Self::Aborted,
            Code::Unavailable | Code::Cancelled => Self::Unavailable,
            Code::DeadlineExceeded => Self::DeadlineExceeded,
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                Self::Internal
            }
        }
    }

    /// The upper-case name used in JSON error bodies (`INVALID_ARGUMENT`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::Aborted => "ABORTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::Internal => "INTERNAL",
        }
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `address.postal_code`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub description: String,
}

/// An error as callers see it.
pub struct ServiceError {
    kind: ErrorKind,
    message: String,
    violations: Vec<FieldViolation>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("violations", &self.violations)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl StdError for ServiceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl ServiceError {
    /// An error of `kind` with a message safe to show the caller.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            violations: Vec::new(),
            source: None,
        }
    }

    /// One invalid field: `INVALID_ARGUMENT` naming it.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let violation = FieldViolation {
            field: field.into(),
            description: description.into(),
        };
        Self {
            kind: ErrorKind::InvalidArgument,
            message: format!("{}: {}", violation.field, violation.description),
            violations: vec![violation],
            source: None,
        }
    }

    /// Several invalid fields at once, so a form can mark them all.
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            kind: ErrorKind::InvalidArgument,
            message,
            violations,
            source: None,
        }
    }

    /// An unexpected failure: the cause is logged, the caller sees "internal error".
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: "internal error".to_owned(),
            violations: Vec::new(),
            source: Some(source.into()),
        }
    }

    /// A dependency is down: the cause is logged, the caller is told to retry.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind: ErrorKind::Unavailable,
            message: message.into(),
            violations: Vec::new(),
            source: Some(source.into()),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message shown to the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The invalid fields, if any.
    pub fn violations(&self) -> &[FieldViolation] {
        &self.violations
    }

    /// The message with the chain of causes, for logs and operators' records — never for
    /// the caller.
    pub fn detail(&self) -> String {
        match &self.source {
            Some(source) => format!("{}: {}", self.message, ErrorChain(source.as_ref())),
            None => self.message.clone(),
        }
    }

    /// Logs what the caller will not see: the cause of internal and unavailable errors.
    fn log_cause(&self) {
        if let Some(source) = &self.source {
            tracing::error!(kind = self.kind.name(), error = %ErrorChain(source.as_ref()), "request failed");
        }
    }
}

/// Displays an error with its chain of causes.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        error.log_cause();
        if error.violations.is_empty() {
            return tonic::Status::new(error.kind.grpc_code(), error.message);
        }
        let mut details = ErrorDetails::new();
        for violation in &error.violations {
            details.add_bad_request_violation(&violation.field, &violation.description);
        }
        tonic::Status::with_error_details(error.kind.grpc_code(), error.message, details)
    }
}

impl From<tonic::Status> for ServiceError {
    /// An error returned by another service keeps its kind and its field violations, so
    /// the gateway can show a field error next to its field.
    fn from(status: tonic::Status) -> Self {
        let mut kind = ErrorKind::from_grpc_code(status.code());
        // A call whose connection broke before an answer (the peer killed mid-call: reset,
        // EOF without close_notify) comes back from tonic as UNKNOWN "transport error"
        // with the transport error as its source. It is the peer being away, not its
        // failure: UNAVAILABLE, which clients retry (make chaos's kill -9 found it as 500s).
        if status.code() == Code::Unknown
            && std::error::Error::source(&status)
                .is_some_and(|e| e.downcast_ref::<tonic::transport::Error>().is_some())
        {
            kind = ErrorKind::Unavailable;
        }
        let violations = status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: v.field,
                        description: v.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        match kind {
            // Do not pass another service's internal message on.
            ErrorKind::Internal => Self::internal(status),
            ErrorKind::Unavailable => {
                let message = "a service Sportello depends on is unavailable";
                Self::unavailable(message, status)
            }
            _ => Self {
                kind,
                message: status.message().to_owned(),
                violations,
                source: None,
            },
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::unavailable("the database is unavailable", error)
            }
            // The server went away under us or cannot take writes now (a failover, a
            // restart, a standby promoted late): the same request will work once the pool
            // reaches the new primary, so the caller is told to retry, not that we failed.
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .as_deref()
                    .is_some_and(crate::db::sqlstate::is_failover) =>
            {
                Self::unavailable("the database is unavailable", error)
            }
            sqlx::Error::Database(ref db)
                if matches!(
                    db.code().as_deref(),
                    Some(
                        crate::db::sqlstate::SERIALIZATION_FAILURE
                            | crate::db::sqlstate::DEADLOCK_DETECTED
                    )
                ) =>
            {
                Self {
                    kind: ErrorKind::Aborted,
                    message: "a concurrent change won; try again".to_owned(),
                    violations: Vec::new(),
                    source: Some(error.into()),
                }
            }
            // The statement ran past the service's `DATABASE_STATEMENT_TIMEOUT`: the
            // database was too slow for the caller's time, not a bug — the caller may
            // retry later, and the reply says so instead of "internal error".
            sqlx::Error::Database(ref db)
                if db.code().as_deref() == Some(crate::db::sqlstate::QUERY_CANCELED) =>
            {
                Self {
                    kind: ErrorKind::DeadlineExceeded,
                    message: "il database non ha risposto in tempo; riprovare / the database \
                              did not answer in time; try again"
                        .to_owned(),
                    violations: Vec::new(),
                    source: Some(error.into()),
                }
            }
            _ => Self::internal(error),
        }
    }
}

/// The JSON body of an HTTP error: `{"error": {"code", "message", "fields": [...]}}`.
#[derive(Debug, serde::Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorBodyInner<'a>,
}

/// The error inside [`ErrorBody`].
#[derive(Debug, serde::Serialize)]
pub struct ErrorBodyInner<'a> {
    /// `INVALID_ARGUMENT`, `NOT_FOUND`, …
    pub code: &'static str,
    /// For a person.
    pub message: &'a str,
    /// Invalid fields, each with what is wrong.
    pub fields: &'a [FieldViolation],
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = ErrorBody {
            error: ErrorBodyInner {
                code: self.kind.name(),
                message: &self.message,
                fields: &self.violations,
            },
        };
        (self.kind.http_status(), axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_survive_a_grpc_round_trip() {
        let status: tonic::Status =
            ServiceError::invalid_field("postal_code", "must be five digits").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let back = ServiceError::from(status);
        assert_eq!(back.kind(), ErrorKind::InvalidArgument);
        assert_eq!(back.violations()[0].field, "postal_code");
        assert_eq!(back.kind().http_status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_detail_never_leaks() {
        let status: tonic::Status =
            ServiceError::internal("relation \"secret_table\" does not exist").into();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn every_conflict_with_the_current_state_is_409() {
        for kind in [
            ErrorKind::AlreadyExists,
            ErrorKind::Aborted,
            ErrorKind::FailedPrecondition,
        ] {
            assert_eq!(kind.http_status(), StatusCode::CONFLICT, "{kind:?}");
        }
        assert_eq!(
            ErrorKind::InvalidArgument.http_status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn every_kind_maps_back_to_itself() {
        use ErrorKind::*;
        for kind in [
            InvalidArgument,
            NotFound,
            AlreadyExists,
            FailedPrecondition,
            PermissionDenied,
            Unauthenticated,
            ResourceExhausted,
            Aborted,
            Unavailable,
            DeadlineExceeded,
            Internal,
        ] {
            assert_eq!(ErrorKind::from_grpc_code(kind.grpc_code()), kind);
        }
    }
}
