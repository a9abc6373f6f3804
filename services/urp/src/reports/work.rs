//! The office's work on a report, handed to routing over NATS (DESIGN.md, "How
//! departments and routing work together"): `urp.report_reply` work, published as
//! `WorkRequested` on `urp.work.requested` in the filing's transaction, on the service
//! charter's clock. URP consumes routing's `work.urp.>` events: `opened` notes the case,
//! `assigned`/`held` show the report in progress. The reply is written in URP (it is the
//! letter the citizen receives, too long and too personal for an event) and travels back
//! as `WorkUpdated` DECIDED with its outcome, which completes the work in routing.

use futures::future::BoxFuture;
use jiff::civil::Date;
use sportello_kit::{
    Aggregate, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
    documents::CheckedDocument, work::WorkEvent,
};
use sportello_proto::routing::v1::{
    DocumentRef, OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkOrigin, WorkRequested,
    WorkUpdateKind, WorkUpdated,
};

use super::{
    domain::{Kind, Status},
    store::{self, Report},
};

/// The work request's event type (and subject, under the prefix).
pub const REQUESTED: &str = "urp.work.requested";
/// A change to a request's standing.
pub const UPDATED: &str = "urp.work.updated";
/// The catalogue code of a report's reply.
pub const REPORT_REPLY: &str = "urp.report_reply";
/// The durable consumer of routing's events about URP's work.
pub const CONSUMER: &str = "urp-work";
/// What it reads.
pub const SUBJECTS: &[&str] = &["work.urp.>"];
/// The procedure kind of a report's work.
pub const PROCEDURE_KIND: &str = "report";

/// The consumer's spec, declared in URP's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS)
}

/// The aggregate a report's events belong to (`id`: the report's id as text).
pub fn aggregate<'a>(report: &Report, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "urp.report",
        id,
        version: i64::from(report.version),
        municipality: report.municipality,
    }
}

fn origin(report: &Report) -> WorkOrigin {
    WorkOrigin {
        service: "urp".into(),
        procedure_kind: PROCEDURE_KIND.into(),
        procedure_id: report.id.to_string(),
    }
}

fn clock(received: Date, warning: Date, due: Date) -> StatutoryClock {
    StatutoryClock {
        rule: "urp_answer".into(),
        start_date: received.to_string(),
        due_date: due.to_string(),
        warning_date: warning.to_string(),
        outcome_on_expiry: OutcomeOnExpiry::DecisionDue as i32,
        suspensions: Vec::new(),
    }
}

/// Hands the reply to `report` to its office, in `uow`: the code, the category, where,
/// and the description masked — never the person, whom the office reads from URP.
pub async fn request(
    uow: &mut UnitOfWork,
    report: &Report,
    received: Date,
    warning: Date,
    attachments: &[CheckedDocument],
) -> Result<(), ServiceError> {
    let what = match report.kind {
        Kind::Report => "Segnalazione",
        Kind::Complaint => "Reclamo",
    };
    let place = match (&report.point, report.address.is_empty()) {
        (Some((lat, long)), _) if report.address.is_empty() => format!(" — {lat:.5}, {long:.5}"),
        (_, false) => format!(" — {}", report.address),
        _ => String::new(),
    };
    let masked = if report.masked.is_empty() {
        String::new()
    } else {
        format!(
            " [dati personali mascherati: {}; il testo integrale è nella segnalazione]",
            report.masked.join(", ")
        )
    };
    let mut note = format!(
        "{what} {code}, {category}{place}. Risposta entro il {due}. Esiti: resolved, \
         unfounded, forwarded. Testo: {text}{masked}",
        code = report.code,
        category = report.category_name,
        due = report.due_date,
        text = report.description_masked,
    );
    // The note's limit is routing's: cut on a character boundary.
    if note.chars().count() > 2000 {
        note = note.chars().take(1997).collect::<String>() + "...";
    }
    let id = report.id.to_string();
    let message = WorkRequested {
        work_id: id.clone(),
        origin: Some(origin(report)),
        municipality_istat_code: report.municipality.to_string(),
        service_code: REPORT_REPLY.into(),
        requester_ref: report.requester_ref.clone().unwrap_or_default(),
        clock: Some(clock(received, warning, report.due_date)),
        context_note: note,
        priority_category: PriorityCategory::None as i32,
        documents: attachments
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let r = a.reference();
                DocumentRef {
                    sha256: r.sha256.to_string(),
                    media_type: r.media_type.to_string(),
                    size_bytes: r.size_bytes,
                    title: format!("Allegato {}", i + 1),
                }
            })
            .collect(),
        protocol_registration_id: report.protocol_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(report, &id))
        .await?;
    Ok(())
}

/// Tells routing URP replied: the work completes with the reply's outcome.
pub async fn replied(uow: &mut UnitOfWork, report: &Report) -> Result<(), ServiceError> {
    let id = report.id.to_string();
    let outcome = report.outcome.map_or("resolved", |o| o.id());
    let message = WorkUpdated {
        work_id: id.clone(),
        origin: Some(origin(report)),
        municipality_istat_code: report.municipality.to_string(),
        kind: WorkUpdateKind::Decided as i32,
        clock: None,
        note: format!(
            "Risposta inviata, prot. {} / reply sent",
            report.reply_protocol_number.as_deref().unwrap_or_default()
        ),
        outcome_code: outcome.to_owned(),
        result: [(
            "reply_protocol_number".to_owned(),
            report.reply_protocol_number.clone().unwrap_or_default(),
        )]
        .into_iter()
        .collect(),
    };
    uow.emit_as(UPDATED.into(), &message, aggregate(report, &id))
        .await?;
    Ok(())
}

/// Routing's work events URP could never apply.
const REJECTED: &str = "sportello_urp_work_events_rejected_total";

/// Applies routing's events about URP's work: the case noted, the report in progress
/// once someone holds it. The outcome is URP's own (the reply), so `completed` changes
/// nothing but the case noted.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkEvents;

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let work = WorkEvent::decode(event, "urp", REJECTED)?;
            if work.origin().procedure_kind != PROCEDURE_KIND {
                return Ok(());
            }
            let id = work.procedure_id(REJECTED)?;
            let retry = |e: sqlx::Error| HandlerError::Retry(e.into());
            let Some(report) = store::lock(uow, id).await.map_err(retry)? else {
                return Err(sportello_kit::work::reject(
                    REJECTED,
                    format!("no report {id}"),
                ));
            };
            if report.status == Status::Closed {
                return Ok(());
            }
            // `assigned`: a specialist accepted it.
            let held = work.change == "assigned";
            let case = work.item.case_id.clone();
            if case.is_empty() {
                return Ok(());
            }
            store::set_in_progress(uow, &report, &case, held)
                .await
                .map_err(retry)?;
            Ok(())
        })
    }
}
