//! The steps a department system or the specialist asks for over gRPC while the term
//! runs: the ordinary procedure's one integration request and its arrival (DPR 160/2010
//! art. 7 c. 1-2), and the measures a business reports after an order to conform
//! (L. 241/1990 art. 19 c. 3). Each is checked against the PA library's clock before
//! anything is registered or written: a second integration request, or one after the
//! 30 days, is refused naming the rule.

use jiff::civil::Date;
use sportello_kit::{
    CallContext, ServiceError, UnitOfWork,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::{Stop, calendar::rome};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{IncomingKind, OutgoingKind, WorkUpdateKind},
    suap::v1::FiledDocument,
};

use super::{
    clock,
    domain::{self, ApplicationId, Status},
    filing::{self, Checked},
    procedures::{self, Regime},
    steps::{self, Desk},
    store::{self, Application},
    work,
};
use crate::error::SuapError;

fn not_found() -> ServiceError {
    SuapError::NotFound {
        field: "application_id",
        what: "nessuna pratica SUAP con questo id / no SUAP application with this id".into(),
    }
    .into()
}

pub(super) fn precondition(why: impl Into<String>) -> ServiceError {
    SuapError::Precondition(why.into()).into()
}

/// The application, read (not locked) and checked to be the caller's municipality's.
pub async fn read(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
) -> Result<Application, ServiceError> {
    let app = store::get(desk.db.pool(), id)
        .await?
        .ok_or_else(not_found)?;
    if app.municipality != context.municipality() {
        return Err(not_found());
    }
    Ok(app)
}

/// Locks the application in `uow` and checks nothing moved since it was read: a step
/// decided on a stale read is refused, and the caller may retry.
pub(super) async fn relock(
    uow: &mut UnitOfWork,
    read: &Application,
) -> Result<Application, ServiceError> {
    let app = store::lock(uow.conn(), read.id)
        .await?
        .ok_or_else(not_found)?;
    if app.version != read.version {
        return Err(ServiceError::new(
            sportello_kit::ErrorKind::Aborted,
            "la pratica è cambiata nel frattempo: riprovare / the application changed \
             meanwhile: retry",
        ));
    }
    Ok(app)
}

/// The stops with `stop` added, checked by the PA library's clock.
fn with_stop(app: &Application, stop: Stop) -> Result<Vec<Stop>, ServiceError> {
    let mut stops = app.stops.clone();
    stops.push(stop);
    domain::deadline(app.municipality, app.regime, app.received_on, &stops)
        .map_err(|e| precondition(e.to_string()))?;
    Ok(stops)
}

/// The one integration request (ordinary procedure).
pub async fn request_integration(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    reason: &str,
    day: &str,
) -> Result<Application, ServiceError> {
    let reason = sportello_kit::domain::required_text("reason", reason, 1000)?;
    sportello_kit::privacy::ensure_free_of_personal_data("reason", &reason)?;
    let app = read(desk, context, id).await?;
    let today = rome::date_of(desk.db.clock().now());
    let from = domain::day_or_today("request_date", day, today)?;
    if from < app.received_on {
        return Err(ServiceError::invalid_field(
            "request_date",
            format!(
                "precede la presentazione del {} / is before the filing",
                app.received_on
            ),
        ));
    }
    if !matches!(app.regime, Regime::Ordinary(_)) {
        return Err(precondition(
            "l'integrazione si chiede solo nel procedimento ordinario (DPR 160/2010 art. 7 c. 1); \
             per una SCIA si usa l'ordine di conformazione / an integration request belongs to \
             the ordinary procedure only",
        ));
    }
    if app
        .stops
        .iter()
        .any(|s| matches!(s, Stop::SuapIntegration { .. }))
    {
        return Err(precondition(
            "l'integrazione si può chiedere una sola volta (DPR 160/2010 art. 7 c. 1) / \
             integration may be requested only once",
        ));
    }
    if app.status != Status::UnderReview {
        return Err(precondition(format!(
            "la pratica è {}: nessuna integrazione richiedibile / the application is {}",
            app.status.as_str(),
            app.status.as_str()
        )));
    }
    let stops = with_stop(&app, Stop::SuapIntegration { from, until: None })
        .map_err(|e| precondition(format!("{} (DPR 160/2010 art. 7 c. 1)", e.message())))?;
    steps::send_to_business(
        desk,
        context,
        &app,
        OutgoingKind::Communication,
        &format!(
            "Richiesta di integrazione, pratica SUAP prot. {}",
            app.protocol_number
        ),
        &format!(
            "richiesta di integrazione\npratica {}\ndel {from}\n{reason}",
            app.id
        ),
    )
    .await?;
    let mut uow = desk.db.begin().await?;
    let mut app = relock(&mut uow, &app).await?;
    app.stops = stops;
    app.status = Status::IntegrationRequested;
    let app = store::save(&mut uow, &app).await?;
    work::update(
        &mut uow,
        &app,
        WorkUpdateKind::Suspended,
        "Termine sospeso: integrazione richiesta (DPR 160/2010 art. 7 c. 1). / Term suspended: \
         integration requested.",
        "",
    )
    .await?;
    clock::schedule(&mut uow, &app).await?;
    steps::emit_changed(&mut uow, &app, "integration_requested", &[]).await?;
    uow.commit().await?;
    Ok(app)
}

