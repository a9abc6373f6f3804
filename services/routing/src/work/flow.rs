//! The back office's units of work: each locks what it changes, decides, saves, emits the
//! work event for the originating department and commits.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp, civil::Date};
use sportello_kit::{Aggregate, CallContext, Db, ServiceError, TimerAt, UnitOfWork};
use sportello_pa::calendar::Calendar;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{CaseStatus, OutcomeOnExpiry, Tier, WorkChanged, WorkState, WorkUpdateKind},
};
use uuid::Uuid;

use super::{
    domain::{Clock, Origin, WorkChange, WorkItem, WorkRequest},
    index::{News, WorkIndex},
    store,
};
use crate::{
    cases::{self, domain::Case},
    catalogue::cache::CatalogueCache,
    domain::Stored,
    error::RoutingError,
    operators::grpc::ensure_acting_as,
};

/// Timer kinds.
pub const OFFER_TIMER: &str = "routing.work.offer";
/// An escalation step on the clock.
pub const ESCALATION_TIMER: &str = "routing.work.escalation";
/// Widening the search for a specialist.
pub const WIDEN_TIMER: &str = "routing.work.widen";

/// How the back office offers work.
#[derive(Debug, Clone, Copy)]
pub struct OfferSettings {
    /// How long a specialist has to accept an offer (`BACK_OFFICE_OFFER_TIMEOUT`).
    pub offer_timeout: Duration,
    /// How long an item waits for acceptance before the target widens to every
    /// operator of the department present for back-office work, and twice that before
    /// its manager is alerted (`BACK_OFFICE_WIDEN_AFTER`).
    pub widen_after: Duration,
}

impl Default for OfferSettings {
    fn default() -> Self {
        Self {
            offer_timeout: Duration::from_secs(120),
            widen_after: Duration::from_secs(30 * 60),
        }
    }
}

/// The back office.
#[derive(Debug, Clone)]
pub struct WorkFlow {
    /// The database.
    pub db: Db,
    /// The catalogue.
    pub catalogue: CatalogueCache,
    /// Offer settings.
    pub settings: OfferSettings,
    /// This replica's view of what waits: proposes the items an offer then locks.
    pub index: WorkIndex,
}

/// How many of the best waiting items an offer weighs for continuity.
const WINDOW: usize = 8;

/// The service that stands for the counter when a counter case is escalated.
pub const COUNTER_ORIGIN: &str = "routing";

/// Emits `work.<origin>.<change>` with the item as it now is, and counts the change per
/// department (never per person: see DESIGN.md, Observability).
async fn emit(
    uow: &mut UnitOfWork,
    item: &WorkItem,
    change: &str,
    reason: &str,
) -> Result<(), ServiceError> {
    metrics::counter!(
        "sportello_routing_work_changes_total",
        "department" => item.department.clone(),
        "change" => change.to_owned()
    )
    .increment(1);
    let id = item.id.to_string();
    uow.emit_as(
        format!("work.{}.{change}", item.origin.service),
        &WorkChanged {
            item: Some(item.to_event()),
            reason: reason.to_owned(),
        },
        Aggregate {
            kind: "routing.work",
            id: &id,
            version: item.version,
            municipality: item.municipality,
        },
    )
    .await?;
    Ok(())
}

