//! Civic access's review by the transparency officer (D.Lgs 33/2013 art. 5 c. 7, 9):
//! asked within its term, the Garante consulted on personal data, decided in 20 days.

use sportello_kit::{CallContext, ServiceError, protocol::Outgoing};
use sportello_pa::Stop;
use sportello_proto::{
    routing::v1::{OutgoingKind, WorkUpdateKind},
    urp::v1::{AccessReviewed, DecideReviewRequest, DecideReviewResponse},
};
use uuid::Uuid;

use super::{
    domain::{self, Decision, ReviewBy, ReviewDecision, State},
    message,
    store::{self, Access},
    terms, work,
};
use crate::{error::UrpError, reports::Desk};

use super::flow::{locked, refuse, schedule_expiry, today};

/// The idempotent operation of a review's decision.
const DECIDE_REVIEW: &str = "urp.decide_access_review";
/// Review asked of the transparency officer (civic access).
pub async fn request_review(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    by: ReviewBy,
    reasons: String,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    if !a.kind.is_civic() {
        return Err(refuse(
            "il riesame del responsabile della trasparenza è dell'accesso civico; per l'accesso \
             agli atti: difensore civico o TAR (L. 241/1990 art. 25 c. 4) / review by the \
             transparency officer is civic access's remedy"
                .into(),
        ));
    }
    let objected = !store::objections(uow.conn(), a.id).await?.is_empty();
    // What may be reviewed, and from which day the term to ask counts.
    let counted_from = match (by, a.state, a.decision) {
        (ReviewBy::Requester, State::Decided, Some(d)) if d.limits() => a.decided_on,
        (ReviewBy::Requester, State::Received, None) => match a.due_date {
            Some(due) if due < day => Some(due),
            _ => {
                return Err(refuse(format!(
                    "il termine per decidere scade il {}: il riesame per mancata risposta si \
                     chiede dopo / the term to decide ends then: review for no answer comes \
                     after it",
                    a.due_date.map(|d| d.to_string()).unwrap_or_default()
                )));
            }
        },
        (ReviewBy::CounterInterested, State::Decided, Some(d)) if d.grants() && objected => {
            a.decided_on
        }
        _ => {
            return Err(refuse(format!(
                "riesame non ammesso per la richiesta prot. {} ({}, {}): lo chiede il richiedente \
                 dopo un diniego totale o parziale, un differimento o il silenzio, il \
                 controinteressato dopo un accoglimento nonostante la sua opposizione (D.Lgs \
                 33/2013 art. 5 c. 7, 9) / review is not available for this request",
                a.protocol_number,
                a.state.id(),
                a.decision.map_or("nessuna decisione", Decision::id)
            )));
        }
    };
    let from = counted_from.unwrap_or(a.received_on);
    let deadline = terms::review_deadline(a.municipality, from)?;
    if day > deadline {
        return Err(refuse(format!(
            "riesame chiesto il {day}, oltre il termine del {deadline} ({} giorni dal {from}, \
             regolamento comunale sull'accesso) / review asked after its term ended on {deadline}",
            terms::REVIEW_REQUEST_DAYS
        )));
    }
    let review = terms::review(a.municipality, day, &[])?;
    a.state = State::UnderReview;
    a.review_by = Some(by);
    a.review_reasons = Some(reasons);
    a.review_requested_on = Some(day);
    a.review_deadline = Some(deadline);
    a.review_due_date = review.due;
    let a = store::save(&mut uow, &a).await?;
    work::request_review(&mut uow, &a, work::clock(&review, &a.review_stops, None)).await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// The Garante is consulted (`received`: its opinion came).
pub async fn consult_garante(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    received: bool,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    if a.state != State::UnderReview {
        return Err(refuse(format!(
            "la richiesta prot. {} non è in riesame ({}) / is not under review",
            a.protocol_number,
            a.state.id()
        )));
    }
    if !a.grounds.iter().any(|g| g == domain::PERSONAL_DATA_GROUND) {
        return Err(refuse(
            "il Garante si consulta sul riesame di un diniego a tutela dei dati personali (art. \
             5-bis c. 2 lett. a, D.Lgs 33/2013 art. 5 c. 7) / the Garante is consulted only on a \
             refusal to protect personal data"
                .into(),
        ));
    }
    let asked = a
        .review_stops
        .iter()
        .any(|s| matches!(s, Stop::GaranteOpinion { .. }));
    match (received, asked) {
        (false, false) => a.review_stops.push(Stop::GaranteOpinion {
            asked: day,
            given: None,
        }),
        (true, true) => {
            for stop in &mut a.review_stops {
                if let Stop::GaranteOpinion { given, .. } = stop {
                    if given.is_some() {
                        return Err(refuse(
                            "il parere del Garante è già arrivato / the opinion already came"
                                .into(),
                        ));
                    }
                    *given = Some(day);
                }
            }
        }
        (false, true) => {
            return Err(refuse(
                "il parere del Garante è già stato chiesto / the opinion was already asked".into(),
            ));
        }
        (true, false) => {
            return Err(refuse(
                "il parere del Garante non era stato chiesto / the opinion was not asked".into(),
            ));
        }
    }
    let requested = a.review_requested_on.unwrap_or(day);
    let review = terms::review(a.municipality, requested, &a.review_stops)?;
    a.review_due_date = review.due;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        true,
        WorkUpdateKind::ClockChanged,
        Some(work::clock(&review, &a.review_stops, None)),
        if received {
            "Parere del Garante ricevuto / the Garante's opinion came"
        } else {
            "Chiesto il parere del Garante: termine sospeso fino a 10 giorni / the Garante's \
             opinion asked: the term is suspended up to 10 days"
        },
        "",
    )
    .await?;
    uow.commit().await?;
    Ok(a)
}

