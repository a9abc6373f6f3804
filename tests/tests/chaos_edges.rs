//! Two of the fault-injection suite's runs (issue 20, point 1) against the in-process
//! stack: a TCP fault proxy between the gateway and routing under load — latency,
//! resets, a black hole — where no call may outlive its deadline by more than 50 ms and
//! retries may add at most 10 % to what routing receives; and a flood of malformed and
//! oversized gRPC requests and HTTP bodies, which must draw no panic and no INTERNAL,
//! UNKNOWN or 5xx. The flood runs in the ordinary suite; the proxy's run, which times
//! answers against a deadline, runs alone in `make chaos-short` (a phase of `make test`)
//! rather than beside the whole parallel suite, whose load would be measured instead of
//! the line. `CHAOS=full` (`make chaos`) runs the long versions: 100,000 malformed
//! requests instead of 2,000, 30 s of each fault instead of 10.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, time::Duration};

use sportello_gateway::config::WebConfig;
use sportello_tests::{
    chaos::{
        malformed::{self, Targets},
        proxy::{self, Fault, FaultProxy},
    },
    http::Api,
    stack::Stack,
};

fn full() -> bool {
    std::env::var("CHAOS").is_ok_and(|v| v == "full")
}

/// The gateway's deadline for routing in the proxy run (its `GRPC_TIMEOUT_ROUTING`).
const ROUTING_DEADLINE: Duration = Duration::from_secs(1);

/// The status of one GET, or why there was none, as the label of the answer.
async fn status_of(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return "connect failed".to_owned();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return "send failed".to_owned();
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .nth(1)
        .map_or_else(|| "no status".to_owned(), |s| format!("http {s}"))
}

/// Calls from the gateway that reached routing's gate, from routing's `/metrics`.
async fn routing_arrivals(metrics: SocketAddr) -> u64 {
    let (status, text) = sportello_tests::http::get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    proxy::requests_counted(&text, "routing", "svc/gateway")
}

// Several threads: the callers' clocks must not wait behind the whole stack's work on
// one thread, or the measure would be of the test's scheduling, not of the deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "timed against a deadline: make chaos-short (inside make test) runs it alone, make chaos the long one"]
async fn calls_through_a_faulty_line_end_by_their_deadline_and_retries_stay_in_budget() {
    let mut proxied = None;
    let stack = Box::pin(Stack::start_tuned(WebConfig::default(), |gateway| {
        let routing = gateway
            .peers
            .iter_mut()
            .find(|p| p.name == "routing")
            .expect("the gateway calls routing");
        let (proxy, url) = FaultProxy::for_url(&routing.url).expect("start the proxy");
        routing.url = url;
        proxied = Some(proxy);
        gateway
            .service
            .grpc_timeouts
            .insert("routing".to_owned(), ROUTING_DEADLINE);
    }))
    .await;
    let proxy = proxied.expect("the proxy started");
    let http = stack
        .gateway
        .running
        .http_addr
        .expect("the gateway serves HTTP");
    let metrics = stack.service("routing").running.metrics_addr;

    // Each public GET /api/v1/sites is one ListSites call from the gateway to routing.
    let call = move || async move { status_of(http, "/api/v1/sites").await };
    assert_eq!(call().await, "http 200", "the line works before any fault");

    let seconds = if full() { 30 } else { 10 };
    let mut failed = Vec::new();
    for fault in [
        Fault::None,
        Fault::Latency(Duration::from_millis(300)),
        Fault::Reset,
        Fault::BlackHole,
    ] {
        let run = proxy::drive(
            &proxy,
            fault,
            Duration::from_secs(if fault == Fault::None { 2 } else { seconds }),
            ROUTING_DEADLINE,
            8,
            call,
            || routing_arrivals(metrics),
        )
        .await;
        println!("{}", run.line(ROUTING_DEADLINE));
        if !run.holds() {
            failed.push(run.line(ROUTING_DEADLINE));
        }
        // A moment for the line to recover before the next fault.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (accepted, reset, bytes) = proxy.counts();
    println!("chaos proxy totals: connections {accepted}, reset {reset}, bytes {bytes}");
    assert!(failed.is_empty(), "runs that broke the rules: {failed:#?}");
    // And the line heals: the same call answers again.
    let mut healed = String::new();
    for _ in 0..50 {
        healed = call().await;
        if healed == "http 200" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(healed, "http 200", "the line heals after the faults");
}

#[tokio::test]
async fn malformed_and_oversized_requests_draw_only_refusals_and_no_panic() {
    let stack = Stack::start().await;
    // The demo's accounts and sites, so signed-in bodies reach the handlers.
    sportello_gateway::demo::seed(
        stack.gateway.running.db(),
        stack.service("routing").channel().await,
        sportello_gateway::config::DEMO_MUNICIPALITY,
        sportello_tests::http::DEMO_PASSWORD,
    )
    .await
    .expect("demo seeded");
    let http = stack
        .gateway
        .running
        .http_addr
        .expect("the gateway serves HTTP");
    let admin = Api { addr: http }.sign_in("admin").await;
    let mut grpc = Vec::new();
    for (name, service) in stack.all() {
        grpc.push((name.to_owned(), service.channel().await));
    }
    let targets = Targets {
        grpc,
        http: Some(http),
        http_user: Some(admin),
    };
    let requests = if full() { 100_000 } else { 2_000 };
    let report = malformed::flood(&targets, requests, 20).await;
    println!("{}", report.line());
    assert!(
        report.holds(),
        "{}\nforbidden answers (first of them): {:#?}\nby kind: {:#?}",
        report.line(),
        report.forbidden,
        report.by_kind
    );
    // Every service is still there and serving.
    for (name, service) in stack.all() {
        let reply = tonic_health::pb::health_client::HealthClient::new(service.channel().await)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} is gone after the flood: {e}"));
        assert_eq!(
            reply.into_inner().status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{name}"
        );
    }
}
