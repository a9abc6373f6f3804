//! Booking a slot, confirming it with the e-mailed code, cancelling, moving, reading.
//!
//! Fairness: every booking is bound to a person (`requester_ref` from a checked fiscal
//! code) and counted against the caps — open bookings per person and service, bookings
//! per person and day, and for bookings made online, per network source and per e-mail
//! address in 24 hours — under advisory locks on those keys, so concurrent bookings
//! cannot slip under a cap together. The slot itself is settled by the exclusion
//! constraints: of any number of concurrent bookings of one slot, exactly one commits.

use jiff::{SignedDuration, Timestamp};
use sportello_kit::{
    CallContext, IdempotencyKey, MunicipalityCode, RequesterRef, ServiceError, TimerAt, UnitOfWork,
    mail::{Address, Mail},
};
use sportello_pa::{CodiceFiscale, calendar::rome};
use sportello_proto::routing::v1::{
    AppointmentBooked, AppointmentConfirmed, AppointmentReleased, AppointmentRescheduled,
    BookRequest, BookResponse, BookingStatus, CancelBookingRequest, CancelBookingResponse,
    ConfirmBookingRequest, ConfirmBookingResponse, GetBookingRequest, GetBookingResponse,
    ListBookingsRequest, ListBookingsResponse, RescheduleBookingRequest, RescheduleBookingResponse,
};
use uuid::Uuid;

use super::{
    Appointments, CONFIRM_TIMER, NO_SHOW_TIMER, REMINDER_TIMER,
    domain::{
        Booking, BookingRules, new_code, new_confirmation_code, parse_code, parse_date,
        parse_instant,
    },
    emit, is_staff,
    search::bookable,
    short_hash,
    slots::{Calendars, Candidate, instants},
    store::{self, Secrets},
};
use crate::{catalogue::domain::ServiceType, error::RoutingError};

/// How many wrong confirmation codes a booking takes before it gives its slot back.
const CONFIRM_ATTEMPTS: i16 = 5;

/// A fiscal code, checked (check character included).
pub(crate) fn fiscal_code(raw: &str) -> Result<CodiceFiscale, ServiceError> {
    raw.trim()
        .to_ascii_uppercase()
        .parse::<CodiceFiscale>()
        .map_err(|e| {
            ServiceError::invalid_field(
                "fiscal_code",
                format!("codice fiscale non valido: {e} / not a valid fiscal code: {e}"),
            )
        })
}

/// The keyed hash a confirmation code is kept as.
fn confirmation_hash(app: &Appointments, booking: Uuid, code: &str) -> String {
    hex::encode(
        app.key
            .keyed_hash("booking.confirm", &format!("{booking}:{code}")),
    )
}

/// Arms a booking's timers for its status: the confirmation deadline, the end of the
/// check-in window, and the reminder the day before (at 10:00 Rome, if still ahead).
pub(crate) async fn arm(
    uow: &mut UnitOfWork,
    b: &Booking,
    rules: &BookingRules,
) -> Result<(), sqlx::Error> {
    let key = b.id.to_string();
    let payload = serde_json::json!({ "booking": key });
    let mut timers = Vec::new();
    if let (BookingStatus::Unconfirmed, Some(deadline)) = (b.status, b.confirm_deadline) {
        timers.push(TimerAt {
            kind: CONFIRM_TIMER,
            key: key.clone(),
            due_at: deadline,
            payload: payload.clone(),
        });
    }
    if let Ok(no_show) = b
        .start
        .checked_add(BookingRules::minutes(rules.check_in_late_minutes))
    {
        timers.push(TimerAt {
            kind: NO_SHOW_TIMER,
            key: key.clone(),
            due_at: no_show,
            payload: payload.clone(),
        });
    }
    let reminder = rome::date_of(b.start)
        .yesterday()
        .ok()
        .and_then(|d| {
            d.to_datetime(jiff::civil::Time::constant(10, 0, 0, 0))
                .to_zoned(rome::tz())
                .ok()
        })
        .map(|z| z.timestamp())
        .filter(|at| *at > uow.now());
    match reminder {
        Some(due_at) => timers.push(TimerAt {
            kind: REMINDER_TIMER,
            key: key.clone(),
            due_at,
            payload,
        }),
        None => {
            uow.cancel_timer(REMINDER_TIMER, &key).await?;
        }
    }
    uow.schedule_timers(&timers).await
}

