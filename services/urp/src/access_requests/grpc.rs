//! `sportello.urp.v1.AccessService`: parses, checks who may take each step, asks the
//! flows, maps errors.

use sportello_kit::{CallContext, Role, ServiceError, domain as kit_domain};
use sportello_proto::{
    common::v1::PageResponse,
    urp::v1::{
        AccessRequestRecord, ConsultGaranteRequest, ConsultGaranteResponse, DecideAccessRequest,
        DecideAccessResponse, DecideReviewRequest, DecideReviewResponse, FileAccessRequest,
        FileAccessResponse, GetAccessRequest, GetAccessResponse, ListAccessRegisterRequest,
        ListAccessRegisterResponse, NotifyCounterInterestedRequest,
        NotifyCounterInterestedResponse, NotifyIrregularRequest, NotifyIrregularResponse,
        RecordCorrectionRequest, RecordCorrectionResponse, RecordObjectionRequest,
        RecordObjectionResponse, RequestReviewRequest, RequestReviewResponse,
        access_service_server::AccessService,
    },
};
use tonic::{Request, Response, Status};

use super::{
    decision,
    domain::{self, ReviewBy},
    filing, irregular, message, objections, review,
    store::{self, Access},
};
use crate::{error::UrpError, reports::Desk};

/// The most register lines one page lists.
const MAX_PAGE: u32 = 500;

/// The access requests' gRPC service.
#[derive(Debug, Clone)]
pub struct AccessDesk {
    desk: Desk,
}

/// The office's steps: its specialists and its manager.
fn office(context: &CallContext) -> Result<(), ServiceError> {
    if context.asserts_person() {
        context.require_role(&[Role::BackOffice, Role::Manager])?;
    }
    Ok(())
}

/// The review's steps: the transparency officer, a manager of the administration.
fn transparency_officer(context: &CallContext) -> Result<(), ServiceError> {
    if context.asserts_person() {
        context.require_role(&[Role::Manager])?;
    }
    Ok(())
}

impl AccessDesk {
    /// Serves access requests from `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }

    async fn record(&self, a: &Access) -> Result<AccessRequestRecord, ServiceError> {
        let mut conn = self.desk.db.pool().acquire().await?;
        let objections = store::objections(&mut conn, a.id).await?;
        Ok(message::record(a, &objections))
    }
}

fn text(field: &str, raw: &str, max: usize) -> Result<String, ServiceError> {
    domain::masked_text(field, raw, 10, max)
}

