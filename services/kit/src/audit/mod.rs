//! Tamper-evident audit tables: each row hash-chained to the one before, in the database
//! (the kit's migration `audit_chain`), and verified here.
//!
//! An audit table ([`crate::db::is_audit_table`]) is insert-only for the service's role
//! and owned by the schema's owner. A service's migration chains it with
//! `call audit_chain_enable('<table>', '<time column>')`: from then on a trigger gives
//! each inserted row its `seq` (1, 2, 3, … without gaps), `prev_hash` (the previous row's
//! hash, 32 zero bytes for the first) and `row_hash = sha256(prev_hash ‖ content)`, where
//! content is the SQL function `audit_row_content(row)`: the row as jsonb without its chain
//! columns and null fields, printed under fixed settings. The head (last seq and hash) is
//! kept apart in `_audit_chains`.
//!
//! [`verify`] recomputes every hash in the database (the same function the trigger used,
//! so the bytes hashed are the same) and walks the chain here: a changed field, a deleted
//! row (inside or at the tail), two rows swapped are found, at the first seq where the
//! chain breaks. What a hash chain cannot show alone is a chain rewritten whole from the
//! changed row on by someone holding the owner's rights: the head that `verify-audit`
//! prints, kept elsewhere (a ticket, the conservation system), closes that door.
//!
//! Rows older than the retention ([`AuditRetention`], at least six months) leave only by
//! [`archive::archive`], run as the owner.

pub mod archive;
pub mod command;

use std::{fmt, time::Duration};

use futures::TryStreamExt;
use sqlx::{Acquire, PgPool, Row};

use crate::{config::ConfigError, db::quote_ident};

pub use archive::{Archived, archive, verify_archive};

/// Where a chain starts: 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];

/// The shortest retention of audit rows: six months.
pub const MIN_AUDIT_RETENTION: Duration = Duration::from_secs(183 * 86_400);

/// How long audit rows are kept before [`archive::archive`] may take them away
/// (`AUDIT_RETENTION`, six months by default and at least).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention(Duration);

impl Default for AuditRetention {
    fn default() -> Self {
        Self(MIN_AUDIT_RETENTION)
    }
}

impl AuditRetention {
    /// The variable.
    pub const VAR: &'static str = "AUDIT_RETENTION";

    /// `retention`, refused when shorter than six months.
    pub fn new(retention: Duration) -> Result<Self, ConfigError> {
        if retention < MIN_AUDIT_RETENTION {
            return Err(ConfigError::invalid(
                Self::VAR,
                &format!("{}d", retention.as_secs() / 86_400),
                "i registri di audit si conservano almeno sei mesi (183d) / audit rows are \
                 kept at least six months (183d)",
            ));
        }
        Ok(Self(retention))
    }

    /// `AUDIT_RETENTION` (e.g. `365d`), six months when unset.
    pub fn from_env(env: &crate::Env) -> Result<Self, ConfigError> {
        Self::new(env.duration_or(Self::VAR, MIN_AUDIT_RETENTION)?)
    }

    /// The period.
    pub fn period(self) -> Duration {
        self.0
    }
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The row's content is not what was hashed: a field was changed (or the head does not
    /// match the last row: it was rewritten with a new hash, or added outside the chain).
    Changed,
    /// A row is gone: a gap in seq, a missing tail, or a row whose predecessor is nowhere.
    Missing,
    /// The row is intact but out of place: it follows a row still in the table, not the
    /// one before it.
    Reordered,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Changed => "riga modificata / row changed",
            Self::Missing => "riga mancante / row missing",
            Self::Reordered => "righe riordinate / rows reordered",
        })
    }
}

/// Where a chain first breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// The seq of the first row found wrong (or, for a missing row, where it should be).
    pub seq: i64,
    /// What is wrong there.
    pub problem: Problem,
}

/// What [`verify`] found in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The table.
    pub table: String,
    /// The rows checked (those after the last checkpoint).
    pub rows: u64,
    /// The last archived seq (0 when nothing was archived): the chain starts after it.
    pub checkpoint: i64,
    /// The chain's head: its last seq and hash, to keep elsewhere.
    pub head_seq: i64,
    /// The head's hash.
    pub head_hash: [u8; 32],
    /// Where the chain first breaks, if it does.
    pub first_bad: Option<Break>,
}

impl Report {
    /// Whether the chain is whole.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first_bad {
            None => {
                write!(
                    f,
                    "{}: catena integra / chain intact: {} righe / rows",
                    self.table, self.rows
                )?;
                if self.rows > 0 {
                    write!(f, " (seq {}..={})", self.checkpoint + 1, self.head_seq)?;
                }
                write!(
                    f,
                    ", head {} {}",
                    self.head_seq,
                    hex::encode(self.head_hash)
                )
            }
            Some(Break { seq, problem }) => write!(
                f,
                "{}: CATENA INTERROTTA / CHAIN BROKEN at seq {seq}: {problem}",
                self.table
            ),
        }
    }
}

