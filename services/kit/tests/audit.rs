//! The tamper-evident audit against a real PostgreSQL: every insert chained, every kind of
//! tampering found at its seq, concurrent inserts making one chain, archival keeping six
//! months and leaving a chain that still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use sportello_kit::audit::{
    self, AuditRetention, Break, Problem, command::ArchiveArgs, command::archive_schema,
};
use sqlx::PgPool;

const SCHEMA: &str = "kittest";
const TABLE: &str = "effects_audit";

/// The test's database, as its superuser (the owner of everything, who can also tamper).
async fn database() -> PgPool {
    let url = sportello_kit::testing::fresh_database(&[&common::SPEC]).await;
    sportello_kit::db::connect(
        &url,
        SCHEMA,
        8,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
    .await
    .unwrap()
}

async fn insert(pool: &PgPool, note: &str, at: Timestamp) {
    sqlx::query("insert into effects_audit (note, at) values ($1, $2)")
        .bind(note)
        .bind(jiff_sqlx::Timestamp::from(at))
        .execute(pool)
        .await
        .unwrap();
}

/// `n` rows a day apart from `from`.
async fn rows(pool: &PgPool, n: i64, from: Timestamp) {
    for i in 0..n {
        insert(pool, &format!("read {i}"), from + (i * 24).hours()).await;
    }
}

/// Runs `sql` as the superuser with the table's triggers off: what someone holding the
/// database's keys can do, and what the chain must show.
async fn tamper(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "begin;
         alter table effects_audit disable trigger user;
         {sql};
         alter table effects_audit enable trigger user;
         commit;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

async fn first_bad(pool: &PgPool) -> Option<Break> {
    audit::verify(pool, SCHEMA, TABLE).await.unwrap().first_bad
}

fn at(seq: i64, problem: Problem) -> Option<Break> {
    Some(Break { seq, problem })
}

fn recent() -> Timestamp {
    Timestamp::now() - 24.hours()
}

#[tokio::test]
async fn an_untouched_chain_verifies_whatever_the_sessions_time_zone() {
    let pool = database().await;
    let empty = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert!(empty.is_intact(), "{empty}");
    assert_eq!((empty.rows, empty.head_seq), (0, 0));

    rows(&pool, 3, recent()).await;
    // A session in another time zone writes the same instants differently in JSON: the
    // hash must not care.
    sqlx::raw_sql(
        "set timezone = 'America/New_York';
         insert into effects_audit (note, at) values ('read in New York', now());
         reset timezone;",
    )
    .execute(&pool)
    .await
    .unwrap();
    // What the service writes in seq, prev_hash or row_hash is not what is kept.
    sqlx::query(
        "insert into effects_audit (note, seq, prev_hash, row_hash) values ('forged', 1, '\\x00', '\\x00')",
    )
    .execute(&pool)
    .await
    .unwrap();

    let report = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.rows, report.head_seq, report.checkpoint), (5, 5, 0));
    let seqs: Vec<i64> = sqlx::query_scalar("select seq from effects_audit order by seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert!(report.to_string().contains("catena integra / chain intact"));

    let schema = audit::verify_schema(&pool, SCHEMA).await.unwrap();
    assert!(schema.is_intact());
    assert_eq!(schema.reports, [report]);
}

#[tokio::test]
async fn a_changed_field_is_found_at_its_seq() {
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "update effects_audit set note = 'nobody read it' where seq = 3",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(3, Problem::Changed));
    let report = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert_eq!(
        report.to_string(),
        "effects_audit: CATENA INTERROTTA / CHAIN BROKEN at seq 3: riga modificata / row changed"
    );

    // Its time moved instead.
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "update effects_audit set at = at - interval '1 day' where seq = 2",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(2, Problem::Changed));
}

#[tokio::test]
async fn a_deleted_row_is_missing_inside_at_the_start_or_at_the_tail() {
    for (delete, missing) in [
        ("seq = 3", 3),
        ("seq = 1", 1),
        ("seq = 5", 5),
        ("seq >= 4", 4),
    ] {
        let pool = database().await;
        rows(&pool, 5, recent()).await;
        tamper(&pool, &format!("delete from effects_audit where {delete}")).await;
        assert_eq!(
            first_bad(&pool).await,
            at(missing, Problem::Missing),
            "{delete}"
        );
    }

    // Deleted, and the rows after it renumbered to close the gap.
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "delete from effects_audit where seq = 3;
         update effects_audit set seq = seq - 1 where seq > 3;
         update _audit_chains set last_seq = 4",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(3, Problem::Missing));
}

