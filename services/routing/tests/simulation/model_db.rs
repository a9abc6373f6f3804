//! PostgreSQL, modelled in memory: routing's rows the simulation touches, each
//! transaction one atomic method (the lock the real transaction holds is the `RefCell`
//! borrow), keeping the guarantees the real schema and statements give:
//!
//! - a claim is the conditional `update … where status = 'waiting'` of `cases::store::claim`;
//! - an operator holds at most one called case (`cases_one_called_per_operator`);
//! - an offer locks only items that still wait and that this specialist never declined
//!   (`work::store::lock_waiting`), to specialists still free (`still_free`);
//! - the outbox is taken `for update skip locked` and marked only at commit; a relay's
//!   transaction that dies with its host rolls back (its locks are freed);
//! - the inbox's `on conflict do nothing` and the consumer's effect in one transaction.
//!
//! Every committed transition is also written to `history`, which the properties read.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    rc::Rc,
};

use jiff::{Timestamp, civil::Date};
use prost::Message;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        CaseCalled, CaseCompleted, CaseOpened, CaseStatus, DecisionReason, PriorityCategory,
        StatutoryClock, Tier, WorkChanged, WorkItem as WorkMessage, WorkState,
    },
};
use sportello_routing::{cases::domain::Case, work::index::WorkIndex};
use uuid::Uuid;

/// The municipality every row belongs to.
pub(crate) const MUNICIPALITY: &str = "011015";

/// A database that is shared by every simulated host (it outlives their crashes).
pub(crate) type SharedDb = Rc<RefCell<ModelDb>>;

/// Why a transaction did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbError {
    /// The database was unreachable (injected): nothing was written.
    Unavailable,
    /// The operator is not free to call.
    WrongPresence,
    /// The operator already holds a called case (the unique index).
    AlreadyHolding,
}

/// An operator's row.
#[derive(Debug, Clone)]
pub(crate) struct OperatorRow {
    /// Free to call (available) or busy with a case.
    pub(crate) available: bool,
    /// Back-office department, for specialists.
    pub(crate) department: Option<String>,
    /// How many items a specialist may hold.
    pub(crate) capacity: usize,
}

/// An outbox row.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    /// The event's id (`Nats-Msg-Id`).
    pub(crate) id: Uuid,
    /// Its subject.
    pub(crate) subject: String,
    /// Its protobuf payload.
    pub(crate) payload: Vec<u8>,
    /// Marked published.
    pub(crate) published: bool,
    /// The relay transaction holding its row lock.
    pub(crate) locked_by: Option<u64>,
}

/// A back-office item.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Its id.
    pub(crate) id: Uuid,
    /// Its department.
    pub(crate) department: String,
    /// Arrival.
    pub(crate) arrived_at: Timestamp,
    /// Statutory due date.
    pub(crate) due: Option<Date>,
    /// State.
    pub(crate) state: WorkState,
    /// Offered to, while offered.
    pub(crate) offered_to: Option<String>,
    /// When the offer lapses (simulated milliseconds).
    pub(crate) offer_expires: Option<u64>,
    /// Holder, while held.
    pub(crate) holder: Option<String>,
    /// Version.
    pub(crate) version: i64,
}

/// A committed transition, for the properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fact {
    /// A case was claimed (called) by an operator.
    Claimed { case: Uuid, operator: String },
    /// A held case was completed.
    Completed { case: Uuid, operator: String },
    /// An item was offered.
    Offered { item: Uuid, to: String },
    /// An item's offer ended: accepted, or declined (or lapsed).
    OfferEnded {
        item: Uuid,
        to: String,
        declined: bool,
    },
    /// An item was taken by a specialist.
    Held { item: Uuid, by: String },
    /// A held item was completed.
    ItemDone { item: Uuid, by: String },
}

