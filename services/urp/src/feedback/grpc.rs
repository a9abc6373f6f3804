//! `sportello.urp.v1.FeedbackService`: parses, checks who asks, hands over to the flow or
//! the store, maps errors through the kit's one table.

use sportello_kit::{CallContext, Db, ErrorKind, Role, ServiceError, events::to_proto_timestamp};
use sportello_proto::urp::v1::{
    Feedback as FeedbackMessage, GetRateableCaseRequest, GetRateableCaseResponse,
    GetSatisfactionReportRequest, GetSatisfactionReportResponse, OutcomeCount, RateableCase,
    ServiceSatisfaction, SubmitFeedbackRequest, SubmitFeedbackResponse,
    feedback_service_server::FeedbackService,
};
use tonic::{Request, Response, Status};

use super::{
    domain::{Lookup, RateableQuery, RatingCode, ReportQuery},
    flow,
    store::{self, Rateable},
};

/// Who reads the satisfaction report: those who run the office, never per person.
const REPORT_READERS: &[Role] = &[Role::Manager, Role::Admin];

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
        let response = flow::submit(&self.db, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_rateable_case(
        &self,
        request: Request<GetRateableCaseRequest>,
    ) -> Result<Response<GetRateableCaseResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let query = RateableQuery::try_from(request.get_ref())?;
        context.ensure_visible(query.municipality)?;
        let found = match &query.lookup {
            // The code is the citizen's key: whoever holds it may see what it rates.
            Lookup::Code(code) => store::by_code(&self.db, code).await,
            // By the case: only for those who serve citizens (the counter prints the code).
            Lookup::CaseId(id) => {
                require_person_or_system(&context, Role::OPERATORS)?;
                store::by_case_id(&self.db, *id).await
            }
        }
        .map_err(ServiceError::from)?
        .filter(|r| r.case.municipality == query.municipality)
        .ok_or_else(|| {
            ServiceError::new(
                ErrorKind::NotFound,
                "nessun servizio da valutare con questo codice (o non ancora registrato) / no \
                 rateable case with this code (or not recorded yet)",
            )
        })?;
        Ok(Response::new(GetRateableCaseResponse {
            rateable_case: Some(rateable_message(&found)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_satisfaction_report(
        &self,
        request: Request<GetSatisfactionReportRequest>,
    ) -> Result<Response<GetSatisfactionReportResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        require_person_or_system(&context, REPORT_READERS)?;
        let query = ReportQuery::try_from(request.get_ref())?;
        context.ensure_municipality(query.municipality)?;
        let rows = store::report(&self.db, &query)
            .await
            .map_err(ServiceError::from)?;
        let seconds = |s: f64| {
            // Medians of non-negative i32 seconds: within u32.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = s.round().max(0.0) as u32;
            whole
        };
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let services = rows
            .into_iter()
            .map(|r| ServiceSatisfaction {
                service_code: r.service_code,
                tier: u32::try_from(r.tier).unwrap_or_default(),
                cases_completed: count(r.cases),
                median_wait_seconds: seconds(r.median_wait),
                median_handling_seconds: seconds(r.median_handling),
                outcomes: r
                    .outcomes
                    .into_iter()
                    .map(|(outcome_code, n)| OutcomeCount {
                        outcome_code,
                        count: count(n),
                    })
                    .collect(),
                ratings: count(r.ratings),
                average_rating: r.average,
                rating_counts: r.counts.iter().map(|n| count(*n)).collect(),
                case_ratings: count(r.case_ratings),
            })
            .collect();
        Ok(Response::new(GetSatisfactionReportResponse { services }))
    }
}

/// A person with one of `roles`, or a department system acting as itself. The gateway
/// acting as itself is the public web: not enough.
fn require_person_or_system(context: &CallContext, roles: &[Role]) -> Result<(), ServiceError> {
    if context.asserts_person() || context.caller() == "gateway" {
        context.require_role(roles)?;
    }
    Ok(())
}

fn rateable_message(r: &Rateable) -> RateableCase {
    let c = &r.case;
    RateableCase {
        code: RatingCode::display(&r.code),
        municipality_istat_code: c.municipality.to_string(),
        service_code: c.service_code.clone(),
        site_id: c.site_id.to_string(),
        tier: u32::try_from(c.tier).unwrap_or_default(),
        kind: c.kind as i32,
        outcome_code: c.outcome_code.clone(),
        complete_time: Some(to_proto_timestamp(c.completed_at)),
        rate_by_time: Some(to_proto_timestamp(r.rate_by)),
        rated: r.rated_at.is_some(),
        waited_seconds: u32::try_from(c.waited_seconds).unwrap_or_default(),
        handling_seconds: u32::try_from(c.handling_seconds).unwrap_or_default(),
    }
}

/// A stored rating as the API answers it.
pub(super) fn to_message(saved: &store::Feedback) -> FeedbackMessage {
    let f = &saved.feedback;
    FeedbackMessage {
        id: saved.id.to_string(),
        municipality_istat_code: f.municipality.to_string(),
        service_code: f.service_code.clone(),
        channel: f.channel as i32,
        rating: u32::try_from(f.rating).unwrap_or_default(),
        comment: f.comment.clone(),
        create_time: Some(to_proto_timestamp(saved.created_at)),
        site_id: f
            .case
            .as_ref()
            .map(|c| c.site_id.to_string())
            .unwrap_or_default(),
        tier: f
            .case
            .as_ref()
            .map_or(0, |c| u32::try_from(c.tier).unwrap_or_default()),
        rated_via: f.rated_via as i32,
        tied_to_case: f.case.is_some(),
    }
}
