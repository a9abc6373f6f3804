//! `sportello.mobility.v1.PermitService`.

use sportello_kit::{CallContext, Role, ServiceError};
use sportello_pa::plate;
use sportello_proto::mobility::v1::{
    CheckPlateRequest, CheckPlateResponse, EndPermitRequest, EndPermitResponse, GetPermitRequest,
    GetPermitResponse, IssuePermitRequest, IssuePermitResponse, PlateCandidate,
    permit_service_server::PermitService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Desk,
    domain::{plate_kind_code, plate_message},
    ending, issuing, message, store,
};
use crate::error::MobilityError;

/// The permits' gRPC service.
#[derive(Debug, Clone)]
pub struct Permits {
    desk: Desk,
}

impl Permits {
    /// Serves permits from `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }
}

#[tonic::async_trait]
impl PermitService for Permits {
    #[tracing::instrument(skip_all)]
    async fn issue_permit(
        &self,
        request: Request<IssuePermitRequest>,
    ) -> Result<Response<IssuePermitResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = issuing::issue(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_permit(
        &self,
        request: Request<GetPermitRequest>,
    ) -> Result<Response<GetPermitResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        if context.asserts_person() {
            context.require_role(Role::OPERATORS)?;
        }
        let raw = request.into_inner().permit_id;
        let id = Uuid::parse_str(raw.trim()).map_err(|_| {
            ServiceError::invalid_field("permit_id", "must be a permit's id (UUID)")
        })?;
        let mut conn = self
            .desk
            .db
            .pool()
            .acquire()
            .await
            .map_err(ServiceError::from)?;
        let permit = store::find(&mut conn, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::from(MobilityError::PermitNotFound(raw.clone())))?;
        context.ensure_visible(permit.municipality)?;
        Ok(Response::new(GetPermitResponse {
            permit: Some(message::permit(&permit)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn end_permit(
        &self,
        request: Request<EndPermitRequest>,
    ) -> Result<Response<EndPermitResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = ending::end(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn check_plate(
        &self,
        request: Request<CheckPlateRequest>,
    ) -> Result<Response<CheckPlateResponse>, Status> {
        let raw = request.into_inner().plate;
        let recognised = plate::recognise(&raw)
            .map_err(|e| ServiceError::invalid_field("plate", plate_message(&e)))?;
        Ok(Response::new(CheckPlateResponse {
            plate: recognised.text.clone(),
            candidates: recognised
                .candidates
                .iter()
                .map(|kind| PlateCandidate {
                    kind: plate_kind_code(kind),
                    description: kind.format().to_owned(),
                })
                .collect(),
        }))
    }
}