fn ts(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// Noon in Rome of `day`: when a clock's escalation for that day fires.
fn rome_noon(day: Date) -> Option<Timestamp> {
    day.at(12, 0, 0, 0)
        .in_tz("Europe/Rome")
        .ok()
        .map(|z| z.timestamp())
}

/// The working day before `day` in the municipality's calendar.
fn working_day_before(calendar: &Calendar, day: Date) -> Date {
    day.yesterday()
        .map(|d| calendar.working_day_on_or_before(d))
        .unwrap_or(day)
}

/// The keys of an item's three escalation steps.
fn escalation_keys(item: &WorkItem) -> Vec<String> {
    (1..=3)
        .map(|level| format!("{}:{level}", item.id))
        .collect()
}

/// The escalation timers of an item's clock: the warning date (the assignee), one
/// working day before the due date (the office manager), the due date (the official with
/// substitute power) — those still ahead of the item's level, to arm; the others' keys,
/// to disarm. A timer carries the due date it was armed for, so one left from an earlier
/// clock finds the clock changed and does nothing.
fn escalation_plan(item: &WorkItem) -> (Vec<TimerAt>, Vec<String>) {
    let Some((clock, due)) = item
        .clock
        .as_ref()
        .and_then(|clock| clock.due.map(|due| (clock, due)))
    else {
        // No term (or a term suspended with no end yet, a 10-bis notice whose receipt
        // is not recorded): nothing to escalate on, and steps armed for the old due date
        // are taken back rather than left to fire and be ignored.
        return (vec![], escalation_keys(item));
    };
    let calendar = Calendar::for_municipality(item.municipality.as_str());
    let steps = [
        (1_i16, clock.warning),
        (2, Some(working_day_before(&calendar, due))),
        (3, Some(due)),
    ];
    let (mut arm, mut disarm) = (vec![], vec![]);
    for (level, day) in steps {
        let key = format!("{}:{level}", item.id);
        match day.and_then(rome_noon) {
            Some(due_at) if level > item.escalation => arm.push(TimerAt {
                kind: ESCALATION_TIMER,
                key,
                due_at,
                payload: serde_json::json!({"item": item.id, "level": level, "due": due.to_string()}),
            }),
            _ => disarm.push(key),
        }
    }
    (arm, disarm)
}

/// Arms an item's escalation steps for its clock as it now is (one statement to arm, one
/// to disarm).
async fn arm_escalation(uow: &mut UnitOfWork, item: &WorkItem) -> Result<(), ServiceError> {
    let (arm, disarm) = escalation_plan(item);
    uow.schedule_timers(&arm).await?;
    uow.cancel_timers(ESCALATION_TIMER, &disarm).await?;
    Ok(())
}

/// Takes back every escalation step of a closed item.
async fn disarm_escalation(uow: &mut UnitOfWork, item: &WorkItem) -> Result<(), ServiceError> {
    uow.cancel_timers(ESCALATION_TIMER, &escalation_keys(item))
        .await?;
    Ok(())
}

impl WorkFlow {
    /// A department's request: one request, one case and one item, whatever is
    /// redelivered or re-published (the inbox drops redeliveries; the item's unique
    /// `(origin, work_id)` catches a re-publication under a new event id). Returns the
    /// item, and whether it is new.
    pub async fn request(
        &self,
        uow: &mut UnitOfWork,
        request: WorkRequest,
    ) -> Result<(WorkItem, bool), ServiceError> {
        if let Some(item) =
            store::lock_by_work(uow, &request.origin.service, request.work_id).await?
        {
            return Ok((item, false));
        }
        let catalogue = self.catalogue.get(request.municipality).await?;
        let service = catalogue.service(&request.service_code)?.clone();
        let now = uow.now();
        let case = Case {
            id: Uuid::now_v7(),
            municipality: request.municipality,
            requester_ref: request.requester_ref.clone(),
            service_code: service.code.clone(),
            department: service.department.clone(),
            tier: Tier::BackOffice,
            channel: Channel::Web,
            site_id: None,
            group: service.group.clone(),
            priority: request.priority,
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
        let actor = format!("system:{}", request.origin.service);
        cases::store::insert(uow, &case, &actor).await?;
        let item = WorkItem {
            id: Uuid::now_v7(),
            case_id: case.id,
            origin: request.origin,
            work_id: request.work_id,
            municipality: request.municipality,
            department: service.department.clone(),
            service_code: service.code.clone(),
            requester_ref: request.requester_ref,
            context_note: request.context_note,
            priority: request.priority,
            documents: request.documents,
            protocol_registration_id: request.protocol_registration_id,
            clock: request.clock,
            substitute_due: None,
            state: WorkState::Waiting,
            offered_to: None,
            offer_expires_at: None,
            waiting_since: now,
            holder: None,
            escalation: 0,
            arrived_at: now,
            closed_at: None,
            outcome_code: None,
            result: Default::default(),
            version: 1,
        };
        store::insert(uow, &item).await?;
        // A new item has no timers yet: its escalation steps and its first widening are
        // armed together, in one statement.
        let (mut timers, _) = escalation_plan(&item);
        timers.push(self.widening(&item, 1));
        uow.schedule_timers(&timers).await?;
        emit(uow, &item, "opened", "handed over by the department").await?;
        let offered = self
            .offer_with(
                uow,
                item.municipality.as_str(),
                &item.department,
                false,
                Some(item.id),
            )
            .await?;
        // Answer the item as stored: offered just now, or waiting as inserted.
        let item = offered
            .into_iter()
            .find(|offered| offered.id == item.id)
            .unwrap_or(item);
        Ok((item, true))
    }

    /// The timer that widens the search for a specialist at `stage`.
    fn widening(&self, item: &WorkItem, stage: i64) -> TimerAt {
        let after = ts(self.settings.widen_after) * stage as i32;
        TimerAt {
            kind: WIDEN_TIMER,
            key: format!("{}:{stage}", item.id),
            due_at: item.waiting_since + after,
            payload: serde_json::json!({"item": item.id, "stage": stage, "since": item.waiting_since.to_string()}),
        }
    }

    async fn arm_widening(
        &self,
        uow: &mut UnitOfWork,
        item: &WorkItem,
        stage: i64,
    ) -> Result<(), ServiceError> {
        uow.schedule_timers(&[self.widening(item, stage)]).await?;
        Ok(())
    }

    /// A department's change: suspend, resume, move, withdraw or decide the work.
    pub async fn change(
        &self,
        uow: &mut UnitOfWork,
        change: WorkChange,
    ) -> Result<Option<WorkItem>, ServiceError> {
        let Some(mut item) =
            store::lock_by_work(uow, &change.origin_service, change.work_id).await?
        else {
            // Not (yet) known: the request is still on its way. Retry later.
            return Err(RoutingError::WorkNotFound.into());
        };
        if !item.is_open() {
            return Ok(Some(item));
        }
        if item.municipality != change.municipality {
            return Err(ServiceError::invalid_field(
                "municipality_istat_code",
                "is not the work's municipality",
            ));
        }
        let now = uow.now();
        let change_name = match change.kind {
            WorkUpdateKind::Suspended => {
                if item.state == WorkState::Offered {
                    self.withdraw_offer(uow, &mut item).await?;
                }
                item.state = WorkState::Suspended;
                "suspended"
            }
            WorkUpdateKind::Resumed => {
                item.state = if item.holder.is_some() {
                    WorkState::Held
                } else {
                    item.waiting_since = now;
                    WorkState::Waiting
                };
                "resumed"
            }
            WorkUpdateKind::ClockChanged => "clock_changed",
            WorkUpdateKind::Withdrawn => {
                if item.state == WorkState::Offered {
                    self.withdraw_offer(uow, &mut item).await?;
                }
                item.state = WorkState::Cancelled;
                item.closed_at = Some(now);
                let mut case = cases::store::lock(uow, item.case_id).await?;
                case.status = CaseStatus::Cancelled;
                case.closed_at = Some(now);
                cases::store::save(uow, case, "system:withdrawn", "withdrawn by the department")
                    .await?;
                "cancelled"
            }
            WorkUpdateKind::Decided => {
                // Not checked against the service's outcomes in the catalogue, unlike a
                // specialist's completion: those list what an operator may choose for the
                // department, while this is the department's own decision in its own
                // terms (the registry's confirmed_by_silence_assent), which it reads back
                // itself; refusing it here would leave routing's item open on a procedure
                // the department has already closed.
                let Some(decision) = change.decision.clone() else {
                    return Err(ServiceError::invalid_field("outcome_code", "is required"));
                };
                if item.state == WorkState::Offered {
                    self.withdraw_offer(uow, &mut item).await?;
                }
                let mut case = cases::store::lock(uow, item.case_id).await?;
                case.status = CaseStatus::Completed;
                case.outcome_code = Some(decision.outcome_code.clone());
                case.closed_at = Some(now);
                cases::store::save(uow, case, "system:department", "decided by the department")
                    .await?;
                item.state = WorkState::Completed;
                item.outcome_code = Some(decision.outcome_code);
                item.result = decision.result;
                item.closed_at = Some(now);
                "completed"
            }
            WorkUpdateKind::Unspecified => return Ok(Some(item)),
        };
        if let Some(clock) = change.clock {
            item.clock = Some(clock);
        }
        let item = store::save(uow, item).await?;
        if item.is_open() {
            arm_escalation(uow, &item).await?;
        } else {
            disarm_escalation(uow, &item).await?;
        }
        let reason = if change.note.is_empty() {
            format!("changed by the department: {change_name}")
        } else {
            change.note.clone()
        };
        emit(uow, &item, change_name, &reason).await?;
        if !item.is_open() {
            // Whoever held it is free for the next item.
            self.offer_in(uow, item.municipality.as_str(), &item.department, false)
                .await?;
        }
        Ok(Some(item))
    }

    /// Takes an item's pending offer back (it becomes waiting, its timer cancelled).
    async fn withdraw_offer(
        &self,
        uow: &mut UnitOfWork,
        item: &mut WorkItem,
    ) -> Result<(), ServiceError> {
        uow.cancel_timer(OFFER_TIMER, &item.id.to_string()).await?;
        item.offered_to = None;
        item.offer_expires_at = None;
        item.state = WorkState::Waiting;
        Ok(())
    }

    /// Replaces this replica's view of what waits with the database's.
    pub async fn reload_index(&self) -> Result<usize, ServiceError> {
        let (waiting, declines) = store::waiting_with_declines(self.db.pool()).await?;
        let news: Vec<News<'_>> = waiting.iter().map(News::from).collect();
        self.index.reload(&news, &declines);
        Ok(news.len())
    }

    /// Offers waiting items of a department to its free specialists: each specialist
    /// present for back-office work, under capacity and with no offer pending, is offered
    /// the best waiting item for them. Runs in its own transaction; returns how many
    /// offers it made.
    pub async fn offer_round(
        &self,
        municipality: &str,
        department: &str,
    ) -> Result<usize, ServiceError> {
        let mut uow = self.db.begin().await?;
        let made = self
            .offer_in(&mut uow, municipality, department, false)
            .await?;
        uow.commit().await?;
        Ok(made)
    }

    async fn offer_in(
        &self,
        uow: &mut UnitOfWork,
        municipality: &str,
        department: &str,
        widened: bool,
    ) -> Result<usize, ServiceError> {
        Ok(self
            .offer_with(uow, municipality, department, widened, None)
            .await?
            .len())
    }

    /// As [`Self::offer_in`], weighing also `fresh`: an item this transaction created,
    /// which the in-memory view hears of only once it commits.
    async fn offer_with(
        &self,
        uow: &mut UnitOfWork,
        municipality: &str,
        department: &str,
        widened: bool,
        fresh: Option<Uuid>,
    ) -> Result<Vec<WorkItem>, ServiceError> {
        let now = uow.now();
        // Once every waiting item is offered the round is over: without this bound a new
        // request, offered to the first free specialist, still cost every other free
        // specialist four queries (the work benchmark fell from 100 to 40 requests a
        // second with 32 specialists). Items that start waiting in another transaction
        // after this count are offered by that transaction's own round.
        let mut waiting = store::count_waiting(uow, municipality, department).await?;
        let mut made = vec![];
        if waiting <= 0 {
            return Ok(made);
        }
        // Read without locks; each specialist's row is locked only when an offer to them
        // is weighed, so concurrent rounds (the consumer's lanes, completions) take
        // different specialists instead of one round holding them all until it commits.
        let specialists = store::free_specialists(uow, municipality, department, widened).await?;
        for specialist in specialists {
            if waiting <= 0 {
                break;
            }
            if !store::lock_for_offer(uow, &specialist).await?
                || !store::still_free(uow, &specialist).await?
            {
                continue;
            }
            // The view proposes; the database confirms (the items still wait, nobody
            // else holds them). When the view has nothing confirmed — it lags another
            // replica, or everything it knows is taken — the database is asked itself.
            let mut proposal = self
                .index
                .window(municipality, department, &specialist, WINDOW);
            proposal.extend(fresh);
            let mut window =
                store::lock_waiting(uow, &proposal, municipality, department, &specialist).await?;
            if window.is_empty() {
                window =
                    store::candidates(uow, municipality, department, &specialist, WINDOW as i64)
                        .await?;
            }
            // Nothing for this one (they declined what waits): the next may take it.
            let known = store::continuity(uow, &specialist, &window).await?;
            let Some(mut item) = window.into_iter().min_by_key(|i| {
                (
                    i.due().is_none(),
                    i.due(),
                    !known.contains(&i.id),
                    i.arrived_at,
                )
            }) else {
                continue;
            };
            let expires = now + ts(self.settings.offer_timeout);
            item.state = WorkState::Offered;
            item.offered_to = Some(specialist.clone());
            item.offer_expires_at = Some(expires);
            let item = store::save(uow, item).await?;
            uow.schedule_timer(
                OFFER_TIMER,
                &item.id.to_string(),
                expires,
                serde_json::json!({"item": item.id, "to": specialist}),
            )
            .await?;
            emit(
                uow,
                &item,
                "offered",
                "offered to the next eligible specialist",
            )
            .await?;
            made.push(item);
            waiting -= 1;
        }
        Ok(made)
    }

    /// The specialist accepts the item offered to them.
    pub async fn accept(
        &self,
        context: &CallContext,
        item_id: Uuid,
        operator_id: &str,
    ) -> Result<WorkItem, ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let mut uow = self.db.begin().await?;
        let operator = crate::operators::store::lock(&mut uow, operator_id).await?;
        context.ensure_municipality(operator.profile.municipality)?;
        let mut item = store::lock(&mut uow, item_id).await?;
        context.ensure_visible(item.municipality)?;
        // A retry after a lost reply (the specialist's second click, the gateway's
        // retry after a restart): the item is already theirs, so the answer is the item.
        if item.state == WorkState::Held && item.holder.as_deref() == Some(operator_id) {
            return Ok(item);
        }
        let now = uow.now();
        match (&item.state, item.offered_to.as_deref()) {
            (WorkState::Offered, Some(to)) if to != operator_id => {
                return Err(RoutingError::OfferedToAnother.into());
            }
            (WorkState::Offered, Some(_))
                if item.offer_expires_at.is_some_and(|expires| expires > now) => {}
            _ => return Err(RoutingError::NoOffer.into()),
        }
        let (held, _) = store::load_of(&mut uow, operator_id).await?;
        let capacity = crate::operators::store::back_office_capacity(&mut uow, operator_id).await?;
        if held >= i64::from(capacity) {
            return Err(RoutingError::AtCapacity(held).into());
        }
        uow.cancel_timer(OFFER_TIMER, &item.id.to_string()).await?;
        if let Some(expires) = item.offer_expires_at {
            // How long the offer waited for its answer.
            let offered_at = expires - ts(self.settings.offer_timeout);
            metrics::histogram!(
                "sportello_routing_work_offer_accept_seconds",
                "department" => item.department.clone()
            )
            .record(now.duration_since(offered_at).as_secs_f64().max(0.0));
        }
        item.state = WorkState::Held;
        item.holder = Some(operator_id.to_owned());
        item.offered_to = None;
        item.offer_expires_at = None;
        let item = store::save(&mut uow, item).await?;
        emit(&mut uow, &item, "assigned", "accepted by the specialist").await?;
        uow.commit().await?;
        Ok(item)
    }

    /// The specialist declines the item offered to them; it goes to the next one.
    pub async fn decline(
        &self,
        context: &CallContext,
        item_id: Uuid,
        operator_id: &str,
        reason: &str,
    ) -> Result<WorkItem, ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let mut uow = self.db.begin().await?;
        let mut item = store::lock(&mut uow, item_id).await?;
        context.ensure_visible(item.municipality)?;
        match (&item.state, item.offered_to.as_deref()) {
            (WorkState::Offered, Some(to)) if to == operator_id => {}
            (WorkState::Offered, Some(_)) => return Err(RoutingError::OfferedToAnother.into()),
            _ => return Err(RoutingError::NoOffer.into()),
        }
        let now = uow.now();
        store::record_decline(&mut uow, item.id, operator_id, now).await?;
        self.index.declined(item.id, operator_id);
        self.withdraw_offer(&mut uow, &mut item).await?;
        let item = store::save(&mut uow, item).await?;
        let why = if reason.is_empty() {
            "declined by the specialist".to_owned()
        } else {
            format!("declined by the specialist: {reason}")
        };
        emit(&mut uow, &item, "declined", &why).await?;
        self.offer_in(
            &mut uow,
            item.municipality.as_str(),
            &item.department,
            false,
        )
        .await?;
        uow.commit().await?;
        Ok(item)
    }

    /// The holder completes the item with its outcome and result; the case closes.
    pub async fn complete(
        &self,
        context: &CallContext,
        item_id: Uuid,
        operator_id: &str,
        outcome_code: String,
        result: std::collections::BTreeMap<String, String>,
    ) -> Result<WorkItem, ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let mut uow = self.db.begin().await?;
        let mut item = store::lock(&mut uow, item_id).await?;
        context.ensure_visible(item.municipality)?;
        // The same completion again (its reply was lost when a process restarted): it
        // has happened, so it answers as it did; a different outcome is still refused.
        if item.state == WorkState::Completed
            && item.holder.as_deref() == Some(operator_id)
            && item.outcome_code.as_deref() == Some(outcome_code.as_str())
            && item.result == result
        {
            return Ok(item);
        }
        if !item.is_open() {
            return Err(RoutingError::WorkClosed(item.state.to_db()).into());
        }
        if item.state != WorkState::Held || item.holder.as_deref() != Some(operator_id) {
            return Err(RoutingError::NotHolder.into());
        }
        // The department reads the outcome of its work and acts on it (the registry
        // confirms a residence on check_passed): a code it does not know would close the
        // case with nothing following. So the specialist chooses from what the catalogue
        // lists for the service, checked here before anything is written, so a refusal
        // leaves the item held and emits nothing.
        let catalogue = self.catalogue.get(item.municipality).await?;
        let accepted = catalogue.service(&item.service_code)?.outcome_codes();
        if !accepted.contains(&outcome_code.as_str()) {
            let accepted = accepted.join(", ");
            return Err(ServiceError::invalid_field(
                "outcome_code",
                format!(
                    "{outcome_code} non è tra gli esiti ammessi per {service}: {accepted} / \
                     {outcome_code} is not an outcome {service} accepts: {accepted}",
                    service = item.service_code,
                ),
            ));
        }
        let now = uow.now();
        let mut case = cases::store::lock(&mut uow, item.case_id).await?;
        case.status = CaseStatus::Completed;
        case.outcome_code = Some(outcome_code.clone());
        case.operator_id = Some(operator_id.to_owned());
        case.closed_at = Some(now);
        cases::store::save(
            &mut uow,
            case,
            context.actor(),
            "completed in the back office",
        )
        .await?;
        item.state = WorkState::Completed;
        item.outcome_code = Some(outcome_code);
        item.result = result;
        item.closed_at = Some(now);
        let item = store::save(&mut uow, item).await?;
        disarm_escalation(&mut uow, &item).await?;
        emit(&mut uow, &item, "completed", "completed by the specialist").await?;
        self.offer_in(
            &mut uow,
            item.municipality.as_str(),
            &item.department,
            false,
        )
        .await?;
        uow.commit().await?;
        Ok(item)
    }

    /// An offer's time ran out: the item goes to the next specialist.
    pub async fn lapse(&self, uow: &mut UnitOfWork, item_id: Uuid) -> Result<(), ServiceError> {
        let mut item = store::lock(uow, item_id).await?;
        let now = uow.now();
        let lapsed = item.state == WorkState::Offered
            && item.offer_expires_at.is_some_and(|expires| expires <= now);
        if !lapsed {
            return Ok(());
        }
        let to = item.offered_to.clone().unwrap_or_default();
        store::record_decline(uow, item.id, &to, now).await?;
        self.index.declined(item.id, &to);
        item.offered_to = None;
        item.offer_expires_at = None;
        item.state = WorkState::Waiting;
        let item = store::save(uow, item).await?;
        emit(uow, &item, "lapsed", "the offer lapsed unanswered").await?;
        self.offer_in(uow, item.municipality.as_str(), &item.department, false)
            .await?;
        Ok(())
    }

    /// An item waited long enough: offer it more widely (stage 1), then alert the
    /// department's manager (stage 2).
    pub async fn widen(
        &self,
        uow: &mut UnitOfWork,
        item_id: Uuid,
        stage: i64,
        since: &str,
    ) -> Result<(), ServiceError> {
        let item = store::lock(uow, item_id).await?;
        if item.state != WorkState::Waiting || item.waiting_since.to_string() != since {
            return Ok(());
        }
        if stage == 1 {
            emit(
                uow,
                &item,
                "widened",
                "no specialist accepted in time: offered to every operator of the department",
            )
            .await?;
            self.offer_in(uow, item.municipality.as_str(), &item.department, true)
                .await?;
            self.arm_widening(uow, &item, 2).await?;
        } else {
            emit(
                uow,
                &item,
                "widened",
                "no one accepted in time: the department's manager is alerted",
            )
            .await?;
        }
        Ok(())
    }

    /// An escalation step came due on the item's clock.
    pub async fn escalate(
        &self,
        uow: &mut UnitOfWork,
        item_id: Uuid,
        level: i16,
        due: &str,
    ) -> Result<(), ServiceError> {
        let mut item = store::lock(uow, item_id).await?;
        let current = item.due().map(|d| d.to_string());
        if !item.is_open() || current.as_deref() != Some(due) || item.escalation >= level {
            return Ok(());
        }
        item.escalation = level;
        let (change, reason) = match level {
            1 => (
                "escalated",
                "warning date reached: the assignee is warned".to_owned(),
            ),
            2 => (
                "escalated",
                "one working day to the due date: the office manager is alerted".to_owned(),
            ),
            _ => {
                // The substitute has half the original term (L. 241/1990 art. 2 c.9-ter).
                let substitute = item.clock.as_ref().and_then(substitute_due);
                item.substitute_due = substitute;
                (
                    "breached",
                    format!(
                        "due date passed undecided: the official with substitute power decides by {}",
                        substitute.map(|d| d.to_string()).unwrap_or_default()
                    ),
                )
            }
        };
        let item = store::save(uow, item).await?;
        emit(uow, &item, change, &reason).await?;
        Ok(())
    }

    /// A front-desk operator hands the case at their counter to the back office. The case
    /// keeps its history; it leaves the counter queue (no site, tier 4). Returns the item
    /// and the date by which the citizen will hear.
    pub async fn escalate_case(
        &self,
        context: &CallContext,
        case_id: Uuid,
        operator_id: &str,
        context_note: String,
    ) -> Result<(WorkItem, Date), ServiceError> {
        ensure_acting_as(context, operator_id)?;
        let mut uow = self.db.begin().await?;
        let mut case = cases::store::lock(&mut uow, case_id).await?;
        context.ensure_visible(case.municipality)?;
        if case.status != CaseStatus::Called || case.operator_id.as_deref() != Some(operator_id) {
            return Err(RoutingError::NotHolding.into());
        }
        let catalogue = self.catalogue.get(case.municipality).await?;
        let service = catalogue.service(&case.service_code)?.clone();
        let now = uow.now();
        let today = now.to_zoned(sportello_kit::clock::rome()).date();
        let calendar = Calendar::for_municipality(case.municipality.as_str());
        // The procedure's own term when the catalogue names one, else the general 30 days
        // of L. 241/1990 art. 2 c.2.
        let due = statutory_due(&service.statutory_rule, today, &calendar);
        let clock = Clock {
            rule: if service.statutory_rule.is_empty() {
                "general_30_days".to_owned()
            } else {
                service.statutory_rule.clone()
            },
            start: today,
            due: Some(due),
            warning: due.checked_sub(jiff::Span::new().days(5)).ok(),
            outcome: OutcomeOnExpiry::DecisionDue as i32,
            suspensions: Vec::new(),
        };
        case.status = CaseStatus::Waiting;
        case.tier = Tier::BackOffice;
        case.site_id = None;
        case.operator_id = None;
        case.counter_number = None;
        let case = cases::store::save(
            &mut uow,
            case,
            context.actor(),
            "escalated from the counter to the back office",
        )
        .await?;
        let item = WorkItem {
            id: Uuid::now_v7(),
            case_id: case.id,
            origin: Origin {
                service: COUNTER_ORIGIN.to_owned(),
                procedure_kind: "counter_case".to_owned(),
                procedure_id: case.id,
            },
            work_id: case.id,
            municipality: case.municipality,
            department: service.department.clone(),
            service_code: service.code.clone(),
            requester_ref: case.requester_ref.clone(),
            context_note,
            priority: case.priority,
            documents: Vec::new(),
            protocol_registration_id: None,
            clock: Some(clock),
            substitute_due: None,
            state: WorkState::Waiting,
            offered_to: None,
            offer_expires_at: None,
            waiting_since: now,
            holder: None,
            escalation: 0,
            arrived_at: now,
            closed_at: None,
            outcome_code: None,
            result: Default::default(),
            version: 1,
        };
        store::insert(&mut uow, &item).await?;
        arm_escalation(&mut uow, &item).await?;
        self.arm_widening(&mut uow, &item, 1).await?;
        emit(&mut uow, &item, "opened", "escalated from the counter").await?;
        // Other replicas drop it from their counter queues on this event.
        cases::events::emit(
            &mut uow,
            &sportello_proto::routing::v1::CaseTransferred {
                case: Some(case.to_event()),
                from_service_group: case.group.clone(),
            },
            &case,
        )
        .await?;
        self.offer_in(
            &mut uow,
            item.municipality.as_str(),
            &item.department,
            false,
        )
        .await?;
        uow.commit().await?;
        Ok((item, due))
    }
}

