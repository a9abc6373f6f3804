//! The counter-interested parties: notified, their 10 days to object, their objections
//! (DPR 184/2006 art. 3; D.Lgs 33/2013 art. 5 c. 5 — civic access's term suspended).

use jiff::civil::Date;
use sportello_kit::{CallContext, ServiceError};
use sportello_pa::Stop;
use sportello_proto::routing::v1::WorkUpdateKind;
use uuid::Uuid;

use super::{
    domain::State,
    store::{self, Access, ObjectionRow},
    terms, work,
};
use crate::reports::Desk;

use super::flow::{locked, refresh, refuse, schedule_expiry, today};
/// The counter-interested parties were sent the request on `notified`.
pub async fn notify_counter_interested(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    parties: u32,
    notified: Option<Date>,
) -> Result<Access, ServiceError> {
    if !(1..=50).contains(&parties) {
        return Err(ServiceError::invalid_field(
            "parties",
            "da 1 a 50 controinteressati / 1 to 50 parties",
        ));
    }
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = notified.unwrap_or_else(|| today(&uow));
    if day > today(&uow) || day < a.received_on {
        return Err(ServiceError::invalid_field(
            "received_date",
            format!(
                "tra il {} e oggi / between {} and today",
                a.received_on, a.received_on
            ),
        ));
    }
    if a.state != State::Received || a.counter_interested > 0 {
        return Err(refuse(format!(
            "i controinteressati della richiesta prot. {} sono già stati avvisati o la richiesta \
             non attende una decisione ({}) / the parties were already notified, or the request \
             awaits no decision",
            a.protocol_number,
            a.state.id()
        )));
    }
    a.counter_interested = i32::try_from(parties).unwrap_or(50);
    a.counter_interested_notified_on = Some(day);
    a.objection_deadline = Some(terms::objection_deadline(a.municipality, day)?);
    // Civic access: the term is suspended meanwhile (art. 5 c. 5); access to documents
    // waits for their 10 days within its 30 (DPR 184/2006 art. 3 c. 2).
    if a.kind.is_civic() {
        a.stops.push(Stop::CounterInterested {
            notified: day,
            objection: None,
        });
    }
    let clock = refresh(&mut a)?;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::ClockChanged,
        Some(clock),
        &format!(
            "Controinteressati avvisati: opposizioni fino al {} / counter-interested parties may \
             object until then",
            a.objection_deadline
                .map(|d| d.to_string())
                .unwrap_or_default()
        ),
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// A counter-interested party objected today.
pub async fn record_objection(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    party: u32,
    reasons: String,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    let Some(deadline) = a.objection_deadline else {
        return Err(refuse(format!(
            "nessun controinteressato è stato avvisato della richiesta prot. {} / no \
             counter-interested party was notified",
            a.protocol_number
        )));
    };
    if party == 0 || i64::from(party) > i64::from(a.counter_interested) {
        return Err(ServiceError::invalid_field(
            "party",
            format!(
                "da 1 a {} (i controinteressati avvisati) / 1 to the number notified",
                a.counter_interested
            ),
        ));
    }
    if day > deadline {
        return Err(refuse(format!(
            "opposizione giunta il {day}, oltre i 10 giorni concessi (fino al {deadline}) / the \
             objection arrived after the 10 days (until {deadline})"
        )));
    }
    if a.state != State::Received {
        return Err(refuse(format!(
            "la richiesta prot. {} non attende una decisione ({}) / awaits no decision",
            a.protocol_number,
            a.state.id()
        )));
    }
    let party = i32::try_from(party).unwrap_or(i32::MAX);
    if !store::insert_objection(
        &mut uow,
        a.id,
        &ObjectionRow {
            party,
            received_on: day,
            reasons,
        },
    )
    .await?
    {
        return Err(refuse(format!(
            "il controinteressato {party} si è già opposto / party {party} already objected"
        )));
    }
    let objected = store::objections(uow.conn(), a.id).await?.len();
    // The suspension ends with the last objection; until all have objected, their window.
    if a.kind.is_civic() && objected >= usize::try_from(a.counter_interested).unwrap_or(0) {
        for stop in &mut a.stops {
            if let Stop::CounterInterested { objection, .. } = stop {
                *objection = Some(day);
            }
        }
    }
    let clock = refresh(&mut a)?;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::ClockChanged,
        Some(clock),
        &format!("Opposizione del controinteressato {party} / party {party} objected"),
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}
