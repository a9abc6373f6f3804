//! Issuing latency: a certificate for a person of the synthetic La Spezia (95,000
//! residents), through the gRPC API, against a real PostgreSQL and NATS, PDF included.
//!
//! Run with `make bench-registry` (a private PostgreSQL and NATS are started and thrown
//! away). Prints p50/p90/p99/max for one counter issuing after another (sequential) and
//! for four counters at once, and fails when a p99 is over the 100 ms budget. Before the
//! figures it checks, and fails otherwise, that every certificate issued has its audit row
//! and its `certificate.issued` event, published to the stream once.
//! `BENCH_ISSUES` sets how many certificates are measured per run (default 3000).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use sportello_kit::{
    CallContext, PseudonymKey,
    testing::{TestContext, TestService},
};
use sportello_proto::registry::v1::{
    CertificateType, IssueCertificateRequest, certificate_service_client::CertificateServiceClient,
    issue_certificate_request::Person,
};
use sportello_registry::{RegistryConfig, synth};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const BUDGET: Duration = Duration::from_millis(100);
const TYPES: [CertificateType; 6] = [
    CertificateType::Residence,
    CertificateType::FamilyStatus,
    CertificateType::ResidenceFamily,
    CertificateType::Birth,
    CertificateType::Citizenship,
    CertificateType::Existence,
];

fn request(reference: &str, i: usize) -> IssueCertificateRequest {
    IssueCertificateRequest {
        municipality_istat_code: "011015".into(),
        person: Some(Person::RequesterRef(reference.to_owned())),
        r#type: TYPES[i % TYPES.len()] as i32,
        r#use: "uso amministrativo".into(),
        exemption_code: if i.is_multiple_of(5) {
            "pensione_estera".into()
        } else {
            String::new()
        },
        idempotency_key: String::new(),
        responsible_official: "Maria Bianchi".into(),
        stamp_duty_payment: 0,
        stamp_duty_reference: String::new(),
        case_id: String::new(),
        // The person asks for their own certificate (birth, citizenship and existence are
        // issued to the person only, DPR 223/1989 art. 33 c. 2).
        applicant_ref: reference.to_owned(),
    }
}

