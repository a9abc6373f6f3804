//! Access to documents: an irregular or incomplete request, notified within 10 days of
//! receipt, stops the term until the corrected request restarts it (DPR 184/2006 art. 6
//! c. 5).

use sportello_kit::{CallContext, ServiceError, protocol::Outgoing};
use sportello_pa::{Stop, calendar::rome};
use sportello_proto::routing::v1::{OutgoingKind, WorkUpdateKind};
use uuid::Uuid;

use super::{
    domain::{Kind, State},
    store::{self, Access},
    work,
};
use crate::{error::UrpError, reports::Desk};

use super::flow::{locked, refresh, refuse, schedule_expiry, today, what};
/// Access to documents: the request is irregular or incomplete.
pub async fn notify_irregular(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    reason: String,
) -> Result<Access, ServiceError> {
    let current = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::find(&mut conn, id)
            .await?
            .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?
    };
    context.ensure_municipality(current.municipality)?;
    if current.kind != Kind::Documents {
        return Err(refuse(
            "la richiesta irregolare si applica all'accesso agli atti (DPR 184/2006 art. 6 c. 5) \
             / an irregular request applies to access to documents"
                .into(),
        ));
    }
    let letter = format!(
        "{} prot. {}: irregolare o incompleta (DPR 184/2006 art. 6 c. 5). {reason}\nIl termine \
         di 30 giorni decorre dalla ricezione della richiesta corretta.",
        what(current.kind),
        current.protocol_number
    );
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                current.municipality,
                &id.to_string(),
                OutgoingKind::Communication,
                &current.requester_ref,
                "Richiesta di accesso irregolare o incompleta",
                &letter,
            ),
        )
        .await?;
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    if a.state != State::Received
        || a.stops
            .iter()
            .any(|s| matches!(s, Stop::IrregularRequest { .. }))
    {
        return Err(refuse(format!(
            "la richiesta prot. {} non può più essere dichiarata irregolare ({}) / can no longer \
             be declared irregular",
            a.protocol_number,
            a.state.id()
        )));
    }
    a.stops.push(Stop::IrregularRequest {
        notified: rome::date_of(sent.registered_at),
        corrected: None,
    });
    let clock = refresh(&mut a)?;
    a.state = State::Irregular;
    a.irregular_reason = Some(reason);
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::Suspended,
        Some(clock),
        "Richiesta irregolare: si attende la richiesta corretta / waiting for the corrected request",
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// The corrected request arrived: the term starts again from today.
pub async fn record_correction(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    if a.state != State::Irregular {
        return Err(refuse(format!(
            "la richiesta prot. {} non attende correzioni ({}) / is not waiting for a correction",
            a.protocol_number,
            a.state.id()
        )));
    }
    let day = today(&uow);
    for stop in &mut a.stops {
        if let Stop::IrregularRequest { corrected, .. } = stop {
            *corrected = Some(day);
        }
    }
    let clock = refresh(&mut a)?;
    a.state = State::Received;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::Resumed,
        Some(clock),
        "Richiesta corretta ricevuta: il termine riparte / corrected request received: the term \
         starts again",
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}
