//! The waitlist: a person waits for a service within a date range; a slot freed in that
//! range (a cancellation, a booking left unconfirmed, an offer that lapsed) is held for
//! the first in line — a booking in status `offered`, in the same transaction that freed
//! it, so nobody else can take it in between — until they accept it or the offer lapses
//! (a durable timer), and then it goes to the next.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{
    CallContext, MunicipalityCode, RequesterRef, ServiceError, TimerAt, UnitOfWork,
    events::to_proto_timestamp,
};
use sportello_pa::calendar::rome;
use sportello_proto::routing::v1::{
    AcceptWaitlistOfferRequest, AcceptWaitlistOfferResponse, AppointmentConfirmed,
    AppointmentOffered, BookingStatus, GetWaitlistEntryRequest, GetWaitlistEntryResponse,
    JoinWaitlistRequest, JoinWaitlistResponse, WaitlistEntry, WaitlistStatus,
};
use uuid::Uuid;

use super::{
    Appointments, OFFER_TIMER,
    domain::{Booking, BookingRules, new_code, parse_date},
    emit, is_staff,
    search::bookable,
    store::{self, Secrets, WaitlistRow},
};
use crate::{domain::Stored, error::RoutingError};

/// The longest range a person may wait over.
const MAX_DAYS: i64 = 92;

impl Appointments {
    /// A place in line as a message, with its booking.
    async fn entry_message(&self, w: &WaitlistRow) -> Result<WaitlistEntry, ServiceError> {
        let booking = match w.booking_id {
            Some(id) => {
                let b = store::by_id(self.db.pool(), id).await?;
                let documents = self.documents_of(&b).await;
                Some(b.to_message(&documents))
            }
            None => None,
        };
        Ok(WaitlistEntry {
            id: w.id.to_string(),
            municipality_istat_code: w.municipality.clone(),
            service_code: w.service_code.clone(),
            requester_ref: w.requester_ref.clone(),
            site_ids: w.site_ids.iter().map(Uuid::to_string).collect(),
            from_date: w.from_date.to_string(),
            to_date: w.to_date.to_string(),
            status: WaitlistStatus::from_db(&w.status).unwrap_or_default() as i32,
            booking,
            join_time: Some(to_proto_timestamp(w.joined_at)),
        })
    }

    /// Staff of the municipality, or the person in line (by fiscal code).
    fn ensure_in_line(
        &self,
        context: &CallContext,
        w: &WaitlistRow,
        raw_fiscal_code: &str,
    ) -> Result<(), ServiceError> {
        let municipality: MunicipalityCode = w
            .municipality
            .parse()
            .map_err(|_| ServiceError::internal("a waitlist entry's municipality is invalid"))?;
        if is_staff(context) {
            return context.ensure_municipality(municipality);
        }
        let person = super::booking::fiscal_code(raw_fiscal_code)?;
        if RequesterRef::derive(&self.key, municipality, person.as_str()).as_str()
            != w.requester_ref
        {
            return Err(RoutingError::WaitlistNotFound.into());
        }
        Ok(())
    }

    /// Puts a person in line.
    pub async fn join_waitlist(
        &self,
        context: &CallContext,
        request: JoinWaitlistRequest,
    ) -> Result<JoinWaitlistResponse, ServiceError> {
        let municipality: MunicipalityCode = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        context.ensure_municipality(municipality)?;
        let person = super::booking::fiscal_code(&request.fiscal_code)?;
        let from = parse_date("from_date", &request.from_date)?;
        let to = parse_date("to_date", &request.to_date)?;
        let today = rome::date_of(self.db.clock().now());
        if to < from || to < today {
            return Err(ServiceError::invalid_field(
                "to_date",
                "deve venire dopo from_date e non essere passata / must follow from_date and not be past",
            ));
        }
        if (to - from).get_days() > MAX_DAYS as i32 {
            return Err(ServiceError::invalid_field(
                "to_date",
                format!(
                    "al massimo {MAX_DAYS} giorni dopo from_date / at most {MAX_DAYS} days after from_date"
                ),
            ));
        }
        let site_ids = request
            .site_ids
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                sportello_kit::domain::parse_field::<Uuid>(&format!("site_ids[{i}]"), raw)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let catalogue = self.catalogue.get(municipality).await?;
        let service = catalogue.service(&request.service_code)?;
        bookable(service)?;
        self.sites_serving(context, municipality, &service.group, &site_ids)
            .await?;
        let entry = WaitlistRow {
            id: Uuid::now_v7(),
            municipality: municipality.to_string(),
            service_code: service.code.clone(),
            requester_ref: RequesterRef::derive(&self.key, municipality, person.as_str())
                .as_str()
                .to_owned(),
            site_ids,
            from_date: from,
            to_date: to,
            status: WaitlistStatus::Waiting.to_db().to_owned(),
            booking_id: None,
            joined_at: self.db.clock().now(),
            version: 1,
        };
        let mut uow = self.db.begin().await?;
        store::join_waitlist(&mut uow, &entry).await?;
        uow.commit().await?;
        Ok(JoinWaitlistResponse {
            entry: Some(self.entry_message(&entry).await?),
        })
    }

