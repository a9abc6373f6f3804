//! Outgoing protocol entries (DPR 445/2000 art. 53 c. 5): the registry registers what it
//! sends — the 10-bis notice, the rejection and the communications a rejection requires
//! (DL 5/2012 art. 5 c. 4) — in routing's register. A seam of its own beside the intake:
//! the number is needed at once, so this stays a gRPC call when the intake's work moves
//! to events.
//!
//! Each entry's idempotency key is derived from what identifies the document (the
//! change, what it is, to whom, its content), so a step retried after a failure — a
//! transaction that rolled back, a timer fired again — gets the same entry, never a
//! second number for one document.

use futures::future::BoxFuture;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, PeerChannel, ServiceError};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        OutgoingKind, RegisterOutgoingRequest, protocol_service_client::ProtocolServiceClient,
    },
};
use uuid::Uuid;

/// A document the registry sends.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What it is.
    pub kind: OutgoingKind,
    /// To whom, as a reference (a requester_ref, an authority code).
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
    /// A document of change `change_id` whose content is `content`: its digest and its
    /// idempotency key come from the change, the kind, the recipient and the content.
    pub fn of_change(
        municipality: MunicipalityCode,
        change_id: &str,
        kind: OutgoingKind,
        recipient_ref: &str,
        subject: &str,
        content: &str,
    ) -> Self {
        let document = hex(&Sha256::digest(content.as_bytes()));
        let mut key = Sha256::new();
        for part in [
            change_id,
            kind.as_str_name(),
            recipient_ref,
            document.as_str(),
        ] {
            key.update((part.len() as u64).to_be_bytes());
            key.update(part.as_bytes());
        }
        let digest = key.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self {
            municipality,
            kind,
            recipient_ref: recipient_ref.to_owned(),
            subject: subject.to_owned(),
            document_sha256: document,
            channel: Channel::Pec,
            idempotency_key: uuid::Builder::from_random_bytes(bytes).into_uuid(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry routing gave a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEntry {
    /// Registration id in routing.
    pub id: String,
    /// The number as written on documents.
    pub number: String,
    /// When it was registered: the document's outgoing protocol date and time.
    pub registered_at: Timestamp,
}

/// Registers outgoing documents.
pub trait OutgoingRegister: Send + Sync + std::fmt::Debug + 'static {
    /// Registers `outgoing`, or returns the entry it already has.
    fn register<'a>(
        &'a self,
        context: &'a CallContext,
        outgoing: &'a Outgoing,
    ) -> BoxFuture<'a, Result<OutgoingEntry, ServiceError>>;
}

/// Routing's register over gRPC.
#[derive(Debug, Clone)]
pub struct RoutingRegister {
    channel: PeerChannel,
}

impl RoutingRegister {
    /// A client of routing over `channel`.
    pub fn new(channel: PeerChannel) -> Self {
        Self { channel }
    }
}

impl OutgoingRegister for RoutingRegister {
    fn register<'a>(
        &'a self,
        context: &'a CallContext,
        outgoing: &'a Outgoing,
    ) -> BoxFuture<'a, Result<OutgoingEntry, ServiceError>> {
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
                // Not named yet: the recipient is known by its reference only (issue 11
                // point 10 names the sender of incoming declarations first).
                recipient_name: String::new(),
            };
            let reply = ProtocolServiceClient::new(self.channel.clone())
                .register_outgoing(context.forwarded_by("registry").request(request))
                .await?;
            let registration = reply.into_inner().registration.ok_or_else(|| {
                ServiceError::internal(
                    "routing registered an outgoing document without answering it",
                )
            })?;
            let time = registration.register_time.ok_or_else(|| {
                ServiceError::internal("a protocol registration without its time")
            })?;
            let registered_at = Timestamp::new(time.seconds, time.nanos)
                .map_err(|e| ServiceError::internal(format!("protocol time: {e}")))?;
            Ok(OutgoingEntry {
                id: registration.id,
                number: registration.formatted_number,
                registered_at,
            })
        })
    }
}

/// No routing configured: UNAVAILABLE, saying why.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

impl OutgoingRegister for Unconfigured {
    fn register<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Outgoing,
    ) -> BoxFuture<'a, Result<OutgoingEntry, ServiceError>> {
        Box::pin(async {
            Err(ServiceError::new(
                ErrorKind::Unavailable,
                "il protocollo in uscita richiede routing / outgoing protocol entries need \
                 routing: ROUTING_URL is not set",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_document_gets_the_same_key_and_another_one_another() {
        let m: MunicipalityCode = "011015".parse().unwrap_or_else(|_| unreachable!());
        let of = |recipient: &str, content: &str| {
            Outgoing::of_change(
                m,
                "c1",
                OutgoingKind::Communication,
                recipient,
                "s",
                content,
            )
            .idempotency_key
        };
        assert_eq!(of("questura:SP", "x"), of("questura:SP", "x"));
        assert_ne!(of("questura:SP", "x"), of("istat:045003", "x"));
        assert_ne!(of("questura:SP", "x"), of("questura:SP", "y"));
    }
}
