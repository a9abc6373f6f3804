//! The client side: a channel to a Sportello service that speaks only mutual TLS, signs
//! the end user of each call into a token for that service, and gives every call a
//! deadline.
//!
//! Call sites do not change: they build a request with
//! [`CallContext::request`](crate::CallContext::request), which puts the context in the
//! request's extensions; this channel turns it into what travels:
//!
//! - a person acting (a context with roles, or an `operator:`/`citizen:` actor) →
//!   `authorization: Bearer <token>` signed for the called service ([`super::token`]);
//! - the service acting as itself (a `system:` actor) → the municipality and purpose
//!   headers, with the job's name as actor — the server believes them of no one but the
//!   certified caller;
//! - the deadline: the context's remaining budget, capped by this channel's timeout for
//!   the kind of call, as `grpc-timeout`, and enforced here too, so a hung peer costs no
//!   more than the deadline.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tonic::{Status, body::Body, transport::Endpoint};

use super::{
    TlsIdentity,
    token::{Assertion, Signer},
};
use crate::context::{self, CallContext};

/// How much later than the caller the called server abandons a call.
const SERVER_MARGIN: Duration = Duration::from_millis(20);

/// Why a channel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The URL is not `https://host:port`.
    #[error("{0} is not an https:// URL: peers speak only mutual TLS")]
    NotHttps(String),
    /// The URL or TLS configuration was refused.
    #[error("cannot reach {url}: {reason}")]
    Invalid {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting failed (eager connections only).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A channel to one Sportello service.
#[derive(Clone)]
pub struct PeerChannel {
    inner: tonic::transport::Channel,
    signer: Signer,
    audience: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for PeerChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerChannel")
            .field("audience", &self.audience)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn endpoint(identity: &TlsIdentity, service: &str, url: &str) -> Result<Endpoint, ChannelError> {
    if !url.starts_with("https://") {
        return Err(ChannelError::NotHttps(url.to_owned()));
    }
    let invalid = |reason: String| ChannelError::Invalid {
        url: url.to_owned(),
        reason,
    };
    Endpoint::from_shared(url.to_owned())
        .map_err(|e| invalid(e.to_string()))?
        .tls_config(identity.client_config(service))
        .map_err(|e| invalid(e.to_string()))
        .map(|e| {
            e.connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true)
        })
}

impl PeerChannel {
    /// A channel to the service called `service` at `url` (`https://host:port`), as
    /// `identity`, connecting on first use; each call gets at most `timeout`.
    pub fn lazy(
        identity: &TlsIdentity,
        service: &str,
        url: &str,
        timeout: Duration,
    ) -> Result<Self, ChannelError> {
        let inner = endpoint(identity, service, url)?.connect_lazy();
        Ok(Self::wrap(identity, service, inner, timeout))
    }

    /// The same, connected now.
    pub async fn connect(
        identity: &TlsIdentity,
        service: &str,
        url: &str,
        timeout: Duration,
    ) -> Result<Self, ChannelError> {
        let inner = endpoint(identity, service, url)?
            .connect()
            .await
            .map_err(|e| ChannelError::Connect {
                url: url.to_owned(),
                reason: crate::error::ErrorChain(&e).to_string(),
            })?;
        Ok(Self::wrap(identity, service, inner, timeout))
    }

    fn wrap(
        identity: &TlsIdentity,
        service: &str,
        inner: tonic::transport::Channel,
        timeout: Duration,
    ) -> Self {
        Self {
            inner,
            signer: Signer::new(identity.clone()),
            audience: service.into(),
            timeout,
        }
    }

    /// The called service's name.
    pub fn service(&self) -> &str {
        &self.audience
    }

    /// Writes `context` into `request` as it travels; returns the call's budget.
    fn prepare(&self, request: &mut Request<Body>) -> Result<Duration, Status> {
        let Some(context) = request.extensions().get::<CallContext>().cloned() else {
            // No context: health checks and reflection.
            return Ok(self.timeout);
        };
        let budget = context
            .remaining()
            .map_or(self.timeout, |left| left.min(self.timeout));
        if budget.is_zero() {
            return Err(Status::deadline_exceeded(
                "scadenza della chiamata già passata (the call's deadline has passed)",
            ));
        }
        let headers = request.headers_mut();
        // The server gives up a moment after we do: this side then reports the deadline
        // as DEADLINE_EXCEEDED (tonic's server reports its own expiry as CANCELLED).
        let server_budget = budget + SERVER_MARGIN;
        if let Ok(value) = HeaderValue::from_str(&context::grpc_timeout(server_budget)) {
            headers.insert("grpc-timeout", value);
        }
        if context.asserts_person() {
            let token = self
                .signer
                .sign(
                    &self.audience,
                    &Assertion {
                        subject: context.actor(),
                        municipality: context.municipality().as_str(),
                        purpose: context.purpose(),
                        roles: context.roles(),
                        department: context.department(),
                        on_behalf_of: context.asserter(),
                    },
                )
                .map_err(|e| Status::internal(e.to_string()))?;
            let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| Status::internal(e.to_string()))?;
            headers.insert(http::header::AUTHORIZATION, bearer);
        } else {
            context.write_service_headers(headers);
        }
        Ok(budget)
    }
}

impl tower::Service<Request<Body>> for PeerChannel {
    type Response = Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let budget = match self.prepare(&mut request) {
            Ok(budget) => budget,
            Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
        };
        let call = tower::Service::call(&mut self.inner, request);
        let service = self.audience.clone();
        Box::pin(async move {
            match tokio::time::timeout(budget, call).await {
                Ok(result) => result,
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "{service} non ha risposto entro {} ms ({service} did not answer within the deadline)",
                    budget.as_millis()
                ))
                .into_http()),
            }
        })
    }
}
