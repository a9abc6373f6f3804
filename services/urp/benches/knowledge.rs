//! The info-desk's search over a large knowledge base, against the real PostgreSQL of a
//! local stack (durable settings), URP in process, on a release build.
//!
//! `BENCH_ANSWERS` (default 5,000) answers loaded straight into the table, titles and
//! bodies drawn from the words of a municipality's services; then `BENCH_SEARCHES`
//! (default 2,000) questions through gRPC, one after another, each timed to its answer:
//! plain words, words without their accents, words with a letter missing. Before them,
//! `BENCH_WARMUP` (default 200) other questions of the same mix, not measured.
//!
//! Target (issue 18): a knowledge-base search p99 ≤ 20 ms over 5,000 answers.
//! Run with `make bench-urp` (it starts the servers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::time::{Duration, Instant};

use sportello_kit::{
    CallContext, Clock, Role,
    testing::{TestContext, TestService},
};
use sportello_proto::urp::v1::{
    SearchAnswersRequest, knowledge_service_client::KnowledgeServiceClient,
};
use uuid::Uuid;

const SPEZIA: &str = "011015";
const WORDS: &[&str] = &[
    "certificato",
    "residenza",
    "carta",
    "identità",
    "passaporto",
    "matrimonio",
    "nascita",
    "morte",
    "cittadinanza",
    "iscrizione",
    "scuola",
    "mensa",
    "trasporto",
    "nido",
    "retta",
    "permesso",
    "sosta",
    "ztl",
    "contrassegno",
    "disabili",
    "dehors",
    "suolo",
    "pubblico",
    "commercio",
    "somministrazione",
    "scia",
    "edilizia",
    "rifiuti",
    "tari",
    "tributi",
    "segnalazione",
    "reclamo",
    "accesso",
    "atti",
    "documenti",
    "elettorale",
    "tessera",
    "autentica",
    "firma",
    "copia",
    "conforme",
    "stato",
    "famiglia",
    "cambio",
    "indirizzo",
    "perché",
    "quando",
    "dove",
    "quanto",
    "costa",
    "serve",
    "prenotazione",
    "sportello",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn word(n: usize) -> &'static str {
    WORDS[n % WORDS.len()]
}

/// The `i`-th question, as typed at the counter: a third plain words, a third without
/// their accents, a third a word with a letter missing.
fn question(i: usize) -> String {
    match i % 3 {
        0 => format!("{} {}", word(i), word(i / 3 + 5)),
        // Without accents, as typed on a phone.
        1 => format!(
            "{} {}",
            word(i).replace('à', "a").replace('é', "e"),
            word(i + 9)
        ),
        // A letter missing.
        _ => {
            let w = word(i);
            let cut = w.len() / 2;
            format!("{}{}", &w[..cut.min(w.len())], &w[(cut + 1).min(w.len())..])
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::main]
async fn main() {
    let answers = env_usize("BENCH_ANSWERS", 5_000);
    let searches = env_usize("BENCH_SEARCHES", 2_000);
    let warmup = env_usize("BENCH_WARMUP", 200);
    println!(
        "knowledge: urp in process, {} build; {answers} answers, {warmup} searches to warm up, {searches} measured",
        if cfg!(debug_assertions) {
            "DEBUG (not a measurement)"
        } else {
            "release"
        },
    );
    let ctx = TestContext::new(&[&sportello_urp::SPEC]).await;
    let mut config = ctx.config.clone();
    config.clock = Clock::system();
    let urp = TestService::start(&sportello_urp::SPEC, config, sportello_urp::start).await;
    let pool = urp.running.db().pool();
    let started = Instant::now();
    let ids: Vec<Uuid> = (0..answers).map(|_| Uuid::now_v7()).collect();
    let codes: Vec<String> = (0..answers).map(|n| format!("urp.answer_{n:05}")).collect();
    let titles: Vec<String> = (0..answers)
        .map(|n| format!("{} {} {}", word(n), word(n / 7 + 3), word(n / 49 + 11)))
        .collect();
    let bodies: Vec<String> = (0..answers)
        .map(|n| {
            (0..40)
                .map(|k| word(n * 31 + k * 17))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    sqlx::query(
        "insert into kb_answers (id, municipality, service_code, title, body, keywords,
                                 created_at, updated_at)
         select id, $1, code, title, body, '', now(), now()
           from unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) as t(id, code, title, body)",
    )
    .bind(SPEZIA)
    .bind(&ids)
    .bind(&codes)
    .bind(&titles)
    .bind(&bodies)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze").execute(pool).await.unwrap();
    println!(
        "loaded {answers} answers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut api = KnowledgeServiceClient::new(urp.channel().await);
    let desk = CallContext::new("gateway", "operator:info-1", SPEZIA, "knowledge.search")
        .unwrap()
        .with_roles(&[Role::InfoDesk]);
    let ask = |query: String| {
        desk.request(SearchAnswersRequest {
            municipality_istat_code: SPEZIA.into(),
            query,
            limit: 10,
        })
    };
    // Warm-up, not measured: the pool's connection, its prepared statement and the
    // table's pages in cache, as at a counter open for a while (the first question paid
    // them, up to 100 ms). The same mix; nothing caches results, in URP or PostgreSQL,
    // and the 2,000 measured questions repeat their 159 distinct texts anyway.
    for i in searches..searches + warmup {
        api.search_answers(ask(question(i))).await.unwrap();
    }
    let mut times = Vec::with_capacity(searches);
    let mut found = 0usize;
    for i in 0..searches {
        let query = question(i);
        let started = Instant::now();
        let matches = api
            .search_answers(ask(query))
            .await
            .unwrap()
            .into_inner()
            .matches;
        times.push(started.elapsed());
        if !matches.is_empty() {
            found += 1;
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "SearchAnswers over {answers}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {found} of {searches} found something",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times[times.len() - 1]),
    );
    println!(
        "target p99 ≤ 20 ms: {}",
        if percentile(&times, 0.99) <= Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    urp.stop().await;
}
