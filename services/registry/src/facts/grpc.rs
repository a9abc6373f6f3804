//! `sportello.registry.v1.FactService`.

use sportello_kit::{CallContext, MunicipalityCode, ServiceError, domain as kit};
use sportello_proto::registry::v1::{
    FamilyMember, FamilyMembersRequest, FamilyMembersResponse, IsResidentRequest,
    IsResidentResponse, PersonKey as PersonKeyMessage, ResidesInAreaRequest, ResidesInAreaResponse,
    fact_service_server::FactService, person_key::Key,
};
use tonic::{Request, Response, Status};

use super::area;
use crate::{
    audit::{Access, RecordKind},
    domain::{ResidentStatus, parse_day},
    error::RegistryError,
    residents::domain::parse_fiscal_code,
    source::PersonKey,
    state::Registry,
};

/// The facts' gRPC service.
#[derive(Debug, Clone)]
pub struct Facts {
    registry: Registry,
}

impl Facts {
    /// Answers from `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

/// Parses the `person` field; returns the key and the name of the field that carried it.
fn parse_person(
    message: Option<&PersonKeyMessage>,
    municipality: MunicipalityCode,
) -> Result<(PersonKey, &'static str), ServiceError> {
    match message.and_then(|m| m.key.as_ref()) {
        Some(Key::RequesterRef(raw)) => {
            let field = "person.requester_ref";
            Ok((
                PersonKey::RequesterRef(kit::parse_field(field, raw.trim())?),
                field,
            ))
        }
        Some(Key::FiscalCode(raw)) => {
            let field = "person.fiscal_code";
            Ok((
                PersonKey::FiscalCode(municipality, parse_fiscal_code(field, raw)?),
                field,
            ))
        }
        None => Err(ServiceError::invalid_field(
            "person",
            "is required: a requester_ref or a fiscal_code",
        )),
    }
}

fn parse_municipality(context: &CallContext, raw: &str) -> Result<MunicipalityCode, ServiceError> {
    let municipality: MunicipalityCode = kit::parse_field("municipality_istat_code", raw)?;
    context.ensure_municipality(municipality)?;
    Ok(municipality)
}

#[tonic::async_trait]
impl FactService for Facts {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn is_resident(
        &self,
        request: Request<IsResidentRequest>,
    ) -> Result<Response<IsResidentResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let municipality = parse_municipality(&context, &request.municipality_istat_code)?;
        let (key, field) = parse_person(request.person.as_ref(), municipality)?;
        let on = parse_day("on_date", &request.on_date, self.registry.today())?;
        let person = self.registry.find_person(&context, &key, on, field).await?;
        self.registry
            .audit(
                &context,
                Access {
                    action: "fact.is_resident",
                    record_kind: RecordKind::Resident,
                    record_id: person.id.0,
                    disclosed: &[person.id],
                },
            )
            .await?;
        let resident = person
            .state
            .is_some_and(|s| s.status == ResidentStatus::Resident);
        Ok(Response::new(IsResidentResponse {
            resident,
            resident_id: if resident {
                person.id.0.to_string()
            } else {
                String::new()
            },
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn family_members(
        &self,
        request: Request<FamilyMembersRequest>,
    ) -> Result<Response<FamilyMembersResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let municipality = parse_municipality(&context, &request.municipality_istat_code)?;
        let (key, field) = parse_person(request.person.as_ref(), municipality)?;
        let on = parse_day("on_date", &request.on_date, self.registry.today())?;
        let person = self.registry.find_person(&context, &key, on, field).await?;
        let home = person
            .state
            .as_ref()
            .and_then(|s| s.home.as_ref())
            .ok_or_else(|| {
                RegistryError::Precondition(format!(
                    "{field}: the person was not resident on that day, so has no family"
                ))
            })?;
        let family = self
            .registry
            .source
            .family(home.family_id, on)
            .await
            .map_err(ServiceError::from)?
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        self.registry
            .audit(
                &context,
                Access {
                    action: "fact.family_members",
                    record_kind: RecordKind::Family,
                    record_id: family.id.0,
                    disclosed: &family.member_ids(),
                },
            )
            .await?;
        let members = family
            .members
            .iter()
            .filter_map(|m| {
                let relationship = m.state.as_ref()?.home.as_ref()?.relationship;
                Some(FamilyMember {
                    requester_ref: m.requester_ref.to_string(),
                    relationship: relationship.to_proto() as i32,
                })
            })
            .collect();
        Ok(Response::new(FamilyMembersResponse { members }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn resides_in_area(
        &self,
        request: Request<ResidesInAreaRequest>,
    ) -> Result<Response<ResidesInAreaResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let municipality = parse_municipality(&context, &request.municipality_istat_code)?;
        let (key, field) = parse_person(request.person.as_ref(), municipality)?;
        let on = parse_day("on_date", &request.on_date, self.registry.today())?;
        let stretches = area::parse(&request.area)?;
        let person = self.registry.find_person(&context, &key, on, field).await?;
        let home = person
            .state
            .as_ref()
            .filter(|s| s.status == ResidentStatus::Resident)
            .and_then(|s| s.home.as_ref());
        // The answer names the person's family too: the audit says so.
        let mut disclosed = vec![person.id];
        if let Some(home) = home
            && let Some(family) = self
                .registry
                .source
                .family(home.family_id, on)
                .await
                .map_err(ServiceError::from)?
        {
            disclosed = family.member_ids();
        }
        self.registry
            .audit(
                &context,
                Access {
                    action: "fact.resides_in_area",
                    record_kind: RecordKind::Resident,
                    record_id: person.id.0,
                    disclosed: &disclosed,
                },
            )
            .await?;
        Ok(Response::new(match home {
            Some(home) => ResidesInAreaResponse {
                resident: true,
                in_area: area::covers(&stretches, &home.address),
                resident_id: person.id.0.to_string(),
                family_id: home.family_id.0.to_string(),
            },
            None => ResidesInAreaResponse::default(),
        }))
    }
}
