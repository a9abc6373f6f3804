//! The back office's work, handed to routing over NATS (DESIGN.md, "How departments and
//! routing work together"): an objection to the provisional ranking is reviewed by a
//! specialist of the *servizi educativi* as `education.ranking_objection` work,
//! published as `WorkRequested` on `education.work.requested` in the transaction that
//! files it. Education consumes routing's `work.education.>` events: `opened` notes the
//! case, `completed` applies the specialist's outcome ([`super::objections::decide`]).

use futures::future::BoxFuture;
use jiff::civil::Date;
use sportello_kit::{
    Aggregate, ConsumerSpec, EventHandler, EventRecord, HandlerError, MunicipalityCode,
    ServiceError, UnitOfWork, work::WorkEvent,
};
use sportello_pa::{
    Term,
    calendar::{Calendar, rome},
    clock::{self, ClockOptions, Procedure},
};
use sportello_proto::routing::v1::{
    OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkOrigin, WorkRequested,
};

use super::{
    domain::ObjectionId,
    objections, reviews,
    store::{self, Application, Objection},
};

/// The work request's event type (and subject, under the prefix).
pub const REQUESTED: &str = "education.work.requested";
/// The catalogue code of an objection's review.
pub const OBJECTION_REVIEW: &str = "education.ranking_objection";
/// The catalogue code of an application's review after a registry fact changed.
pub const APPLICATION_REVIEW: &str = "education.application_review";
/// The catalogue code of the check of an application's self-declarations.
pub const DECLARATION_CHECK: &str = "education.declaration_check";
/// The durable consumer of routing's events about education's work.
pub const CONSUMER: &str = "education-work";
/// What it reads.
pub const SUBJECTS: &[&str] = &["work.education.>"];
/// The term of an objection's review: 30 days (L. 241/1990 art. 2 c. 2), for the
/// municipality's regulation sets none shorter; nothing happens by itself at its end.
const REVIEW_DAYS: u32 = 30;

/// The consumer's spec, declared in education's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS)
}

/// The review's clock from the PA library: 30 days from the day the objection was
/// received, rolled past holidays.
fn review_clock(
    municipality: MunicipalityCode,
    received: Date,
) -> Result<StatutoryClock, ServiceError> {
    let deadline = clock::deadline(
        &Calendar::for_municipality(municipality.as_str()),
        Procedure::Generic {
            term: Term::Days(REVIEW_DAYS),
            silence_assent: false,
        },
        received,
        &[],
        ClockOptions::default(),
    )
    .map_err(ServiceError::internal)?;
    Ok(StatutoryClock {
        rule: deadline.procedure.to_owned(),
        start_date: received.to_string(),
        due_date: deadline.due.map(|d| d.to_string()).unwrap_or_default(),
        warning_date: deadline.warning.map(|d| d.to_string()).unwrap_or_default(),
        outcome_on_expiry: OutcomeOnExpiry::DecisionDue as i32,
        suspensions: Vec::new(),
    })
}

/// Hands the review of `objection` to routing, in `uow`: ids, the application's code
/// and the protocol number for the specialist — never the grounds, which the family
/// wrote and which may hold anything (the specialist reads them from education).
pub async fn request(
    uow: &mut UnitOfWork,
    objection: &Objection,
    application: &Application,
    municipality: MunicipalityCode,
) -> Result<(), ServiceError> {
    let id = objection.id.0.to_string();
    let message = WorkRequested {
        work_id: id.clone(),
        origin: Some(WorkOrigin {
            service: "education".into(),
            procedure_kind: "ranking_objection".into(),
            procedure_id: id.clone(),
        }),
        municipality_istat_code: municipality.to_string(),
        service_code: OBJECTION_REVIEW.into(),
        requester_ref: application.applicant_ref.clone(),
        clock: Some(review_clock(
            municipality,
            rome::date_of(objection.filed_at),
        )?),
        context_note: format!(
            "Ricorso contro la graduatoria provvisoria, domanda {code}, protocollo {protocol}: \
             riesame del punteggio. Esiti: upheld con i soli valori corretti \
             (result: working_parents, siblings_enrolled, isee_value_cents o none, \
             dsu_protocol, disability_certified), rejected / objection to the provisional \
             ranking: review of the score",
            code = application.code,
            protocol = objection.protocol_number,
        ),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: objection.protocol_registration_id.clone(),
    };
    uow.emit_as(
        REQUESTED.into(),
        &message,
        Aggregate {
            kind: "education.objection",
            id: &id,
            version: 1,
            municipality,
        },
    )
    .await?;
    Ok(())
}

