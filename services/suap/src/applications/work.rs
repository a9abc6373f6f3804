//! The back office's work, handed to routing over NATS (DESIGN.md, "How departments and
//! routing work together"): the SUAP never calls routing to open or close a case. It
//! publishes `WorkRequested` on `suap.work.requested` in the transaction that records the
//! step — the SCIA's control (`suap.scia_control`), the ordinary procedure's review
//! (`suap.ordinary_review`) — and `WorkUpdated` on `suap.work.updated` when its clock
//! changes or the SUAP decides without the back office (the controls lapsing,
//! silence-assent: kind DECIDED). It consumes routing's `work.suap.>` events: `opened`
//! notes the case, `completed` applies the specialist's outcome (`compliant`,
//! `conform_order` with the days given, `prohibited`; `granted`), `cancelled` notes the
//! work closed.
//!
//! A SCIA may need more than one control: the measures reported after an order to
//! conform start a new round of work, whose id is derived from the application's and
//! the round's number (a redelivery derives the same id and routing dedupes it).

use futures::future::BoxFuture;
use sportello_kit::{
    Aggregate, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
    protocol::document_key, work::WorkEvent,
};
use sportello_proto::routing::v1::{
    PriorityCategory, WorkItem, WorkOrigin, WorkRequested, WorkUpdateKind, WorkUpdated,
};
use uuid::Uuid;

use super::{
    clock,
    domain::ApplicationId,
    procedures::Regime,
    steps::{self, Desk},
    store::{self, Application},
};

/// The work request's event type (and subject, under the prefix).
pub const REQUESTED: &str = "suap.work.requested";
/// The work update's event type.
pub const UPDATED: &str = "suap.work.updated";
/// The catalogue code of a SCIA's control.
pub const SCIA_CONTROL: &str = "suap.scia_control";
/// The catalogue code of an ordinary procedure's review.
pub const ORDINARY_REVIEW: &str = "suap.ordinary_review";
/// The durable consumer of routing's events about the SUAP's work.
pub const CONSUMER: &str = "suap-work";
/// What it reads.
pub const SUBJECTS: &[&str] = &["work.suap.>"];

/// The consumer's spec, declared in the SUAP's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS)
}

/// The aggregate an application's events belong to.
pub fn aggregate<'a>(app: &'a Application, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "suap.application",
        id,
        version: app.version,
        municipality: app.municipality,
    }
}

fn origin(app: &Application) -> WorkOrigin {
    WorkOrigin {
        service: "suap".into(),
        procedure_kind: app.regime.id().into(),
        procedure_id: app.id.to_string(),
    }
}

/// The id of the application's work in `round`: the application's own id for the first.
pub fn work_id(id: ApplicationId, round: i32) -> Uuid {
    if round <= 1 {
        id.0
    } else {
        document_key(&[&id.to_string(), "work-round", &round.to_string()])
    }
}

fn service_code(app: &Application) -> Option<&'static str> {
    match app.regime {
        Regime::Scia | Regime::SciaBuilding => Some(SCIA_CONTROL),
        Regime::Ordinary(_) => Some(ORDINARY_REVIEW),
        Regime::Communication => None,
    }
}

/// Hands the application's current round of work to routing, in `uow`. A communication
/// has none.
pub async fn request(
    uow: &mut UnitOfWork,
    app: &Application,
    documents: Vec<sportello_proto::routing::v1::DocumentRef>,
) -> Result<(), ServiceError> {
    request_round(uow, app, documents, None).await
}

/// Starts the application's next round of back-office work (the last one is closed):
/// saves it and hands it over with its documents and a word on why it exists (no personal
/// data: routing refuses a note that holds any).
pub async fn next_round(
    uow: &mut UnitOfWork,
    mut app: Application,
    documents: Vec<sportello_proto::routing::v1::DocumentRef>,
    note: Option<&str>,
) -> Result<Application, ServiceError> {
    app.work_round += 1;
    app.case_id = None;
    app.work_closed_at = None;
    let app = store::save(uow, &app).await?;
    request_round(uow, &app, documents, note).await?;
    Ok(app)
}