#[tokio::test]
async fn swapped_rows_are_reordered() {
    // Their places (seq) swapped.
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "update effects_audit set seq = -2 where seq = 2;
         update effects_audit set seq = 2 where seq = 4;
         update effects_audit set seq = 4 where seq = -2",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(2, Problem::Reordered));

    // Two neighbours, whole (content and chain values), put back in each other's place.
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "create temp table swapped as select * from effects_audit where seq in (2, 3);
         delete from effects_audit where seq in (2, 3);
         insert into effects_audit (id, note, at, seq, prev_hash, row_hash) overriding system value
             select id, note, at, 5 - seq, prev_hash, row_hash from swapped",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(2, Problem::Reordered));
}

#[tokio::test]
async fn a_row_rewritten_with_its_hash_recomputed_still_breaks_the_chain() {
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "update effects_audit x set note = 'nobody read it' where seq = 3;
         update effects_audit x set row_hash = audit_row_hash(prev_hash, x) where seq = 3",
    )
    .await;
    // Row 3 is consistent in itself now; row 4 follows a row that is nowhere.
    assert_eq!(first_bad(&pool).await, at(4, Problem::Missing));

    // The last row rewritten so: the head kept apart says so.
    let pool = database().await;
    rows(&pool, 5, recent()).await;
    tamper(
        &pool,
        "update effects_audit x set note = 'nobody read it' where seq = 5;
         update effects_audit x set row_hash = audit_row_hash(prev_hash, x) where seq = 5",
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(5, Problem::Changed));
}

#[tokio::test]
async fn concurrent_inserts_from_several_connections_make_one_chain() {
    let pool = database().await;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                // Two rows per transaction: the chain's lock is held until commit.
                let mut tx = pool.begin().await.unwrap();
                for half in ["a", "b"] {
                    sqlx::query("insert into effects_audit (note) values ($1)")
                        .bind(format!("task {task} read {i}{half}"))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let report = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.rows, report.head_seq), (400, 400));
    // A transaction's rows are next to each other in the chain.
    let split: i64 = sqlx::query_scalar(
        "select count(*) from effects_audit a join effects_audit b on b.note = left(a.note, -1) || 'b'
          where a.note like '%a' and b.seq <> a.seq + 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(split, 0);
}

