//! Extractors whose errors come back in the error table's shape (400, naming the field
//! when serde could): JSON bodies, path and query parameters — instead of axum's
//! plain-text rejections.

use axum::{
    extract::rejection::JsonRejection,
    extract::{FromRequest, FromRequestParts, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;
use sportello_kit::{ErrorKind, FieldViolation, ServiceError};

/// A JSON body of type `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(explain(&rejection)),
        }
    }
}

/// Path parameters of type `T` (e.g. a percent-encoding that is not UTF-8 is a 400).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| {
                ServiceError::new(ErrorKind::InvalidArgument, rejection.body_text())
            })
    }
}

/// Query parameters of type `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| {
                ServiceError::new(ErrorKind::InvalidArgument, rejection.body_text())
            })
    }
}

fn explain(rejection: &JsonRejection) -> ServiceError {
    let text = rejection.body_text();
    match rejection {
        // "Failed to deserialize the JSON body into the target type: outcome_code:
        // invalid type: null, expected a string at line 1 column 20"
        JsonRejection::JsonDataError(_) => {
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d);
            match detail.split_once(": ") {
                Some((field, problem)) if !field.contains(' ') => {
                    ServiceError::invalid_fields(vec![FieldViolation {
                        field: field.to_owned(),
                        description: problem.to_owned(),
                    }])
                }
                _ => ServiceError::new(ErrorKind::InvalidArgument, detail.to_owned()),
            }
        }
        _ => ServiceError::new(ErrorKind::InvalidArgument, text),
    }
}