/// The due date of a procedure started `today`: the PA library's term for the rule when
/// it knows it, else 30 calendar days (L. 241/1990 art. 2 c.2), moved past a holiday.
fn statutory_due(rule: &str, today: Date, calendar: &Calendar) -> Date {
    let days = match rule {
        "residence_check" => 45,
        "suap_ordinary" => 60,
        "scia_control" => 60,
        _ => 30,
    };
    let due = today
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(today);
    calendar.roll_forward(due)
}

/// The substitute's due date: half the original term after the due date
/// (L. 241/1990 art. 2 c.9-ter), rounded up to whole days.
fn substitute_due(clock: &Clock) -> Option<Date> {
    let due = clock.due?;
    let term = clock.start.until(due).ok()?.get_days();
    let half = (term + 1) / 2;
    due.checked_add(jiff::Span::new().days(half)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_substitute_has_half_the_original_term() {
        // L. 241/1990 art. 2 c.9-ter: a 30-day term breached on 31 January gives the
        // substitute until 15 February.
        let clock = Clock {
            rule: "general_30_days".into(),
            start: jiff::civil::date(2027, 1, 1),
            due: Some(jiff::civil::date(2027, 1, 31)),
            warning: None,
            outcome: OutcomeOnExpiry::DecisionDue as i32,
            suspensions: vec![],
        };
        assert_eq!(substitute_due(&clock), Some(jiff::civil::date(2027, 2, 15)));
    }

    #[test]
    fn the_manager_is_alerted_one_working_day_before_the_due_date() {
        let calendar = Calendar::for_municipality("011015");
        // Due Tuesday 7 April 2026, the day after Easter Monday: the working day before
        // is Thursday 2 April (Good Friday is a working day in Italy: Friday 3 April).
        assert_eq!(
            working_day_before(&calendar, jiff::civil::date(2026, 4, 7)),
            jiff::civil::date(2026, 4, 3)
        );
        // Due Monday 21 December: the working day before is Friday 18 December.
        assert_eq!(
            working_day_before(&calendar, jiff::civil::date(2026, 12, 21)),
            jiff::civil::date(2026, 12, 18)
        );
    }
}
