//! `sportello.registry.v1.ResidentService`.

use sportello_kit::{Aggregate, CallContext, IdempotencyKey, ServiceError, domain as kit};
use sportello_proto::registry::v1::{
    ChangeResidentStatusRequest, ChangeResidentStatusResponse, GetFamilyRequest, GetFamilyResponse,
    GetResidentByFiscalCodeRequest, GetResidentByFiscalCodeResponse,
    GetResidentByRequesterRefRequest, GetResidentByRequesterRefResponse, GetResidentHistoryRequest,
    GetResidentHistoryResponse, GetResidentRequest, GetResidentResponse, RegisterResidentRequest,
    RegisterResidentResponse, ResidentRegistered, ResidentStatusChanged,
    resident_service_server::ResidentService,
};
use tonic::{Request, Response, Status};

use super::{
    domain::{NewResident, StatusChange, parse_fiscal_code},
    message::{family_message, resident_message},
    store,
};
use crate::{
    audit::{Access, RecordKind},
    domain::{FamilyId, ResidentId, parse_day},
    error::RegistryError,
    records::Person,
    source::PersonKey,
    state::Registry,
};

/// The residents' gRPC service.
#[derive(Debug, Clone)]
pub struct Residents {
    registry: Registry,
}

impl Residents {
    /// Serves residents from `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// A person read for `action`: must have a state on the day asked, audited, then
    /// answered.
    async fn answer(
        &self,
        context: &CallContext,
        action: &'static str,
        person: Person,
        field: &'static str,
    ) -> Result<sportello_proto::registry::v1::Resident, ServiceError> {
        if person.state.is_none() {
            return Err(RegistryError::NotFound {
                field,
                what: "the person was not in the register on that day",
            }
            .into());
        }
        self.registry
            .audit(
                context,
                Access {
                    action,
                    record_kind: RecordKind::Resident,
                    record_id: person.id.0,
                    disclosed: &[person.id],
                },
            )
            .await?;
        Ok(resident_message(&person))
    }
}

fn context_of<T>(request: &Request<T>) -> Result<CallContext, Status> {
    let context = CallContext::of(request)?.clone();
    tracing::Span::current().record("caller", context.caller());
    Ok(context)
}

