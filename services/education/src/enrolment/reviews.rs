//! Facts change, the application follows: education consumes the registry's
//! `resident.status_changed` events (durable inbox) and flags every application of the
//! person — as child or as applicant — for review as back-office work, with the reason
//! (moved away, deceased, abroad, and the day). The specialist decides: `kept` (nothing
//! changes), or `residence_lost` (the residence points go, the application is rescored).
//! The checks of self-declarations drawn by [`super::checks`] are reviews too, decided
//! `confirmed` or `not_truthful`.

use std::collections::HashMap;

use futures::future::BoxFuture;
use prost::Message as _;
use sportello_kit::{
    ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
    protocol::document_key,
};
use sportello_proto::registry::v1::{ResidentStatus, ResidentStatusChanged};

use super::{
    criteria::{self, Declared},
    domain::corrected_declarations,
    store, work,
};

/// The durable consumer of the registry's events.
pub const CONSUMER: &str = "education-registry";
/// What it reads.
pub const SUBJECTS: &[&str] = &["registry.resident.status_changed"];

/// The consumer's spec, declared in education's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "registry", SUBJECTS)
}

/// Registry events education could never apply.
const REJECTED: &str = "sportello_education_registry_events_rejected_total";

/// Flags the applications a status change touches.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryEvents;

/// The reason in Italian, then in English: what the registry recorded, since when, and
/// about whom.
fn reason(status: ResidentStatus, day: &str, child: bool) -> Option<String> {
    let (italiano, english) = match status {
        ResidentStatus::MovedAway => ("trasferito in un altro comune", "moved away"),
        ResidentStatus::Deceased => ("deceduto", "deceased"),
        ResidentStatus::Aire => ("trasferito all'estero (AIRE)", "moved abroad"),
        _ => return None,
    };
    let (chi, who) = if child {
        ("bambino", "child")
    } else {
        ("richiedente", "applicant")
    };
    Some(format!(
        "anagrafe: {italiano} dal {day} ({chi}) / registry: {english} on {day} ({who})"
    ))
}

impl EventHandler for RegistryEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let changed = ResidentStatusChanged::decode(event.data.clone()).map_err(|e| {
                sportello_kit::work::reject(REJECTED, format!("undecodable status change: {e}"))
            })?;
            let status = ResidentStatus::try_from(changed.status).unwrap_or_default();
            if reason(status, "", true).is_none() {
                return Ok(());
            }
            let touched = store::applications_of_person(uow.conn(), &changed.requester_ref)
                .await
                .map_err(|e| HandlerError::Retry(e.into()))?;
            for application in touched {
                let child = application.child_ref == changed.requester_ref;
                let reason = reason(status, &changed.effective_date, child).unwrap_or_default();
                // One review per event and application, whatever is redelivered.
                let id = document_key(&[&event.id.to_string(), &application.id.0.to_string()]);
                // Under the window's lock, as a final ranking counts the open reviews.
                let window = store::lock_window(uow, application.window_id)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?
                    .ok_or_else(|| {
                        sportello_kit::work::reject(REJECTED, "an application without its window")
                    })?;
                store::insert_review(uow, id, application.id, "registry_change", &reason)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?;
                work::request_review(
                    uow,
                    id,
                    &application,
                    window.window.municipality,
                    "registry_change",
                    &reason,
                )
                .await
                .map_err(HandlerError::Retry)?;
                tracing::info!(application_id = %application.id.0, "application flagged for review");
            }
            Ok(())
        })
    }
}

/// Applies the back office's outcome of a review, in `uow`; a review decided already
/// keeps its first decision. A registry change: `kept`, or `residence_lost` (the
/// residence points go). A check of the declarations: `confirmed`, or `not_truthful` with
/// the true values in the result — the application is rescored on them, losing what the
/// untrue declaration gained (DPR 445/2000 art. 75).
pub async fn decide(
    uow: &mut UnitOfWork,
    review: store::Review,
    outcome: &str,
    result: &HashMap<String, String>,
    actor: &str,
    case_id: &str,
) -> Result<(), ServiceError> {
    if review.status != "open" {
        return Ok(());
    }
    let rescore = match (review.kind.as_str(), outcome) {
        ("registry_change", "kept") | ("declaration_check", "confirmed") => false,
        ("registry_change", "residence_lost") | ("declaration_check", "not_truthful") => true,
        (kind, other) => {
            let allowed = if kind == "declaration_check" {
                "confirmed o not_truthful / confirmed or not_truthful"
            } else {
                "kept o residence_lost / kept or residence_lost"
            };
            return Err(ServiceError::invalid_field(
                "outcome_code",
                format!("{other:?}: {allowed}"),
            ));
        }
    };
    if rescore {
        let gone = || ServiceError::internal("a review's application is gone");
        // The window first, as every step that rescores or ranks takes it.
        let window_id = store::find_application(uow.conn(), review.application_id)
            .await?
            .ok_or_else(gone)?
            .window_id;
        let window = store::lock_window(uow, window_id).await?.ok_or_else(gone)?;
        let (mut application, disability) = store::lock_application(uow, review.application_id)
            .await?
            .ok_or_else(gone)?;
        let declared = Declared {
            resident: application.resident,
            working_parents: u8::try_from(application.working_parents).unwrap_or(0),
            siblings_enrolled: u8::try_from(application.siblings_enrolled).unwrap_or(0),
            disability,
            isee_cents: application.isee_cents,
        };
        let declared = if review.kind == "registry_change" {
            Declared {
                resident: false,
                ..declared
            }
        } else {
            const TRUE_VALUES: [&str; 4] = [
                "working_parents",
                "siblings_enrolled",
                "isee_value_cents",
                "dsu_protocol",
            ];
            if !TRUE_VALUES.iter().any(|k| result.contains_key(*k)) {
                return Err(ServiceError::invalid_field(
                    "result",
                    "not_truthful dice quale dichiarazione non è vera, con il valore vero \
                     (working_parents, siblings_enrolled, isee_value_cents, dsu_protocol) / \
                     not_truthful names the untrue declaration with its true value",
                ));
            }
            let (declared, dsu) = corrected_declarations(declared, result)?;
            if let Some(dsu) = dsu {
                application.dsu_protocol = dsu;
            }
            if declared.isee_cents.is_some() != application.dsu_protocol.is_some() {
                return Err(ServiceError::invalid_field(
                    "result.dsu_protocol",
                    "il valore ISEE va con il numero della sua DSU / an ISEE value goes with \
                     its DSU number",
                ));
            }
            declared
        };
        application.resident = declared.resident;
        application.working_parents = i16::from(declared.working_parents);
        application.siblings_enrolled = i16::from(declared.siblings_enrolled);
        application.isee_cents = declared.isee_cents;
        application.score =
            i32::try_from(criteria::score(&window.window.criteria, &declared).total)
                .unwrap_or(i32::MAX);
        store::rescore(uow, &application, declared.disability).await?;
    }
    store::decide_review(uow, review.id, outcome, actor, case_id).await?;
    Ok(())
}
