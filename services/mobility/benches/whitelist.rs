//! The ZTL cameras' check, open loop, against the real PostgreSQL and NATS of a local
//! stack (durable settings), mobility in process, on a release build.
//!
//! `BENCH_PERMITS` (default 100,000) active resident permits of one zone, each with its
//! plate, are loaded straight into the tables; mobility then starts and loads its
//! whitelist. For `BENCH_SECONDS` (default 30) the cameras ask `CheckTransit` at
//! `BENCH_RATE` (default 1,000) checks a second, on schedule whatever the answers' delay
//! (latency is measured from each check's scheduled instant, so a stall is counted, not
//! hidden), four in five for plates with a permit and one in five for plates never seen;
//! meanwhile the service's other load runs beside them: works permits issued through
//! `IssuePermit` at `BENCH_ISSUES` (default 20) a second, each committed, published and
//! followed into every replica's whitelist by its event.
//!
//! Target (issue 17): p99 ≤ 5 ms at 1,000 checks a second with 100,000 active permits.
//! Run with `make bench-mobility` (it starts the servers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use sportello_kit::{
    CallContext, Clock, Role, WorkerMode,
    testing::{TestContext, TestService},
};
use sportello_proto::{
    common::v1::{Channel, Parity, StreetRange},
    mobility::v1::{
        CheckTransitRequest, DefineZoneRequest, IssuePermitRequest, PermitFee, PermitKind,
        PlateInput, ZoneKind, permit_service_client::PermitServiceClient,
        whitelist_service_client::WhitelistServiceClient, zone_service_client::ZoneServiceClient,
    },
};
use uuid::Uuid;

const SPEZIA: &str = "011015";
/// The 20 letters of current plates.
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTVWXYZ";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `n`th plate of the current series: AA000AA onwards (`salt` shifts the letters, so
/// the plates never seen differ from the loaded ones).
fn plate(n: usize, salt: usize) -> String {
    let l = |i: usize| LETTERS[i % LETTERS.len()] as char;
    let digits = n % 1000;
    let rest = n / 1000;
    format!(
        "{}{}{digits:03}{}{}",
        l(rest / LETTERS.len() + salt),
        l(rest),
        l(salt),
        l(salt + 7)
    )
}

async fn load(pool: &sqlx::PgPool, zone: Uuid, count: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let numbers: Vec<String> = chunk
            .iter()
            .map(|n| format!("ZTL-CENTRO-2026-B{n:07}"))
            .collect();
        let refs: Vec<String> = chunk.iter().map(|n| format!("rr_bench_{n:08}")).collect();
        let plates: Vec<String> = chunk.iter().map(|n| plate(*n, 0)).collect();
        sqlx::query(
            "insert into permits (id, municipality, zone_id, number, kind, state, holder_ref,
                                  household_ref, resident_ref, valid_from, valid_until,
                                  amount_cents, activated_at, channel, created_at)
             select id, $1, $2, number, 'resident', 'active', holder, holder, holder,
                    date '2026-01-01', date '2030-12-31', 0, now(), 'counter', now()
               from unnest($3::uuid[], $4::text[], $5::text[]) as t(id, number, holder)",
        )
        .bind(SPEZIA)
        .bind(zone)
        .bind(&ids)
        .bind(&numbers)
        .bind(&refs)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into permit_plates (permit_id, plate, plate_kind)
             select id, plate, 'car' from unnest($1::uuid[], $2::text[]) as t(id, plate)",
        )
        .bind(&ids)
        .bind(&plates)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("analyze").execute(pool).await.unwrap();
}

