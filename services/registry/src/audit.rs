//! The audit log of reads of personal data.
//!
//! Every read that discloses a person's data — by an operator through the gateway, or by
//! another service asking for a fact — writes one row: who acted (the actor), through
//! which service (the caller), for which municipality, why (the declared purpose), when,
//! which record, and whose data it disclosed. The row is written before the answer
//! leaves: if it cannot be written, the read fails. The table refuses UPDATE, DELETE and
//! TRUNCATE (see the migration), so the log only grows.

use jiff::Timestamp;
use sportello_kit::{CallContext, uow::SqlTimestamp};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::ResidentId;

/// The kind of record a read was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A person.
    Resident,
    /// A family record.
    Family,
    /// An issued certificate.
    Certificate,
    /// A document handed in with a change of residence (the record id is the change's).
    ResidenceChangeDocument,
    /// A change of residence (its members, their new address, the procedure).
    ResidenceChange,
}

impl RecordKind {
    fn as_db(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Family => "family",
            Self::Certificate => "certificate",
            Self::ResidenceChangeDocument => "residence_change_document",
            Self::ResidenceChange => "residence_change",
        }
    }
}

/// One read of personal data.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    /// What was done, `<area>.<verb>`: `resident.get`, `fact.is_resident`, …
    pub action: &'static str,
    /// The kind of record read.
    pub record_kind: RecordKind,
    /// The record read.
    pub record_id: Uuid,
    /// Everyone whose data the read disclosed.
    pub disclosed: &'a [ResidentId],
}

/// Writes one audit row for `access` by `context` at `at`, through `executor` (the pool,
/// or the unit of work that also writes what the read produced).
pub async fn record<'e>(
    executor: impl PgExecutor<'e>,
    context: &CallContext,
    at: Timestamp,
    access: Access<'_>,
) -> Result<(), sqlx::Error> {
    let disclosed: Vec<Uuid> = access.disclosed.iter().map(|id| id.0).collect();
    sqlx::query(
        "insert into audit_log (id, at, caller, actor, municipality, purpose, action,
                                record_kind, record_id, resident_ids)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(SqlTimestamp::from(at))
    .bind(context.caller())
    .bind(context.actor())
    .bind(context.municipality().as_str())
    .bind(context.purpose())
    .bind(access.action)
    .bind(access.record_kind.as_db())
    .bind(access.record_id)
    .bind(&disclosed)
    .execute(executor)
    .await?;
    metrics::counter!("sportello_registry_personal_data_reads_total", "action" => access.action)
        .increment(1);
    Ok(())
}
