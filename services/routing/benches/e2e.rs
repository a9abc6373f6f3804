//! End to end, against the real PostgreSQL and NATS of a local stack (durable settings:
//! fsync on, JetStream `sync_interval: always`), routing in process with its workers, on
//! a release build:
//!
//! 1. the raw ceilings from a Rust client — PostgreSQL single-row commits per second with
//!    8 connections; JetStream acknowledged publishes per second with 256 in flight on one
//!    stream; the same as atomic batches of 256 (how the outbox relay publishes);
//! 2. **capacity, open loop**: cases opened through gRPC at a fixed offered rate — each at
//!    its intended instant, whatever the system's state, none skipped, no limit on
//!    requests in flight — while 64 operators call, and complete at once, as fast as they
//!    can. Rates are stepped up by 50 a second from 200 (`BENCH_RATES`, up to 600),
//!    `BENCH_SECONDS` each (default 30), until one is not sustained: fewer than 95 % of
//!    the intended cases claimed in the window, or more than one second of arrivals still
//!    waiting at its end. For each rate: the offered and achieved rates (opened, claimed),
//!    OpenCase latency and intended-open → claimed latency both measured from the
//!    intended instant, the outbox publish delay, and Sportello's transactions, WAL
//!    flushes and events per case. Cases are spread over three services in two queues
//!    (residence and family-status certificates, general information), one in ten a
//!    priority case; operators have no handling time, so this is the machinery's ceiling,
//!    not a day at the counter;
//! 3. **CallNext, open loop** at 300 calls/s (`BENCH_CALL_RATE`) for 20 s on a queue
//!    opened beforehand: every intended call is made; a call whose instant comes while no
//!    operator is free waits for one, and its latency counts from its intended instant
//!    (no coordinated omission). Prints offered and achieved rates, latency from the
//!    intended instant and service time from the send.
//!
//! An idle operator waits to be told a case was opened (as a console learns it from the
//! board's live events), or 50 ms, before calling again, rather than polling in a loop.
//!
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
use sportello_kit::{
    CallContext, Clock, WorkerMode,
    testing::{TestContext, TestService},
};
use sportello_proto::{
    common::v1::{Address, Channel},
    routing::v1::{
        CallNextRequest, CompleteRequest, CreateSiteRequest, OpenCaseRequest, Operator, Presence,
        PriorityCategory, SetPresenceRequest, SitAtCounterRequest, Skill, Tier,
        UpsertOperatorRequest, case_service_client::CaseServiceClient,
        operator_service_client::OperatorServiceClient, site_service_client::SiteServiceClient,
    },
};
use tokio::sync::{Notify, Semaphore};

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
    let mut config = ctx.config.clone();
    config.clock = Clock::system();
    config.workers = WorkerMode::Background;
    config.database_max_connections = 20;
    let prefix = config.subject_prefix.clone();
    let database_url = config.database_url.clone();
    let nats = ctx.nats().await;

    let (fsync, synchronous_commit) = durability(&database_url).await;
    println!(
        "e2e: routing in process, {} build; PostgreSQL fsync={fsync} synchronous_commit={synchronous_commit}; \
         NATS with sync_interval always",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        },
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

    let mut routing_config = sportello_routing::RoutingConfig::from(config);
    routing_config.seed_municipalities = vec![MUNICIPALITY.parse().unwrap()];
    let routing = TestService::start(
        &sportello_routing::SPEC,
        routing_config,
        sportello_routing::start,
    )
    .await;
    let channel = routing.channel().await;
    let site_id = setup(&channel).await;
    let pool = routing.running.db().pool().clone();

    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "200,250,300,350,400,450,500,550,600".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds = env_u64("BENCH_SECONDS", 30);
    println!(
        "== capacity, open loop: offered {rates:?} cases/s, {seconds} s each, {OPERATORS} operators always free"
    );
    let mut sustained = None;
    for rate in rates {
        let (commits_before, syncs_before) = commits(&database_url).await;
        let events_before = events(&pool).await;
        let step = open_loop(
            &channel,
            &site_id,
            &nats,
            &prefix,
            &pool,
            rate,
            Duration::from_secs(seconds),
        )
        .await;
        let (commits_after, syncs_after) = commits(&database_url).await;
        let cases = step.opened.max(1) as f64;
        let ok = step.sustained(rate, seconds);
        println!(
            "offered {rate}/s: intended {}, opened {} ({:.0}/s in the window, {} failed), claimed in the window {} ({:.0}/s), \
             waiting at its end {}, drained in {:.1} s{}{}",
            step.intended,
            step.opened,
            step.opened_in_window as f64 / seconds as f64,
            step.failed,
            step.claimed_in_window,
            step.claimed_in_window as f64 / seconds as f64,
            step.waiting_at_end,
            step.drain.as_secs_f64(),
            if step.drained {
                ""
            } else {
                " (NOT drained: gave up)"
            },
            if step.operator_errors == 0 {
                String::new()
            } else {
                format!("; {} operator calls failed", step.operator_errors)
            },
        );
        println!(
            "  OpenCase reply, from its intended instant: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; \
             intended open → claimed: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; outbox publish delay p50 {:.1} ms p99 {:.1} ms",
            ms(&step.open_reply, 0.5),
            ms(&step.open_reply, 0.99),
            step.open_reply.max() as f64 / 1_000.0,
            ms(&step.open_to_claim, 0.5),
            ms(&step.open_to_claim, 0.99),
            step.open_to_claim.max() as f64 / 1_000.0,
            ms(&step.publish_delay, 0.5),
            ms(&step.publish_delay, 0.99),
        );
        println!(
            "  per case: {:.1} PostgreSQL transactions (reads included), {:.2} WAL flushes, {:.1} events; {}",
            (commits_after - commits_before) as f64 / cases,
            (syncs_after - syncs_before) as f64 / cases,
            (events(&pool).await - events_before) as f64 / cases,
            if ok { "sustained" } else { "NOT sustained" }
        );
        if !ok || !step.drained {
            break;
        }
        sustained = Some(rate);
    }
    match sustained {
        Some(rate) => println!("highest offered rate sustained: {rate} cases/s"),
        None => println!("no offered rate sustained"),
    }

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
    routing.stop().await;
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
        .create_site(as_system(CreateSiteRequest {
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
            .upsert_operator(as_system(UpsertOperatorRequest {
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
    drained: bool,
    drain: Duration,
    open_reply: Histogram<u64>,
    open_to_claim: Histogram<u64>,
    publish_delay: Histogram<u64>,
}

impl Step {
    /// At least 95 % of the intended cases claimed in the window, no more than one second
    /// of arrivals left waiting at its end, no call refused.
    fn sustained(&self, rate: u64, seconds: u64) -> bool {
        self.claimed_in_window as f64 >= 0.95 * (rate * seconds) as f64
            && self.waiting_at_end <= i64::try_from(rate).unwrap_or(i64::MAX)
            && self.failed == 0
            && self.operator_errors == 0
    }
}

/// One offered rate, open loop: see the module's documentation.
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    channel: &GrpcChannel,
    site_id: &str,
    nats: &async_nats::Client,
    prefix: &sportello_kit::config::SubjectPrefix,
    pool: &sqlx::PgPool,
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
    let someone_waits = Arc::new(Notify::new());

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

    let mut operators = Vec::new();
    for n in 1..=OPERATORS {
        let id = format!("op-{n:03}");
        let mut cases = CaseServiceClient::new(channel.clone());
        let (pairing, open_to_claim, claimed, running, someone_waits, errors) = (
            pairing.clone(),
            open_to_claim.clone(),
            claimed.clone(),
            running.clone(),
            someone_waits.clone(),
            operator_errors.clone(),
        );
        operators.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let reply = match cases
                    .call_next(as_operator(
                        &id,
                        CallNextRequest {
                            operator_id: id.clone(),
                        },
                    ))
                    .await
                {
                    Ok(reply) => reply.into_inner(),
                    Err(status) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("CallNext failed: {status}");
                        continue;
                    }
                };
                let at = Instant::now();
                let Some(call) = reply.call else {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(50), someone_waits.notified())
                            .await;
                    continue;
                };
                let case_id = call.case.unwrap().id;
                claimed.fetch_add(1, Ordering::Relaxed);
                if let Some(took) = pairing.lock().unwrap().claimed(case_id.clone(), at) {
                    let _ = open_to_claim.lock().unwrap().record(micros(took));
                }
                if let Err(status) = cases
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
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("Complete failed: {status}");
                }
            }
        }));
    }

    // Each case at its intended instant, whatever happened to the ones before.
    let intended = rate * duration.as_secs();
    let started = Instant::now();
    let window_end = started + duration;
    let mut opens = Vec::with_capacity(usize::try_from(intended).unwrap_or(0));
    for n in 0..intended {
        let at = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let mut cases = CaseServiceClient::new(channel.clone());
        let site_id = site_id.to_owned();
        let (pairing, open_reply, open_to_claim, opened, opened_in_window, failed, someone_waits) = (
            pairing.clone(),
            open_reply.clone(),
            open_to_claim.clone(),
            opened.clone(),
            opened_in_window.clone(),
            failed.clone(),
            someone_waits.clone(),
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
                    someone_waits.notify_one();
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
    let waiting_at_end = waiting(pool).await;

    // Drain: every intended open answered and every opened case claimed (at most 2 min).
    let drain_started = Instant::now();
    for open in opens {
        let _ = open.await;
    }
    let mut drained = false;
    while drain_started.elapsed() < Duration::from_secs(120) {
        if waiting(pool).await == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = drain_started.elapsed();
    running.store(false, Ordering::Relaxed);
    for operator in operators {
        let _ = operator.await;
    }
    watcher.abort();
    let take = |h: &Arc<Mutex<Histogram<u64>>>| h.lock().unwrap().clone();
    Step {
        intended,
        opened: opened.load(Ordering::Relaxed),
        opened_in_window: opened_in_window.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        operator_errors: operator_errors.load(Ordering::Relaxed),
        claimed_in_window,
        waiting_at_end,
        drained,
        drain,
        open_reply: take(&open_reply),
        open_to_claim: take(&open_to_claim),
        publish_delay: take(&publish_delay),
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