/// The database.
#[derive(Debug, Default)]
pub(crate) struct ModelDb {
    /// Cases by id.
    pub(crate) cases: BTreeMap<Uuid, Case>,
    /// Operators by id.
    pub(crate) operators: BTreeMap<String, OperatorRow>,
    /// The outbox, in insertion order.
    pub(crate) outbox: Vec<OutboxRow>,
    /// The consumer's inbox: event ids it recorded.
    pub(crate) inbox: BTreeSet<Uuid>,
    /// The consumer's effect: how many times each event took effect.
    pub(crate) applied: BTreeMap<Uuid, u32>,
    /// Back-office items.
    pub(crate) items: BTreeMap<Uuid, Item>,
    /// Who declined (or let lapse) which item.
    pub(crate) declines: BTreeSet<(Uuid, String)>,
    /// Committed transitions, in commit order.
    pub(crate) history: Vec<Fact>,
    /// Probability that a claim finds the database unreachable (injected).
    pub(crate) unavailable: f64,
    next_tx: u64,
}

/// Appends an event; its id is its place in the outbox (deterministic, unique).
fn emit(outbox: &mut Vec<OutboxRow>, subject: String, payload: Vec<u8>) {
    outbox.push(OutboxRow {
        id: Uuid::from_u128(0xE0E0_0000_0000 + outbox.len() as u128),
        subject,
        payload,
        published: false,
        locked_by: None,
    });
}

impl ModelDb {
    /// Opens a counter case (idempotent by id, as a retried OpenCase is by its key).
    pub(crate) fn open_case(&mut self, case: Case) -> Case {
        if let Some(known) = self.cases.get(&case.id) {
            return known.clone();
        }
        let payload = CaseOpened {
            case: Some(case.to_event()),
        }
        .encode_to_vec();
        emit(&mut self.outbox, "case.opened".into(), payload);
        self.cases.insert(case.id, case.clone());
        case
    }

    /// The case an operator holds at their counter (`get_with_held_case`).
    pub(crate) fn held_by(&self, operator: &str) -> Option<Case> {
        self.cases
            .values()
            .find(|c| c.status == CaseStatus::Called && c.operator_id.as_deref() == Some(operator))
            .cloned()
    }

    /// Every case waiting at a counter (`waiting_at_counters`), for a replica's reload.
    pub(crate) fn waiting_at_counters(&self) -> Vec<Case> {
        self.cases
            .values()
            .filter(|c| c.status == CaseStatus::Waiting && c.at_counter())
            .cloned()
            .collect()
    }

    /// `Flow::claim`: lock the operator, the conditional claim, presence busy, the
    /// event, commit. `failed` is the injected outage, drawn by the caller.
    pub(crate) fn claim(
        &mut self,
        case_id: Uuid,
        operator: &str,
        reason: DecisionReason,
        failed: bool,
    ) -> Result<Option<Case>, DbError> {
        if failed {
            return Err(DbError::Unavailable);
        }
        if !self.operators.get(operator).is_some_and(|o| o.available) {
            return Err(DbError::WrongPresence);
        }
        let Some(case) = self
            .cases
            .get(&case_id)
            .filter(|c| c.status == CaseStatus::Waiting)
            .cloned()
        else {
            return Ok(None);
        };
        if self.held_by(operator).is_some() {
            return Err(DbError::AlreadyHolding);
        }
        let mut case = case;
        case.status = CaseStatus::Called;
        case.operator_id = Some(operator.to_owned());
        case.counter_number = Some(1);
        case.call_count += 1;
        case.version += 1;
        let payload = CaseCalled {
            case: Some(case.to_event()),
            reason: reason as i32,
        }
        .encode_to_vec();
        emit(&mut self.outbox, "case.called".into(), payload);
        if let Some(row) = self.operators.get_mut(operator) {
            row.available = false;
        }
        self.cases.insert(case.id, case.clone());
        self.history.push(Fact::Claimed {
            case: case.id,
            operator: operator.to_owned(),
        });
        Ok(Some(case))
    }

