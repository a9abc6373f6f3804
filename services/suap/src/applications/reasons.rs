//! The notice of reasons against granting and the reasoned refusal of the ordinary
//! procedure (L. 241/1990 art. 10-bis, as amended by DL 76/2020): before refusing, the
//! office tells the business why; the business has 10 days from receipt to file
//! observations; the term is suspended from the notice and runs again 10 days after the
//! observations or, without them, when the window ends (the PA library counts it). The
//! refusal then states why the observations are not accepted, and may not rest on
//! reasons the notice did not give.
//!
//! The notice reaches the business's digital domicile by PEC (DPR 160/2010 art. 2 c. 2),
//! so its day of receipt is the day it is sent: the window counts from it.
//!
//! The specialist sends the notice by completing the work with `reasons_against` and
//! refuses with `refused` (both with `reasons` in the result); a `refused` with no notice
//! before it sends the notice instead (the law allows no refusal without one), and a
//! `refused` while the window is still open goes back to the back office with the day
//! it closes. The window ending, or the observations arriving, starts the round in which
//! the specialist decides.

use std::collections::HashMap;

use futures::future::BoxFuture;
use jiff::civil::Date;
use sportello_kit::{
    CallContext, ServiceError, Timer, TimerHandler, UnitOfWork, privacy, protocol::Entry,
};
use sportello_pa::{Stop, calendar::rome};
use sportello_proto::{
    routing::v1::IncomingKind, routing::v1::OutgoingKind, suap::v1::FiledDocument,
};

use super::{
    clock,
    domain::{self, ApplicationId, Status},
    filing,
    requests::{self, check_step_documents, precondition, register_arrival},
    steps::{self, Desk},
    store::{self, Application},
    work,
};

/// The timer that fires the day after the window for observations ends.
pub const WINDOW_TIMER: &str = "suap.observations_window";

/// What a decision step comes to.
#[derive(Debug)]
pub enum Step {
    /// The step was taken: its event name.
    Taken(&'static str),
    /// It cannot be taken now: the back office gets a new round with this note.
    Again(String),
}

/// The notice sent for `app`, if any: (sent, observations).
fn notice(app: &Application) -> Option<(Date, Option<Date>)> {
    app.stops.iter().rev().find_map(|s| match s {
        Stop::ReasonsAgainst {
            sent, observations, ..
        } => Some((*sent, *observations)),
        _ => None,
    })
}

/// The last day for observations, as the PA library counts it.
fn window_end(app: &Application) -> Result<Option<Date>, ServiceError> {
    Ok(clock::deadline(app)?
        .and_then(|d| d.observation_window)
        .and_then(|w| w.ends))
}

/// The specialist's reasons, required and free of personal data (they travel nowhere
/// but the protocol register, yet a form is no place for a name).
fn reasons(result: &HashMap<String, String>) -> Option<String> {
    let text = result.get("reasons").map(|r| r.trim()).unwrap_or_default();
    if text.is_empty() || privacy::ensure_free_of_personal_data("reasons", text).is_err() {
        return None;
    }
    Some(text.chars().take(4000).collect())
}

/// Sends the notice of reasons against granting: the term is suspended and the window for
/// observations opens.
pub async fn send_notice(
    desk: &Desk,
    uow: &mut UnitOfWork,
    context: &CallContext,
    app: &mut Application,
    result: &HashMap<String, String>,
    today: Date,
) -> Result<Step, ServiceError> {
    if notice(app).is_some() {
        return Ok(Step::Again(
            "Il preavviso di rigetto è già stato inviato: decidere (granted o refused). / The \
             notice of reasons against was sent already: decide."
                .into(),
        ));
    }
    let Some(reasons) = reasons(result) else {
        return Ok(Step::Again(
            "Il preavviso di rigetto richiede i motivi ostativi (campo reasons, senza dati \
             personali). / The notice needs its reasons (result field `reasons`, no personal \
             data)."
                .into(),
        ));
    };
    let mut stops = app.stops.clone();
    stops.push(Stop::ReasonsAgainst {
        sent: today,
        received: Some(today),
        observations: None,
    });
    let checked = domain::deadline(app.municipality, app.regime, app.received_on, &stops);
    let deadline = match checked {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err(ServiceError::internal(
                "an ordinary procedure with no clock",
            ));
        }
        Err(why) => {
            return Ok(Step::Again(format!(
                "Preavviso non inviabile / the notice cannot be sent: {why}"
            )));
        }
    };
    let ends = deadline
        .observation_window
        .and_then(|w| w.ends)
        .ok_or_else(|| ServiceError::internal("a notice received with no window"))?;
    let entry = steps::send_to_business(
        desk,
        context,
        app,
        OutgoingKind::NoticeOfReasonsAgainst,
        &format!(
            "Comunicazione dei motivi ostativi all'accoglimento (art. 10-bis L. 241/1990), \
             pratica SUAP prot. {}",
            app.protocol_number
        ),
        &format!(
            "preavviso di rigetto\npratica {}\nprotocollo {}\ndel {today}\nosservazioni entro \
             il {ends}\nmotivi {reasons}",
            app.id, app.protocol_number
        ),
    )
    .await?;
    tracing::info!(application_id = %app.id, notice = %entry.number, %ends, "10-bis notice sent");
    app.stops = stops;
    app.status = Status::ReasonsNotified;
    let at = rome::end_of_day(ends).map_err(ServiceError::internal)?;
    uow.schedule_timer(
        WINDOW_TIMER,
        &app.id.to_string(),
        at,
        serde_json::Value::Null,
    )
    .await?;
    Ok(Step::Taken("reasons_notified"))
}

