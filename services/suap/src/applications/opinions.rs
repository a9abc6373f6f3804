//! Opinions and assents of other bodies (ASL, fire brigade, heritage office, local
//! police, …): each asked by an outgoing protocol entry, on the term the PA library gives
//! its rule (L. 241/1990 art. 16: 20 days, or the body's own for environment, landscape,
//! territory and health; art. 17-bis: 30 days, 90 for the sensitive interests), and
//! recorded with an incoming one. A late answer is recorded and marked late; what it
//! counts for is the law's (see [`late_effect`]).

use sportello_kit::{
    CallContext, ServiceError,
    protocol::{Incoming, Outgoing, document_key, sha256_hex},
};
use sportello_pa::{Calendar, ClockOptions, Procedure, calendar::rome, clock};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{IncomingKind, OutgoingKind},
    suap::v1::{FiledDocument, OpinionChanged},
};

use super::{
    domain::{self, ApplicationId},
    filing, procedures,
    requests::read,
    steps::Desk,
    store::{self, Application, NewOpinion, OpinionRow},
    work,
};
use crate::error::SuapError;

fn precondition(why: impl Into<String>) -> ServiceError {
    SuapError::Precondition(why.into()).into()
}

/// What a late answer counts for, by its rule.
pub fn late_effect(rule: &str) -> &'static str {
    match rule {
        "assent" | "assent_sensitive" => {
            "assenso già formato per silenzio (L. 241/1990 art. 17-bis c. 2): il dissenso tardivo \
             non conta / the assent was deemed given: a late dissent does not count"
        }
        "opinion" => {
            "parere tardivo: l'amministrazione poteva procedere senza (art. 16 c. 2) / late: the \
             administration could proceed without it"
        }
        _ => "parere tardivo ma necessario (art. 16 c. 3) / late but still required",
    }
}

async fn emit(
    uow: &mut sportello_kit::UnitOfWork,
    app: &Application,
    opinion: &OpinionRow,
    step: &str,
) -> Result<(), ServiceError> {
    let id = app.id.to_string();
    uow.emit_as(
        format!("suap.opinion.{step}"),
        &OpinionChanged {
            application_id: id.clone(),
            municipality_istat_code: app.municipality.to_string(),
            opinion_id: opinion.id.to_string(),
            office: opinion.office.clone(),
            rule: opinion.rule.clone(),
            state: opinion.state.clone(),
            due_date: opinion.due_on.to_string(),
            late: opinion.late,
        },
        work::aggregate(app, &id),
    )
    .await?;
    Ok(())
}

/// Asks `office` for an opinion on the application.
pub async fn request(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    office: &str,
    rule: &str,
    term_days: u32,
    question: &str,
) -> Result<(Application, OpinionRow), ServiceError> {
    let office = domain::office(office)?;
    let procedure = domain::opinion_procedure(rule.trim(), term_days)?;
    let question = sportello_kit::domain::required_text("question", question, 500)?;
    sportello_kit::privacy::ensure_free_of_personal_data("question", &question)?;
    let app = read(desk, context, id).await?;
    if app.status.is_final() || matches!(app.regime, procedures::Regime::Communication) {
        return Err(precondition(format!(
            "la pratica è {}: nessun parere da chiedere / the application is {}",
            app.status.as_str(),
            app.status.as_str()
        )));
    }
    if store::opinions(desk.db.pool(), id)
        .await?
        .iter()
        .any(|o| o.office == office)
    {
        return Err(ServiceError::new(
            sportello_kit::ErrorKind::AlreadyExists,
            format!("parere già chiesto a {office} / an opinion was already asked of {office}"),
        ));
    }
    let requested_on = rome::date_of(desk.db.clock().now());
    let due_on = clock::deadline(
        &Calendar::for_municipality(app.municipality.as_str()),
        procedure,
        requested_on,
        &[],
        ClockOptions::default(),
    )
    .map_err(ServiceError::internal)?
    .due
    .ok_or_else(|| ServiceError::internal("an opinion's term without its last day"))?;
    let entry = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                app.municipality,
                &app.id.to_string(),
                OutgoingKind::OpinionRequest,
                &format!("ente:{office}"),
                &format!(
                    "Richiesta di {} ({}), pratica SUAP prot. {}",
                    if rule.starts_with("assent") {
                        "assenso"
                    } else {
                        "parere"
                    },
                    procedure.citation(),
                    app.protocol_number
                )
                .chars()
                .take(500)
                .collect::<String>(),
                &format!("richiesta\npratica {}\nente {office}\n{question}", app.id),
            ),
        )
        .await?;
    let mut uow = desk.db.begin().await?;
    let app = store::lock(uow.conn(), id)
        .await?
        .ok_or_else(|| ServiceError::internal("the application vanished"))?;
    let opinion = store::insert_opinion(
        &mut uow,
        NewOpinion {
            application: id,
            office: &office,
            rule: procedure.id(),
            term_days: matches!(procedure, Procedure::ProtectedOpinion { .. })
                .then(|| i32::try_from(term_days).unwrap_or(i32::MAX)),
            requested_on,
            due_on,
            entry: &entry,
        },
    )
    .await?
    .ok_or_else(|| {
        ServiceError::new(
            sportello_kit::ErrorKind::AlreadyExists,
            format!("parere già chiesto a {office} / an opinion was already asked of {office}"),
        )
    })?;
    emit(&mut uow, &app, &opinion, "requested").await?;
    uow.commit().await?;
    Ok((app, opinion))
}