/// Why the audit could not be checked or archived.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The table has no chain.
    #[error(
        "la tabella {0} non ha una catena di audit / table {0} has no audit chain \
         (audit_chain_enable)"
    )]
    NotChained(String),
    /// A database error.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// Writing or reading an archive file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The request goes against the rules (retention, a broken chain, a bad archive).
    #[error("{0}")]
    Refused(String),
}

/// The chained audit tables of `schema`, by name.
pub async fn tables(pool: &PgPool, schema: &str) -> Result<Vec<String>, AuditError> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select table_name from {}._audit_chains order by table_name",
        quote_ident(schema)
    )))
    .fetch_all(pool)
    .await?)
}

/// The audit tables of `schema` (by [`crate::db::is_audit_table`]'s naming rule) that
/// have no chain: each is a migration someone forgot.
pub async fn unchained(pool: &PgPool, schema: &str) -> Result<Vec<String>, AuditError> {
    let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind in ('r', 'p') and c.relname not like '\\_%'
            and c.relname::text not in (select table_name from {}._audit_chains)
          order by 1",
        quote_ident(schema)
    )))
    .bind(schema)
    .fetch_all(pool)
    .await?;
    Ok(names
        .into_iter()
        .filter(|name| crate::db::is_audit_table(name))
        .collect())
}

/// Walks the chain of `schema.table` from its last checkpoint to its head, in one
/// snapshot, and says where it first breaks. Reads only: the service's role may run it.
pub async fn verify(pool: &PgPool, schema: &str, table: &str) -> Result<Report, AuditError> {
    let s = quote_ident(schema);
    let t = format!("{s}.{}", quote_ident(table));
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // One snapshot: rows inserted meanwhile neither show up half nor move the head.
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let head: Option<(i64, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select last_seq, last_hash from {s}._audit_chains where table_name = $1"
    )))
    .bind(table)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((head_seq, head_hash)) = head else {
        return Err(AuditError::NotChained(format!("{schema}.{table}")));
    };
    let checkpoint: Option<(i64, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select seq, row_hash from {s}._audit_checkpoints where table_name = $1
          order by seq desc limit 1"
    )))
    .bind(table)
    .fetch_optional(&mut *tx)
    .await?;
    let (start, start_hash) = checkpoint.unwrap_or((0, GENESIS.to_vec()));

    let mut walk = Walk::new(start, start_hash);
    let mut finding = Finding::Next;
    {
        // The hash is recomputed by the same SQL function the trigger used.
        let sql = format!(
            "select seq, prev_hash, row_hash, {s}.audit_row_hash(prev_hash, x) = row_hash as intact
               from {t} x where seq > $1 order by seq"
        );
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(start)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            finding = walk.step(Link {
                seq: row.try_get("seq")?,
                prev_hash: row.try_get("prev_hash")?,
                row_hash: row.try_get("row_hash")?,
                intact: row.try_get::<Option<bool>, _>("intact")?.unwrap_or(false),
            });
            if finding != Finding::Next {
                break;
            }
        }
    }
    let first_bad = match finding {
        Finding::Next => walk.end(head_seq, &head_hash),
        Finding::Broken(broken) => Some(broken),
        // The row follows another: one still in the table (moved), or one that is gone.
        Finding::Unlinked { seq, prev_hash } => {
            let elsewhere: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select exists (select 1 from {t} where row_hash = $1)"
            )))
            .bind(&prev_hash)
            .fetch_one(&mut *tx)
            .await?;
            let problem = if elsewhere {
                Problem::Reordered
            } else {
                Problem::Missing
            };
            Some(Break { seq, problem })
        }
    };
    tx.rollback().await?;
    Ok(Report {
        table: table.to_owned(),
        rows: walk.rows,
        checkpoint: start,
        head_seq,
        head_hash: head_hash.as_slice().try_into().unwrap_or([0; 32]),
        first_bad,
    })
}

/// [`verify`] for every chained table of `schema`, plus the audit tables left unchained.
pub async fn verify_schema(pool: &PgPool, schema: &str) -> Result<SchemaReport, AuditError> {
    let mut reports = Vec::new();
    for table in tables(pool, schema).await? {
        reports.push(verify(pool, schema, &table).await?);
    }
    Ok(SchemaReport {
        reports,
        unchained: unchained(pool, schema).await?,
    })
}

/// What [`verify_schema`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// One per chained table.
    pub reports: Vec<Report>,
    /// Audit tables without a chain.
    pub unchained: Vec<String>,
}

impl SchemaReport {
    /// Whether every audit table is chained and every chain whole.
    pub fn is_intact(&self) -> bool {
        self.unchained.is_empty() && self.reports.iter().all(Report::is_intact)
    }
}