    /// `Flow::complete` of the held case (the operator is free again: the model skips
    /// wrap-up). `false` if the operator does not hold it.
    pub(crate) fn complete(&mut self, case_id: Uuid, operator: &str) -> bool {
        let Some(mut case) = self.cases.get(&case_id).cloned() else {
            return false;
        };
        if case.status != CaseStatus::Called || case.operator_id.as_deref() != Some(operator) {
            return false;
        }
        case.status = CaseStatus::Completed;
        case.version += 1;
        let payload = CaseCompleted {
            case: Some(case.to_event()),
            handling_seconds: 60,
        }
        .encode_to_vec();
        emit(&mut self.outbox, "case.completed".into(), payload);
        if let Some(row) = self.operators.get_mut(operator) {
            row.available = true;
        }
        self.cases.insert(case.id, case);
        self.history.push(Fact::Completed {
            case: case_id,
            operator: operator.to_owned(),
        });
        true
    }

    // --- the outbox relay's transaction -------------------------------------------------

    /// Begins a relay transaction: up to `n` unpublished rows not locked by another,
    /// in insertion order, locked by it (`for update skip locked`).
    pub(crate) fn outbox_take(&mut self, n: usize) -> (u64, Vec<OutboxRow>) {
        self.next_tx += 1;
        let tx = self.next_tx;
        let mut taken = Vec::new();
        for row in self
            .outbox
            .iter_mut()
            .filter(|r| !r.published && r.locked_by.is_none())
            .take(n)
        {
            row.locked_by = Some(tx);
            taken.push(row.clone());
        }
        (tx, taken)
    }

    /// Commits a relay transaction: marks `acked` published, frees its locks.
    pub(crate) fn outbox_commit(&mut self, tx: u64, acked: &BTreeSet<Uuid>) {
        for row in self.outbox.iter_mut().filter(|r| r.locked_by == Some(tx)) {
            if acked.contains(&row.id) {
                row.published = true;
            }
            row.locked_by = None;
        }
    }

    /// Rolls a relay transaction back (its host died, or it gave up).
    pub(crate) fn outbox_rollback(&mut self, tx: u64) {
        for row in self.outbox.iter_mut().filter(|r| r.locked_by == Some(tx)) {
            row.locked_by = None;
        }
    }

    // --- the consumer's inbox ------------------------------------------------------------

    /// The inbox's transaction: records the event id and applies the effect, or
    /// recognises a redelivery. Returns whether it was applied now.
    pub(crate) fn consume(&mut self, event: Uuid) -> bool {
        if !self.inbox.insert(event) {
            return false;
        }
        *self.applied.entry(event).or_default() += 1;
        true
    }

    // --- the back office -----------------------------------------------------------------

    fn emit_item(&mut self, id: Uuid, change: &str) {
        let Some(item) = self.items.get(&id) else {
            return;
        };
        let message = WorkMessage {
            id: item.id.to_string(),
            municipality_istat_code: MUNICIPALITY.into(),
            department: item.department.clone(),
            clock: item.due.map(|d| StatutoryClock {
                due_date: d.to_string(),
                ..StatutoryClock::default()
            }),
            state: item.state as i32,
            offered_to: item.offered_to.clone().unwrap_or_default(),
            holder: item.holder.clone().unwrap_or_default(),
            arrived_at: item.arrived_at.to_string(),
            version: u64::try_from(item.version).unwrap_or_default(),
            ..WorkMessage::default()
        };
        let payload = WorkChanged {
            item: Some(message),
            reason: change.to_owned(),
        }
        .encode_to_vec();
        emit(
            &mut self.outbox,
            format!("work.{}.{change}", item_department(&self.items, id)),
            payload,
        );
    }

    fn save_item(&mut self, mut item: Item, change: &str) {
        item.version += 1;
        let id = item.id;
        self.items.insert(id, item);
        self.emit_item(id, change);
    }

    /// A department's request: the item (idempotent by id), then an offer round in the
    /// same transaction, weighing the fresh item (`WorkFlow::request`).
    pub(crate) fn request(&mut self, item: Item, index: &WorkIndex, now: u64, timeout: u64) {
        if self.items.contains_key(&item.id) {
            return;
        }
        let (id, department) = (item.id, item.department.clone());
        self.items.insert(id, item);
        self.emit_item(id, "requested");
        self.offer_round(&department, index, Some(id), now, timeout);
    }

