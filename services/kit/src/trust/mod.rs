//! Trust between services: nobody on the network is believed for what it says.
//!
//! - [`peer`]: SPIFFE-style identities (`spiffe://sportello/svc/routing`), read from
//!   certificates;
//! - [`tls`]: mutual TLS — each process's certificate and key, the deployment's CA;
//! - [`policy`]: each service's table of who may call which RPC, and who may act for a
//!   person there;
//! - [`token`]: the end user, signed by the caller for one call to one service;
//! - [`gate`]: the server side, enforcing all of it before any handler runs;
//! - [`client`]: the client side, a channel that presents the certificate, signs the
//!   end user and sets the deadline;
//! - [`pki`]: a local certificate authority for `make run`, the tests and `sportello-pki`.

pub mod client;
pub mod gate;
pub mod peer;
pub mod pki;
pub mod policy;
pub mod tls;
pub mod token;

pub use client::{ChannelError, PeerChannel};
pub use gate::{Gate, GateLayer};
pub use peer::{PeerId, PeerKind};
pub use policy::{Caller, Policy, Rule};
pub use tls::{PeerCert, TlsIdentity};
