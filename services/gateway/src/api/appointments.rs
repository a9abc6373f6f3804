//! Appointments: the public booking page (services, free slots, booking, confirmation
//! with the e-mailed code, cancellation), check-in at the kiosk, and the operators'
//! calendar. The page keeps nothing: the fiscal code goes to routing, which keeps only
//! its pseudonymous reference; the e-mail address is used once, for the code.

use axum::{Json, extract::State, http::StatusCode};
use icalendar::{Component, EventLike};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sportello_kit::{ServiceError, events::to_proto_timestamp};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        AcceptWaitlistOfferRequest, BookRequest, Booking, BookingRules, BookingStatus,
        CancelBookingRequest, CheckInRequest, ConfirmBookingRequest, GetBookingRulesRequest,
        GetWaitlistEntryRequest, JoinWaitlistRequest, ListBookingsRequest, ListServiceTypesRequest,
        RescheduleBookingRequest, ScheduleBlock, SearchSlotsRequest, SetBookingRulesRequest,
        SetOpeningHoursRequest, SetOperatorScheduleRequest, WaitlistEntry, WaitlistStatus,
        WeeklyHours, appointment_service_client::AppointmentServiceClient,
    },
};

use super::{
    body::{Body, Path, Query},
    input, site_by_code, sites_of,
    views::time,
};
use crate::{
    app::AppState,
    auth::{Role, Signed, source::ClientIp},
};

fn appointments(
    state: &AppState,
) -> Result<AppointmentServiceClient<sportello_kit::PeerChannel>, ServiceError> {
    state.appointments()
}

/// A service bookable by appointment.
#[derive(Debug, Serialize)]
pub struct BookableService {
    pub code: String,
    pub name: String,
    pub expected_minutes: u32,
    pub documents: Vec<String>,
}

