//! The canone's pagoPA notice for a granted occupation, and the receipt that makes the
//! permit valid. The grant is committed first (the database decides the place); the
//! notice is then asked of pagoPA through the SUAP's ledger, which makes one position
//! per occupation whatever is repeated. The receipt comes back by the ledger's poller
//! and [`paid`] moves the occupation from granted to valid in the poller's transaction.

use futures::future::BoxFuture;
use jiff::{ToSpan, civil::Date};
use sportello_kit::{
    ErrorKind, ServiceError, UnitOfWork,
    payments::{Debtor, DebtorKind, PaidPosition, PaymentRequest, Purpose},
};
use sportello_pa::calendar::rome;
use sportello_proto::suap::v1::CanoneNotice;
use uuid::Uuid;

use super::{domain::Requester, flow, store::Occupation};
use crate::payments::{OCCUPATION, SuapPayments};

/// How long a notice gives when the occupation has already begun or begins within it:
/// the canone of a temporary occupation is paid before it starts (L. 160/2019 c. 816 ss.,
/// as municipal regulations apply it), so the notice falls due on its first day, or 15
/// days on when that is sooner than tomorrow.
const GRACE_DAYS: i32 = 15;

/// The notice's last day: the occupation's first day, or 15 days from `today` when it
/// starts sooner.
pub fn due_date(start: Date, today: Date) -> Date {
    if start > today {
        start
    } else {
        today.checked_add(GRACE_DAYS.days()).unwrap_or(today)
    }
}

/// Asks pagoPA for the canone's notice of `occupation` (granted). `Err` holds why there is
/// none now, for the person at the counter, Italian first.
pub async fn canone_notice(
    payments: &SuapPayments,
    db: &sportello_kit::Db,
    occupation: &Occupation,
) -> Result<CanoneNotice, String> {
    let Some(canone) = occupation.canone else {
        return Err("nessun canone calcolato / no canone computed".into());
    };
    let Requester::Business(business) = &occupation.requester else {
        return Err(
            "il richiedente è una persona: il canone si paga allo sportello finché i suoi dati \
             non arrivano dall'anagrafe / the requester is a person: the canone is paid at the \
             counter until the payer's data come from the registry"
                .into(),
        );
    };
    let payer = crate::businesses::store::payer(db.pool(), *business)
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| "impresa non trovata / business not found".to_owned())?;
    let debtor = Debtor::new(DebtorKind::Legal, &payer.0, &payer.1)
        .map_err(|e| format!("{}: {}", e.field, e.reason))?;
    let purpose = Purpose::new(OCCUPATION, &occupation.id.to_string()).map_err(|e| e.to_owned())?;
    let today = rome::date_of(db.clock().now());
    let notice = payments
        .request_payment(PaymentRequest {
            municipality: occupation.municipality,
            purpose,
            debtor,
            amount_cents: canone.computation.amount_cents,
            due_date: due_date(occupation.period.start, today),
            description: format!(
                "Canone unico patrimoniale, occupazione di suolo pubblico {}",
                occupation.kind.as_str()
            ),
        })
        .await
        .map_err(|e| e.message().to_owned())?;
    Ok(CanoneNotice {
        notice_number: notice.notice_number.as_str().to_owned(),
        iuv: notice.iuv.as_str().to_owned(),
        amount_cents: notice.amount_cents,
        due_date: notice.due_date.to_string(),
    })
}

/// The receipt of an occupation's canone: granted → valid, in the poller's unit of work.
pub fn paid<'a>(
    uow: &'a mut UnitOfWork,
    paid: &'a PaidPosition,
) -> BoxFuture<'a, Result<(), ServiceError>> {
    Box::pin(async move {
        // Money received is never refused: a receipt for no occupation of ours, or for
        // one no longer granted, is recorded and published all the same, and left to the
        // office (a refund, a position made by hand); retrying it would change nothing.
        let Ok(id) = Uuid::parse_str(&paid.purpose.id) else {
            tracing::warn!(receipt = %paid.receipt_id,
                "a canone paid for a purpose that is no occupation id: recorded only");
            return Ok(());
        };
        match flow::mark_paid(uow, id, paid.paid_at, &paid.receipt_id).await {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::FailedPrecondition | ErrorKind::NotFound
                ) =>
            {
                tracing::warn!(occupation_id = %id, receipt = %paid.receipt_id,
                    "a canone paid for an occupation that is not granted: recorded, the \
                     occupation unchanged");
                Ok(())
            }
            Err(error) => Err(error),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_falls_due_on_the_first_day_or_fifteen_days_on() {
        let today: Date = "2027-05-10".parse().unwrap_or_default();
        let june: Date = "2027-06-01".parse().unwrap_or_default();
        assert_eq!(due_date(june, today), june);
        assert_eq!(due_date(today, today).to_string(), "2027-05-25");
    }
}
