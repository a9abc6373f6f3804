//! Payments through pagoPA, shaped on its debt-position service (GPD, *Gestione Posizioni
//! Debitorie*): a department creates a debt position and gets the notice the person pays;
//! the payment comes back as an event. There is no "mark paid" call anywhere: a position
//! is paid when pagoPA says so.
//!
//! - [`domain`]: the position, its debtor (personal data: sent to pagoPA only, redacted
//!   in `Debug`, never in events, logs or spans), the notice, the receipt;
//! - [`Payments`]: the seam — create-and-publish (idempotent on the IUPD), a position's
//!   status, the receipts paid in a time window — with [`GpdClient`], the real GPD over
//!   HTTP, and [`sim`], a local pagoPA that `make run` and the tests use and pay through;
//! - [`ledger`]: the service's own positions (`payment_positions`, an IUV sequence),
//!   [`Ledger::request`] for a department's flow; [`receipts`]: the [`ReceiptPoller`], a repeating
//!   durable timer that turns each receipt into, in one transaction: the position paid,
//!   a `PaymentReceived` event in the outbox, the department's [`OnPaid`] callback and
//!   the advanced cursor. A receipt listed again changes nothing.
//!
//! **The event's subject.** Issue 15 names it `sportello.payment.received`. DESIGN.md
//! says subjects are `sportello.<domain>.<entity>.<event>` and each service publishes only
//! on its own stream, with NATS permissions to match (SUAP may publish `suap.>` and
//! nothing else). A shared `payment.*` subject would need a stream that several services
//! write into and no service owns, and a consumer could not tell from the subject whose
//! payment it is. So each paying service publishes the same message,
//! `sportello.common.v1.PaymentReceived`, on its own stream as
//! `<service>.payment.received` — `sportello.suap.payment.received` for SUAP — and a
//! consumer that wants every payment filters `*.payment.received`.
//!
//! **IUVs.** Notice numbers use aux digit 3: the service's two-digit *codice
//! segregazione* ([`PAGOPA_SEGREGATION_CODE`](config::PAGOPA_SEGREGATION_CODE)), a
//! 13-digit base from the service's own database sequence, and the check digits, so two
//! departments of one municipality never build the same IUV. The IUPD is
//! `<service>-<IUV>`.
//!
//! Configuration: [`config`] (`PAGOPA_GPD_URL`, `PAGOPA_GPD_KEY`, `PAGOPA_CREDITORS`,
//! `PAGOPA_SEGREGATION_CODE`, `PAGOPA_TAXONOMY`, `PAGOPA_RECEIPTS_POLL`,
//! `PAGOPA_GPD_TIMEOUT`). Without `PAGOPA_GPD_URL` a service starts and answers payment
//! requests UNAVAILABLE, saying what to set.

pub mod config;
pub mod domain;
pub mod gpd;
mod http;
pub mod ledger;
pub mod receipts;
pub mod sim;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use config::PaymentsConfig;
pub use domain::{
    Creditor, CreditorFiscalCode, DebtPosition, Debtor, DebtorKind, Notice, PaidPosition,
    PaymentOption, PositionStatus, Purpose, Receipt, ReceiptPage, SegregationCode,
};
pub use gpd::GpdClient;
pub use ledger::{Ledger, PaymentRequest, unconfigured};
pub use receipts::{OnPaid, PaidHandlers, RECEIPTS_TIMER, ReceiptPoller};

/// Why pagoPA did not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PaymentsError {
    /// pagoPA could not be reached, timed out, or refused the key: retry later (or fix
    /// the configuration the message names).
    #[error("pagoPA unavailable: {0}")]
    Unavailable(String),
    /// pagoPA refused the request as invalid (GPD `400`): its reason.
    #[error("refused by pagoPA: {0}")]
    Refused(String),
    /// The IUPD or IUV exists at pagoPA with other content.
    #[error("conflict at pagoPA: {0}")]
    Conflict(String),
    /// No such position.
    #[error("no debt position {0} at pagoPA")]
    NotFound(String),
    /// pagoPA's answer could not be read.
    #[error("unreadable answer from pagoPA: {0}")]
    Malformed(String),
}

/// pagoPA's debt-position service, as a paying service uses it.
pub trait Payments: Send + Sync + std::fmt::Debug + 'static {
    /// Creates and publishes `position` (payable at once). Idempotent on its IUPD: a
    /// position that exists with the same notice and amount answers its notice; with
    /// other content, [`PaymentsError::Conflict`].
    fn create<'a>(
        &'a self,
        position: &'a DebtPosition,
    ) -> BoxFuture<'a, Result<Notice, PaymentsError>>;

    /// Where the position `iupd` of `creditor` stands.
    fn status<'a>(
        &'a self,
        creditor: &'a CreditorFiscalCode,
        iupd: &'a str,
    ) -> BoxFuture<'a, Result<PositionStatus, PaymentsError>>;

    /// One page (from 0) of the receipts of `creditor` paid between `from` and `to`
    /// (both included; at most 30 days apart).
    fn receipts<'a>(
        &'a self,
        creditor: &'a CreditorFiscalCode,
        from: Timestamp,
        to: Timestamp,
        page: u32,
    ) -> BoxFuture<'a, Result<ReceiptPage, PaymentsError>>;
}

/// A plain-HTTP client for the test helpers that talk to the simulator.
#[cfg(feature = "testing")]
pub(crate) fn http_client_for_tests() -> http::HttpClient {
    http::HttpClient::plain(std::time::Duration::from_secs(10))
}
