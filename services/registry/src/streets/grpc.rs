//! `sportello.registry.v1.StreetService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::registry::v1::{
    RegisterStreetRequest, RegisterStreetResponse, Street as StreetMessage, StreetRegistered,
    street_service_server::StreetService,
};
use tonic::{Request, Response, Status};

use super::{domain::NewStreet, store};

/// The gazetteer's gRPC service.
#[derive(Debug, Clone)]
pub struct Streets {
    db: Db,
}

impl Streets {
    /// Serves the gazetteer from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl StreetService for Streets {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn register_street(
        &self,
        request: Request<RegisterStreetRequest>,
    ) -> Result<Response<RegisterStreetResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let street = NewStreet::try_from(&request)?;
        context.ensure_municipality(street.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterStreetRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("registry.register_street", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let street = store::insert(uow, street)
                        .await
                        .map_err(ServiceError::from)?;
                    let id = street.id.to_string();
                    uow.emit(
                        &StreetRegistered {
                            street_id: id.clone(),
                            municipality_istat_code: street.street.municipality.to_string(),
                            street_code: street.street.street_code.clone(),
                        },
                        Aggregate {
                            kind: "registry.street",
                            id: &id,
                            version: street.version,
                            municipality: street.street.municipality,
                        },
                    )
                    .await?;
                    Ok(RegisterStreetResponse {
                        street: Some(to_message(&street)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn to_message(street: &store::Street) -> StreetMessage {
    StreetMessage {
        id: street.id.to_string(),
        municipality_istat_code: street.street.municipality.to_string(),
        street_code: street.street.street_code.clone(),
        qualifier: street.street.qualifier.clone(),
        name: street.street.name.clone(),
        postal_code: street.street.postal_code.clone(),
        version: u64::try_from(street.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(street.created_at)),
    }
}
