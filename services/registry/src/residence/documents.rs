//! The documents handed in with a declaration: checked at the edge, kept in the kit's
//! document store (by their SHA-256, in the unit of work that records the change),
//! listed against the change, handed to routing as references, and read back only by
//! those who may see the change — each read audited, as a document of a change of
//! residence holds its members' data.

use bytes::Bytes;
use sportello_kit::{
    CallContext, ServiceError, UnitOfWork,
    documents::{CheckedDocument, DocumentStore, Sha256Hex, StoredDocument},
    privacy,
};
use sportello_proto::{registry::v1::AttachedDocument, routing::v1::DocumentRef};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::{ResidenceChangeId, ResidentId};

/// The longest title: a few words for the operator.
const TITLE_MAX: usize = 120;

/// The most documents one declaration takes: the form, the dwelling title, identity
/// documents, a permit. It bounds a request's size (see [`request_limit`]).
pub const MAX_DOCUMENTS: usize = 5;

/// The largest DeclareResidenceChange request the service decodes: its documents at the
/// size limit, and a mebibyte for the rest. tonic's default (4 MiB) would refuse a
/// single document under the limit with a bare "message too large".
pub fn request_limit(store: &dyn DocumentStore) -> usize {
    let documents = store
        .rules()
        .max_bytes()
        .saturating_mul(MAX_DOCUMENTS as u64);
    usize::try_from(documents)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024)
}

/// A document that passed intake, with its title.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The checked document.
    pub document: CheckedDocument,
    /// What it is, free of personal data.
    pub title: String,
}

impl Attached {
    /// Its reference as routing's work request carries it.
    pub fn work_ref(&self) -> DocumentRef {
        let reference = self.document.reference();
        DocumentRef {
            sha256: reference.sha256.to_string(),
            media_type: reference.media_type.to_string(),
            size_bytes: reference.size_bytes,
            title: self.title.clone(),
        }
    }
}

/// Checks every document of a request, before anything is registered or written: the
/// kit's intake rules (type, content, size) and a title free of personal data, each
/// error naming `documents[i].…`.
pub fn check(
    store: &dyn DocumentStore,
    documents: &[AttachedDocument],
) -> Result<Vec<Attached>, ServiceError> {
    if documents.len() > MAX_DOCUMENTS {
        return Err(ServiceError::invalid_field(
            "documents",
            format!("al massimo {MAX_DOCUMENTS} documenti / at most {MAX_DOCUMENTS} documents"),
        ));
    }
    documents
        .iter()
        .enumerate()
        .map(|(i, attached)| {
            let prefix = format!("documents[{i}]");
            let title = attached.title.trim();
            let title_field = format!("{prefix}.title");
            if title.chars().count() > TITLE_MAX {
                return Err(ServiceError::invalid_field(
                    title_field,
                    format!("al massimo {TITLE_MAX} caratteri / at most {TITLE_MAX} characters"),
                ));
            }
            if title.chars().any(char::is_control) {
                return Err(ServiceError::invalid_field(
                    title_field,
                    "contiene caratteri di controllo / holds control characters",
                ));
            }
            // The title travels to routing in the work request.
            privacy::ensure_free_of_personal_data(&title_field, title)?;
            let document = store.rules().check(
                &prefix,
                Bytes::copy_from_slice(&attached.content),
                &attached.media_type,
            )?;
            Ok(Attached {
                document,
                title: title.to_owned(),
            })
        })
        .collect()
}

/// Stores `documents` and lists them against change `id`, in `uow`.
pub async fn record(
    uow: &mut UnitOfWork,
    store: &dyn DocumentStore,
    id: ResidenceChangeId,
    documents: &[Attached],
) -> Result<(), ServiceError> {
    for (position, attached) in documents.iter().enumerate() {
        let stored: StoredDocument = store.store_in(uow, &attached.document).await?;
        sqlx::query(
            "insert into residence_change_documents
                 (residence_change_id, position, sha256, media_type, size_bytes, title)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.0)
        .bind(i16::try_from(position).map_err(ServiceError::internal)?)
        .bind(stored.sha256.as_str())
        .bind(stored.media_type.as_str())
        .bind(i64::try_from(stored.size_bytes).map_err(ServiceError::internal)?)
        .bind(&attached.title)
        .execute(uow.conn())
        .await?;
    }
    Ok(())
}

/// Where a document belongs, in the caller's municipality.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The change.
    pub residence_change_id: ResidenceChangeId,
    /// The title given at intake.
    pub title: String,
    /// The change's members: whose data the document discloses.
    pub members: Vec<ResidentId>,
}

/// The change of `context`'s municipality that document `sha256` belongs to (the
/// earliest, should the same bytes be handed in with two changes), if any.
pub async fn owner<'e>(
    executor: impl PgExecutor<'e>,
    context: &CallContext,
    sha256: &Sha256Hex,
) -> Result<Option<Owner>, sqlx::Error> {
    let row: Option<(Uuid, String, Vec<Uuid>)> = sqlx::query_as(
        "select c.id, d.title,
                array(select m.resident_id from residence_change_members m
                      where m.residence_change_id = c.id order by m.resident_id)
         from residence_change_documents d
         join residence_changes c on c.id = d.residence_change_id
         where d.sha256 = $1 and c.municipality = $2
         order by c.declared_at, d.position
         limit 1",
    )
    .bind(sha256.as_str())
    .bind(context.municipality().as_str())
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(id, title, members)| Owner {
        residence_change_id: ResidenceChangeId(id),
        title,
        members: members.into_iter().map(ResidentId).collect(),
    }))
}
