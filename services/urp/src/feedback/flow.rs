//! The units of work of satisfaction: a case completed in person becomes rateable; a
//! rating is taken once per case, within its term (lock, decide, save, emit, commit).

use jiff::SignedDuration;
use sportello_kit::{
    Aggregate, CallContext, Db, ErrorKind, IdempotencyKey, ServiceError, UnitOfWork,
};
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{FeedbackSubmitted, SubmitFeedbackRequest, SubmitFeedbackResponse},
};

use super::{
    domain::{CompletedCase, NewFeedback, RATING_DAYS, RatedCase, Rating, RatingCode, Target},
    store,
};

/// Records `case` as rateable for [`RATING_DAYS`] under a fresh code, in the consumer's
/// unit of work (whose inbox row makes a redelivery change nothing). Whether it was new.
pub async fn record_completed(
    uow: &mut UnitOfWork,
    case: &CompletedCase,
) -> Result<bool, sqlx::Error> {
    let rate_by = case
        .completed_at
        .checked_add(SignedDuration::from_hours(RATING_DAYS * 24))
        .unwrap_or(case.completed_at);
    // Fifty random bits: a clash is all but impossible, and the unique index would refuse
    // it (the consumer then retries with another code).
    store::record_completed(uow, case, &RatingCode::mint(), rate_by).await
}

fn not_found() -> ServiceError {
    ServiceError::new(
        ErrorKind::NotFound,
        "codice di valutazione sconosciuto / unknown rating code",
    )
}

/// Decides what the rating records, under the case's row lock.
async fn decide(uow: &mut UnitOfWork, rating: &Rating) -> Result<NewFeedback, ServiceError> {
    let (code, service_code, channel) = match &rating.target {
        Target::Service {
            service_code,
            channel,
        } => {
            return Ok(NewFeedback {
                municipality: rating.municipality,
                service_code: service_code.clone(),
                channel: *channel,
                rating: rating.rating,
                comment: rating.comment.clone(),
                case: None,
                rated_via: rating.rated_via,
            });
        }
        Target::Case {
            code,
            service_code,
            channel,
        } => (code, service_code, channel),
    };
    let rateable = store::lock_by_code(uow, code)
        .await?
        .filter(|r| r.case.municipality == rating.municipality)
        .ok_or_else(not_found)?;
    if rateable.rated_at.is_some() {
        return Err(ServiceError::new(
            ErrorKind::AlreadyExists,
            "questo servizio è già stato valutato: si valuta una volta sola / this case has \
             been rated already: a case is rated once",
        ));
    }
    if uow.now() > rateable.rate_by {
        let day = jiff::tz::TimeZone::get("Europe/Rome")
            .map(|rome| rateable.rate_by.to_zoned(rome).date().to_string())
            .unwrap_or_else(|_| rateable.rate_by.to_string());
        return Err(ServiceError::new(
            ErrorKind::FailedPrecondition,
            format!("il termine per valutare è scaduto il {day} / the time to rate ended on {day}"),
        ));
    }
    if service_code
        .as_ref()
        .is_some_and(|s| *s != rateable.case.service_code)
    {
        return Err(ServiceError::invalid_field(
            "service_code",
            "non è il servizio di questo codice: si può lasciare vuoto / is not the service of \
             this code: it may be left empty",
        ));
    }
    let served_as = match rateable.case.kind {
        sportello_proto::urp::v1::RateableKind::Appointment => Channel::Appointment,
        _ => Channel::Counter,
    };
    if channel.is_some_and(|c| c != served_as) {
        return Err(ServiceError::invalid_field(
            "channel",
            "non è il canale di questo codice: si può lasciare vuoto / is not how this case \
             was served: it may be left empty",
        ));
    }
    store::mark_rated(uow, rateable.id).await?;
    Ok(NewFeedback {
        municipality: rating.municipality,
        service_code: rateable.case.service_code,
        channel: served_as,
        rating: rating.rating,
        comment: rating.comment.clone(),
        case: Some(RatedCase {
            rateable_id: rateable.id,
            site_id: rateable.case.site_id,
            tier: rateable.case.tier,
        }),
        rated_via: rating.rated_via,
    })
}

/// Takes one rating, made safe to retry by an optional idempotency key.
pub async fn submit(
    db: &Db,
    context: &CallContext,
    request: SubmitFeedbackRequest,
) -> Result<SubmitFeedbackResponse, ServiceError> {
    let rating = Rating::try_from(&request)?;
    context.ensure_municipality(rating.municipality)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = SubmitFeedbackRequest {
        idempotency_key: String::new(),
        ..request
    };
    let response = db
        .idempotent("urp.submit_feedback", key, &fingerprint, |uow| {
            Box::pin(async move {
                let feedback = decide(uow, &rating).await?;
                let saved = store::insert(uow, feedback).await?;
                let id = saved.id.to_string();
                let f = &saved.feedback;
                // Neither the comment (free text may name people) nor the case (which
                // routing ties to who served it) is in the event.
                let event = FeedbackSubmitted {
                    feedback_id: id.clone(),
                    municipality_istat_code: f.municipality.to_string(),
                    service_code: f.service_code.clone(),
                    channel: f.channel as i32,
                    rating: u32::try_from(f.rating).unwrap_or_default(),
                    site_id: f
                        .case
                        .as_ref()
                        .map(|c| c.site_id.to_string())
                        .unwrap_or_default(),
                    tier: f
                        .case
                        .as_ref()
                        .map_or(0, |c| u32::try_from(c.tier).unwrap_or_default()),
                    tied_to_case: f.case.is_some(),
                };
                let aggregate = Aggregate {
                    kind: "urp.feedback",
                    id: &id,
                    version: 1,
                    municipality: f.municipality,
                };
                uow.emit(&event, aggregate).await?;
                Ok(SubmitFeedbackResponse {
                    feedback: Some(super::grpc::to_message(&saved)),
                })
            })
        })
        .await?;
    Ok(response)
}
