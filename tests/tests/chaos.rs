//! The fault-injection suite (issue 20 point 1): the real binaries under a mixed load, one
//! kind of fault per run, the oracle after each. `CHAOS=short` (inside `make test`, as its
//! own phase) runs one fault of each kind; otherwise the full runs (`make chaos`). Ignored
//! in the ordinary run: it owns its own PostgreSQL and NATS and would compete with the
//! parallel suite; the make targets run it with `--run-ignored only`. After the faults, in
//! the full run, a TCP fault proxy between the gateway and routing (latency, resets, a
//! black hole) and the malformed flood (`CHAOS_ONLY=proxy` or `malformed` runs one alone).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use sportello_kit::{PeerChannel, TlsIdentity};

use sportello_tests::{
    chaos::{
        client,
        faults::{self, Fault, Plan},
        load::{self, Load, Rate},
        malformed::{self, Targets},
        proxy::{self, FaultProxy},
        stack::{SERVICES, Stack},
    },
    http::Api,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the fault-injection suite: make chaos, or make chaos-short (inside make test)"]
async fn every_fault_loses_nothing_and_applies_nothing_twice() {
    let short = std::env::var("CHAOS").is_ok_and(|v| v == "short");
    let plan = if short { Plan::short() } else { Plan::full() };
    let started = Instant::now();
    // The short version shortens every consumer's ack wait (test builds only, see
    // sportello_kit::inbox::fault), so the paused consumer outlives it in seconds.
    let extra: &[(&str, &str)] = if short {
        &[("SPORTELLO_TEST_ACK_WAIT_MS", "5000")]
    } else {
        &[]
    };
    let mut stack = Stack::start(extra).await.unwrap();
    eprintln!(
        "chaos: stack started and seeded in {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        stack.dir().display()
    );
    let people = load::people(&stack.endpoints.database_url).await.unwrap();
    let load = Load::new(
        stack.endpoints.clone(),
        people,
        Rate {
            // A queue has 999 ticket numbers a day: the full run's half hour must not use
            // them up (one every 150 ms did, and the kiosk rightly answered 429).
            ticket_every: Duration::from_millis(if short { 300 } else { 600 }),
            budget: Duration::from_secs(60),
        },
    );
    // Calendars, booking rules and a business for the appointment and SUAP journeys, set
    // through the gateway as an administrator and the business desk would.
    load.prepare().await.unwrap();
    let runs = [
        Fault::KillEach,
        Fault::NatsDown,
        Fault::PostgresDown,
        Fault::PausedConsumer,
        Fault::RollingRestart,
    ];
    let mut failures = Vec::new();
    // CHAOS_ONLY=kill-9,nats-down runs those alone (to look into one finding).
    let only = std::env::var("CHAOS_ONLY").unwrap_or_default();
    for fault in runs {
        if !only.is_empty() && !only.split(',').any(|n| n == fault.name()) {
            continue;
        }
        let report = faults::run(&mut stack, &load, fault, &plan).await.unwrap();
        println!("{}", report.line());
        eprintln!("{}", report.line());
        if !report.clean() {
            eprint!("{}", report.explain());
            failures.push(format!("{}\n{}", report.line(), report.explain()));
        }
    }
    // The fault proxy between the gateway and routing, on the real binaries: in the full
    // run, or alone with CHAOS_ONLY=proxy (10 s per fault in the short version). The short
    // run inside make test keeps chaos_edges.rs's in-process one: on this two-core machine
    // under concurrent builds, the real binaries' black hole answered up to 1.7 s against
    // a 1-s deadline (503s and 429s as well as 504s), which is still to be told apart from
    // the machine's own delays (the unfaulted line's slowest answer was 200 ms).
    let proxy_asked = only.split(',').any(|n| n == "proxy");
    if (!short && only.is_empty()) || proxy_asked {
        let seconds = if short { 10 } else { 30 };
        for (line, holds) in proxy_real_binaries(&mut stack, seconds).await {
            println!("{line}");
            eprintln!("{line}");
            if !holds {
                failures.push(line);
            }
        }
    }
    // The malformed flood on the real binaries: the full run's 100,000 requests (the
    // ordinary suite floods the in-process stack with 2,000; CHAOS_ONLY=malformed runs
    // it alone, 2,000 in the short version).
    let flood_asked = only.split(',').any(|n| n == "malformed");
    if (!short && only.is_empty()) || flood_asked {
        let requests = if short { 2_000 } else { 100_000 };
        let line = flood_real_binaries(&mut stack, requests).await;
        println!("{line}");
        eprintln!("{line}");
        if !line.ends_with("holds") {
            failures.push(line);
        }
    }
    eprintln!("chaos: {:.1}s in all", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "runs with findings:\n{}",
        failures.join("\n")
    );
}

/// Floods every service's public RPCs and the gateway's routes with `requests` malformed
/// or oversized requests; then no service may have panicked or exited.
async fn flood_real_binaries(stack: &mut Stack, requests: usize) -> String {
    // As the gateway, the caller every department service lets through its allow-list,
    // so the requests reach the decoding and the parse rather than stop at the gate (as
    // the command-line tool's mostly do).
    let pem = |file: &str| {
        let dir = stack
            .endpoints
            .tls_dir
            .parent()
            .unwrap()
            .join("svc-gateway");
        std::fs::read_to_string(dir.join(file)).unwrap()
    };
    let gateway = TlsIdentity::from_pem(&pem("cert.pem"), &pem("key.pem"), &pem("ca.pem")).unwrap();
    let mut grpc = Vec::new();
    for service in SERVICES {
        if service == "gateway" {
            continue;
        }
        let url = &stack.endpoints.grpc[service];
        let channel = PeerChannel::lazy(&gateway, service, url, Duration::from_secs(10)).unwrap();
        grpc.push((service.to_owned(), channel));
    }
    let admin = Api {
        addr: stack.endpoints.http,
    }
    .sign_in("admin")
    .await;
    let targets = Targets {
        grpc,
        http: Some(stack.endpoints.http),
        http_user: Some(admin),
    };
    let report = malformed::flood(&targets, requests, 20).await;
    let panics = stack.panics();
    let exited: Vec<String> = SERVICES
        .iter()
        .filter_map(|service| stack.exited(service))
        .collect();
    let verdict = if report.holds() && panics.is_empty() && exited.is_empty() {
        "holds".to_owned()
    } else {
        format!(
            "BROKEN: panics {panics:?}, exited {exited:?}, forbidden answers {:#?}",
            report.forbidden
        )
    };
    format!("{} (real binaries) — {verdict}", report.line())
}

/// The gateway's deadline for routing in the proxy run (its `GRPC_TIMEOUT_ROUTING`).
const ROUTING_DEADLINE: Duration = Duration::from_secs(1);

/// One public `GET /api/v1/sites` (one ListSites call from the gateway to routing), as the
/// label of its answer.
async fn sites(http: SocketAddr) -> String {
    match client::once(http, "GET", "/api/v1/sites", None, None).await {
        Ok(reply) => format!("http {}", reply.status),
        Err(error) => format!("no answer ({error})"),
    }
}

/// Calls from the gateway that reached routing's gate, from routing's `/metrics`.
async fn routing_arrivals(metrics: SocketAddr) -> u64 {
    let (status, text) = sportello_tests::http::get(metrics, "/metrics").await;
    assert_eq!(status, 200, "routing's /metrics");
    proxy::requests_counted(&text, "routing", "svc/gateway")
}

/// Restarts the gateway (SIGTERM, then its environment as set now) and waits until its
/// API answers.
async fn restart_gateway(stack: &mut Stack) {
    let (took, code) = stack.terminate("gateway").await.unwrap();
    assert_eq!(code, Some(0), "the gateway drains in {took:?}");
    stack.start_service("gateway").unwrap();
    stack
        .endpoints
        .wait_serving("gateway", Duration::from_secs(60))
        .await
        .expect("the gateway serves again");
    let http = stack.endpoints.http;
    for _ in 0..100 {
        if sites(http).await == "http 200" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway's API does not answer after its restart");
}

/// The TCP fault proxy between the real gateway and the real routing: the gateway
/// restarted with `ROUTING_URL` through the proxy and a 1-s deadline for routing, then
/// latency, resets and a black hole for `seconds` each under eight callers — no call may
/// outlive its deadline by more than 50 ms, and routing may receive at most 10 % more calls
/// than the callers made. The gateway goes back to routing directly at the end.
async fn proxy_real_binaries(stack: &mut Stack, seconds: u64) -> Vec<(String, bool)> {
    let direct = stack.endpoints.grpc["routing"].clone();
    let (line, url) = FaultProxy::for_url(&direct).unwrap();
    stack.set_env("gateway", "ROUTING_URL", &url);
    stack.set_env(
        "gateway",
        "GRPC_TIMEOUT_ROUTING",
        &format!("{}ms", ROUTING_DEADLINE.as_millis()),
    );
    restart_gateway(stack).await;
    let http = stack.endpoints.http;
    let metrics = stack.endpoints.metrics["routing"];
    let mut lines = Vec::new();
    for fault in [
        proxy::Fault::None,
        proxy::Fault::Latency(Duration::from_millis(300)),
        proxy::Fault::Reset,
        proxy::Fault::BlackHole,
    ] {
        let run = proxy::drive(
            &line,
            fault,
            Duration::from_secs(if fault == proxy::Fault::None {
                2
            } else {
                seconds
            }),
            ROUTING_DEADLINE,
            8,
            move || sites(http),
            || routing_arrivals(metrics),
        )
        .await;
        lines.push((
            format!("{} (real binaries)", run.line(ROUTING_DEADLINE)),
            run.holds(),
        ));
        // A moment for the line to recover before the next fault.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (accepted, reset, bytes) = line.counts();
    lines.push((
        format!(
            "chaos proxy totals (real binaries): connections {accepted}, reset {reset}, bytes {bytes}"
        ),
        true,
    ));
    stack.clear_env("gateway", "ROUTING_URL");
    stack.clear_env("gateway", "GRPC_TIMEOUT_ROUTING");
    restart_gateway(stack).await;
    lines
}
