//! Reading cases, tickets, queues and the board's latest calls.

use sportello_kit::{CallContext, ServiceError, events::to_proto_timestamp};
use sportello_proto::{
    common::v1::{PageRequest, PageResponse},
    routing::v1::{
        CaseStatus, GetCaseResponse, GetTicketResponse, Presence, QueueStatus, RecentCall,
    },
};
use uuid::Uuid;

use super::{Flow, domain::Case, estimate, store, tickets};
use crate::{dispatch, operators};

/// Page size when the client does not say, and the most it may ask.
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

impl Flow {
    /// A case the caller may see.
    pub async fn visible_case(
        &self,
        context: &CallContext,
        id: Uuid,
    ) -> Result<Case, ServiceError> {
        let case = store::get(self.db.pool(), id).await?;
        context.ensure_visible(case.municipality)?;
        Ok(case)
    }

    /// A case and its history.
    pub async fn case_with_history(
        &self,
        context: &CallContext,
        id: Uuid,
    ) -> Result<GetCaseResponse, ServiceError> {
        let case = self.visible_case(context, id).await?;
        let history = store::history_of(self.db.pool(), id).await?;
        Ok(GetCaseResponse {
            case: Some(case.to_message()),
            history,
        })
    }

    /// A ticket, its cases and how many wait ahead of it.
    pub async fn ticket(
        &self,
        context: &CallContext,
        id: Uuid,
    ) -> Result<GetTicketResponse, ServiceError> {
        let ticket = tickets::get(self.db.pool(), id).await?;
        let cases = store::of_ticket(self.db.pool(), id).await?;
        if let Some(first) = cases.first() {
            context.ensure_visible(first.municipality)?;
        }
        let ahead = match cases.iter().find(|c| c.status == CaseStatus::Waiting) {
            Some(head) => {
                tickets::people_ahead(
                    self.db.pool(),
                    ticket.site_id,
                    &head.group,
                    head.arrival_at,
                    head.id,
                )
                .await?
            }
            None => 0,
        };
        let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
        Ok(GetTicketResponse {
            ticket: Some(ticket.to_message(&ids)),
            cases: cases.iter().map(Case::to_message).collect(),
            people_ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
        })
    }