/// Records the answer of `office`.
pub async fn record(
    desk: &Desk,
    context: &CallContext,
    id: ApplicationId,
    office: &str,
    verdict: &str,
    day: &str,
    document: Option<&FiledDocument>,
) -> Result<(Application, OpinionRow), ServiceError> {
    let office = domain::office(office)?;
    let verdict = match verdict.trim() {
        v @ ("favourable" | "favourable_with_conditions" | "unfavourable") => v,
        _ => {
            return Err(ServiceError::invalid_field(
                "verdict",
                "uno tra / one of: favourable, favourable_with_conditions, unfavourable",
            ));
        }
    };
    let app = read(desk, context, id).await?;
    let today = rome::date_of(desk.db.clock().now());
    let received_on = domain::day_or_today("received_date", day, today)?;
    let procedure = procedures::find(&app.procedure_code)
        .ok_or_else(|| ServiceError::internal("an application of an unknown procedure"))?;
    let checked = match document {
        Some(d) => filing::check_documents(
            desk.documents.as_ref(),
            procedure,
            std::slice::from_ref(d),
            false,
        )?,
        None => Vec::new(),
    };
    let asked = store::opinions(desk.db.pool(), id)
        .await?
        .into_iter()
        .find(|o| o.office == office)
        .ok_or_else(|| {
            ServiceError::invalid_field(
                "office",
                format!(
                    "nessun parere è stato chiesto a {office} per questa pratica / no opinion \
                     was asked of {office} for this application"
                ),
            )
        })?;
    if asked.state != "requested" {
        return Err(precondition(format!(
            "il parere di {office} è già registrato / {office}'s opinion is recorded already"
        )));
    }
    if received_on < asked.requested_on {
        return Err(ServiceError::invalid_field(
            "received_date",
            "precede la richiesta / is before the request",
        ));
    }
    let entry = desk
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: app.municipality,
                kind: IncomingKind::Opinion,
                sender_ref: format!("ente:{office}"),
                sender_name: String::new(),
                subject: format!(
                    "Parere di {office}, pratica SUAP prot. {}",
                    app.protocol_number
                ),
                document_sha256: sha256_hex(
                    filing::manifest(&format!("parere {} {office} {verdict}", app.id), &checked)
                        .as_bytes(),
                ),
                channel: Channel::Pec,
                idempotency_key: document_key(&[&asked.id.to_string(), "answer"]),
            },
        )
        .await?;
    let late = received_on > asked.due_on;
    let mut uow = desk.db.begin().await?;
    let app = store::lock(uow.conn(), id)
        .await?
        .ok_or_else(|| ServiceError::internal("the application vanished"))?;
    let Some(locked) = store::lock_opinion(uow.conn(), id, &office).await? else {
        return Err(ServiceError::internal("the opinion vanished"));
    };
    if locked.state != "requested" {
        return Err(precondition(format!(
            "il parere di {office} è già registrato / {office}'s opinion is recorded already"
        )));
    }
    filing::record_documents(&mut uow, desk.documents.as_ref(), id, "opinion", &checked).await?;
    let opinion =
        store::answer_opinion(uow.conn(), locked.id, verdict, received_on, late, &entry).await?;
    if late {
        tracing::info!(application_id = %id, office = %office, effect = late_effect(&opinion.rule),
            "a late opinion");
    }
    emit(&mut uow, &app, &opinion, "recorded").await?;
    uow.commit().await?;
    Ok((app, opinion))
}
