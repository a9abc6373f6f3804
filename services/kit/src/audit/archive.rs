//! Archival of audit rows past their retention: written to a JSON Lines file with their
//! chain values, a checkpoint recorded, then deleted — one transaction, as the owner.
//!
//! The database allows the delete only on this path (the kit's migration
//! `audit_chain`): the transaction sets `sportello.audit_archive = on`, runs as the
//! table's owner, and records first a checkpoint covering the rows, which the database
//! checks against the chain and against its own six-month floor. The chain left is then
//! verified from the checkpoint's hash on ([`super::verify`]); the file carries the
//! archived part, verifiable alone ([`verify_archive`]) and tied to the checkpoint by its
//! sha256.
//!
//! Each line: `{"table", "seq", "prev_hash", "row_hash", "content"}`, hashes in hex,
//! `content` the exact text hashed: `row_hash = sha256(prev_hash ‖ content)`.

use std::{
    fs::File,
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

use futures::TryStreamExt;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::{Acquire, PgPool, Row};

use super::{AuditError, AuditRetention, GENESIS, verify};
use crate::{db::quote_ident, uow::SqlTimestamp};

/// What one table's archival took away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The table.
    pub table: String,
    /// The first and last seq archived.
    pub first_seq: i64,
    /// The last seq archived: the checkpoint.
    pub last_seq: i64,
    /// Rows archived.
    pub rows: u64,
    /// The file written.
    pub file: PathBuf,
    /// Its sha256, recorded in the checkpoint.
    pub file_sha256: [u8; 32],
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    table: String,
    seq: i64,
    prev_hash: String,
    row_hash: String,
    content: String,
}

/// Archives the rows of `schema.table` written before `before` into a new file in `dir`,
/// then deletes them, as `pool`'s role (the table's owner). `before` must be at least the
/// retention before `now`. Refuses a chain that does not verify (archiving would destroy
/// the evidence). Returns `None` when no row is old enough.
pub async fn archive(
    pool: &PgPool,
    schema: &str,
    table: &str,
    before: Timestamp,
    now: Timestamp,
    retention: AuditRetention,
    dir: &Path,
) -> Result<Option<Archived>, AuditError> {
    let oldest_allowed = now
        .checked_sub(jiff::SignedDuration::try_from(retention.period()).unwrap_or_default())
        .unwrap_or(Timestamp::MIN);
    if before > oldest_allowed {
        return Err(AuditError::Refused(format!(
            "{table}: le righe di audit si conservano {} giorni: archiviare solo prima di \
             {oldest_allowed} / audit rows are kept {} days: archive only before {oldest_allowed}",
            retention.period().as_secs() / 86_400,
            retention.period().as_secs() / 86_400,
        )));
    }
    let report = verify(pool, schema, table).await?;
    if let Some(broken) = report.first_bad {
        return Err(AuditError::Refused(format!(
            "{table}: catena interrotta a seq {} ({}): non si archivia / chain broken, not \
             archived",
            broken.seq, broken.problem
        )));
    }
    let s = quote_ident(schema);
    let t = format!("{s}.{}", quote_ident(table));
    let time_column: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select time_column from {s}._audit_chains where table_name = $1"
    )))
    .bind(table)
    .fetch_one(pool)
    .await?;

    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // The archival path the append-only triggers let through (and only for the owner).
    sqlx::query("select set_config('sportello.audit_archive', 'on', true)")
        .execute(&mut *tx)
        .await?;
    let previous: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select coalesce(max(seq), 0) from {s}._audit_checkpoints where table_name = $1"
    )))
    .bind(table)
    .fetch_one(&mut *tx)
    .await?;
    // The longest run of rows from the start that are all older than `before`: the chain
    // is cut at one point, never in the middle of what is kept.
    let last: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select coalesce((select min(seq) - 1 from {t} where seq > $1 and {c} >= $2),
                         (select max(seq) from {t}))",
        c = quote_ident(&time_column)
    )))
    .bind(previous)
    .bind(SqlTimestamp::from(before))
    .fetch_one(&mut *tx)
    .await?;
    let last = match last {
        Some(last) if last > previous => last,
        _ => return Ok(None),
    };

    let file = dir.join(format!("{schema}.{table}.{}-{last}.jsonl", previous + 1));
    let written = write_rows(&mut tx, &s, &t, table, previous, last, &file).await;
    let (rows, last_hash, file_sha256) = match written {
        Ok(written) => written,
        Err(error) => {
            remove_partial(&file, &error);
            return Err(error);
        }
    };
    let committed = async {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into {s}._audit_checkpoints
                 (table_name, seq, row_hash, rows, archived_before, file_sha256)
             values ($1, $2, $3, $4, $5, $6)"
        )))
        .bind(table)
        .bind(last)
        .bind(last_hash.as_slice())
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .bind(SqlTimestamp::from(before))
        .bind(file_sha256.as_slice())
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {t} where seq > $1 and seq <= $2"
        )))
        .bind(previous)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, AuditError>(())
    }
    .await;
    if let Err(error) = committed {
        // Nothing was deleted: the file is not an archive of anything.
        remove_partial(&file, &error);
        return Err(error);
    }
    Ok(Some(Archived {
        table: table.to_owned(),
        first_seq: previous + 1,
        last_seq: last,
        rows,
        file,
        file_sha256,
    }))
}