#[tonic::async_trait]
impl AccessService for AccessDesk {
    #[tracing::instrument(skip_all)]
    async fn file_access(
        &self,
        request: Request<FileAccessRequest>,
    ) -> Result<Response<FileAccessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = filing::file(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn notify_irregular(
        &self,
        request: Request<NotifyIrregularRequest>,
    ) -> Result<Response<NotifyIrregularResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        office(&context)?;
        let r = request.into_inner();
        let id = domain::access_id(&r.access_id)?;
        let reason = text("reason", &r.reason, 1000)?;
        let a = irregular::notify_irregular(&self.desk, &context, id, reason).await?;
        Ok(Response::new(NotifyIrregularResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_correction(
        &self,
        request: Request<RecordCorrectionRequest>,
    ) -> Result<Response<RecordCorrectionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        office(&context)?;
        let id = domain::access_id(&request.get_ref().access_id)?;
        let a = irregular::record_correction(&self.desk, &context, id).await?;
        Ok(Response::new(RecordCorrectionResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn notify_counter_interested(
        &self,
        request: Request<NotifyCounterInterestedRequest>,
    ) -> Result<Response<NotifyCounterInterestedResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        office(&context)?;
        let r = request.into_inner();
        let id = domain::access_id(&r.access_id)?;
        let day = match r.received_date.trim() {
            "" => None,
            raw => Some(kit_domain::parse_date("received_date", raw)?),
        };
        let a =
            objections::notify_counter_interested(&self.desk, &context, id, r.parties, day).await?;
        Ok(Response::new(NotifyCounterInterestedResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_objection(
        &self,
        request: Request<RecordObjectionRequest>,
    ) -> Result<Response<RecordObjectionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        office(&context)?;
        let r = request.into_inner();
        let id = domain::access_id(&r.access_id)?;
        let reasons = text("reasons", &r.reasons, 4000)?;
        let a = objections::record_objection(&self.desk, &context, id, r.party, reasons).await?;
        Ok(Response::new(RecordObjectionResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn decide_access(
        &self,
        request: Request<DecideAccessRequest>,
    ) -> Result<Response<DecideAccessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        office(&context)?;
        let response = decision::decide(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn request_review(
        &self,
        request: Request<RequestReviewRequest>,
    ) -> Result<Response<RequestReviewResponse>, Status> {
        // Filed by the requester or a counter-interested party, at the counter or online.
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let id = domain::access_id(&r.access_id)?;
        let by = ReviewBy::from_message(r.by).ok_or_else(|| {
            ServiceError::invalid_field(
                "by",
                "il richiedente (REQUESTER) o un controinteressato (COUNTER_INTERESTED) / \
                 REQUESTER or COUNTER_INTERESTED",
            )
        })?;
        let reasons = text("reasons", &r.reasons, 4000)?;
        let a = review::request_review(&self.desk, &context, id, by, reasons).await?;
        Ok(Response::new(RequestReviewResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn consult_garante(
        &self,
        request: Request<ConsultGaranteRequest>,
    ) -> Result<Response<ConsultGaranteResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        transparency_officer(&context)?;
        let r = request.into_inner();
        let id = domain::access_id(&r.access_id)?;
        let a = review::consult_garante(&self.desk, &context, id, r.opinion_received).await?;
        Ok(Response::new(ConsultGaranteResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn decide_review(
        &self,
        request: Request<DecideReviewRequest>,
    ) -> Result<Response<DecideReviewResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        transparency_officer(&context)?;
        let response = review::decide_review(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_access(
        &self,
        request: Request<GetAccessRequest>,
    ) -> Result<Response<GetAccessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        if context.asserts_person() {
            // The office and the counter; a manager too (the transparency officer reviews).
            if !context.has_any_role(&[Role::Manager]) {
                context.require_role(Role::OPERATORS)?;
            }
        }
        let id = domain::access_id(&request.get_ref().access_id)?;
        let a = {
            let mut conn = self
                .desk
                .db
                .pool()
                .acquire()
                .await
                .map_err(ServiceError::from)?;
            store::find(&mut conn, id)
                .await
                .map_err(ServiceError::from)?
                .ok_or_else(|| ServiceError::from(UrpError::RequestNotFound(id.to_string())))?
        };
        context.ensure_visible(a.municipality)?;
        Ok(Response::new(GetAccessResponse {
            access: Some(self.record(&a).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_access_register(
        &self,
        request: Request<ListAccessRegisterRequest>,
    ) -> Result<Response<ListAccessRegisterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let municipality =
            kit_domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        context.ensure_visible(municipality)?;
        let year = match r.year {
            0 => None,
            y @ 2000..=2200 => i32::try_from(y).ok(),
            _ => {
                return Err(
                    ServiceError::invalid_field("year", "anno 2000-2200 / year 2000-2200").into(),
                );
            }
        };
        let page = r.page.unwrap_or_default();
        let limit = match page.page_size {
            0 => 100,
            n if n <= MAX_PAGE => n,
            _ => {
                return Err(ServiceError::invalid_field(
                    "page.page_size",
                    format!("al massimo {MAX_PAGE} / at most {MAX_PAGE}"),
                )
                .into());
            }
        };
        let cursor = crate::paging::cursor(&page.page_token)?;
        let mut conn = self
            .desk
            .db
            .pool()
            .acquire()
            .await
            .map_err(ServiceError::from)?;
        let mut rows = store::register(&mut conn, municipality, year, cursor, i64::from(limit) + 1)
            .await
            .map_err(ServiceError::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => crate::paging::token(last.received_at, last.id),
            _ => String::new(),
        };
        Ok(Response::new(ListAccessRegisterResponse {
            entries: rows.iter().map(message::register_entry).collect(),
            page: Some(PageResponse { next_page_token }),
        }))
    }
}