    /// Cases of a site by status, by arrival, one page.
    pub async fn list_cases(
        &self,
        context: &CallContext,
        site_id: Uuid,
        statuses: &[CaseStatus],
        page: Option<&PageRequest>,
    ) -> Result<(Vec<Case>, PageResponse), ServiceError> {
        let site = self.sites.get(site_id).await?;
        context.ensure_visible(site.site.municipality)?;
        let size = match page.map_or(0, |p| p.page_size) {
            0 => DEFAULT_PAGE,
            n => i64::from(n).min(MAX_PAGE),
        };
        let after = match page
            .map(|p| p.page_token.as_str())
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(token) => Some(parse_token(token).ok_or_else(|| {
                ServiceError::invalid_field("page.page_token", "is not a token this server issued")
            })?),
        };
        let cases = store::list(self.db.pool(), site_id, statuses, after, size).await?;
        let next_page_token = match cases.last() {
            Some(last) if i64::try_from(cases.len()).unwrap_or(0) == size => {
                format!("{}_{}", last.arrival_at.as_microsecond(), last.id)
            }
            _ => String::new(),
        };
        Ok((cases, PageResponse { next_page_token }))
    }

    /// The queues of a site, with waiting counts and the longest wait; for an operator,
    /// only those they may serve.
    pub async fn queues(
        &self,
        context: &CallContext,
        site_id: Uuid,
        operator_id: &str,
    ) -> Result<Vec<QueueStatus>, ServiceError> {
        let site = self.sites.get(site_id).await?;
        context.ensure_visible(site.site.municipality)?;
        let catalogue = self.catalogue.get(site.site.municipality).await?;
        let served = &site.site.settings.service_groups;
        let mut groups: Vec<&str> = catalogue
            .groups
            .keys()
            .map(String::as_str)
            .filter(|g| served.is_empty() || served.iter().any(|s| s == g))
            .collect();
        if !operator_id.is_empty() {
            let operator = operators::grpc::visible(&self.db, context, operator_id).await?;
            let lanes =
                dispatch::lanes_for(&operator.profile, site_id, &site.site.settings, &catalogue);
            groups.retain(|g| lanes.iter().any(|(_, lane_group, _)| &**lane_group == *g));
        }
        let counts = store::queue_counts(self.db.pool(), site_id).await?;
        let now = self.db.clock().now();
        // The recent pace: three hours of completions, at most 200 per queue.
        let since = now - jiff::SignedDuration::from_hours(3);
        let handled = store::recent_handling(self.db.pool(), site_id, since, 200).await?;
        // Who is here to serve each queue now (at the counter, serving or wrapping up).
        let present: Vec<Vec<dispatch::index::LaneKey>> =
            operators::store::list(self.db.pool(), site.site.municipality, Some(site_id))
                .await?
                .into_iter()
                .filter(|o| {
                    matches!(
                        o.presence,
                        Presence::Available | Presence::Busy | Presence::WrapUp
                    )
                })
                .map(|o| dispatch::lanes_for(&o.profile, site_id, &site.site.settings, &catalogue))
                .collect();
        let mut queues: Vec<QueueStatus> = groups
            .into_iter()
            .filter_map(|code| catalogue.groups.get(code))
            .map(|group| {
                let count = counts.iter().find(|c| c.group == group.code);
                let minutes: Vec<f64> = catalogue
                    .services
                    .values()
                    .filter(|s| s.group == group.code && s.active)
                    .map(|s| f64::from(s.expected_minutes))
                    .collect();
                let wait = estimate::estimate(&estimate::Inputs {
                    waiting: count.map_or(0, |c| u32::try_from(c.waiting).unwrap_or(u32::MAX)),
                    operators: u32::try_from(
                        present
                            .iter()
                            .filter(|lanes| lanes.iter().any(|(_, g, _)| **g == *group.code))
                            .count(),
                    )
                    .unwrap_or(u32::MAX),
                    handled: handled
                        .iter()
                        .filter(|(g, _)| *g == group.code)
                        .map(|(_, secs)| *secs)
                        .collect(),
                    expected_minutes: (!minutes.is_empty())
                        .then(|| minutes.iter().sum::<f64>() / minutes.len() as f64),
                });
                QueueStatus {
                    service_group: group.code.clone(),
                    letter: group.letter.clone(),
                    name: group.name.clone(),
                    waiting: count.map_or(0, |c| u32::try_from(c.waiting).unwrap_or(u32::MAX)),
                    waiting_priority: count
                        .map_or(0, |c| u32::try_from(c.priority).unwrap_or(u32::MAX)),
                    longest_wait_seconds: count.and_then(|c| c.oldest).map_or(0, |oldest| {
                        u32::try_from(now.duration_since(oldest).as_secs().max(0))
                            .unwrap_or(u32::MAX)
                    }),
                    wait_p50_seconds: wait.p50,
                    wait_p90_seconds: wait.p90,
                    wait_basis: wait.basis,
                }
            })
            .collect();
        queues.sort_by(|a, b| a.letter.cmp(&b.letter));
        Ok(queues)
    }

    /// The latest calls at a site, newest first.
    pub async fn recent_calls(
        &self,
        context: &CallContext,
        site_id: Uuid,
        limit: u32,
    ) -> Result<Vec<RecentCall>, ServiceError> {
        let site = self.sites.get(site_id).await?;
        context.ensure_visible(site.site.municipality)?;
        let limit = match limit {
            0 => 10,
            n => i64::from(n.min(50)),
        };
        let cases = store::recent_calls(self.db.pool(), site_id, limit).await?;
        Ok(cases
            .iter()
            .map(|c| RecentCall {
                ticket_label: c.ticket_label.clone().unwrap_or_default(),
                counter_number: c
                    .counter_number
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or_default(),
                call_time: c.called_at.map(to_proto_timestamp),
                call_count: u32::try_from(c.call_count).unwrap_or_default(),
                case_id: c.id.to_string(),
            })
            .collect())
    }
}

fn parse_token(token: &str) -> Option<(jiff::Timestamp, Uuid)> {
    let (micros, id) = token.split_once('_')?;
    Some((
        jiff::Timestamp::from_microsecond(micros.parse().ok()?).ok()?,
        id.parse().ok()?,
    ))
}