    fn free(&self, specialist: &str) -> bool {
        let capacity = self.operators.get(specialist).map_or(0, |o| o.capacity);
        let offered = self
            .items
            .values()
            .any(|i| i.state == WorkState::Offered && i.offered_to.as_deref() == Some(specialist));
        let held = self
            .items
            .values()
            .filter(|i| i.state == WorkState::Held && i.holder.as_deref() == Some(specialist))
            .count();
        !offered && held < capacity
    }

    /// `WorkFlow::offer_with`: each free specialist of the department is offered the best
    /// item the view proposes and the database confirms, or failing that the best the
    /// database itself finds. Returns how many offers it made.
    pub(crate) fn offer_round(
        &mut self,
        department: &str,
        index: &WorkIndex,
        fresh: Option<Uuid>,
        now: u64,
        timeout: u64,
    ) -> usize {
        let mut waiting = self
            .items
            .values()
            .filter(|i| i.department == department && i.state == WorkState::Waiting)
            .count();
        let specialists: Vec<String> = self
            .operators
            .iter()
            .filter(|(id, o)| o.department.as_deref() == Some(department) && self.free(id))
            .map(|(id, _)| id.clone())
            .collect();
        let mut made = 0;
        for specialist in specialists {
            if waiting == 0 {
                break;
            }
            if !self.free(&specialist) {
                continue;
            }
            let mut proposal = index.window(MUNICIPALITY, department, &specialist, 8);
            proposal.extend(fresh);
            let eligible = |i: &&Item| {
                i.state == WorkState::Waiting
                    && i.department == department
                    && !self.declines.contains(&(i.id, specialist.clone()))
            };
            let mut window: Vec<Item> = proposal
                .iter()
                .filter_map(|id| self.items.get(id))
                .filter(eligible)
                .cloned()
                .collect();
            if window.is_empty() {
                window = self.items.values().filter(eligible).cloned().collect();
            }
            let Some(mut item) = window
                .into_iter()
                .min_by_key(|i| (i.due.is_none(), i.due, i.arrived_at, i.id))
            else {
                continue;
            };
            item.state = WorkState::Offered;
            item.offered_to = Some(specialist.clone());
            item.offer_expires = Some(now + timeout);
            self.history.push(Fact::Offered {
                item: item.id,
                to: specialist.clone(),
            });
            self.save_item(item, "offered");
            made += 1;
            waiting -= 1;
        }
        made
    }

    /// The item offered to a specialist, if any.
    pub(crate) fn offer_for(&self, specialist: &str) -> Option<Uuid> {
        self.items
            .values()
            .find(|i| i.state == WorkState::Offered && i.offered_to.as_deref() == Some(specialist))
            .map(|i| i.id)
    }

    /// The items a specialist holds.
    pub(crate) fn held_items(&self, specialist: &str) -> Vec<Uuid> {
        self.items
            .values()
            .filter(|i| i.state == WorkState::Held && i.holder.as_deref() == Some(specialist))
            .map(|i| i.id)
            .collect()
    }

    /// `WorkFlow::accept`: only the offer's addressee, before it lapses, under capacity.
    pub(crate) fn accept(&mut self, id: Uuid, specialist: &str, now: u64) -> bool {
        let Some(mut item) = self.items.get(&id).cloned() else {
            return false;
        };
        let live = item.state == WorkState::Offered
            && item.offered_to.as_deref() == Some(specialist)
            && item.offer_expires.is_some_and(|e| e > now);
        let capacity = self.operators.get(specialist).map_or(0, |o| o.capacity);
        if !live || self.held_items(specialist).len() >= capacity {
            return false;
        }
        item.state = WorkState::Held;
        item.holder = Some(specialist.to_owned());
        item.offered_to = None;
        item.offer_expires = None;
        self.history.push(Fact::OfferEnded {
            item: id,
            to: specialist.to_owned(),
            declined: false,
        });
        self.history.push(Fact::Held {
            item: id,
            by: specialist.to_owned(),
        });
        self.save_item(item, "assigned");
        true
    }

