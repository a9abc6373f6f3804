//! Applications to the SUAP (DPR 160/2010): SCIA, communications and the ordinary
//! procedure, on their statutory clocks.
//!
//! `filing` takes an application in (checklist, protocol entry, receipt, SCIA unica
//! forwarded); `work` hands the back office its work over NATS and applies routing's
//! events back; `steps` applies the specialist's outcome and the end of a term (the one
//! durable timer, see `clock`); `requests` holds the steps asked for over gRPC while the
//! term runs (integration, measures after an order to conform); `reasons` the notice of
//! reasons against granting, the observations and the reasoned refusal; `opinions` the other
//! bodies' opinions and assents. `procedures` is the table of what this SUAP takes;
//! `domain` parses requests; `store` holds the SQL; `grpc` the tonic service.

pub mod clock;
pub mod domain;
pub mod filing;
pub mod grpc;
pub mod land;
pub mod message;
pub mod opinions;
pub mod procedures;
pub mod reasons;
pub mod requests;
pub mod steps;
pub mod store;
pub mod work;