fn remove_partial(file: &Path, error: &AuditError) {
    if !matches!(error, AuditError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
    {
        let _ = std::fs::remove_file(file);
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes rows (previous, last] to a new `file` (never over an existing one) and syncs it.
/// Returns the rows, the last row's hash and the file's sha256.
async fn write_rows(
    tx: &mut sqlx::PgConnection,
    s: &str,
    t: &str,
    table: &str,
    previous: i64,
    last: i64,
    file: &Path,
) -> Result<(u64, Vec<u8>, [u8; 32]), AuditError> {
    let handle = File::options()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(io(file))?;
    let mut out = BufWriter::new(handle);
    let mut digest = Sha256::new();
    let mut rows = 0u64;
    let mut last_hash = Vec::new();
    let mut stream = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select seq, prev_hash, row_hash, {s}.audit_row_content(x) as content
           from {t} x where seq > $1 and seq <= $2 order by seq"
    )))
    .bind(previous)
    .bind(last)
    .fetch(&mut *tx);
    while let Some(row) = stream.try_next().await? {
        let prev_hash: Vec<u8> = row.try_get("prev_hash")?;
        let row_hash: Vec<u8> = row.try_get("row_hash")?;
        let line = Line {
            table: table.to_owned(),
            seq: row.try_get("seq")?,
            prev_hash: hex::encode(&prev_hash),
            row_hash: hex::encode(&row_hash),
            content: row.try_get("content")?,
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| AuditError::Refused(format!("{}: {e}", file.display())))?;
        bytes.push(b'\n');
        digest.update(&bytes);
        out.write_all(&bytes).map_err(io(file))?;
        rows += 1;
        last_hash = row_hash;
    }
    let handle = out.into_inner().map_err(|e| io(file)(e.into_error()))?;
    handle.sync_all().map_err(io(file))?;
    Ok((rows, last_hash, digest.finalize().into()))
}

/// What an archive file holds, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Rows in the file.
    pub rows: u64,
    /// The first row's seq and its prev_hash: where the file attaches.
    pub first_seq: i64,
    /// The first row's prev_hash.
    pub first_prev: [u8; 32],
    /// The last row's seq: its checkpoint's.
    pub last_seq: i64,
    /// The last row's hash: its checkpoint's.
    pub last_hash: [u8; 32],
    /// The file's sha256: its checkpoint's.
    pub file_sha256: [u8; 32],
}

/// Checks an archive file alone: every row's hash from its content and prev_hash, every
/// row following the one before, seq without gaps. A whole history is then the files in
/// order, each attaching to the last hash of the one before (the first to 32 zero
/// bytes), and the last to the table's checkpoint.
pub fn verify_archive(file: &Path) -> Result<ArchiveSummary, AuditError> {
    let bad = |n: usize, why: &str| {
        AuditError::Refused(format!(
            "{}: riga {n}: {why} / line {n}: {why}",
            file.display()
        ))
    };
    let mut reader = BufReader::new(File::open(file).map_err(io(file))?);
    let mut digest = Sha256::new();
    let mut summary: Option<ArchiveSummary> = None;
    let mut buffer = Vec::new();
    let mut n = 0;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer).map_err(io(file))? == 0 {
            break;
        }
        n += 1;
        digest.update(&buffer);
        let line: Line = serde_json::from_slice(&buffer).map_err(|e| bad(n, &e.to_string()))?;
        let hash = |h: &str| -> Result<[u8; 32], AuditError> {
            hex::decode(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad(n, "hash non valido / invalid hash"))
        };
        let (prev, row_hash) = (hash(&line.prev_hash)?, hash(&line.row_hash)?);
        let mut computed = Sha256::new();
        computed.update(prev);
        computed.update(line.content.as_bytes());
        if <[u8; 32]>::from(computed.finalize()) != row_hash {
            return Err(bad(n, "riga modificata / row changed"));
        }
        match &mut summary {
            None => {
                summary = Some(ArchiveSummary {
                    rows: 1,
                    first_seq: line.seq,
                    first_prev: prev,
                    last_seq: line.seq,
                    last_hash: row_hash,
                    file_sha256: GENESIS,
                });
            }
            Some(summary) => {
                if line.seq != summary.last_seq + 1 {
                    return Err(bad(n, "riga mancante / row missing"));
                }
                if prev != summary.last_hash {
                    return Err(bad(n, "righe riordinate / rows reordered"));
                }
                summary.rows += 1;
                summary.last_seq = line.seq;
                summary.last_hash = row_hash;
            }
        }
    }
    let mut summary = summary.ok_or_else(|| bad(0, "file vuoto / empty file"))?;
    summary.file_sha256 = digest.finalize().into();
    Ok(summary)
}
