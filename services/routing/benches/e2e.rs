//! End to end, against the real PostgreSQL and NATS of a local stack (durable settings:
//! fsync on, JetStream `sync_interval: always`), routing in process with its workers:
//!
//! 1. the raw ceilings from a Rust client — PostgreSQL single-row commits per second with
//!    8 connections, JetStream acknowledged publishes per second with 256 in flight;
//! 2. cases opened through gRPC and claimed (operators always free) for 60 s at a target
//!    rate: the rate sustained, p99 from the OpenCase reply to the claim, p99 outbox
//!    publish delay, and Sportello's commits and publishes per case;
//! 3. CallNext latency at 300 calls/s.
//!
//! Run with `make bench` (it starts the servers). `BENCH_RATE` (default 1000) and
//! `BENCH_SECONDS` (default 60) change the load.

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
        SetPresenceRequest, SitAtCounterRequest, Skill, Tier, UpsertOperatorRequest,
        case_service_client::CaseServiceClient, operator_service_client::OperatorServiceClient,
        site_service_client::SiteServiceClient,
    },
};
use tokio::sync::Semaphore;

const OPERATORS: u32 = 64;
const MUNICIPALITY: &str = "011015";

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

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1_000.0
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

    println!("== raw ceilings");
    let pg = raw_postgres_commits(&database_url, 8, Duration::from_secs(10)).await;
    println!("postgres: {pg:.0} single-row commits/s with 8 connections");
    if std::env::var("BENCH_RAW_ONLY").is_ok() {
        let js = raw_jetstream_publishes(&nats, &prefix, 256, Duration::from_secs(10)).await;
        println!("jetstream: {js:.0} acknowledged publishes/s");
        let atomic = raw_atomic_batches(&nats, &prefix, 256, Duration::from_secs(10)).await;
        println!("jetstream atomic batches of 256: {atomic:.0} messages/s");
        return;
    }
    let js = raw_jetstream_publishes(&nats, &prefix, 256, Duration::from_secs(10)).await;
    println!(
        "jetstream: {js:.0} acknowledged publishes/s with 256 in flight (300-byte events, sync_interval always)"
    );

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

    let rate = env_u64("BENCH_RATE", 1_000);
    let seconds = env_u64("BENCH_SECONDS", 60);
    let pool = routing.running.db().pool().clone();

    println!(
        "== capacity: up to {rate} cases/s for {seconds} s, {OPERATORS} operators always free"
    );
    let (commits_before, syncs_before) = commits(&database_url).await;
    let capacity = throughput(
        &channel,
        &site_id,
        &nats,
        &prefix,
        rate,
        Duration::from_secs(seconds),
    )
    .await;
    let (commits_after, syncs_after) = commits(&database_url).await;
    // Every case opened in the run was claimed and completed (the run drains its queue).
    let (cases, events) = cases_and_events(&pool).await;
    println!(
        "sustained {:.0} cases/s opened and claimed; outbox publish delay p50 {:.1} ms p99 {:.1} ms; backlog at the end {}",
        capacity.claimed as f64 / seconds as f64,
        ms(&capacity.publish_delay, 0.5),
        ms(&capacity.publish_delay, 0.99),
        capacity.backlog,
    );
    println!(
        "per case: {:.1} PostgreSQL transactions (reads included), {:.2} WAL flushes, {:.1} events published",
        (commits_after - commits_before) as f64 / cases as f64,
        (syncs_after - syncs_before) as f64 / cases as f64,
        events as f64 / cases as f64
    );

    let steady = env_u64("BENCH_STEADY_RATE", 300);
    println!("== latency at {steady} cases/s for 30 s");
    let latency = throughput(
        &channel,
        &site_id,
        &nats,
        &prefix,
        steady,
        Duration::from_secs(30),
    )
    .await;
    println!(
        "claimed {:.0} cases/s; OpenCase reply → claim committed p50 {:.1} ms p99 {:.1} ms; outbox publish delay p50 {:.1} ms p99 {:.1} ms",
        latency.claimed as f64 / 30.0,
        ms(&latency.open_to_claim, 0.5),
        ms(&latency.open_to_claim, 0.99),
        ms(&latency.publish_delay, 0.5),
        ms(&latency.publish_delay, 0.99),
    );

    println!("== CallNext at 300 calls/s");
    let call_next = call_next_latency(&channel, &site_id, 300, Duration::from_secs(20)).await;
    println!(
        "CallNext p50 {:.1} ms p99 {:.1} ms over {} calls",
        ms(&call_next, 0.5),
        ms(&call_next, 0.99),
        call_next.len()
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

/// Cases opened so far, and the case and operator events written for them.
async fn cases_and_events(pool: &sqlx::PgPool) -> (i64, i64) {
    let (cases, events): (i64, i64) = sqlx::query_as(
        "select (select count(*) from routing.cases),
                (select count(*) from routing.outbox where event_type like 'case.%' or event_type like 'operator.%')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (cases.max(1), events)
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
                    skills: vec![Skill {
                        skill: "anagrafe".into(),
                        proficiency: 2,
                    }],
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

struct Throughput {
    claimed: u64,
    open_to_claim: Histogram<u64>,
    publish_delay: Histogram<u64>,
    backlog: i64,
}

fn open_request(site_id: &str) -> OpenCaseRequest {
    OpenCaseRequest {
        municipality_istat_code: MUNICIPALITY.into(),
        service_code: "registry.residence_certificate".into(),
        channel: Channel::Counter as i32,
        site_id: site_id.into(),
        ..Default::default()
    }
}

async fn throughput(
    channel: &GrpcChannel,
    site_id: &str,
    nats: &async_nats::Client,
    prefix: &sportello_kit::config::SubjectPrefix,
    rate: u64,
    duration: Duration,
) -> Throughput {
    let opened_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let open_to_claim = Arc::new(Mutex::new(hist()));
    let publish_delay = Arc::new(Mutex::new(hist()));
    let claimed = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));

    // Publish delay: the time between a case's commit and its event reaching a subscriber.
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

    let mut workers = Vec::new();
    for n in 1..=OPERATORS {
        let id = format!("op-{n:03}");
        let mut cases = CaseServiceClient::new(channel.clone());
        let (opened_at, open_to_claim, claimed, running) = (
            opened_at.clone(),
            open_to_claim.clone(),
            claimed.clone(),
            running.clone(),
        );
        workers.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let reply = cases
                    .call_next(as_operator(
                        &id,
                        CallNextRequest {
                            operator_id: id.clone(),
                        },
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                let Some(call) = reply.call else {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                let case_id = call.case.unwrap().id;
                if let Some(at) = opened_at.lock().unwrap().remove(&case_id) {
                    let _ = open_to_claim
                        .lock()
                        .unwrap()
                        .record(u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                claimed.fetch_add(1, Ordering::Relaxed);
                cases
                    .complete(as_operator(
                        &id,
                        CompleteRequest {
                            operator_id: id.clone(),
                            case_id,
                            outcome_code: "issued".into(),
                        },
                    ))
                    .await
                    .unwrap();
            }
        }));
    }

    // Open cases at the target rate, 256 in flight at most.
    let permits = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while started.elapsed() < duration {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            // Offer at most the target rate, and never more than operators can take: a
            // backlog of a few hundred cases is a queue; a growing one measures nothing.
            if opened_at.lock().unwrap().len() > 500 {
                break;
            }
            sent += 1;
            let permit = permits.clone().acquire_owned().await.unwrap();
            let mut cases = CaseServiceClient::new(channel.clone());
            let (site_id, opened_at) = (site_id.to_owned(), opened_at.clone());
            tokio::spawn(async move {
                let reply = cases
                    .open_case(as_system(open_request(&site_id)))
                    .await
                    .unwrap()
                    .into_inner();
                opened_at
                    .lock()
                    .unwrap()
                    .insert(reply.case.unwrap().id, Instant::now());
                drop(permit);
            });
        }
    }
    let claimed_in_window = claimed.load(Ordering::Relaxed);
    // Let the last cases be claimed so every opened case is in the per-case figures.
    let drain = Instant::now();
    while !opened_at.lock().unwrap().is_empty() && drain.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    watcher.abort();
    let backlog = i64::try_from(opened_at.lock().unwrap().len()).unwrap_or(i64::MAX);
    Throughput {
        claimed: claimed_in_window,
        open_to_claim: open_to_claim.lock().unwrap().clone(),
        publish_delay: publish_delay.lock().unwrap().clone(),
        backlog,
    }
}

async fn call_next_latency(
    channel: &GrpcChannel,
    site_id: &str,
    rate: u64,
    duration: Duration,
) -> Histogram<u64> {
    let mut cases = CaseServiceClient::new(channel.clone());
    // Enough waiting cases for every call.
    let needed = rate * duration.as_secs() + 100;
    let permits = Arc::new(Semaphore::new(64));
    let mut opening = Vec::new();
    for _ in 0..needed {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let mut client = cases.clone();
        let site_id = site_id.to_owned();
        opening.push(tokio::spawn(async move {
            client
                .open_case(as_system(open_request(&site_id)))
                .await
                .unwrap();
            drop(permit);
        }));
    }
    for task in opening {
        task.await.unwrap();
    }
    let latencies = Arc::new(Mutex::new(hist()));
    let free: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        (1..=OPERATORS).map(|n| format!("op-{n:03}")).collect(),
    ));
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut tasks = Vec::new();
    while started.elapsed() < duration {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            sent += 1;
            let Some(id) = free.lock().unwrap().pop() else {
                break;
            };
            let mut client = cases.clone();
            let (latencies, free) = (latencies.clone(), free.clone());
            tasks.push(tokio::spawn(async move {
                let began = Instant::now();
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
                let _ = latencies
                    .lock()
                    .unwrap()
                    .record(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
                if let Some(call) = reply.call {
                    client
                        .complete(as_operator(
                            &id,
                            CompleteRequest {
                                operator_id: id.clone(),
                                case_id: call.case.unwrap().id,
                                outcome_code: "issued".into(),
                            },
                        ))
                        .await
                        .unwrap();
                }
                free.lock().unwrap().push(id);
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    cases = CaseServiceClient::new(channel.clone());
    drop(cases);
    latencies.lock().unwrap().clone()
}
