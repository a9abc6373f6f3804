//! SUAP's payments through pagoPA: the canone of an occupation, the yearly charge of a
//! driveway permit — every fee a SUAP procedure asks for is a debt position at pagoPA's
//! GPD, created by [`SuapPayments::request_payment`] from the procedure's flow. Nobody
//! marks a position paid: the kit's receipt poller sees the receipt and, in one
//! transaction, marks the position paid, publishes `sportello.suap.payment.received`
//! (a `sportello.common.v1.PaymentReceived`: ids, IUPD, IUV, notice number, amount,
//! paid time, purpose — no debtor data) and calls the hook registered for the purpose
//! kind.
//!
//! # Hooking a procedure's "paid" step
//!
//! [`on_paid_hooks`] is the one place that says which flow hears of which payment. A
//! procedure adds its purpose kind and its callback there, e.g. for occupations:
//!
//! ```text
//! PaidHandlers::new().on(OCCUPATION, crate::occupations::flow::mark_paid)
//! ```
//!
//! where `mark_paid` is a plain function
//! `fn mark_paid<'a>(uow: &'a mut UnitOfWork, paid: &'a PaidPosition) -> BoxFuture<'a,
//! Result<(), ServiceError>>` (or any type implementing `sportello_kit::payments::OnPaid`).
//! It runs inside the poller's unit of work: it changes its own rows and emits its own
//! events through `uow`, and does not commit; an error rolls the payment back and the
//! poller retries it later. `paid.purpose.id` is the id the flow passed when it asked
//! for the payment; `paid.version` the position's version.
//!
//! # Configuration
//!
//! `PAGOPA_GPD_URL`, `PAGOPA_GPD_KEY`, `PAGOPA_CREDITORS`, `PAGOPA_TAXONOMY`,
//! `PAGOPA_SEGREGATION_CODE` (SUAP's default: [`SEGREGATION_CODE`]) and
//! `PAGOPA_RECEIPTS_POLL`, as `sportello_kit::payments::config` describes them. Without
//! `PAGOPA_GPD_URL` SUAP starts, and every payment request answers UNAVAILABLE naming
//! the variables to set.

use std::sync::Arc;

use sportello_kit::{
    Env, Service, ServiceError, StartError,
    config::ConfigError,
    payments::{GpdClient, Ledger, Notice, PaidHandlers, PaymentRequest, PaymentsConfig},
};

/// SUAP's *codice segregazione*: its IUVs start with these two digits (education has
/// `01`, mobility `03`).
pub const SEGREGATION_CODE: &str = "02";

/// The event domain: SUAP's payments are `suap.payment.received` on SUAP's stream, and
/// its IUPDs `suap-<IUV>`.
pub const DOMAIN: &str = "suap";

/// The purpose kind of an occupation's canone.
pub const OCCUPATION: &str = "occupation";

/// Reads SUAP's pagoPA configuration; `None` when `PAGOPA_GPD_URL` is unset.
pub fn config_from_env(env: &Env) -> Result<Option<PaymentsConfig>, ConfigError> {
    PaymentsConfig::from_env(env, SEGREGATION_CODE)
}

/// The callbacks of the procedures that take payments, by purpose kind (see the module
/// documentation). A payment whose kind has none is still recorded and published.
pub fn on_paid_hooks() -> PaidHandlers {
    PaidHandlers::new().on(OCCUPATION, crate::occupations::payment::paid)
}

/// SUAP's ledger of debt positions; cheap to clone into each flow that asks for money.
#[derive(Debug, Clone)]
pub struct SuapPayments {
    ledger: Ledger,
}

impl SuapPayments {
    /// Sets payments up on `service`: with `config`, the GPD client, the receipt poller
    /// (a repeating durable timer calling [`on_paid_hooks`]) and its timer armed; without,
    /// a ledger that answers UNAVAILABLE.
    pub async fn install(
        service: &mut Service,
        config: Option<PaymentsConfig>,
    ) -> Result<Self, StartError> {
        let ledger = Ledger::install(service, DOMAIN, config, on_paid_hooks()).await?;
        Ok(Self { ledger })
    }

    /// A ledger on `service`'s database alone (no poller): for tests and tools that ask
    /// for payments beside a running SUAP.
    pub fn beside(
        db: sportello_kit::Db,
        config: Option<PaymentsConfig>,
    ) -> Result<Self, ServiceError> {
        let ledger = match config {
            None => Ledger::unconfigured(db, DOMAIN),
            Some(config) => {
                let gpd = GpdClient::new(&config)?;
                Ledger::new(db, DOMAIN, Arc::new(gpd), config)
            }
        };
        Ok(Self { ledger })
    }

    /// Creates and publishes the debt position for `request` at pagoPA and returns its
    /// notice; asking again for the same purpose returns the same notice. UNAVAILABLE
    /// when pagoPA is not configured or does not answer; INVALID_ARGUMENT naming the
    /// field for a bad amount, reason or due date.
    pub async fn request_payment(&self, request: PaymentRequest) -> Result<Notice, ServiceError> {
        self.ledger.request(request).await
    }
}