struct Stats {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Stats {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn issue_all(
    mut client: CertificateServiceClient<sportello_kit::PeerChannel>,
    references: Vec<String>,
    offset: usize,
) -> Vec<Duration> {
    let context = CallContext::new("gateway", "operator:bench", "011015", "certificate.issue")
        .unwrap()
        .with_roles(&[sportello_kit::Role::Polivalente]);
    let mut samples = Vec::with_capacity(references.len());
    for (i, reference) in references.iter().enumerate() {
        let started = Instant::now();
        let reply = client
            .issue_certificate(context.request(request(reference, i + offset)))
            .await
            .unwrap_or_else(|e| panic!("issue failed: {e}"));
        samples.push(started.elapsed());
        assert!(reply.get_ref().pdf.starts_with(b"%PDF"));
    }
    samples
}

/// Checks what the figures claim to include: every certificate has its audit row and
/// its `certificate.issued` event, and every event reached the stream. Panics otherwise.
async fn check_audited_and_relayed(
    registry: &TestService,
    ctx: &TestContext,
    pool: &sqlx::PgPool,
    issued: usize,
) -> String {
    // Whatever the background relay has not published yet, published now.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: i64 =
            sqlx::query_scalar("select count(*) from outbox where published_at is null")
                .fetch_one(pool)
                .await
                .unwrap();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} events still unpublished");
        registry.running.workers.relay.run_once().await.unwrap();
    }
    let (certificates, unaudited, audits, events, published): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "select (select count(*) from certificates),
                    (select count(*) from certificates c where not exists (
                        select 1 from audit_log a
                        where a.action = 'certificate.issue' and a.record_id = c.id)),
                    (select count(*) from audit_log where action = 'certificate.issue'),
                    (select count(*) from outbox where event_type = 'registry.certificate.issued'),
                    (select count(*) from outbox where event_type = 'registry.certificate.issued'
                                                   and published_at is not null)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
    let issued = i64::try_from(issued).unwrap();
    assert_eq!(certificates, issued, "one certificate per issue");
    assert_eq!(
        (unaudited, audits),
        (0, issued),
        "every issue audited, once"
    );
    assert_eq!(
        (events, published),
        (issued, issued),
        "every issue's event in the outbox and published"
    );
    let js = async_nats::jetstream::new(ctx.nats().await);
    let stream = js
        .get_stream(ctx.config.subject_prefix.stream("registry"))
        .await
        .unwrap();
    let subject = ctx
        .config
        .subject_prefix
        .subject("registry.certificate.issued");
    let mut counts = stream.info_with_subjects(&subject).await.unwrap();
    let mut in_stream = 0;
    while let Some(entry) = futures::StreamExt::next(&mut counts).await {
        let (_, count) = entry.unwrap();
        in_stream += count;
    }
    assert_eq!(
        i64::try_from(in_stream).unwrap(),
        issued,
        "each event in the stream once"
    );
    format!(
        "{certificates} certificates, {audits} audit rows (none missing), {published} certificate.issued \
         events published, {in_stream} in the stream"
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let issues: usize = std::env::var("BENCH_ISSUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let ctx = TestContext::new(&[&sportello_registry::SPEC])
        .await
        .with_background_workers();
    let config = RegistryConfig::with_key(ctx.config.clone(), KEY).unwrap();
    let registry =
        TestService::start(&sportello_registry::SPEC, config, sportello_registry::start).await;
    let pool = registry.running.db().pool().clone();
    let (fsync, synchronous_commit): (String, String) =
        sqlx::query_as("select current_setting('fsync'), current_setting('synchronous_commit')")
            .fetch_one(&pool)
            .await
            .unwrap();
    println!(
        "registry issue bench: {} build; PostgreSQL fsync={fsync} synchronous_commit={synchronous_commit}",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        }
    );

    let key: PseudonymKey = KEY.parse().unwrap();
    let started = Instant::now();
    let options = synth::Options::for_municipality("011015".parse().unwrap());
    let outcome = synth::ensure_loaded(&pool, &options, &key, ctx.config.clock.now())
        .await
        .unwrap();
    println!(
        "synthetic La Spezia: {outcome:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    sqlx::query("analyze").execute(&pool).await.unwrap();

    // Italian residents spread over the whole register (every n-th, by fiscal code): the
    // bench issues every type, and a citizenship certificate is only for Italian citizens
    // (about 90 % of the synthetic register).
    let references: Vec<String> = sqlx::query_scalar(
        "select requester_ref from (
             select r.requester_ref, row_number() over (order by r.fiscal_code) as n
             from residents r join resident_versions v on v.resident_id = r.id
             where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
               and v.citizenship = 'IT') s
         where n % $2 = 0 limit $1",
    )
    .bind(i64::try_from(issues * 2 + 200).unwrap_or(i64::MAX))
    .bind(i64::try_from((80_000 / (issues * 2 + 200)).max(1)).unwrap_or(1))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(references.len() >= issues * 2 + 200, "not enough residents");

    let channel = registry.channel().await;
    let client = CertificateServiceClient::new(channel.clone());
    issue_all(client.clone(), references[..200].to_vec(), 0).await; // warm-up

    let started = Instant::now();
    let sequential = issue_all(client.clone(), references[200..200 + issues].to_vec(), 0).await;
    let sequential_rate = issues as f64 / started.elapsed().as_secs_f64();

    let counters = 4;
    let rest = &references[200 + issues..200 + 2 * issues];
    let started = Instant::now();
    let tasks: Vec<_> = rest
        .chunks(issues.div_ceil(counters))
        .enumerate()
        .map(|(c, chunk)| tokio::spawn(issue_all(client.clone(), chunk.to_vec(), c)))
        .collect();
    let mut concurrent = Vec::with_capacity(issues);
    for task in tasks {
        concurrent.extend(task.await.unwrap());
    }
    let concurrent_rate = issues as f64 / started.elapsed().as_secs_f64();

    let pdf_bytes: i64 = sqlx::query_scalar("select avg(length(pdf))::bigint from certificates")
        .fetch_one(&pool)
        .await
        .unwrap();
    let issued = 2 * issues + 200;
    let checked = check_audited_and_relayed(&registry, &ctx, &pool, issued).await;
    println!(
        "issued {issued} certificates (six types, PDF of {pdf_bytes} bytes on average); checked: {checked}"
    );
    let mut over = false;
    for (name, samples, rate) in [
        ("one counter ", sequential, sequential_rate),
        ("four counters", concurrent, concurrent_rate),
    ] {
        let s = stats(samples);
        over |= s.p99 > BUDGET;
        println!(
            "{name}: p50 {}  p90 {}  p99 {}  max {}  ({rate:.0} certificates/s)",
            ms(s.p50),
            ms(s.p90),
            ms(s.p99),
            ms(s.max)
        );
    }
    registry.stop().await;
    if over {
        println!("FAIL: p99 over the {} budget", ms(BUDGET));
        ExitCode::FAILURE
    } else {
        println!("ok: p99 within the {} budget", ms(BUDGET));
        ExitCode::SUCCESS
    }
}
