//! The counter flow: call next, call a ticket, recall, no-show, park, resume, transfer,
//! complete.
//!
//! Every step locks the operator's row first, so one operator's actions happen one at a
//! time on any replica; the case is then locked (or, for a call, claimed with a
//! conditional write); a case is held by at most one operator, and an operator holds at
//! most one case at a counter — the database enforces both.

use sportello_kit::{CallContext, ServiceError, UnitOfWork};
use sportello_proto::routing::v1::{
    Call, CallNextResponse, CaseCalled, CaseNoShow, CaseParked, CaseRecalled, CaseResumed,
    CaseStatus, CaseTransferred, DecisionReason, Presence, PresenceChangeReason,
};
use uuid::Uuid;

use super::{Flow, domain::Case, events, store, tickets};
use crate::{
    catalogue::cache::Catalogue,
    dispatch,
    domain::Stored,
    error::RoutingError,
    operators::{self, domain::Operator, grpc::ensure_acting_as, presence},
    sites,
};

/// Races a call may lose before the replica reloads its view from the database.
const MAX_LOST_RACES: u32 = 16;

/// A case chosen for a call: if the call is dropped before it settles, the case is
/// released, so this replica can offer it again.
struct Reservation<'d> {
    dispatcher: &'d crate::dispatch::Dispatcher,
    case: Uuid,
    settled: bool,
}

impl Reservation<'_> {
    /// The claim finished (either way); the caller updates the view itself.
    fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.dispatcher.release(self.case);
        }
    }
}

/// A call as the API returns it.
fn call_message(
    case: &Case,
    decision: sportello_proto::routing::v1::Decision,
    ticket: Option<&tickets::Ticket>,
) -> Call {
    let case_ids: Vec<Uuid> = vec![case.id];
    Call {
        case: Some(case.to_message()),
        ticket: ticket.map(|t| t.to_message(&case_ids)),
        counter_number: case
            .counter_number
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default(),
        decision: Some(decision),
    }
}

/// Locks the operator, checking it is the caller and of the caller's municipality.
async fn lock_operator(
    uow: &mut UnitOfWork,
    context: &CallContext,
    operator_id: &str,
) -> Result<Operator, ServiceError> {
    ensure_acting_as(context, operator_id)?;
    let operator = operators::store::lock(uow, operator_id).await?;
    context.ensure_municipality(operator.profile.municipality)?;
    Ok(operator)
}

/// Locks a case the operator holds at their counter.
async fn lock_held(
    uow: &mut UnitOfWork,
    context: &CallContext,
    operator: &Operator,
    case_id: Uuid,
) -> Result<Case, ServiceError> {
    let case = store::lock(uow, case_id).await?;
    if case.municipality != operator.profile.municipality {
        return Err(RoutingError::CaseNotFound.into());
    }
    crate::access::ensure_serves_department(context, &case.department)?;
    if case.status != CaseStatus::Called {
        return Err(RoutingError::WrongStatus {
            status: case.status.to_db(),
            hint: "only a called case can be served",
        }
        .into());
    }
    if case.operator_id.as_deref() != Some(operator.profile.id.as_str()) {
        return Err(RoutingError::NotHolding.into());
    }
    Ok(case)
}

fn group_names(lanes: &[dispatch::index::LaneKey]) -> Vec<String> {
    let mut groups: Vec<String> = lanes.iter().map(|(_, g, _)| g.to_string()).collect();
    groups.sort();
    groups.dedup();
    groups
}