/// Disarms every timer of a booking that gave its slot back.
async fn disarm(uow: &mut UnitOfWork, b: &Booking) -> Result<(), sqlx::Error> {
    let keys = [b.id.to_string()];
    for kind in [CONFIRM_TIMER, NO_SHOW_TIMER, REMINDER_TIMER] {
        uow.cancel_timers(kind, &keys).await?;
    }
    Ok(())
}

/// The candidates no other transaction is booking right now: each slot (operator and
/// start) is claimed with a transaction-scoped advisory try-lock, so of concurrent
/// bookings of one slot one goes on and the others are answered at once — instead of
/// all inserting and waiting on the exclusion constraints (and, with two constraints,
/// on each other: a deadlock). The constraints still decide: a claim only spares the
/// wait.
async fn claim<'c>(
    uow: &mut UnitOfWork,
    candidates: &'c [Candidate],
) -> Result<Vec<&'c Candidate>, ServiceError> {
    let mut claimed = Vec::new();
    for c in candidates {
        let key = format!("{}@{}", c.operator, c.start);
        let got: bool =
            sqlx::query_scalar("select pg_try_advisory_xact_lock(hashtextextended($1, 11))")
                .bind(&key)
                .fetch_one(uow.conn())
                .await?;
        if got {
            claimed.push(c);
        }
    }
    if claimed.is_empty() {
        return Err(RoutingError::SlotTaken.into());
    }
    Ok(claimed)
}

