//! Opening cases from any channel, and issuing kiosk tickets.

use std::sync::Arc;

use sportello_kit::{CallContext, IdempotencyKey, ServiceError};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        CaseOpened, CaseStatus, IssueTicketRequest, IssueTicketResponse, OpenCaseRequest,
        OpenCaseResponse, TicketIssued,
    },
};
use uuid::Uuid;

use super::{
    Flow,
    domain::{Case, NewCase, NewTicket},
    events::emit,
    store, tickets,
};
use crate::{
    catalogue::{cache::Catalogue, domain::ServiceType},
    domain::Stored,
    error::RoutingError,
    sites::{self, cache::SiteCache},
};

/// A service that may be requested through `channel`.
fn offered<'c>(
    catalogue: &'c Catalogue,
    code: &str,
    channel: Channel,
) -> Result<&'c ServiceType, RoutingError> {
    let service = catalogue.service(code)?;
    if !service.active {
        return Err(RoutingError::ServiceInactive(code.to_owned()));
    }
    if !service.allows(channel) {
        return Err(RoutingError::ChannelNotAllowed {
            service: code.to_owned(),
            channel: channel.to_db(),
        });
    }
    Ok(service)
}

/// Checks the site belongs to the caller's municipality and serves `group`.
async fn site_serving(
    sites: &SiteCache,
    context: &CallContext,
    site_id: Uuid,
    groups: &[&str],
) -> Result<Arc<sites::store::Site>, ServiceError> {
    let site = sites.get(site_id).await?;
    context.ensure_visible(site.site.municipality)?;
    let served = &site.site.settings.service_groups;
    if let Some(group) = groups
        .iter()
        .find(|g| !served.is_empty() && !served.iter().any(|s| s == *g))
    {
        return Err(RoutingError::GroupNotServed((*group).to_owned()).into());
    }
    Ok(site)
}

/// Writes an opened case, its history line and its `case.opened` event.
async fn write_opened(
    uow: &mut sportello_kit::UnitOfWork,
    case: &Case,
    actor: &str,
) -> Result<(), ServiceError> {
    store::insert(uow, case, actor).await?;
    emit(
        uow,
        &CaseOpened {
            case: Some(case.to_event()),
        },
        case,
    )
    .await?;
    Ok(())
}

