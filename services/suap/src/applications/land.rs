//! An application for public land, decided: the decision grants its occupation — the
//! database's conflict rule decides whether the place is still free — and a durable
//! timer asks pagoPA for the canone's notice once the decision is committed (the notice
//! is an external call, never made inside the decision's transaction). A place taken
//! meanwhile does not become a grant: the application goes back to the back office as a
//! new round of work, with the reason.

use futures::future::BoxFuture;
use sportello_kit::{Db, ErrorKind, ServiceError, Timer, TimerHandler, UnitOfWork};
use uuid::Uuid;

use super::store::Application;
use crate::{
    occupations::{self, domain::Requester},
    payments::SuapPayments,
};

/// Asks pagoPA for a granted occupation's canone notice, after the grant commits.
pub const NOTICE_TIMER: &str = "suap.canone_notice";

/// Grants the application's occupation, if it has one, in `uow`. `Ok(Err(why))` when the
/// place cannot be granted now (taken by another occupation, no tariff for its year):
/// the decision must not stand as a grant.
pub async fn grant(
    uow: &mut UnitOfWork,
    app: &Application,
) -> Result<Result<(), String>, ServiceError> {
    let Some(occupation) = app.occupation_id else {
        return Ok(Ok(()));
    };
    match occupations::flow::grant(uow, app.municipality, occupation).await {
        Ok(_) => {
            uow.schedule_timer(
                NOTICE_TIMER,
                &occupation.to_string(),
                uow.now(),
                serde_json::Value::Null,
            )
            .await?;
            Ok(Ok(()))
        }
        Err(error) if error.kind() == ErrorKind::FailedPrecondition => {
            Ok(Err(error.message().to_owned()))
        }
        Err(error) => Err(error),
    }
}

/// Asks pagoPA for the notice of a granted occupation's canone (a business's: a person's
/// payer data live in the registry, and they pay at the counter for now). A pagoPA that
/// does not answer fails the timer, which the kit fires again later.
#[derive(Debug, Clone)]
pub struct CanoneNotice {
    /// The SUAP's ledger.
    pub payments: SuapPayments,
    /// The SUAP's database.
    pub db: Db,
}

impl TimerHandler for CanoneNotice {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = Uuid::parse_str(&timer.key)
                .map_err(|_| ServiceError::internal("a canone timer whose key is no id"))?;
            let Some(occupation) = occupations::store::get(uow.conn(), id).await? else {
                return Ok(());
            };
            if occupation.status != "granted"
                || matches!(occupation.requester, Requester::Person(_))
            {
                return Ok(());
            }
            occupations::payment::canone_notice(&self.payments, &self.db, &occupation)
                .await
                .map(|notice| {
                    tracing::info!(occupation_id = %id, notice = %notice.notice_number,
                        "the canone's notice is at pagoPA");
                })
                .map_err(|why| ServiceError::new(ErrorKind::Unavailable, why))
        })
    }
}
