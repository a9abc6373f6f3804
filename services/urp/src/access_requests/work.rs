//! The office's work on an access request, handed to routing as every department does
//! (DESIGN.md, "How departments and routing work together"): `urp.access_request` on the
//! decision's term, `urp.access_review` for the transparency officer on the review's.
//! Clock changes (an irregular request, the counter-interested parties' suspension, the
//! Garante) and decisions travel back as `WorkUpdated`; the decision itself is written in
//! URP (grounds, reasons, remedies: the letter the requester receives).

use sportello_kit::{Aggregate, ServiceError, UnitOfWork, protocol::document_key};
use sportello_pa::{Deadline, Outcome, Stop};
use sportello_proto::routing::v1::{
    ClockSuspension, OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkOrigin, WorkRequested,
    WorkUpdateKind, WorkUpdated,
};
use uuid::Uuid;

use super::{domain::Kind, store::Access};
use crate::reports::work::{REQUESTED, UPDATED};

/// The catalogue code of an access request's decision.
pub const ACCESS_REQUEST: &str = "urp.access_request";
/// The catalogue code of a civic access's review.
pub const ACCESS_REVIEW: &str = "urp.access_review";
/// The procedure kind of the decision's work.
pub const PROCEDURE_KIND: &str = "access_request";
/// The procedure kind of the review's work.
pub const REVIEW_KIND: &str = "access_review";

/// The aggregate an access request's events belong to.
pub fn aggregate<'a>(a: &Access, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "urp.access_request",
        id,
        version: i64::from(a.version),
        municipality: a.municipality,
    }
}

/// The review's work id, derived from the request's (a retry derives the same).
pub fn review_work_id(id: Uuid) -> Uuid {
    document_key(&[&id.to_string(), "review"])
}

/// The clock routing shows and escalates on, with the suspensions among `stops`.
pub fn clock(
    deadline: &Deadline,
    stops: &[Stop],
    objection_deadline: Option<jiff::civil::Date>,
) -> StatutoryClock {
    let outcome = match deadline.outcome_on_expiry {
        Outcome::SilenceRejection => OutcomeOnExpiry::SilenceRejection,
        Outcome::Breach => OutcomeOnExpiry::DecisionDue,
        Outcome::SilenceAssent => OutcomeOnExpiry::SilenceAssent,
        _ => OutcomeOnExpiry::RuleDefined,
    };
    StatutoryClock {
        rule: deadline.procedure.to_owned(),
        start_date: deadline.counting_from.to_string(),
        due_date: deadline.due.map(|d| d.to_string()).unwrap_or_default(),
        warning_date: deadline.warning.map(|d| d.to_string()).unwrap_or_default(),
        outcome_on_expiry: outcome as i32,
        suspensions: suspensions(stops, objection_deadline),
    }
}

/// The suspensions among `stops`, as routing lists them.
pub fn suspensions(
    stops: &[Stop],
    objection_deadline: Option<jiff::civil::Date>,
) -> Vec<ClockSuspension> {
    stops
        .iter()
        .filter_map(|stop| match *stop {
            Stop::CounterInterested {
                notified,
                objection,
            } => Some(ClockSuspension {
                reason: "counter_interested".into(),
                from_date: notified.to_string(),
                until_date: objection
                    .or(objection_deadline)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            }),
            Stop::GaranteOpinion { asked, given } => Some(ClockSuspension {
                reason: "garante_opinion".into(),
                from_date: asked.to_string(),
                until_date: given.map(|d| d.to_string()).unwrap_or_default(),
            }),
            Stop::IrregularRequest {
                notified,
                corrected,
            } => Some(ClockSuspension {
                reason: "irregular_request".into(),
                from_date: notified.to_string(),
                until_date: corrected.map(|d| d.to_string()).unwrap_or_default(),
            }),
            _ => None,
        })
        .collect()
}

fn origin(a: &Access, kind: &str) -> WorkOrigin {
    WorkOrigin {
        service: "urp".into(),
        procedure_kind: kind.into(),
        procedure_id: a.id.to_string(),
    }
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Documents => "Accesso agli atti (L. 241/1990)",
        Kind::CivicSimple => "Accesso civico semplice (D.Lgs 33/2013 art. 5 c. 1)",
        Kind::CivicGeneralised => "Accesso civico generalizzato (D.Lgs 33/2013 art. 5 c. 2)",
    }
}

fn cut(note: String) -> String {
    if note.chars().count() > 2000 {
        note.chars().take(1997).collect::<String>() + "..."
    } else {
        note
    }
}

/// Hands the decision to the office, in `uow`: what is asked (masked), never who asks.
pub async fn request(
    uow: &mut UnitOfWork,
    a: &Access,
    clock: StatutoryClock,
) -> Result<(), ServiceError> {
    let id = a.id.to_string();
    let message = WorkRequested {
        work_id: id.clone(),
        origin: Some(origin(a, PROCEDURE_KIND)),
        municipality_istat_code: a.municipality.to_string(),
        service_code: ACCESS_REQUEST.into(),
        requester_ref: a.requester_ref.clone(),
        clock: Some(clock),
        context_note: cut(format!(
            "{}, prot. {}. Oggetto: {}{}",
            what(a.kind),
            a.protocol_number,
            a.subject,
            if a.interest.is_empty() {
                String::new()
            } else {
                format!(". Interesse dichiarato: {}", a.interest)
            }
        )),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: a.protocol_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(a, &id))
        .await?;
    Ok(())
}

/// Tells routing what changed on the decision's work (or the review's, `review`).
pub async fn update(
    uow: &mut UnitOfWork,
    a: &Access,
    review: bool,
    kind: WorkUpdateKind,
    clock: Option<StatutoryClock>,
    note: &str,
    outcome: &str,
) -> Result<(), ServiceError> {
    let id = a.id.to_string();
    let (work_id, procedure_kind) = if review {
        (review_work_id(a.id).to_string(), REVIEW_KIND)
    } else {
        (id.clone(), PROCEDURE_KIND)
    };
    let message = WorkUpdated {
        work_id,
        origin: Some(origin(a, procedure_kind)),
        municipality_istat_code: a.municipality.to_string(),
        kind: kind as i32,
        clock,
        note: note.to_owned(),
        outcome_code: outcome.to_owned(),
        result: Default::default(),
    };
    uow.emit_as(UPDATED.into(), &message, aggregate(a, &id))
        .await?;
    Ok(())
}

/// Hands the review to the transparency officer, in `uow`.
pub async fn request_review(
    uow: &mut UnitOfWork,
    a: &Access,
    clock: StatutoryClock,
) -> Result<(), ServiceError> {
    let id = a.id.to_string();
    let message = WorkRequested {
        work_id: review_work_id(a.id).to_string(),
        origin: Some(origin(a, REVIEW_KIND)),
        municipality_istat_code: a.municipality.to_string(),
        service_code: ACCESS_REVIEW.into(),
        requester_ref: a.requester_ref.clone(),
        clock: Some(clock),
        context_note: cut(format!(
            "Riesame (D.Lgs 33/2013 art. 5 c. 7) dell'accesso prot. {}, decisione: {}, motivi: \
             {}. Oggetto: {}",
            a.protocol_number,
            a.decision
                .map_or("nessuna risposta nel termine", |d| d.id()),
            if a.grounds.is_empty() {
                "-".to_owned()
            } else {
                a.grounds.join(", ")
            },
            a.subject
        )),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: a.protocol_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(a, &id))
        .await?;
    Ok(())
}
