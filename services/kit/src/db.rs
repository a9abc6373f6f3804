//! PostgreSQL: one pool per service, one schema per service, migrations at start.
//!
//! A service's connections have `search_path` set to its own schema, so its SQL never
//! names the schema and never reaches another service's tables. At start the kit's
//! tables (outbox, inbox, timers, idempotency keys) and then the service's own
//! migrations run under a per-schema advisory lock, so replicas starting together
//! migrate once. Migrations are written expand-then-contract: the previous release keeps
//! working while a rolling upgrade is under way.

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};

static KIT_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A database set-up failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `DATABASE_URL` cannot be parsed.
    #[error("DATABASE_URL is invalid: {0}")]
    Url(sqlx::Error),
    /// The database did not answer in time.
    #[error("cannot reach PostgreSQL within {seconds}s: {source}")]
    Unreachable {
        /// How long we tried.
        seconds: u64,
        /// The last error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating schema {schema} failed: {source}")]
    Migrate {
        /// The service's schema.
        schema: String,
        /// Why.
        source: MigrateError,
    },
    /// Another database error.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Opens the service's pool with `search_path` = its schema and a `statement_timeout`
/// (a stuck statement fails rather than holding its connection and locks). Retries for `patience`
/// while PostgreSQL is not yet reachable (it may be starting beside us).
pub async fn connect(
    url: &str,
    schema: &str,
    max_connections: u32,
    patience: Duration,
    statement_timeout: Duration,
) -> Result<PgPool, DbError> {
    let options: PgConnectOptions = url.parse().map_err(DbError::Url)?;
    let statement_timeout = format!("{}ms", statement_timeout.as_millis().max(1));
    let options = options
        .options([
            ("search_path", schema),
            ("statement_timeout", statement_timeout.as_str()),
        ])
        .application_name(&format!("sportello-{schema}"));
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);

    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(pool),
            Err(error) if started.elapsed() + delay < patience => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "PostgreSQL not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(source) => {
                return Err(DbError::Unreachable {
                    seconds: patience.as_secs(),
                    source,
                });
            }
        }
    }
}

/// Creates the schema and runs the kit's and the service's migrations, under an
/// advisory lock keyed by the schema.
pub async fn migrate(pool: &PgPool, schema: &str, service: &Migrator) -> Result<(), DbError> {
    let mut conn = pool.acquire().await?;
    let lock = advisory_key(&format!("sportello.migrate.{schema}"));
    sqlx::query("select pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut *conn)
        .await?;

    let result = async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "create schema if not exists {}",
            quote_ident(schema)
        )))
        .execute(&mut *conn)
        .await?;
        for (table, source) in [
            ("_kit_migrations", &KIT_MIGRATOR),
            ("_sqlx_migrations", service),
        ] {
            let mut migrator = Migrator::with_migrations(source.iter().cloned().collect());
            migrator.dangerous_set_table_name(format!("{}.{table}", quote_ident(schema)));
            // We hold our own per-schema lock; sqlx's lock is per database and would make
            // services starting together wait on each other.
            migrator.set_locking(false);
            migrator
                .run(&mut *conn)
                .await
                .map_err(|source| DbError::Migrate {
                    schema: schema.to_owned(),
                    source,
                })?;
        }
        Ok(())
    }
    .await;

    let unlock = sqlx::query("select pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut *conn)
        .await;
    result.and(unlock.map(|_| ()).map_err(DbError::from))
}

/// Every migration (kit's and service's), for building test templates.
pub fn all_migrations(service: &Migrator) -> impl Iterator<Item = &sqlx::migrate::Migration> {
    KIT_MIGRATOR.iter().chain(service.iter())
}

/// A stable 64-bit advisory-lock key for a name.
pub fn advisory_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// PostgreSQL error codes the services name at their repository edge.
pub mod sqlstate {
    /// `unique_violation`.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// `foreign_key_violation`.
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    /// `check_violation`.
    pub const CHECK_VIOLATION: &str = "23514";
    /// `exclusion_violation`.
    pub const EXCLUSION_VIOLATION: &str = "23P01";
    /// `serialization_failure`.
    pub const SERIALIZATION_FAILURE: &str = "40001";
    /// `deadlock_detected`.
    pub const DEADLOCK_DETECTED: &str = "40P01";
    /// `admin_shutdown`: the server is shutting down or an administrator ended the session.
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    /// `crash_shutdown`: another backend crashed and the server is restarting.
    pub const CRASH_SHUTDOWN: &str = "57P02";
    /// `cannot_connect_now`: the server is starting up or in recovery.
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
    /// `read_only_sql_transaction`: a write reached a standby (a failover not yet seen by
    /// the pool, or a primary demoted under us).
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";

    /// Whether `code` says the server is failing over or restarting rather than that the
    /// statement is wrong: 57P01-57P03, the whole class 08 (connection exception) and
    /// 25006. These are retried later; they say nothing about the request.
    pub fn is_failover(code: &str) -> bool {
        matches!(
            code,
            ADMIN_SHUTDOWN | CRASH_SHUTDOWN | CANNOT_CONNECT_NOW | READ_ONLY_SQL_TRANSACTION
        ) || code.starts_with("08")
    }
}

/// The violated constraint's name, when `error` is a violation of kind `code`.
pub fn violated_constraint<'e>(error: &'e sqlx::Error, code: &str) -> Option<&'e str> {
    match error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(code) => db.constraint(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::sqlstate::is_failover;

    #[test]
    fn failover_codes_are_recognised() {
        for code in [
            "57P01", "57P02", "57P03", "08000", "08003", "08006", "08P01", "25006",
        ] {
            assert!(is_failover(code), "{code}");
        }
        for code in ["57014", "57000", "25001", "40001", "23505", "42501", ""] {
            assert!(!is_failover(code), "{code}");
        }
    }
}
