//! The audit commands every service binary has (dispatched by [`crate::main`]):
//!
//! - `sportello-<service> verify-audit`: walks every audit chain of the service's schema
//!   as the service's role (`DATABASE_URL`) and prints one line per table: intact with its
//!   head (seq and hash, to keep elsewhere), or broken at a seq and how. Exits 0 when every
//!   chain is whole, 1 when one is broken or an audit table has no chain, 2 on a
//!   configuration error, 3 when the database could not be read.
//! - `sportello-<service> archive-audit --to <dir> [--before <date>] [--table <name>]`:
//!   as the schema's owner (`DATABASE_MIGRATION_URL`), moves the rows older than
//!   `AUDIT_RETENTION` (or than `--before`, a date in Europe/Rome or an RFC 3339 instant,
//!   never later) into `<dir>/<schema>.<table>.<first>-<last>.jsonl`, one checkpoint per
//!   table. Exits 0 when done (nothing old enough is done too), 1 when refused or failed,
//!   2 on a configuration error.

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use jiff::Timestamp;

use super::{AuditError, AuditRetention, archive, verify_schema};
use crate::{ConfigError, Env, ServiceSpec, db};

/// `sportello-<service> verify-audit`.
pub const VERIFY_COMMAND: &str = "verify-audit";
/// `sportello-<service> archive-audit`.
pub const ARCHIVE_COMMAND: &str = "archive-audit";

/// Runs the audit command named by `args[0]`, if it is one; otherwise checks
/// `AUDIT_RETENTION` (a service refuses to start with less than six months) and returns
/// `None` when it is valid.
pub async fn dispatch(spec: &'static ServiceSpec, env: &Env, args: &[String]) -> Option<ExitCode> {
    let program = format!("sportello-{}", spec.name);
    match args.first().map(String::as_str) {
        Some(VERIFY_COMMAND) => Some(verify_main(spec, env).await),
        Some(ARCHIVE_COMMAND) => Some(archive_main(spec, env, &args[1..]).await),
        _ => match AuditRetention::from_env(env) {
            Ok(_) => None,
            Err(error) => {
                eprintln!("{program}: errore di configurazione / configuration error: {error}");
                Some(ExitCode::from(2))
            }
        },
    }
}

fn config_error(program: &str, error: impl std::fmt::Display) -> ExitCode {
    eprintln!("{program}: errore di configurazione / configuration error: {error}");
    ExitCode::from(2)
}

async fn connect(
    env: &Env,
    var: &str,
    hint: &str,
    schema: &str,
) -> Result<Result<sqlx::PgPool, db::DbError>, ConfigError> {
    let url: String = env.required(var, hint)?;
    let patience = env.duration_or("DATABASE_CONNECT_TIMEOUT", Duration::from_secs(30))?;
    // Walking or archiving a long chain takes longer than a request may.
    Ok(db::connect(&url, schema, 1, patience, Duration::from_secs(3600)).await)
}

/// `verify-audit`: see the module's documentation.
pub async fn verify_main(spec: &'static ServiceSpec, env: &Env) -> ExitCode {
    let program = format!("sportello-{} {VERIFY_COMMAND}", spec.name);
    let pool = match connect(
        env,
        "DATABASE_URL",
        "l'URL PostgreSQL del servizio / the service's PostgreSQL URL",
        spec.name,
    )
    .await
    {
        Err(error) => return config_error(&program, error),
        Ok(Err(error)) => {
            eprintln!("{program}: {error}");
            return ExitCode::from(3);
        }
        Ok(Ok(pool)) => pool,
    };
    let checked = verify_schema(&pool, spec.name).await;
    pool.close().await;
    let report = match checked {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{program}: {error}");
            return ExitCode::from(3);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut lines: Vec<String> = report
        .reports
        .iter()
        .map(|r| format!("{}.{r}", spec.name))
        .collect();
    lines.extend(report.unchained.iter().map(|table| {
        format!(
            "{}.{table}: TABELLA DI AUDIT SENZA CATENA / AUDIT TABLE NOT CHAINED",
            spec.name
        )
    }));
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    if let Err(error) = written {
        eprintln!("{program}: {error}");
        return ExitCode::from(3);
    }
    if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `archive-audit`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveArgs {
    /// Where the files go.
    pub to: PathBuf,
    /// Rows written before this instant (default: now minus the retention).
    pub before: Option<Timestamp>,
    /// One table only.
    pub table: Option<String>,
}

impl ArchiveArgs {
    /// Parses `--to <dir> [--before <date>] [--table <name>]`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let (mut to, mut before, mut table) = (None, None, None);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag}: manca il valore / value missing"))?;
            match flag.as_str() {
                "--to" => to = Some(PathBuf::from(value)),
                "--before" => before = Some(parse_before(value)?),
                "--table" => table = Some(value.clone()),
                other => {
                    return Err(format!(
                        "{other}: opzione sconosciuta / unknown option (--to, --before, --table)"
                    ));
                }
            }
        }
        Ok(Self {
            to: to.ok_or("--to <cartella/directory> è obbligatorio / is required")?,
            before,
            table,
        })
    }
}

