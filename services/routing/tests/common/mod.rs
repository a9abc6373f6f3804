//! Routing started in-process for its tests, and clients that carry a call context.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use sportello_kit::{
    CallContext,
    testing::{TestContext, TestService},
};
use tonic::transport::Channel;

pub async fn context() -> TestContext {
    TestContext::new(&[&sportello_routing::SPEC]).await
}

pub async fn start(ctx: &TestContext) -> TestService {
    TestService::start(
        &sportello_routing::SPEC,
        ctx.config.clone(),
        sportello_routing::start,
    )
    .await
}

/// A department system acting for an operator of La Spezia.
pub fn call(purpose: &str) -> CallContext {
    CallContext::new("tests", "operator:op-1", "011015", purpose).unwrap()
}

pub fn request<T>(message: T) -> tonic::Request<T> {
    call("tests").request(message)
}

pub async fn channel(service: &TestService) -> Channel {
    service.channel().await
}
