//! `sportello.routing.v1.ProtocolService`.

use std::sync::Arc;

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, Role, ServiceError, domain,
    events::to_proto_timestamp,
};
use sportello_proto::routing::v1::{
    ExportRegisterRequest, ExportRegisterResponse, GetRegistrationRequest, GetRegistrationResponse,
    ProtocolRegistered, ProtocolVoided, RegisterIncomingRequest, RegisterIncomingResponse,
    RegisterOutgoingRequest, RegisterOutgoingResponse, Registration as RegistrationMessage,
    VoidRegistrationRequest, VoidRegistrationResponse, protocol_service_server::ProtocolService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    csv,
    domain::{Entry, Names, formatted_number},
    sealed::Keyring,
    store::{self, NameRead, Registration},
};
use crate::error::RoutingError;

/// The register's gRPC service.
#[derive(Debug, Clone)]
pub struct Register {
    db: Db,
    keys: Arc<Keyring>,
}

/// Whether the caller may read the correspondents' names: a person holding the protocol
/// role (DPR 445/2000 art. 53; the design's one exception to "personal data stays
/// home"). The municipality is checked by each read as for every caller.
fn reads_names(context: &CallContext) -> bool {
    context.has_any_role(&[Role::Protocollo])
}

fn name_read<'a>(context: &'a CallContext, action: &'static str) -> NameRead<'a> {
    NameRead {
        caller: context.caller(),
        actor: context.actor(),
        municipality: context.municipality(),
        purpose: context.purpose(),
        action,
    }
}

impl Register {
    /// Keeps the register in `db`, correspondents' names sealed with `keys`.
    pub fn new(db: Db, keys: Arc<Keyring>) -> Self {
        Self { db, keys }
    }

    async fn visible(&self, context: &CallContext, id: Uuid) -> Result<Registration, ServiceError> {
        let registration = store::get(self.db.pool(), id).await?;
        context.ensure_visible(registration.entry.municipality)?;
        Ok(registration)
    }

    /// One registration with its names, for the protocol role: read, opened and audited
    /// in one transaction, so no name is read without its audit row.
    async fn with_names(
        &self,
        context: &CallContext,
        id: Uuid,
    ) -> Result<(Registration, Names), ServiceError> {
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let registration = store::get(uow.conn(), id).await?;
        context.ensure_visible(registration.entry.municipality)?;
        let names = store::open_names(&self.keys, &registration).map_err(RoutingError::sealing)?;
        if registration.sealed.any() {
            store::audit_name_read(
                &mut uow,
                name_read(context, "registration.get"),
                &[registration.id],
            )
            .await?;
        }
        uow.commit().await.map_err(ServiceError::from)?;
        Ok((registration, names))
    }

