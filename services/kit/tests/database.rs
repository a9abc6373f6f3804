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