#[tonic::async_trait]
impl ResidentService for Residents {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn register_resident(
        &self,
        request: Request<RegisterResidentRequest>,
    ) -> Result<Response<RegisterResidentResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let new = NewResident::parse(&request, self.registry.today())?;
        context.ensure_municipality(new.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterResidentRequest {
            idempotency_key: String::new(),
            ..request
        };
        let pseudonym_key = self.registry.pseudonym_key.clone();
        let response = self
            .registry
            .db
            .idempotent("registry.register_resident", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let person = store::register(uow, &pseudonym_key, &new).await?;
                    let id = person.id.to_string();
                    let family_id = person
                        .state
                        .as_ref()
                        .and_then(|s| s.home.as_ref())
                        .map(|h| h.family_id.to_string())
                        .unwrap_or_default();
                    uow.emit(
                        &ResidentRegistered {
                            resident_id: id.clone(),
                            requester_ref: person.requester_ref.to_string(),
                            family_id,
                            effective_date: new.effective_date.to_string(),
                        },
                        Aggregate {
                            kind: "registry.resident",
                            id: &id,
                            version: person.version,
                            municipality: person.municipality,
                        },
                    )
                    .await?;
                    Ok(RegisterResidentResponse {
                        resident: Some(resident_message(&person)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_resident(
        &self,
        request: Request<GetResidentRequest>,
    ) -> Result<Response<GetResidentResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let id = ResidentId::parse("resident_id", &request.resident_id)?;
        let on = parse_day("as_of", &request.as_of, self.registry.today())?;
        let person = self
            .registry
            .find_person(&context, &PersonKey::Id(id), on, "resident_id")
            .await?;
        let resident = self
            .answer(&context, "resident.get", person, "as_of")
            .await?;
        Ok(Response::new(GetResidentResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_resident_by_fiscal_code(
        &self,
        request: Request<GetResidentByFiscalCodeRequest>,
    ) -> Result<Response<GetResidentByFiscalCodeResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let municipality =
            kit::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let code = parse_fiscal_code("fiscal_code", &request.fiscal_code)?;
        let key = PersonKey::FiscalCode(municipality, code);
        let person = self
            .registry
            .find_person(&context, &key, self.registry.today(), "fiscal_code")
            .await?;
        let resident = self
            .answer(
                &context,
                "resident.get_by_fiscal_code",
                person,
                "fiscal_code",
            )
            .await?;
        Ok(Response::new(GetResidentByFiscalCodeResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_resident_by_requester_ref(
        &self,
        request: Request<GetResidentByRequesterRefRequest>,
    ) -> Result<Response<GetResidentByRequesterRefResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let reference = kit::parse_field("requester_ref", request.requester_ref.trim())?;
        let person = self
            .registry
            .find_person(
                &context,
                &PersonKey::RequesterRef(reference),
                self.registry.today(),
                "requester_ref",
            )
            .await?;
        let resident = self
            .answer(
                &context,
                "resident.get_by_requester_ref",
                person,
                "requester_ref",
            )
            .await?;
        Ok(Response::new(GetResidentByRequesterRefResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_resident_history(
        &self,
        request: Request<GetResidentHistoryRequest>,
    ) -> Result<Response<GetResidentHistoryResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let id = ResidentId::parse("resident_id", &request.resident_id)?;
        let history = self
            .registry
            .source
            .history(id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(RegistryError::NotFound {
                field: "resident_id",
                what: "no person with this id in the register",
            })?;
        context.ensure_municipality(history.person.municipality)?;
        self.registry
            .audit(
                &context,
                Access {
                    action: "resident.history",
                    record_kind: RecordKind::Resident,
                    record_id: id.0,
                    disclosed: &[id],
                },
            )
            .await?;
        let versions = history
            .states
            .into_iter()
            .map(|state| {
                resident_message(&Person {
                    state: Some(state),
                    ..history.person.clone()
                })
            })
            .collect();
        Ok(Response::new(GetResidentHistoryResponse { versions }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_family(
        &self,
        request: Request<GetFamilyRequest>,
    ) -> Result<Response<GetFamilyResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let id = FamilyId::parse("family_id", &request.family_id)?;
        let on = parse_day("as_of", &request.as_of, self.registry.today())?;
        let family = self
            .registry
            .source
            .family(id, on)
            .await
            .map_err(ServiceError::from)?
            .filter(|f| !f.members.is_empty())
            .ok_or(RegistryError::NotFound {
                field: "family_id",
                what: "no family with this id had members on that day",
            })?;
        context.ensure_municipality(family.municipality)?;
        self.registry
            .audit(
                &context,
                Access {
                    action: "family.get",
                    record_kind: RecordKind::Family,
                    record_id: id.0,
                    disclosed: &family.member_ids(),
                },
            )
            .await?;
        Ok(Response::new(GetFamilyResponse {
            family: Some(family_message(&family)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn change_resident_status(
        &self,
        request: Request<ChangeResidentStatusRequest>,
    ) -> Result<Response<ChangeResidentStatusResponse>, Status> {
        let context = context_of(&request)?;
        let request = request.into_inner();
        let municipality = context.municipality();
        let change = StatusChange::parse(&request, municipality, self.registry.today())?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = ChangeResidentStatusRequest {
            idempotency_key: String::new(),
            ..request
        };
        let response = self
            .registry
            .db
            .idempotent(
                "registry.change_resident_status",
                key,
                &fingerprint,
                |uow| {
                    Box::pin(async move {
                        let changed = store::change_status(uow, municipality, &change).await?;
                        let id = changed.person.id.to_string();
                        uow.emit(
                            &ResidentStatusChanged {
                                resident_id: id.clone(),
                                requester_ref: changed.person.requester_ref.to_string(),
                                status: change.departure.status().to_proto() as i32,
                                effective_date: change.effective_date.to_string(),
                                family_id: changed
                                    .family_id
                                    .map(|f| f.to_string())
                                    .unwrap_or_default(),
                                new_head_id: changed
                                    .new_head
                                    .map(|h| h.to_string())
                                    .unwrap_or_default(),
                            },
                            Aggregate {
                                kind: "registry.resident",
                                id: &id,
                                version: changed.person.version,
                                municipality,
                            },
                        )
                        .await?;
                        Ok(ChangeResidentStatusResponse {
                            resident: Some(resident_message(&changed.person)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }
}
