//! A permit's pagoPA notice, and the receipt that makes it valid.
//!
//! The permit is committed first (awaiting payment); its notice is then asked of pagoPA
//! through the ledger, which keeps one position per permit whatever is repeated, due in
//! [`DAYS_TO_PAY`] days. pagoPA not answering leaves the permit without notice and says
//! why: the counter asks again by repeating the request with its idempotency key. The
//! receipt comes back by the ledger's poller and [`paid`] activates the permit in the
//! poller's transaction, publishing `mobility.permit.activated`: the whitelist follows.

use futures::future::BoxFuture;
use jiff::{ToSpan, civil::Date};
use sportello_kit::{
    Aggregate, ServiceError, UnitOfWork,
    payments::{Debtor, PaidPosition, PaymentRequest, Purpose},
};
use sportello_pa::calendar::rome;
use sportello_proto::mobility::v1::PermitActivated;
use uuid::Uuid;

use super::{
    CHARGE, Desk,
    domain::State,
    store::{self, Permit},
};

/// Days from issue to the notice's due date (the permit's last day if sooner); a permit
/// still unpaid after it lapses ([`super::lifecycle::Unpaid`]).
pub const DAYS_TO_PAY: i32 = 30;

/// Asks pagoPA for the notice of `permit` if it has a fee and no notice yet. `Ok(None)`
/// when there is nothing to ask or it was issued; `Ok(Some(why))`, Italian first, when
/// pagoPA refused or did not answer.
pub async fn issue(
    desk: &Desk,
    permit: &Permit,
    debtor: &Debtor,
) -> Result<Option<String>, ServiceError> {
    if permit.amount_cents == 0
        || permit.notice_number.is_some()
        || permit.state != State::AwaitingPayment
    {
        return Ok(None);
    }
    let due_date = due_date(rome::date_of(permit.created_at), permit.valid_until)?;
    let request = PaymentRequest {
        municipality: permit.municipality,
        purpose: Purpose::new(CHARGE, &permit.id.to_string()).map_err(ServiceError::internal)?,
        debtor: debtor.clone(),
        amount_cents: permit.amount_cents,
        due_date,
        description: format!(
            "{} {}, zona {}",
            capitalised(permit.kind.italian()),
            permit.number,
            permit.zone_code
        ),
    };
    match desk.ledger.request(request).await {
        Ok(notice) => {
            let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
            store::set_notice(&mut conn, permit.id, notice.notice_number.as_str()).await?;
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(permit_id = %permit.id, error = %error, "a permit's pagoPA notice was not issued");
            Ok(Some(error.message().to_owned()))
        }
    }
}

/// The notice's due date for a permit issued on `issued`: [`DAYS_TO_PAY`] days on, never
/// after the permit's last day (a notice for days gone is no use to anyone).
pub fn due_date(issued: Date, valid_until: Date) -> Result<Date, ServiceError> {
    Ok(issued
        .checked_add(DAYS_TO_PAY.days())
        .map_err(ServiceError::internal)?
        .min(valid_until.max(issued)))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The receipt of a permit's fee: awaiting payment → active, in the poller's unit of work.
pub fn paid<'a>(
    uow: &'a mut UnitOfWork,
    paid: &'a PaidPosition,
) -> BoxFuture<'a, Result<(), ServiceError>> {
    Box::pin(async move {
        // Money received is never refused: a receipt for no permit awaiting payment is
        // recorded and published all the same, and left to the office (a refund).
        let Ok(id) = Uuid::parse_str(&paid.purpose.id) else {
            tracing::warn!(receipt = %paid.receipt_id,
                "a permit fee paid for a purpose that is no permit id: recorded only");
            return Ok(());
        };
        let Some(permit) = store::lock(uow, id).await? else {
            tracing::warn!(permit_id = %id, "a fee paid for a permit that does not exist: recorded only");
            return Ok(());
        };
        if !store::activate(uow, id).await? {
            tracing::warn!(permit_id = %id, receipt = %paid.receipt_id,
                "a permit fee paid for a permit ended or paid already: recorded, the permit unchanged");
            return Ok(());
        }
        if permit.state == State::UnderReview {
            tracing::info!(permit_id = %id, "a permit under review paid: its review decides");
            return Ok(());
        }
        let key = id.to_string();
        uow.emit(
            &PermitActivated {
                permit_id: key.clone(),
                municipality_istat_code: permit.municipality.to_string(),
                zone_code: permit.zone_code.clone(),
            },
            Aggregate {
                kind: "mobility.permit",
                id: &key,
                version: permit.version + 1,
                municipality: permit.municipality,
            },
        )
        .await?;
        tracing::info!(permit_id = %id, "permit paid and active");
        Ok(())
    })
}
