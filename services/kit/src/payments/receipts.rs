//! Receipts become events: the [`ReceiptPoller`], a repeating durable timer per
//! creditor, lists the receipts paid since its cursor and, for each of this service's
//! open positions among them, in the timer's one transaction: marks the position paid,
//! emits `<service>.payment.received` through the outbox, calls the department's
//! [`OnPaid`] and advances the cursor. A receipt listed again finds its position paid
//! already and changes nothing.

use std::{collections::HashMap, sync::Arc};

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use sportello_proto::common::v1::{Money, PaymentPurpose, PaymentReceived};
use sqlx::Row;

use super::{
    domain::{CreditorFiscalCode, PaidPosition, Purpose, Receipt},
    ledger::Configured,
};
use crate::{Aggregate, ServiceError, Timer, TimerHandler, UnitOfWork, uow::SqlTimestamp};

/// The timer kind of the receipt poller; one timer per creditor, keyed by its fiscal code,
/// whose payload holds the poller's cursor.
pub const RECEIPTS_TIMER: &str = "payments.receipts";

/// How far behind "now" the cursor trails: a receipt may reach GPD a while after the
/// PSP's payment time, so the last hour is listed again on every pass (a receipt seen
/// twice changes nothing).
pub const CURSOR_LAG: SignedDuration = SignedDuration::from_hours(1);

/// GPD lists payment times over at most 30 days per query.
const WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24 - 1);

/// A safety stop for a server that never says "last page".
const MAX_PAGES: u32 = 1000;

/// What the department does, in the same transaction, when one of its positions is
/// paid: e.g. SUAP's occupations make the permit valid. An error rolls the whole pass
/// back (position, event, cursor); the poller retries it later.
pub trait OnPaid: Send + Sync + 'static {
    /// Applies the payment through `uow`.
    fn on_paid<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        paid: &'a PaidPosition,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
}

/// A plain function is a callback too, so a department can register its flow's
/// `fn mark_paid<'a>(uow: &'a mut UnitOfWork, paid: &'a PaidPosition) -> BoxFuture<'a, …>`
/// as it is.
impl<F> OnPaid for F
where
    F: for<'a> Fn(&'a mut UnitOfWork, &'a PaidPosition) -> BoxFuture<'a, Result<(), ServiceError>>
        + Send
        + Sync
        + 'static,
{
    fn on_paid<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        paid: &'a PaidPosition,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        self(uow, paid)
    }
}

/// One [`OnPaid`] per purpose kind. A payment for a kind nobody registered is still
/// recorded and published; only the callback is skipped (and logged).
#[derive(Default, Clone)]
pub struct PaidHandlers {
    by_kind: HashMap<String, Arc<dyn OnPaid>>,
}

impl std::fmt::Debug for PaidHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidHandlers")
            .field("kinds", &self.by_kind.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl PaidHandlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `handler` for the positions whose purpose is `kind`.
    pub fn on(mut self, kind: &str, handler: impl OnPaid) -> Self {
        self.by_kind.insert(kind.to_owned(), Arc::new(handler));
        self
    }
}

impl OnPaid for PaidHandlers {
    fn on_paid<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        paid: &'a PaidPosition,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            match self.by_kind.get(&paid.purpose.kind) {
                Some(handler) => handler.on_paid(uow, paid).await,
                None => {
                    tracing::warn!(purpose_kind = %paid.purpose.kind, position_id = %paid.id,
                        "payment received for a purpose kind without a handler");
                    Ok(())
                }
            }
        })
    }
}

/// Fetches receipts for one creditor per firing and applies each, then re-arms itself
/// with the advanced cursor — all in the timer's unit of work, so the positions, the
/// events, the department's effects and the cursor commit together or not at all.
///
/// The calls to GPD happen while the timer's row is locked: one replica polls a creditor
/// at a time, and the others skip it.
pub struct ReceiptPoller {
    configured: Arc<Configured>,
    service: &'static str,
    on_paid: Arc<dyn OnPaid>,
}

impl ReceiptPoller {
    pub(super) fn new(
        configured: Arc<Configured>,
        service: &'static str,
        on_paid: Arc<dyn OnPaid>,
    ) -> Self {
        Self {
            configured,
            service,
            on_paid,
        }
    }
}

impl std::fmt::Debug for ReceiptPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptPoller")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl TimerHandler for ReceiptPoller {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(self.poll(uow, timer))
    }
}