/// `GET /api/v1/appointments/services`: the services booked by appointment.
pub async fn services(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let municipality = state.settings.public_municipality;
    let context = state.public_context("appointment.show")?;
    let types = state
        .catalogue()?
        .list_service_types(context.request(ListServiceTypesRequest {
            municipality_istat_code: municipality.to_string(),
            active_only: true,
        }))
        .await?
        .into_inner()
        .service_types;
    let mut services: Vec<BookableService> = types
        .into_iter()
        .filter(|t| {
            t.appointment_required || t.allowed_channels.contains(&(Channel::Appointment as i32))
        })
        .map(|t| BookableService {
            code: t.code,
            name: t.name,
            expected_minutes: t.expected_minutes,
            documents: t.required_documents,
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(serde_json::json!({ "services": services })))
}

/// The slot search's query.
#[derive(Debug, Deserialize)]
pub struct SlotQuery {
    pub service: String,
    #[serde(default)]
    pub from: String,
    /// A query's values are text: parsed as a number here (`input::integer` is for JSON).
    #[serde(default)]
    pub days: u32,
}

/// `GET /api/v1/appointments/slots`: the free slots of a service, earliest first, with
/// their site; who receives is not shown to the public.
pub async fn slots(
    State(state): State<AppState>,
    Query(query): Query<SlotQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let municipality = state.settings.public_municipality;
    let context = state.public_context("appointment.search")?;
    let sites = sites_of(&state, &context, municipality).await?;
    let reply = appointments(&state)?
        .search_slots(context.request(SearchSlotsRequest {
            municipality_istat_code: municipality.to_string(),
            service_code: query.service,
            site_ids: Vec::new(),
            from_date: query.from,
            days: query.days,
            page_size: 500,
        }))
        .await?
        .into_inner();
    let mut seen = std::collections::HashSet::new();
    let slots: Vec<serde_json::Value> = reply
        .slots
        .iter()
        .filter(|s| seen.insert((s.site_id.clone(), s.start_time.map(|t| t.seconds))))
        .filter_map(|s| {
            let site = sites.iter().find(|x| x.id == s.site_id)?;
            Some(serde_json::json!({
                "site": site.code,
                "site_name": site.name,
                "start_time": time(s.start_time.as_ref()),
                "end_time": time(s.end_time.as_ref()),
            }))
        })
        .collect();
    Ok(Json(serde_json::json!({
        "slots": slots,
        "next_release_time": time(reply.next_release_time.as_ref()),
    })))
}

/// A booking request from the public page.
#[derive(Debug, Deserialize)]
pub struct BookForm {
    pub service_code: String,
    pub site: String,
    pub start_time: String,
    pub fiscal_code: String,
    pub email: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// An RFC 3339 instant as a protobuf timestamp, naming the field when it is not one.
pub fn instant(field: &str, raw: &str) -> Result<prost_types::Timestamp, ServiceError> {
    raw.parse::<Timestamp>()
        .map(to_proto_timestamp)
        .map_err(|_| ServiceError::invalid_field(field, "must be an RFC 3339 instant"))
}

/// A booking as the pages show it.
fn view(booking: &Booking, site: Option<&sportello_proto::routing::v1::Site>) -> serde_json::Value {
    let status = BookingStatus::try_from(booking.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("BOOKING_STATUS_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    serde_json::json!({
        "code": booking.code,
        "service_code": booking.service_code,
        "site": site.map(|s| s.code.clone()),
        "site_name": site.map(|s| s.name.clone()),
        "counter_number": booking.counter_number,
        "start_time": time(booking.start_time.as_ref()),
        "end_time": time(booking.end_time.as_ref()),
        "status": status,
        "confirm_deadline": time(booking.confirm_deadline.as_ref()),
        "documents_to_bring": booking.documents_to_bring,
        "ticket_label": booking.ticket_label,
        "operator_id": booking.operator_id,
        "version": booking.version,
    })
}

/// The QR code of a booking code, as SVG, for the kiosk's reader.
fn qr_svg(code: &str) -> Result<String, ServiceError> {
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(ServiceError::internal)?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build())
}

/// The iCalendar file (RFC 5545) of a booking: where, when, the code; no personal data.
fn ics(booking: &Booking, site_name: &str, service_name: &str) -> String {
    let stamp = |t: Option<&prost_types::Timestamp>| {
        t.and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
            .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_default()
    };
    let documents = booking.documents_to_bring.join(", ");
    let event = icalendar::Event::new()
        .uid(&format!("{}@sportello", booking.id))
        .summary(&format!("Appuntamento: {service_name}"))
        .description(&format!(
            "Codice prenotazione {}. Documenti da portare: {}",
            booking.code,
            if documents.is_empty() {
                "-"
            } else {
                &documents
            }
        ))
        .location(site_name)
        .add_property("DTSTART", stamp(booking.start_time.as_ref()))
        .add_property("DTEND", stamp(booking.end_time.as_ref()))
        .done();
    let mut calendar = icalendar::Calendar::new();
    calendar.push(event);
    calendar.done().to_string()
}

async fn described(
    state: &AppState,
    context: &sportello_kit::CallContext,
    booking: &Booking,
) -> Result<serde_json::Value, ServiceError> {
    let sites = sites_of(state, context, state.settings.public_municipality).await?;
    let site = sites.iter().find(|s| s.id == booking.site_id);
    let service = super::service_type(state, context, &booking.service_code).await?;
    let service_name = service.map_or_else(|| booking.service_code.clone(), |s| s.name);
    let mut value = view(booking, site);
    value["service_name"] = serde_json::Value::String(service_name.clone());
    value["qr_svg"] = serde_json::Value::String(qr_svg(&booking.code)?);
    value["calendar"] = serde_json::Value::String(ics(
        booking,
        site.map_or("", |s| s.name.as_str()),
        &service_name,
    ));
    Ok(value)
}

/// `POST /api/v1/appointments`: a citizen books; a code is e-mailed to confirm it.
pub async fn book(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    Body(form): Body<BookForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    input::text("email", &form.email, 254)?;
    let start_time = instant("start_time", &form.start_time)?;
    let municipality = state.settings.public_municipality;
    let context = state.public_context("appointment.book")?;
    let site = site_by_code(&state, &context, municipality, &form.site).await?;
    let reply = appointments(&state)?
        .book(context.request(BookRequest {
            municipality_istat_code: municipality.to_string(),
            service_code: form.service_code,
            site_id: site.id,
            start_time: Some(start_time),
            operator_id: String::new(),
            fiscal_code: form.fiscal_code,
            email: form.email,
            // The booking caps count per network source: the TCP peer, or the client a
            // proxy named in TRUSTED_PROXIES forwarded (auth::source), never a header
            // anyone could write.
            source: source.to_string(),
            origin_case_id: String::new(),
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner();
    let booking = reply.booking.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "booking": described(&state, &context, &booking).await?,
            "confirmation_sent": reply.confirmation_sent,
        })),
    ))
}

