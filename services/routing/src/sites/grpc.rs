//! `sportello.routing.v1.SiteService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, domain, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Address,
    routing::v1::{
        CreateSiteRequest, CreateSiteResponse, GetSiteRequest, GetSiteResponse, ListSitesRequest,
        ListSitesResponse, Site as SiteMessage, SiteCreated, SiteUpdated,
        UpdateSiteSettingsRequest, UpdateSiteSettingsResponse, site_service_server::SiteService,
    },
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    domain::{NewSite, SiteSettings},
    store,
};

/// The sites' gRPC service.
#[derive(Debug, Clone)]
pub struct Sites {
    db: Db,
    cache: super::cache::SiteCache,
}

impl Sites {
    /// Serves sites from `db`, keeping this replica's `cache` current.
    pub fn new(db: Db, cache: super::cache::SiteCache) -> Self {
        Self { db, cache }
    }

    /// A site the caller may see (same municipality), or NOT_FOUND.
    async fn visible(&self, context: &CallContext, id: Uuid) -> Result<store::Site, ServiceError> {
        let site = store::get(self.db.pool(), id).await?;
        context.ensure_visible(site.site.municipality)?;
        Ok(site)
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
        crate::access::ensure_administers(&context, site.municipality)?;
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

    #[tracing::instrument(skip_all)]
    async fn get_site(
        &self,
        request: Request<GetSiteRequest>,
    ) -> Result<Response<GetSiteResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = domain::parse_field("site_id", &request.get_ref().site_id)?;
        let site = self.visible(&context, id).await?;
        Ok(Response::new(GetSiteResponse {
            site: Some(to_message(&site)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_sites(
        &self,
        request: Request<ListSitesRequest>,
    ) -> Result<Response<ListSitesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let municipality = domain::parse_field(
            "municipality_istat_code",
            &request.get_ref().municipality_istat_code,
        )?;
        context.ensure_municipality(municipality)?;
        let sites = store::list(self.db.pool(), municipality.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListSitesResponse {
            sites: sites.iter().map(to_message).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_site_settings(
        &self,
        request: Request<UpdateSiteSettingsRequest>,
    ) -> Result<Response<UpdateSiteSettingsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = domain::parse_field("site_id", &request.site_id)?;
        let settings = SiteSettings::parse(request.settings.as_ref(), "settings")?;
        let version = i64::try_from(request.version)
            .map_err(|_| ServiceError::invalid_field("version", "is too large"))?;
        let current = self.visible(&context, id).await?;
        crate::access::ensure_administers(&context, current.site.municipality)?;

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let site = store::update_settings(&mut uow, id, &settings, version)
            .await
            .map_err(ServiceError::from)?;
        let site_id = site.id.to_string();
        let event = SiteUpdated {
            site_id: site_id.clone(),
            municipality_istat_code: site.site.municipality.to_string(),
        };
        let aggregate = Aggregate {
            kind: "routing.site",
            id: &site_id,
            version: site.version,
            municipality: site.site.municipality,
        };
        uow.emit(&event, aggregate)
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        self.cache.invalidate(site.id);
        Ok(Response::new(UpdateSiteSettingsResponse {
            site: Some(to_message(&site)),
        }))
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
        settings: Some(s.settings.to_message()),
    }
}