/// Hands the back office the application's current round, with its documents and a
/// word on why the round exists.
pub async fn request_round(
    uow: &mut UnitOfWork,
    app: &Application,
    documents: Vec<sportello_proto::routing::v1::DocumentRef>,
    note: Option<&str>,
) -> Result<(), ServiceError> {
    let Some(code) = service_code(app) else {
        return Ok(());
    };
    let id = app.id.to_string();
    let next = match code {
        SCIA_CONTROL => {
            "controllo dei requisiti; esiti: compliant, conform_order (result days >= 30), \
             prohibited / check of the requirements"
        }
        _ => {
            "istruttoria e decisione; esiti: granted, reasons_against (preavviso di rigetto, \
             result reasons), refused (dopo il preavviso, result reasons) / review and decision"
        }
    };
    let round = if app.work_round > 1 {
        format!(
            " (controllo n. {} dopo l'ordine di conformazione)",
            app.work_round
        )
    } else {
        String::new()
    };
    let message = WorkRequested {
        work_id: work_id(app.id, app.work_round).to_string(),
        origin: Some(origin(app)),
        municipality_istat_code: app.municipality.to_string(),
        service_code: code.into(),
        requester_ref: app.requester_ref.clone().unwrap_or_default(),
        clock: clock::statutory_clock(app)?,
        // For the specialist: the procedure and the protocol, never a name.
        context_note: format!(
            "Pratica SUAP {procedure}, protocollo {protocol}{round}: {next}.{extra}",
            procedure = app.procedure_code,
            protocol = app.protocol_number,
            extra = note.map(|n| format!(" {n}")).unwrap_or_default(),
        )
        .chars()
        .take(2000)
        .collect(),
        priority_category: PriorityCategory::None as i32,
        documents,
        protocol_registration_id: app.protocol_registration_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(app, &id))
        .await?;
    Ok(())
}

/// Tells routing the current work's clock changed or the SUAP decided it (`outcome` with
/// DECIDED), in `uow` — nothing when routing closed it already.
pub async fn update(
    uow: &mut UnitOfWork,
    app: &Application,
    kind: WorkUpdateKind,
    note: &str,
    outcome: &str,
) -> Result<(), ServiceError> {
    if service_code(app).is_none() || app.work_closed_at.is_some() {
        return Ok(());
    }
    let id = app.id.to_string();
    let message = WorkUpdated {
        work_id: work_id(app.id, app.work_round).to_string(),
        origin: Some(origin(app)),
        municipality_istat_code: app.municipality.to_string(),
        kind: kind as i32,
        clock: clock::statutory_clock(app)?,
        note: note.to_owned(),
        outcome_code: outcome.to_owned(),
        result: Default::default(),
    };
    uow.emit_as(UPDATED.into(), &message, aggregate(app, &id))
        .await?;
    Ok(())
}

/// Applies routing's events about the SUAP's work.
#[derive(Debug, Clone)]
pub struct WorkEvents {
    desk: Desk,
}

impl WorkEvents {
    /// Applies them with `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }
}

/// Routing's work events the SUAP could never apply.
const REJECTED: &str = "sportello_suap_work_events_rejected_total";

fn reject(why: impl Into<String>) -> HandlerError {
    sportello_kit::work::reject(REJECTED, why)
}

/// The kit's rule, and a step the procedure refuses never applies later either.
fn retry_or_reject(error: ServiceError) -> HandlerError {
    if error.kind() == sportello_kit::ErrorKind::FailedPrecondition {
        return reject(error.to_string());
    }
    sportello_kit::work::retry_or_reject(REJECTED, error)
}

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let work = WorkEvent::decode(event, "suap", REJECTED)?;
            let id = ApplicationId(work.procedure_id(REJECTED)?);
            let (change, item) = (work.change.as_str(), &work.item);
            let Some(app) = store::lock(uow.conn(), id)
                .await
                .map_err(|e| HandlerError::Retry(e.into()))?
            else {
                return Err(reject(format!("no SUAP application {id}")));
            };
            // An earlier round's work: its events change nothing now.
            if item.work_id != work_id(app.id, app.work_round).to_string() {
                return Ok(());
            }
            match change {
                "opened" => {
                    let mut app = app;
                    app.case_id = Some(item.case_id.clone());
                    store::save(uow, &app)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                }
                "completed" => {
                    completed(&self.desk, uow, app, item)
                        .await
                        .map_err(retry_or_reject)?;
                }
                "cancelled" => {
                    let mut app = app;
                    app.case_id = Some(item.case_id.clone());
                    app.work_closed_at = Some(uow.now());
                    store::save(uow, &app)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                }
                // Offers, acceptance, escalation: routing's own business.
                _ => {}
            }
            Ok(())
        })
    }
}

/// The specialist completed the current work: its outcome decides the step. The work is
/// noted closed first, so the step sends nothing back to routing.
async fn completed(
    desk: &Desk,
    uow: &mut UnitOfWork,
    mut app: Application,
    item: &WorkItem,
) -> Result<(), ServiceError> {
    app.case_id = Some(item.case_id.clone());
    app.work_closed_at = Some(uow.now());
    let actor = if item.holder.is_empty() {
        "system:routing".to_owned()
    } else {
        format!("operator:{}", item.holder)
    };
    if app.status.is_final() {
        // Decided meanwhile by the SUAP (the controls lapsed, silence-assent): the first
        // decision stands.
        store::save(uow, &app).await?;
        tracing::info!(application_id = %app.id, outcome = %item.outcome_code,
            "routing completed work the SUAP had already decided");
        return Ok(());
    }
    steps::apply_outcome(desk, uow, app, &actor, &item.outcome_code, &item.result).await
}
