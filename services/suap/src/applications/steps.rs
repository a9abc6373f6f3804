//! The procedure's steps after filing that the back office or the clock decides: the
//! specialist's outcome on the current work, and the end of a term (the durable timer).
//! Each step locks the application, decides, saves, registers what is sent in the
//! protocol register, emits its event and sets the next timer, in one unit of work.

use std::{collections::HashMap, sync::Arc};

use futures::future::BoxFuture;
use sportello_kit::{
    CallContext, Db, ServiceError, Timer, TimerHandler, UnitOfWork,
    documents::DocumentStore,
    protocol::{Outgoing, ProtocolRegister},
};
use sportello_pa::{Outcome, Stop, calendar::rome};
use sportello_proto::{
    routing::v1::{OutgoingKind, WorkUpdateKind},
    suap::v1::ApplicationChanged,
};

use crate::error::SuapError;

use super::{
    clock,
    domain::{ApplicationId, Status},
    land, message,
    procedures::Regime,
    reasons,
    store::{self, Application},
    work,
};

/// What every step needs: the database, the protocol register, the document store.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The SUAP's database.
    pub db: Db,
    /// Routing's protocol register.
    pub protocol: Arc<dyn ProtocolRegister>,
    /// Where filed documents are kept.
    pub documents: Arc<dyn DocumentStore>,
}

/// The least an order to conform gives to take the measures (L. 241/1990 art. 19 c. 3).
pub const MIN_CONFORM_DAYS: u32 = 30;

/// Emits the application's `step` event in `uow`.
pub async fn emit_changed(
    uow: &mut UnitOfWork,
    app: &Application,
    step: &str,
    forwarded_to: &[&str],
) -> Result<(), ServiceError> {
    let id = app.id.to_string();
    let event = ApplicationChanged {
        application_id: id.clone(),
        municipality_istat_code: app.municipality.to_string(),
        business_id: app.business_id.to_string(),
        procedure_code: app.procedure_code.clone(),
        regime: message::regime(app.regime) as i32,
        status: message::status(app.status) as i32,
        protocol_registration_id: app.protocol_registration_id.clone(),
        due_date: clock::running_due(app)?
            .map(|d| d.to_string())
            .unwrap_or_default(),
        forwarded_to: forwarded_to.iter().map(|o| (*o).to_owned()).collect(),
    };
    uow.emit_as(
        format!("suap.application.{step}"),
        &event,
        work::aggregate(app, &id),
    )
    .await?;
    Ok(())
}

/// The business's reference as a protocol correspondent.
pub fn business_ref(app: &Application) -> String {
    format!("impresa:{}", app.business_id)
}

/// Registers a document the SUAP sends the business about `app`.
pub async fn send_to_business(
    desk: &Desk,
    context: &CallContext,
    app: &Application,
    kind: OutgoingKind,
    subject: &str,
    content: &str,
) -> Result<sportello_kit::protocol::Entry, ServiceError> {
    let outgoing = Outgoing::of_procedure(
        app.municipality,
        &app.id.to_string(),
        kind,
        &business_ref(app),
        subject,
        content,
    );
    desk.protocol.register_outgoing(context, &outgoing).await
}

fn outcome_error(app: &Application, outcome: &str) -> ServiceError {
    let expected = if app.regime.is_scia() {
        "compliant, conform_order, prohibited"
    } else {
        "granted, reasons_against, refused"
    };
    ServiceError::invalid_field(
        "item.outcome_code",
        format!(
            "{outcome:?} non è un esito di questa pratica ({expected}) / is not an outcome of this application"
        ),
    )
}