/// Hands the review of `application` to routing, in `uow`: `kind` is
/// `registry_change` (a registry fact changed: `reason`) or `declaration_check` (drawn for
/// the check of its self-declarations).
pub async fn request_review(
    uow: &mut UnitOfWork,
    id: uuid::Uuid,
    application: &Application,
    municipality: MunicipalityCode,
    kind: &str,
    reason: &str,
) -> Result<(), ServiceError> {
    let key = id.to_string();
    let (procedure_kind, service_code, next) = if kind == "declaration_check" {
        (
            "declaration_check",
            DECLARATION_CHECK,
            "Controllare presso chi le detiene (INPS per l'ISEE, i datori di lavoro) le \
             dichiarazioni sostitutive; esiti: confirmed, not_truthful con i soli valori \
             veri (result: working_parents, siblings_enrolled, isee_value_cents o none, \
             dsu_protocol) / check the self-declarations",
        )
    } else {
        (
            "application_review",
            APPLICATION_REVIEW,
            "Verificare i requisiti; esiti: kept (resta com'è), residence_lost (perde i \
             punti di residenza e si ricalcola) / a registry fact the application depends \
             on changed",
        )
    };
    let message = WorkRequested {
        work_id: key.clone(),
        origin: Some(WorkOrigin {
            service: "education".into(),
            procedure_kind: procedure_kind.into(),
            procedure_id: key.clone(),
        }),
        municipality_istat_code: municipality.to_string(),
        service_code: service_code.into(),
        requester_ref: application.applicant_ref.clone(),
        clock: Some(review_clock(municipality, rome::date_of(uow.now()))?),
        context_note: format!(
            "Domanda {code}, protocollo {protocol}: {reason}. {next}",
            code = application.code,
            protocol = application.protocol_number,
        ),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: application.protocol_registration_id.clone(),
    };
    uow.emit_as(
        REQUESTED.into(),
        &message,
        Aggregate {
            kind: "education.review",
            id: &key,
            version: 1,
            municipality,
        },
    )
    .await?;
    Ok(())
}

/// Routing's work events education could never apply.
const REJECTED: &str = "sportello_education_work_events_rejected_total";

/// Applies routing's events about education's work.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkEvents;

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let work = WorkEvent::decode(event, "education", REJECTED)?;
            let id = work.procedure_id(REJECTED)?;
            let item = &work.item;
            let actor = if item.holder.is_empty() {
                "system:routing".to_owned()
            } else {
                format!("operator:{}", item.holder)
            };
            let retry = |e: sqlx::Error| HandlerError::Retry(e.into());
            let decided = |e| sportello_kit::work::retry_or_reject(REJECTED, e);
            match work.origin().procedure_kind.as_str() {
                "ranking_objection" => {
                    let id = ObjectionId(id);
                    // The window first, as every step that ranks or rescores takes it.
                    if let Some(found) =
                        store::find_objection(uow.conn(), id).await.map_err(retry)?
                    {
                        store::lock_window(uow, found.window_id)
                            .await
                            .map_err(retry)?;
                    }
                    let Some(objection) = store::lock_objection(uow, id).await.map_err(retry)?
                    else {
                        return Err(sportello_kit::work::reject(
                            REJECTED,
                            format!("no objection {}", id.0),
                        ));
                    };
                    match work.change.as_str() {
                        "opened" => store::set_objection_case(uow, id, &item.case_id)
                            .await
                            .map_err(retry)?,
                        "completed" => objections::decide(
                            uow,
                            objection,
                            &item.outcome_code,
                            &item.result,
                            &actor,
                            &item.case_id,
                        )
                        .await
                        .map_err(decided)?,
                        // Offers, acceptance, escalation, a withdrawal: routing's own.
                        _ => {}
                    }
                }
                "application_review" | "declaration_check" => {
                    if let Some(window) = store::window_of_review(uow.conn(), id)
                        .await
                        .map_err(retry)?
                    {
                        store::lock_window(uow, window).await.map_err(retry)?;
                    }
                    let Some(review) = store::lock_review(uow, id).await.map_err(retry)? else {
                        return Err(sportello_kit::work::reject(
                            REJECTED,
                            format!("no review {id}"),
                        ));
                    };
                    match work.change.as_str() {
                        "opened" => store::set_review_case(uow, id, &item.case_id)
                            .await
                            .map_err(retry)?,
                        "completed" => {
                            reviews::decide(
                                uow,
                                review,
                                &item.outcome_code,
                                &item.result,
                                &actor,
                                &item.case_id,
                            )
                            .await
                            .map_err(decided)?;
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(sportello_kit::work::reject(
                        REJECTED,
                        format!("unknown procedure {other}"),
                    ));
                }
            }
            Ok(())
        })
    }
}
