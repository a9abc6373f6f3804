//! The protocol register as a department sees it: every incoming document is registered
//! once (DPR 445/2000 art. 53), and so is every outgoing one (c. 5), in routing's
//! register, over gRPC — the number is needed at once. One seam for every department
//! (SUAP, education, mobility, URP): [`RoutingProtocol`] calls routing, forwarding the
//! caller's context; [`Unconfigured`] answers UNAVAILABLE, saying what to set.
//!
//! Idempotency keys are derived from what identifies the document ([`document_key`]), so
//! a step retried after a failure — a transaction rolled back, a timer fired again — gets
//! the same entry, never a second number for one document.

use futures::future::BoxFuture;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        IncomingKind, OutgoingKind, RegisterIncomingRequest, RegisterOutgoingRequest, Registration,
        protocol_service_client::ProtocolServiceClient,
    },
};
use uuid::Uuid;

use crate::{CallContext, ErrorKind, MunicipalityCode, PeerChannel, ServiceError};

/// A document received.
#[derive(Clone)]
pub struct Incoming {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What it is.
    pub kind: IncomingKind,
    /// Who sent it, as a reference (a requester_ref, a body's code), or empty.
    pub sender_ref: String,
    /// Who sent it, by name (art. 53 c. 1 lett. c): routing keeps it sealed for its
    /// protocol role; empty when unknown. Never shown by `Debug`.
    pub sender_name: String,
    /// Subject, without personal data.
    pub subject: String,
    /// SHA-256 of the document, lowercase hex.
    pub document_sha256: String,
    /// How it arrived.
    pub channel: Channel,
    /// Makes the registration safe to repeat.
    pub idempotency_key: Uuid,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("municipality", &self.municipality)
            .field("kind", &self.kind)
            .field("sender_ref", &self.sender_ref)
            .field("subject", &self.subject)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// A document sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What it is.
    pub kind: OutgoingKind,
    /// To whom, as a reference (a requester_ref, a body's code such as `asl:SP`).
    pub recipient_ref: String,
    /// Subject, without personal data.
    pub subject: String,
    /// SHA-256 of the document, lowercase hex.
    pub document_sha256: String,
    /// How it is sent.
    pub channel: Channel,
    /// Makes the registration safe to repeat.
    pub idempotency_key: Uuid,
}

impl Outgoing {
    /// A document of procedure `procedure_id` whose content is `content`: its digest,
    /// and an idempotency key from the procedure, the kind, the recipient and the
    /// content (the same document always gets the same key).
    pub fn of_procedure(
        municipality: MunicipalityCode,
        procedure_id: &str,
        kind: OutgoingKind,
        recipient_ref: &str,
        subject: &str,
        content: &str,
    ) -> Self {
        let document = sha256_hex(content.as_bytes());
        let idempotency_key = document_key(&[
            procedure_id,
            kind.as_str_name(),
            recipient_ref,
            document.as_str(),
        ]);
        Self {
            municipality,
            kind,
            recipient_ref: recipient_ref.to_owned(),
            subject: subject.to_owned(),
            document_sha256: document,
            channel: Channel::Pec,
            idempotency_key,
        }
    }
}

/// A UUID derived from `parts` (each length-prefixed, so `["ab", "c"]` and `["a", "bc"]`
/// differ): the idempotency key of a document identified by them.
pub fn document_key(parts: &[&str]) -> Uuid {
    let mut key = Sha256::new();
    for part in parts {
        key.update((part.len() as u64).to_be_bytes());
        key.update(part.as_bytes());
    }
    let digest = key.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entry routing gave a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Registration id in routing.
    pub id: String,
    /// The number as written on documents.
    pub number: String,
    /// When it was registered: the document's legal date and time.
    pub registered_at: Timestamp,
}

/// The protocol register.
pub trait ProtocolRegister: Send + Sync + std::fmt::Debug + 'static {
    /// Registers a document received, or returns the entry it already has.
    fn register_incoming<'a>(
        &'a self,
        context: &'a CallContext,
        incoming: &'a Incoming,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>>;

    /// Registers a document sent, or returns the entry it already has.
    fn register_outgoing<'a>(
        &'a self,
        context: &'a CallContext,
        outgoing: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>>;
}

