//! The gRPC server every service runs: its own services wrapped in the call-context
//! interceptor, plus health and reflection (v1 and v1alpha, which grpcurl and Python's
//! reflection client speak), a tracing layer that continues the caller's trace, and an
//! optional HTTP router for the services that serve HTTP.

use std::convert::Infallible;

use axum::Router;
use tonic::{server::NamedService, service::RoutesBuilder};
use tonic_health::server::HealthReporter;

/// Health names: the readiness name (also `""`, the server as a whole, and each of the
/// service's own gRPC services) follows the database; the liveness name only says the
/// process answers.
pub mod health_names {
    /// Readiness: SERVING while the database is reachable and the service not stopping.
    pub const READINESS: &str = "readiness";
    /// Liveness: SERVING while the process is up.
    pub const LIVENESS: &str = "liveness";
}

/// The gRPC services (and HTTP routes) a service exposes.
#[derive(Default)]
pub struct Api {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    http: Option<Router>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("services", &self.names)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// No services yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gRPC service. Wrap domain services in
    /// [`require_call_context`](crate::context::require_call_context) with
    /// `XServer::with_interceptor`.
    pub fn grpc<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Serves `router` on the HTTP listener.
    pub fn http(mut self, router: Router) -> Self {
        self.http = Some(router);
        self
    }

    /// The fully-qualified names of the gRPC services added.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Adds health and reflection for the services added so far, and splits the API
    /// into its gRPC routes, service names, health reporter and HTTP router.
    pub(crate) fn finish(mut self) -> Result<FinishedApi, tonic_reflection::server::Error> {
        let (reporter, health) = tonic_health::server::health_reporter();
        let mut v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(sportello_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection");
        let mut v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(sportello_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for name in &self.names {
            v1 = v1.with_service_name(*name);
            v1alpha = v1alpha.with_service_name(*name);
        }
        self.routes
            .add_service(health)
            .add_service(v1.build_v1()?)
            .add_service(v1alpha.build_v1alpha()?);
        Ok((self.routes.routes(), self.names, reporter, self.http))
    }
}

/// The gRPC routes (with health and reflection), the service names, the health reporter
/// and the HTTP router of an API.
pub(crate) type FinishedApi = (
    tonic::service::Routes,
    Vec<&'static str>,
    HealthReporter,
    Option<Router>,
);

/// Sets every readiness name to `status`.
pub(crate) async fn set_readiness(
    reporter: &HealthReporter,
    names: &[&'static str],
    status: tonic_health::ServingStatus,
) {
    for name in names.iter().copied().chain(["", health_names::READINESS]) {
        reporter.set_service_status(name, status).await;
    }
}

/// Requests tonic cannot read, answered as the caller's fault.
///
/// tonic answers a request body it cannot decode (a broken protobuf, a truncated frame,
/// a bad compressed-flag) with INTERNAL, as gRPC's status-code table has it for parse
/// errors, and one above the size limit with OUT_OF_RANGE. To the caller and to
/// whoever watches the error rates those read as a fault of ours and as something to
/// retry; the request was the caller's, malformed, and retrying it cannot help. So they
/// become INVALID_ARGUMENT and RESOURCE_EXHAUSTED (issue 20's malformed flood). Only
/// tonic's own request-reading statuses are rewritten, recognised by their messages:
/// the handlers' INTERNAL stays INTERNAL.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestErrorsLayer;

impl<S> tower::Layer<S> for RequestErrorsLayer {
    type Service = RequestErrors<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestErrors(inner)
    }
}

/// A service whose unreadable requests are answered as the caller's fault.
#[derive(Debug, Clone)]
pub struct RequestErrors<S>(S);

/// What tonic says when it cannot read a request (tonic 0.14's codec and tonic-prost).
const UNREADABLE: [&str; 5] = [
    "failed to decode Protobuf message",
    "protocol error:",
    "Unexpected EOF decoding stream",
    "Error decompressing",
    // A body that ends inside the first frame's header: no message at all.
    "Missing request message",
];
const TOO_LARGE: &str = "Error, decoded message length too large";

/// The caller's-fault status for tonic's `status`, if it is one of its request-reading
/// statuses.
fn callers_fault(status: &tonic::Status) -> Option<tonic::Status> {
    let message = status.message();
    match status.code() {
        tonic::Code::Internal if UNREADABLE.iter().any(|m| message.starts_with(m)) => Some(
            tonic::Status::invalid_argument(format!("richiesta illeggibile ({message})")),
        ),
        tonic::Code::OutOfRange if message.starts_with(TOO_LARGE) => Some(
            tonic::Status::resource_exhausted(format!("richiesta troppo grande ({message})")),
        ),
        _ => None,
    }
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for RequestErrors<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let call = self.0.call(request);
        Box::pin(async move {
            let response = call.await?;
            // A request tonic could not read is answered before any handler ran, with
            // its status in the headers (trailers-only).
            Ok(
                match tonic::Status::from_header_map(response.headers())
                    .as_ref()
                    .and_then(callers_fault)
                {
                    Some(status) => status.into_http(),
                    None => response,
                },
            )
        })
    }
}

#[cfg(test)]
mod request_errors_tests {
    use super::*;

    #[test]
    fn only_tonics_request_reading_statuses_become_the_callers_fault() {
        let decode =
            tonic::Status::internal("failed to decode Protobuf message: invalid wire type");
        assert_eq!(
            callers_fault(&decode).map(|s| s.code()),
            Some(tonic::Code::InvalidArgument)
        );
        let large = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes",
        );
        assert_eq!(
            callers_fault(&large).map(|s| s.code()),
            Some(tonic::Code::ResourceExhausted)
        );
        let ours = tonic::Status::internal("errore interno (internal error)");
        assert!(callers_fault(&ours).is_none());
        let range = tonic::Status::out_of_range("page beyond the last");
        assert!(callers_fault(&range).is_none());
    }
}
