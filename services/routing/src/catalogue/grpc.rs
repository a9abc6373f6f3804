//! `sportello.routing.v1.CatalogueService`.

use sportello_kit::{
    Aggregate, CallContext, Db, MunicipalityCode, ServiceError, UnitOfWork, domain,
};
use sportello_proto::routing::v1::{
    CatalogueChanged, GetServiceTypeRequest, GetServiceTypeResponse, ListServiceGroupsRequest,
    ListServiceGroupsResponse, ListServiceTypesRequest, ListServiceTypesResponse,
    UpsertServiceGroupRequest, UpsertServiceGroupResponse, UpsertServiceTypeRequest,
    UpsertServiceTypeResponse, catalogue_service_server::CatalogueService,
};
use tonic::{Request, Response, Status};

use super::{
    cache::CatalogueCache,
    domain::{ServiceGroup, ServiceType},
    store,
};

/// The catalogue's gRPC service.
#[derive(Debug, Clone)]
pub struct CatalogueApi {
    db: Db,
    cache: CatalogueCache,
}

impl CatalogueApi {
    /// Serves the catalogue from `db`, keeping `cache` current.
    pub fn new(db: Db, cache: CatalogueCache) -> Self {
        Self { db, cache }
    }
}

/// Writes `routing.catalogue.changed` for a municipality.
pub async fn emit_changed(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    service_code: &str,
    service_group: &str,
) -> Result<(), sqlx::Error> {
    let event = CatalogueChanged {
        municipality_istat_code: municipality.to_string(),
        service_code: service_code.to_owned(),
        service_group: service_group.to_owned(),
    };
    let id = format!("{municipality}");
    // The catalogue's version is the change count; consumers only need "something changed".
    let aggregate = Aggregate {
        kind: "routing.catalogue",
        id: &id,
        version: 1,
        municipality,
    };
    uow.emit(&event, aggregate).await.map(|_| ())
}

fn version(raw: u64) -> Result<i64, ServiceError> {
    i64::try_from(raw)
        .map_err(|_| ServiceError::invalid_field("service_type.version", "is too large"))
}

#[tonic::async_trait]
impl CatalogueService for CatalogueApi {
    #[tracing::instrument(skip_all)]
    async fn upsert_service_type(
        &self,
        request: Request<UpsertServiceTypeRequest>,
    ) -> Result<Response<UpsertServiceTypeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let message = request.into_inner().service_type.unwrap_or_default();
        let service = ServiceType::parse(&message, "service_type")?;
        crate::access::ensure_administers(&context, service.municipality)?;
        let expected = version(message.version)?;

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let new_version = store::upsert_type(&mut uow, &service, expected).await?;
        emit_changed(&mut uow, service.municipality, &service.code, "")
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        self.cache.invalidate(service.municipality);
        Ok(Response::new(UpsertServiceTypeResponse {
            service_type: Some(service.to_message(new_version)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_service_type(
        &self,
        request: Request<GetServiceTypeRequest>,
    ) -> Result<Response<GetServiceTypeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let (service, version) =
            store::get_type(self.db.pool(), municipality, &request.code).await?;
        Ok(Response::new(GetServiceTypeResponse {
            service_type: Some(service.to_message(version)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_service_types(
        &self,
        request: Request<ListServiceTypesRequest>,
    ) -> Result<Response<ListServiceTypesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let services = store::list_types(self.db.pool(), municipality).await?;
        Ok(Response::new(ListServiceTypesResponse {
            service_types: services
                .iter()
                .filter(|(s, _)| s.active || !request.active_only)
                .map(|(s, v)| s.to_message(*v))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_service_group(
        &self,
        request: Request<UpsertServiceGroupRequest>,
    ) -> Result<Response<UpsertServiceGroupResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let message = request.into_inner().service_group.unwrap_or_default();
        let group = ServiceGroup::parse(&message)?;
        crate::access::ensure_administers(&context, group.municipality)?;
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        store::upsert_group(&mut uow, &group).await?;
        emit_changed(&mut uow, group.municipality, "", &group.code)
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        self.cache.invalidate(group.municipality);
        Ok(Response::new(UpsertServiceGroupResponse {
            service_group: Some(group.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_service_groups(
        &self,
        request: Request<ListServiceGroupsRequest>,
    ) -> Result<Response<ListServiceGroupsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let municipality = domain::parse_field(
            "municipality_istat_code",
            &request.get_ref().municipality_istat_code,
        )?;
        context.ensure_municipality(municipality)?;
        let groups = store::list_groups(self.db.pool(), municipality).await?;
        Ok(Response::new(ListServiceGroupsResponse {
            service_groups: groups.iter().map(ServiceGroup::to_message).collect(),
        }))
    }
}