impl Flow {
    /// Calls the next case the operator may serve, by the policy of [`dispatch::policy`].
    pub async fn call_next(
        &self,
        context: &CallContext,
        operator_id: &str,
    ) -> Result<CallNextResponse, ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let (operator, held) =
            operators::store::get_with_held_case(self.db.pool(), operator_id).await?;
        context.ensure_municipality(operator.profile.municipality)?;
        let (site_id, _) = operator.seat()?;
        let site = self.sites.get(site_id).await?;
        let settings = &site.site.settings;
        // A retry after a lost reply: the operator already holds the case it called.
        if let Some(held) = held {
            let held = store::get(self.db.pool(), held).await?;
            let decision = events::decision(
                DecisionReason::AlreadyCalled,
                Some(&held),
                self.db.clock().now(),
                settings.priority_bound_minutes,
                &[],
            );
            return Ok(CallNextResponse {
                call: Some(call_message(&held, decision.clone(), None)),
                decision: Some(decision),
            });
        }
        if !operator.free_to_call() {
            return Err(RoutingError::WrongPresence {
                presence: operator.presence_name(),
                hint: "set yourself available to call",
            }
            .into());
        }
        let catalogue = self.catalogue.get(operator.profile.municipality).await?;
        let lanes = dispatch::lanes_for(&operator.profile, site_id, settings, &catalogue);
        let groups = group_names(&lanes);
        let mut lost_races = 0;
        loop {
            let now = self.db.clock().now();
            if lost_races == MAX_LOST_RACES {
                // The view is far behind (its subscription is down?): start again from the
                // database rather than claim stale cases one by one.
                self.dispatcher.reload(&self.db).await?;
            }
            let Some(pick) = self.dispatcher.choose(&lanes, now, settings) else {
                let decision = events::decision(
                    DecisionReason::NothingWaiting,
                    None,
                    now,
                    settings.priority_bound_minutes,
                    &groups,
                );
                return Ok(CallNextResponse {
                    call: None,
                    decision: Some(decision),
                });
            };
            // Released if this call is dropped half-way (the client went away).
            let reservation = Reservation {
                dispatcher: &self.dispatcher,
                case: pick.case,
                settled: false,
            };
            let claimed = self
                .claim(context, operator_id, pick.case, pick.reason)
                .await;
            reservation.settle();
            match claimed {
                Ok(Some(case)) => {
                    let decision = events::decision(
                        pick.reason,
                        Some(&case),
                        now,
                        settings.priority_bound_minutes,
                        &groups,
                    );
                    let ticket = match case.ticket_id {
                        Some(id) => Some(tickets::get(self.db.pool(), id).await?),
                        None => None,
                    };
                    return Ok(CallNextResponse {
                        call: Some(call_message(&case, decision.clone(), ticket.as_ref())),
                        decision: Some(decision),
                    });
                }
                // Another operator or replica got it first: choose again.
                Ok(None) => {
                    self.dispatcher.forget(pick.case);
                    lost_races += 1;
                }
                Err(error) => {
                    self.dispatcher.release(pick.case);
                    return Err(error);
                }
            }
        }
    }

    /// Claims a waiting case for the operator: `None` if it is no longer waiting.
    pub async fn claim(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        reason: DecisionReason,
    ) -> Result<Option<Case>, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        if !operator.free_to_call() {
            return Err(RoutingError::WrongPresence {
                presence: operator.presence_name(),
                hint: "set yourself available to call",
            }
            .into());
        }
        let (_, counter) = operator.seat()?;
        let Some(case) = store::claim(
            &mut uow,
            case_id,
            operator_id,
            counter,
            context.actor(),
            reason.as_str_name(),
        )
        .await?
        else {
            return Ok(None);
        };
        let waited = uow
            .now()
            .duration_since(case.arrival_at)
            .as_secs_f64()
            .max(0.0);
        metrics::histogram!("sportello_routing_wait_seconds", "queue" => case.group.clone())
            .record(waited);
        presence::change(
            &mut uow,
            operator,
            Presence::Busy,
            PresenceChangeReason::Call,
        )
        .await?;
        events::emit(
            &mut uow,
            &CaseCalled {
                case: Some(case.to_event()),
                reason: reason as i32,
            },
            &case,
        )
        .await?;
        uow.commit().await?;
        self.dispatcher.apply(&case);
        tracing::debug!(case_id = %case.id, counter, reason = reason.as_str_name(), "case called");
        Ok(Some(case))
    }

    /// Calls a specific ticket (its label today at the operator's site, or its id).
    pub async fn call_ticket(
        &self,
        context: &CallContext,
        operator_id: &str,
        ticket: &str,
    ) -> Result<Call, ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let operator = operators::store::get(self.db.pool(), operator_id).await?;
        context.ensure_municipality(operator.profile.municipality)?;
        let (site_id, _) = operator.seat()?;
        let now = self.db.clock().now();
        let ticket = match ticket.parse::<Uuid>() {
            Ok(id) => tickets::get(self.db.pool(), id).await?,
            Err(_) => {
                let label = ticket.trim().to_ascii_uppercase();
                let valid = label.len() == 4
                    && label.starts_with(|c: char| c.is_ascii_uppercase())
                    && label[1..].chars().all(|c| c.is_ascii_digit());
                if !valid {
                    return Err(ServiceError::invalid_field(
                        "ticket",
                        "must be a ticket label such as B017, or a ticket id",
                    ));
                }
                let today = sportello_pa::calendar::rome::date_of(now);
                tickets::by_label(self.db.pool(), site_id, today, &label).await?
            }
        };
        if ticket.site_id != site_id {
            return Err(RoutingError::OtherSite.into());
        }
        let cases = store::of_ticket(self.db.pool(), ticket.id).await?;
        let Some(head) = cases.iter().find(|c| c.status == CaseStatus::Waiting) else {
            return Err(RoutingError::WrongStatus {
                status: "not waiting",
                hint: "only a waiting ticket can be called",
            }
            .into());
        };
        let catalogue = self.catalogue.get(operator.profile.municipality).await?;
        if !operator
            .profile
            .can_serve(catalogue.service(&head.service_code)?)
        {
            return Err(RoutingError::LacksSkill(head.service_code.clone()).into());
        }
        let site = self.sites.get(site_id).await?;
        let Some(case) = self
            .claim(
                context,
                operator_id,
                head.id,
                DecisionReason::SpecificTicket,
            )
            .await?
        else {
            return Err(RoutingError::WrongStatus {
                status: "taken",
                hint: "another operator called it first",
            }
            .into());
        };
        let decision = events::decision(
            DecisionReason::SpecificTicket,
            Some(&case),
            now,
            site.site.settings.priority_bound_minutes,
            &[],
        );
        Ok(call_message(&case, decision, Some(&ticket)))
    }

    /// Calls the held case again, up to the site's number of calls.
    pub async fn recall(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
    ) -> Result<Call, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        let mut case = lock_held(&mut uow, context, &operator, case_id).await?;
        let settings = self.site_settings(&case).await?;
        if case.call_count >= settings.no_show_after_calls {
            return Err(RoutingError::RecallLimit(settings.no_show_after_calls).into());
        }
        case.call_count += 1;
        case.called_at = Some(uow.now());
        let case = store::save(&mut uow, case, context.actor(), "recalled").await?;
        events::emit(
            &mut uow,
            &CaseRecalled {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        let now = uow.now();
        uow.commit().await?;
        let decision = events::decision(
            DecisionReason::SpecificTicket,
            Some(&case),
            now,
            settings.priority_bound_minutes,
            &[],
        );
        Ok(call_message(&case, decision, None))
    }

    /// The citizen did not come after the site's number of calls: the case, and the rest
    /// of its ticket, are no-shows; the operator is free.
    pub async fn mark_no_show(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
    ) -> Result<Case, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        let mut case = lock_held(&mut uow, context, &operator, case_id).await?;
        let settings = self.site_settings(&case).await?;
        if case.call_count < settings.no_show_after_calls {
            return Err(RoutingError::NoShowTooEarly {
                calls: case.call_count,
                required: settings.no_show_after_calls,
            }
            .into());
        }
        let now = uow.now();
        case.status = CaseStatus::NoShow;
        case.closed_at = Some(now);
        let case = store::save(&mut uow, case, context.actor(), "no-show").await?;
        events::emit(
            &mut uow,
            &CaseNoShow {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        if let Some(ticket) = case.ticket_id {
            for mut rest in store::pending_of_ticket(&mut uow, ticket).await? {
                rest.status = CaseStatus::NoShow;
                rest.closed_at = Some(now);
                let rest =
                    store::save(&mut uow, rest, context.actor(), "no-show with its ticket").await?;
                events::emit(
                    &mut uow,
                    &CaseNoShow {
                        case: Some(rest.to_event()),
                    },
                    &rest,
                )
                .await?;
            }
        }
        presence::change(
            &mut uow,
            operator,
            Presence::Available,
            PresenceChangeReason::Release,
        )
        .await?;
        uow.commit().await?;
        Ok(case)
    }

    /// Sets the held case aside; the operator is free to call others.
    pub async fn park(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        reason: &str,
    ) -> Result<Case, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        let mut case = lock_held(&mut uow, context, &operator, case_id).await?;
        case.status = CaseStatus::Parked;
        case.counter_number = None;
        let why = if reason.is_empty() {
            "parked".to_owned()
        } else {
            format!("parked: {reason}")
        };
        let case = store::save(&mut uow, case, context.actor(), &why).await?;
        events::emit(
            &mut uow,
            &CaseParked {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        presence::change(
            &mut uow,
            operator,
            Presence::Available,
            PresenceChangeReason::Release,
        )
        .await?;
        uow.commit().await?;
        Ok(case)
    }

    /// Takes a parked case of the operator's site back to their counter.
    pub async fn resume(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
    ) -> Result<Call, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        if !operator.free_to_call() {
            return Err(RoutingError::WrongPresence {
                presence: operator.presence_name(),
                hint: "set yourself available first",
            }
            .into());
        }
        let (site_id, counter) = operator.seat()?;
        let mut case = store::lock(&mut uow, case_id).await?;
        if case.municipality != operator.profile.municipality {
            return Err(RoutingError::CaseNotFound.into());
        }
        crate::access::ensure_serves_department(context, &case.department)?;
        if case.status != CaseStatus::Parked {
            return Err(RoutingError::WrongStatus {
                status: case.status.to_db(),
                hint: "only a parked case can be resumed",
            }
            .into());
        }
        if case.site_id != Some(site_id) {
            return Err(RoutingError::OtherSite.into());
        }
        let catalogue = self.catalogue.get(case.municipality).await?;
        if !operator
            .profile
            .can_serve(catalogue.service(&case.service_code)?)
        {
            return Err(RoutingError::LacksSkill(case.service_code.clone()).into());
        }
        let now = uow.now();
        case.status = CaseStatus::Called;
        case.operator_id = Some(operator_id.to_owned());
        case.counter_number = Some(counter);
        case.call_count += 1;
        case.called_at = Some(now);
        let case = store::save(&mut uow, case, context.actor(), "resumed")
            .await
            .map_err(holding_conflict)?;
        events::emit(
            &mut uow,
            &CaseResumed {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        presence::change(
            &mut uow,
            operator,
            Presence::Busy,
            PresenceChangeReason::Call,
        )
        .await?;
        uow.commit().await?;
        let decision = events::decision(DecisionReason::SpecificTicket, Some(&case), now, 0, &[]);
        Ok(call_message(&case, decision, None))
    }

    /// Moves the held case to another queue of the site, keeping its arrival time.
    pub async fn transfer(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        to_group: &str,
        to_service: &str,
        reason: &str,
    ) -> Result<Case, ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        let mut case = lock_held(&mut uow, context, &operator, case_id).await?;
        let catalogue = self.catalogue.get(case.municipality).await?;
        let (group, service) =
            transfer_target(&catalogue, to_group, to_service, &case.service_code)?;
        let settings = self.site_settings(&case).await?;
        if !settings.service_groups.is_empty() && !settings.service_groups.contains(&group) {
            return Err(RoutingError::GroupNotServed(group).into());
        }
        let from_group = std::mem::replace(&mut case.group, group);
        if let Some(service) = service {
            case.service_code = service.code.clone();
            case.department = service.department.clone();
            case.tier = service.tier;
        }
        case.status = CaseStatus::Waiting;
        case.operator_id = None;
        case.counter_number = None;
        case.call_count = 0;
        let why = if reason.is_empty() {
            format!("transferred from {from_group}")
        } else {
            format!("transferred from {from_group}: {reason}")
        };
        let case = store::save(&mut uow, case, context.actor(), &why).await?;
        events::emit(
            &mut uow,
            &CaseTransferred {
                case: Some(case.to_event()),
                from_service_group: from_group,
            },
            &case,
        )
        .await?;
        presence::change(
            &mut uow,
            operator,
            Presence::Available,
            PresenceChangeReason::Release,
        )
        .await?;
        uow.commit().await?;
        self.dispatcher.apply(&case);
        Ok(case)
    }

    /// Completes the held case with an outcome. If the ticket has another service the
    /// operator may serve, it is called to the same counter; the ticket's other services
    /// enter their queues keeping its place. Otherwise the operator enters wrap-up.
    /// With `appointment` (its hand-off note), the case continues by appointment:
    /// `case.appointment_requested` follows `case.completed` in the same transaction, with
    /// the counter budget the case had, for the booking to pick up.
    pub async fn complete(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        outcome: &str,
        appointment: Option<&str>,
    ) -> Result<(Case, Option<Call>), ServiceError> {
        let mut uow = self.db.begin().await?;
        let done = self
            .complete_in(
                &mut uow,
                context,
                operator_id,
                case_id,
                outcome,
                appointment,
                None,
            )
            .await?;
        if done.next_call.is_none() {
            wrap_up(&mut uow, done.operator, done.case.id).await?;
        }
        uow.commit().await?;
        for case in &done.queued {
            self.dispatcher.apply(case);
        }
        Ok((done.case, done.next_call))
    }

    /// The counter's "complete and call next": [`Flow::complete`] and [`Flow::call_next`]
    /// in one transaction, without a wrap-up between them — one commit and no presence
    /// change where the two buttons cost two commits and two presence events. The
    /// ticket's next service comes first, as after `complete`; when nothing the operator
    /// may serve is waiting, they enter wrap-up, as after `complete`. The claim is the
    /// same conditional write as `call_next`'s: a case is claimed once, whoever races.
    ///
    /// The next case is chosen before the completion is written, so that the completion
    /// and the claim go to PostgreSQL as one statement
    /// ([`store::complete_held_and_claim`]): at the counter's pace every round trip and
    /// every statement's start costs CPU on both sides. A ticket's case is completed
    /// alone by it (its next service may come first), and a lost race claims again.
    pub async fn complete_and_call_next(
        &self,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        outcome: &str,
    ) -> Result<(Case, Option<Call>, sportello_proto::routing::v1::Decision), ServiceError> {
        let mut uow = self.db.begin().await?;
        let operator = lock_operator(&mut uow, context, operator_id).await?;
        let now = uow.now();
        // Where the operator may call from; not seated, they hold nothing to complete.
        let (site_id, counter) = operator.seat()?;
        let site = self.sites.get(site_id).await?;
        let settings = &site.site.settings;
        let catalogue = self.catalogue.get(operator.profile.municipality).await?;
        let lanes = dispatch::lanes_for(&operator.profile, site_id, settings, &catalogue);
        let groups = group_names(&lanes);
        let reason_completed = format!("completed: {outcome}");

        let mut lost_races = 0;
        // The case claimed by the completion's own statement, with why it was chosen.
        let mut first = None;
        let case = match self.dispatcher.choose(&lanes, now, settings) {
            Some(pick) => {
                let reservation = Reservation {
                    dispatcher: &self.dispatcher,
                    case: pick.case,
                    settled: false,
                };
                let written = store::complete_held_and_claim(
                    &mut uow,
                    case_id,
                    operator_id,
                    outcome,
                    context.actor(),
                    &reason_completed,
                    pick.case,
                    counter,
                    pick.reason.as_str_name(),
                )
                .await;
                reservation.settle();
                let (done, claimed) = match written {
                    Ok(written) => written,
                    Err(error) => {
                        self.dispatcher.release(pick.case);
                        return Err(error.into());
                    }
                };
                let Some(done) = done else {
                    self.dispatcher.release(pick.case);
                    lock_held(&mut uow, context, &operator, case_id).await?;
                    return Err(RoutingError::NotHolding.into());
                };
                match claimed {
                    Some(called) => first = Some((called, pick.reason)),
                    // Another operator or replica got it first: choose again below.
                    None if done.ticket_id.is_none() => {
                        self.dispatcher.forget(pick.case);
                        lost_races += 1;
                    }
                    // Not tried: the ticket's next service may come first.
                    None => self.dispatcher.release(pick.case),
                }
                done
            }
            None => {
                let Some(done) = store::complete_held(
                    &mut uow,
                    case_id,
                    operator_id,
                    outcome,
                    Some(0),
                    context.actor(),
                    &reason_completed,
                )
                .await?
                else {
                    lock_held(&mut uow, context, &operator, case_id).await?;
                    return Err(RoutingError::NotHolding.into());
                };
                done
            }
        };
        let done = match self
            .after_completion(&mut uow, context, operator, case, None)
            .await
        {
            Ok(done) => done,
            Err(error) => {
                if let Some((called, _)) = &first {
                    self.dispatcher.release(called.id);
                }
                return Err(error);
            }
        };
        let Completed {
            case,
            operator,
            next_call,
            queued,
        } = done;
        if let Some(call) = next_call {
            uow.commit().await?;
            let decision = call.decision.clone().unwrap_or_default();
            return Ok((case, Some(call), decision));
        }
        let called = match first {
            Some(first) => Some(first),
            None => loop {
                if lost_races == MAX_LOST_RACES {
                    self.dispatcher.reload(&self.db).await?;
                }
                let Some(pick) = self.dispatcher.choose(&lanes, now, settings) else {
                    break None;
                };
                let reservation = Reservation {
                    dispatcher: &self.dispatcher,
                    case: pick.case,
                    settled: false,
                };
                let claimed = store::claim(
                    &mut uow,
                    pick.case,
                    operator_id,
                    counter,
                    context.actor(),
                    pick.reason.as_str_name(),
                )
                .await;
                reservation.settle();
                match claimed {
                    Ok(Some(called)) => break Some((called, pick.reason)),
                    Ok(None) => {
                        self.dispatcher.forget(pick.case);
                        lost_races += 1;
                    }
                    Err(error) => {
                        self.dispatcher.release(pick.case);
                        return Err(error.into());
                    }
                }
            },
        };
        let Some((called, reason)) = called else {
            wrap_up(&mut uow, operator, case.id).await?;
            uow.commit().await?;
            for queued in &queued {
                self.dispatcher.apply(queued);
            }
            let decision = events::decision(
                DecisionReason::NothingWaiting,
                None,
                now,
                settings.priority_bound_minutes,
                &groups,
            );
            return Ok((case, None, decision));
        };
        let waited = now.duration_since(called.arrival_at).as_secs_f64().max(0.0);
        metrics::histogram!("sportello_routing_wait_seconds", "queue" => called.group.clone())
            .record(waited);
        let written = events::emit(
            &mut uow,
            &CaseCalled {
                case: Some(called.to_event()),
                reason: reason as i32,
            },
            &called,
        )
        .await;
        let committed = match written {
            Ok(()) => uow.commit().await,
            Err(error) => Err(error),
        };
        if let Err(error) = committed {
            self.dispatcher.release(called.id);
            return Err(error.into());
        }
        self.dispatcher.apply(&called);
        for queued in &queued {
            self.dispatcher.apply(queued);
        }
        tracing::debug!(case_id = %called.id, counter, reason = reason.as_str_name(), "case called");
        let decision = events::decision(
            reason,
            Some(&called),
            now,
            settings.priority_bound_minutes,
            &groups,
        );
        let ticket = match called.ticket_id {
            Some(id) => Some(tickets::get(self.db.pool(), id).await?),
            None => None,
        };
        let call = call_message(&called, decision.clone(), ticket.as_ref());
        Ok((case, Some(call), decision))
    }

    /// Completes the held case inside `uow`: the completion, its events, and the ticket's
    /// next service (called to the same counter, or queued). The operator's presence is
    /// the caller's to change.
    #[allow(clippy::too_many_arguments)]
    async fn complete_in(
        &self,
        uow: &mut UnitOfWork,
        context: &CallContext,
        operator_id: &str,
        case_id: Uuid,
        outcome: &str,
        appointment: Option<&str>,
        wrap_up_seconds: Option<i32>,
    ) -> Result<Completed, ServiceError> {
        let operator = lock_operator(uow, context, operator_id).await?;
        // One conditional write completes the case the operator holds; if it does not
        // apply, the locked read below says why (and the unit of work is dropped).
        let Some(case) = store::complete_held(
            uow,
            case_id,
            operator_id,
            outcome,
            wrap_up_seconds,
            context.actor(),
            &format!("completed: {outcome}"),
        )
        .await?
        else {
            lock_held(uow, context, &operator, case_id).await?;
            return Err(RoutingError::NotHolding.into());
        };
        self.after_completion(uow, context, operator, case, appointment)
            .await
    }

    /// What follows the completion's write inside `uow`: the checks on the completed
    /// case, its events, and the ticket's next service (called to the same counter, or
    /// queued).
    async fn after_completion(
        &self,
        uow: &mut UnitOfWork,
        context: &CallContext,
        operator: Operator,
        case: Case,
        appointment: Option<&str>,
    ) -> Result<Completed, ServiceError> {
        if case.municipality != operator.profile.municipality {
            return Err(RoutingError::CaseNotFound.into());
        }
        crate::access::ensure_serves_department(context, &case.department)?;
        let now = uow.now();
        let handling = case
            .called_at
            .map_or(0, |at| now.duration_since(at).as_secs().max(0));
        let event = sportello_proto::routing::v1::CaseCompleted {
            case: Some(case.to_event()),
            handling_seconds: u32::try_from(handling).unwrap_or(u32::MAX),
        };
        events::emit(uow, &event, &case).await?;
        if let Some(note) = appointment {
            let budget_minutes = self
                .catalogue
                .get(case.municipality)
                .await?
                .service(&case.service_code)
                .map_or(0, |s| u32::try_from(s.expected_minutes).unwrap_or(0));
            let handed = sportello_proto::routing::v1::CaseAppointmentRequested {
                case: Some(case.to_event()),
                context_note: note.to_owned(),
                budget_minutes,
                handling_seconds: u32::try_from(handling).unwrap_or(u32::MAX),
            };
            events::emit(uow, &handed, &case).await?;
        }

        let mut next_call = None;
        let mut queued = Vec::new();
        if let Some(ticket) = case.ticket_id {
            let catalogue = self.catalogue.get(case.municipality).await?;
            let mut rest = store::pending_of_ticket(uow, ticket).await?;
            let servable = rest.iter().position(|c| {
                catalogue
                    .service(&c.service_code)
                    .is_ok_and(|s| operator.profile.can_serve(s))
            });
            if let Some(i) = servable {
                let mut next = rest.remove(i);
                next.status = CaseStatus::Called;
                next.operator_id = Some(operator.profile.id.clone());
                next.counter_number = case.counter_number;
                next.call_count = 1;
                next.called_at = Some(now);
                let next = store::save(
                    uow,
                    next,
                    context.actor(),
                    "next service of the ticket at the same counter",
                )
                .await?;
                events::emit(
                    uow,
                    &CaseCalled {
                        case: Some(next.to_event()),
                        reason: DecisionReason::SameTicket as i32,
                    },
                    &next,
                )
                .await?;
                let decision =
                    events::decision(DecisionReason::SameTicket, Some(&next), now, 0, &[]);
                next_call = Some(call_message(&next, decision, None));
            } else {
                queued = queue_next(uow, context, rest).await?;
            }
        }
        Ok(Completed {
            case,
            operator,
            next_call,
            queued,
        })
    }
}

/// A case completed inside a unit of work, before its commit.
struct Completed {
    case: Case,
    /// The operator, locked, presence unchanged.
    operator: Operator,
    /// The ticket's next service, called to the same counter.
    next_call: Option<Call>,
    /// The ticket's next service, queued (for the view, after the commit).
    queued: Vec<Case>,
}

/// The operator enters wrap-up after completing `case`.
async fn wrap_up(
    uow: &mut UnitOfWork,
    mut operator: Operator,
    case: Uuid,
) -> Result<(), ServiceError> {
    operator.wrap_up_case = Some(case);
    presence::change(
        uow,
        operator,
        Presence::WrapUp,
        PresenceChangeReason::Completion,
    )
    .await?;
    Ok(())
}

/// Puts a called case back in its queue, keeping its place (its operator is gone).
pub async fn requeue(
    uow: &mut UnitOfWork,
    mut case: Case,
    actor: &str,
    reason: &str,
) -> Result<Case, RoutingError> {
    case.status = CaseStatus::Waiting;
    case.operator_id = None;
    case.counter_number = None;
    let case = store::save(uow, case, actor, reason).await?;
    events::emit(
        uow,
        &sportello_proto::routing::v1::CaseQueued {
            case: Some(case.to_event()),
        },
        &case,
    )
    .await?;
    Ok(case)
}

/// The ticket's next service (in the ticket's order) enters its own queue, keeping the
/// ticket's place; the others stay behind it, so the citizen is never called to two
/// counters at once.
pub async fn queue_next(
    uow: &mut UnitOfWork,
    context: &CallContext,
    rest: Vec<Case>,
) -> Result<Vec<Case>, ServiceError> {
    let Some(mut case) = rest.into_iter().min_by_key(|c| c.ticket_position) else {
        return Ok(Vec::new());
    };
    case.status = CaseStatus::Waiting;
    let case = store::save(
        uow,
        case,
        context.actor(),
        "queued keeping its ticket's place",
    )
    .await?;
    events::emit(
        uow,
        &sportello_proto::routing::v1::CaseQueued {
            case: Some(case.to_event()),
        },
        &case,
    )
    .await?;
    Ok(vec![case])
}

/// Where a transfer goes: a group, and possibly another service.
fn transfer_target<'c>(
    catalogue: &'c Catalogue,
    to_group: &str,
    to_service: &str,
    current_service: &str,
) -> Result<(String, Option<&'c crate::catalogue::domain::ServiceType>), ServiceError> {
    match (to_group.is_empty(), to_service.is_empty()) {
        (true, true) => Err(ServiceError::invalid_field(
            "to_service_group",
            "name the queue (or the service) to transfer to",
        )),
        (_, false) => {
            let service = catalogue.service(to_service)?;
            if !service.active {
                return Err(RoutingError::ServiceInactive(to_service.to_owned()).into());
            }
            if !to_group.is_empty() && to_group != service.group {
                return Err(ServiceError::invalid_field(
                    "to_service_group",
                    format!("{to_service} waits in {}", service.group),
                ));
            }
            Ok((service.group.clone(), Some(service)))
        }
        // A queue alone: the case keeps its service, which must wait in that queue —
        // a case in a queue its service is not in could never be called.
        (false, true) => {
            let group = catalogue.group(to_group)?;
            let service = catalogue.service(current_service)?;
            if service.group != group.code {
                return Err(ServiceError::invalid_field(
                    "to_service_code",
                    format!(
                        "{current_service} waits in {}: name the service to transfer to in {to_group}",
                        service.group
                    ),
                ));
            }
            Ok((group.code.clone(), None))
        }
    }
}

impl Flow {
    /// The settings of the case's site.
    async fn site_settings(
        &self,
        case: &Case,
    ) -> Result<sites::domain::SiteSettings, RoutingError> {
        match case.site_id {
            Some(site) => Ok(self.sites.get(site).await?.site.settings.clone()),
            None => Ok(sites::domain::SiteSettings::default()),
        }
    }
}

/// A unique violation on the one-case-per-operator index means the operator already holds one.
fn holding_conflict(error: RoutingError) -> RoutingError {
    match &error {
        RoutingError::Db(db)
            if sportello_kit::db::violated_constraint(
                db,
                sportello_kit::db::sqlstate::UNIQUE_VIOLATION,
            ) == Some("cases_one_called_per_operator") =>
        {
            RoutingError::AlreadyHolding
        }
        _ => error,
    }
}
