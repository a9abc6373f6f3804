//! Offers of places in the final ranking's order. Each offer has the window's acceptance
//! days (the last one included); a refusal passes the place to the next in the ranking at
//! once, and an offer left unanswered lapses the day after its last day — a durable timer
//! — and passes on the same way. Each step holds the window's lock, so two steps never
//! offer one place twice.

use futures::future::BoxFuture;
use jiff::{Span, civil::Date};
use sportello_kit::{
    Aggregate, CallContext, Role, ServiceError, Timer, TimerHandler, UnitOfWork, domain,
};
use sportello_pa::calendar::rome;
use sportello_proto::education::v1::{
    AnswerOfferRequest, AnswerOfferResponse, OfferAnswered, OfferMade, OfferPlacesRequest,
    OfferPlacesResponse, OfferStatus,
};
use uuid::Uuid;

use super::{
    Office,
    domain::{ApplicationId, Stage, WindowId},
    message, store,
};
use crate::error::EducationError;

/// The timer that lapses an unanswered offer the day after its last day.
pub const LAPSE_TIMER: &str = "education.offer_lapse";

fn window_not_found() -> EducationError {
    EducationError::NotFound {
        field: "window_id",
        what: "nessuna finestra di iscrizione con questo id / no enrolment window with this id",
    }
}

/// Offers the window's free places to the next applications of the final ranking, in
/// `uow` (the window locked by the caller); returns the applications offered.
async fn fill(
    uow: &mut UnitOfWork,
    window: &store::Window,
) -> Result<Vec<store::Application>, ServiceError> {
    let Some(ranking) = store::find_ranking(uow.conn(), window.id, Stage::Final).await? else {
        return Err(EducationError::Precondition(
            "i posti si offrono dalla graduatoria definitiva, non ancora pubblicata / places are \
             offered from the final ranking, not published yet"
                .into(),
        )
        .into());
    };
    let w = &window.window;
    if w.places == 0 {
        return Err(EducationError::Precondition(
            "la finestra non indica i posti disponibili / the window states no places".into(),
        )
        .into());
    }
    let applications = store::applications_of(uow.conn(), window.id).await?;
    let taken = applications
        .iter()
        .filter(|a| matches!(a.offer_status.as_deref(), Some("offered" | "accepted")))
        .count();
    let mut free = usize::try_from(w.places).unwrap_or(0).saturating_sub(taken);
    let today = rome::date_of(uow.now());
    let last_day = today
        .checked_add(Span::new().days(i64::from(w.acceptance_days)))
        .map_err(ServiceError::internal)?;
    let mut offered = Vec::new();
    for row in &ranking.rows {
        if free == 0 {
            break;
        }
        let Some(application) = applications.iter().find(|a| a.code == row.code) else {
            continue;
        };
        if application.offer_status.is_some() {
            continue;
        }
        let version = store::set_offer(uow, application.id, "offered", Some(last_day)).await?;
        schedule_lapse(uow, application.id, last_day).await?;
        let key = application.id.0.to_string();
        uow.emit(
            &OfferMade {
                application_id: key.clone(),
                window_id: window.id.0.to_string(),
                municipality_istat_code: w.municipality.to_string(),
                child_ref: application.child_ref.clone(),
                last_day: last_day.to_string(),
            },
            aggregate(&key, version, w.municipality),
        )
        .await?;
        let mut application = application.clone();
        application.offer_status = Some("offered".into());
        application.offer_last_day = Some(last_day);
        offered.push(application);
        free -= 1;
    }
    Ok(offered)
}

fn aggregate(
    key: &str,
    version: i64,
    municipality: sportello_kit::MunicipalityCode,
) -> Aggregate<'_> {
    // Offers are steps of the application.
    Aggregate {
        kind: "education.application",
        id: key,
        version,
        municipality,
    }
}

async fn schedule_lapse(
    uow: &mut UnitOfWork,
    id: ApplicationId,
    last_day: Date,
) -> Result<(), ServiceError> {
    let at = rome::end_of_day(last_day).map_err(ServiceError::internal)?;
    uow.schedule_timer(LAPSE_TIMER, &id.0.to_string(), at, serde_json::Value::Null)
        .await?;
    Ok(())
}

/// Offers a window's free places.
pub async fn offer(
    office: &Office,
    context: &CallContext,
    request: OfferPlacesRequest,
) -> Result<OfferPlacesResponse, ServiceError> {
    context.require_role(&[Role::Admin, Role::BackOffice])?;
    let id = WindowId(domain::parse_field("window_id", request.window_id.trim())?);
    let mut uow = office.db.begin().await?;
    let window = store::lock_window(&mut uow, id)
        .await?
        .ok_or_else(window_not_found)?;
    context.ensure_municipality(window.window.municipality)?;
    let offered = fill(&mut uow, &window).await?;
    uow.commit().await?;
    Ok(OfferPlacesResponse {
        offered: offered.iter().map(message::application).collect(),
    })
}