/// The reasoned refusal, once the notice's window has closed.
pub async fn refuse(
    desk: &Desk,
    uow: &mut UnitOfWork,
    context: &CallContext,
    app: &mut Application,
    result: &HashMap<String, String>,
    today: Date,
) -> Result<Step, ServiceError> {
    let Some((sent, observations)) = notice(app) else {
        tracing::info!(application_id = %app.id, "a refusal with no notice: the notice goes first");
        return send_notice(desk, uow, context, app, result, today).await;
    };
    let ends = window_end(app)?;
    if observations.is_none() && ends.is_some_and(|e| today <= e) {
        return Ok(Step::Again(format!(
            "Le osservazioni sono ammesse fino al {} (art. 10-bis L. 241/1990): decidere dopo. \
             / Observations may be filed until then: decide afterwards.",
            ends.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    let Some(reasons) = reasons(result) else {
        return Ok(Step::Again(
            "Il rigetto richiede la motivazione, anche sulle osservazioni (campo reasons, senza \
             dati personali). / The refusal needs its reasons, on the observations too."
                .into(),
        ));
    };
    let heard = match observations {
        Some(day) => format!("osservazioni pervenute il {day}"),
        None => "nessuna osservazione pervenuta".to_owned(),
    };
    let entry = steps::send_to_business(
        desk,
        context,
        app,
        OutgoingKind::Rejection,
        &format!(
            "Provvedimento di rigetto motivato, pratica SUAP prot. {}",
            app.protocol_number
        ),
        &format!(
            "rigetto\npratica {}\nprotocollo {}\ndel {today}\npreavviso del {sent}\n{heard}\n\
             motivi {reasons}",
            app.id, app.protocol_number
        ),
    )
    .await?;
    tracing::info!(application_id = %app.id, decision = %entry.number, "refused after the notice");
    if let Some(occupation) = app.occupation_id {
        crate::occupations::flow::revoke(
            uow,
            app.municipality,
            occupation,
            "domanda respinta / application refused",
        )
        .await?;
    }
    uow.cancel_timer(WINDOW_TIMER, &app.id.to_string()).await?;
    app.status = Status::Refused;
    Ok(Step::Taken("refused"))
}

/// The business's observations: registered, recorded, and the back office decides.
pub async fn record_observations(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    documents: &[FiledDocument],
    day: &str,
    key: &str,
) -> Result<Application, ServiceError> {
    let app = requests::read(desk, context, id).await?;
    let today = rome::date_of(desk.db.clock().now());
    let arrived = domain::day_or_today("received_date", day, today)?;
    let checked = check_step_documents(desk, &app, documents)?;
    let (sent, observations) = match (app.status, notice(&app)) {
        (Status::ReasonsNotified, Some(notice)) => notice,
        _ => {
            return Err(precondition(
                "nessun preavviso di rigetto attende osservazioni (art. 10-bis L. 241/1990) / \
                 no notice of reasons against awaits observations",
            ));
        }
    };
    if observations.is_some() {
        return Err(precondition(
            "le osservazioni sono già state registrate / the observations were recorded \
             already",
        ));
    }
    if arrived < sent || arrived > today {
        return Err(ServiceError::invalid_field(
            "received_date",
            format!("tra il preavviso del {sent} e oggi / between the notice and today"),
        ));
    }
    let ends = window_end(&app)?;
    if ends.is_some_and(|e| arrived > e) {
        return Err(precondition(format!(
            "le osservazioni andavano presentate entro il {} (10 giorni dal ricevimento del \
             preavviso, art. 10-bis L. 241/1990) / observations were due within 10 days of \
             the notice's receipt",
            ends.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    let mut stops = app.stops.clone();
    if let Some(Stop::ReasonsAgainst { observations, .. }) = stops
        .iter_mut()
        .rev()
        .find(|s| matches!(s, Stop::ReasonsAgainst { .. }))
    {
        *observations = Some(arrived);
    }
    domain::deadline(app.municipality, app.regime, app.received_on, &stops)
        .map_err(|e| ServiceError::invalid_field("received_date", e.to_string()))?;
    let entry: Entry = register_arrival(
        desk,
        context,
        &app,
        IncomingKind::Observations,
        "Osservazioni al preavviso di rigetto",
        &checked,
        key,
    )
    .await?;
    let mut uow = desk.db.begin().await?;
    let mut app = requests::relock(&mut uow, &app).await?;
    filing::record_documents(
        &mut uow,
        desk.documents.as_ref(),
        app.id,
        "observations",
        &checked,
    )
    .await?;
    app.stops = stops;
    let refs = checked.iter().map(|d| d.work_ref("Osservazioni")).collect();
    let note = format!(
        "Osservazioni al preavviso di rigetto pervenute il {arrived} (prot. {}): decidere, \
         motivando sulle osservazioni (art. 10-bis L. 241/1990). / Observations received: \
         decide, giving reasons on them.",
        entry.number
    );
    let app = work::next_round(&mut uow, app, refs, Some(&note)).await?;
    uow.cancel_timer(WINDOW_TIMER, &app.id.to_string()).await?;
    clock::schedule(&mut uow, &app).await?;
    steps::emit_changed(&mut uow, &app, "observations_received", &[]).await?;
    uow.commit().await?;
    Ok(app)
}

/// The window for observations ended with none: the back office decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowEnded;

impl TimerHandler for WindowEnded {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = ApplicationId::parse("key", &timer.key)
                .map_err(|_| ServiceError::internal("a SUAP timer whose key is not an id"))?;
            let Some(app) = store::lock(uow.conn(), id).await? else {
                return Ok(());
            };
            let waiting = app.status == Status::ReasonsNotified
                && app.work_closed_at.is_some()
                && matches!(notice(&app), Some((_, None)));
            if !waiting {
                return Ok(());
            }
            let ends = window_end(&app)?.map(|d| d.to_string()).unwrap_or_default();
            let note = format!(
                "Nessuna osservazione al preavviso di rigetto entro il {ends}: decidere (art. \
                 10-bis L. 241/1990). / No observations within the window: decide."
            );
            let app = work::next_round(uow, app, Vec::new(), Some(&note)).await?;
            clock::schedule(uow, &app).await?;
            steps::emit_changed(uow, &app, "observations_window_ended", &[]).await
        })
    }
}
