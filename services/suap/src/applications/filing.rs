//! Filing an application: the checklist checked (a formally incomplete filing gets no
//! receipt, DPR 160/2010 art. 5 c. 4), the filing registered in the protocol register
//! and its receipt issued at once (L. 241/1990 art. 18-bis), a SCIA unica forwarded to
//! the other bodies concerned (art. 19-bis c. 2), then — in one unit of work — the
//! application, its documents, the back office's work, the term's timer and the event.
//!
//! The routing calls come first, keyed from the application's id, so a retry repeats the
//! very same calls and gets the same numbers; a received filing is never annulled because
//! of an internal error of ours (DPR 445/2000 art. 54).

use bytes::Bytes;
use prost::Message as _;
use sportello_kit::{
    CallContext, IdempotencyKey, ServiceError, UnitOfWork,
    documents::{CheckedDocument, DocumentStore},
    protocol::{Incoming, Outgoing, document_key, sha256_hex},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{DocumentRef, IncomingKind, OutgoingKind},
    suap::v1::{FileApplicationRequest, FileApplicationResponse, FiledDocument},
};

use super::{
    clock,
    domain::{ApplicationId, Filing, NewApplication},
    message,
    procedures::{ProcedureDef, Regime},
    steps::{self, Desk},
    store::{self, DocumentRow},
    work,
};
use crate::error::SuapError;

/// The idempotent operation of a filing.
const FILE: &str = "suap.file_application";

/// The most documents one step takes.
pub const MAX_DOCUMENTS: usize = 8;

/// A document that passed intake, with its checklist item.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The checklist item.
    pub item: String,
    /// The checked document.
    pub document: CheckedDocument,
}

impl Checked {
    /// Its row.
    pub fn row(&self) -> DocumentRow {
        let r = self.document.reference();
        DocumentRow {
            checklist_item: self.item.clone(),
            sha256: r.sha256.to_string(),
            media_type: r.media_type.to_string(),
            size_bytes: i64::try_from(r.size_bytes).unwrap_or(i64::MAX),
        }
    }

    /// Its reference as routing's work carries it.
    pub fn work_ref(&self, title: &str) -> DocumentRef {
        let r = self.document.reference();
        DocumentRef {
            sha256: r.sha256.to_string(),
            media_type: r.media_type.to_string(),
            size_bytes: r.size_bytes,
            title: title.to_owned(),
        }
    }
}

