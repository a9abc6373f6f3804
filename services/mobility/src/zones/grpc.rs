//! `sportello.mobility.v1.ZoneService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::mobility::v1::{
    ActiveHours, DefineZoneRequest, DefineZoneResponse, GetZoneRequest, GetZoneResponse, PermitFee,
    Zone as ZoneMessage, ZoneDefined, zone_service_server::ZoneService,
};
use tonic::{Request, Response, Status};

use super::{domain::NewZone, hours::clock_text, store};
use crate::error::MobilityError;

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

    #[tracing::instrument(skip_all)]
    async fn get_zone(
        &self,
        request: Request<GetZoneRequest>,
    ) -> Result<Response<GetZoneResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        context.ensure_visible(municipality)?;
        let code = request.zone_code.trim().to_ascii_uppercase();
        let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
        let zone = store::find(&mut conn, municipality, &code)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::from(MobilityError::ZoneNotFound(code)))?;
        Ok(Response::new(GetZoneResponse {
            zone: Some(to_message(&zone)),
        }))
    }
}

pub fn to_message(zone: &store::Zone) -> ZoneMessage {
    ZoneMessage {
        id: zone.id.to_string(),
        municipality_istat_code: zone.zone.municipality.to_string(),
        zone_code: zone.zone.zone_code.clone(),
        name: zone.zone.name.clone(),
        kind: zone.zone.kind as i32,
        permit_quota: u32::try_from(zone.zone.permit_quota).unwrap_or_default(),
        version: u64::try_from(zone.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(zone.created_at)),
        streets: zone.zone.streets.iter().map(|s| s.to_message()).collect(),
        hours: zone
            .zone
            .hours
            .iter()
            .map(|h| ActiveHours {
                weekdays: h
                    .weekdays
                    .iter()
                    .map(|d| u32::try_from(*d).unwrap_or_default())
                    .collect(),
                from: clock_text(h.from_minute),
                until: clock_text(h.until_minute),
            })
            .collect(),
        plates_per_household: u32::try_from(zone.zone.plates_per_household).unwrap_or_default(),
        fees: zone
            .zone
            .fees
            .iter()
            .map(|(kind, cents)| PermitFee {
                kind: kind.to_proto() as i32,
                amount_cents: u64::try_from(*cents).unwrap_or_default(),
            })
            .collect(),
        permits_held: u32::try_from(zone.permits_held).unwrap_or_default(),
    }
}