/// The transparency officer decides the review.
pub async fn decide_review(
    desk: &Desk,
    context: &CallContext,
    request: DecideReviewRequest,
) -> Result<DecideReviewResponse, ServiceError> {
    let id = domain::access_id(&request.access_id)?;
    let decision = ReviewDecision::from_message(request.decision).ok_or_else(|| {
        ServiceError::invalid_field(
            "decision",
            "CONFIRMED, OVERTURNED o PARTLY_OVERTURNED / is required",
        )
    })?;
    let reasons = domain::masked_text("reasons", &request.reasons, 10, 8000)?;
    let key = sportello_kit::IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = DecideReviewRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk.db.replay(DECIDE_REVIEW, key, &fingerprint).await? {
        return Ok(response);
    }
    let a = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::find(&mut conn, id)
            .await?
            .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?
    };
    context.ensure_municipality(a.municipality)?;
    if a.state != State::UnderReview {
        return Err(refuse(format!(
            "la richiesta prot. {} non è in riesame ({}) / is not under review",
            a.protocol_number,
            a.state.id()
        )));
    }
    let letter = format!(
        "Riesame (D.Lgs 33/2013 art. 5 c. 7) della richiesta di accesso prot. {}\nEsito: {}\n\
         Motivazione: {reasons}\nRimedi: ricorso al Tribunale amministrativo regionale (art. \
         116 c.p.a.), D.Lgs 33/2013 art. 5 c. 7-8.",
        a.protocol_number,
        decision.id()
    );
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                a.municipality,
                &id.to_string(),
                OutgoingKind::Decision,
                &a.requester_ref,
                &format!(
                    "Riesame della richiesta di accesso prot. {}",
                    a.protocol_number
                ),
                &letter,
            ),
        )
        .await?;
    let context = context.clone();
    desk.db
        .idempotent(DECIDE_REVIEW, key, &fingerprint, move |uow| {
            Box::pin(async move {
                let mut a = locked(uow, &context, id).await?;
                if a.state != State::UnderReview {
                    return Err(refuse(format!(
                        "il riesame della richiesta prot. {} è già deciso / the review was \
                         already decided",
                        a.protocol_number
                    )));
                }
                a.state = State::Reviewed;
                a.review_decision = Some(decision);
                a.review_decision_reasons = Some(reasons);
                a.review_protocol_number = Some(sent.number.clone());
                a.reviewed_on = Some(today(uow));
                let a = store::save(uow, &a).await?;
                work::update(
                    uow,
                    &a,
                    true,
                    WorkUpdateKind::Decided,
                    None,
                    &format!("Riesame deciso, prot. {} / review decided", sent.number),
                    decision.id(),
                )
                .await?;
                let key = a.id.to_string();
                uow.emit(
                    &AccessReviewed {
                        access_id: key.clone(),
                        municipality_istat_code: a.municipality.to_string(),
                        decision: decision.message() as i32,
                    },
                    work::aggregate(&a, &key),
                )
                .await?;
                let objections = store::objections(uow.conn(), a.id).await?;
                Ok(DecideReviewResponse {
                    access: Some(message::record(&a, &objections)),
                })
            })
        })
        .await
}
