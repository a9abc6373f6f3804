//! End to end, against the real PostgreSQL and NATS of a local stack (durable settings:
//! fsync on, `synchronous_commit` on, JetStream `sync_interval: always`), the real
//! `sportello-routing` binary (release build) as its own process, every call over mutual
//! TLS with a signed end-user token, as the gateway makes them:
//!
//! 1. the raw ceilings from a Rust client, in the same run — PostgreSQL single-row
//!    commits per second with 8 connections; JetStream acknowledged publishes per second
//!    with 256 in flight on one stream; the same as atomic batches of 256 (how the
//!    outbox relay publishes);
//! 2. **the counter flow, open loop**: cases opened through `OpenCase` at a fixed offered
//!    rate — each at its intended instant, whatever the system's state, none skipped, no
//!    limit on requests in flight — and claimed by 64 operators at the same rate: each
//!    operator takes the next call when the counter's pace allows (a shared schedule of
//!    the offered rate; calls not made on time are made as soon as an operator is free,
//!    so a slow system is seen as a growing queue, not hidden), with the counter's
//!    "complete and call next" (`CompleteAndCallNext`: the held case completed and the
//!    next claimed in one transaction; `CallNext` when holding nothing). Before each step
//!    the queues are filled to `BENCH_BACKLOG` waiting cases each (default 100), so every
//!    call chooses among a steady backlog of at least 50 per queue (the minimum seen is
//!    printed). Rates (`BENCH_RATES`, default 600,800,1000,1200) run `BENCH_SECONDS` each
//!    (default 30) until one is not sustained: fewer than 95 % of the intended claims in
//!    the window, more than one second of arrivals added to the backlog, or any call
//!    refused. For each rate: offered and achieved rates, OpenCase latency and intended
//!    open → claimed latency from the intended instant, the outbox publish delay
//!    (commit to a subscriber receiving `case.opened`), PostgreSQL transactions and WAL
//!    flushes per case, events per case, CPU per case of routing, PostgreSQL, NATS and the
//!    bench itself (from /proc), routing's resident memory, and the fraction of the raw
//!    ceilings the step used. Cases are spread over three services in two queues
//!    (residence and family-status certificates, general information), one in ten a
//!    priority case; operators have no handling time beyond the pace, so this is the
//!    machinery's ceiling, not a day at the counter;
//! 3. **CallNext, open loop** at 300 calls/s (`BENCH_CALL_RATE`) for 20 s on a queue
//!    opened beforehand: every intended call is made; a call whose instant comes while no
//!    operator is free waits for one, and its latency counts from its intended instant
//!    (no coordinated omission). Prints offered and achieved rates, latency from the
//!    intended instant and service time from the send.
//!
//! The operators send no heartbeats, so the binary runs with `HEARTBEAT_TIMEOUT=1d`.
//! Run with `make bench-routing` (it starts the servers). `BENCH_RAW_ONLY` stops after the
//! raw ceilings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use hdrhistogram::Histogram;
use sportello_kit::PeerChannel as GrpcChannel;
use sportello_kit::{CallContext, testing::TestContext};
use sportello_proto::{
    common::v1::{Address, Channel},
    routing::v1::{
        CallNextRequest, CompleteAndCallNextRequest, CompleteRequest, CreateSiteRequest,
        DecisionReason, GetSiteRequest, OpenCaseRequest, Operator, Presence, PriorityCategory,
        SetPresenceRequest, SitAtCounterRequest, Skill, Tier, UpsertOperatorRequest,
        case_service_client::CaseServiceClient, operator_service_client::OperatorServiceClient,
        site_service_client::SiteServiceClient,
    },
};
use tokio::sync::Semaphore;

const OPERATORS: u32 = 64;
const MUNICIPALITY: &str = "011015";
/// What the cases ask for: two queues, three services.
const SERVICES: [&str; 3] = [
    "registry.residence_certificate",
    "registry.family_status_certificate",
    "urp.information",
];

fn env_u64(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn as_operator<T>(id: &str, message: T) -> tonic::Request<T> {
    CallContext::new(
        "bench",
        &format!("operator:{id}"),
        MUNICIPALITY,
        "counter.serve",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::Polivalente])
    .request(message)
}

fn as_system<T>(message: T) -> tonic::Request<T> {
    CallContext::new("bench", "system:bench", MUNICIPALITY, "bench")
        .unwrap()
        .request(message)
}

/// The municipality's administrator, who sets up the site and its operators.
fn as_admin<T>(message: T) -> tonic::Request<T> {
    CallContext::new("bench", "operator:admin", MUNICIPALITY, "bench.setup")
        .unwrap()
        .with_roles(&[sportello_kit::Role::Admin])
        .request(message)
}

