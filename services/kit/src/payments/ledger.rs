//! A paying service's side of pagoPA: its debt positions in its own `payment_positions`
//! table, the request that creates one at GPD, and the receipt poller that turns each
//! payment into a `<service>.payment.received` event and the department's callback.
//!
//! The table and the IUV sequence are the service's own (its migrations create them,
//! in the shape of SUAP's `20261215000002_payments.sql`); this module is the only code
//! that writes them.

use std::{collections::HashMap, sync::Arc};

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp, civil::Date};
use sportello_pa::pagopa::NoticeNumber;
use sportello_proto::common::v1::{Money, PaymentPurpose, PaymentReceived};
use sqlx::Row;
use uuid::Uuid;

use super::{
    Payments, PaymentsError,
    config::PaymentsConfig,
    domain::{
        CreditorFiscalCode, DebtPosition, Debtor, Notice, PaidPosition, PaymentOption, Purpose,
        Receipt,
    },
};
use crate::{
    Aggregate, ErrorKind, ServiceError, Timer, TimerHandler, UnitOfWork,
    clock::rome,
    domain::MunicipalityCode,
    uow::{Db, SqlTimestamp},
};

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

/// The longest reason printed on a notice (GPD's `description`).
const MAX_DESCRIPTION: usize = 140;

/// A department's request for a payment.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    /// The creditor municipality.
    pub municipality: MunicipalityCode,
    /// What it pays for: at most one open position per purpose.
    pub purpose: Purpose,
    /// Who pays (sent to pagoPA only).
    pub debtor: Debtor,
    /// In euro cents.
    pub amount_cents: i64,
    /// The last day to pay.
    pub due_date: Date,
    /// The reason printed on the notice.
    pub description: String,
}

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

struct Configured {
    payments: Arc<dyn Payments>,
    config: PaymentsConfig,
}

/// A service's debt positions and its link to pagoPA; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    service: &'static str,
    configured: Option<Arc<Configured>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("service", &self.service)
            .field("configured", &self.configured.is_some())
            .finish()
    }
}

/// The answer to a payment request while pagoPA is not configured.
pub fn unconfigured() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        "i pagamenti pagoPA non sono configurati: impostare PAGOPA_GPD_URL, PAGOPA_GPD_KEY, \
         PAGOPA_CREDITORS e PAGOPA_TAXONOMY / pagoPA payments are not configured: set \
         PAGOPA_GPD_URL, PAGOPA_GPD_KEY, PAGOPA_CREDITORS and PAGOPA_TAXONOMY",
    )
}

impl From<PaymentsError> for ServiceError {
    fn from(error: PaymentsError) -> Self {
        match error {
            PaymentsError::Unavailable(_) => ServiceError::unavailable(
                "pagoPA non risponde, riprovare più tardi / pagoPA is not answering, try again later",
                error,
            ),
            PaymentsError::Refused(reason) => ServiceError::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "pagoPA ha rifiutato la posizione debitoria / pagoPA refused the debt position: {reason}"
                ),
            ),
            PaymentsError::Conflict(_) | PaymentsError::Malformed(_) => {
                ServiceError::internal(error)
            }
            PaymentsError::NotFound(iupd) => ServiceError::new(
                ErrorKind::NotFound,
                format!(
                    "posizione {iupd} sconosciuta a pagoPA / position {iupd} unknown to pagoPA"
                ),
            ),
        }
    }
}

/// A position row, as the ledger reads it back.
struct Row_ {
    id: Uuid,
    iupd: String,
    notice_number: String,
    amount_cents: i64,
    due_date: Date,
    published: bool,
}

impl Ledger {
    /// The ledger of `service` (its event domain, e.g. `suap`: events are
    /// `<service>.payment.received`, IUPDs `<service>-<IUV>`), talking to `payments`.
    pub fn new(
        db: Db,
        service: &'static str,
        payments: Arc<dyn Payments>,
        config: PaymentsConfig,
    ) -> Self {
        Self {
            db,
            service,
            configured: Some(Arc::new(Configured { payments, config })),
        }
    }

    /// A ledger without pagoPA: every request answers [`unconfigured`].
    pub fn unconfigured(db: Db, service: &'static str) -> Self {
        Self {
            db,
            service,
            configured: None,
        }
    }

    /// Whether pagoPA is configured.
    pub fn is_configured(&self) -> bool {
        self.configured.is_some()
    }