    /// A place in line.
    pub async fn waitlist_entry(
        &self,
        context: &CallContext,
        request: GetWaitlistEntryRequest,
    ) -> Result<GetWaitlistEntryResponse, ServiceError> {
        let id: Uuid = sportello_kit::domain::parse_field("entry_id", &request.entry_id)?;
        let entry = store::waitlist_entry(self.db.pool(), id).await?;
        self.ensure_in_line(context, &entry, &request.fiscal_code)?;
        Ok(GetWaitlistEntryResponse {
            entry: Some(self.entry_message(&entry).await?),
        })
    }

    /// Takes the slot held for a place in line.
    pub async fn accept_offer(
        &self,
        context: &CallContext,
        request: AcceptWaitlistOfferRequest,
    ) -> Result<AcceptWaitlistOfferResponse, ServiceError> {
        let id: Uuid = sportello_kit::domain::parse_field("entry_id", &request.entry_id)?;
        let mut uow = self.db.begin().await?;
        let mut entry = store::lock_waitlist(&mut uow, id).await?;
        self.ensure_in_line(context, &entry, &request.fiscal_code)?;
        if entry.status == WaitlistStatus::Booked.to_db() {
            drop(uow);
            return Ok(AcceptWaitlistOfferResponse {
                entry: Some(self.entry_message(&entry).await?),
            });
        }
        let booking_id = entry
            .booking_id
            .filter(|_| entry.status == WaitlistStatus::Offered.to_db())
            .ok_or_else(|| {
                ServiceError::new(
                    sportello_kit::ErrorKind::FailedPrecondition,
                    "nessun orario è offerto ora a questo posto in lista / no slot is offered to this place now",
                )
            })?;
        let Some(mut booking) = store::lock_by_id(&mut uow, booking_id).await? else {
            return Err(RoutingError::BookingNotFound.into());
        };
        if booking.status != BookingStatus::Offered {
            return Err(RoutingError::booking_is(
                booking.status,
                "l'offerta è scaduta / the offer lapsed",
            )
            .into());
        }
        let rules = store::rules(uow.conn(), booking.municipality).await?;
        booking.status = BookingStatus::Confirmed;
        booking.confirm_deadline = None;
        booking.version += 1;
        store::update(&mut uow, &booking, None).await?;
        uow.cancel_timer(OFFER_TIMER, &booking.id.to_string())
            .await?;
        super::booking::arm(&mut uow, &booking, &rules).await?;
        entry.status = WaitlistStatus::Booked.to_db().to_owned();
        entry.version += 1;
        store::update_waitlist(&mut uow, &entry).await?;
        let documents = self.documents_of(&booking).await;
        emit(
            &mut uow,
            &AppointmentConfirmed {
                booking: Some(booking.to_message(&documents)),
            },
            &booking,
        )
        .await?;
        uow.commit().await?;
        Ok(AcceptWaitlistOfferResponse {
            entry: Some(self.entry_message(&entry).await?),
        })
    }

    /// Holds the slot `freed` just gave back (in this unit of work) for the first in line
    /// for it, if anyone waits and the slot is still ahead.
    pub(crate) async fn offer_freed(
        &self,
        uow: &mut UnitOfWork,
        freed: &Booking,
    ) -> Result<(), ServiceError> {
        let now = uow.now();
        if freed.start <= now {
            return Ok(());
        }
        let day: Date = rome::date_of(freed.start);
        let Some(mut entry) = store::first_in_line(
            uow,
            freed.municipality.as_str(),
            &freed.service_code,
            day,
            freed.site_id,
        )
        .await?
        else {
            return Ok(());
        };
        let rules = store::rules(uow.conn(), freed.municipality).await?;
        // Held no longer than the offer's minutes, and never past the slot's start.
        let deadline: Timestamp = now
            .checked_add(BookingRules::minutes(rules.waitlist_offer_minutes))
            .unwrap_or(freed.start)
            .min(freed.start);
        let offered = Booking {
            id: Uuid::now_v7(),
            code: new_code()?,
            status: BookingStatus::Offered,
            requester_ref: entry.requester_ref.clone(),
            confirm_deadline: Some(deadline),
            case_id: None,
            ticket_label: None,
            origin_case_id: None,
            booked_by: "waitlist".to_owned(),
            created_at: now,
            version: 1,
            ..freed.clone()
        };
        store::insert(uow, &offered, &Secrets::default()).await?;
        entry.status = WaitlistStatus::Offered.to_db().to_owned();
        entry.booking_id = Some(offered.id);
        entry.version += 1;
        store::update_waitlist(uow, &entry).await?;
        uow.schedule_timers(&[TimerAt {
            kind: OFFER_TIMER,
            key: offered.id.to_string(),
            due_at: deadline,
            payload: serde_json::json!({ "booking": offered.id.to_string() }),
        }])
        .await?;
        let documents = self.documents_of(&offered).await;
        emit(
            uow,
            &AppointmentOffered {
                booking: Some(offered.to_message(&documents)),
                waitlist_entry_id: entry.id.to_string(),
            },
            &offered,
        )
        .await?;
        Ok(())
    }

    /// An offer lapsed unanswered: the place in line is lost, and the slot goes to the
    /// next in line.
    pub(crate) async fn offer_lapsed(
        &self,
        uow: &mut UnitOfWork,
        booking: &Booking,
    ) -> Result<(), ServiceError> {
        if let Some(mut entry) = store::waitlist_of_booking(uow, booking.id).await? {
            entry.status = WaitlistStatus::Lapsed.to_db().to_owned();
            entry.version += 1;
            store::update_waitlist(uow, &entry).await?;
        }
        self.offer_freed(uow, booking).await
    }
}