#[tokio::test]
async fn a_table_made_an_audit_table_chains_its_rows_in_time_order() {
    let pool = database().await;
    sqlx::raw_sql(
        "create table older_audit (id int primary key, at timestamptz not null, note text);
         insert into older_audit values
             (1, '2026-03-01T10:00:00Z', 'third'),
             (2, '2026-01-01T10:00:00Z', 'first'),
             (3, '2026-02-01T10:00:00Z', null),
             (4, '2026-02-01T10:00:00Z', 'second, same instant, later id');
         call audit_chain_enable('older_audit', 'at');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let order: Vec<i32> = sqlx::query_scalar("select id from older_audit order by seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(order, [2, 3, 4, 1]);
    let report = audit::verify(&pool, SCHEMA, "older_audit").await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.rows, 4);

    // A nullable column added later leaves the older rows' hashes as they were.
    sqlx::raw_sql(
        "alter table older_audit add column purpose text;
         insert into older_audit (id, at, note, purpose) values (5, now(), 'fifth', 'audit')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let report = audit::verify(&pool, SCHEMA, "older_audit").await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.rows, 5);

    // An audit table without its chain is named.
    sqlx::raw_sql("create table stray_audit (id int primary key)")
        .execute(&pool)
        .await
        .unwrap();
    let schema = audit::verify_schema(&pool, SCHEMA).await.unwrap();
    assert_eq!(schema.unchained, ["stray_audit"]);
    assert!(!schema.is_intact());
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("audit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn archival_moves_rows_past_the_retention_to_a_file_and_the_rest_still_verifies() {
    let pool = database().await;
    let now = Timestamp::now();
    // A year and a half of reads, one every ten days, then three of this week.
    let old: Timestamp = now - (18 * 30 * 24).hours();
    for i in 0..54 {
        insert(&pool, &format!("old read {i}"), old + (i * 10 * 24).hours()).await;
    }
    rows(&pool, 3, now - (3 * 24).hours()).await;
    let total: i64 = 57;
    let dir = temp_dir();
    let args = ArchiveArgs {
        to: dir.clone(),
        before: None,
        table: None,
    };
    let retention = AuditRetention::default();
    let archived = archive_schema(&pool, SCHEMA, &args, now, retention)
        .await
        .unwrap();
    assert_eq!(archived.len(), 1);
    let archived = &archived[0];
    // Everything older than 183 days: (540 - 183) / 10 rounded up.
    let kept_after: i64 = sqlx::query_scalar("select count(*) from effects_audit")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(archived.first_seq, 1);
    assert_eq!(archived.rows as i64 + kept_after, total);
    assert_eq!(archived.last_seq, archived.rows as i64);
    // Row i is from 540 - 10 i days ago: older than 183 days up to i = 35.
    assert_eq!(archived.rows, 36);
    let oldest_kept: jiff_sqlx::Timestamp = sqlx::query_scalar("select min(at) from effects_audit")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(oldest_kept.to_jiff() >= now - (183 * 24).hours());

    // The file: every row, verifiable alone, tied to the checkpoint by its sha256.
    let summary = audit::verify_archive(&archived.file).unwrap();
    assert_eq!(summary.rows, archived.rows);
    assert_eq!(
        (summary.first_seq, summary.last_seq),
        (1, archived.last_seq)
    );
    assert_eq!(summary.first_prev, audit::GENESIS);
    assert_eq!(summary.file_sha256, archived.file_sha256);
    let (cp_hash, cp_file): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "select row_hash, file_sha256 from _audit_checkpoints where table_name = 'effects_audit'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(cp_hash, summary.last_hash);
    assert_eq!(cp_file, archived.file_sha256);

    // The rest verifies from the checkpoint; the chain goes on after it.
    insert(&pool, "after the archival", now).await;
    let report = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.checkpoint, archived.last_seq);
    assert_eq!(report.rows as i64, kept_after + 1);
    assert_eq!(report.head_seq, total + 1);

    // A second pass finds nothing old enough; a deleted row after the checkpoint is still
    // found.
    assert!(
        archive_schema(&pool, SCHEMA, &args, now, retention)
            .await
            .unwrap()
            .is_empty()
    );
    let first_kept = archived.last_seq + 1;
    tamper(
        &pool,
        &format!("delete from effects_audit where seq = {first_kept}"),
    )
    .await;
    assert_eq!(first_bad(&pool).await, at(first_kept, Problem::Missing));

    // A changed line of the file is found.
    let text = std::fs::read_to_string(&archived.file).unwrap();
    std::fs::write(&archived.file, text.replacen("old read 1", "old read 9", 1)).unwrap();
    let error = audit::verify_archive(&archived.file)
        .unwrap_err()
        .to_string();
    assert!(error.contains("row changed"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// What the database answers `sql`, run as the owner in one transaction on the archival
/// path (`sportello.audit_archive = on`) unless `archiving` is false.
async fn as_owner(pool: &PgPool, archiving: bool, sql: &str) -> Result<(), String> {
    let mut tx = pool.begin().await.unwrap();
    if archiving {
        sqlx::query("select set_config('sportello.audit_archive', 'on', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *tx)
        .await
        .map_err(|error| error.to_string())?;
    tx.commit().await.map_err(|error| error.to_string())
}

const CHECKPOINT_2: &str = "insert into _audit_checkpoints
        (table_name, seq, row_hash, rows, archived_before, file_sha256)
    select 'effects_audit', seq, row_hash, 2, now(), sha256('file')
      from effects_audit where seq = 2";

#[tokio::test]
async fn archival_keeps_six_months_whatever_is_asked() {
    let pool = database().await;
    let now = Timestamp::now();
    // Two rows of a year ago, two of this month.
    rows(&pool, 2, now - (365 * 24).hours()).await;
    rows(&pool, 2, now - (10 * 24).hours()).await;
    let dir = temp_dir();

    // The command refuses a cut-off inside the retention.
    let error = audit::archive(
        &pool,
        SCHEMA,
        TABLE,
        now - (30 * 24).hours(),
        now,
        AuditRetention::default(),
        &dir,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("si conservano 183 giorni"), "{error}");
    let retention = AuditRetention::new(Duration::from_secs(400 * 86_400)).unwrap();
    let error = audit::archive(
        &pool,
        SCHEMA,
        TABLE,
        now - (300 * 24).hours(),
        now,
        retention,
        &dir,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("400"), "{error}");

    // The database, whatever the command: no delete outside the archival path or beyond
    // a checkpoint, no checkpoint outside it, none on rows younger than six months.
    let refused = [
        (false, "delete from effects_audit where seq = 1", "append-only"),
        (true, "delete from effects_audit where seq = 1", "append-only"),
        (false, CHECKPOINT_2, "only by archive-audit"),
        (
            true,
            "insert into _audit_checkpoints (table_name, seq, row_hash, rows, archived_before, file_sha256)
             values ('effects_audit', 2, sha256('not the row'), 2, now(), sha256('file'))",
            "does not match",
        ),
        (
            true,
            "insert into _audit_checkpoints (table_name, seq, row_hash, rows, archived_before, file_sha256)
             select 'effects_audit', seq, row_hash, 3, now(), sha256('file') from effects_audit where seq = 3",
            "at least six months",
        ),
        (
            true,
            &format!("{CHECKPOINT_2}; delete from effects_audit where seq <= 3"),
            "append-only",
        ),
        (true, "truncate effects_audit", "append-only"),
        (true, "update effects_audit set note = 'x' where seq = 1", "append-only"),
    ];
    for (archiving, sql, why) in refused {
        let error = as_owner(&pool, archiving, sql).await.expect_err(sql);
        assert!(error.contains(why), "{sql}: {error}");
    }
    assert_eq!(first_bad(&pool).await, None);

    // The archival path itself: checkpoint, then the rows it covers.
    as_owner(
        &pool,
        true,
        &format!("{CHECKPOINT_2}; delete from effects_audit where seq <= 2"),
    )
    .await
    .unwrap();
    let report = audit::verify(&pool, SCHEMA, TABLE).await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.checkpoint, report.rows), (2, 2));
    // A checkpoint is never changed, nor one put behind it.
    for sql in [
        "update _audit_checkpoints set seq = 1",
        "delete from _audit_checkpoints",
        "insert into _audit_checkpoints (table_name, seq, row_hash, rows, archived_before, file_sha256)
         values ('effects_audit', 1, sha256('x'), 1, now(), sha256('file'))",
    ] {
        let error = as_owner(&pool, true, sql).await.expect_err(sql);
        assert!(
            error.contains("never changed") || error.contains("is not after"),
            "{sql}: {error}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_commands_exit_by_what_they_found() {
    use sportello_kit::audit::command::{archive_main, dispatch, verify_main};
    use std::process::ExitCode;

    let url = sportello_kit::testing::fresh_database(&[&common::SPEC]).await;
    let pool = sportello_kit::db::connect(
        &url,
        SCHEMA,
        1,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let now = Timestamp::now();
    rows(&pool, 3, now - (400 * 24).hours()).await;
    rows(&pool, 2, recent()).await;
    let env = sportello_kit::Env::from_pairs([
        ("DATABASE_URL", url.as_str()),
        ("DATABASE_MIGRATION_URL", url.as_str()),
    ]);
    assert_eq!(verify_main(&common::SPEC, &env).await, ExitCode::SUCCESS);

    // archive-audit: the three old rows, into the directory given.
    let dir = temp_dir();
    let args = vec!["--to".to_owned(), dir.display().to_string()];
    assert_eq!(
        archive_main(&common::SPEC, &env, &args).await,
        ExitCode::SUCCESS
    );
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    let file = files[0].as_ref().unwrap().path();
    assert!(
        file.ends_with("kittest.effects_audit.1-3.jsonl"),
        "{file:?}"
    );
    assert_eq!(verify_main(&common::SPEC, &env).await, ExitCode::SUCCESS);
    // Run again: nothing left old enough, nothing written.
    assert_eq!(
        archive_main(&common::SPEC, &env, &args).await,
        ExitCode::SUCCESS
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    // A broken chain: 1.
    tamper(&pool, "update effects_audit set note = 'x' where seq = 5").await;
    assert_eq!(verify_main(&common::SPEC, &env).await, ExitCode::from(1));
    // Configuration errors: 2, also for a service's start with too short a retention.
    let no_url = sportello_kit::Env::from_pairs([]);
    assert_eq!(verify_main(&common::SPEC, &no_url).await, ExitCode::from(2));
    assert_eq!(
        archive_main(&common::SPEC, &env, &[]).await,
        ExitCode::from(2)
    );
    let short = sportello_kit::Env::from_pairs([("AUDIT_RETENTION", "90d")]);
    assert_eq!(
        dispatch(&common::SPEC, &short, &[]).await,
        Some(ExitCode::from(2))
    );
    assert_eq!(dispatch(&common::SPEC, &no_url, &[]).await, None);
    std::fs::remove_dir_all(dir).unwrap();
}