/// Registers documents arriving for `app` as one incoming entry of `kind`.
pub(super) async fn register_arrival(
    desk: &Desk,
    context: &CallContext,
    app: &Application,
    kind: IncomingKind,
    what: &str,
    documents: &[Checked],
    key: &str,
) -> Result<sportello_kit::protocol::Entry, ServiceError> {
    desk.protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: app.municipality,
                kind,
                sender_ref: app
                    .requester_ref
                    .clone()
                    .unwrap_or_else(|| steps::business_ref(app)),
                sender_name: String::new(),
                subject: format!("{what}, pratica SUAP prot. {}", app.protocol_number),
                document_sha256: sha256_hex(
                    filing::manifest(&format!("{what} {}", app.id), documents).as_bytes(),
                ),
                channel: Channel::Pec,
                idempotency_key: document_key(&[&app.id.to_string(), what, key]),
            },
        )
        .await
}

pub(super) fn check_step_documents(
    desk: &Desk,
    app: &Application,
    documents: &[FiledDocument],
) -> Result<Vec<Checked>, ServiceError> {
    let procedure = procedures::find(&app.procedure_code)
        .ok_or_else(|| ServiceError::internal("an application of an unknown procedure"))?;
    if documents.is_empty() {
        return Err(ServiceError::invalid_field(
            "documents",
            "almeno un documento / at least one document",
        ));
    }
    filing::check_documents(desk.documents.as_ref(), procedure, documents, false)
}

/// The integration arrived: the term runs again.
pub async fn receive_integration(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    documents: &[FiledDocument],
    day: &str,
    key: &str,
) -> Result<Application, ServiceError> {
    let app = read(desk, context, id).await?;
    let today = rome::date_of(desk.db.clock().now());
    let arrived = domain::day_or_today("received_date", day, today)?;
    let checked = check_step_documents(desk, &app, documents)?;
    if app.status != Status::IntegrationRequested {
        return Err(precondition(
            "nessuna integrazione attesa per questa pratica / no integration is awaited",
        ));
    }
    let stops = answered(&app, arrived)?;
    register_arrival(
        desk,
        context,
        &app,
        IncomingKind::Integration,
        "Integrazione",
        &checked,
        key,
    )
    .await?;
    let mut uow = desk.db.begin().await?;
    let mut app = relock(&mut uow, &app).await?;
    filing::record_documents(
        &mut uow,
        desk.documents.as_ref(),
        app.id,
        "integration",
        &checked,
    )
    .await?;
    app.stops = stops;
    app.status = Status::UnderReview;
    let app = store::save(&mut uow, &app).await?;
    work::update(
        &mut uow,
        &app,
        WorkUpdateKind::Resumed,
        "Integrazione ricevuta: il termine riprende (DPR 160/2010 art. 7 c. 2). / Integration \
         received: the term runs again.",
        "",
    )
    .await?;
    clock::schedule(&mut uow, &app).await?;
    steps::emit_changed(&mut uow, &app, "integration_received", &[]).await?;
    uow.commit().await?;
    Ok(app)
}

/// The stops with the open one answered on `day`, checked by the clock.
fn answered(app: &Application, day: Date) -> Result<Vec<Stop>, ServiceError> {
    let mut stops = app.stops.clone();
    let open = stops.iter_mut().rev().find(|s| s.until().is_none());
    match open {
        Some(Stop::SuapIntegration { until, .. } | Stop::SciaConformOrder { until, .. }) => {
            *until = Some(day);
        }
        _ => return Err(precondition("nessuna attesa aperta / nothing is awaited")),
    }
    domain::deadline(app.municipality, app.regime, app.received_on, &stops).map_err(|e| {
        ServiceError::invalid_field(
            if app.regime.is_scia() {
                "documents"
            } else {
                "received_date"
            },
            e.to_string(),
        )
    })?;
    Ok(stops)
}

/// The measures after an order to conform: the control term starts again in full and a
/// new round of control is handed to the back office.
pub async fn report_measures(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    documents: &[FiledDocument],
    key: &str,
) -> Result<Application, ServiceError> {
    let app = read(desk, context, id).await?;
    let checked = check_step_documents(desk, &app, documents)?;
    if app.status != Status::ConformOrdered {
        return Err(precondition(
            "nessun ordine di conformazione in attesa di misure / no order to conform awaits \
             measures (L. 241/1990 art. 19 c. 3)",
        ));
    }
    let today = rome::date_of(desk.db.clock().now());
    if clock::running_due(&app)?.is_some_and(|due| today > due) {
        return Err(precondition(
            "il termine per conformarsi è scaduto: l'attività è vietata / the term to conform \
             has passed: the activity is prohibited (L. 241/1990 art. 19 c. 3)",
        ));
    }
    let stops = answered(&app, today)?;
    register_arrival(
        desk,
        context,
        &app,
        IncomingKind::Integration,
        "Misure adottate",
        &checked,
        key,
    )
    .await?;
    let mut uow = desk.db.begin().await?;
    let mut app = relock(&mut uow, &app).await?;
    filing::record_documents(
        &mut uow,
        desk.documents.as_ref(),
        app.id,
        "measures",
        &checked,
    )
    .await?;
    app.stops = stops;
    app.status = Status::MeasuresReported;
    let refs = checked
        .iter()
        .map(|d| d.work_ref("Misure adottate"))
        .collect();
    let app = work::next_round(&mut uow, app, refs, None).await?;
    clock::schedule(&mut uow, &app).await?;
    steps::emit_changed(&mut uow, &app, "measures_reported", &[]).await?;
    uow.commit().await?;
    Ok(app)
}
