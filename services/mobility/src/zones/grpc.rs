//! `sportello.mobility.v1.ZoneService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::mobility::v1::{
    DefineZoneRequest, DefineZoneResponse, Zone as ZoneMessage, ZoneDefined,
    zone_service_server::ZoneService,
};
use tonic::{Request, Response, Status};

use super::{domain::NewZone, store};

/// The zones' gRPC service.
#[derive(Debug, Clone)]
pub struct Zones {
    db: Db,
}

impl Zones {
    /// Serves zones from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl ZoneService for Zones {
    #[tracing::instrument(skip_all)]
    async fn define_zone(
        &self,
        request: Request<DefineZoneRequest>,
    ) -> Result<Response<DefineZoneResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let zone = NewZone::try_from(&request)?;
        context.ensure_municipality(zone.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = DefineZoneRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("mobility.define_zone", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let zone = store::insert(uow, zone).await.map_err(ServiceError::from)?;
                    let id = zone.id.to_string();
                    let event = ZoneDefined {
                        zone_id: id.clone(),
                        municipality_istat_code: zone.zone.municipality.to_string(),
                        zone_code: zone.zone.zone_code.clone(),
                        kind: zone.zone.kind as i32,
                    };
                    let aggregate = Aggregate {
                        kind: "mobility.zone",
                        id: &id,
                        version: zone.version,
                        municipality: zone.zone.municipality,
                    };
                    uow.emit(&event, aggregate).await?;
                    Ok(DefineZoneResponse {
                        zone: Some(to_message(&zone)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn to_message(zone: &store::Zone) -> ZoneMessage {
    ZoneMessage {
        id: zone.id.to_string(),
        municipality_istat_code: zone.zone.municipality.to_string(),
        zone_code: zone.zone.zone_code.clone(),
        name: zone.zone.name.clone(),
        kind: zone.zone.kind as i32,
        permit_quota: u32::try_from(zone.zone.permit_quota).unwrap_or_default(),
        version: u64::try_from(zone.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(zone.created_at)),
    }
}
