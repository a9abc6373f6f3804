//! `sportello.registry.v1.PrivacyService`: the alerts, for the privacy/security officer.

use sportello_kit::{
    CallContext, Db, MunicipalityCode, Role, ServiceError, domain as kit,
    events::to_proto_timestamp, uow::SqlTimestamp,
};
use sportello_proto::registry::v1::{
    ListPrivacyAlertsRequest, ListPrivacyAlertsResponse, PrivacyAlert,
    privacy_service_server::PrivacyService,
};
use sqlx::Row;
use tonic::{Request, Response, Status};

/// The alerts' gRPC service.
#[derive(Debug, Clone)]
pub struct Privacy {
    db: Db,
}

impl Privacy {
    /// Serves the alerts from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl PrivacyService for Privacy {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn list_privacy_alerts(
        &self,
        request: Request<ListPrivacyAlertsRequest>,
    ) -> Result<Response<ListPrivacyAlertsResponse>, Status> {
        let context = CallContext::of(&request)?;
        tracing::Span::current().record("caller", context.caller());
        // Only the officer: the alerts name operators (L. 300/1970 art. 4: a control on
        // access to personal data, read by the person the controller charged with it).
        context.require_role(&[Role::Privacy])?;
        let request = request.get_ref();
        let municipality: MunicipalityCode =
            kit::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let limit = match request.page_size {
            0 => 100,
            n @ 1..=500 => i64::from(n),
            _ => {
                return Err(
                    ServiceError::invalid_field("page_size", "must be between 1 and 500").into(),
                );
            }
        };
        let rows = sqlx::query(
            "select id, actor, window_start, raised_at, reads, threshold from privacy_alerts
              where municipality = $1 order by raised_at desc, id desc limit $2",
        )
        .bind(municipality.as_str())
        .bind(limit)
        .fetch_all(self.db.pool())
        .await
        .map_err(ServiceError::from)?;
        let alerts = rows
            .iter()
            .map(|row| -> Result<PrivacyAlert, sqlx::Error> {
                let id: uuid::Uuid = row.try_get("id")?;
                let reads: i32 = row.try_get("reads")?;
                let threshold: i32 = row.try_get("threshold")?;
                Ok(PrivacyAlert {
                    id: id.to_string(),
                    actor: row.try_get("actor")?,
                    window_start_time: Some(to_proto_timestamp(
                        row.try_get::<SqlTimestamp, _>("window_start")?.to_jiff(),
                    )),
                    raise_time: Some(to_proto_timestamp(
                        row.try_get::<SqlTimestamp, _>("raised_at")?.to_jiff(),
                    )),
                    reads: u32::try_from(reads).unwrap_or_default(),
                    threshold: u32::try_from(threshold).unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListPrivacyAlertsResponse { alerts }))
    }
}
