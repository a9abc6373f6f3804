//! Access to documents' term passing without a decision: silence is refusal (L.
//! 241/1990 art. 25 c. 4).

use futures::future::BoxFuture;
use sportello_kit::{ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_proto::{routing::v1::WorkUpdateKind, urp::v1::AccessDecided};
use uuid::Uuid;

use super::{
    domain::{Kind, State},
    store::{self},
    terms, work,
};

/// Access to documents: the 30 days passed without a decision, the request is deemed
/// refused; the register and routing hear of it, the remedies are named.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermExpired;

impl TimerHandler for TermExpired {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Ok(id) = Uuid::parse_str(&timer.key) else {
                return Ok(());
            };
            let Some(mut a) = store::lock(uow, id).await? else {
                return Ok(());
            };
            if a.kind != Kind::Documents || a.state != State::Received {
                return Ok(());
            }
            a.state = State::SilentlyRefused;
            a.remedies = Some(terms::remedies(Kind::Documents, None));
            let a = store::save(uow, &a).await?;
            work::update(
                uow,
                &a,
                false,
                WorkUpdateKind::Decided,
                None,
                "30 giorni senza decisione: la richiesta si intende respinta (L. 241/1990 art. 25 \
                 c. 4) / 30 days without a decision: the request is deemed refused",
                "silence_refusal",
            )
            .await?;
            let key = a.id.to_string();
            uow.emit(
                &AccessDecided {
                    access_id: key.clone(),
                    municipality_istat_code: a.municipality.to_string(),
                    kind: a.kind.message() as i32,
                    decision: 0,
                    grounds: Vec::new(),
                    silent: true,
                },
                work::aggregate(&a, &key),
            )
            .await?;
            tracing::info!(access_id = %id, "access to documents deemed refused by silence");
            Ok(())
        })
    }
}