fn hist() -> Histogram<u64> {
    Histogram::new(3).unwrap()
}

/// Milliseconds at quantile `q` of a histogram of microseconds.
fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1_000.0
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[tokio::main]
async fn main() {
    let ctx = TestContext::new(&[&sportello_routing::SPEC]).await;
    let prefix = ctx.config.subject_prefix.clone();
    let database_url = ctx.config.database_url.clone();
    let nats = ctx.nats().await;

    let (fsync, synchronous_commit) = durability(&database_url).await;
    println!(
        "e2e: the sportello-routing binary, {} build; PostgreSQL fsync={fsync} synchronous_commit={synchronous_commit}; \
         NATS with sync_interval always; mutual TLS and a signed end-user token on every call; load average {}",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        },
        load_average(),
    );
    println!("== raw ceilings (one client, this machine)");
    let pg = raw_postgres_commits(&database_url, 8, Duration::from_secs(10)).await;
    println!("postgres: {pg:.0} single-row commits/s with 8 connections (fsync on)");
    let js = raw_jetstream_publishes(&nats, &prefix, 256, Duration::from_secs(10)).await;
    println!(
        "jetstream: {js:.0} acknowledged publishes/s with 256 in flight, one stream (300-byte events, sync_interval always)"
    );
    let atomic = raw_atomic_batches(&nats, &prefix, 256, Duration::from_secs(10)).await;
    println!(
        "jetstream: {atomic:.0} events/s as atomic batches of 256, one stream, one batch at a time"
    );
    if std::env::var("BENCH_RAW_ONLY").is_ok() {
        return;
    }

    let routing = RoutingProcess::spawn(&ctx).await;
    // Its relay publishes once it has made its stream.
    let jetstream = async_nats::jetstream::new(nats.clone());
    while jetstream
        .get_stream(prefix.stream("routing"))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let channel = routing.channel().await;
    let site_id = setup(&channel).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
        .unwrap();
    let procs = Procs::find(&pool, &ctx, routing.pid()).await;

    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "600,800,1000,1200".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds = env_u64("BENCH_SECONDS", 30);
    let backlog = env_u64("BENCH_BACKLOG", 100);
    println!(
        "== the counter flow, open loop: offered {rates:?} cases/s, {seconds} s each, {OPERATORS} operators \
         paced at the offered rate, queues filled to {backlog} waiting cases each before a step"
    );
    let mut operators = Operators::new(&channel);
    let mut sustained = None;
    for rate in rates {
        fill_backlog(&channel, &site_id, &pool, backlog).await;
        let waiting_before = waiting(&pool).await;
        let (commits_before, syncs_before) = commits(&database_url).await;
        let events_before = events(&pool).await;
        let cpu_before = procs.cpu();
        let load = load_average();
        let step = counter_flow(
            &channel,
            &site_id,
            &nats,
            &prefix,
            &pool,
            &mut operators,
            rate,
            Duration::from_secs(seconds),
        )
        .await;
        let cpu_after = procs.cpu();
        let (commits_after, syncs_after) = commits(&database_url).await;
        let written = events(&pool).await - events_before;
        let cases = step.opened.max(1) as f64;
        let ok = step.sustained(rate, seconds, waiting_before);
        println!(
            "offered {rate}/s (load average {load}): intended {}, opened {} ({:.0}/s in the window, {} failed), \
             claimed in the window {} ({:.0}/s); waiting {} before, {} at the end, per queue min {} max {} during the window{}",
            step.intended,
            step.opened,
            step.opened_in_window as f64 / seconds as f64,
            step.failed,
            step.claimed_in_window,
            step.claimed_in_window as f64 / seconds as f64,
            waiting_before,
            step.waiting_at_end,
            step.backlog_min,
            step.backlog_max,
            if step.operator_errors == 0 {
                String::new()
            } else {
                format!("; {} operator calls failed", step.operator_errors)
            },
        );
        println!(
            "  OpenCase reply, from its intended instant: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; \
             intended open → claimed: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; outbox publish delay p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
            ms(&step.open_reply, 0.5),
            ms(&step.open_reply, 0.99),
            step.open_reply.max() as f64 / 1_000.0,
            ms(&step.open_to_claim, 0.5),
            ms(&step.open_to_claim, 0.99),
            step.open_to_claim.max() as f64 / 1_000.0,
            ms(&step.publish_delay, 0.5),
            ms(&step.publish_delay, 0.99),
            step.publish_delay.max() as f64 / 1_000.0,
        );
        let elapsed = step.elapsed.as_secs_f64();
        let commits = (commits_after - commits_before) as f64;
        println!(
            "  per case: {:.2} PostgreSQL transactions (reads included), {:.2} WAL flushes, {:.2} events; \
             CPU ms per case: routing {:.2}, PostgreSQL {:.2}, NATS {:.2}, bench {:.2} (cores busy: {:.2} of 2); \
             routing RSS {} MiB (peak {} MiB)",
            commits / cases,
            (syncs_after - syncs_before) as f64 / cases,
            written as f64 / cases,
            cpu_ms(cpu_before.routing, cpu_after.routing) / cases,
            cpu_ms(cpu_before.postgres, cpu_after.postgres) / cases,
            cpu_ms(cpu_before.nats, cpu_after.nats) / cases,
            cpu_ms(cpu_before.bench, cpu_after.bench) / cases,
            (cpu_after.total() - cpu_before.total()) as f64 / procs.ticks_per_second / elapsed,
            procs.rss_mib().0,
            procs.rss_mib().1,
        );
        println!(
            "  of the raw ceilings: PostgreSQL {:.0} commits/s = {:.0} % of {pg:.0}; JetStream {:.0} events/s = {:.0} % of {atomic:.0} (atomic batches), {:.0} % of {js:.0} (one by one); {}",
            commits / elapsed,
            100.0 * commits / elapsed / pg,
            written as f64 / elapsed,
            100.0 * written as f64 / elapsed / atomic,
            100.0 * written as f64 / elapsed / js,
            if ok { "sustained" } else { "NOT sustained" }
        );
        if !ok {
            break;
        }
        sustained = Some(rate);
    }
    match sustained {
        Some(rate) => println!("highest offered rate sustained: {rate} cases/s"),
        None => println!("no offered rate sustained"),
    }
    operators.release().await;

    let call_rate = env_u64("BENCH_CALL_RATE", 300);
    let call_seconds = env_u64("BENCH_CALL_SECONDS", 20);
    println!(
        "== CallNext, open loop: offered {call_rate} calls/s for {call_seconds} s, {OPERATORS} operators"
    );
    let calls = call_next_open_loop(
        &channel,
        &site_id,
        call_rate,
        Duration::from_secs(call_seconds),
    )
    .await;
    println!(
        "intended {} calls, made {}, {} found nothing waiting, {} waited for a free operator; achieved {:.0} calls/s",
        calls.intended, calls.made, calls.nothing, calls.waited_for_operator, calls.achieved
    );
    println!(
        "CallNext from its intended instant: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; service time (from the send): p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        ms(&calls.from_intended, 0.5),
        ms(&calls.from_intended, 0.99),
        calls.from_intended.max() as f64 / 1_000.0,
        ms(&calls.service, 0.5),
        ms(&calls.service, 0.99),
        calls.service.max() as f64 / 1_000.0,
    );
    println!(
        "routing RSS at the end: {} MiB (peak {} MiB)",
        procs.rss_mib().0,
        procs.rss_mib().1
    );
    drop(routing);
}