/// One row as the walk sees it.
#[derive(Debug, Clone)]
struct Link {
    seq: i64,
    prev_hash: Vec<u8>,
    row_hash: Vec<u8>,
    /// Whether the row's hash is that of its content after its prev_hash.
    intact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Finding {
    Next,
    Broken(Break),
    /// The row is intact but does not follow the row before it.
    Unlinked {
        seq: i64,
        prev_hash: Vec<u8>,
    },
}

/// The chain walked in seq order: what the next row must be.
#[derive(Debug)]
struct Walk {
    expected_seq: i64,
    expected_prev: Vec<u8>,
    rows: u64,
}

impl Walk {
    fn new(start: i64, start_hash: Vec<u8>) -> Self {
        Self {
            expected_seq: start + 1,
            expected_prev: start_hash,
            rows: 0,
        }
    }

    fn step(&mut self, link: Link) -> Finding {
        if link.seq > self.expected_seq {
            return Finding::Broken(Break {
                seq: self.expected_seq,
                problem: Problem::Missing,
            });
        }
        // Only a table whose unique index on seq was dropped can repeat a seq.
        if link.seq < self.expected_seq || !link.intact {
            return Finding::Broken(Break {
                seq: link.seq,
                problem: Problem::Changed,
            });
        }
        if link.prev_hash != self.expected_prev {
            return Finding::Unlinked {
                seq: link.seq,
                prev_hash: link.prev_hash,
            };
        }
        self.rows += 1;
        self.expected_seq += 1;
        self.expected_prev = link.row_hash;
        Finding::Next
    }

    /// After the last row: the head must be that row.
    fn end(&self, head_seq: i64, head_hash: &[u8]) -> Option<Break> {
        let last = self.expected_seq - 1;
        let problem = if last < head_seq {
            // The tail is gone.
            return Some(Break {
                seq: self.expected_seq,
                problem: Problem::Missing,
            });
        } else if last > head_seq {
            // Rows the chain never made (inserted with its trigger off).
            return Some(Break {
                seq: head_seq + 1,
                problem: Problem::Changed,
            });
        } else if self.expected_prev != head_hash {
            // The last row rewritten together with its hash.
            Problem::Changed
        } else {
            return None;
        };
        Some(Break { seq: last, problem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(seq: i64, prev: u8, hash: u8) -> Link {
        Link {
            seq,
            prev_hash: vec![prev; 32],
            row_hash: vec![hash; 32],
            intact: true,
        }
    }

    fn walk(links: &[Link], head: (i64, u8)) -> Option<Finding> {
        let mut walk = Walk::new(0, vec![0; 32]);
        for l in links {
            let finding = walk.step(l.clone());
            if finding != Finding::Next {
                return Some(finding);
            }
        }
        walk.end(head.0, &[head.1; 32]).map(Finding::Broken)
    }

    fn broken(seq: i64, problem: Problem) -> Option<Finding> {
        Some(Finding::Broken(Break { seq, problem }))
    }

    #[test]
    fn a_whole_chain_ends_at_its_head() {
        assert_eq!(walk(&[link(1, 0, 1), link(2, 1, 2)], (2, 2)), None);
        assert_eq!(walk(&[], (0, 0)), None);
    }

    #[test]
    fn each_break_is_named_at_its_seq() {
        let mut changed = link(2, 1, 2);
        changed.intact = false;
        assert_eq!(
            walk(&[link(1, 0, 1), changed, link(3, 2, 3)], (3, 3)),
            broken(2, Problem::Changed)
        );
        assert_eq!(
            walk(&[link(1, 0, 1), link(3, 2, 3)], (3, 3)),
            broken(2, Problem::Missing)
        );
        assert_eq!(
            walk(&[link(1, 0, 1), link(2, 1, 2)], (3, 3)),
            broken(3, Problem::Missing),
            "a missing tail"
        );
        assert_eq!(
            walk(&[link(1, 0, 1), link(2, 1, 9)], (2, 2)),
            broken(2, Problem::Changed),
            "the last row rewritten with its hash"
        );
        assert_eq!(
            walk(&[link(1, 0, 1), link(2, 3, 4)], (2, 4)),
            Some(Finding::Unlinked {
                seq: 2,
                prev_hash: vec![3; 32]
            })
        );
    }

    #[test]
    fn the_retention_is_six_months_at_least() {
        assert_eq!(AuditRetention::default().period(), MIN_AUDIT_RETENTION);
        assert!(AuditRetention::new(Duration::from_secs(182 * 86_400)).is_err());
        let env = crate::Env::from_pairs([("AUDIT_RETENTION", "90d")]);
        let error = AuditRetention::from_env(&env).unwrap_err().to_string();
        assert!(
            error.contains("AUDIT_RETENTION") && error.contains("sei mesi"),
            "{error}"
        );
        let env = crate::Env::from_pairs([("AUDIT_RETENTION", "400d")]);
        assert_eq!(
            AuditRetention::from_env(&env).unwrap().period(),
            Duration::from_secs(400 * 86_400)
        );
    }
}
