//! `sportello.suap.v1.OccupationService`: parses, calls the flow, maps the answer.

use sportello_kit::{
    CallContext, Db, IdempotencyKey, MunicipalityCode, Role, ServiceError, domain,
};
use sportello_proto::{
    common::v1::PageResponse,
    suap::v1::{
        GetOccupationRequest, GetOccupationResponse, GrantOccupationRequest,
        GrantOccupationResponse, ListOccupationsRequest, ListOccupationsResponse,
        ListTariffsRequest, ListTariffsResponse, OccupationStatus, QuoteCanoneRequest,
        QuoteCanoneResponse, RenewOccupationRequest, RenewOccupationResponse,
        RequestOccupationRequest, RequestOccupationResponse, RevokeOccupationRequest,
        RevokeOccupationResponse, SetTariffsRequest, SetTariffsResponse,
        occupation_service_server::OccupationService,
    },
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    canone::{self, Kind, Rate},
    domain::{self as occ, NewOccupation, QuoteInput},
    flow,
    message::{canone_to_message, status_to_db, tariffs_to_message, to_message},
    payment,
    store::{self, Filter, TariffTable},
};
use crate::{error::SuapError, payments::SuapPayments};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// The occupations' gRPC service.
#[derive(Debug, Clone)]
pub struct Occupations {
    db: Db,
    payments: SuapPayments,
}

impl Occupations {
    /// Serves occupations from `db`, asking `payments` for the canone's notices.
    pub fn new(db: Db, payments: SuapPayments) -> Self {
        Self { db, payments }
    }
}

fn parse_id(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    domain::parse_field(field, raw.trim())
}

