//! JSON request bodies whose errors come back in the error table's shape, naming the
//! field serde could not read, instead of axum's plain-text rejection.

use axum::{
    extract::rejection::JsonRejection,
    extract::{FromRequest, Request},
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