    /// Creates and publishes the debt position for `request`, or returns the notice of
    /// the purpose's open position when there is one (a repeat, or a retry after pagoPA
    /// failed: the position is stored first, under its IUPD, and GPD is idempotent on
    /// it). A different amount or due date for a purpose that has an open position is
    /// refused.
    #[tracing::instrument(skip_all, fields(service = self.service, purpose_kind = %request.purpose.kind, purpose_id = %request.purpose.id))]
    pub async fn request(&self, request: PaymentRequest) -> Result<Notice, ServiceError> {
        let configured = self.configured.as_ref().ok_or_else(unconfigured)?;
        validate(&request, self.db.clock().now())?;
        let creditor = configured
            .config
            .creditor(&request.municipality)
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "nessun ente creditore configurato per il comune {m}: aggiungerlo a \
                         PAGOPA_CREDITORS / no creditor configured for municipality {m}: add it \
                         to PAGOPA_CREDITORS",
                        m = request.municipality.as_str()
                    ),
                )
            })?
            .clone();

        let row = self
            .store_position(&configured.config, &creditor.fiscal_code, &request)
            .await?;
        let notice_number: NoticeNumber = row
            .notice_number
            .parse()
            .map_err(|e| ServiceError::internal(format!("stored notice number: {e}")))?;
        let notice = Notice {
            iupd: row.iupd.clone(),
            iuv: notice_number.iuv(),
            notice_number,
            amount_cents: row.amount_cents,
            due_date: row.due_date,
        };
        if row.published {
            return Ok(notice);
        }
        let position = DebtPosition {
            iupd: row.iupd.clone(),
            creditor,
            debtor: request.debtor,
            taxonomy: configured.config.taxonomy.clone(),
            option: PaymentOption {
                amount_cents: row.amount_cents,
                due_date: row.due_date,
                description: request.description,
                notice_number,
            },
        };
        let created = configured
            .payments
            .create(&position)
            .await
            .and_then(|notice| super::gpd::same_notice(&position, &notice).map(|()| notice));
        if let Err(error @ (PaymentsError::Refused(_) | PaymentsError::Conflict(_))) = created {
            // pagoPA will never take this position: withdraw it, so that the purpose is
            // free for a corrected request (which gets a new IUV) instead of being held
            // by a notice nobody can pay.
            let mut uow = self.db.begin().await?;
            sqlx::query(
                "update payment_positions set status = 'invalidated', version = version + 1
                 where id = $1 and published_at is null and status = 'open'",
            )
            .bind(row.id)
            .execute(uow.conn())
            .await?;
            uow.commit().await?;
            tracing::warn!(position_id = %row.id, error = %error, "pagoPA refused a debt position; withdrawn");
            return Err(error.into());
        }
        created?;
        let mut uow = self.db.begin().await?;
        let now = uow.now();
        sqlx::query(
            "update payment_positions set published_at = $2 where id = $1 and published_at is null",
        )
        .bind(row.id)
        .bind(SqlTimestamp::from(now))
        .execute(uow.conn())
        .await?;
        uow.commit().await?;
        tracing::info!(position_id = %row.id, iupd = %row.iupd, "debt position published");
        Ok(notice)
    }

    /// The purpose's open or paid position, or a new one with the next IUV.
    async fn store_position(
        &self,
        config: &PaymentsConfig,
        creditor: &CreditorFiscalCode,
        request: &PaymentRequest,
    ) -> Result<Row_, ServiceError> {
        let mut uow = self.db.begin().await?;
        if let Some(row) = existing(&mut uow, &request.purpose).await? {
            return same_request(row, request);
        }
        let base: i64 = sqlx::query_scalar("select nextval('payment_iuv_base_seq')")
            .fetch_one(uow.conn())
            .await?;
        let notice = NoticeNumber::build_aux3(config.segregation.as_str(), &format!("{base:013}"))
            .map_err(ServiceError::internal)?;
        let iuv = notice.iuv();
        let id = Uuid::now_v7();
        let iupd = format!("{}-{}", self.service, iuv.as_str());
        let now = uow.now();
        let inserted = sqlx::query(
            "insert into payment_positions
               (id, municipality, creditor_fiscal_code, purpose_kind, purpose_id, iupd, iuv,
                notice_number, amount_cents, due_date, description, status, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12)
             on conflict (purpose_kind, purpose_id) where status <> 'invalidated' do nothing",
        )
        .bind(id)
        .bind(request.municipality.as_str())
        .bind(creditor.as_str())
        .bind(&request.purpose.kind)
        .bind(&request.purpose.id)
        .bind(&iupd)
        .bind(iuv.as_str())
        .bind(notice.as_str())
        .bind(request.amount_cents)
        .bind(jiff_sqlx::Date::from(request.due_date))
        .bind(request.description.trim())
        .bind(SqlTimestamp::from(now))
        .execute(uow.conn())
        .await?;
        if inserted.rows_affected() == 0 {
            // A concurrent request for the same purpose committed first: its position.
            drop(uow);
            let mut uow = self.db.begin().await?;
            let row = existing(&mut uow, &request.purpose)
                .await?
                .ok_or_else(|| ServiceError::new(ErrorKind::Aborted, "retry"))?;
            return same_request(row, request);
        }
        uow.commit().await?;
        Ok(Row_ {
            id,
            iupd,
            notice_number: notice.as_str().to_owned(),
            amount_cents: request.amount_cents,
            due_date: request.due_date,
            published: false,
        })
    }

    /// The receipt poller, to register with `Service::on_timer(RECEIPTS_TIMER, …)`;
    /// `on_paid` is the department's callback. `None` when pagoPA is not configured.
    pub fn poller(&self, on_paid: impl OnPaid) -> Option<ReceiptPoller> {
        self.configured.as_ref().map(|configured| ReceiptPoller {
            configured: configured.clone(),
            service: self.service,
            on_paid: Arc::new(on_paid),
        })
    }

    /// Arms the poller's timer for every configured creditor, keeping the cursor of a
    /// timer armed before (call at start; a no-op without pagoPA).
    pub async fn arm(&self) -> Result<(), sqlx::Error> {
        let Some(configured) = &self.configured else {
            return Ok(());
        };
        let now = self.db.clock().now();
        for creditor in configured.config.creditors.values() {
            sqlx::query(
                "insert into timers (id, kind, key, due_at, payload, created_at)
                 values ($1, $2, $3, $4, $5, $4)
                 on conflict (kind, key) do update
                   set fired_at = null, cancelled_at = null, due_at = excluded.due_at
                   where timers.fired_at is not null or timers.cancelled_at is not null",
            )
            .bind(Uuid::now_v7())
            .bind(RECEIPTS_TIMER)
            .bind(creditor.fiscal_code.as_str())
            .bind(SqlTimestamp::from(now))
            .bind(sqlx::types::Json(
                serde_json::json!({ "cursor": now.to_string() }),
            ))
            .execute(self.db.pool())
            .await?;
        }
        Ok(())
    }
}

