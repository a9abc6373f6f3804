//! The free slots of a service: earliest first, across the municipality's sites.

use std::sync::Arc;

use jiff::Timestamp;
use sportello_kit::{CallContext, MunicipalityCode, ServiceError, events::to_proto_timestamp};
use sportello_pa::calendar::rome;
use sportello_proto::routing::v1::{SearchSlotsRequest, SearchSlotsResponse, Slot};
use uuid::Uuid;

use super::{
    Appointments,
    domain::parse_date,
    slots::{Calendars, Taken, instants},
};
use crate::{
    catalogue::domain::ServiceType, domain::Stored, error::RoutingError, sites::store::Site,
};

/// A service that is booked by appointment.
pub(crate) fn bookable(service: &ServiceType) -> Result<(), RoutingError> {
    if !service.active {
        return Err(RoutingError::ServiceInactive(service.code.clone()));
    }
    if !service.appointment_required
        && !service.allows(sportello_proto::common::v1::Channel::Appointment)
    {
        return Err(RoutingError::ChannelNotAllowed {
            service: service.code.clone(),
            channel: sportello_proto::common::v1::Channel::Appointment.to_db(),
        });
    }
    Ok(())
}

impl Appointments {
    /// The sites of `municipality` serving `group`: the ones named, or all.
    pub(crate) async fn sites_serving(
        &self,
        context: &CallContext,
        municipality: MunicipalityCode,
        group: &str,
        named: &[Uuid],
    ) -> Result<Vec<Arc<Site>>, ServiceError> {
        let serves = |s: &Site| {
            let groups = &s.site.settings.service_groups;
            groups.is_empty() || groups.iter().any(|g| g == group)
        };
        if named.is_empty() {
            let all = crate::sites::store::list(self.db.pool(), municipality.as_str()).await?;
            return Ok(all
                .into_iter()
                .filter(|s| serves(s))
                .map(Arc::new)
                .collect());
        }
        let mut sites = Vec::with_capacity(named.len());
        for id in named {
            let site = self.sites.get(*id).await?;
            context.ensure_visible(site.site.municipality)?;
            if site.site.municipality != municipality {
                return Err(RoutingError::SiteNotFound.into());
            }
            if !serves(&site) {
                return Err(RoutingError::GroupNotServed(group.to_owned()).into());
            }
            sites.push(site);
        }
        Ok(sites)
    }

    /// The free, released slots.
    pub async fn search(
        &self,
        context: &CallContext,
        request: SearchSlotsRequest,
    ) -> Result<SearchSlotsResponse, ServiceError> {
        let municipality: MunicipalityCode = sportello_kit::domain::parse_field(
            "municipality_istat_code",
            &request.municipality_istat_code,
        )?;
        context.ensure_visible(municipality)?;
        let named = request
            .site_ids
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                sportello_kit::domain::parse_field::<Uuid>(&format!("site_ids[{i}]"), raw)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.db.clock().now();
        let from = if request.from_date.is_empty() {
            rome::date_of(now)
        } else {
            parse_date("from_date", &request.from_date)?
        };
        let days = match request.days {
            0 => 31,
            d @ 1..=62 => i16::try_from(d).unwrap_or(31),
            _ => {
                return Err(
                    RoutingError::invalid("days", "deve essere tra 1 e 62 / must be 1-62").into(),
                );
            }
        };
        let page_size = match request.page_size {
            0 => 200,
            n @ 1..=2000 => usize::try_from(n).unwrap_or(200),
            _ => {
                return Err(RoutingError::invalid(
                    "page_size",
                    "deve essere tra 1 e 2000 / must be 1-2000",
                )
                .into());
            }
        };
        let catalogue = self.catalogue.get(municipality).await?;
        let service = catalogue.service(&request.service_code)?;
        bookable(service)?;
        let sites = self
            .sites_serving(context, municipality, &service.group, &named)
            .await?;
        let site_ids: Vec<Uuid> = sites.iter().map(|s| s.id).collect();
        let last = from
            .checked_add(jiff::Span::new().days(days - 1))
            .map_err(|_| RoutingError::invalid("from_date", "fuori intervallo / out of range"))?;
        let calendars =
            Calendars::load(&self.calendars, &self.db, municipality, service, &site_ids).await?;
        let (start, end) = instants(from, days)?;
        let taken = Taken::load(self.db.pool(), &site_ids, start, end).await?;

        let mut slots = Vec::new();
        let mut next_release: Option<Timestamp> = None;
        let mut day = from;
        while day <= last && slots.len() < page_size {
            for c in calendars.lay(day) {
                if c.start <= now || taken.clashes(&c) {
                    continue;
                }
                if c.released > now {
                    next_release = Some(next_release.map_or(c.released, |n| n.min(c.released)));
                    continue;
                }
                slots.push(Slot {
                    site_id: c.site.to_string(),
                    operator_id: c.operator.clone(),
                    counter_number: u32::try_from(c.counter).unwrap_or_default(),
                    start_time: Some(to_proto_timestamp(c.start)),
                    end_time: Some(to_proto_timestamp(c.end)),
                });
                if slots.len() == page_size {
                    break;
                }
            }
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        Ok(SearchSlotsResponse {
            slots,
            next_release_time: next_release.map(to_proto_timestamp),
        })
    }
}
