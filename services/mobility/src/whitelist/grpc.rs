//! `sportello.mobility.v1.WhitelistService`: the cameras' check and the day's export.

use jiff::Timestamp;
use sportello_kit::{CallContext, Db, MunicipalityCode, ServiceError, domain as kit};
use sportello_pa::{calendar::rome, plate};
use sportello_proto::mobility::v1::{
    CheckTransitRequest, CheckTransitResponse, ExportWhitelistRequest, ExportWhitelistResponse,
    PermitKind, whitelist_service_server::WhitelistService,
};
use tonic::{Request, Response, Status};

use super::{decision, export, memory::Whitelist, store};
use crate::{error::MobilityError, permits::domain::plate_message, zones::hours};

/// The whitelist's gRPC service.
#[derive(Debug, Clone)]
pub struct Cameras {
    db: Db,
    whitelist: Whitelist,
}

impl Cameras {
    /// Answers from `whitelist`, and from `db` for the past.
    pub fn new(db: Db, whitelist: Whitelist) -> Self {
        Self { db, whitelist }
    }
}

/// The plate as the whitelist keys it: compact, foreign ones as "COUNTRY:PLATE".
pub fn whitelist_plate(raw: &str) -> Result<String, ServiceError> {
    let recognised = plate::recognise(raw)
        .map_err(|e| ServiceError::invalid_field("plate", plate_message(&e)))?;
    Ok(match recognised.candidates.first() {
        Some(plate::PlateKind::Foreign { country }) => format!("{country}:{}", recognised.text),
        _ => recognised.text,
    })
}

/// The municipality asked about, by a camera's or the police's system, or by a person
/// who serves citizens (never a kiosk or a manager watching the floor: plates are
/// personal data).
fn municipality(context: &CallContext, raw: &str) -> Result<MunicipalityCode, ServiceError> {
    if context.asserts_person() {
        context.require_role(sportello_kit::Role::OPERATORS)?;
    }
    let municipality: MunicipalityCode = kit::parse_field("municipality_istat_code", raw)?;
    context.ensure_visible(municipality)?;
    Ok(municipality)
}

#[tonic::async_trait]
impl WhitelistService for Cameras {
    #[tracing::instrument(skip_all)]
    async fn check_transit(
        &self,
        request: Request<CheckTransitRequest>,
    ) -> Result<Response<CheckTransitResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality = municipality(&context, &request.municipality_istat_code)?;
        let zone = request.zone_code.trim().to_ascii_uppercase();
        let plate = whitelist_plate(&request.plate)?;
        let at: Timestamp = match &request.transit_time {
            Some(time) => Timestamp::new(time.seconds, time.nanos).map_err(|_| {
                ServiceError::invalid_field(
                    "transit_time",
                    "non è un istante valido / is not an instant",
                )
            })?,
            None => self.db.clock().now(),
        };
        let rules = self
            .whitelist
            .zone(&self.db, municipality, &zone)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::from(MobilityError::ZoneNotFound(zone.clone())))?;
        if !hours::in_force(&rules.hours, at) {
            return Ok(Response::new(CheckTransitResponse {
                authorised: true,
                reason:
                    "la zona non era attiva a quell'ora / the zone was not in force at that time"
                        .into(),
                zone_in_force: false,
                ..Default::default()
            }));
        }
        let entries = match self.whitelist.entries(municipality, &zone, &plate, at) {
            Some(entries) => entries,
            None => {
                let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
                store::history(&mut conn, municipality, &zone, &plate)
                    .await
                    .map_err(ServiceError::from)?
            }
        };
        let decision = decision::decide(&entries, at);
        let permit = decision.permit.as_ref().filter(|_| decision.authorised);
        Ok(Response::new(CheckTransitResponse {
            authorised: decision.authorised,
            permit_id: permit.map(|p| p.permit_id.to_string()).unwrap_or_default(),
            permit_number: permit.map(|p| p.number.clone()).unwrap_or_default(),
            permit_kind: permit.map_or(PermitKind::Unspecified, |p| p.kind) as i32,
            reason: decision.reason,
            zone_in_force: true,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn export_whitelist(
        &self,
        request: Request<ExportWhitelistRequest>,
    ) -> Result<Response<ExportWhitelistResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality = municipality(&context, &request.municipality_istat_code)?;
        let zone = request.zone_code.trim().to_ascii_uppercase();
        let day = match request.day.trim() {
            "" => rome::date_of(self.db.clock().now()),
            raw => kit::parse_date("day", raw)?,
        };
        let (csv, rows) = export::day(
            &self.db,
            municipality,
            (!zone.is_empty()).then_some(zone.as_str()),
            day,
        )
        .await?;
        Ok(Response::new(ExportWhitelistResponse { csv, rows }))
    }
}
