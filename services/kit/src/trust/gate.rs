//! The server side: every call passes this gate before any handler runs.
//!
//! 1. **Who is calling** is the identity in the client certificate the TLS handshake
//!    verified against the deployment's CA — never a header.
//! 2. **May it call this RPC**: the service's [`Policy`]; refused with
//!    `PERMISSION_DENIED` naming the caller and the RPC.
//! 3. **For whom**: a signed end-user assertion, if any, is verified against that same
//!    certificate ([`Verifier`]); a forged, expired, replayed, `alg: none` or misaddressed
//!    one is refused with `UNAUTHENTICATED`, and only callers the policy lets act for
//!    persons may send one. Without it the caller acts as itself: the municipality and
//!    purpose headers are its own claims, and a header naming a person is refused.
//! 4. The resulting [`CallContext`] (with the caller's deadline) goes into the request's
//!    extensions, where [`require_call_context`](crate::require_call_context) and the
//!    handlers find it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use http::{Request, Response};
use tonic::{Status, body::Body};

use super::{
    policy::{self, Policy},
    tls::PeerCert,
    token::Verifier,
};
use crate::context::{self, CallContext};

/// The gate of one service.
#[derive(Debug, Clone)]
pub struct Gate {
    state: Arc<GateState>,
}

#[derive(Debug)]
struct GateState {
    /// The service behind the gate, as its request counter names it.
    service: String,
    policy: &'static Policy,
    verifier: Verifier,
    /// Certificates already read, by their DER (a connection presents the same one on
    /// every call).
    peers: Mutex<HashMap<Vec<u8>, Arc<PeerCert>>>,
}

impl Gate {
    /// The gate of the service called `service`, enforcing `policy`.
    pub fn new(service: &str, policy: &'static Policy) -> Self {
        Self {
            state: Arc::new(GateState {
                service: service.to_owned(),
                policy,
                verifier: Verifier::new(service),
                peers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Admits `request` (its context into its extensions) or says why not.
    pub fn admit(&self, request: &mut Request<Body>) -> Result<(), Status> {
        let peer = self.peer_of(request)?;
        // Every call that reaches the service, by certified caller (a bounded set: the
        // deployment's identities), whatever becomes of it: what callers' retries cost
        // the callee is read here (issue 20's fault proxy run).
        metrics::counter!(
            "sportello_grpc_requests_total",
            "service" => self.state.service.clone(),
            "caller" => peer.id.to_string(),
        )
        .increment(1);
        let path = request.uri().path();
        if policy::is_open(path) {
            return Ok(());
        }
        if !self.state.policy.allows(&peer.id, path) {
            return Err(Status::permission_denied(format!(
                "{} non può chiamare {path} ({} may not call {path})",
                peer.id, peer.id
            )));
        }
        let headers = request.headers();
        let deadline = context::deadline_from_headers(headers);
        let context = match bearer(headers) {
            Some(token) => {
                if !self.state.policy.may_act_for_persons(&peer.id) {
                    return Err(Status::permission_denied(format!(
                        "{} non può agire per conto di persone qui ({} may not act for persons here)",
                        peer.id, peer.id
                    )));
                }
                let claims = self
                    .state
                    .verifier
                    .verify(token, &peer)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?;
                Some(CallContext::asserted(&peer.id, claims, deadline)?)
            }
            None => CallContext::from_service_headers(&peer.id, headers, deadline)?,
        };
        if let Some(context) = context {
            request.extensions_mut().insert(context);
        }
        Ok(())
    }

    fn peer_of(&self, request: &Request<Body>) -> Result<Arc<PeerCert>, Status> {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let der = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.peer_certs())
            .and_then(|certs| certs.first().map(|c| c.to_vec()))
            .ok_or_else(|| {
                Status::unauthenticated("nessun certificato client (no client certificate)")
            })?;
        let mut peers = self
            .state
            .peers
            .lock()
            .map_err(|_| Status::internal("peer cache poisoned"))?;
        if let Some(peer) = peers.get(&der) {
            return Ok(peer.clone());
        }
        let peer =
            Arc::new(PeerCert::from_der(&der).map_err(|e| Status::unauthenticated(e.to_string()))?);
        if peers.len() >= 1_024 {
            peers.clear();
        }
        peers.insert(der, peer.clone());
        Ok(peer)
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The gate as a tower layer, around a service's whole router.
#[derive(Debug, Clone)]
pub struct GateLayer(pub Gate);

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            gate: self.0.clone(),
            inner,
        }
    }
}

/// A service behind the gate.
#[derive(Debug, Clone)]
pub struct GateService<S> {
    gate: Gate,
    inner: S,
}

impl<S> tower::Service<Request<Body>> for GateService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        match self.gate.admit(&mut request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => {
                tracing::warn!(code = ?status.code(), reason = status.message(), "call refused at the gate");
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
