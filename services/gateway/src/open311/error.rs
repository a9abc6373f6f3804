//! Open311's own error format: a JSON array `[{"code": 400, "description": "…"}]` (or
//! `<errors><error>…</error></errors>` for a client that asked for XML), with the HTTP
//! status the specification names: 404 for what does not exist, 403 for a wrong or
//! missing `api_key`, 400 for any other request that cannot be fulfilled. Server-side
//! failures keep their own honest statuses (500, 503, 504) so a client knows to retry.
//!
//! URP's gRPC errors already say what is wrong, Italian first; this module only renames
//! URP's fields to the Open311 parameters the client sent (`category_code` is
//! `service_code`, `location` is `lat`/`long` or `address_string`, …).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sportello_kit::{ErrorKind, ServiceError};

/// One error of the array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The HTTP status it stands for.
    pub code: u16,
    /// For a person: Italian, then English.
    pub description: String,
}

/// An Open311 error response.
#[derive(Debug)]
pub struct Open311Error {
    status: StatusCode,
    errors: Vec<Entry>,
    xml: bool,
}

impl Open311Error {
    /// One error with `status`.
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![Entry {
                code: status.as_u16(),
                description: description.into(),
            }],
            xml: false,
        }
    }

    /// 400: a parameter is missing or wrong; `parameter` names it.
    pub fn bad(parameter: &str, description: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("{parameter}: {description}"),
        )
    }

    /// 404: no such resource.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    /// 403: the `api_key` is missing, unknown or revoked.
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    /// The same error, written as XML (the client asked for `.xml`).
    pub fn as_xml(mut self) -> Self {
        self.xml = true;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The errors.
    pub fn errors(&self) -> &[Entry] {
        &self.errors
    }
}

/// The Open311 parameter a URP field was filled from.
fn parameter(field: &str) -> &str {
    match field {
        "category_code" | "code" => "service_code",
        "location" => "lat/long, address_string",
        "location.latitude" => "lat",
        "location.longitude" => "long",
        "location.address" => "address_string",
        "requester.email" => "email",
        "requester.phone" => "phone",
        "requester.first_name" => "first_name",
        "requester.last_name" => "last_name",
        "code_or_id" => "service_request_id",
        "statuses" => "status",
        "received_after" => "start_date",
        "received_before" => "end_date",
        f if f.starts_with("codes") => "service_request_id",
        f if f.starts_with("attachments") => "media_url",
        other => other,
    }
}

impl From<ServiceError> for Open311Error {
    fn from(error: ServiceError) -> Self {
        let kind = error.kind();
        let status = match kind {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => StatusCode::FORBIDDEN,
            // GeoReport v2: "400 for any other error where the request can not be
            // fulfilled as expected" — a conflict with the report's state included.
            ErrorKind::FailedPrecondition | ErrorKind::AlreadyExists | ErrorKind::Aborted => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let description = match kind {
            ErrorKind::Unavailable => Some(
                "servizio momentaneamente non disponibile, riprovare più tardi / the service is \
                 unavailable for the moment, try again later",
            ),
            ErrorKind::DeadlineExceeded => Some(
                "il servizio non ha risposto in tempo, riprovare / the service did not answer in \
                 time, try again",
            ),
            ErrorKind::Internal => Some("errore interno / internal error"),
            _ => None,
        };
        if let Some(description) = description {
            // The cause is for the operators' logs; the client gets the sentence above.
            tracing::error!(kind = kind.name(), error = %error.detail(), "open311 request failed");
            return Self::new(status, description);
        }
        if kind == ErrorKind::InvalidArgument && !error.violations().is_empty() {
            let errors = error
                .violations()
                .iter()
                .map(|v| {
                    // A category that is not there is a resource that does not exist.
                    let code = if matches!(v.field.as_str(), "category_code" | "code") {
                        StatusCode::NOT_FOUND
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    (code, format!("{}: {}", parameter(&v.field), v.description))
                })
                .collect::<Vec<_>>();
            let status = if errors.iter().all(|(c, _)| *c == StatusCode::NOT_FOUND) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            return Self {
                status,
                errors: errors
                    .into_iter()
                    .map(|(code, description)| Entry {
                        code: code.as_u16(),
                        description,
                    })
                    .collect(),
                xml: false,
            };
        }
        Self::new(status, error.message().to_owned())
    }
}

impl From<tonic::Status> for Open311Error {
    fn from(status: tonic::Status) -> Self {
        ServiceError::from(status).into()
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        if self.xml {
            let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors>\n");
            for e in &self.errors {
                body.push_str(&format!(
                    "  <error>\n    <code>{}</code>\n    <description>{}</description>\n  </error>\n",
                    e.code,
                    escape(&e.description)
                ));
            }
            body.push_str("</errors>\n");
            return (
                self.status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )],
                body,
            )
                .into_response();
        }
        (self.status, Json(self.errors)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urps_field_errors_come_back_under_the_open311_parameter() {
        let error: Open311Error = ServiceError::invalid_fields(vec![
            sportello_kit::FieldViolation {
                field: "location".into(),
                description: "la categoria strade.buca richiede il luogo / needs a location".into(),
            },
            sportello_kit::FieldViolation {
                field: "requester.email".into(),
                description: "non valido / invalid".into(),
            },
        ])
        .into();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.errors().len(), 2);
        assert!(
            error.errors()[0]
                .description
                .starts_with("lat/long, address_string: la categoria")
        );
        assert!(error.errors()[1].description.starts_with("email: "));
    }

    #[test]
    fn an_unknown_category_is_404_and_a_dependency_down_is_503_with_no_detail() {
        let error: Open311Error =
            ServiceError::invalid_field("category_code", "categoria x sconosciuta").into();
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(error.errors()[0].code, 404);
        assert!(error.errors()[0].description.starts_with("service_code: "));
        let error: Open311Error =
            ServiceError::unavailable("urp down", std::io::Error::other("secret detail")).into();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.errors()[0].description.contains("secret"));
    }

    #[test]
    fn xml_errors_are_escaped() {
        let response = Open311Error::bad("format", "<solo> JSON & basta")
            .as_xml()
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/xml; charset=utf-8"
        );
        assert_eq!(escape("<a & b>"), "&lt;a &amp; b&gt;");
    }
}