/// The real `sportello-routing` binary on the bench's database and NATS, as a deployment
/// runs it; killed when dropped.
struct RoutingProcess {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl RoutingProcess {
    async fn spawn(ctx: &TestContext) -> Self {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (grpc, metrics) = (port(), port());
        let config = &ctx.config;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sportello-routing"))
            .env("DATABASE_URL", &config.database_url)
            .env("DATABASE_MAX_CONNECTIONS", "20")
            .env("NATS_URL", ctx.nats_url_for("routing"))
            .env("NATS_SUBJECT_PREFIX", config.subject_prefix.as_str())
            .env("LISTEN_HOST", "127.0.0.1")
            .env("GRPC_PORT", grpc.to_string())
            .env("METRICS_PORT", metrics.to_string())
            .env("LOG_FORMAT", "text")
            .env("CATALOGUE_SEED", MUNICIPALITY)
            // The bench's operators send no heartbeats.
            .env("HEARTBEAT_TIMEOUT", "1d")
            .env(
                "PROTOCOL_NAME_KEYS",
                "k1:0101010101010101010101010101010101010101010101010101010101010101",
            )
            .env(
                "PSEUDONYM_KEY",
                "0202020202020202020202020202020202020202020202020202020202020202",
            )
            .env("RUST_LOG", "warn")
            .envs(sportello_kit::testing::pki::tls_vars("svc/routing"))
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .spawn()
            .expect("start the sportello-routing binary");
        let mut process = Self {
            child,
            addr: ([127, 0, 0, 1], grpc).into(),
        };
        // Serving: a read of the database answers (an unknown site: not found).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("sportello-routing exited while starting: {status}");
            }
            if let Ok(channel) = process.try_channel().await {
                let reply = SiteServiceClient::new(channel)
                    .get_site(as_system(GetSiteRequest {
                        site_id: uuid::Uuid::now_v7().to_string(),
                    }))
                    .await;
                match reply {
                    Ok(_) => return process,
                    Err(status) if status.code() == tonic::Code::NotFound => return process,
                    Err(_) => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "sportello-routing did not serve within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_channel(&self) -> Result<GrpcChannel, sportello_kit::trust::ChannelError> {
        GrpcChannel::connect(
            &sportello_kit::testing::pki::identity("svc/gateway"),
            "routing",
            &format!("https://{}", self.addr),
            Duration::from_secs(30),
        )
        .await
    }

    /// A channel as the gateway: mutual TLS.
    async fn channel(&self) -> GrpcChannel {
        self.try_channel().await.unwrap()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RoutingProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The 1-, 5- and 15-minute load averages, as /proc/loadavg says them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The fields of /proc/<pid>/stat after the command's name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// User and system CPU ticks a process used.
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid).map_or(0, |f| {
        f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
    })
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| parent_of(*pid) == Some(parent))
                .collect()
        })
        .unwrap_or_default()
}

