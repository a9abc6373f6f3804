//! The occupation conflict check, end to end, against the real PostgreSQL and NATS of a
//! local stack (durable settings: fsync on), the SUAP in process, on a release build.
//!
//! A city of `BENCH_OCCUPATIONS` (default 50,000) granted occupations on a grid of 12 m
//! cells about 2.7 km wide around La Spezia: each cell holds a 4 × 3 m dehors or (every
//! fifth) a 5 × 5 m L-shape, granted for one of three summer periods; loaded straight into
//! the table through the same geometry the service uses (the exclusion constraint checks
//! every row as it goes in), then `ANALYZE`.
//!
//! Then `BENCH_ATTEMPTS` (default 2,000) sequential grant attempts, each a
//! RequestOccupation (not timed) and a GrantOccupation (timed) over gRPC, in mid-June
//! (overlapping every loaded period), cycling through three cases:
//!
//! 1. conflicting: a table inside a loaded occupation — refused by the database rule,
//!    the holder read back and named;
//! 2. free: an empty corner of a cell — granted (it then holds that corner);
//! 3. free in the notch of an L — inside the L's bounding box, outside its shape: granted.
//!
//! Before each attempt, the database's check alone is timed too: the query with the
//! exclusion constraint's own predicate (shape && shape, period && period, on the
//! statuses that hold the place), which its GiST index answers — the conflict check
//! without the gRPC call, the transaction and the durable commit around it.
//!
//! Target (issue 15): p99 ≤ 10 ms with 50,000 granted occupations. Run with
//! `make bench-suap` (it starts the servers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::time::{Duration, Instant};

use sportello_kit::{
    CallContext, Clock, Role, WorkerMode,
    testing::{TestContext, TestService},
};
use sportello_proto::suap::v1::{
    GrantOccupationRequest, LonLat as PbLonLat, OccupationKind, RequestOccupationRequest,
    SetTariffsRequest, TariffRate, occupation_service_client::OccupationServiceClient,
};
use sportello_suap::occupations::geometry::{LonLat, Place, metres_to_degrees};
use uuid::Uuid;

const SPEZIA: &str = "011015";
const ORIGIN: (f64, f64) = (9.80, 44.09);
const PITCH: f64 = 12.0;
const PERIODS: [(&str, &str); 3] = [
    ("2027-04-01", "2027-06-30"),
    ("2027-05-01", "2027-08-31"),
    ("2027-06-01", "2027-09-30"),
];
const REQUESTER: &str = "rr_0123456789abcdef0123456789abcdef";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn lonlat(east: f64, north: f64) -> LonLat {
    let (dlon, dlat) = metres_to_degrees(ORIGIN.1, east, north);
    LonLat {
        lon: ORIGIN.0 + dlon,
        lat: ORIGIN.1 + dlat,
    }
}

/// The ring of `metres` offsets in cell `(i, j)`.
fn cell_ring(i: usize, j: usize, metres: &[(f64, f64)]) -> Vec<LonLat> {
    let (x, y) = (i as f64 * PITCH, j as f64 * PITCH);
    metres.iter().map(|(e, n)| lonlat(x + e, y + n)).collect()
}

fn is_l(i: usize, j: usize) -> bool {
    (i + j).is_multiple_of(5)
}

/// What a cell holds.
fn loaded(i: usize, j: usize) -> Vec<LonLat> {
    if is_l(i, j) {
        cell_ring(
            i,
            j,
            &[
                (0.0, 0.0),
                (5.0, 0.0),
                (5.0, 1.5),
                (1.5, 1.5),
                (1.5, 5.0),
                (0.0, 5.0),
            ],
        )
    } else {
        cell_ring(i, j, &[(0.0, 0.0), (4.0, 0.0), (4.0, 3.0), (0.0, 3.0)])
    }
}

fn to_pb(ring: &[LonLat]) -> Vec<PbLonLat> {
    ring.iter()
        .map(|p| PbLonLat {
            longitude: p.lon,
            latitude: p.lat,
        })
        .collect()
}

async fn load(pool: &sqlx::PgPool, count: usize, columns: usize) {
    let started = Instant::now();
    let batch = 1_000;
    let mut cell = 0;
    while cell < count {
        let end = (cell + batch).min(count);
        let (mut ids, mut vertices, mut shapes, mut bounds, mut areas, mut starts, mut ends) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for n in cell..end {
            let (i, j) = (n % columns, n / columns);
            let place = Place::parse(&loaded(i, j)).unwrap();
            let flat: Vec<String> = place
                .vertices
                .iter()
                .flat_map(|p| [p.lon.to_string(), p.lat.to_string()])
                .collect();
            let (w, s, e, no) = place.bounds;
            let (start, last) = PERIODS[n % PERIODS.len()];
            ids.push(Uuid::now_v7());
            vertices.push(format!("{{{}}}", flat.join(",")));
            shapes.push(place.shape_literal());
            bounds.push(format!("(({w},{s}),({e},{no}))"));
            areas.push(place.area_m2);
            starts.push(start.to_owned());
            ends.push(last.to_owned());
        }
        sqlx::query(
            "insert into occupations (id, municipality, kind, vertices, shape, bounds, street,
                 zone_category, area_m2, period, permanent, requester_ref, status, canone_cents,
                 billed_area_m2, billed_days, tariff_year, tariff_version, standard_cents,
                 coefficient_milli, reduction_percent, created_at, updated_at)
             select id, '011015', 'dehors', v::float8[], s::polygon, b::box, 'Via del Prione', 1,
                    a, daterange(st::date, en::date, '[]'), false, $8, 'granted', 0, 1, 1, 2027, 1,
                    120, 1000, 0, now(), now()
               from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[],
                           $6::text[], $7::text[]) as t(id, v, s, b, a, st, en)",
        )
        .bind(&ids)
        .bind(&vertices)
        .bind(&shapes)
        .bind(&bounds)
        .bind(&areas)
        .bind(&starts)
        .bind(&ends)
        .bind(REQUESTER)
        .execute(pool)
        .await
        .unwrap();
        cell = end;
    }
    sqlx::query("analyze occupations")
        .execute(pool)
        .await
        .unwrap();
    println!(
        "loaded {count} granted occupations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "{name:<28} n={:<5} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default()),
    );
}

