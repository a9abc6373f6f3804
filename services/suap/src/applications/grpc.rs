//! `sportello.suap.v1.ApplicationService`: parses each request, hands it to its flow,
//! maps errors through the SUAP's error table.

use sportello_kit::{CallContext, ServiceError};
use sportello_proto::suap::v1::{
    FileApplicationRequest, FileApplicationResponse, GetApplicationRequest, GetApplicationResponse,
    ListApplicationsRequest, ListApplicationsResponse, ListProceduresRequest,
    ListProceduresResponse, ReceiveIntegrationRequest, ReceiveIntegrationResponse,
    RecordObservationsRequest, RecordObservationsResponse, RecordOpinionRequest,
    RecordOpinionResponse, ReportMeasuresRequest, ReportMeasuresResponse,
    RequestIntegrationRequest, RequestIntegrationResponse, RequestOpinionRequest,
    RequestOpinionResponse, application_service_server::ApplicationService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    domain::ApplicationId,
    filing, message, opinions, procedures, reasons, requests,
    steps::Desk,
    store::{self, Application},
};

/// The applications' gRPC service.
#[derive(Debug, Clone)]
pub struct Applications {
    desk: Desk,
}

impl Applications {
    /// Serves applications from `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }

    async fn full(
        &self,
        app: &Application,
    ) -> Result<sportello_proto::suap::v1::Application, ServiceError> {
        let documents = store::documents(self.desk.db.pool(), app.id).await?;
        let opinions = store::opinions(self.desk.db.pool(), app.id).await?;
        message::application(app, &documents, &opinions)
    }
}

fn id(field: &str, value: &str) -> Result<ApplicationId, Status> {
    Ok(ApplicationId::parse(field, value)?)
}

#[tonic::async_trait]
impl ApplicationService for Applications {
    async fn list_procedures(
        &self,
        _: Request<ListProceduresRequest>,
    ) -> Result<Response<ListProceduresResponse>, Status> {
        Ok(Response::new(ListProceduresResponse {
            procedures: procedures::PROCEDURES
                .iter()
                .map(message::procedure)
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(application_id))]
    async fn file_application(
        &self,
        request: Request<FileApplicationRequest>,
    ) -> Result<Response<FileApplicationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = filing::file(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn get_application(
        &self,
        request: Request<GetApplicationRequest>,
    ) -> Result<Response<GetApplicationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = id("application_id", &request.get_ref().application_id)?;
        let app = requests::read(&self.desk, &context, id).await?;
        Ok(Response::new(GetApplicationResponse {
            application: Some(self.full(&app).await?),
        }))
    }

    async fn list_applications(
        &self,
        request: Request<ListApplicationsRequest>,
    ) -> Result<Response<ListApplicationsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let business = Uuid::parse_str(request.get_ref().business_id.trim()).map_err(|_| {
            ServiceError::invalid_field("business_id", "non è un UUID / is not a UUID")
        })?;
        let mut applications = Vec::new();
        for app in store::of_business(self.desk.db.pool(), business)
            .await
            .map_err(ServiceError::from)?
        {
            if app.municipality == context.municipality() {
                applications.push(self.full(&app).await?);
            }
        }
        Ok(Response::new(ListApplicationsResponse { applications }))
    }

    #[tracing::instrument(skip_all)]
    async fn request_integration(
        &self,
        request: Request<RequestIntegrationRequest>,
    ) -> Result<Response<RequestIntegrationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let app = requests::request_integration(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.reason,
            &r.request_date,
        )
        .await?;
        Ok(Response::new(RequestIntegrationResponse {
            application: Some(self.full(&app).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn receive_integration(
        &self,
        request: Request<ReceiveIntegrationRequest>,
    ) -> Result<Response<ReceiveIntegrationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let app = requests::receive_integration(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.documents,
            &r.received_date,
            &r.idempotency_key,
        )
        .await?;
        Ok(Response::new(ReceiveIntegrationResponse {
            application: Some(self.full(&app).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_observations(
        &self,
        request: Request<RecordObservationsRequest>,
    ) -> Result<Response<RecordObservationsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let app = reasons::record_observations(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.documents,
            &r.received_date,
            &r.idempotency_key,
        )
        .await?;
        Ok(Response::new(RecordObservationsResponse {
            application: Some(self.full(&app).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn report_measures(
        &self,
        request: Request<ReportMeasuresRequest>,
    ) -> Result<Response<ReportMeasuresResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let app = requests::report_measures(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.documents,
            &r.idempotency_key,
        )
        .await?;
        Ok(Response::new(ReportMeasuresResponse {
            application: Some(self.full(&app).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn request_opinion(
        &self,
        request: Request<RequestOpinionRequest>,
    ) -> Result<Response<RequestOpinionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let (app, opinion) = opinions::request(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.office,
            &r.rule,
            r.term_days,
            &r.question,
        )
        .await?;
        Ok(Response::new(RequestOpinionResponse {
            application: Some(self.full(&app).await?),
            opinion: Some(message::opinion(&opinion)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_opinion(
        &self,
        request: Request<RecordOpinionRequest>,
    ) -> Result<Response<RecordOpinionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let r = request.into_inner();
        let (app, opinion) = opinions::record(
            &self.desk,
            &context,
            id("application_id", &r.application_id)?,
            &r.office,
            &r.verdict,
            &r.received_date,
            r.document.as_ref(),
        )
        .await?;
        Ok(Response::new(RecordOpinionResponse {
            application: Some(self.full(&app).await?),
            opinion: Some(message::opinion(&opinion)),
        }))
    }
}
