//! `sportello.urp.v1.FeedbackService`.

use sportello_kit::{Aggregate, CallContext, Db, IdempotencyKey, events::to_proto_timestamp};
use sportello_proto::urp::v1::{
    Feedback as FeedbackMessage, FeedbackSubmitted, SubmitFeedbackRequest, SubmitFeedbackResponse,
    feedback_service_server::FeedbackService,
};
use tonic::{Request, Response, Status};

use super::{domain::NewFeedback, store};

/// The feedback desk's gRPC service.
#[derive(Debug, Clone)]
pub struct FeedbackDesk {
    db: Db,
}

impl FeedbackDesk {
    /// Records feedback in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl FeedbackService for FeedbackDesk {
    #[tracing::instrument(skip_all)]
    async fn submit_feedback(
        &self,
        request: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let feedback = NewFeedback::try_from(&request)?;
        context.ensure_municipality(feedback.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = SubmitFeedbackRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("urp.submit_feedback", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let saved = store::insert(uow, feedback).await?;
                    let id = saved.id.to_string();
                    let f = &saved.feedback;
                    // The comment is not in the event: free text may name people.
                    let event = FeedbackSubmitted {
                        feedback_id: id.clone(),
                        municipality_istat_code: f.municipality.to_string(),
                        service_code: f.service_code.clone(),
                        channel: f.channel as i32,
                        rating: u32::try_from(f.rating).unwrap_or_default(),
                    };
                    let aggregate = Aggregate {
                        kind: "urp.feedback",
                        id: &id,
                        version: 1,
                        municipality: f.municipality,
                    };
                    uow.emit(&event, aggregate).await?;
                    Ok(SubmitFeedbackResponse {
                        feedback: Some(to_message(&saved)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn to_message(saved: &store::Feedback) -> FeedbackMessage {
    let f = &saved.feedback;
    FeedbackMessage {
        id: saved.id.to_string(),
        municipality_istat_code: f.municipality.to_string(),
        service_code: f.service_code.clone(),
        channel: f.channel as i32,
        rating: u32::try_from(f.rating).unwrap_or_default(),
        comment: f.comment.clone(),
        create_time: Some(to_proto_timestamp(saved.created_at)),
    }
}