/// Records `status` as the answer to `application`'s offer and passes a freed place on,
/// in `uow` (the window locked).
async fn answer(
    uow: &mut UnitOfWork,
    window: &store::Window,
    application: &store::Application,
    status: OfferStatus,
) -> Result<Vec<store::Application>, ServiceError> {
    let name = match status {
        OfferStatus::Accepted => "accepted",
        OfferStatus::Refused => "refused",
        _ => "lapsed",
    };
    let version = store::set_offer(uow, application.id, name, None).await?;
    // An answered offer's timer stays: it finds the offer answered and does nothing.
    // Cancelling it here would take the timer's row after the window's lock, the order
    // the timer worker takes them the other way round.
    let key = application.id.0.to_string();
    uow.emit(
        &OfferAnswered {
            application_id: key.clone(),
            window_id: window.id.0.to_string(),
            municipality_istat_code: window.window.municipality.to_string(),
            status: status as i32,
        },
        aggregate(&key, version, window.window.municipality),
    )
    .await?;
    if status == OfferStatus::Accepted {
        return Ok(Vec::new());
    }
    fill(uow, window).await
}

/// The family's answer to an offer.
pub async fn answer_offer(
    office: &Office,
    context: &CallContext,
    request: AnswerOfferRequest,
) -> Result<AnswerOfferResponse, ServiceError> {
    context.require_role(Role::OPERATORS)?;
    let id = ApplicationId(domain::parse_field(
        "application_id",
        request.application_id.trim(),
    )?);
    let not_found = || EducationError::NotFound {
        field: "application_id",
        what: "nessuna domanda con questo id / no application with this id",
    };
    let window_id = store::find_application(office.db.pool(), id)
        .await?
        .ok_or_else(not_found)?
        .window_id;
    let mut uow = office.db.begin().await?;
    let window = store::lock_window(&mut uow, window_id)
        .await?
        .ok_or_else(not_found)?;
    if context
        .ensure_municipality(window.window.municipality)
        .is_err()
    {
        return Err(not_found().into());
    }
    let (mut application, _) = store::lock_application(&mut uow, id)
        .await?
        .ok_or_else(not_found)?;
    let last_day = match (
        application.offer_status.as_deref(),
        application.offer_last_day,
    ) {
        (Some("offered"), Some(last_day)) => last_day,
        _ => {
            return Err(EducationError::Precondition(
                "nessun posto offerto in attesa di risposta / no offer waiting for an answer"
                    .into(),
            )
            .into());
        }
    };
    let today = rome::date_of(uow.now());
    if today > last_day {
        return Err(EducationError::Precondition(format!(
            "l'offerta si accettava entro il {last_day} / the offer was open until {last_day}"
        ))
        .into());
    }
    let status = if request.accept {
        OfferStatus::Accepted
    } else {
        OfferStatus::Refused
    };
    let offered = answer(&mut uow, &window, &application, status).await?;
    uow.commit().await?;
    application.offer_status = Some(
        if request.accept {
            "accepted"
        } else {
            "refused"
        }
        .into(),
    );
    Ok(AnswerOfferResponse {
        application: Some(message::application(&application)),
        offered: offered.iter().map(message::application).collect(),
    })
}

/// Lapses an offer left unanswered by its last day, and passes the place on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lapse;

impl TimerHandler for Lapse {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = ApplicationId(
                Uuid::parse_str(&timer.key)
                    .map_err(|_| ServiceError::internal("an offer timer whose key is no id"))?,
            );
            let Some(found) = store::find_application(uow.conn(), id).await? else {
                return Ok(());
            };
            let Some(window) = store::lock_window(uow, found.window_id).await? else {
                return Ok(());
            };
            let Some((application, _)) = store::lock_application(uow, id).await? else {
                return Ok(());
            };
            let still_open = application.offer_status.as_deref() == Some("offered")
                && application
                    .offer_last_day
                    .is_some_and(|last| rome::date_of(uow.now()) > last);
            if !still_open {
                // Answered meanwhile, or a clock set back by hand.
                return Ok(());
            }
            let passed = answer(uow, &window, &application, OfferStatus::Lapsed).await?;
            tracing::info!(application_id = %id.0, passed_on = passed.len(), "offer lapsed");
            Ok(())
        })
    }
}