#[tokio::main]
async fn main() {
    let occupations = env_usize("BENCH_OCCUPATIONS", 50_000);
    let attempts = env_usize("BENCH_ATTEMPTS", 2_000);
    let columns = (occupations as f64).sqrt().ceil() as usize;
    println!(
        "occupations: suap in process, {} build; {occupations} granted occupations on a {columns}-wide grid of {PITCH} m cells; {attempts} grant attempts",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        },
    );

    let ctx = TestContext::new(&[&sportello_suap::SPEC]).await;
    let mut config = ctx.config.clone();
    config.clock = Clock::system();
    config.workers = WorkerMode::Background;
    let suap = TestService::start(&sportello_suap::SPEC, config, sportello_suap::start).await;
    let mut api = OccupationServiceClient::new(suap.channel().await);
    let admin = CallContext::new("gateway", "operator:admin", SPEZIA, "suap.tariffs")
        .unwrap()
        .with_roles(&[Role::Admin]);
    api.set_tariffs(admin.request(SetTariffsRequest {
        municipality_istat_code: SPEZIA.into(),
        year: 2027,
        population: 92_659,
        rates: vec![TariffRate {
            zone_category: 1,
            kind: OccupationKind::Dehors as i32,
            permanent: false,
            coefficient_milli: 1_500,
            reduction_percent: 0,
        }],
        idempotency_key: String::new(),
    }))
    .await
    .unwrap();
    load(suap.running.db().pool(), occupations, columns).await;

    let operator = CallContext::new("gateway", "operator:suap-2", SPEZIA, "suap.occupation")
        .unwrap()
        .with_roles(&[Role::BackOffice]);
    let (mut conflicting, mut free, mut notch, mut probes) = (vec![], vec![], vec![], vec![]);
    let pool = suap.running.db().pool();
    // Cells spread over the city (a stride coprime with the count), each used once.
    let stride = 7_919;
    let mut l_cells = (0..occupations)
        .map(|n| (n * stride) % occupations)
        .filter(|n| is_l(n % columns, n / columns));
    for attempt in 0..attempts {
        let n = (attempt * stride + 13) % occupations;
        let (mut i, mut j) = (n % columns, n / columns);
        let case = attempt % 3;
        let metres: &[(f64, f64)] = match case {
            0 => &[(0.5, 0.5), (1.2, 0.5), (1.2, 1.2), (0.5, 1.2)],
            1 => &[(6.0, 0.0), (10.0, 0.0), (10.0, 3.0), (6.0, 3.0)],
            _ => {
                let l = l_cells.next().unwrap();
                (i, j) = (l % columns, l / columns);
                &[(2.0, 2.0), (4.5, 2.0), (4.5, 4.5), (2.0, 4.5)]
            }
        };
        let ring = cell_ring(i, j, metres);
        let shape = Place::parse(&ring).unwrap().shape_literal();
        let probe_started = Instant::now();
        let holder: Option<Uuid> = sqlx::query_scalar(
            "select id from occupations
              where status in ('granted', 'valid') and shape && $1::polygon
                and period && daterange('2027-06-10', '2027-06-20', '[]')
              limit 1",
        )
        .bind(&shape)
        .fetch_optional(pool)
        .await
        .unwrap();
        probes.push(probe_started.elapsed());
        assert_eq!(
            holder.is_some(),
            case == 0,
            "attempt {attempt}: the probe disagrees"
        );
        let requested = api
            .request_occupation(operator.request(RequestOccupationRequest {
                municipality_istat_code: SPEZIA.into(),
                kind: OccupationKind::Dehors as i32,
                vertices: to_pb(&ring),
                street: "Via del Prione".into(),
                zone_category: 1,
                start_date: "2027-06-10".into(),
                end_date: "2027-06-20".into(),
                business_id: String::new(),
                requester_ref: REQUESTER.into(),
                idempotency_key: String::new(),
            }))
            .await
            .unwrap()
            .into_inner()
            .occupation
            .unwrap();
        let started = Instant::now();
        let outcome = api
            .grant_occupation(operator.request(GrantOccupationRequest {
                occupation_id: requested.id,
                idempotency_key: String::new(),
            }))
            .await;
        let took = started.elapsed();
        match (case, outcome) {
            (0, Err(status)) if status.code() == tonic::Code::FailedPrecondition => {
                conflicting.push(took);
            }
            (1, Ok(_)) => free.push(took),
            (2, Ok(_)) => notch.push(took),
            (case, outcome) => panic!("attempt {attempt} (case {case}): {outcome:?}"),
        }
    }
    let all: Vec<Duration> = conflicting
        .iter()
        .chain(&free)
        .chain(&notch)
        .copied()
        .collect();
    report("database check alone", probes);
    report("grant, all attempts", all);
    report("grant, conflicting (refused)", conflicting);
    report("grant, free corner", free);
    report("grant, free in an L's notch", notch);
    suap.stop().await;
}
