//! What every Sportello service shares, so no service repeats it:
//!
//! - [`config`]: configuration from the environment, with errors naming the variable;
//! - [`telemetry`] and [`propagation`]: logs, OTLP traces, W3C trace context across gRPC
//!   and NATS;
//! - [`trust`] and [`context`]: mutual TLS, who may call what, the end user signed per
//!   call, and the call context (calling service, acting person, municipality, purpose)
//!   handlers authorise on; [`role`]: the roles a person may hold;
//! - [`error`]: one error table for gRPC codes and HTTP statuses;
//! - [`db`] and [`uow`]: one PostgreSQL schema per service, migrations under an advisory
//!   lock, units of work that commit state, events, timers and idempotency keys together;
//! - [`audit`]: audit tables hash-chained in the database, `verify-audit` and
//!   `archive-audit`;
//! - [`nats_auth`]: each service's NATS user, derived from its spec;
//! - [`nats`], [`events`], [`outbox`], [`inbox`]: JetStream streams, the transactional
//!   outbox and its relay, idempotent consumers with a dead-letter subject;
//! - [`clock`] and [`timers`]: an injectable clock and durable timers;
//! - [`pseudonym`]: the pseudonymous `requester_ref` that stands for a person outside
//!   the service that owns their data;
//! - [`documents`]: the content-addressed document store (PostgreSQL or object storage)
//!   with its intake checks (allowed type, magic bytes, size);
//! - [`retention`] and [`janitor`]: a retention period per category of data, the
//!   services' rules (delete, anonymise, propose for discard) and their purge;
//! - [`mail`]: plain-text e-mail by SMTP (`SMTP_URL`, `MAIL_FROM`);
//! - `payments` (feature `payments`): pagoPA debt positions (GPD), the local pagoPA
//!   simulator, and receipts turned into `<service>.payment.received` events;
//! - [`server`] and [`service`]: the gRPC server with health and reflection, metrics,
//!   graceful shutdown, and [`main`] for a service binary;
//! - `testing` (feature `testing`): fresh databases, isolated NATS, in-process services.

pub mod audit;
pub mod backoff;
pub mod cache;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod documents;
pub mod domain;
pub mod error;
pub mod events;
pub mod group_commit;
pub mod inbox;
pub mod janitor;
pub mod mail;
pub mod metrics;
pub mod nats;
pub mod nats_auth;
pub mod outbox;
#[cfg(feature = "payments")]
pub mod payments;
pub mod privacy;
pub mod propagation;
pub mod protocol;
pub mod pseudonym;
pub mod retention;
pub mod role;
pub mod sealed;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timers;
pub mod trust;
pub mod uow;
pub mod work;

pub use clock::{Clock, ManualClock};
pub use config::{ConfigError, DefaultPorts, Env, ServiceConfig, WorkerMode};
pub use context::{CallContext, require_call_context};
pub use domain::{IdempotencyKey, MunicipalityCode};
pub use error::{ErrorKind, FieldViolation, ServiceError};
pub use events::EventRecord;
pub use inbox::{ConsumerSpec, EventHandler, HandlerError};
pub use nats::StreamSpec;
pub use nats_auth::{NatsPermissions, Subscription};
pub use pseudonym::{PseudonymKey, RequesterRef};
pub use role::Role;
pub use server::Api;
pub use service::{Listeners, Running, Service, ServiceSpec, StartError, main};
pub use timers::{Timer, TimerHandler};
pub use trust::{PeerChannel, PeerId, Policy, TlsIdentity};
pub use uow::{Aggregate, Claim, Db, TimerAt, UnitOfWork};
