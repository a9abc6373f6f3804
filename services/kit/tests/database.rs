//! The kit against a real PostgreSQL: failover errors and what the service's role may do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use sportello_kit::{ErrorKind, ServiceError};
use sqlx::{Connection, PgConnection};

/// The error PostgreSQL returns when a statement raises `sqlstate`.
async fn raised(conn: &mut PgConnection, sqlstate: &str) -> sqlx::Error {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "do $$ begin raise exception 'failover test' using errcode = '{sqlstate}'; end $$"
    )))
    .execute(conn)
    .await
    .expect_err("the statement raises")
}

#[tokio::test]
async fn failover_errors_are_unavailable_and_others_are_not() {
    let ctx = common::context().await;
    let mut conn = PgConnection::connect(&ctx.config.database_url)
        .await
        .unwrap();
    // 57P01-57P03, class 08 (two of its codes) and 25006: retry later.
    for code in ["57P01", "57P02", "57P03", "08000", "08006", "25006"] {
        let error = ServiceError::from(raised(&mut conn, code).await);
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{code}");
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), tonic::Code::Unavailable, "{code}");
    }
    // A conflict stays ABORTED; a bug stays INTERNAL (its text never reaches the caller).
    let error = ServiceError::from(raised(&mut conn, "40001").await);
    assert_eq!(error.kind(), ErrorKind::Aborted);
    for code in ["23505", "42P01"] {
        let error = ServiceError::from(raised(&mut conn, code).await);
        assert_eq!(error.kind(), ErrorKind::Internal, "{code}");
    }
}