    /// A day of the register with its names, for the protocol role, audited as
    /// [`Self::with_names`].
    async fn day_with_names(
        &self,
        context: &CallContext,
        municipality: &str,
        day: jiff::civil::Date,
    ) -> Result<(Vec<Registration>, Vec<Names>), ServiceError> {
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let registrations = store::day(uow.conn(), municipality, day).await?;
        let names = registrations
            .iter()
            .map(|r| store::open_names(&self.keys, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RoutingError::sealing)?;
        let named: Vec<Uuid> = registrations
            .iter()
            .filter(|r| r.sealed.any())
            .map(|r| r.id)
            .collect();
        if !named.is_empty() {
            store::audit_name_read(&mut uow, name_read(context, "register.export"), &named).await?;
        }
        uow.commit().await.map_err(ServiceError::from)?;
        Ok((registrations, names))
    }
}

fn aggregate_id(registration: &Registration) -> String {
    registration.id.to_string()
}

/// Registers `entry` and emits its event, in `uow`.
async fn register(
    uow: &mut sportello_kit::UnitOfWork,
    keys: &Keyring,
    entry: Entry,
) -> Result<Registration, ServiceError> {
    let registration = store::register(uow, keys, entry).await?;
    let id = aggregate_id(&registration);
    // The subject and the correspondents (references and names) stay out of the event:
    // they may name people.
    let event = ProtocolRegistered {
        registration_id: id.clone(),
        municipality_istat_code: registration.entry.municipality.to_string(),
        year: u32::try_from(registration.year).unwrap_or_default(),
        number: u64::try_from(registration.number).unwrap_or_default(),
        kind: registration.entry.kind.incoming() as i32,
        case_id: registration
            .entry
            .case_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        direction: registration.entry.kind.direction() as i32,
        outgoing_kind: registration.entry.kind.outgoing() as i32,
    };
    let aggregate = Aggregate {
        kind: "routing.registration",
        id: &id,
        version: 1,
        municipality: registration.entry.municipality,
    };
    uow.emit(&event, aggregate).await?;
    Ok(registration)
}

#[tonic::async_trait]
impl ProtocolService for Register {
    #[tracing::instrument(skip_all)]
    async fn register_incoming(
        &self,
        request: Request<RegisterIncomingRequest>,
    ) -> Result<Response<RegisterIncomingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let entry = Entry::try_from(&request)?;
        context.ensure_municipality(entry.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterIncomingRequest {
            idempotency_key: String::new(),
            ..request
        };

        let keys = self.keys.clone();
        let response = self
            .db
            .idempotent("routing.register_incoming", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let registration = register(uow, &keys, entry).await?;
                    Ok(RegisterIncomingResponse {
                        registration: Some(to_message(&registration)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn register_outgoing(
        &self,
        request: Request<RegisterOutgoingRequest>,
    ) -> Result<Response<RegisterOutgoingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let entry = Entry::outgoing(&request, context.caller())?;
        context.ensure_municipality(entry.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterOutgoingRequest {
            idempotency_key: String::new(),
            ..request
        };

        let keys = self.keys.clone();
        let response = self
            .db
            .idempotent("routing.register_outgoing", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let registration = register(uow, &keys, entry).await?;
                    Ok(RegisterOutgoingResponse {
                        registration: Some(to_message(&registration)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_registration(
        &self,
        request: Request<GetRegistrationRequest>,
    ) -> Result<Response<GetRegistrationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = domain::parse_field("registration_id", &request.get_ref().registration_id)?;
        let registration = if reads_names(&context) {
            let (registration, names) = self.with_names(&context, id).await?;
            with_names(to_message(&registration), &names)
        } else {
            to_message(&self.visible(&context, id).await?)
        };
        Ok(Response::new(GetRegistrationResponse {
            registration: Some(registration),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn void_registration(
        &self,
        request: Request<VoidRegistrationRequest>,
    ) -> Result<Response<VoidRegistrationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = domain::parse_field("registration_id", &request.registration_id)?;
        let reason = domain::required_text("reason", &request.reason, 500)?;
        // Art. 54: an annulment is authorised by the register's manager; its reference
        // is part of the record, so without it nothing is annulled.
        let authorisation = domain::required_text(
            "authorisation_reference",
            &request.authorisation_reference,
            200,
        )?;
        self.visible(&context, id).await?;

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let registration =
            store::void(&mut uow, id, context.actor(), &reason, &authorisation).await?;
        let aggregate_id = aggregate_id(&registration);
        let event = ProtocolVoided {
            registration_id: aggregate_id.clone(),
            municipality_istat_code: registration.entry.municipality.to_string(),
            year: u32::try_from(registration.year).unwrap_or_default(),
            number: u64::try_from(registration.number).unwrap_or_default(),
            authorisation_reference: authorisation,
        };
        let aggregate = Aggregate {
            kind: "routing.registration",
            id: &aggregate_id,
            version: 2,
            municipality: registration.entry.municipality,
        };
        uow.emit(&event, aggregate)
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(VoidRegistrationResponse {
            registration: Some(to_message(&registration)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn export_register(
        &self,
        request: Request<ExportRegisterRequest>,
    ) -> Result<Response<ExportRegisterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let day: jiff::civil::Date = request
            .day
            .parse()
            .map_err(|_| RoutingError::invalid("day", "must be a date, YYYY-MM-DD"))?;
        if reads_names(&context) {
            let (registrations, names) = self
                .day_with_names(&context, municipality.as_str(), day)
                .await?;
            return Ok(Response::new(ExportRegisterResponse {
                csv: csv::render(&registrations, Some(&names)),
                registrations: registrations
                    .iter()
                    .zip(&names)
                    .map(|(r, n)| with_names(to_message(r), n))
                    .collect(),
            }));
        }
        let registrations = store::day(self.db.pool(), municipality.as_str(), day).await?;
        Ok(Response::new(ExportRegisterResponse {
            csv: csv::render(&registrations, None),
            registrations: registrations.iter().map(to_message).collect(),
        }))
    }
}

/// A registration's message with its names: only for the protocol role, after the read
/// is audited.
fn with_names(mut message: RegistrationMessage, names: &Names) -> RegistrationMessage {
    let text = |name: &Option<super::domain::Name>| {
        name.as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default()
    };
    message.sender_name = text(&names.sender);
    message.recipient_name = text(&names.recipient);
    message
}

/// A registration as a message, without the names (which only [`with_names`] adds).
pub fn to_message(r: &Registration) -> RegistrationMessage {
    let annulment = r.voided.as_ref();
    RegistrationMessage {
        id: r.id.to_string(),
        municipality_istat_code: r.entry.municipality.to_string(),
        year: u32::try_from(r.year).unwrap_or_default(),
        number: u64::try_from(r.number).unwrap_or_default(),
        formatted_number: formatted_number(r.number),
        register_time: Some(to_proto_timestamp(r.registered_at)),
        kind: r.entry.kind.incoming() as i32,
        sender_ref: r.entry.sender_ref.clone(),
        subject: r.entry.subject.clone(),
        document_sha256: r.entry.document_sha256.clone(),
        channel: r.entry.channel as i32,
        case_id: r.entry.case_id.map(|c| c.to_string()).unwrap_or_default(),
        voided: annulment.is_some(),
        void_reason: annulment.map(|a| a.reason.clone()).unwrap_or_default(),
        void_time: annulment.map(|a| to_proto_timestamp(a.at)),
        direction: r.entry.kind.direction() as i32,
        outgoing_kind: r.entry.kind.outgoing() as i32,
        recipient_ref: r.entry.recipient_ref.clone().unwrap_or_default(),
        voided_by: annulment.and_then(|a| a.by.clone()).unwrap_or_default(),
        void_authorisation_reference: annulment
            .and_then(|a| a.authorisation.clone())
            .unwrap_or_default(),
        sender_name: String::new(),
        recipient_name: String::new(),
    }
}
