//! `sportello.routing.v1.SiteService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Address,
    routing::v1::{
        CreateSiteRequest, CreateSiteResponse, Site as SiteMessage, SiteCreated,
        site_service_server::SiteService,
    },
};
use tonic::{Request, Response, Status};

use super::{domain::NewSite, store};

/// The sites' gRPC service.
#[derive(Debug, Clone)]
pub struct Sites {
    db: Db,
}

impl Sites {
    /// Serves sites from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl SiteService for Sites {
    #[tracing::instrument(skip_all)]
    async fn create_site(
        &self,
        request: Request<CreateSiteRequest>,
    ) -> Result<Response<CreateSiteResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let site = NewSite::try_from(&request)?;
        context.ensure_municipality(site.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = CreateSiteRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("routing.create_site", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let saved = store::insert(uow, site).await.map_err(ServiceError::from)?;
                    let id = saved.id.to_string();
                    let event = SiteCreated {
                        site_id: id.clone(),
                        municipality_istat_code: saved.site.municipality.to_string(),
                        code: saved.site.code.clone(),
                        counter_count: u32::try_from(saved.site.counter_count).unwrap_or_default(),
                    };
                    let aggregate = Aggregate {
                        kind: "routing.site",
                        id: &id,
                        version: saved.version,
                        municipality: saved.site.municipality,
                    };
                    uow.emit(&event, aggregate).await?;
                    Ok(CreateSiteResponse {
                        site: Some(to_message(&saved)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn to_message(saved: &store::Site) -> SiteMessage {
    let s = &saved.site;
    SiteMessage {
        id: saved.id.to_string(),
        municipality_istat_code: s.municipality.to_string(),
        code: s.code.clone(),
        name: s.name.clone(),
        address: Some(Address {
            street_name: s.street_name.clone(),
            house_number: s.house_number.clone(),
            postal_code: s.postal_code.clone(),
            municipality_istat_code: s.municipality.to_string(),
            ..Default::default()
        }),
        counter_numbers: (1..=u32::try_from(s.counter_count).unwrap_or_default()).collect(),
        version: u64::try_from(saved.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(saved.created_at)),
    }
}
