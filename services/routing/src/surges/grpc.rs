//! `sportello.routing.v1.SurgeService`: parses, asks the flow, maps errors.

use sportello_kit::{CallContext, ServiceError, domain};
use sportello_proto::routing::v1::{
    GetSurgeRosterRequest, GetSurgeRosterResponse, ListSurgesRequest, ListSurgesResponse,
    SetSurgeRosterRequest, SetSurgeRosterResponse, surge_service_server::SurgeService,
};
use tonic::{Request, Response, Status};

use super::{
    domain::{Roster, parse_skill},
    flow::SurgeFlow,
};

/// The surges' gRPC service.
#[derive(Debug, Clone)]
pub struct SurgeApi(pub SurgeFlow);

#[tonic::async_trait]
impl SurgeService for SurgeApi {
    #[tracing::instrument(skip_all)]
    async fn set_surge_roster(
        &self,
        request: Request<SetSurgeRosterRequest>,
    ) -> Result<Response<SetSurgeRosterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let message = request
            .into_inner()
            .roster
            .ok_or_else(|| ServiceError::invalid_field("roster", "è obbligatorio / is required"))?;
        let roster = Roster::parse(&message)?;
        let stored = self.0.set_roster(&context, roster).await?;
        Ok(Response::new(SetSurgeRosterResponse {
            roster: Some(stored.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_surge_roster(
        &self,
        request: Request<GetSurgeRosterRequest>,
    ) -> Result<Response<GetSurgeRosterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let skill = parse_skill("skill", &request.skill)?;
        let roster = self.0.roster(&context, municipality, skill).await?;
        Ok(Response::new(GetSurgeRosterResponse {
            roster: Some(roster.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_surges(
        &self,
        request: Request<ListSurgesRequest>,
    ) -> Result<Response<ListSurgesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let municipality = domain::parse_field(
            "municipality_istat_code",
            &request.get_ref().municipality_istat_code,
        )?;
        let surges = self.0.overview(&context, municipality).await?;
        Ok(Response::new(ListSurgesResponse { surges }))
    }
}
