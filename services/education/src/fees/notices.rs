//! A subscription's pagoPA notices, and the receipts that pay its charges.
//!
//! The subscription and its charges are committed first; each charge's notice is then
//! asked of pagoPA through the ledger, which keeps one position per charge whatever is
//! repeated. pagoPA not answering leaves the charges without notice and says why: the
//! counter asks again with IssueNotices (the payer's data are not kept to do it alone).
//! The receipt comes back by the ledger's poller and [`paid`] marks the charge paid in
//! the poller's transaction.

use futures::future::BoxFuture;
use jiff::ToSpan;
use sportello_kit::{
    ErrorKind, ServiceError, UnitOfWork,
    payments::{PaidPosition, PaymentRequest, Purpose},
};
use sportello_pa::calendar::rome;
use uuid::Uuid;

use super::{CHARGE, Desk, domain::Payer, store, tariff};

/// Asks pagoPA for the notice of every charge of `subscription` that has none. `Ok(None)`
/// when all have one; `Ok(Some(why))`, Italian first, when pagoPA refused or did not
/// answer for some (those stay without notice). A charge whose due date passed while it
/// waited is re-dated 15 days on first: a notice is never issued already overdue.
pub async fn issue(
    desk: &Desk,
    subscription: &store::Subscription,
    payer: &Payer,
) -> Result<Option<String>, ServiceError> {
    let db = &desk.office.db;
    let today = rome::date_of(db.clock().now());
    let mut unavailable = None;
    for charge in subscription
        .charges
        .iter()
        .filter(|c| c.notice_number.is_none())
    {
        let mut due_date = charge.due_date;
        if due_date < today {
            due_date = today
                .checked_add(tariff::GRACE_DAYS.days())
                .map_err(ServiceError::internal)?;
            store::redate(db.pool(), charge.id, due_date).await?;
        }
        let purpose =
            Purpose::new(CHARGE, &charge.id.to_string()).map_err(ServiceError::internal)?;
        let request = PaymentRequest {
            municipality: subscription.municipality,
            purpose,
            debtor: payer.debtor.clone(),
            amount_cents: charge.amount_cents,
            due_date,
            description: format!(
                "{} {}, {} {}",
                capitalised(subscription.kind.italian()),
                charge.period,
                subscription.code,
                if charge.period.contains('/') {
                    "quota annuale"
                } else {
                    "quota mensile"
                },
            ),
        };
        match desk.ledger.request(request).await {
            Ok(notice) => {
                store::set_notice(
                    db.pool(),
                    charge.id,
                    notice.notice_number.as_str(),
                    notice.iuv.as_str(),
                )
                .await?;
            }
            Err(error) => {
                tracing::warn!(subscription_id = %subscription.id, charge_id = %charge.id,
                    error = %error, "a charge's pagoPA notice was not issued");
                unavailable = Some(error.message().to_owned());
                // pagoPA down answers the same for the next charge: ask again later. A
                // refusal of this one leaves the others to try.
                if error.kind() == ErrorKind::Unavailable {
                    break;
                }
            }
        }
    }
    Ok(unavailable)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The receipt of a charge: open → paid, in the poller's unit of work.
pub fn paid<'a>(
    uow: &'a mut UnitOfWork,
    paid: &'a PaidPosition,
) -> BoxFuture<'a, Result<(), ServiceError>> {
    Box::pin(async move {
        // Money received is never refused: a receipt for no open charge of ours is
        // recorded and published all the same, and left to the office (a refund).
        let Ok(id) = Uuid::parse_str(&paid.purpose.id) else {
            tracing::warn!(receipt = %paid.receipt_id,
                "a school fee paid for a purpose that is no charge id: recorded only");
            return Ok(());
        };
        if !store::mark_paid(uow, id, paid.paid_at, &paid.receipt_id).await? {
            tracing::warn!(charge_id = %id, receipt = %paid.receipt_id,
                "a school fee paid for a charge that is not open: recorded, the charge unchanged");
        }
        Ok(())
    })
}
