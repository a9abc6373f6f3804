//! The intake seam: what a change of residence needs from routing synchronously — a
//! protocol number for the declaration, which intake needs at once — behind a trait of
//! the registry's own. The address check is not asked for here: it is handed to routing
//! as work over NATS (`super::work`). [`RoutingIntake`] calls routing over gRPC,
//! forwarding the caller's context; [`Unconfigured`] answers UNAVAILABLE when no
//! `ROUTING_URL` is set.

use futures::future::BoxFuture;
use jiff::Timestamp;
use sportello_kit::PeerChannel;
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, RequesterRef, ServiceError};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        IncomingKind, RegisterIncomingRequest, protocol_service_client::ProtocolServiceClient,
    },
};
use uuid::Uuid;

/// The catalogue code of the address check.
pub const CHECK_SERVICE: &str = "registry.residence_address_check";

/// The declaration to register.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Who declared.
    pub sender_ref: RequesterRef,
    /// Who declared, by name: the register names the sender (DPR 445/2000 art. 53 c. 1
    /// lett. c); routing keeps it sealed, for its protocol role only.
    pub sender_name: SenderName,
    /// The register's subject (no personal data).
    pub subject: String,
    /// SHA-256 of the document, hex.
    pub document_sha256: String,
    /// How it arrived.
    pub channel: Channel,
    /// Makes the call safe to repeat.
    pub idempotency_key: Uuid,
}

/// The declarant's name and surname as the register holds them. Its `Debug` shows
/// nothing, so a `Declaration` may be logged or traced without it.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderName(String);

impl SenderName {
    /// "Given names Surname", at most the 200 characters the protocol register takes.
    pub fn of(data: &crate::records::PersonData) -> Self {
        let name = format!("{} {}", data.given_names.trim(), data.surname.trim());
        Self(name.trim().chars().take(200).collect())
    }
}

impl std::fmt::Debug for SenderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderName(<redacted>)")
    }
}

/// A protocol registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolEntry {
    /// Its id in routing.
    pub id: String,
    /// The number as written on documents.
    pub number: String,
    /// When it was registered: the declaration's legal date.
    pub registered_at: Timestamp,
}

/// What a change of residence needs from routing.
pub trait Intake: Send + Sync + std::fmt::Debug + 'static {
    /// Registers the declaration in the protocol register.
    fn register_declaration<'a>(
        &'a self,
        context: &'a CallContext,
        declaration: &'a Declaration,
    ) -> BoxFuture<'a, Result<ProtocolEntry, ServiceError>>;
}

/// Routing over gRPC.
#[derive(Debug, Clone)]
pub struct RoutingIntake {
    channel: PeerChannel,
}

impl RoutingIntake {
    /// A client of routing over `channel` (it connects on first use, so the registry
    /// starts while routing is still starting).
    pub fn new(channel: PeerChannel) -> Self {
        Self { channel }
    }

    fn forwarded(context: &CallContext) -> CallContext {
        context.forwarded_by("registry")
    }
}

impl Intake for RoutingIntake {
    fn register_declaration<'a>(
        &'a self,
        context: &'a CallContext,
        declaration: &'a Declaration,
    ) -> BoxFuture<'a, Result<ProtocolEntry, ServiceError>> {
        Box::pin(async move {
            let request = RegisterIncomingRequest {
                municipality_istat_code: declaration.municipality.to_string(),
                kind: IncomingKind::Declaration as i32,
                sender_ref: declaration.sender_ref.to_string(),
                subject: declaration.subject.clone(),
                document_sha256: declaration.document_sha256.clone(),
                channel: declaration.channel as i32,
                // The check's case does not exist yet: routing opens it when it takes
                // the work request, and the work item carries this registration's id.
                case_id: String::new(),
                idempotency_key: declaration.idempotency_key.to_string(),
                sender_name: declaration.sender_name.0.clone(),
            };
            let reply = ProtocolServiceClient::new(self.channel.clone())
                .register_incoming(Self::forwarded(context).request(request))
                .await?;
            let registration = reply.into_inner().registration.ok_or_else(|| {
                ServiceError::internal("routing registered a declaration without answering it")
            })?;
            let time = registration.register_time.ok_or_else(|| {
                ServiceError::internal("a protocol registration without its time")
            })?;
            let registered_at = Timestamp::new(time.seconds, time.nanos)
                .map_err(|e| ServiceError::internal(format!("protocol time: {e}")))?;
            Ok(ProtocolEntry {
                id: registration.id,
                number: registration.formatted_number,
                registered_at,
            })
        })
    }
}

/// No routing configured: every intake is UNAVAILABLE, and says why.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

fn unconfigured() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        "changes of residence need routing's protocol register: ROUTING_URL is not set",
    )
}

impl Intake for Unconfigured {
    fn register_declaration<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Declaration,
    ) -> BoxFuture<'a, Result<ProtocolEntry, ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }
}