/// `2026-06-30` (midnight in Europe/Rome) or an RFC 3339 instant.
fn parse_before(value: &str) -> Result<Timestamp, String> {
    if let Ok(instant) = value.parse::<Timestamp>() {
        return Ok(instant);
    }
    value
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| date.to_zoned(crate::clock::rome()).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            format!(
                "--before {value}: data (AAAA-MM-GG) o istante RFC 3339 / a date (YYYY-MM-DD) \
                 or an RFC 3339 instant"
            )
        })
}

/// `archive-audit`: see the module's documentation.
pub async fn archive_main(spec: &'static ServiceSpec, env: &Env, args: &[String]) -> ExitCode {
    let program = format!("sportello-{} {ARCHIVE_COMMAND}", spec.name);
    let parsed = ArchiveArgs::parse(args);
    let (args, retention) = match (parsed, AuditRetention::from_env(env)) {
        (Err(error), _) => return config_error(&program, error),
        (_, Err(error)) => return config_error(&program, error),
        (Ok(args), Ok(retention)) => (args, retention),
    };
    let pool = match connect(
        env,
        "DATABASE_MIGRATION_URL",
        "l'URL PostgreSQL del ruolo proprietario dello schema (solo lui archivia) / the \
         PostgreSQL URL of the schema's owner role (only it archives)",
        spec.name,
    )
    .await
    {
        Err(error) => return config_error(&program, error),
        Ok(Err(error)) => {
            eprintln!("{program}: {error}");
            return ExitCode::FAILURE;
        }
        Ok(Ok(pool)) => pool,
    };
    let now = Timestamp::now();
    let result = archive_schema(&pool, spec.name, &args, now, retention).await;
    pool.close().await;
    match result {
        Ok(archived) => {
            for a in &archived {
                eprintln!(
                    "{program}: {}.{}: archiviate / archived {} righe / rows (seq {}..={}) in {} \
                     (sha256 {})",
                    spec.name,
                    a.table,
                    a.rows,
                    a.first_seq,
                    a.last_seq,
                    a.file.display(),
                    hex::encode(a.file_sha256)
                );
            }
            if archived.is_empty() {
                eprintln!("{program}: nulla da archiviare / nothing to archive");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Archives every chained table of `schema` (or `args.table`) as [`archive`] does.
pub async fn archive_schema(
    pool: &sqlx::PgPool,
    schema: &str,
    args: &ArchiveArgs,
    now: Timestamp,
    retention: AuditRetention,
) -> Result<Vec<super::Archived>, AuditError> {
    let cutoff = now
        .checked_sub(jiff::SignedDuration::try_from(retention.period()).unwrap_or_default())
        .unwrap_or(Timestamp::MIN);
    let before = args.before.unwrap_or(cutoff);
    let tables = match &args.table {
        Some(table) => vec![table.clone()],
        None => super::tables(pool, schema).await?,
    };
    let mut archived = Vec::new();
    for table in tables {
        if let Some(done) = archive(pool, schema, &table, before, now, retention, &args.to).await? {
            archived.push(done);
        }
    }
    Ok(archived)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn archive_arguments_are_parsed_or_refused_with_the_reason() {
        let parsed =
            ArchiveArgs::parse(&args(&["--to", "/tmp/a", "--before", "2026-01-01"])).unwrap();
        assert_eq!(parsed.to, PathBuf::from("/tmp/a"));
        // Midnight in Rome, winter time.
        assert_eq!(parsed.before, Some("2025-12-31T23:00:00Z".parse().unwrap()));
        let parsed =
            ArchiveArgs::parse(&args(&["--to", "d", "--before", "2026-01-01T10:00:00Z"])).unwrap();
        assert_eq!(parsed.before, Some("2026-01-01T10:00:00Z".parse().unwrap()));
        assert!(ArchiveArgs::parse(&args(&["--before", "2026-01-01"])).is_err());
        assert!(ArchiveArgs::parse(&args(&["--to"])).is_err());
        assert!(ArchiveArgs::parse(&args(&["--to", "d", "--before", "ieri"])).is_err());
        assert!(ArchiveArgs::parse(&args(&["--to", "d", "--all", "x"])).is_err());
    }
}