impl Flow {
    /// Opens a case.
    pub async fn open_case(
        &self,
        context: &CallContext,
        request: OpenCaseRequest,
    ) -> Result<OpenCaseResponse, ServiceError> {
        let new = NewCase::try_from(&request)?;
        crate::access::ensure_opens_cases(context)?;
        context.ensure_municipality(new.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let catalogue = self.catalogue.get(new.municipality).await?;
        let service = offered(&catalogue, &new.service_code, new.channel)?.clone();
        if let Some(site_id) = new.site_id {
            site_serving(&self.sites, context, site_id, &[service.group.as_str()]).await?;
        }
        let actor = context.actor().to_owned();
        let opened = move |now: jiff::Timestamp, id: Uuid| Case {
            id,
            municipality: new.municipality,
            requester_ref: new.requester_ref.clone(),
            service_code: service.code.clone(),
            department: service.department.clone(),
            tier: new.tier.unwrap_or(service.tier),
            channel: new.channel,
            site_id: new.site_id,
            group: service.group.clone(),
            priority: new.priority,
            status: CaseStatus::Waiting,
            ticket_id: None,
            ticket_label: None,
            ticket_position: 0,
            arrival_at: now,
            opened_at: now,
            operator_id: None,
            counter_number: None,
            call_count: 0,
            called_at: None,
            outcome_code: None,
            closed_at: None,
            version: 1,
        };

        let Some(key) = key else {
            // No key to claim: the opening joins the concurrent ones in one transaction
            // (group commit), answered once that committed.
            let id = Uuid::now_v7();
            let case = self
                .db
                .group_commit(move |uow| {
                    let case = opened(uow.now(), id);
                    let actor = actor.clone();
                    Box::pin(async move {
                        write_opened(uow, &case, &actor).await?;
                        Ok(case)
                    })
                })
                .await?;
            self.dispatcher.apply(&case);
            return Ok(OpenCaseResponse {
                case: Some(case.to_message()),
            });
        };
        let fingerprint = OpenCaseRequest {
            idempotency_key: String::new(),
            ..request
        };
        let (response, replayed) = self
            .db
            .idempotent_or_replay("routing.open_case", Some(key), &fingerprint, |uow| {
                Box::pin(async move {
                    let case = opened(uow.now(), Uuid::now_v7());
                    write_opened(uow, &case, &actor).await?;
                    Ok(OpenCaseResponse {
                        case: Some(case.to_message()),
                    })
                })
            })
            .await?;
        // A replayed reply shows the case as it was then: only fresh news goes to the view.
        if !replayed && let Some(case) = response.case.as_ref().and_then(|c| Case::try_from(c).ok())
        {
            self.dispatcher.apply(&case);
        }
        Ok(response)
    }

    /// Issues a kiosk ticket: one case per service, the first queued, the rest behind it.
    pub async fn issue_ticket(
        &self,
        context: &CallContext,
        request: IssueTicketRequest,
    ) -> Result<IssueTicketResponse, ServiceError> {
        let new = NewTicket::try_from(&request)?;
        crate::access::ensure_issues_tickets(context)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let municipality = context.municipality();
        let catalogue = self.catalogue.get(municipality).await?;
        let services = new
            .service_codes
            .iter()
            .map(|code| offered(&catalogue, code, Channel::Counter).cloned())
            .collect::<Result<Vec<_>, _>>()?;
        let letter = catalogue.group(&services[0].group)?.letter.clone();
        let groups: Vec<&str> = services.iter().map(|s| s.group.as_str()).collect();
        site_serving(&self.sites, context, new.site_id, &groups).await?;
        let fingerprint = IssueTicketRequest {
            idempotency_key: String::new(),
            ..request
        };
        let actor = context.actor().to_owned();

        let ticket = Arc::new(TicketToWrite {
            municipality,
            new,
            letter,
            services,
            actor,
        });
        let (response, replayed) = match key {
            // No key to claim: the ticket joins the concurrent ones in one transaction
            // (group commit), answered once that committed. Besides the WAL flush, the
            // batch takes the letter's counter row once: tickets of one queue no longer
            // wait for each other's commit.
            None => {
                let response = self
                    .db
                    .group_commit(move |uow| {
                        let ticket = ticket.clone();
                        Box::pin(async move { ticket.write(uow).await })
                    })
                    .await?;
                (response, false)
            }
            Some(_) => {
                self.db
                    .idempotent_or_replay("routing.issue_ticket", key, &fingerprint, |uow| {
                        Box::pin(async move { ticket.write(uow).await })
                    })
                    .await?
            }
        };
        for case in response
            .cases
            .iter()
            .filter(|_| !replayed)
            .filter_map(|c| Case::try_from(c).ok())
        {
            self.dispatcher.apply(&case);
        }
        Ok(response)
    }
}

/// A kiosk ticket ready to be written: what `IssueTicket` checked, owned, so the write
/// can run twice (a group commit rolled back by another caller's failure runs it again).
struct TicketToWrite {
    municipality: sportello_kit::MunicipalityCode,
    new: NewTicket,
    letter: String,
    services: Vec<ServiceType>,
    actor: String,
}

impl TicketToWrite {
    /// The ticket, its cases (the first queued, the rest behind it) and their events.
    async fn write(
        &self,
        uow: &mut sportello_kit::UnitOfWork,
    ) -> Result<IssueTicketResponse, ServiceError> {
        let Self {
            municipality,
            new,
            letter,
            services,
            actor,
        } = self;
        let municipality = *municipality;
        let ticket = tickets::issue(
            uow,
            municipality.as_str(),
            new.site_id,
            letter,
            new.priority,
        )
        .await?;
        let mut cases = Vec::with_capacity(services.len());
        for (position, service) in services.iter().enumerate() {
            let case = Case {
                id: Uuid::now_v7(),
                municipality,
                requester_ref: new.requester_ref.clone(),
                service_code: service.code.clone(),
                department: service.department.clone(),
                tier: service.tier,
                channel: Channel::Counter,
                site_id: Some(new.site_id),
                group: service.group.clone(),
                priority: new.priority,
                status: if position == 0 {
                    CaseStatus::Waiting
                } else {
                    CaseStatus::Pending
                },
                ticket_id: Some(ticket.id),
                ticket_label: Some(ticket.label.clone()),
                ticket_position: i16::try_from(position).unwrap_or(i16::MAX),
                arrival_at: ticket.issued_at,
                opened_at: ticket.issued_at,
                operator_id: None,
                counter_number: None,
                call_count: 0,
                called_at: None,
                outcome_code: None,
                closed_at: None,
                version: 1,
            };
            store::insert(uow, &case, actor).await?;
            emit(
                uow,
                &CaseOpened {
                    case: Some(case.to_event()),
                },
                &case,
            )
            .await?;
            cases.push(case);
        }
        let head = &cases[0];
        let ahead = tickets::people_ahead(
            uow.conn(),
            new.site_id,
            &head.group,
            head.arrival_at,
            head.id,
        )
        .await?;
        let people_ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
        let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
        let message = ticket.to_message(&ids);
        let event = TicketIssued {
            ticket: Some(ticket.to_event(&ids)),
            people_ahead,
        };
        let aggregate_id = ticket.id.to_string();
        let aggregate = sportello_kit::Aggregate {
            kind: "routing.ticket",
            id: &aggregate_id,
            version: 1,
            municipality,
        };
        uow.emit(&event, aggregate).await?;
        Ok(IssueTicketResponse {
            ticket: Some(message),
            cases: cases.iter().map(Case::to_message).collect(),
            people_ahead,
        })
    }
}
