//! The citizen arrives: check-in opens a case in the counter queue, called at the
//! appointment's time ahead of walk-ins (dispatch treats a checked-in appointment as a
//! priority case whose place is its start time, within the site's fairness bound for
//! walk-ins who waited long). And the timers: a booking left unconfirmed gives its slot
//! back, one not checked in by the end of the window is a no-show, and the day before a
//! reminder is announced.

use futures::future::BoxFuture;
use sportello_kit::{CallContext, Role, ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_pa::calendar::rome;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        AppointmentCheckedIn, AppointmentReleased, AppointmentReminderDue, BookingStatus,
        CaseOpened, CaseStatus, CheckInRequest, CheckInResponse, PriorityCategory, TicketIssued,
    },
};
use uuid::Uuid;

use super::{
    Appointments,
    domain::{BookingRules, parse_code},
    emit, is_staff, store,
};
use crate::{
    cases::{self, domain::Case},
    error::RoutingError,
};

impl Appointments {
    /// Checks a booking in: at the kiosk with its code, or by an operator.
    pub async fn check_in(
        &self,
        context: &CallContext,
        request: CheckInRequest,
    ) -> Result<CheckInResponse, ServiceError> {
        if !is_staff(context) && !context.has_any_role(&[Role::Kiosk]) {
            return Err(ServiceError::new(
                sportello_kit::ErrorKind::PermissionDenied,
                "l'accettazione si fa al totem o da un operatore / check-in is at the kiosk or by an operator",
            ));
        }
        let code = parse_code("code", &request.code)?;
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let mut uow = self.db.begin().await?;
        let (mut booking, _, _) = store::lock(&mut uow, &code).await?;
        context.ensure_municipality(booking.municipality)?;
        if booking.site_id != site {
            return Err(RoutingError::OtherSite.into());
        }
        let documents = self.documents_of(&booking).await;
        match booking.status {
            BookingStatus::CheckedIn => {
                return Ok(CheckInResponse {
                    ticket_label: booking.ticket_label.clone().unwrap_or_default(),
                    case_id: booking.case_id.map(|c| c.to_string()).unwrap_or_default(),
                    booking: Some(booking.to_message(&documents)),
                });
            }
            BookingStatus::Confirmed => {}
            BookingStatus::Unconfirmed => {
                return Err(RoutingError::booking_is(
                    BookingStatus::Unconfirmed,
                    "va prima confermata con il codice ricevuto per e-mail / confirm it first with the e-mailed code",
                )
                .into());
            }
            other => {
                return Err(
                    RoutingError::booking_is(other, "prenotare di nuovo / book again").into(),
                );
            }
        }
        let rules = store::rules(uow.conn(), booking.municipality).await?;
        let now = uow.now();
        let opens = booking
            .start
            .checked_sub(BookingRules::minutes(rules.check_in_early_minutes))
            .unwrap_or(booking.start);
        let closes = booking
            .start
            .checked_add(BookingRules::minutes(rules.check_in_late_minutes))
            .unwrap_or(booking.start);
        if now < opens {
            let at = rome::zoned(opens).strftime("%H:%M");
            return Err(RoutingError::CheckInWindow(format!(
                "troppo presto: l'accettazione apre alle {at} / too early: check-in opens at {at}"
            ))
            .into());
        }
        if now > closes {
            let at = rome::zoned(closes).strftime("%H:%M");
            return Err(RoutingError::CheckInWindow(format!(
                "troppo tardi: l'accettazione è chiusa alle {at}, l'appuntamento è perso; prendere un biglietto o prenotare di nuovo / too late: check-in closed at {at}, the appointment is lost; take a ticket or book again"
            ))
            .into());
        }

        let catalogue = self.catalogue.get(booking.municipality).await?;
        let service = catalogue.service(&booking.service_code)?;
        let letter = catalogue.group(&booking.service_group)?.letter.clone();
        let ticket = cases::tickets::issue(
            &mut uow,
            booking.municipality.as_str(),
            site,
            &letter,
            PriorityCategory::None,
        )
        .await?;
        let case = Case {
            id: Uuid::now_v7(),
            municipality: booking.municipality,
            requester_ref: booking.requester_ref.parse().ok(),
            service_code: booking.service_code.clone(),
            department: service.department.clone(),
            tier: service.tier,
            channel: Channel::Appointment,
            site_id: Some(site),
            group: booking.service_group.clone(),
            priority: PriorityCategory::None,
            status: CaseStatus::Waiting,
            ticket_id: Some(ticket.id),
            ticket_label: Some(ticket.label.clone()),
            ticket_position: 0,
            // Its place in the queue is its time, however early the person came.
            arrival_at: booking.start,
            opened_at: now,
            operator_id: None,
            counter_number: None,
            call_count: 0,
            called_at: None,
            outcome_code: None,
            closed_at: None,
            version: 1,
        };
        cases::store::insert(&mut uow, &case, context.actor()).await?;
        cases::events::emit(
            &mut uow,
            &CaseOpened {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        let ticket_id = ticket.id.to_string();
        uow.emit(
            &TicketIssued {
                ticket: Some(ticket.to_message(&[case.id])),
                people_ahead: 0,
            },
            sportello_kit::Aggregate {
                kind: "routing.ticket",
                id: &ticket_id,
                version: 1,
                municipality: booking.municipality,
            },
        )
        .await?;
        booking.status = BookingStatus::CheckedIn;
        booking.case_id = Some(case.id);
        booking.ticket_label = Some(ticket.label.clone());
        booking.version += 1;
        store::update(&mut uow, &booking, None).await?;
        let key = booking.id.to_string();
        uow.cancel_timer(super::NO_SHOW_TIMER, &key).await?;
        uow.cancel_timer(super::REMINDER_TIMER, &key).await?;
        let message = booking.to_message(&documents);
        emit(
            &mut uow,
            &AppointmentCheckedIn {
                booking: Some(message.clone()),
            },
            &booking,
        )
        .await?;
        uow.commit().await?;
        self.dispatcher.apply(&case);
        Ok(CheckInResponse {
            booking: Some(message),
            ticket_label: ticket.label,
            case_id: case.id.to_string(),
        })
    }

    /// A booking's timer fired: expire it, mark it a no-show, or announce its reminder,
    /// if it still stands where the timer expected.
    async fn fire(&self, uow: &mut UnitOfWork, timer: &Timer) -> Result<(), ServiceError> {
        let id = timer
            .payload
            .get("booking")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                ServiceError::internal(format!("timer {} names no booking", timer.id))
            })?;
        let Some(mut booking) = store::lock_by_id(uow, id).await? else {
            return Ok(());
        };
        let (becomes, reason) = match (timer.kind.as_str(), booking.status) {
            (super::CONFIRM_TIMER, BookingStatus::Unconfirmed) => {
                (BookingStatus::Expired, "non confermata in tempo")
            }
            (super::NO_SHOW_TIMER, BookingStatus::Confirmed) => {
                (BookingStatus::NoShow, "non presentato")
            }
            (super::OFFER_TIMER, BookingStatus::Offered) => (
                BookingStatus::Expired,
                "offerta della lista d'attesa non accettata",
            ),
            (super::REMINDER_TIMER, BookingStatus::Confirmed) => {
                let documents = self.documents_of(&booking).await;
                emit(
                    uow,
                    &AppointmentReminderDue {
                        booking: Some(booking.to_message(&documents)),
                    },
                    &booking,
                )
                .await?;
                return Ok(());
            }
            // The world moved on (confirmed, cancelled, checked in): nothing to do.
            _ => return Ok(()),
        };
        booking.status = becomes;
        booking.confirm_deadline = None;
        booking.version += 1;
        store::update(uow, &booking, Some(reason)).await?;
        let keys = [booking.id.to_string()];
        for kind in [
            super::CONFIRM_TIMER,
            super::NO_SHOW_TIMER,
            super::REMINDER_TIMER,
        ] {
            if kind != timer.kind {
                uow.cancel_timers(kind, &keys).await?;
            }
        }
        let documents = self.documents_of(&booking).await;
        emit(
            uow,
            &AppointmentReleased {
                booking: Some(booking.to_message(&documents)),
            },
            &booking,
        )
        .await?;
        // A slot given back ahead of its time goes to the waitlist (a no-show's time has
        // passed: offer_freed lets it be).
        if timer.kind == super::OFFER_TIMER {
            self.offer_lapsed(uow, &booking).await
        } else {
            self.offer_freed(uow, &booking).await
        }
    }
}

/// Fires the appointment timers.
#[derive(Debug, Clone)]
pub struct BookingTimers(pub Appointments);

impl TimerHandler for BookingTimers {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move { self.0.fire(uow, timer).await })
    }
}
