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