/// Checks documents of a step against the kit's intake rules (`documents[i].…` in
/// errors); for a filing (`checklist`), each must name an item of the procedure's
/// checklist at most once, and every required item must be there.
pub fn check_documents(
    store: &dyn DocumentStore,
    procedure: &ProcedureDef,
    documents: &[FiledDocument],
    checklist: bool,
) -> Result<Vec<Checked>, ServiceError> {
    let field = "documents";
    if documents.len() > MAX_DOCUMENTS {
        return Err(ServiceError::invalid_field(
            field,
            format!("al massimo {MAX_DOCUMENTS} documenti / at most {MAX_DOCUMENTS} documents"),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    documents
        .iter()
        .enumerate()
        .map(|(i, filed)| {
            let prefix = format!("{field}[{i}]");
            let item = filed.checklist_item.trim();
            // Integrations and measures may carry any document; a filing names its item.
            if checklist {
                if !procedure.checklist.iter().any(|c| c.code == item) {
                    let codes: Vec<&str> = procedure.checklist.iter().map(|c| c.code).collect();
                    return Err(ServiceError::invalid_field(
                        format!("{prefix}.checklist_item"),
                        format!(
                            "{item:?} non è nell'elenco dei documenti di {} ({}) / is not in the \
                             procedure's checklist",
                            procedure.code,
                            codes.join(", ")
                        ),
                    ));
                }
                if seen.contains(&item) {
                    return Err(ServiceError::invalid_field(
                        format!("{prefix}.checklist_item"),
                        format!("{item:?} è già presente / is given twice"),
                    ));
                }
                seen.push(item);
            }
            let document = store.rules().check(
                &prefix,
                Bytes::copy_from_slice(&filed.content),
                &filed.media_type,
            )?;
            Ok(Checked {
                item: if item.is_empty() {
                    "document".to_owned()
                } else {
                    item.to_owned()
                },
                document,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|checked| {
            if !checklist {
                return Ok(checked);
            }
            let missing: Vec<&str> = procedure
                .checklist
                .iter()
                .filter(|c| c.required && !checked.iter().any(|d| d.item == c.code))
                .map(|c| c.title)
                .collect();
            if missing.is_empty() {
                Ok(checked)
            } else {
                Err(ServiceError::invalid_field(
                    "documents",
                    format!(
                        "pratica incompleta, manca: {} (DPR 160/2010 art. 5 c. 4) / the filing is \
                         incomplete: required documents are missing",
                        missing.join("; ")
                    ),
                ))
            }
        })
}

/// The lines that identify a set of documents: the register records their hash.
pub fn manifest(header: &str, documents: &[Checked]) -> String {
    let mut text = format!("{header}\n");
    for d in documents {
        text.push_str(&format!("{} {}\n", d.item, d.document.reference().sha256));
    }
    text
}

/// Stores documents and lists them against the application, in `uow`.
pub async fn record_documents(
    uow: &mut UnitOfWork,
    store: &dyn DocumentStore,
    id: ApplicationId,
    step: &str,
    documents: &[Checked],
) -> Result<(), ServiceError> {
    for d in documents {
        store.store_in(uow, &d.document).await?;
    }
    let rows: Vec<DocumentRow> = documents.iter().map(Checked::row).collect();
    store::insert_documents(uow.conn(), id, step, &rows).await?;
    Ok(())
}

/// Files an application.
pub async fn file(
    desk: &Desk,
    context: &CallContext,
    request: FileApplicationRequest,
) -> Result<FileApplicationResponse, ServiceError> {
    let new = NewApplication::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = FileApplicationRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk.db.replay(FILE, key, &fingerprint).await? {
        return Ok(response);
    }
    if !store::business_exists(desk.db.pool(), new.business_id, new.municipality).await? {
        return Err(SuapError::NotFound {
            field: "business_id",
            what: "nessuna impresa con questo id nel comune / no business with this id in the \
                   municipality"
                .into(),
        }
        .into());
    }
    // A bad or missing document refuses the filing before anything is registered.
    let documents = check_documents(
        desk.documents.as_ref(),
        new.procedure,
        &fingerprint.documents,
        true,
    )?;

    let today = rome::date_of(desk.db.clock().now());
    let base = key.map_or_else(
        || {
            document_key(&[
                &sha256_hex(&fingerprint.encode_to_vec()),
                &today.to_string(),
            ])
        },
        |k| k.uuid(),
    );
    let id = ApplicationId(document_key(&[&base.to_string(), "application"]));
    tracing::Span::current().record("application_id", tracing::field::display(id));
    let business = format!("impresa:{}", new.business_id);
    let regime = new.procedure.regime;
    let kind = match regime {
        Regime::Scia | Regime::SciaBuilding => IncomingKind::Scia,
        Regime::Communication => IncomingKind::Declaration,
        Regime::Ordinary(_) => IncomingKind::Application,
    };
    let channel = match new.filing {
        Filing::Counter { .. } => Channel::Counter,
        // A department system files electronically, as a PEC would.
        Filing::System => Channel::Pec,
    };
    let filing = desk
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: new.municipality,
                kind,
                sender_ref: new
                    .requester_ref
                    .as_ref()
                    .map_or_else(|| business.clone(), ToString::to_string),
                sender_name: String::new(),
                subject: format!("{} — {}", new.procedure.title, new.subject)
                    .chars()
                    .take(500)
                    .collect(),
                document_sha256: sha256_hex(
                    manifest(&format!("pratica {id} {}", new.procedure.code), &documents)
                        .as_bytes(),
                ),
                channel,
                idempotency_key: document_key(&[&id.to_string(), "protocol"]),
            },
        )
        .await?;
    let received_on = rome::date_of(filing.registered_at);
    let receipt_text = format!(
        "ricevuta di presentazione\npratica {id}\nprocedimento {}\nprotocollo {}\ndel {received_on}\n{}",
        new.procedure.code,
        filing.number,
        manifest("documenti", &documents)
    );
    let receipt = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                new.municipality,
                &id.to_string(),
                OutgoingKind::Receipt,
                &business,
                &format!(
                    "Ricevuta di presentazione, pratica SUAP prot. {}",
                    filing.number
                ),
                &receipt_text,
            ),
        )
        .await?;
    // SCIA unica: the other bodies concerned receive it at once (art. 19-bis c. 2).
    for office in new.procedure.forwarded_to {
        desk.protocol
            .register_outgoing(
                context,
                &Outgoing::of_procedure(
                    new.municipality,
                    &id.to_string(),
                    OutgoingKind::Communication,
                    &format!("ente:{office}"),
                    &format!(
                        "Trasmissione SCIA unica (art. 19-bis c. 2 L. 241/1990), pratica SUAP \
                         prot. {}",
                        filing.number
                    ),
                    &receipt_text,
                ),
            )
            .await?;
    }

    let store = desk.documents.clone();
    let actor = context.actor().to_owned();
    desk.db
        .idempotent(FILE, key, &fingerprint, move |uow| {
            Box::pin(async move {
                // The land asked for is requested with the filing (it holds nothing until
                // granted with the decision).
                let occupation_id = match &new.occupation {
                    Some(occupation) => Some(
                        crate::occupations::flow::request(uow, occupation, None)
                            .await?
                            .id,
                    ),
                    None => None,
                };
                let mut app = store::insert(
                    uow,
                    store::Filed {
                        new: &new,
                        id,
                        filed_by: &actor,
                        received_on,
                        protocol: &filing,
                        occupation_id,
                    },
                )
                .await?;
                record_documents(uow, store.as_ref(), id, "filing", &documents).await?;
                store::set_receipt(uow.conn(), id, &receipt).await?;
                app.receipt_number = Some(receipt.number.clone());
                let refs = documents
                    .iter()
                    .map(|d| {
                        let title = new
                            .procedure
                            .checklist
                            .iter()
                            .find(|c| c.code == d.item)
                            .map_or("Documento", |c| c.title);
                        d.work_ref(title)
                    })
                    .collect();
                work::request(uow, &app, refs).await?;
                clock::schedule(uow, &app).await?;
                steps::emit_changed(uow, &app, "filed", new.procedure.forwarded_to).await?;
                let rows: Vec<DocumentRow> = documents.iter().map(Checked::row).collect();
                Ok(FileApplicationResponse {
                    application: Some(message::application(&app, &rows, &[])?),
                })
            })
        })
        .await
}
