//! A paying service's side of pagoPA: its debt positions in its own `payment_positions`
//! table and the request that creates one at GPD; [`super::receipts`] hears them paid.
//!
//! The table and the IUV sequence are the service's own (its migrations create them,
//! in the shape of SUAP's `20261215000002_payments.sql`); this module is the only code
//! that writes them.

use std::sync::Arc;

use jiff::{Timestamp, civil::Date};
use sportello_pa::pagopa::NoticeNumber;
use sqlx::Row;
use uuid::Uuid;

use super::{
    Payments, PaymentsError,
    config::PaymentsConfig,
    domain::{CreditorFiscalCode, DebtPosition, Debtor, Notice, PaymentOption, Purpose},
    receipts::{OnPaid, RECEIPTS_TIMER, ReceiptPoller},
};
use crate::{
    ErrorKind, ServiceError, UnitOfWork,
    clock::rome,
    domain::MunicipalityCode,
    uow::{Db, SqlTimestamp},
};

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

/// pagoPA, for the ledger and its poller.
pub(super) struct Configured {
    pub(super) payments: Arc<dyn Payments>,
    pub(super) config: PaymentsConfig,
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
struct StoredPosition {
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

    /// The ledger of `service` set up on a starting service: with `config`, the GPD
    /// client, the receipt poller calling `on_paid` (a repeating durable timer) and its
    /// timer armed; without, a ledger that answers [`unconfigured`], said once in the log.
    pub async fn install(
        running: &mut crate::Service,
        service: &'static str,
        config: Option<PaymentsConfig>,
        on_paid: impl OnPaid,
    ) -> Result<Self, crate::StartError> {
        let db = running.db().clone();
        let Some(config) = config else {
            tracing::warn!("PAGOPA_GPD_URL is not set: payment requests are unavailable");
            return Ok(Self::unconfigured(db, service));
        };
        let gpd = super::GpdClient::new(&config)
            .map_err(|e| crate::StartError::Other(format!("PAGOPA_GPD_URL: {e}")))?;
        let ledger = Self::new(db, service, Arc::new(gpd), config);
        if let Some(poller) = ledger.poller(on_paid) {
            running.on_timer(RECEIPTS_TIMER, poller);
        }
        ledger.arm().await.map_err(|e| {
            crate::StartError::Other(format!("arming the pagoPA receipt poller: {e}"))
        })?;
        Ok(ledger)
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
    ) -> Result<StoredPosition, ServiceError> {
        let mut uow = self.db.begin().await?;
        if let Some(row) = existing(&mut uow, &request.purpose).await? {
            if !row.published
                && row.amount_cents == request.amount_cents
                && row.due_date != request.due_date
            {
                // pagoPA never confirmed it, so nobody holds its notice: a request asked
                // again after its first due date passed re-dates it (a position GPD did
                // keep under the old date answers Conflict, and is withdrawn below).
                sqlx::query(
                    "update payment_positions set due_date = $2
                     where id = $1 and published_at is null",
                )
                .bind(row.id)
                .bind(jiff_sqlx::Date::from(request.due_date))
                .execute(uow.conn())
                .await?;
                uow.commit().await?;
                return Ok(StoredPosition {
                    due_date: request.due_date,
                    ..row
                });
            }
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
        Ok(StoredPosition {
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
        self.configured.as_ref().map(|configured| {
            ReceiptPoller::new(configured.clone(), self.service, Arc::new(on_paid))
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

async fn existing(
    uow: &mut UnitOfWork,
    purpose: &Purpose,
) -> Result<Option<StoredPosition>, sqlx::Error> {
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
        Ok(StoredPosition {
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

fn same_request(
    row: StoredPosition,
    request: &PaymentRequest,
) -> Result<StoredPosition, ServiceError> {
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
