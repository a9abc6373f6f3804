//! `sportello.suap.v1.BusinessService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Address,
    suap::v1::{
        Business as BusinessMessage, BusinessRegistered, GetBusinessRequest, GetBusinessResponse,
        LookupBusinessRequest, LookupBusinessResponse, RegisterBusinessRequest,
        RegisterBusinessResponse, UpdateBusinessRequest, UpdateBusinessResponse,
        business_service_server::BusinessService,
    },
};
use tonic::{Request, Response, Status};

use sportello_kit::{ErrorKind, MunicipalityCode, domain};
use sportello_pa::PartitaIva;
use uuid::Uuid;

use super::{domain::NewBusiness, flow, store};

/// The businesses' gRPC service.
#[derive(Debug, Clone)]
pub struct Businesses {
    db: Db,
}

impl Businesses {
    /// Serves businesses from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl BusinessService for Businesses {
    #[tracing::instrument(skip_all)]
    async fn register_business(
        &self,
        request: Request<RegisterBusinessRequest>,
    ) -> Result<Response<RegisterBusinessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let business = NewBusiness::try_from(&request)?;
        context.ensure_municipality(business.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterBusinessRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("suap.register_business", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let saved = store::insert(uow, business)
                        .await
                        .map_err(ServiceError::from)?;
                    let id = saved.id.to_string();
                    // A sole trader's name and VAT number identify a person: ids only.
                    let event = BusinessRegistered {
                        business_id: id.clone(),
                        municipality_istat_code: saved.business.municipality.to_string(),
                        ateco_code: saved.business.ateco_code.clone(),
                    };
                    let aggregate = Aggregate {
                        kind: "suap.business",
                        id: &id,
                        version: saved.version,
                        municipality: saved.business.municipality,
                    };
                    uow.emit(&event, aggregate).await?;
                    Ok(RegisterBusinessResponse {
                        business: Some(to_message(&saved)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn update_business(
        &self,
        request: Request<UpdateBusinessRequest>,
    ) -> Result<Response<UpdateBusinessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = Uuid::parse_str(request.business_id.trim()).map_err(|_| {
            ServiceError::invalid_field("business_id", "non è un UUID / is not a UUID")
        })?;
        let current = self
            .found(&context, store::Find::Id(id), "business_id")
            .await?;
        // Parsed as a registration of the same VAT number: the same checks, the same
        // field names.
        let changed = NewBusiness::try_from(&RegisterBusinessRequest {
            municipality_istat_code: current.municipality_istat_code.clone(),
            vat_number: current.vat_number.clone(),
            legal_name: request.legal_name,
            ateco_code: request.ateco_code,
            registered_office: request.registered_office,
            idempotency_key: String::new(),
        })?;
        let saved = flow::update(&self.db, id, request.version, changed).await?;
        Ok(Response::new(UpdateBusinessResponse {
            business: Some(to_message(&saved)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_business(
        &self,
        request: Request<GetBusinessRequest>,
    ) -> Result<Response<GetBusinessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = Uuid::parse_str(request.get_ref().business_id.trim()).map_err(|_| {
            ServiceError::invalid_field("business_id", "non è un UUID / is not a UUID")
        })?;
        let business = self
            .found(&context, store::Find::Id(id), "business_id")
            .await?;
        Ok(Response::new(GetBusinessResponse {
            business: Some(business),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn lookup_business(
        &self,
        request: Request<LookupBusinessRequest>,
    ) -> Result<Response<LookupBusinessResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality: MunicipalityCode =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let vat_number: PartitaIva = domain::parse_field("vat_number", request.vat_number.trim())?;
        let business = self
            .found(
                &context,
                store::Find::VatNumber(municipality, vat_number.as_str()),
                "vat_number",
            )
            .await?;
        Ok(Response::new(LookupBusinessResponse {
            business: Some(business),
        }))
    }
}

impl Businesses {
    /// The business `find` names, in the caller's municipality, or NOT_FOUND naming
    /// `field`.
    async fn found(
        &self,
        context: &CallContext,
        find: store::Find<'_>,
        field: &str,
    ) -> Result<BusinessMessage, ServiceError> {
        let found = store::find(self.db.pool(), find).await?;
        match found {
            Some(saved)
                if context
                    .ensure_municipality(saved.business.municipality)
                    .is_ok() =>
            {
                Ok(to_message(&saved))
            }
            _ => Err(ServiceError::new(
                ErrorKind::NotFound,
                format!(
                    "nessuna impresa registrata con questo {field} / no business registered \
                     with this {field}"
                ),
            )),
        }
    }
}

fn to_message(saved: &store::Business) -> BusinessMessage {
    let b = &saved.business;
    BusinessMessage {
        id: saved.id.to_string(),
        municipality_istat_code: b.municipality.to_string(),
        vat_number: b.vat_number.as_str().to_owned(),
        legal_name: b.legal_name.clone(),
        ateco_code: b.ateco_code.clone(),
        registered_office: Some(Address {
            street_name: b.street_name.clone(),
            house_number: b.house_number.clone(),
            postal_code: b.postal_code.clone(),
            municipality_istat_code: b.office_municipality.to_string(),
            ..Default::default()
        }),
        version: u64::try_from(saved.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(saved.created_at)),
    }
}