/// Tries the candidates in turn, each in a savepoint, until one is not taken; the
/// exclusion constraints decide. `write` inserts or moves the booking into `c`.
async fn first_free<'c, F>(
    uow: &mut UnitOfWork,
    candidates: &[&'c Candidate],
    mut write: F,
) -> Result<&'c Candidate, ServiceError>
where
    F: for<'u> FnMut(
        &'u mut UnitOfWork,
        &'c Candidate,
    ) -> futures::future::BoxFuture<'u, Result<(), RoutingError>>,
{
    for &c in candidates {
        sqlx::query("savepoint slot").execute(uow.conn()).await?;
        match write(uow, c).await {
            Ok(()) => return Ok(c),
            Err(RoutingError::SlotTaken) => {
                sqlx::query("rollback to savepoint slot")
                    .execute(uow.conn())
                    .await?;
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(RoutingError::SlotTaken.into())
}

impl Appointments {
    /// The slots starting at `start` at `site` (with `operator`, if named) that the
    /// caller may book, or a precise reason why there are none.
    async fn slots_at(
        &self,
        municipality: MunicipalityCode,
        service: &ServiceType,
        site: Uuid,
        start: Timestamp,
        operator: Option<&str>,
        staff: bool,
    ) -> Result<(Vec<Candidate>, BookingRules), ServiceError> {
        let now = self.db.clock().now();
        if start <= now {
            return Err(RoutingError::invalid(
                "start_time",
                "è nel passato: scegliere un orario futuro / is in the past: choose a future slot",
            )
            .into());
        }
        let day = rome::date_of(start);
        let calendars =
            Calendars::load(&self.calendars, &self.db, municipality, service, &[site]).await?;
        if let Some(why) = calendars.closed_because(site, day) {
            return Err(RoutingError::invalid(
                "start_time",
                format!("la sede è chiusa il {day} ({why}) / the site is closed on {day} ({why})"),
            )
            .into());
        }
        let at: Vec<Candidate> = calendars
            .lay(day)
            .into_iter()
            .filter(|c| c.site == site && c.start == start)
            .filter(|c| operator.is_none_or(|o| o == c.operator))
            .collect();
        if at.is_empty() {
            return Err(RoutingError::invalid(
                "start_time",
                "nessun appuntamento inizia a quell'ora in questa sede / no slot starts then at this site",
            )
            .into());
        }
        // The back office may book what the public cannot yet: releasing in tranches is
        // a defence of the public channel.
        let released: Vec<Candidate> = at
            .iter()
            .filter(|c| staff || c.released <= now)
            .cloned()
            .collect();
        if released.is_empty() {
            let opens = at.iter().map(|c| c.released).min().unwrap_or(now);
            let local = rome::zoned(opens).strftime("%d/%m/%Y %H:%M");
            return Err(RoutingError::invalid(
                "start_time",
                format!(
                    "non ancora prenotabile: apre il {local} / not released yet: opens at {local}"
                ),
            )
            .into());
        }
        Ok((released, calendars.rules))
    }

    /// Refuses a booking over a cap, naming the rule.
    fn check_caps(
        rules: &BookingRules,
        held: &store::Held,
        online: bool,
    ) -> Result<(), RoutingError> {
        let checks = [
            (
                "max_open_per_service",
                held.for_service,
                i64::from(rules.max_open_per_service),
                true,
            ),
            (
                "max_per_person_per_day",
                held.on_day,
                i64::from(rules.max_per_person_per_day),
                true,
            ),
            (
                "max_per_source_per_day",
                held.from_source,
                i64::from(rules.max_per_source_per_day),
                online,
            ),
            (
                "max_per_email_per_day",
                held.by_email,
                i64::from(rules.max_per_email_per_day),
                online,
            ),
        ];
        match checks
            .into_iter()
            .find(|(_, count, limit, applies)| *applies && count >= limit)
        {
            Some((rule, _, limit, _)) => Err(RoutingError::CapReached { rule, limit }),
            None => Ok(()),
        }
    }

    /// Books a slot.
    pub async fn book(
        &self,
        context: &CallContext,
        request: BookRequest,
    ) -> Result<BookResponse, ServiceError> {
        let staff = is_staff(context);
        let municipality: MunicipalityCode = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        context.ensure_municipality(municipality)?;
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let start = parse_instant("start_time", request.start_time.as_ref())?;
        let operator = (!request.operator_id.is_empty()).then_some(request.operator_id.as_str());
        let person = fiscal_code(&request.fiscal_code)?;
        let email = match (request.email.trim(), staff) {
            ("", true) => None,
            ("", false) => {
                return Err(ServiceError::invalid_field(
                    "email",
                    "serve un indirizzo e-mail per ricevere il codice di conferma / an e-mail address is needed for the confirmation code",
                ));
            }
            (raw, _) => Some(
                raw.parse::<Address>()
                    .map_err(|e| ServiceError::invalid_field("email", e.to_string()))?,
            ),
        };
        let source = request.source.trim();
        if !staff && source.is_empty() {
            return Err(ServiceError::invalid_field(
                "source",
                "la prenotazione online indica la sua origine di rete / an online booking names its network source",
            ));
        }
        let origin_case = match request.origin_case_id.as_str() {
            "" => None,
            raw => Some(sportello_kit::domain::parse_field::<Uuid>(
                "origin_case_id",
                raw,
            )?),
        };
        if origin_case.is_some() && !staff {
            return Err(ServiceError::invalid_field(
                "origin_case_id",
                "solo un operatore prenota da una pratica di sportello / only an operator books from a counter case",
            ));
        }
        let idempotency = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let mailer = match (staff, &self.mailer) {
            (false, None) => {
                return Err(ServiceError::unavailable(
                    "la prenotazione online richiede l'invio di e-mail, non configurato (SMTP_URL) / online booking needs e-mail, which is not configured (SMTP_URL)",
                    RoutingError::MailNotConfigured,
                ));
            }
            (false, Some(m)) => Some(m.clone()),
            (true, _) => None,
        };

        let catalogue = self.catalogue.get(municipality).await?;
        let service = catalogue.service(&request.service_code)?.clone();
        bookable(&service)?;
        let site_record = self
            .sites_serving(context, municipality, &service.group, &[site])
            .await?
            .pop()
            .ok_or(RoutingError::SiteNotFound)?;
        let (candidates, rules) = self
            .slots_at(municipality, &service, site, start, operator, staff)
            .await?;

        let requester_ref = RequesterRef::derive(&self.key, municipality, person.as_str());
        let online = !staff;
        let secrets_base = Secrets {
            source_ref: online.then(|| short_hash(&self.key, "booking.source", source)),
            email_ref: email
                .as_ref()
                .map(|e| short_hash(&self.key, "booking.email", e.as_str())),
            confirmation_hash: None,
        };
        let id = Uuid::now_v7();
        let confirmation = if online {
            Some(new_confirmation_code()?)
        } else {
            None
        };
        let secrets = Secrets {
            confirmation_hash: confirmation
                .as_deref()
                .map(|code| confirmation_hash(self, id, code)),
            ..secrets_base
        };
        let code = new_code()?;
        let booked_by = if staff {
            context.actor().to_owned()
        } else {
            "citizen".to_owned()
        };
        let fingerprint = BookRequest {
            idempotency_key: String::new(),
            ..request
        };
        let documents = service.documents.clone();
        let service_for_mail = service.clone();
        // A retry of a booking already made answers with it — before the in-memory claims
        // below, which its first attempt holds for seconds and would refuse as taken. (A
        // retry racing a first attempt that has not yet written its key is still refused.)
        if let Some(response) = self
            .db
            .replay::<BookResponse>("routing.book", idempotency, &fingerprint)
            .await?
        {
            return Ok(response);
        }
        // Another booking of these slots in flight here, or one just made: answered now.
        let keys: Vec<String> = candidates
            .iter()
            .map(|c| super::claims::key(&c.operator, c.start))
            .collect();
        let held_here = self.claims.claim(&keys).ok_or(RoutingError::SlotTaken)?;
        let candidates: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| {
                held_here
                    .keys()
                    .contains(&super::claims::key(&c.operator, c.start))
            })
            .collect();

        let (response, replayed) = self
            .db
            .idempotent_or_replay("routing.book", idempotency, &fingerprint, |uow| {
                Box::pin(async move {
                    let now = uow.now();
                    let people: Vec<&str> = [
                        Some(requester_ref.as_str()),
                        secrets.source_ref.as_deref(),
                        secrets.email_ref.as_deref(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    let claimed = claim(uow, &candidates).await?;
                    store::lock_people(uow, &people).await?;
                    let day = instants(rome::date_of(start), 1)?;
                    let since = now
                        .checked_sub(SignedDuration::from_hours(24))
                        .unwrap_or(now);
                    let held = store::held(
                        uow,
                        requester_ref.as_str(),
                        &service.code,
                        day,
                        secrets.source_ref.as_deref(),
                        secrets.email_ref.as_deref(),
                        since,
                        None,
                    )
                    .await?;
                    Self::check_caps(&rules, &held, online)?;
                    let confirm_deadline = online
                        .then(|| {
                            now.checked_add(BookingRules::minutes(rules.confirm_minutes))
                                .ok()
                        })
                        .flatten();
                    let template = Booking {
                        id,
                        code,
                        municipality,
                        service_code: service.code.clone(),
                        service_group: service.group.clone(),
                        site_id: site,
                        operator_id: String::new(),
                        counter_number: 0,
                        start,
                        end: start,
                        status: if online {
                            BookingStatus::Unconfirmed
                        } else {
                            BookingStatus::Confirmed
                        },
                        requester_ref: requester_ref.as_str().to_owned(),
                        confirm_deadline,
                        case_id: None,
                        ticket_label: None,
                        origin_case_id: origin_case,
                        booked_by,
                        created_at: now,
                        version: 1,
                    };
                    let chosen = first_free(uow, &claimed, |uow, c| {
                        let mut b = template.clone();
                        b.operator_id = c.operator.clone();
                        b.counter_number = c.counter;
                        b.end = c.end;
                        let secrets = secrets.clone();
                        Box::pin(async move { store::insert(uow, &b, &secrets).await })
                    })
                    .await?;
                    let booking = Booking {
                        operator_id: chosen.operator.clone(),
                        counter_number: chosen.counter,
                        end: chosen.end,
                        ..template
                    };
                    let message = booking.to_message(&documents);
                    emit(
                        uow,
                        &AppointmentBooked {
                            booking: Some(message.clone()),
                        },
                        &booking,
                    )
                    .await?;
                    arm(uow, &booking, &rules).await?;
                    Ok(BookResponse {
                        booking: Some(message),
                        confirmation_sent: online,
                    })
                })
            })
            .await?;
        if let Some(b) = response.booking.as_ref()
            && let Some(start) = b
                .start_time
                .as_ref()
                .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
        {
            held_here.booked(&super::claims::key(&b.operator_id, start));
        }
        if replayed {
            return Ok(response);
        }
        if let (Some(mailer), Some(to), Some(code), Some(booking)) =
            (mailer, email, confirmation, response.booking.as_ref())
        {
            let mail = confirmation_mail(
                to,
                &code,
                booking,
                &service_for_mail,
                &site_record.site.name,
            );
            if let Err(error) = mailer.send(mail).await {
                // The code never left: give the slot back at once rather than hold it
                // for a confirmation that cannot come.
                tracing::warn!(kind = ?error, "the confirmation e-mail could not be sent");
                self.release_unsent(&booking.code).await?;
                return Err(ServiceError::unavailable(
                    "non è stato possibile inviare il codice di conferma: riprovare più tardi / the confirmation code could not be sent: try again later",
                    error,
                ));
            }
        }
        Ok(response)
    }

    /// Gives back the slot of a booking whose confirmation e-mail failed.
    async fn release_unsent(&self, code: &str) -> Result<(), ServiceError> {
        let mut uow = self.db.begin().await?;
        let (mut booking, _, _) = store::lock(&mut uow, code).await?;
        if booking.status == BookingStatus::Unconfirmed {
            booking.status = BookingStatus::Expired;
            booking.confirm_deadline = None;
            booking.version += 1;
            store::update(
                &mut uow,
                &booking,
                Some("codice di conferma non recapitato"),
            )
            .await?;
            disarm(&mut uow, &booking).await?;
            let documents = self.documents_of(&booking).await;
            emit(
                &mut uow,
                &AppointmentReleased {
                    booking: Some(booking.to_message(&documents)),
                },
                &booking,
            )
            .await?;
        }
        uow.commit().await?;
        self.claims
            .forget(&super::claims::key(&booking.operator_id, booking.start));
        Ok(())
    }

    /// The documents the catalogue asks to bring for a booking's service.
    pub(crate) async fn documents_of(&self, booking: &Booking) -> Vec<String> {
        self.catalogue
            .get(booking.municipality)
            .await
            .ok()
            .and_then(|c| {
                c.service(&booking.service_code)
                    .ok()
                    .map(|s| s.documents.clone())
            })
            .unwrap_or_default()
    }

    /// Confirms a citizen's booking with the e-mailed code.
    pub async fn confirm(
        &self,
        context: &CallContext,
        request: ConfirmBookingRequest,
    ) -> Result<ConfirmBookingResponse, ServiceError> {
        let code = parse_code("code", &request.code)?;
        let given = request.confirmation_code.trim();
        if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ServiceError::invalid_field(
                "confirmation_code",
                "il codice di conferma ha 6 cifre / the confirmation code has 6 digits",
            ));
        }
        let mut uow = self.db.begin().await?;
        let (mut booking, secrets, attempts) = store::lock(&mut uow, &code).await?;
        context.ensure_visible(booking.municipality)?;
        let documents = self.documents_of(&booking).await;
        match booking.status {
            BookingStatus::Confirmed | BookingStatus::CheckedIn => {
                return Ok(ConfirmBookingResponse {
                    booking: Some(booking.to_message(&documents)),
                });
            }
            BookingStatus::Unconfirmed => {}
            other => {
                return Err(
                    RoutingError::booking_is(other, "prenotare di nuovo / book again").into(),
                );
            }
        }
        let now = uow.now();
        if booking.confirm_deadline.is_some_and(|d| d <= now) || attempts >= CONFIRM_ATTEMPTS {
            return Err(RoutingError::booking_is(
                BookingStatus::Expired,
                "il tempo per confermare è scaduto: prenotare di nuovo / the time to confirm ran out: book again",
            )
            .into());
        }
        // The stored value is a keyed hash: comparing it leaks nothing an attacker could
        // steer, since they cannot compute the hash of a guess.
        if secrets.confirmation_hash.as_deref()
            != Some(confirmation_hash(self, booking.id, given).as_str())
        {
            store::count_wrong_code(&mut uow, booking.id).await?;
            uow.commit().await?;
            let left = CONFIRM_ATTEMPTS - attempts - 1;
            return Err(ServiceError::invalid_field(
                "confirmation_code",
                format!(
                    "codice errato; tentativi rimasti: {left} / wrong code; attempts left: {left}"
                ),
            ));
        }
        booking.status = BookingStatus::Confirmed;
        booking.confirm_deadline = None;
        booking.version += 1;
        store::update(&mut uow, &booking, None).await?;
        uow.cancel_timer(CONFIRM_TIMER, &booking.id.to_string())
            .await?;
        let message = booking.to_message(&documents);
        emit(
            &mut uow,
            &AppointmentConfirmed {
                booking: Some(message.clone()),
            },
            &booking,
        )
        .await?;
        uow.commit().await?;
        Ok(ConfirmBookingResponse {
            booking: Some(message),
        })
    }

    /// Staff of the booking's municipality, or the person it is for (by fiscal code);
    /// anyone else is told it does not exist.
    fn ensure_owner(
        &self,
        context: &CallContext,
        booking: &Booking,
        raw_fiscal_code: &str,
    ) -> Result<(), ServiceError> {
        if is_staff(context) {
            return context.ensure_municipality(booking.municipality);
        }
        let person = fiscal_code(raw_fiscal_code)?;
        let r = RequesterRef::derive(&self.key, booking.municipality, person.as_str());
        if r.as_str() != booking.requester_ref {
            return Err(RoutingError::BookingNotFound.into());
        }
        Ok(())
    }

    /// A booking by its code.
    pub async fn get(
        &self,
        context: &CallContext,
        request: GetBookingRequest,
    ) -> Result<GetBookingResponse, ServiceError> {
        let code = parse_code("code", &request.code)?;
        let booking = store::by_code(self.db.pool(), &code).await?;
        self.ensure_owner(context, &booking, &request.fiscal_code)?;
        let documents = self.documents_of(&booking).await;
        Ok(GetBookingResponse {
            booking: Some(booking.to_message(&documents)),
        })
    }

    /// Cancels a booking; its slot is free at once.
    pub async fn cancel(
        &self,
        context: &CallContext,
        request: CancelBookingRequest,
    ) -> Result<CancelBookingResponse, ServiceError> {
        let code = parse_code("code", &request.code)?;
        let reason = request.reason.trim();
        if is_staff(context) && reason.is_empty() {
            return Err(ServiceError::invalid_field(
                "reason",
                "un operatore indica il motivo dell'annullamento / an operator gives the reason for cancelling",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(ServiceError::invalid_field(
                "reason",
                "al massimo 500 caratteri / at most 500 characters",
            ));
        }
        let mut uow = self.db.begin().await?;
        let (mut booking, _, _) = store::lock(&mut uow, &code).await?;
        self.ensure_owner(context, &booking, &request.fiscal_code)?;
        let documents = self.documents_of(&booking).await;
        match booking.status {
            BookingStatus::Cancelled => {
                return Ok(CancelBookingResponse {
                    booking: Some(booking.to_message(&documents)),
                });
            }
            BookingStatus::Unconfirmed | BookingStatus::Confirmed | BookingStatus::Offered => {}
            other => {
                return Err(RoutingError::booking_is(
                    other,
                    "si annulla solo una prenotazione non ancora usata / only a booking not yet used can be cancelled",
                )
                .into());
            }
        }
        booking.status = BookingStatus::Cancelled;
        booking.confirm_deadline = None;
        booking.version += 1;
        let reason = if reason.is_empty() {
            "annullata dal cittadino"
        } else {
            reason
        };
        store::update(&mut uow, &booking, Some(reason)).await?;
        disarm(&mut uow, &booking).await?;
        let message = booking.to_message(&documents);
        emit(
            &mut uow,
            &AppointmentReleased {
                booking: Some(message.clone()),
            },
            &booking,
        )
        .await?;
        self.offer_freed(&mut uow, &booking).await?;
        uow.commit().await?;
        self.claims
            .forget(&super::claims::key(&booking.operator_id, booking.start));
        Ok(CancelBookingResponse {
            booking: Some(message),
        })
    }

    /// Moves a booking to another slot in one row update: it never holds two slots, and
    /// keeps its own if the new one is taken.
    pub async fn reschedule(
        &self,
        context: &CallContext,
        request: RescheduleBookingRequest,
    ) -> Result<RescheduleBookingResponse, ServiceError> {
        let staff = is_staff(context);
        let code = parse_code("code", &request.code)?;
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let start = parse_instant("start_time", request.start_time.as_ref())?;
        let operator = (!request.operator_id.is_empty()).then(|| request.operator_id.clone());
        let idempotency = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let current = store::by_code(self.db.pool(), &code).await?;
        self.ensure_owner(context, &current, &request.fiscal_code)?;
        let catalogue = self.catalogue.get(current.municipality).await?;
        let service = catalogue.service(&current.service_code)?.clone();
        self.sites_serving(context, current.municipality, &service.group, &[site])
            .await?;
        let (candidates, rules) = self
            .slots_at(
                current.municipality,
                &service,
                site,
                start,
                operator.as_deref(),
                staff,
            )
            .await?;
        let documents = service.documents.clone();
        let fingerprint = RescheduleBookingRequest {
            idempotency_key: String::new(),
            ..request
        };
        let old_slot = super::claims::key(&current.operator_id, current.start);
        let moved = self
            .db
            .idempotent("routing.reschedule_booking", idempotency, &fingerprint, |uow| {
                Box::pin(async move {
                    let (booking, _, _) = store::lock(uow, &code).await?;
                    if !matches!(booking.status, BookingStatus::Unconfirmed | BookingStatus::Confirmed) {
                        return Err(RoutingError::booking_is(
                            booking.status,
                            "si sposta solo una prenotazione non ancora usata / only a booking not yet used can be moved",
                        )
                        .into());
                    }
                    let claimed = claim(uow, &candidates).await?;
                    store::lock_people(uow, &[booking.requester_ref.as_str()]).await?;
                    let day = instants(rome::date_of(start), 1)?;
                    let held = store::held(
                        uow,
                        &booking.requester_ref,
                        &booking.service_code,
                        day,
                        None,
                        None,
                        uow.now(),
                        Some(booking.id),
                    )
                    .await?;
                    if held.on_day >= i64::from(rules.max_per_person_per_day) {
                        return Err(RoutingError::CapReached {
                            rule: "max_per_person_per_day",
                            limit: i64::from(rules.max_per_person_per_day),
                        }
                        .into());
                    }
                    let previous = booking.start;
                    let template = Booking {
                        site_id: site,
                        start,
                        version: booking.version + 1,
                        ..booking
                    };
                    let chosen = first_free(uow, &claimed, |uow, c| {
                        let mut b = template.clone();
                        b.operator_id = c.operator.clone();
                        b.counter_number = c.counter;
                        b.end = c.end;
                        Box::pin(async move { store::update(uow, &b, None).await })
                    })
                    .await?;
                    let moved = Booking {
                        operator_id: chosen.operator.clone(),
                        counter_number: chosen.counter,
                        end: chosen.end,
                        ..template
                    };
                    arm(uow, &moved, &rules).await?;
                    let message = moved.to_message(&documents);
                    emit(
                        uow,
                        &AppointmentRescheduled {
                            booking: Some(message.clone()),
                            previous_start_time: Some(sportello_kit::events::to_proto_timestamp(previous)),
                        },
                        &moved,
                    )
                    .await?;
                    Ok(RescheduleBookingResponse {
                        booking: Some(message),
                    })
                })
            })
            .await?;
        // The old slot is free again: this replica must not answer it as just booked.
        self.claims.forget(&old_slot);
        Ok(moved)
    }

    /// The bookings of a site over some days: the operators' calendar.
    pub async fn list(
        &self,
        context: &CallContext,
        request: ListBookingsRequest,
    ) -> Result<ListBookingsResponse, ServiceError> {
        if !is_staff(context) {
            return Err(ServiceError::new(
                sportello_kit::ErrorKind::PermissionDenied,
                "il calendario è degli operatori / the calendar is for operators",
            ));
        }
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let record = self.sites.get(site).await?;
        context.ensure_municipality(record.site.municipality)?;
        let from = parse_date("from_date", &request.from_date)?;
        let days = match request.days {
            0 => 1,
            d @ 1..=31 => i16::try_from(d).unwrap_or(1),
            _ => {
                return Err(
                    RoutingError::invalid("days", "deve essere tra 1 e 31 / must be 1-31").into(),
                );
            }
        };
        let (start, end) = instants(from, days)?;
        let operator = (!request.operator_id.is_empty()).then_some(request.operator_id.as_str());
        let bookings = store::list(self.db.pool(), site, operator, start, end).await?;
        let catalogue = self.catalogue.get(record.site.municipality).await?;
        Ok(ListBookingsResponse {
            bookings: bookings
                .iter()
                .map(|b| {
                    let documents = catalogue
                        .service(&b.service_code)
                        .map(|s| s.documents.clone())
                        .unwrap_or_default();
                    b.to_message(&documents)
                })
                .collect(),
        })
    }
}

/// The e-mail with the confirmation code: Italian first, English second.
fn confirmation_mail(
    to: Address,
    code: &str,
    booking: &sportello_proto::routing::v1::Booking,
    service: &ServiceType,
    site_name: &str,
) -> Mail {
    let when = booking
        .start_time
        .as_ref()
        .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| rome::zoned(t).strftime("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default();
    let documents = if service.documents.is_empty() {
        String::from("-")
    } else {
        service
            .documents
            .iter()
            .map(|d| format!("  - {d}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = format!(
        "Codice di conferma: {code}\n\n\
         Inserisca questo codice entro 15 minuti per confermare l'appuntamento:\n\
         {service} - {site_name}, {when}.\n\
         Codice della prenotazione: {booking_code}\n\
         Documenti da portare:\n{documents}\n\n\
         Se non ha prenotato lei, ignori questo messaggio: senza conferma l'orario torna libero.\n\n\
         ---\n\
         Confirmation code: {code}\n\
         Enter it within 15 minutes to confirm your appointment ({service}, {site_name}, {when}).\n\
         Booking code: {booking_code}. If you did not book, ignore this message.\n",
        service = service.name,
        booking_code = booking.code,
    );
    Mail {
        to,
        subject: format!("Codice di conferma {code} - prenotazione {}", booking.code),
        text,
    }
}