    /// `WorkFlow::decline` (and `lapse` with `lapse`): the decline is recorded in the
    /// database and in this replica's view, the item waits again, and a round follows.
    fn back_to_waiting(
        &mut self,
        id: Uuid,
        index: &WorkIndex,
        now: u64,
        timeout: u64,
        change: &str,
    ) -> bool {
        let Some(mut item) = self.items.get(&id).cloned() else {
            return false;
        };
        let Some(to) = item.offered_to.take() else {
            return false;
        };
        self.declines.insert((id, to.clone()));
        index.declined(id, &to);
        item.state = WorkState::Waiting;
        item.offer_expires = None;
        let department = item.department.clone();
        self.history.push(Fact::OfferEnded {
            item: id,
            to,
            declined: true,
        });
        self.save_item(item, change);
        self.offer_round(&department, index, None, now, timeout);
        true
    }

    /// `WorkFlow::decline`.
    pub(crate) fn decline(
        &mut self,
        id: Uuid,
        specialist: &str,
        index: &WorkIndex,
        now: u64,
        timeout: u64,
    ) -> bool {
        let offered = self.items.get(&id).is_some_and(|i| {
            i.state == WorkState::Offered && i.offered_to.as_deref() == Some(specialist)
        });
        offered && self.back_to_waiting(id, index, now, timeout, "declined")
    }

    /// The offer timers that are due (`WorkFlow::lapse`, one transaction each).
    pub(crate) fn lapse_due(&mut self, index: &WorkIndex, now: u64, timeout: u64) {
        let due: Vec<Uuid> = self
            .items
            .values()
            .filter(|i| i.state == WorkState::Offered && i.offer_expires.is_some_and(|e| e <= now))
            .map(|i| i.id)
            .collect();
        for id in due {
            self.back_to_waiting(id, index, now, timeout, "lapsed");
        }
    }

    /// `WorkFlow::complete`, then a round for the department.
    pub(crate) fn complete_item(
        &mut self,
        id: Uuid,
        specialist: &str,
        index: &WorkIndex,
        now: u64,
        timeout: u64,
    ) -> bool {
        let Some(mut item) = self.items.get(&id).cloned() else {
            return false;
        };
        if item.state != WorkState::Held || item.holder.as_deref() != Some(specialist) {
            return false;
        }
        item.state = WorkState::Completed;
        let department = item.department.clone();
        self.history.push(Fact::ItemDone {
            item: id,
            by: specialist.to_owned(),
        });
        self.save_item(item, "completed");
        self.offer_round(&department, index, None, now, timeout);
        true
    }

    /// Every waiting item, for a replica's view reload, with the declines.
    pub(crate) fn waiting_items(&self) -> (Vec<Item>, Vec<(Uuid, String)>) {
        let waiting: Vec<Item> = self
            .items
            .values()
            .filter(|i| i.state == WorkState::Waiting)
            .cloned()
            .collect();
        let declines = self
            .declines
            .iter()
            .filter(|(id, _)| waiting.iter().any(|i| i.id == *id))
            .cloned()
            .collect();
        (waiting, declines)
    }
}

fn item_department(items: &BTreeMap<Uuid, Item>, id: Uuid) -> String {
    items
        .get(&id)
        .map(|i| i.department.clone())
        .unwrap_or_default()
}

/// A counter case as the kiosk opens it.
pub(crate) fn counter_case(
    id: Uuid,
    site: Uuid,
    service: &str,
    group: &str,
    tier: Tier,
    priority: bool,
    arrival: Timestamp,
) -> Case {
    Case {
        id,
        municipality: MUNICIPALITY.parse().unwrap_or_else(|_| unreachable!()),
        requester_ref: None,
        service_code: service.to_owned(),
        department: "anagrafe".to_owned(),
        tier,
        channel: Channel::Counter,
        site_id: Some(site),
        group: group.to_owned(),
        priority: if priority {
            PriorityCategory::Disability
        } else {
            PriorityCategory::None
        },
        status: CaseStatus::Waiting,
        ticket_id: None,
        ticket_label: None,
        ticket_position: 0,
        arrival_at: arrival,
        opened_at: arrival,
        operator_id: None,
        counter_number: None,
        call_count: 0,
        called_at: None,
        outcome_code: None,
        closed_at: None,
        version: 1,
    }
}
