//! `sportello.mobility.v1.BadgeService`.

use sportello_kit::{CallContext, Role, ServiceError};
use sportello_proto::mobility::v1::{
    GetBadgeRequest, GetBadgeResponse, IssueBadgeRequest, IssueBadgeResponse,
    ReadCertificationRequest, ReadCertificationResponse, ReplaceBadgeRequest, ReplaceBadgeResponse,
    badge_service_server::BadgeService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{BadgeOffice, issuing, message, reading, store};

/// The badges' gRPC service.
#[derive(Debug, Clone)]
pub struct Badges {
    office: BadgeOffice,
}

impl Badges {
    /// Serves badges from `office`.
    pub fn new(office: BadgeOffice) -> Self {
        Self { office }
    }
}

fn badge_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ServiceError::invalid_field(
            "badge_id",
            "deve essere l'id di un contrassegno (UUID) / must be a badge's id (UUID)",
        )
    })
}

#[tonic::async_trait]
impl BadgeService for Badges {
    #[tracing::instrument(skip_all)]
    async fn issue_badge(
        &self,
        request: Request<IssueBadgeRequest>,
    ) -> Result<Response<IssueBadgeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            issuing::issue(&self.office, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_badge(
        &self,
        request: Request<GetBadgeRequest>,
    ) -> Result<Response<GetBadgeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        if context.asserts_person() {
            context.require_role(Role::OPERATORS)?;
        }
        let id = badge_id(&request.into_inner().badge_id)?;
        let mut conn = self
            .office
            .db
            .pool()
            .acquire()
            .await
            .map_err(ServiceError::from)?;
        let badge = store::find(&mut conn, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| {
                ServiceError::new(
                    sportello_kit::ErrorKind::NotFound,
                    format!("contrassegno {id} non trovato / badge {id} not found"),
                )
            })?;
        context.ensure_visible(badge.municipality)?;
        Ok(Response::new(GetBadgeResponse {
            badge: Some(message::badge(&badge)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn read_certification(
        &self,
        request: Request<ReadCertificationRequest>,
    ) -> Result<Response<ReadCertificationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = badge_id(&request.into_inner().badge_id)?;
        Ok(Response::new(
            reading::read(&self.office, &context, id).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn replace_badge(
        &self,
        request: Request<ReplaceBadgeRequest>,
    ) -> Result<Response<ReplaceBadgeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            issuing::replace(&self.office, &context, request.into_inner()).await?,
        ))
    }
}