/// A booking made by an operator on a citizen's behalf.
#[derive(Debug, Deserialize)]
pub struct OnBehalfForm {
    pub service_code: String,
    pub site: String,
    pub start_time: String,
    pub fiscal_code: String,
    #[serde(default)]
    pub operator_id: String,
    #[serde(default)]
    pub origin_case_id: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// The roles that book, move and cancel on a citizen's behalf.
const STAFF: [Role; 4] = [
    Role::InfoDesk,
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
];

/// `POST /api/v1/appointments/on-behalf`: an operator books for a citizen (at the
/// counter, on the phone, from a counter case that continues by appointment); confirmed
/// at once, no e-mail.
pub async fn book_on_behalf(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<OnBehalfForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let account = signed.require(&STAFF)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::optional_uuid("origin_case_id", &form.origin_case_id)?;
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    input::text("operator_id", &form.operator_id, 64)?;
    let start_time = instant("start_time", &form.start_time)?;
    let context = signed.context("appointment.book")?;
    let site = site_by_code(&state, &context, account.municipality, &form.site).await?;
    let reply = appointments(&state)?
        .book(context.request(BookRequest {
            municipality_istat_code: account.municipality.to_string(),
            service_code: form.service_code,
            site_id: site.id,
            start_time: Some(start_time),
            operator_id: form.operator_id,
            fiscal_code: form.fiscal_code,
            email: String::new(),
            source: String::new(),
            origin_case_id: form.origin_case_id,
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner();
    let booking = reply.booking.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "booking": described(&state, &context, &booking).await? })),
    ))
}