/// Routing's register over gRPC, called on behalf of `service`.
#[derive(Debug, Clone)]
pub struct RoutingProtocol {
    channel: PeerChannel,
    service: &'static str,
}

impl RoutingProtocol {
    /// A client of routing over `channel` (it connects on first use, so the department
    /// starts while routing is still starting), forwarding as `service`.
    pub fn new(channel: PeerChannel, service: &'static str) -> Self {
        Self { channel, service }
    }
}

fn entry(registration: Option<Registration>) -> Result<Entry, ServiceError> {
    let registration = registration
        .ok_or_else(|| ServiceError::internal("routing registered a document without answering"))?;
    let time = registration
        .register_time
        .ok_or_else(|| ServiceError::internal("a protocol registration without its time"))?;
    let registered_at = Timestamp::new(time.seconds, time.nanos)
        .map_err(|e| ServiceError::internal(format!("protocol time: {e}")))?;
    Ok(Entry {
        id: registration.id,
        number: registration.formatted_number,
        registered_at,
    })
}

impl ProtocolRegister for RoutingProtocol {
    fn register_incoming<'a>(
        &'a self,
        context: &'a CallContext,
        incoming: &'a Incoming,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>> {
        Box::pin(async move {
            let request = RegisterIncomingRequest {
                municipality_istat_code: incoming.municipality.to_string(),
                kind: incoming.kind as i32,
                sender_ref: incoming.sender_ref.clone(),
                subject: incoming.subject.clone(),
                document_sha256: incoming.document_sha256.clone(),
                channel: incoming.channel as i32,
                // The work's case does not exist yet: routing opens it when it takes the
                // work request, which carries this registration's id.
                case_id: String::new(),
                idempotency_key: incoming.idempotency_key.to_string(),
                sender_name: incoming.sender_name.clone(),
            };
            let reply = ProtocolServiceClient::new(self.channel.clone())
                .register_incoming(context.forwarded_by(self.service).request(request))
                .await?;
            entry(reply.into_inner().registration)
        })
    }

    fn register_outgoing<'a>(
        &'a self,
        context: &'a CallContext,
        outgoing: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>> {
        Box::pin(async move {
            let request = RegisterOutgoingRequest {
                municipality_istat_code: outgoing.municipality.to_string(),
                kind: outgoing.kind as i32,
                recipient_ref: outgoing.recipient_ref.clone(),
                subject: outgoing.subject.clone(),
                document_sha256: outgoing.document_sha256.clone(),
                channel: outgoing.channel as i32,
                case_id: String::new(),
                idempotency_key: outgoing.idempotency_key.to_string(),
                recipient_name: String::new(),
            };
            let reply = ProtocolServiceClient::new(self.channel.clone())
                .register_outgoing(context.forwarded_by(self.service).request(request))
                .await?;
            entry(reply.into_inner().registration)
        })
    }
}

/// No routing configured: UNAVAILABLE, saying why.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

fn unconfigured() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        "il protocollo richiede routing: ROUTING_URL non è impostato / the protocol register \
         needs routing: ROUTING_URL is not set",
    )
}

impl ProtocolRegister for Unconfigured {
    fn register_incoming<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Incoming,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }

    fn register_outgoing<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Entry, ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_document_gets_the_same_key_and_another_one_another() {
        assert_eq!(document_key(&["a", "b"]), document_key(&["a", "b"]));
        assert_ne!(document_key(&["ab", "c"]), document_key(&["a", "bc"]));
        assert_ne!(document_key(&["a", "b"]), document_key(&["a", "c"]));
    }

    #[test]
    fn a_senders_name_never_shows_in_debug() {
        let incoming = Incoming {
            municipality: "011015".parse().unwrap_or_else(|_| unreachable!()),
            kind: IncomingKind::Scia,
            sender_ref: String::new(),
            sender_name: "Mario Rossi".into(),
            subject: "s".into(),
            document_sha256: sha256_hex(b"x"),
            channel: Channel::Counter,
            idempotency_key: Uuid::nil(),
        };
        assert!(!format!("{incoming:?}").contains("Rossi"));
    }
}