#[tokio::test]
async fn a_statement_past_its_timeout_is_deadline_exceeded_not_internal() {
    let ctx = common::context().await;
    let mut conn = PgConnection::connect(&ctx.config.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("set statement_timeout = '50ms'")
        .execute(&mut conn)
        .await
        .unwrap();
    let error = sqlx::raw_sql("select pg_sleep(5)")
        .execute(&mut conn)
        .await
        .expect_err("the statement times out");
    let error = ServiceError::from(error);
    assert_eq!(error.kind(), ErrorKind::DeadlineExceeded);
    assert!(error.to_string().contains("in tempo"), "{error}");
    let status = tonic::Status::from(error);
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
}

#[tokio::test]
async fn a_session_terminated_by_another_is_unavailable() {
    let ctx = common::context().await;
    let mut victim = PgConnection::connect(&ctx.config.database_url)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .unwrap();
    let mut admin = PgConnection::connect(&ctx.config.database_url)
        .await
        .unwrap();
    let terminated: bool = sqlx::query_scalar("select pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(terminated);
    let error = sqlx::query("select 1")
        .execute(&mut victim)
        .await
        .expect_err("the session is gone");
    let status = tonic::Status::from(ServiceError::from(error));
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

/// `url` logging in as `user` instead (the test cluster trusts local connections).
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{rest}")
}

/// A new empty database with a fresh owner role and service role (names unique to the
/// test: roles belong to the whole cluster). Returns (owner URL, service URL, service role).
async fn database_with_roles() -> (String, String, String) {
    let admin_url = std::env::var(sportello_kit::testing::DATABASE_URL_VAR).unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let (db, owner, service) = (
        format!("roles_{tag}"),
        format!("owner_{tag}"),
        format!("svc_{tag}"),
    );
    // One statement each: CREATE DATABASE refuses to share an implicit transaction.
    for statement in [
        format!("create role {owner} login"),
        format!("create role {service} login"),
        format!("create database {db} owner {owner}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let url = sportello_kit::testing::with_database(&admin_url, &db);
    (as_user(&url, &owner), as_user(&url, &service), service)
}

#[tokio::test]
async fn the_service_role_owns_nothing_and_cannot_change_audit_rows_or_tables() {
    let ctx = common::context().await;
    let (owner_url, service_url, service_role) = database_with_roles().await;
    let mut config = ctx.config.clone();
    config.database_url = service_url.clone();
    config.database_migration_url = Some(owner_url);
    // The whole start: the owner migrates, the service role is granted, the owner's
    // session is closed.
    let service = sportello_kit::Service::start(&common::SPEC, config.clone())
        .await
        .unwrap();
    let pool = service.db().pool();
    assert_eq!(
        sportello_kit::db::current_role(pool).await.unwrap(),
        service_role
    );

    // What a service does: write and change its rows, append to its audit table, emit.
    let mut uow = service.db().begin().await.unwrap();
    common::emit_one(&mut uow, "ROLES").await;
    uow.commit().await.unwrap();
    sqlx::raw_sql(
        "insert into effects (source, note) values ('test', 'a');
         update effects set note = 'b';
         delete from effects;
         insert into effects_audit (note) values ('who read what');
         select count(*) from effects_audit;",
    )
    .execute(pool)
    .await
    .unwrap();

    // What it must not do: change or remove audit rows, change any table's definition.
    for statement in [
        "update effects_audit set note = 'forged'",
        "update effects_audit set seq = 7, row_hash = sha256('forged')",
        "delete from effects_audit",
        "select set_config('sportello.audit_archive', 'on', false);
         delete from effects_audit",
        "truncate effects_audit",
        // The chain's head and checkpoints: the owner's to write.
        "update _audit_chains set last_seq = 0",
        "insert into _audit_checkpoints (table_name, seq, row_hash, rows, archived_before, file_sha256)
         values ('effects_audit', 1, sha256(''), 1, now(), sha256(''))",
        "delete from _audit_checkpoints",
        "truncate effects",
        "alter table effects add column sneaky text",
        "alter table effects_audit disable trigger all",
        "drop table effects_audit",
        "create table mine (id int)",
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99999999999999, 'forged', true, '\\x00', 0)",
    ] {
        let error = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .expect_err(statement);
        let code = error.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
    }
    let audit_rows: i64 = sqlx::query_scalar("select count(*) from effects_audit")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(audit_rows, 1, "the audit row is untouched");
    // Chained although the role may not write the head (the trigger runs as the owner),
    // and verifiable by the role itself.
    let report = sportello_kit::audit::verify(pool, "kittest", "effects_audit")
        .await
        .unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.rows, report.head_seq), (1, 1));

    // It owns nothing: no schema, no relation, no function, no type.
    let owned: i64 = sqlx::query_scalar(
        "select (select count(*) from pg_namespace where nspowner = r.oid)
              + (select count(*) from pg_class where relowner = r.oid)
              + (select count(*) from pg_proc where proowner = r.oid)
              + (select count(*) from pg_type where typowner = r.oid)
         from pg_roles r where r.rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the service role owns nothing");

    // A replica without the owner's URL finds the schema migrated and starts.
    config.database_migration_url = None;
    let replica = sportello_kit::Service::start(&common::SPEC, config)
        .await
        .unwrap();
    drop(replica);
}

#[tokio::test]
async fn a_service_role_without_the_owner_cannot_start_on_an_unmigrated_schema() {
    let ctx = common::context().await;
    let (owner_url, service_url, _) = database_with_roles().await;
    // The owner creates the schema but runs no migration: what a release finds when its
    // init step did not run.
    let mut owner = PgConnection::connect(&owner_url).await.unwrap();
    sqlx::raw_sql("create schema kittest")
        .execute(&mut owner)
        .await
        .unwrap();
    let mut config = ctx.config.clone();
    config.database_url = service_url;
    let error = sportello_kit::Service::start(&common::SPEC, config)
        .await
        .expect_err("an unmigrated schema is refused");
    let message = error.to_string();
    assert!(message.contains("non è migrato"), "{message}");
    assert!(message.contains("is not migrated"), "{message}");
}

/// `url` with `query` appended.
fn with_query(url: &str, query: &str) -> String {
    format!("{url}{}{query}", if url.contains('?') { '&' } else { '?' })
}

async fn uses_tls(url: &str) -> Result<bool, sportello_kit::db::DbError> {
    let pool = sportello_kit::db::connect(
        url,
        "public",
        1,
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(5),
    )
    .await?;
    let ssl: bool = sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(ssl)
}

#[tokio::test]
async fn tls_to_postgresql_verifies_the_server() {
    let ctx = common::context().await;
    let ca = std::env::var("SPORTELLO_TEST_DATABASE_CA")
        .expect("SPORTELLO_TEST_DATABASE_CA is set by deploy/local/test.sh");
    let url = &ctx.config.database_url;

    // What production asks for: encrypted, the server verified by the CA and its name.
    let verified = with_query(url, &format!("sslmode=verify-full&sslrootcert={ca}"));
    assert!(
        uses_tls(&verified).await.unwrap(),
        "the session is encrypted"
    );

    // A server the CA did not sign for is refused, not trusted.
    let other_ca = std::env::temp_dir().join(format!("other-ca-{}.pem", uuid::Uuid::new_v4()));
    let authority = sportello_kit::trust::pki::Authority::generate("Not PostgreSQL's CA").unwrap();
    std::fs::write(&other_ca, authority.cert_pem()).unwrap();
    let wrong = with_query(
        url,
        &format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
    );
    let refused = uses_tls(&wrong).await;
    let _ = std::fs::remove_file(&other_ca);
    // rustls says why through sqlx's I/O error: the issuer is not the one we trust.
    let refusal = format!("{refused:?}");
    assert!(
        refusal.contains("UnknownIssuer"),
        "a server certificate from another CA must fail the TLS handshake: {refusal}"
    );

    // Plaintext only when asked for (the local default prefers TLS).
    let plain = with_query(url, "sslmode=disable");
    assert!(!uses_tls(&plain).await.unwrap());
}