/// Applies the specialist's outcome on the current work (already noted closed on `app`).
pub async fn apply_outcome(
    desk: &Desk,
    uow: &mut UnitOfWork,
    mut app: Application,
    actor: &str,
    outcome: &str,
    result: &HashMap<String, String>,
) -> Result<(), ServiceError> {
    let context = CallContext::new("routing", actor, app.municipality.as_str(), "suap.decision")
        .map_err(ServiceError::internal)?;
    let today = rome::date_of(uow.now());
    let step = match (app.regime, outcome) {
        (Regime::Scia | Regime::SciaBuilding, "compliant") => {
            app.status = Status::Compliant;
            "compliant"
        }
        (Regime::Scia | Regime::SciaBuilding, "conform_order") => {
            let asked = result
                .get("days")
                .and_then(|d| d.trim().parse::<u32>().ok())
                .unwrap_or(MIN_CONFORM_DAYS);
            // The law's floor, whatever the form said: never fewer than 30 days.
            let days = asked.max(MIN_CONFORM_DAYS);
            let mut stops = app.stops.clone();
            stops.push(Stop::SciaConformOrder {
                from: today,
                days,
                until: None,
            });
            super::domain::deadline(app.municipality, app.regime, app.received_on, &stops)
                .map_err(|e| ServiceError::from(SuapError::Precondition(e.to_string())))?;
            let measures = result.get("measures").map(String::as_str).unwrap_or("");
            let entry = send_to_business(
                desk,
                &context,
                &app,
                OutgoingKind::OrderToConform,
                &format!(
                    "Ordine di conformazione, pratica SUAP prot. {}",
                    app.protocol_number
                ),
                &format!(
                    "ordine di conformazione\npratica {}\nprotocollo {}\ndel {today}\ngiorni {days}\nmisure {measures}",
                    app.id, app.protocol_number
                ),
            )
            .await?;
            tracing::info!(application_id = %app.id, order = %entry.number, days, "order to conform");
            app.stops = stops;
            app.status = Status::ConformOrdered;
            "conform_ordered"
        }
        (Regime::Scia | Regime::SciaBuilding, "prohibited") => {
            send_to_business(
                desk,
                &context,
                &app,
                OutgoingKind::Decision,
                &format!(
                    "Divieto di prosecuzione dell'attività, pratica SUAP prot. {}",
                    app.protocol_number
                ),
                &format!(
                    "divieto di prosecuzione\npratica {}\nprotocollo {}\ndel {today}",
                    app.id, app.protocol_number
                ),
            )
            .await?;
            app.status = Status::Prohibited;
            "prohibited"
        }
        (Regime::Ordinary(_), "granted") => {
            // The land first: a place taken meanwhile sends the application back.
            if let Err(why) = land::grant(uow, &app).await? {
                return land_taken(uow, app, &why, Status::UnderReview, true).await;
            }
            send_to_business(
                desk,
                &context,
                &app,
                OutgoingKind::Decision,
                &format!(
                    "Provvedimento di accoglimento, pratica SUAP prot. {}",
                    app.protocol_number
                ),
                &format!(
                    "accoglimento\npratica {}\nprotocollo {}\ndel {today}",
                    app.id, app.protocol_number
                ),
            )
            .await?;
            // The decision ends any suspension still open.
            close_open_stops(&mut app.stops, today);
            app.status = Status::Granted;
            "granted"
        }
        (Regime::Ordinary(_), "reasons_against" | "refused") => {
            let step = if outcome == "refused" {
                reasons::refuse(desk, uow, &context, &mut app, result, today).await?
            } else {
                reasons::send_notice(desk, uow, &context, &mut app, result, today).await?
            };
            match step {
                reasons::Step::Taken(step) => step,
                reasons::Step::Again(note) => return decide_again(uow, app, &note).await,
            }
        }
        _ => return Err(outcome_error(&app, outcome)),
    };
    let app = store::save(uow, &app).await?;
    clock::schedule(uow, &app).await?;
    emit_changed(uow, &app, step, &[]).await
}

/// The outcome cannot stand now (a refusal before the window for observations closed, a
/// step without its reasons): a new round goes to the back office saying why.
async fn decide_again(
    uow: &mut UnitOfWork,
    app: Application,
    note: &str,
) -> Result<(), ServiceError> {
    tracing::info!(application_id = %app.id, "the outcome cannot stand now: a new round");
    let app = work::next_round(uow, app, Vec::new(), Some(note)).await?;
    clock::schedule(uow, &app).await?;
    emit_changed(uow, &app, "decision_sent_back", &[]).await
}