impl ReceiptPoller {
    async fn poll(&self, uow: &mut UnitOfWork, timer: &Timer) -> Result<(), ServiceError> {
        let creditor: CreditorFiscalCode = timer
            .key
            .parse()
            .map_err(|e: &str| ServiceError::internal(format!("receipt timer key: {e}")))?;
        let now = uow.now();
        let cursor = timer.payload["cursor"]
            .as_str()
            .and_then(|c| c.parse::<Timestamp>().ok())
            .unwrap_or(timer.due_at);
        let to = cursor
            .saturating_add(WINDOW)
            .unwrap_or(now)
            .min(now)
            .max(cursor);

        let mut receipts = Vec::new();
        let mut page = 0;
        loop {
            let listed = self
                .configured
                .payments
                .receipts(&creditor, cursor, to, page)
                .await?;
            receipts.extend(listed.receipts);
            page += 1;
            if !listed.more || page >= MAX_PAGES {
                break;
            }
        }
        receipts.sort_by_key(|r| r.paid_at);
        let mut applied = 0usize;
        for receipt in &receipts {
            if self.apply(uow, receipt).await? {
                applied += 1;
            }
        }
        if applied > 0 {
            tracing::info!(
                service = self.service,
                applied,
                listed = receipts.len(),
                "payments received"
            );
        }

        let lagging = now.saturating_sub(CURSOR_LAG).unwrap_or(now);
        let next_cursor = cursor.max(to.min(lagging));
        // Still catching up a long pause: go on at once; otherwise wait the interval.
        let wait = if to < now {
            SignedDuration::from_millis(1)
        } else {
            SignedDuration::try_from(self.configured.config.poll_every)
                .unwrap_or(SignedDuration::from_secs(5))
                .max(SignedDuration::from_millis(1))
        };
        uow.schedule_timer(
            RECEIPTS_TIMER,
            &timer.key,
            now.saturating_add(wait).unwrap_or(now),
            serde_json::json!({ "cursor": next_cursor.to_string() }),
        )
        .await?;
        Ok(())
    }

    /// Marks the receipt's position paid, publishes the event and calls the department;
    /// `false` for a receipt of a position that is not this service's or is already paid.
    async fn apply(&self, uow: &mut UnitOfWork, receipt: &Receipt) -> Result<bool, ServiceError> {
        let row = sqlx::query(
            "update payment_positions
                set status = 'paid', paid_at = $3, receipt_id = $4,
                    published_at = coalesce(published_at, $3), version = version + 1
              where creditor_fiscal_code = $1 and iupd = $2 and status = 'open'
              returning id, municipality, purpose_kind, purpose_id, iupd, iuv, notice_number,
                        amount_cents, version",
        )
        .bind(receipt.creditor.as_str())
        .bind(&receipt.iupd)
        .bind(SqlTimestamp::from(receipt.paid_at))
        .bind(&receipt.receipt_id)
        .fetch_optional(uow.conn())
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let municipality: String = row.try_get("municipality")?;
        let paid = PaidPosition {
            id: row.try_get("id")?,
            municipality: municipality
                .parse()
                .map_err(|_| ServiceError::internal("stored municipality"))?,
            purpose: Purpose {
                kind: row.try_get("purpose_kind")?,
                id: row.try_get("purpose_id")?,
            },
            iupd: row.try_get("iupd")?,
            iuv: row.try_get("iuv")?,
            notice_number: row.try_get("notice_number")?,
            amount_cents: receipt.amount_cents,
            paid_at: receipt.paid_at,
            receipt_id: receipt.receipt_id.clone(),
            version: row.try_get("version")?,
        };
        let expected: i64 = row.try_get("amount_cents")?;
        if expected != receipt.amount_cents || paid.iuv != receipt.iuv {
            // pagoPA checks the amount before taking the money; a difference here is a
            // reconciliation matter, not a reason to lose the payment.
            tracing::warn!(position_id = %paid.id, expected, paid = receipt.amount_cents,
                "a receipt differs from its position");
        }
        let event = PaymentReceived {
            position_id: paid.id.to_string(),
            municipality_istat_code: paid.municipality.as_str().to_owned(),
            creditor_fiscal_code: receipt.creditor.as_str().to_owned(),
            iupd: paid.iupd.clone(),
            iuv: paid.iuv.clone(),
            notice_number: paid.notice_number.clone(),
            amount: Some(Money {
                currency_code: "EUR".to_owned(),
                amount_minor: paid.amount_cents,
            }),
            paid_time: Some(prost_types::Timestamp {
                seconds: paid.paid_at.as_second(),
                nanos: paid.paid_at.subsec_nanosecond(),
            }),
            receipt_id: paid.receipt_id.clone(),
            purpose: Some(PaymentPurpose {
                kind: paid.purpose.kind.clone(),
                id: paid.purpose.id.clone(),
            }),
        };
        let id = paid.id.to_string();
        uow.emit_as(
            format!("{}.payment.received", self.service),
            &event,
            Aggregate {
                kind: &format!("{}.payment", self.service),
                id: &id,
                version: paid.version,
                municipality: paid.municipality,
            },
        )
        .await?;
        self.on_paid.on_paid(uow, &paid).await?;
        Ok(true)
    }
}
