//! Administering the calendars: a site's hours and closures, an operator's schedule,
//! the municipality's booking rules.

use sportello_kit::{CallContext, MunicipalityCode, ServiceError};
use sportello_pa::calendar::rome;
use sportello_proto::routing::v1::{
    AddClosureRequest, AddClosureResponse, GetBookingRulesRequest, GetBookingRulesResponse,
    SetBookingRulesRequest, SetBookingRulesResponse, SetOpeningHoursRequest,
    SetOpeningHoursResponse, SetOperatorScheduleRequest, SetOperatorScheduleResponse, WeeklyHours,
};
use uuid::Uuid;

use super::{
    Appointments,
    domain::{BookingRules, format_time, parse_date, parse_hours, parse_schedule},
    store,
};
use crate::{access::ensure_administers, error::RoutingError, sites::domain::is_group_code};

impl Appointments {
    /// Replaces a site's weekly hours for a group (or for every group).
    pub async fn set_opening_hours(
        &self,
        context: &CallContext,
        request: SetOpeningHoursRequest,
    ) -> Result<SetOpeningHoursResponse, ServiceError> {
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let group = request.service_group.trim();
        if !group.is_empty() && !is_group_code(group) {
            return Err(RoutingError::invalid(
                "service_group",
                "codice di gruppo non valido / not a service group code",
            )
            .into());
        }
        let hours = parse_hours(&request.hours)?;
        let record = self.sites.get(site).await?;
        ensure_administers(context, record.site.municipality)?;
        if !group.is_empty() {
            self.catalogue
                .get(record.site.municipality)
                .await?
                .group(group)?;
        }
        let mut uow = self.db.begin().await?;
        store::replace_hours(&mut uow, site, group, &hours).await?;
        uow.commit().await?;
        self.calendars.invalidate(record.site.municipality);
        let mut sorted = hours;
        sorted.sort();
        Ok(SetOpeningHoursResponse {
            hours: sorted
                .iter()
                .map(|(weekday, span)| WeeklyHours {
                    weekday: u32::try_from(*weekday).unwrap_or_default(),
                    opens: format_time(span.starts),
                    closes: format_time(span.ends),
                })
                .collect(),
        })
    }

    /// Closes a site on a day.
    pub async fn add_closure(
        &self,
        context: &CallContext,
        request: AddClosureRequest,
    ) -> Result<AddClosureResponse, ServiceError> {
        let site: Uuid = sportello_kit::domain::parse_field("site_id", &request.site_id)?;
        let day = parse_date("date", &request.date)?;
        let reason = sportello_kit::domain::required_text("reason", &request.reason, 200)?;
        let record = self.sites.get(site).await?;
        ensure_administers(context, record.site.municipality)?;
        let bad = |_| RoutingError::invalid("date", "fuori intervallo / out of range");
        let from = rome::start_of_day(day).map_err(bad)?;
        let to = rome::end_of_day(day).map_err(bad)?;
        let mut uow = self.db.begin().await?;
        let held = store::add_closure(&mut uow, site, day, &reason, from, to).await?;
        uow.commit().await?;
        self.calendars.invalidate(record.site.municipality);
        Ok(AddClosureResponse {
            bookings_to_move: u32::try_from(held).unwrap_or(u32::MAX),
        })
    }

    /// Replaces an operator's schedule. Its counters must be the sites' own, and the
    /// operator of the caller's municipality.
    pub async fn set_operator_schedule(
        &self,
        context: &CallContext,
        request: SetOperatorScheduleRequest,
    ) -> Result<SetOperatorScheduleResponse, ServiceError> {
        let operator_id =
            crate::operators::domain::parse_operator_id("operator_id", &request.operator_id)?;
        let blocks = parse_schedule(&request.blocks)?;
        let operator = crate::operators::store::get(self.db.pool(), &operator_id).await?;
        ensure_administers(context, operator.profile.municipality)?;
        for (i, block) in blocks.iter().enumerate() {
            let site = self.sites.get(block.site_id).await.map_err(|_| {
                RoutingError::invalid(
                    "blocks",
                    format!("blocks[{i}].site_id: sede sconosciuta / unknown site"),
                )
            })?;
            if site.site.municipality != operator.profile.municipality {
                return Err(RoutingError::SiteNotFound.into());
            }
            if block.counter_number > site.site.counter_count {
                return Err(RoutingError::CounterNotFound(block.counter_number).into());
            }
        }
        let mut uow = self.db.begin().await?;
        store::replace_schedule(&mut uow, &operator_id, &blocks).await?;
        uow.commit().await?;
        self.calendars.invalidate(operator.profile.municipality);
        Ok(SetOperatorScheduleResponse {
            blocks: store::schedule_of(self.db.pool(), &operator_id)
                .await?
                .iter()
                .map(|b| b.to_message())
                .collect(),
        })
    }

    /// The municipality's booking rules.
    pub async fn rules(
        &self,
        context: &CallContext,
        request: GetBookingRulesRequest,
    ) -> Result<GetBookingRulesResponse, ServiceError> {
        let municipality: MunicipalityCode = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        context.ensure_visible(municipality)?;
        let rules = store::rules(self.db.pool(), municipality).await?;
        Ok(GetBookingRulesResponse {
            rules: Some(rules.to_message()),
        })
    }

    /// Changes the booking rules.
    pub async fn set_rules(
        &self,
        context: &CallContext,
        request: SetBookingRulesRequest,
    ) -> Result<SetBookingRulesResponse, ServiceError> {
        let municipality: MunicipalityCode = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        let message = request
            .rules
            .as_ref()
            .ok_or_else(|| ServiceError::invalid_field("rules", "è obbligatorio / is required"))?;
        let mut rules = BookingRules::parse(message)?;
        ensure_administers(context, municipality)?;
        let mut uow = self.db.begin().await?;
        rules.version = store::save_rules(&mut uow, municipality, &rules).await?;
        uow.commit().await?;
        self.calendars.invalidate(municipality);
        Ok(SetBookingRulesResponse {
            rules: Some(rules.to_message()),
        })
    }
}
