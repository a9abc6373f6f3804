//! `sportello.education.v1.EnrolmentService`: parses, hands each call to its flow, maps
//! errors.

use sportello_kit::{CallContext, Role, ServiceError, domain};
use sportello_proto::education::v1::{
    AnswerOfferRequest, AnswerOfferResponse, FileApplicationRequest, FileApplicationResponse,
    FileObjectionRequest, FileObjectionResponse, GetApplicationRequest, GetApplicationResponse,
    GetObjectionRequest, GetObjectionResponse, GetRankingRequest, GetRankingResponse,
    GetWindowRequest, GetWindowResponse, ListWindowsRequest, ListWindowsResponse,
    OfferPlacesRequest, OfferPlacesResponse, OpenWindowRequest, OpenWindowResponse,
    PublishRankingRequest, PublishRankingResponse, enrolment_service_server::EnrolmentService,
};
use tonic::{Request, Response, Status};

use super::{
    Office,
    domain::{ApplicationId, ObjectionId, Stage, WindowId},
    filing, message, objections, offers, publication, store, windows,
};
use crate::error::EducationError;

/// The enrolment's gRPC service.
#[derive(Debug, Clone)]
pub struct Enrolment {
    office: Office,
}

impl Enrolment {
    /// Serves enrolment from `office`.
    pub fn new(office: Office) -> Self {
        Self { office }
    }

    async fn window(
        &self,
        context: &CallContext,
        raw: &str,
    ) -> Result<store::Window, ServiceError> {
        let id = WindowId(domain::parse_field("window_id", raw.trim())?);
        let window = store::find_window(self.office.db.pool(), id)
            .await?
            .ok_or(EducationError::NotFound {
                field: "window_id",
                what: "nessuna finestra di iscrizione con questo id / no enrolment window with this id",
            })?;
        context.ensure_municipality(window.window.municipality)?;
        Ok(window)
    }

    async fn application(
        &self,
        context: &CallContext,
        raw: &str,
    ) -> Result<store::Application, ServiceError> {
        let id = ApplicationId(domain::parse_field("application_id", raw.trim())?);
        let not_found = || EducationError::NotFound {
            field: "application_id",
            what: "nessuna domanda con questo id / no application with this id",
        };
        let application = store::find_application(self.office.db.pool(), id)
            .await?
            .ok_or_else(not_found)?;
        // Another municipality's application does not exist for this caller.
        let window = store::find_window(self.office.db.pool(), application.window_id)
            .await?
            .ok_or_else(not_found)?;
        if context
            .ensure_municipality(window.window.municipality)
            .is_err()
        {
            return Err(not_found().into());
        }
        Ok(application)
    }
}

#[tonic::async_trait]
impl EnrolmentService for Enrolment {
    #[tracing::instrument(skip_all)]
    async fn open_window(
        &self,
        request: Request<OpenWindowRequest>,
    ) -> Result<Response<OpenWindowResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            windows::open(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_window(
        &self,
        request: Request<GetWindowRequest>,
    ) -> Result<Response<GetWindowResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let window = self.window(&context, &request.get_ref().window_id).await?;
        Ok(Response::new(GetWindowResponse {
            window: Some(message::window(&window)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_windows(
        &self,
        request: Request<ListWindowsRequest>,
    ) -> Result<Response<ListWindowsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            windows::list(&self.office, &context, request.get_ref()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(application_id))]
    async fn file_application(
        &self,
        request: Request<FileApplicationRequest>,
    ) -> Result<Response<FileApplicationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            filing::file(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_application(
        &self,
        request: Request<GetApplicationRequest>,
    ) -> Result<Response<GetApplicationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let mut roles = Role::OPERATORS.to_vec();
        roles.extend([Role::Manager, Role::Admin]);
        context.require_role(&roles)?;
        let application = self
            .application(&context, &request.get_ref().application_id)
            .await?;
        Ok(Response::new(GetApplicationResponse {
            application: Some(message::application(&application)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn publish_ranking(
        &self,
        request: Request<PublishRankingRequest>,
    ) -> Result<Response<PublishRankingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            publication::publish(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_ranking(
        &self,
        request: Request<GetRankingRequest>,
    ) -> Result<Response<GetRankingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let stage = Stage::parse(request.get_ref().stage)?;
        let window = self.window(&context, &request.get_ref().window_id).await?;
        let ranking = store::find_ranking(self.office.db.pool(), window.id, stage)
            .await
            .map_err(ServiceError::from)?
            .ok_or(EducationError::NotFound {
                field: "stage",
                what: "la graduatoria non è ancora pubblicata / the ranking is not published yet",
            })
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetRankingResponse {
            ranking: Some(message::ranking(&ranking)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn file_objection(
        &self,
        request: Request<FileObjectionRequest>,
    ) -> Result<Response<FileObjectionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            objections::file(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_objection(
        &self,
        request: Request<GetObjectionRequest>,
    ) -> Result<Response<GetObjectionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let mut roles = Role::OPERATORS.to_vec();
        roles.extend([Role::Manager, Role::Admin]);
        context.require_role(&roles)?;
        let id = ObjectionId(domain::parse_field(
            "objection_id",
            request.get_ref().objection_id.trim(),
        )?);
        let not_found = || {
            ServiceError::from(EducationError::NotFound {
                field: "objection_id",
                what: "nessun ricorso con questo id / no objection with this id",
            })
        };
        let objection = store::find_objection(self.office.db.pool(), id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(not_found)?;
        let application = self
            .application(&context, &objection.application_id.0.to_string())
            .await
            .map_err(|_| not_found())?;
        Ok(Response::new(GetObjectionResponse {
            objection: Some(message::objection(&objection, &application.code)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn offer_places(
        &self,
        request: Request<OfferPlacesRequest>,
    ) -> Result<Response<OfferPlacesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            offers::offer(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn answer_offer(
        &self,
        request: Request<AnswerOfferRequest>,
    ) -> Result<Response<AnswerOfferResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            offers::answer_offer(&self.office, &context, request.into_inner()).await?,
        ))
    }
}
