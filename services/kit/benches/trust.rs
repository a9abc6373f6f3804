//! What trust between services costs, in one process:
//!
//! 1. **Verifying an end-user assertion** — `Verifier::verify` of a fresh token (EdDSA
//!    signature with the caller's certificate key, audience, life, issuer, binding, and the
//!    replay cache), one thread, 20,000 tokens. Target: p99 ≤ 100 µs.
//! 2. **A loopback gRPC call with and without mutual TLS** — the same unary handler
//!    (`FeedbackService/SubmitFeedback`, answering at once) behind two servers on
//!    127.0.0.1: a plaintext tonic server with nothing in front (the baseline, which only
//!    this benchmark builds), and the kit's server path — TLS with client certificates,
//!    the gate (the peer's identity, the allow-list), and a signed person on every call
//!    (signed by the client's channel, verified by the gate). 5,000 sequential calls each
//!    over one warmed connection, after 500 warm-up calls; the difference is the
//!    per-call overhead (the handshake happens once per connection and is not in it).
//!
//! `cargo bench -p sportello-kit --bench trust` (or `make bench`); no database needed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sportello_kit::{
    CallContext, PeerChannel, Role,
    testing::pki,
    trust::{
        Caller, Gate, GateLayer, Policy, Rule,
        token::{Assertion, Signer, Verifier},
    },
};
use sportello_proto::urp::v1::{
    GetRateableCaseRequest, GetRateableCaseResponse, GetSatisfactionReportRequest,
    GetSatisfactionReportResponse, SubmitFeedbackRequest, SubmitFeedbackResponse,
    feedback_service_client::FeedbackServiceClient,
    feedback_service_server::{FeedbackService, FeedbackServiceServer},
};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

static POLICY: Policy = Policy {
    rules: &[Rule {
        rpc: "sportello.urp.v1.FeedbackService/*",
        callers: &[Caller::Service("gateway")],
    }],
    persons: &[Caller::Service("gateway")],
};

struct Answer;

#[tonic::async_trait]
impl FeedbackService for Answer {
    async fn submit_feedback(
        &self,
        request: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        // The kit's path must have established who is acting; the baseline has none.
        let _ = request.extensions().get::<CallContext>();
        Ok(Response::new(SubmitFeedbackResponse::default()))
    }

    // The bench measures one call's path; URP's other calls are not part of it.
    async fn get_rateable_case(
        &self,
        _: Request<GetRateableCaseRequest>,
    ) -> Result<Response<GetRateableCaseResponse>, Status> {
        Err(Status::unimplemented("not measured"))
    }

    async fn get_satisfaction_report(
        &self,
        _: Request<GetSatisfactionReportRequest>,
    ) -> Result<Response<GetSatisfactionReportResponse>, Status> {
        Err(Status::unimplemented("not measured"))
    }
}

fn report(name: &str, histogram: &Histogram<u64>) {
    println!(
        "{name:<44} p50 {:>7.1} µs   p99 {:>7.1} µs   max {:>8.1} µs   ({} samples)",
        histogram.value_at_quantile(0.50) as f64 / 1_000.0,
        histogram.value_at_quantile(0.99) as f64 / 1_000.0,
        histogram.max() as f64 / 1_000.0,
        histogram.len()
    );
}

fn verification() -> Histogram<u64> {
    let gateway = pki::identity("svc/gateway");
    let signer = Signer::new(gateway.clone());
    let verifier = Verifier::new("routing");
    let assertion = Assertion {
        subject: "operator:m.rossi",
        municipality: "011015",
        purpose: "case.serve",
        roles: &[Role::Polivalente],
        department: None,
        on_behalf_of: None,
    };
    let tokens: Vec<String> = (0..20_000)
        .map(|_| signer.sign("routing", &assertion).unwrap())
        .collect();
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for token in &tokens {
        let started = Instant::now();
        verifier.verify(token, gateway.cert()).unwrap();
        histogram
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
    }
    histogram
}

async fn calls(channel: PeerChannelOrPlain, person: bool) -> Histogram<u64> {
    let context = CallContext::new("gateway", "operator:m.rossi", "011015", "feedback.record")
        .unwrap()
        .with_roles(&[Role::Polivalente]);
    let request = || {
        if person {
            context.request(SubmitFeedbackRequest::default())
        } else {
            Request::new(SubmitFeedbackRequest::default())
        }
    };
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    match channel {
        PeerChannelOrPlain::Kit(channel) => {
            let mut client = FeedbackServiceClient::new(channel);
            for i in 0..5_500 {
                let started = Instant::now();
                client.submit_feedback(request()).await.unwrap();
                if i >= 500 {
                    histogram
                        .record(started.elapsed().as_nanos() as u64)
                        .unwrap();
                }
            }
        }
        PeerChannelOrPlain::Plain(channel) => {
            let mut client = FeedbackServiceClient::new(channel);
            for i in 0..5_500 {
                let started = Instant::now();
                client.submit_feedback(request()).await.unwrap();
                if i >= 500 {
                    histogram
                        .record(started.elapsed().as_nanos() as u64)
                        .unwrap();
                }
            }
        }
    }
    histogram
}

enum PeerChannelOrPlain {
    Kit(PeerChannel),
    Plain(tonic::transport::Channel),
}

#[tokio::main]
async fn main() {
    println!(
        "trust between services: {} build, {} threads of Tokio\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        tokio::runtime::Handle::current().metrics().num_workers()
    );
    report("token verification (EdDSA, one thread)", &verification());

    // The baseline: plaintext, nothing in front of the handler.
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(FeedbackServiceServer::new(Answer))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(plain)),
    );
    // The kit's path: mutual TLS, the gate, a signed person per call.
    let routing = pki::identity("svc/routing");
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure_addr = secure.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(routing.server_config())
            .unwrap()
            .layer(GateLayer(Gate::new("routing", &POLICY)))
            .add_service(FeedbackServiceServer::new(Answer))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(secure)),
    );

    let plain_channel = tonic::transport::Endpoint::from_shared(format!("http://{plain_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let baseline = calls(PeerChannelOrPlain::Plain(plain_channel), false).await;
    let secure_channel = PeerChannel::connect(
        &pki::identity("svc/gateway"),
        "routing",
        &format!("https://{secure_addr}"),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let trusted = calls(PeerChannelOrPlain::Kit(secure_channel), true).await;
    report("loopback call, plaintext (baseline)", &baseline);
    report("loopback call, mTLS + gate + signed person", &trusted);
    println!(
        "\noverhead per call: p50 +{:.1} µs, p99 +{:.1} µs",
        (trusted.value_at_quantile(0.50) as f64 - baseline.value_at_quantile(0.50) as f64)
            / 1_000.0,
        (trusted.value_at_quantile(0.99) as f64 - baseline.value_at_quantile(0.99) as f64)
            / 1_000.0
    );
}
