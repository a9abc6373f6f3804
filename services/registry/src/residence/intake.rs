//! The intake seam: what a change of residence needs from routing — a protocol number for
//! the declaration, a tier-4 case for the address check, and closing that case — behind
//! a trait of the registry's own, so the registry's procedure does not depend on how
//! routing is reached. [`RoutingIntake`] calls routing over gRPC, forwarding the caller's
//! context; [`Unconfigured`] answers UNAVAILABLE when no `ROUTING_URL` is set.

use futures::future::BoxFuture;
use jiff::Timestamp;
use sportello_kit::PeerChannel;
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, RequesterRef, ServiceError};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        CancelCaseRequest, CaseStatus, CloseCaseRequest, GetCaseRequest, IncomingKind,
        OpenCaseRequest, RegisterIncomingRequest, Tier, VoidRegistrationRequest,
        case_service_client::CaseServiceClient, protocol_service_client::ProtocolServiceClient,
    },
};
use uuid::Uuid;

/// The catalogue code of the address check.
pub const CHECK_SERVICE: &str = "registry.residence_address_check";

/// The address check to open.
#[derive(Debug, Clone)]
pub struct CheckCase {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Who declared.
    pub requester_ref: RequesterRef,
    /// How the declaration arrived.
    pub channel: Channel,
    /// Where, for counter and appointment declarations.
    pub site_id: Option<Uuid>,
    /// Makes the call safe to repeat.
    pub idempotency_key: Uuid,
}

/// The declaration to register.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Who declared.
    pub sender_ref: RequesterRef,
    /// The register's subject (no personal data).
    pub subject: String,
    /// SHA-256 of the document, hex.
    pub document_sha256: String,
    /// How it arrived.
    pub channel: Channel,
    /// The check's case.
    pub case_id: String,
    /// Makes the call safe to repeat.
    pub idempotency_key: Uuid,
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
    /// Opens the tier-4 address check. Returns the case id.
    fn open_check<'a>(
        &'a self,
        context: &'a CallContext,
        check: &'a CheckCase,
    ) -> BoxFuture<'a, Result<String, ServiceError>>;

    /// Registers the declaration in the protocol register.
    fn register_declaration<'a>(
        &'a self,
        context: &'a CallContext,
        declaration: &'a Declaration,
    ) -> BoxFuture<'a, Result<ProtocolEntry, ServiceError>>;

    /// Closes the check's case with an outcome. Closing a case that is closed already
    /// succeeds (the call may be repeated after a lost reply).
    fn close_check<'a>(
        &'a self,
        context: &'a CallContext,
        case_id: &'a str,
        outcome: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;

    /// Undoes an intake whose local recording failed: cancels the case and voids the
    /// registration (best effort; each with its reason).
    fn withdraw<'a>(
        &'a self,
        context: &'a CallContext,
        case_id: &'a str,
        registration_id: Option<&'a str>,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
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
    fn open_check<'a>(
        &'a self,
        context: &'a CallContext,
        check: &'a CheckCase,
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let request = OpenCaseRequest {
                municipality_istat_code: check.municipality.to_string(),
                service_code: CHECK_SERVICE.to_owned(),
                channel: check.channel as i32,
                site_id: check.site_id.map(|s| s.to_string()).unwrap_or_default(),
                requester_ref: check.requester_ref.to_string(),
                priority_category: 0,
                idempotency_key: check.idempotency_key.to_string(),
                tier: Tier::BackOffice as i32,
            };
            let reply = CaseServiceClient::new(self.channel.clone())
                .open_case(Self::forwarded(context).request(request))
                .await?;
            reply
                .into_inner()
                .case
                .map(|c| c.id)
                .ok_or_else(|| ServiceError::internal("routing opened a case without answering it"))
        })
    }

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
                case_id: declaration.case_id.clone(),
                idempotency_key: declaration.idempotency_key.to_string(),
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

    fn close_check<'a>(
        &'a self,
        context: &'a CallContext,
        case_id: &'a str,
        outcome: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let mut cases = CaseServiceClient::new(self.channel.clone());
            let context = Self::forwarded(context);
            let closed = cases
                .close_case(context.request(CloseCaseRequest {
                    case_id: case_id.to_owned(),
                    outcome_code: outcome.to_owned(),
                    reason: reason.to_owned(),
                }))
                .await;
            match closed {
                Ok(_) => Ok(()),
                // Closed already (an earlier attempt whose reply was lost)? Ask.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                    let case = cases
                        .get_case(context.request(GetCaseRequest {
                            case_id: case_id.to_owned(),
                        }))
                        .await?
                        .into_inner()
                        .case;
                    let done = case.is_some_and(|c| {
                        matches!(
                            CaseStatus::try_from(c.status),
                            Ok(CaseStatus::Completed | CaseStatus::Cancelled)
                        )
                    });
                    if done { Ok(()) } else { Err(status.into()) }
                }
                Err(status) => Err(status.into()),
            }
        })
    }

    fn withdraw<'a>(
        &'a self,
        context: &'a CallContext,
        case_id: &'a str,
        registration_id: Option<&'a str>,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let context = Self::forwarded(context);
            CaseServiceClient::new(self.channel.clone())
                .cancel_case(context.request(CancelCaseRequest {
                    case_id: case_id.to_owned(),
                    reason: reason.to_owned(),
                }))
                .await?;
            if let Some(registration_id) = registration_id {
                ProtocolServiceClient::new(self.channel.clone())
                    .void_registration(context.request(VoidRegistrationRequest {
                        registration_id: registration_id.to_owned(),
                        reason: reason.to_owned(),
                        // No authorisation reference: routing refuses the annulment (DPR
                        // 445/2000 art. 54), and the issue wants a retry here instead;
                        // left to the work hand-off, which replaces this seam.
                        ..Default::default()
                    }))
                    .await?;
            }
            Ok(())
        })
    }
}

/// No routing configured: every intake is UNAVAILABLE, and says why.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

fn unconfigured() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        "changes of residence need routing (protocol register and cases): ROUTING_URL is not set",
    )
}

impl Intake for Unconfigured {
    fn open_check<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a CheckCase,
    ) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }

    fn register_declaration<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a Declaration,
    ) -> BoxFuture<'a, Result<ProtocolEntry, ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }

    fn close_check<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }

    fn withdraw<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async { Err(unconfigured()) })
    }
}