/// A move to another slot, by an operator.
#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub site: String,
    pub start_time: String,
    #[serde(default)]
    pub operator_id: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/appointments/{code}/move`: an operator moves a booking; it never holds
/// two slots, and keeps its own when the new one is taken (409).
pub async fn move_booking(
    State(state): State<AppState>,
    signed: Signed,
    Path(code): Path<String>,
    Body(form): Body<MoveForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&STAFF)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::text("operator_id", &form.operator_id, 64)?;
    let start_time = instant("start_time", &form.start_time)?;
    let context = signed.context("appointment.move")?;
    let site = site_by_code(&state, &context, account.municipality, &form.site).await?;
    let booking = appointments(&state)?
        .reschedule_booking(context.request(RescheduleBookingRequest {
            code,
            fiscal_code: String::new(),
            site_id: site.id.clone(),
            start_time: Some(start_time),
            operator_id: form.operator_id,
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner()
        .booking
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "booking": view(&booking, Some(&site)) }),
    ))
}

/// An operator's cancellation, with its reason.
#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    pub reason: String,
}

/// `POST /api/v1/appointments/{code}/withdraw`: an operator cancels a booking, saying why
/// (kept with the booking, never in events); the slot goes to the waitlist.
pub async fn withdraw(
    State(state): State<AppState>,
    signed: Signed,
    Path(code): Path<String>,
    Body(form): Body<WithdrawForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&STAFF)?;
    input::required_text("reason", &form.reason, 500)?;
    let context = signed.context("appointment.cancel")?;
    let booking = appointments(&state)?
        .cancel_booking(context.request(CancelBookingRequest {
            code,
            fiscal_code: String::new(),
            reason: form.reason,
        }))
        .await?
        .into_inner()
        .booking
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "booking": view(&booking, None) })))
}

/// The e-mailed code.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    pub confirmation_code: String,
}

/// `POST /api/v1/appointments/{code}/confirm`.
pub async fn confirm(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Body(form): Body<ConfirmForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("confirmation_code", &form.confirmation_code, 6)?;
    let context = state.public_context("appointment.confirm")?;
    let booking = appointments(&state)?
        .confirm_booking(context.request(ConfirmBookingRequest {
            code,
            confirmation_code: form.confirmation_code,
        }))
        .await?
        .into_inner()
        .booking
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "booking": described(&state, &context, &booking).await?,
    })))
}

/// A citizen's cancellation.
#[derive(Debug, Deserialize)]
pub struct CancelForm {
    pub fiscal_code: String,
}

/// `POST /api/v1/appointments/{code}/cancel`: the person it is for, by fiscal code.
pub async fn cancel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Body(form): Body<CancelForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    let context = state.public_context("appointment.cancel")?;
    let booking = appointments(&state)?
        .cancel_booking(context.request(CancelBookingRequest {
            code,
            fiscal_code: form.fiscal_code,
            reason: String::new(),
        }))
        .await?
        .into_inner()
        .booking
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "booking": view(&booking, None) })))
}

/// A place in the waitlist, asked for on the public page.
#[derive(Debug, Deserialize)]
pub struct WaitlistForm {
    pub service_code: String,
    pub fiscal_code: String,
    pub from_date: String,
    pub to_date: String,
}

fn entry_view(entry: &WaitlistEntry) -> serde_json::Value {
    let status = WaitlistStatus::try_from(entry.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("WAITLIST_STATUS_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    serde_json::json!({
        "id": entry.id,
        "service_code": entry.service_code,
        "from_date": entry.from_date,
        "to_date": entry.to_date,
        "status": status,
        "booking": entry.booking.as_ref().map(|b| view(b, None)),
    })
}

/// `POST /api/v1/appointments/waitlist`: waits for a slot of a service between two days;
/// a freed one is held for the first in line.
pub async fn join_waitlist(
    State(state): State<AppState>,
    Body(form): Body<WaitlistForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    let municipality = state.settings.public_municipality;
    let context = state.public_context("appointment.waitlist")?;
    let entry = appointments(&state)?
        .join_waitlist(context.request(JoinWaitlistRequest {
            municipality_istat_code: municipality.to_string(),
            service_code: form.service_code,
            fiscal_code: form.fiscal_code,
            site_ids: Vec::new(),
            from_date: form.from_date,
            to_date: form.to_date,
        }))
        .await?
        .into_inner()
        .entry
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "entry": entry_view(&entry) })),
    ))
}

/// The person in line, by fiscal code.
#[derive(Debug, Deserialize)]
pub struct InLineForm {
    pub fiscal_code: String,
}

/// `POST /api/v1/appointments/waitlist/{id}`: where a place in line stands (a POST: the
/// fiscal code stays out of the address and the logs).
pub async fn waitlist_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(form): Body<InLineForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    let context = state.public_context("appointment.waitlist")?;
    let entry = appointments(&state)?
        .get_waitlist_entry(context.request(GetWaitlistEntryRequest {
            entry_id: id,
            fiscal_code: form.fiscal_code,
        }))
        .await?
        .into_inner()
        .entry
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "entry": entry_view(&entry) })))
}

/// `POST /api/v1/appointments/waitlist/{id}/accept`: takes the slot held for the place.
pub async fn accept_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(form): Body<InLineForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    let context = state.public_context("appointment.waitlist")?;
    let entry = appointments(&state)?
        .accept_waitlist_offer(context.request(AcceptWaitlistOfferRequest {
            entry_id: id,
            fiscal_code: form.fiscal_code,
        }))
        .await?
        .into_inner()
        .entry
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "entry": entry_view(&entry) })))
}

/// A check-in at the kiosk.
#[derive(Debug, Deserialize)]
pub struct CheckInForm {
    pub code: String,
}

/// `POST /api/v1/sites/{site}/check-in`: the kiosk (or an operator) checks a booking in
/// by its code or QR code; the appointment joins the queue under a ticket label.
pub async fn check_in(
    State(state): State<AppState>,
    signed: Signed,
    Path(site_code): Path<String>,
    Body(form): Body<CheckInForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[
        Role::Kiosk,
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
    ])?;
    input::text("code", &form.code, 16)?;
    let context = signed.context("appointment.check_in")?;
    let site = site_by_code(&state, &context, account.municipality, &site_code).await?;
    let reply = appointments(&state)?
        .check_in(context.request(CheckInRequest {
            code: form.code,
            site_id: site.id.clone(),
        }))
        .await?
        .into_inner();
    let booking = reply.booking.unwrap_or_default();
    Ok(Json(serde_json::json!({
        "ticket_label": reply.ticket_label,
        "booking": view(&booking, Some(&site)),
    })))
}

/// The calendar's query.
#[derive(Debug, Deserialize)]
pub struct CalendarQuery {
    pub site: String,
    pub from: String,
    /// A query's values are text: parsed as a number here (`input::integer` is for JSON).
    #[serde(default)]
    pub days: u32,
    #[serde(default)]
    pub operator: String,
}

/// `GET /api/v1/appointments/calendar`: the bookings of a site over some days, for
/// operators (one operator's when `operator` is given).
pub async fn calendar(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<CalendarQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
        Role::Admin,
    ])?;
    let context = signed.context("appointment.calendar")?;
    let site = site_by_code(&state, &context, account.municipality, &query.site).await?;
    let bookings = appointments(&state)?
        .list_bookings(context.request(ListBookingsRequest {
            site_id: site.id.clone(),
            operator_id: query.operator,
            from_date: query.from,
            days: query.days,
        }))
        .await?
        .into_inner()
        .bookings;
    Ok(Json(serde_json::json!({
        "bookings": bookings.iter().map(|b| view(b, Some(&site))).collect::<Vec<_>>(),
    })))
}

/// A site's weekly hours for appointments.
#[derive(Debug, Deserialize)]
pub struct HoursForm {
    #[serde(default)]
    pub service_group: String,
    pub hours: Vec<WeeklyHoursForm>,
}

/// A weekday's range.
#[derive(Debug, Deserialize, Serialize)]
pub struct WeeklyHoursForm {
    #[serde(deserialize_with = "input::integer")]
    pub weekday: u32,
    pub opens: String,
    pub closes: String,
}

/// `PUT /api/v1/admin/sites/{site}/appointment-hours` (administrators, managers).
pub async fn set_hours(
    State(state): State<AppState>,
    signed: Signed,
    Path(site_code): Path<String>,
    Body(form): Body<HoursForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[Role::Admin, Role::Manager])?;
    let context = signed.context("appointment.calendars")?;
    let site = site_by_code(&state, &context, account.municipality, &site_code).await?;
    let reply = appointments(&state)?
        .set_opening_hours(
            context.request(SetOpeningHoursRequest {
                site_id: site.id,
                service_group: form.service_group,
                hours: form
                    .hours
                    .into_iter()
                    .map(|h| WeeklyHours {
                        weekday: h.weekday,
                        opens: h.opens,
                        closes: h.closes,
                    })
                    .collect(),
            }),
        )
        .await?
        .into_inner();
    let hours: Vec<WeeklyHoursForm> = reply
        .hours
        .into_iter()
        .map(|h| WeeklyHoursForm {
            weekday: h.weekday,
            opens: h.opens,
            closes: h.closes,
        })
        .collect();
    Ok(Json(serde_json::json!({ "hours": hours })))
}

/// An operator's schedule.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    pub blocks: Vec<BlockForm>,
}

/// A block of it.
#[derive(Debug, Deserialize)]
pub struct BlockForm {
    #[serde(deserialize_with = "input::integer")]
    pub weekday: u32,
    pub starts: String,
    pub ends: String,
    pub site: String,
    #[serde(deserialize_with = "input::integer")]
    pub counter_number: u32,
}

/// `PUT /api/v1/admin/operators/{id}/schedule` (administrators, managers).
pub async fn set_schedule(
    State(state): State<AppState>,
    signed: Signed,
    Path(operator): Path<String>,
    Body(form): Body<ScheduleForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[Role::Admin, Role::Manager])?;
    let context = signed.context("appointment.calendars")?;
    let sites = sites_of(&state, &context, account.municipality).await?;
    let mut blocks = Vec::with_capacity(form.blocks.len());
    for (i, b) in form.blocks.into_iter().enumerate() {
        let site = sites.iter().find(|s| s.code == b.site).ok_or_else(|| {
            ServiceError::invalid_field(
                format!("blocks[{i}].site"),
                "sede sconosciuta / unknown site",
            )
        })?;
        blocks.push(ScheduleBlock {
            weekday: b.weekday,
            starts: b.starts,
            ends: b.ends,
            site_id: site.id.clone(),
            counter_number: b.counter_number,
        });
    }
    let reply = appointments(&state)?
        .set_operator_schedule(context.request(SetOperatorScheduleRequest {
            operator_id: operator,
            blocks,
        }))
        .await?
        .into_inner();
    let blocks: Vec<serde_json::Value> = reply
        .blocks
        .iter()
        .map(|b| {
            serde_json::json!({
                "weekday": b.weekday,
                "starts": b.starts,
                "ends": b.ends,
                "site": sites.iter().find(|s| s.id == b.site_id).map(|s| s.code.clone()),
                "counter_number": b.counter_number,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "blocks": blocks })))
}

/// `GET /api/v1/admin/booking-rules`.
pub async fn rules(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[Role::Admin, Role::Manager])?;
    let context = signed.context("appointment.calendars")?;
    let rules = appointments(&state)?
        .get_booking_rules(context.request(GetBookingRulesRequest {
            municipality_istat_code: account.municipality.to_string(),
        }))
        .await?
        .into_inner()
        .rules
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "rules": rules_view(&rules) })))
}

fn rules_view(r: &BookingRules) -> serde_json::Value {
    serde_json::json!({
        "buffer_minutes": r.buffer_minutes,
        "max_open_per_service": r.max_open_per_service,
        "max_per_person_per_day": r.max_per_person_per_day,
        "max_per_source_per_day": r.max_per_source_per_day,
        "max_per_email_per_day": r.max_per_email_per_day,
        "release_days_ahead": r.release_days_ahead,
        "release_time": r.release_time,
        "release_tranches": r.release_tranches,
        "tranche_interval_minutes": r.tranche_interval_minutes,
        "confirm_minutes": r.confirm_minutes,
        "check_in_early_minutes": r.check_in_early_minutes,
        "check_in_late_minutes": r.check_in_late_minutes,
        "waitlist_offer_minutes": r.waitlist_offer_minutes,
        "version": r.version,
    })
}

/// The booking rules as an administrator sets them (every rule, and the version read).
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct RulesForm {
    #[serde(deserialize_with = "input::integer")]
    pub buffer_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub max_open_per_service: u32,
    #[serde(deserialize_with = "input::integer")]
    pub max_per_person_per_day: u32,
    #[serde(deserialize_with = "input::integer")]
    pub max_per_source_per_day: u32,
    #[serde(deserialize_with = "input::integer")]
    pub max_per_email_per_day: u32,
    #[serde(deserialize_with = "input::integer")]
    pub release_days_ahead: u32,
    pub release_time: String,
    #[serde(deserialize_with = "input::integer")]
    pub release_tranches: u32,
    #[serde(deserialize_with = "input::integer")]
    pub tranche_interval_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub confirm_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub check_in_early_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub check_in_late_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub waitlist_offer_minutes: u32,
    #[serde(deserialize_with = "input::integer")]
    pub version: u64,
}

/// `PUT /api/v1/admin/booking-rules`.
pub async fn set_rules(
    State(state): State<AppState>,
    signed: Signed,
    Body(f): Body<RulesForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(&[Role::Admin, Role::Manager])?;
    let context = signed.context("appointment.calendars")?;
    let rules = appointments(&state)?
        .set_booking_rules(context.request(SetBookingRulesRequest {
            municipality_istat_code: account.municipality.to_string(),
            rules: Some(BookingRules {
                buffer_minutes: f.buffer_minutes,
                max_open_per_service: f.max_open_per_service,
                max_per_person_per_day: f.max_per_person_per_day,
                max_per_source_per_day: f.max_per_source_per_day,
                max_per_email_per_day: f.max_per_email_per_day,
                release_days_ahead: f.release_days_ahead,
                release_time: f.release_time,
                release_tranches: f.release_tranches,
                tranche_interval_minutes: f.tranche_interval_minutes,
                confirm_minutes: f.confirm_minutes,
                check_in_early_minutes: f.check_in_early_minutes,
                check_in_late_minutes: f.check_in_late_minutes,
                waitlist_offer_minutes: f.waitlist_offer_minutes,
                version: f.version,
            }),
        }))
        .await?
        .into_inner()
        .rules
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "rules": rules_view(&rules) })))
}

#[cfg(test)]
mod tests {
    use axum::{extract::Query, http::Uri};

    use super::{CalendarQuery, SlotQuery};

    /// `days` comes as text in the query string, as the document's integer parameter.
    #[test]
    fn the_queries_take_days_as_the_document_writes_them() {
        let uri: Uri = "/api/v1/appointments/slots?service=registry.id_card&days=5"
            .parse()
            .unwrap();
        let Query(slots) = Query::<SlotQuery>::try_from_uri(&uri).unwrap();
        assert_eq!(
            (slots.service.as_str(), slots.days),
            ("registry.id_card", 5)
        );
        let uri: Uri = "/api/v1/appointments/slots?service=registry.id_card"
            .parse()
            .unwrap();
        assert_eq!(Query::<SlotQuery>::try_from_uri(&uri).unwrap().0.days, 0);
        let uri: Uri = "/api/v1/appointments/calendar?site=centro&from=2026-12-07&days=7"
            .parse()
            .unwrap();
        let Query(calendar) = Query::<CalendarQuery>::try_from_uri(&uri).unwrap();
        assert_eq!((calendar.days, calendar.operator.as_str()), (7, ""));
        let uri: Uri = "/api/v1/appointments/calendar?site=centro&from=2026-12-07&days=x"
            .parse()
            .unwrap();
        assert!(Query::<CalendarQuery>::try_from_uri(&uri).is_err());
    }
}