fn validate(request: &PaymentRequest, now: Timestamp) -> Result<(), ServiceError> {
    let mut violations = Vec::new();
    if request.amount_cents < 1 {
        violations.push(crate::FieldViolation {
            field: "amount_cents".to_owned(),
            description: "almeno 1 centesimo / at least 1 cent".to_owned(),
        });
    }
    let description = request.description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
        violations.push(crate::FieldViolation {
            field: "description".to_owned(),
            description: "da 1 a 140 caratteri / 1 to 140 characters".to_owned(),
        });
    }
    if request.due_date < now.to_zoned(rome()).date() {
        violations.push(crate::FieldViolation {
            field: "due_date".to_owned(),
            description: "la scadenza è già passata / the due date has passed".to_owned(),
        });
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::invalid_fields(violations))
    }
}

async fn existing(uow: &mut UnitOfWork, purpose: &Purpose) -> Result<Option<Row_>, sqlx::Error> {
    let row = sqlx::query(
        "select id, iupd, notice_number, amount_cents, due_date, published_at is not null as published
         from payment_positions
         where purpose_kind = $1 and purpose_id = $2 and status <> 'invalidated'",
    )
    .bind(&purpose.kind)
    .bind(&purpose.id)
    .fetch_optional(uow.conn())
    .await?;
    row.map(|row| {
        Ok(Row_ {
            id: row.try_get("id")?,
            iupd: row.try_get("iupd")?,
            notice_number: row.try_get("notice_number")?,
            amount_cents: row.try_get("amount_cents")?,
            due_date: row.try_get::<jiff_sqlx::Date, _>("due_date")?.to_jiff(),
            published: row.try_get("published")?,
        })
    })
    .transpose()
}

fn same_request(row: Row_, request: &PaymentRequest) -> Result<Row_, ServiceError> {
    if row.amount_cents != request.amount_cents || row.due_date != request.due_date {
        return Err(ServiceError::new(
            ErrorKind::AlreadyExists,
            format!(
                "per questo scopo esiste già l'avviso {n} con altro importo o scadenza / this \
                 purpose already has notice {n} with another amount or due date",
                n = row.notice_number
            ),
        ));
    }
    Ok(row)
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