/// The decision would grant land that cannot be granted now: the application stays
/// undecided (`status`), and a new round of work goes to the back office with the reason
/// (refuse, or agree another place or period).
async fn land_taken(
    uow: &mut UnitOfWork,
    mut app: Application,
    why: &str,
    status: Status,
    reschedule: bool,
) -> Result<(), ServiceError> {
    tracing::info!(application_id = %app.id, "the decision would grant land that is not free");
    let note = format!(
        "Il suolo non può essere concesso / the land cannot be granted: {}",
        why.chars().take(600).collect::<String>()
    );
    app.status = status;
    if app.work_closed_at.is_some() {
        // The specialist's work is done: a new round for the new question.
        let app = work::next_round(uow, app, Vec::new(), Some(&note)).await?;
        return finish_land_taken(uow, app, reschedule).await;
    }
    // Still open in the back office (silence reached first): the item learns why.
    let app = store::save(uow, &app).await?;
    work::update(uow, &app, WorkUpdateKind::ClockChanged, &note, "").await?;
    finish_land_taken(uow, app, reschedule).await
}

async fn finish_land_taken(
    uow: &mut UnitOfWork,
    app: Application,
    reschedule: bool,
) -> Result<(), ServiceError> {
    if reschedule {
        clock::schedule(uow, &app).await?;
    }
    emit_changed(uow, &app, "land_unavailable", &[]).await
}

fn close_open_stops(stops: &mut [Stop], today: jiff::civil::Date) {
    for stop in stops.iter_mut() {
        if let Stop::SuapIntegration { until, .. } = stop
            && until.is_none()
        {
            *until = Some(today);
        }
    }
}

/// The end of a term: the day after its last day, with nothing decided.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermExpired;

impl TimerHandler for TermExpired {
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
            expire(uow, app).await
        })
    }
}

async fn expire(uow: &mut UnitOfWork, mut app: Application) -> Result<(), ServiceError> {
    let Some(due) = clock::running_due(&app)? else {
        return Ok(());
    };
    let today = rome::date_of(uow.now());
    if today <= due {
        // Every step that moves the term sets the timer again; one firing before the end
        // is a clock set back by hand: nothing to do (the timer being fired cannot be
        // set again from inside its own firing).
        return Ok(());
    }
    let Some(deadline) = clock::deadline(&app)? else {
        return Ok(());
    };
    let (step, decided) = match (app.regime, app.status) {
        (Regime::Scia | Regime::SciaBuilding, Status::Effective | Status::MeasuresReported) => {
            app.status = Status::Consolidated;
            ("consolidated", Some("controls_lapsed"))
        }
        (Regime::Scia | Regime::SciaBuilding, Status::ConformOrdered) => {
            // The measures were not reported in time: the activity is prohibited
            // (L. 241/1990 art. 19 c. 3).
            app.status = Status::Prohibited;
            ("prohibited", None)
        }
        (Regime::Ordinary(_), Status::UnderReview | Status::ReasonsNotified) => {
            match deadline.outcome_on_expiry {
                Outcome::SilenceAssent => {
                    if let Err(why) = land::grant(uow, &app).await? {
                        // From inside the term's own timer: nothing to set again.
                        return land_taken(uow, app, &why, Status::DecisionOverdue, false).await;
                    }
                    app.status = Status::GrantedBySilence;
                    ("granted_by_silence", Some("granted_by_silence"))
                }
                Outcome::SilenceRejection => {
                    app.status = Status::Refused;
                    ("refused", Some("refused_by_silence"))
                }
                _ => {
                    app.status = Status::DecisionOverdue;
                    ("decision_overdue", None)
                }
            }
        }
        _ => return Ok(()),
    };
    tracing::info!(application_id = %app.id, step, "the term ended");
    let app = store::save(uow, &app).await?;
    if let Some(outcome) = decided {
        work::update(
            uow,
            &app,
            WorkUpdateKind::Decided,
            &format!(
                "Termine scaduto il {due}: {rule}",
                rule = deadline.outcome_rule
            ),
            outcome,
        )
        .await?;
    }
    // No timer to set: the state reached is final, or (decision overdue) waits for the
    // back office with no further term of its own.
    emit_changed(uow, &app, step, &[]).await
}