fn cpu_ms(before: u64, after: u64) -> f64 {
    after.saturating_sub(before) as f64 * 1_000.0 / ticks_per_second()
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The processes whose CPU the bench reports: routing, the PostgreSQL server (postmaster
/// and its backends), the NATS server, the bench itself.
struct Procs {
    routing: u32,
    postmaster: u32,
    nats: Option<u32>,
    ticks_per_second: f64,
}

#[derive(Clone, Copy)]
struct Cpu {
    routing: u64,
    postgres: u64,
    nats: u64,
    bench: u64,
}

impl Cpu {
    fn total(&self) -> u64 {
        self.routing + self.postgres + self.nats + self.bench
    }
}

impl Procs {
    async fn find(pool: &sqlx::PgPool, ctx: &TestContext, routing: u32) -> Self {
        let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(pool)
            .await
            .unwrap();
        let postmaster = parent_of(u32::try_from(backend).unwrap()).unwrap();
        // The test NATS server writes `nats-server_<pid>.ports` beside its store.
        let nats = ctx.nats.store_dir().parent().and_then(|dir| {
            std::fs::read_dir(dir).ok()?.find_map(|e| {
                let name = e.ok()?.file_name().to_str()?.to_owned();
                name.strip_prefix("nats-server_")?
                    .strip_suffix(".ports")?
                    .parse()
                    .ok()
            })
        });
        if nats.is_none() {
            println!("(the NATS server's process was not found: its CPU is not reported)");
        }
        Self {
            routing,
            postmaster,
            nats,
            ticks_per_second: ticks_per_second(),
        }
    }

    fn cpu(&self) -> Cpu {
        Cpu {
            routing: cpu_ticks(self.routing),
            postgres: cpu_ticks(self.postmaster)
                + children_of(self.postmaster)
                    .into_iter()
                    .map(cpu_ticks)
                    .sum::<u64>(),
            nats: self.nats.map_or(0, cpu_ticks),
            bench: cpu_ticks(std::process::id()),
        }
    }

    /// Routing's resident memory now and at its peak, MiB.
    fn rss_mib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.routing)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map_or(0, |kib| kib / 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

async fn raw_postgres_commits(url: &str, connections: u32, duration: Duration) -> f64 {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(url)
        .await
        .unwrap();
    sqlx::query("create table if not exists public.bench_commits (id bigserial primary key, payload bytea not null)")
        .execute(&pool)
        .await
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (pool, count) = (pool.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                sqlx::query("insert into public.bench_commits (payload) values ($1)")
                    .bind(vec![7u8; 300])
                    .execute(&pool)
                    .await
                    .unwrap();
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}

async fn raw_jetstream_publishes(
    nats: &async_nats::Client,
    prefix: &sportello_kit::config::SubjectPrefix,
    in_flight: usize,
    duration: Duration,
) -> f64 {
    let js = async_nats::jetstream::new(nats.clone());
    let streams = env_u64("BENCH_RAW_STREAMS", 1);
    let mut subjects = Vec::new();
    for n in 0..streams {
        let subject = prefix.subject(&format!("bench.raw{n}"));
        js.create_or_update_stream(async_nats::jetstream::stream::Config {
            name: prefix.stream(&format!("bench{n}")),
            subjects: vec![subject.clone()],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
        subjects.push(subject);
    }
    let permits = Arc::new(Semaphore::new(in_flight));
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration;
    let payload = bytes::Bytes::from(vec![7u8; 300]);
    let mut n = 0u64;
    while Instant::now() < stop {
        let permit = permits.clone().acquire_owned().await.unwrap();
        n += 1;
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("raw-{n}"));
        let subject = subjects[usize::try_from(n).unwrap() % subjects.len()].clone();
        let ack = js.send_publish(subject, message).await.unwrap();
        let acked = acked.clone();
        tokio::spawn(async move {
            if ack.await.is_ok() {
                acked.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    let _ = permits
        .acquire_many(u32::try_from(in_flight).unwrap())
        .await;
    acked.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}

async fn raw_atomic_batches(
    nats: &async_nats::Client,
    prefix: &sportello_kit::config::SubjectPrefix,
    batch: usize,
    duration: Duration,
) -> f64 {
    let js = async_nats::jetstream::new(nats.clone());
    let subject = prefix.subject("bench.atomic");
    js.create_or_update_stream(async_nats::jetstream::stream::Config {
        name: prefix.stream("benchatomic"),
        subjects: vec![subject.clone()],
        storage: async_nats::jetstream::stream::StorageType::File,
        allow_atomic_publish: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let payload = bytes::Bytes::from(vec![7u8; 300]);
    let stop = Instant::now() + duration;
    let mut stored = 0u64;
    let mut n = 0u64;
    while Instant::now() < stop {
        let id = uuid::Uuid::new_v4().to_string();
        for seq in 1..=batch {
            n += 1;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Batch-Id", id.as_str());
            headers.insert("Nats-Batch-Sequence", seq.to_string().as_str());
            headers.insert("Nats-Msg-Id", format!("atomic-{n}").as_str());
            if seq == batch {
                headers.insert("Nats-Batch-Commit", "1");
                let reply = nats
                    .request_with_headers(subject.clone(), headers, payload.clone())
                    .await
                    .unwrap();
                let text = String::from_utf8_lossy(&reply.payload).to_string();
                assert!(!text.contains("error"), "{text}");
                stored += batch as u64;
            } else {
                nats.publish_with_headers(subject.clone(), headers, payload.clone())
                    .await
                    .unwrap();
            }
        }
    }
    stored as f64 / duration.as_secs_f64()
}

/// PostgreSQL's `fsync` and `synchronous_commit`, as the server reports them.
async fn durability(url: &str) -> (String, String) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query_as("select current_setting('fsync'), current_setting('synchronous_commit')")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Transactions committed in this database, and WAL flushes of the cluster.
async fn commits(url: &str) -> (i64, i64) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query_as(
        "select (select xact_commit from pg_stat_database where datname = current_database()),
                (select wal_sync from pg_stat_wal)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// A site with a counter per operator, every operator seated and available.
async fn setup(channel: &GrpcChannel) -> String {
    let site = SiteServiceClient::new(channel.clone())
        .create_site(as_admin(CreateSiteRequest {
            municipality_istat_code: MUNICIPALITY.into(),
            code: "palazzo-civico".into(),
            name: "Palazzo Civico".into(),
            address: Some(Address {
                street_name: "Piazza Europa".into(),
                house_number: "1".into(),
                postal_code: "19124".into(),
                ..Default::default()
            }),
            counter_count: OPERATORS,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    let mut operators = OperatorServiceClient::new(channel.clone());
    for n in 1..=OPERATORS {
        let id = format!("op-{n:03}");
        operators
            .upsert_operator(as_admin(UpsertOperatorRequest {
                operator: Some(Operator {
                    id: id.clone(),
                    municipality_istat_code: MUNICIPALITY.into(),
                    display_name: id.clone(),
                    tier: Tier::InfoDesk as i32,
                    department: "anagrafe".into(),
                    skills: vec![
                        Skill {
                            skill: "anagrafe".into(),
                            proficiency: 2,
                        },
                        Skill {
                            skill: "urp".into(),
                            proficiency: 1,
                        },
                    ],
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        operators
            .sit_at_counter(as_operator(
                &id,
                SitAtCounterRequest {
                    operator_id: id.clone(),
                    site_id: site.id.clone(),
                    counter_number: n,
                },
            ))
            .await
            .unwrap();
        operators
            .set_presence(as_operator(
                &id,
                SetPresenceRequest {
                    operator_id: id.clone(),
                    presence: Presence::Available as i32,
                },
            ))
            .await
            .unwrap();
    }
    site.id
}

/// Case and operator events written so far.
async fn events(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from routing.outbox where event_type like 'case.%' or event_type like 'operator.%'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn waiting(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from routing.cases where status = 'waiting'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waiting cases per queue and per service.
async fn waiting_by(pool: &sqlx::PgPool, column: &str) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {column}, count(*) from routing.cases where status = 'waiting' group by 1"
    )))
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// Opens cases (64 at a time) until every service has `backlog` waiting: each queue then
/// holds at least that many.
async fn fill_backlog(channel: &GrpcChannel, site_id: &str, pool: &sqlx::PgPool, backlog: u64) {
    let by_service = waiting_by(pool, "service_code").await;
    let permits = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::new();
    let mut n = 0u64;
    for service in SERVICES {
        let have = u64::try_from(by_service.get(service).copied().unwrap_or(0)).unwrap_or(0);
        for _ in have..backlog {
            n += 1;
            let permit = permits.clone().acquire_owned().await.unwrap();
            let mut client = CaseServiceClient::new(channel.clone());
            let mut request = open_request(site_id, n);
            request.service_code = service.into();
            tasks.push(tokio::spawn(async move {
                client.open_case(as_system(request)).await.unwrap();
                drop(permit);
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn open_request(site_id: &str, n: u64) -> OpenCaseRequest {
    OpenCaseRequest {
        municipality_istat_code: MUNICIPALITY.into(),
        service_code: SERVICES[usize::try_from(n % 3).unwrap()].into(),
        channel: Channel::Counter as i32,
        site_id: site_id.into(),
        priority_category: if n.is_multiple_of(10) {
            PriorityCategory::Elderly as i32
        } else {
            PriorityCategory::None as i32
        },
        ..Default::default()
    }
}

/// Matches each case's intended opening with its claim, whichever is known first.
#[derive(Default)]
struct Pairing {
    intended: HashMap<String, Instant>,
    claimed: HashMap<String, Instant>,
}

impl Pairing {
    fn opened(&mut self, id: String, intended: Instant) -> Option<Duration> {
        match self.claimed.remove(&id) {
            Some(claimed) => Some(claimed.saturating_duration_since(intended)),
            None => {
                self.intended.insert(id, intended);
                None
            }
        }
    }

    fn claimed(&mut self, id: String, at: Instant) -> Option<Duration> {
        match self.intended.remove(&id) {
            Some(intended) => Some(at.saturating_duration_since(intended)),
            None => {
                self.claimed.insert(id, at);
                None
            }
        }
    }
}

struct Step {
    intended: u64,
    opened: u64,
    opened_in_window: u64,
    failed: u64,
    operator_errors: u64,
    claimed_in_window: u64,
    waiting_at_end: i64,
    /// The fewest and most cases waiting in one queue, sampled each second.
    backlog_min: i64,
    backlog_max: i64,
    open_reply: Histogram<u64>,
    open_to_claim: Histogram<u64>,
    publish_delay: Histogram<u64>,
    /// From the first intended opening to the last operator's stop.
    elapsed: Duration,
}

impl Step {
    /// At least 95 % of the intended cases claimed in the window, no more than one second
    /// of arrivals added to the backlog by its end, no call refused.
    fn sustained(&self, rate: u64, seconds: u64, waiting_before: i64) -> bool {
        self.claimed_in_window as f64 >= 0.95 * (rate * seconds) as f64
            && self.waiting_at_end <= waiting_before + i64::try_from(rate).unwrap_or(i64::MAX)
            && self.failed == 0
            && self.operator_errors == 0
    }
}

/// The 64 operators and the case each holds at their counter between steps.
struct Operators {
    channel: GrpcChannel,
    held: Vec<Option<String>>,
}

impl Operators {
    fn new(channel: &GrpcChannel) -> Self {
        Self {
            channel: channel.clone(),
            held: vec![None; usize::try_from(OPERATORS).unwrap()],
        }
    }

    /// Every operator completes what they hold (the CallNext measure starts from free
    /// operators).
    async fn release(&mut self) {
        let mut cases = CaseServiceClient::new(self.channel.clone());
        for (n, held) in self.held.iter_mut().enumerate() {
            if let Some(case_id) = held.take() {
                let id = format!("op-{:03}", n + 1);
                cases
                    .complete(as_operator(
                        &id,
                        CompleteRequest {
                            operator_id: id.clone(),
                            case_id,
                            outcome_code: "issued".into(),
                            appointment: None,
                        },
                    ))
                    .await
                    .unwrap();
            }
        }
    }
}

/// One offered rate, open loop: see the module's documentation.
#[allow(clippy::too_many_arguments)]
async fn counter_flow(
    channel: &GrpcChannel,
    site_id: &str,
    nats: &async_nats::Client,
    prefix: &sportello_kit::config::SubjectPrefix,
    pool: &sqlx::PgPool,
    operators: &mut Operators,
    rate: u64,
    duration: Duration,
) -> Step {
    let pairing: Arc<Mutex<Pairing>> = Arc::default();
    let open_reply = Arc::new(Mutex::new(hist()));
    let open_to_claim = Arc::new(Mutex::new(hist()));
    let publish_delay = Arc::new(Mutex::new(hist()));
    let claimed = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let opened_in_window = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let operator_errors = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));

    // Publish delay: from a case's commit (its event's time) to its event reaching a subscriber.
    let mut opened_events = nats.subscribe(prefix.subject("case.opened")).await.unwrap();
    let delays = publish_delay.clone();
    let watcher = tokio::spawn(async move {
        while let Some(message) = opened_events.next().await {
            let time = message
                .headers
                .as_ref()
                .and_then(|h| h.get("ce-time"))
                .and_then(|t| t.as_str().parse::<jiff::Timestamp>().ok());
            if let Some(time) = time {
                let delay = jiff::Timestamp::now()
                    .duration_since(time)
                    .as_micros()
                    .max(0);
                let _ = delays
                    .lock()
                    .unwrap()
                    .record(u64::try_from(delay).unwrap_or(0));
            }
        }
    });

    // The backlog per queue, each second.
    let backlog = Arc::new(Mutex::new((i64::MAX, 0i64)));
    let sampler = {
        let (pool, backlog, running) = (pool.clone(), backlog.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let queues = waiting_by(&pool, "service_group").await;
                {
                    let mut seen = backlog.lock().unwrap();
                    for group in ["anagrafe", "informazioni"] {
                        let n = queues.get(group).copied().unwrap_or(0);
                        seen.0 = seen.0.min(n);
                        seen.1 = seen.1.max(n);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    // The counter's pace: one call a 1/rate second, from the start; calls not made on
    // time wait as permits and are made as soon as an operator is free.
    let started = Instant::now();
    let pace = Arc::new(Semaphore::new(0));
    let pacer = {
        let (pace, running) = (pace.clone(), running.clone());
        tokio::spawn(async move {
            let mut issued = 0u64;
            while running.load(Ordering::Relaxed) {
                let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
                if due > issued {
                    pace.add_permits(usize::try_from(due - issued).unwrap());
                    issued = due;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for (n, held) in operators.held.iter_mut().enumerate() {
        let id = format!("op-{:03}", n + 1);
        let mut held = held.take();
        let mut cases = CaseServiceClient::new(channel.clone());
        let (pairing, open_to_claim, claimed, running, pace, errors) = (
            pairing.clone(),
            open_to_claim.clone(),
            claimed.clone(),
            running.clone(),
            pace.clone(),
            operator_errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(100), pace.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => continue,
                }
                let reply = match held.take() {
                    None => cases
                        .call_next(as_operator(
                            &id,
                            CallNextRequest {
                                operator_id: id.clone(),
                            },
                        ))
                        .await
                        .map(|r| r.into_inner().call),
                    Some(case_id) => cases
                        .complete_and_call_next(as_operator(
                            &id,
                            CompleteAndCallNextRequest {
                                operator_id: id.clone(),
                                case_id,
                                outcome_code: "issued".into(),
                            },
                        ))
                        .await
                        .map(|r| r.into_inner().call),
                };
                let at = Instant::now();
                match reply {
                    Err(status) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("an operator's call failed: {status}");
                    }
                    Ok(None) => {}
                    Ok(Some(call)) => {
                        let case_id = call.case.unwrap().id;
                        let again = call
                            .decision
                            .is_some_and(|d| d.reason == DecisionReason::AlreadyCalled as i32);
                        if !again {
                            claimed.fetch_add(1, Ordering::Relaxed);
                            if let Some(took) = pairing.lock().unwrap().claimed(case_id.clone(), at)
                            {
                                let _ = open_to_claim.lock().unwrap().record(micros(took));
                            }
                        }
                        held = Some(case_id);
                    }
                }
            }
            held
        }));
    }

    // Each case at its intended instant, whatever happened to the ones before.
    let intended = rate * duration.as_secs();
    let window_end = started + duration;
    let mut opens = Vec::with_capacity(usize::try_from(intended).unwrap_or(0));
    for n in 0..intended {
        let at = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let mut cases = CaseServiceClient::new(channel.clone());
        let site_id = site_id.to_owned();
        let (pairing, open_reply, open_to_claim, opened, opened_in_window, failed) = (
            pairing.clone(),
            open_reply.clone(),
            open_to_claim.clone(),
            opened.clone(),
            opened_in_window.clone(),
            failed.clone(),
        );
        opens.push(tokio::spawn(async move {
            match cases.open_case(as_system(open_request(&site_id, n))).await {
                Ok(reply) => {
                    let now = Instant::now();
                    let _ = open_reply
                        .lock()
                        .unwrap()
                        .record(micros(now.saturating_duration_since(at)));
                    opened.fetch_add(1, Ordering::Relaxed);
                    if now <= window_end {
                        opened_in_window.fetch_add(1, Ordering::Relaxed);
                    }
                    let id = reply.into_inner().case.unwrap().id;
                    if let Some(took) = pairing.lock().unwrap().opened(id, at) {
                        let _ = open_to_claim.lock().unwrap().record(micros(took));
                    }
                }
                Err(status) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("OpenCase failed: {status}");
                }
            }
        }));
    }
    tokio::time::sleep_until(window_end.into()).await;
    let claimed_in_window = claimed.load(Ordering::Relaxed);
    running.store(false, Ordering::Relaxed);
    for open in opens {
        let _ = open.await;
    }
    for (held, task) in operators.held.iter_mut().zip(tasks) {
        *held = task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let waiting_at_end = waiting(pool).await;
    let _ = pacer.await;
    let _ = sampler.await;
    // The last events' delays.
    tokio::time::sleep(Duration::from_millis(500)).await;
    watcher.abort();
    let (backlog_min, backlog_max) = *backlog.lock().unwrap();
    let take = |h: &Arc<Mutex<Histogram<u64>>>| h.lock().unwrap().clone();
    Step {
        intended,
        opened: opened.load(Ordering::Relaxed),
        opened_in_window: opened_in_window.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        operator_errors: operator_errors.load(Ordering::Relaxed),
        claimed_in_window,
        waiting_at_end,
        backlog_min,
        backlog_max,
        open_reply: take(&open_reply),
        open_to_claim: take(&open_to_claim),
        publish_delay: take(&publish_delay),
        elapsed,
    }
}

struct Calls {
    intended: u64,
    made: u64,
    nothing: u64,
    waited_for_operator: u64,
    achieved: f64,
    from_intended: Histogram<u64>,
    service: Histogram<u64>,
}

async fn call_next_open_loop(
    channel: &GrpcChannel,
    site_id: &str,
    rate: u64,
    duration: Duration,
) -> Calls {
    let cases = CaseServiceClient::new(channel.clone());
    // Enough waiting cases for every call.
    let intended = rate * duration.as_secs();
    let permits = Arc::new(Semaphore::new(64));
    let mut opening = Vec::new();
    for n in 0..intended + 100 {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let mut client = cases.clone();
        let site_id = site_id.to_owned();
        opening.push(tokio::spawn(async move {
            client
                .open_case(as_system(open_request(&site_id, n)))
                .await
                .unwrap();
            drop(permit);
        }));
    }
    for task in opening {
        task.await.unwrap();
    }

    let from_intended = Arc::new(Mutex::new(hist()));
    let service = Arc::new(Mutex::new(hist()));
    let nothing = Arc::new(AtomicU64::new(0));
    let waited = Arc::new(AtomicU64::new(0));
    let free: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        (1..=OPERATORS).map(|n| format!("op-{n:03}")).collect(),
    ));
    let operators = Arc::new(Semaphore::new(usize::try_from(OPERATORS).unwrap()));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(intended).unwrap_or(0));
    for n in 0..intended {
        let at = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let mut client = cases.clone();
        let (from_intended, service, nothing, waited, free, operators) = (
            from_intended.clone(),
            service.clone(),
            nothing.clone(),
            waited.clone(),
            free.clone(),
            operators.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // A call whose instant comes while every operator is busy waits for one.
            let permit = match operators.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    waited.fetch_add(1, Ordering::Relaxed);
                    operators.acquire_owned().await.unwrap()
                }
            };
            let id = free.lock().unwrap().pop().unwrap();
            let sent = Instant::now();
            let reply = client
                .call_next(as_operator(
                    &id,
                    CallNextRequest {
                        operator_id: id.clone(),
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            let done = Instant::now();
            let _ = from_intended
                .lock()
                .unwrap()
                .record(micros(done.duration_since(at)));
            let _ = service
                .lock()
                .unwrap()
                .record(micros(done.duration_since(sent)));
            match reply.call {
                Some(call) => {
                    client
                        .complete(as_operator(
                            &id,
                            CompleteRequest {
                                operator_id: id.clone(),
                                case_id: call.case.unwrap().id,
                                outcome_code: "issued".into(),
                                appointment: None,
                            },
                        ))
                        .await
                        .unwrap();
                }
                None => {
                    nothing.fetch_add(1, Ordering::Relaxed);
                }
            }
            free.lock().unwrap().push(id);
            drop(permit);
            done
        }));
    }
    let mut last = started;
    let mut made = 0;
    for task in tasks {
        last = last.max(task.await.unwrap());
        made += 1;
    }
    let take = |h: &Arc<Mutex<Histogram<u64>>>| h.lock().unwrap().clone();
    Calls {
        intended,
        made,
        nothing: nothing.load(Ordering::Relaxed),
        waited_for_operator: waited.load(Ordering::Relaxed),
        achieved: made as f64 / last.duration_since(started).as_secs_f64(),
        from_intended: take(&from_intended),
        service: take(&service),
    }
}