#[tonic::async_trait]
impl OccupationService for Occupations {
    #[tracing::instrument(skip_all)]
    async fn request_occupation(
        &self,
        request: Request<RequestOccupationRequest>,
    ) -> Result<Response<RequestOccupationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let occupation = NewOccupation::try_from(&request)?;
        context.ensure_municipality(occupation.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RequestOccupationRequest {
            idempotency_key: String::new(),
            ..request
        };
        let response = self
            .db
            .idempotent("suap.request_occupation", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let saved = flow::request(uow, &occupation, None).await?;
                    Ok(RequestOccupationResponse {
                        occupation: Some(to_message(&saved)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn grant_occupation(
        &self,
        request: Request<GrantOccupationRequest>,
    ) -> Result<Response<GrantOccupationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = parse_id("occupation_id", &request.occupation_id)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = GrantOccupationRequest {
            idempotency_key: String::new(),
            ..request
        };
        let municipality = context.municipality();
        let mut response = self
            .db
            .idempotent("suap.grant_occupation", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let granted = flow::grant(uow, municipality, id).await?;
                    Ok(GrantOccupationResponse {
                        occupation: Some(to_message(&granted)),
                        ..Default::default()
                    })
                })
            })
            .await?;
        // The grant is committed: the notice is asked after it (pagoPA keeps one position
        // per occupation, so a repeated grant gets the same notice).
        let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
        let granted = store::get(&mut conn, id)
            .await
            .map_err(ServiceError::from)?;
        drop(conn);
        if let Some(occupation) = granted.filter(|o| o.status == "granted") {
            match payment::canone_notice(&self.payments, &self.db, &occupation).await {
                Ok(notice) => response.payment_notice = Some(notice),
                Err(why) => response.payment_unavailable = why,
            }
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_occupation(
        &self,
        request: Request<RevokeOccupationRequest>,
    ) -> Result<Response<RevokeOccupationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = parse_id("occupation_id", &request.occupation_id)?;
        let reason = domain::required_text("reason", &request.reason, 500)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RevokeOccupationRequest {
            idempotency_key: String::new(),
            ..request
        };
        let municipality = context.municipality();
        let response = self
            .db
            .idempotent("suap.revoke_occupation", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let revoked = flow::revoke(uow, municipality, id, &reason).await?;
                    Ok(RevokeOccupationResponse {
                        occupation: Some(to_message(&revoked)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn renew_occupation(
        &self,
        request: Request<RenewOccupationRequest>,
    ) -> Result<Response<RenewOccupationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = parse_id("occupation_id", &request.occupation_id)?;
        let period = occ::parse_period(&request.start_date, &request.end_date)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RenewOccupationRequest {
            idempotency_key: String::new(),
            ..request
        };
        let municipality = context.municipality();
        let response = self
            .db
            .idempotent("suap.renew_occupation", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let renewal = flow::renew(uow, municipality, id, period).await?;
                    Ok(RenewOccupationResponse {
                        occupation: Some(to_message(&renewal)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_occupation(
        &self,
        request: Request<GetOccupationRequest>,
    ) -> Result<Response<GetOccupationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = parse_id("occupation_id", &request.get_ref().occupation_id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
        let occupation = store::get(&mut conn, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(SuapError::OccupationNotFound)
            .map_err(ServiceError::from)?;
        context.ensure_visible(occupation.municipality)?;
        Ok(Response::new(GetOccupationResponse {
            occupation: Some(to_message(&occupation)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_occupations(
        &self,
        request: Request<ListOccupationsRequest>,
    ) -> Result<Response<ListOccupationsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let mut filter = parse_filter(&request)?;
        if let Some(municipality) = filter.municipality {
            context.ensure_visible(municipality)?;
        }
        let page = request.page.unwrap_or_default();
        let size = match page.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        filter.limit = i64::from(size) + 1;
        if !page.page_token.is_empty() {
            filter.after = Some(parse_id("page.page_token", &page.page_token)?);
        }
        let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
        let mut found = store::list(&mut conn, &filter)
            .await
            .map_err(ServiceError::from)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let next_page_token = if found.len() > size {
            found.truncate(size);
            found.last().map(|o| o.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListOccupationsResponse {
            occupations: found.iter().map(to_message).collect(),
            page: Some(PageResponse { next_page_token }),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_tariffs(
        &self,
        request: Request<SetTariffsRequest>,
    ) -> Result<Response<SetTariffsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        context.require_role(&[Role::Admin])?;
        let request = request.into_inner();
        let mut table = parse_tariffs(&request)?;
        context.ensure_municipality(table.municipality)?;
        table.created_at = self.db.clock().now();
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = SetTariffsRequest {
            idempotency_key: String::new(),
            ..request
        };
        let response = self
            .db
            .idempotent("suap.set_occupation_tariffs", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let table = flow::set_tariffs(uow, table).await?;
                    Ok(SetTariffsResponse {
                        table: Some(tariffs_to_message(&table)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn list_tariffs(
        &self,
        request: Request<ListTariffsRequest>,
    ) -> Result<Response<ListTariffsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality: MunicipalityCode =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_visible(municipality)?;
        let year = (request.year != 0).then_some(request.year);
        let mut conn = self.db.pool().acquire().await.map_err(ServiceError::from)?;
        let tables = store::tariff_tables(&mut conn, municipality, year)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListTariffsResponse {
            tables: tables.iter().map(tariffs_to_message).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn quote_canone(
        &self,
        request: Request<QuoteCanoneRequest>,
    ) -> Result<Response<QuoteCanoneResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let input = QuoteInput::try_from(request.get_ref())?;
        context.ensure_visible(input.municipality)?;
        // A read-only unit of work, dropped (rolled back) after the quote: nothing stored.
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let canone = flow::quote(
            &mut uow,
            input.municipality,
            input.kind,
            input.zone_category,
            input.place.area_m2,
            input.period,
        )
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(QuoteCanoneResponse {
            canone: Some(canone_to_message(&canone)),
            area_m2: input.place.area_m2,
        }))
    }
}

fn parse_filter(request: &ListOccupationsRequest) -> Result<Filter, ServiceError> {
    let municipality =
        domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
    let street = request.street.trim();
    let bounds = match &request.bounds {
        None => None,
        Some(b) => {
            let sw = b.south_west.unwrap_or_default();
            let ne = b.north_east.unwrap_or_default();
            let ok = [sw.longitude, ne.longitude]
                .iter()
                .all(|x| (-180.0..=180.0).contains(x))
                && [sw.latitude, ne.latitude]
                    .iter()
                    .all(|y| (-90.0..=90.0).contains(y))
                && sw.longitude <= ne.longitude
                && sw.latitude <= ne.latitude;
            if !ok {
                return Err(ServiceError::invalid_field(
                    "bounds",
                    "angolo sud-ovest e nord-est in gradi / south-west and north-east corners in degrees",
                ));
            }
            Some((sw.longitude, sw.latitude, ne.longitude, ne.latitude))
        }
    };
    let from = if request.from_date.trim().is_empty() {
        None
    } else {
        Some(occ::parse_period(&request.from_date, "")?.start)
    };
    let to = if request.to_date.trim().is_empty() {
        None
    } else {
        let to = domain::parse_field::<jiff::civil::Date>("to_date", request.to_date.trim())?;
        if from.is_some_and(|from| to < from) {
            return Err(ServiceError::invalid_field(
                "to_date",
                "precede from_date / before from_date",
            ));
        }
        Some(to)
    };
    let mut statuses = Vec::new();
    for raw in &request.statuses {
        match OccupationStatus::try_from(*raw).ok().and_then(status_to_db) {
            Some(status) => statuses.push(status.to_owned()),
            None => {
                return Err(ServiceError::invalid_field(
                    "statuses",
                    "stato sconosciuto / unknown status",
                ));
            }
        }
    }
    Ok(Filter {
        municipality: Some(municipality),
        street: (!street.is_empty()).then(|| street.to_owned()),
        bounds,
        from,
        to,
        statuses,
        after: None,
        limit: i64::from(DEFAULT_PAGE),
    })
}

fn parse_tariffs(request: &SetTariffsRequest) -> Result<TariffTable, ServiceError> {
    let municipality =
        domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
    if !(2021..=2200).contains(&request.year) {
        return Err(ServiceError::invalid_field(
            "year",
            "dal 2021 (canone unico, L. 160/2019 c. 816) / from 2021 (canone unico)",
        ));
    }
    if !(1..=100_000_000).contains(&request.population) {
        return Err(ServiceError::invalid_field(
            "population",
            "deve essere positiva / must be positive",
        ));
    }
    if request.rates.is_empty() {
        return Err(ServiceError::invalid_field(
            "rates",
            "almeno una tariffa / at least one rate",
        ));
    }
    let mut rates: Vec<(i32, Kind, bool, Rate)> = Vec::with_capacity(request.rates.len());
    for (i, rate) in request.rates.iter().enumerate() {
        let zone = occ::parse_zone(&format!("rates[{i}].zone_category"), rate.zone_category)?;
        let kind = occ::parse_kind(&format!("rates[{i}].kind"), rate.kind)?;
        // Up to ×100: the law lets municipalities modulate, not multiply without bound.
        if !(1..=100_000).contains(&rate.coefficient_milli) {
            return Err(ServiceError::invalid_field(
                format!("rates[{i}].coefficient_milli"),
                "da 1 a 100000 millesimi / 1 to 100000 thousandths",
            ));
        }
        if !(0..=100).contains(&rate.reduction_percent) {
            return Err(ServiceError::invalid_field(
                format!("rates[{i}].reduction_percent"),
                "da 0 a 100 / 0 to 100",
            ));
        }
        if rates
            .iter()
            .any(|(z, k, p, _)| *z == zone && *k == kind && *p == rate.permanent)
        {
            return Err(ServiceError::invalid_field(
                format!("rates[{i}]"),
                "tariffa ripetuta per zona, tipo e durata / rate repeated for zone, kind and duration",
            ));
        }
        rates.push((
            zone,
            kind,
            rate.permanent,
            Rate {
                coefficient_milli: rate.coefficient_milli,
                reduction_percent: rate.reduction_percent,
            },
        ));
    }
    Ok(TariffTable {
        municipality,
        year: request.year,
        version: 0,
        population: request.population,
        standard: canone::standard_tariffs(request.population),
        rates,
        created_at: jiff::Timestamp::UNIX_EPOCH,
    })
}
