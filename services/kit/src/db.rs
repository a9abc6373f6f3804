//! PostgreSQL: one pool per service, one schema per service, migrations at start.
//!
//! A service's connections have `search_path` set to its own schema, so its SQL never
//! names the schema and never reaches another service's tables. At start the kit's
//! tables (outbox, inbox, timers, idempotency keys) and then the service's own
//! migrations run under an advisory lock, so replicas starting together migrate once
//! (and services starting together one after the other: extensions are database-wide). The schema belongs to an owner role, which runs the migrations; the
//! service connects as a role that owns nothing and holds only the grants of
//! [`grant_service_role`] (audit tables insert-only). Migrations are written
//! expand-then-contract: the previous release keeps working while a rolling upgrade is
//! under way.

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
    /// The owner and service roles are not as they must be.
    #[error("{0}")]
    Roles(String),
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

/// [`migrate`] as the schema's owner (`owner`'s role), then grants `service_role` what a
/// service needs and nothing more — see [`grant_service_role`] — under the same lock, so
/// a replica never sees a new table its role cannot use yet.
pub async fn migrate_as_owner(
    owner: &PgPool,
    schema: &str,
    service: &Migrator,
    service_role: &str,
) -> Result<(), DbError> {
    migrate_and_grant(owner, schema, service, Some(service_role)).await
}

async fn migrate_and_grant(
    pool: &PgPool,
    schema: &str,
    service: &Migrator,
    service_role: Option<&str>,
) -> Result<(), DbError> {
    let mut conn = pool.acquire().await?;
    // One lock for the database, not one per schema: two services' migrations may both
    // create an extension (`btree_gist`: registry's and routing's), and CREATE EXTENSION
    // IF NOT EXISTS run at the same instant by two sessions fails in one of them on
    // pg_extension's unique name. Services starting together migrate one after the
    // other; with nothing pending that is milliseconds each.
    let lock = advisory_key("sportello.migrate");
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
            // We hold our own lock (above).
            migrator.set_locking(false);
            migrator
                .run(&mut *conn)
                .await
                .map_err(|source| DbError::Migrate {
                    schema: schema.to_owned(),
                    source,
                })?;
        }
        if let Some(role) = service_role {
            grant_service_role(&mut conn, schema, role).await?;
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

/// Whether a table keeps an audit trail: its name has `audit` as a word (`audit_log`,
/// `account_audit`). A naming rule rather than a list, so a service's new audit table is
/// insert-only from its first migration without anyone remembering to say so.
pub fn is_audit_table(name: &str) -> bool {
    name.split('_').any(|word| word == "audit")
}

/// Grants `role` what a service needs on `schema`, as its owner: using the schema;
/// reading, inserting, updating and deleting rows of its tables — audit tables only read
/// and inserted ([`is_audit_table`]); reading the migration history (a service checks its
/// schema is migrated); its sequences. Never `TRUNCATE`, `REFERENCES`, `TRIGGER`, nor
/// ownership, so the role can change no table's definition. Re-run after every migration
/// (it revokes first): the grants always follow the tables that exist now.
pub async fn grant_service_role(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    role: &str,
) -> Result<(), DbError> {
    let owner: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&mut *conn)
        .await?;
    if owner == role {
        return Err(DbError::Roles(format!(
            "il ruolo del servizio {role} non può essere il proprietario dello schema {schema} / \
             the service role {role} must not be the owner of schema {schema}"
        )));
    }
    // A GRANT by a role that does not own the table only warns: check, so a wrong owner
    // URL fails the start instead of leaving the service without its grants. (A superuser
    // grants on anything: a local cluster made before the roles were split.)
    let (schema_owner, superuser): (Option<String>, bool) = sqlx::query_as(
        "select (select pg_get_userbyid(nspowner)::text from pg_namespace where nspname = $1),
                (select rolsuper from pg_roles where rolname = current_user)",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if !superuser && schema_owner.as_deref() != Some(owner.as_str()) {
        return Err(DbError::Roles(format!(
            "lo schema {schema} appartiene a {}, non a {owner} che lo migra / schema {schema} \
             belongs to {}, not to {owner}, which migrates it",
            schema_owner.as_deref().unwrap_or("-"),
            schema_owner.as_deref().unwrap_or("-"),
        )));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm') order by 1",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let s = quote_ident(schema);
    let r = quote_ident(role);
    let mut sql = format!(
        "grant usage on schema {s} to {r};
         revoke all on all tables in schema {s} from {r};
         revoke all on all sequences in schema {s} from {r};
         grant usage on all sequences in schema {s} to {r};\n"
    );
    for table in &tables {
        let t = format!("{s}.{}", quote_ident(table));
        let privileges = if table.starts_with('_') {
            // The migration history: the owner's to write.
            "select"
        } else if is_audit_table(table) {
            "select, insert"
        } else {
            "select, insert, update, delete"
        };
        sql.push_str(&format!("grant {privileges} on {t} to {r};\n"));
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The role a pool's connections log in as.
pub async fn current_role(pool: &PgPool) -> Result<String, DbError> {
    Ok(sqlx::query_scalar("select current_user::text")
        .fetch_one(pool)
        .await?)
}

/// Prepares the schema as `pool`'s role. A schema that role owns (or that does not exist
/// yet) it migrates — creating it, then the kit's and the service's migrations under an
/// advisory lock held by one migration at a time in the database — as on a single-role database (a developer's own,
/// the tests' template). A schema owned by another role (the owner's init step migrated
/// it, see [`migrate_as_owner`]) it only checks, failing if one of this release's
/// migrations is missing: a service role cannot and must not migrate. Tools beside a
/// service (seeders, loaders) call it too, and so work with either set-up.
pub async fn migrate(pool: &PgPool, schema: &str, service: &Migrator) -> Result<(), DbError> {
    let owned_by_other: Option<bool> = sqlx::query_scalar(
        "select nspowner <> (select oid from pg_roles where rolname = current_user)
         from pg_namespace where nspname = $1",
    )
    .bind(schema)
    .fetch_optional(pool)
    .await?;
    if owned_by_other != Some(true) {
        return migrate_and_grant(pool, schema, service, None).await;
    }
    for (table, source) in [
        ("_kit_migrations", &KIT_MIGRATOR),
        ("_sqlx_migrations", service),
    ] {
        let applied: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select version from {}.{table} where success",
            quote_ident(schema)
        )))
        .fetch_all(pool)
        .await
        .map_err(|error| {
            DbError::Roles(format!(
                "lo schema {schema} non è migrato (eseguire `migrate` con il ruolo proprietario) / \
                 schema {schema} is not migrated (run `migrate` as its owner role): {error}"
            ))
        })?;
        if let Some(missing) = source
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .find(|m| !applied.contains(&m.version))
        {
            return Err(DbError::Roles(format!(
                "manca la migrazione {} ({}) nello schema {schema}: eseguire `migrate` con il \
                 ruolo proprietario / migration {} ({}) is missing in schema {schema}: run \
                 `migrate` as its owner role",
                missing.version, missing.description, missing.version, missing.description
            )));
        }
    }
    Ok(())
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
    /// `query_canceled`: the statement ran past `statement_timeout` (or was cancelled).
    pub const QUERY_CANCELED: &str = "57014";
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