#[tokio::main]
async fn main() {
    let permits = env_usize("BENCH_PERMITS", 100_000);
    let seconds = env_usize("BENCH_SECONDS", 30);
    let rate = env_usize("BENCH_RATE", 1_000);
    let issues = env_usize("BENCH_ISSUES", 20);
    println!(
        "whitelist: mobility in process, {} build; {permits} active permits, {rate} checks/s \
         for {seconds} s beside {issues} permits issued/s",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        },
    );
    let ctx = TestContext::new(&[&sportello_mobility::SPEC]).await;
    let mut config = ctx.config.clone();
    config.clock = Clock::system();
    config.workers = WorkerMode::Background;
    let office = CallContext::new("gateway", "operator:mob-1", SPEZIA, "mobility.manage")
        .unwrap()
        .with_roles(&[Role::BackOffice]);

    // The zone through the API, the permits straight into the tables, then a restart so
    // the whitelist loads them as a replica does.
    let first = TestService::start(
        &sportello_mobility::SPEC,
        config.clone(),
        sportello_mobility::start,
    )
    .await;
    let zone = ZoneServiceClient::new(first.channel().await)
        .define_zone(office.request(DefineZoneRequest {
            municipality_istat_code: SPEZIA.into(),
            zone_code: "ZTL-CENTRO".into(),
            name: "ZTL Centro storico".into(),
            kind: ZoneKind::Ztl as i32,
            permit_quota: 0,
            idempotency_key: String::new(),
            streets: vec![StreetRange {
                street_code: "PRIONE".into(),
                from_number: 0,
                to_number: 0,
                parity: Parity::Unspecified as i32,
            }],
            hours: Vec::new(),
            plates_per_household: 0,
            fees: vec![
                PermitFee {
                    kind: PermitKind::Resident as i32,
                    amount_cents: 0,
                },
                PermitFee {
                    kind: PermitKind::Works as i32,
                    amount_cents: 0,
                },
            ],
        }))
        .await
        .unwrap()
        .into_inner()
        .zone
        .unwrap();
    let started = Instant::now();
    load(first.running.db().pool(), zone.id.parse().unwrap(), permits).await;
    println!(
        "loaded {permits} permits in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    first.stop().await;
    let started = Instant::now();
    let mobility =
        TestService::start(&sportello_mobility::SPEC, config, sportello_mobility::start).await;
    println!(
        "restarted with the whitelist loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let channel = mobility.channel().await;
    let camera = CallContext::new("gateway", "system:ztl-cameras", SPEZIA, "ztl.transit").unwrap();

    // The other load: works permits issued and followed by the whitelist.
    let issuing = {
        let mut permits_api = PermitServiceClient::new(channel.clone());
        let counter = CallContext::new("gateway", "operator:op-7", SPEZIA, "permit.issue")
            .unwrap()
            .with_roles(&[Role::Polivalente]);
        let deadline = Instant::now() + Duration::from_secs(seconds as u64);
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / issues.max(1) as f64));
            let (mut done, mut n) = (0usize, 0usize);
            while Instant::now() < deadline {
                tick.tick().await;
                n += 1;
                let answer = permits_api
                    .issue_permit(counter.request(IssuePermitRequest {
                        municipality_istat_code: SPEZIA.into(),
                        zone_code: "ZTL-CENTRO".into(),
                        kind: PermitKind::Works as i32,
                        holder_fiscal_code: "00211160114".into(),
                        holder_name: "Edilizia Bench S.r.l.".into(),
                        plates: vec![PlateInput {
                            plate: plate(n, 3),
                            kind: String::new(),
                        }],
                        valid_from: String::new(),
                        days: 30,
                        channel: Channel::Counter as i32,
                        idempotency_key: String::new(),
                    }))
                    .await;
                if answer.is_ok() {
                    done += 1;
                }
            }
            done
        })
    };

    // The cameras: open loop.
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let errors = Arc::new(Mutex::new(0usize));
    let authorised = Arc::new(Mutex::new(0usize));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let total = rate * seconds;
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = begin + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let mut api = WhitelistServiceClient::new(channel.clone());
        let request = camera.request(CheckTransitRequest {
            municipality_istat_code: SPEZIA.into(),
            zone_code: "ZTL-CENTRO".into(),
            plate: if i % 5 == 4 {
                plate(i % permits, 1)
            } else {
                plate((i * 7_919) % permits, 0)
            },
            transit_time: None,
        });
        let (histogram, errors, authorised) =
            (histogram.clone(), errors.clone(), authorised.clone());
        tasks.push(tokio::spawn(async move {
            match api.check_transit(request).await {
                Ok(answer) => {
                    if answer.into_inner().authorised {
                        *authorised.lock().unwrap() += 1;
                    }
                }
                Err(_) => *errors.lock().unwrap() += 1,
            }
            let micros = scheduled.elapsed().as_micros() as u64;
            histogram.lock().unwrap().record(micros.max(1)).unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = begin.elapsed().as_secs_f64();
    let issued = issuing.await.unwrap();
    let h = histogram.lock().unwrap().clone();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "CheckTransit: {total} checks in {elapsed:.1} s ({:.0}/s), {} authorised, {} errors",
        total as f64 / elapsed,
        authorised.lock().unwrap(),
        errors.lock().unwrap()
    );
    println!(
        "latency from schedule: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1_000.0
    );
    println!("works permits issued meanwhile: {issued}");
    println!(
        "target p99 ≤ 5 ms: {}",
        if ms(0.99) <= 5.0 { "met" } else { "NOT met" }
    );
    mobility.stop().await;
}
