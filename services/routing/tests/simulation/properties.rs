//! What must hold after every run, read from the database's committed history and final
//! state, the stream, and each replica's views.

use std::collections::{BTreeMap, BTreeSet};

use sportello_proto::routing::v1::{CaseStatus, Tier, WorkState};
use uuid::Uuid;

use super::{
    model_db::Fact,
    world::{OPERATORS, SERVICES, SPECIALISTS, World},
};

/// Whether the run has settled: every case and item done, the outbox drained, every
/// event applied by the consumer, every live replica's views empty. `Err` says what is
/// still pending.
pub(crate) fn settled(world: &World) -> Result<(), String> {
    let db = world.db.borrow();
    if let Some(a) = world.plan.arrivals.iter().find(|a| {
        db.cases
            .get(&a.case.id)
            .is_none_or(|c| c.status != CaseStatus::Completed)
    }) {
        let status = db.cases.get(&a.case.id).map(|c| c.status);
        return Err(format!(
            "case {} ({}) not completed: {status:?}",
            a.case.id, a.case.service_code
        ));
    }
    // An item every specialist of its department declined (or let lapse) waits for the
    // widening and the manager's alert, which the model does not run: it is settled.
    let stuck = |id: Uuid, department: &str| {
        SPECIALISTS
            .iter()
            .filter(|s| s.department == department)
            .all(|s| db.declines.contains(&(id, s.id.to_owned())))
    };
    for r in &world.plan.requests {
        match db.items.get(&r.item.id).map(|i| i.state) {
            Some(WorkState::Completed) => {}
            Some(WorkState::Waiting) if stuck(r.item.id, &r.item.department) => {}
            state => return Err(format!("item {} not completed: {state:?}", r.item.id)),
        }
    }
    if let Some(row) = db.outbox.iter().find(|r| !r.published) {
        return Err(format!("outbox not drained: event {} unpublished", row.id));
    }
    if let Some(row) = db.outbox.iter().find(|r| !db.applied.contains_key(&r.id)) {
        return Err(format!("event {} never applied by the consumer", row.id));
    }
    // Each live replica's views hold every item that still waits (no news missed). What
    // else they hold is a phantom: a closed case or item brought back by late news (see
    // `phantoms`), which the database refuses when it is chosen.
    for (replica, (_, index)) in world.views.borrow().iter() {
        let shown: BTreeSet<Uuid> = ["suap", "edilizia"]
            .iter()
            .flat_map(|d| index.window(super::model_db::MUNICIPALITY, d, "nobody", 64))
            .collect();
        if let Some(missed) = db
            .items
            .values()
            .find(|i| i.state == WorkState::Waiting && !shown.contains(&i.id))
        {
            return Err(format!(
                "replica {replica}'s view misses item {}, which waits",
                missed.id
            ));
        }
    }
    Ok(())
}

/// Phantoms in the live replicas' views once settled: (cases, items) shown waiting that
/// the database has closed. A replica that subscribes (`dispatch::sync`: from 30 s before
/// now, then a reload of what waits) after an entity's later events were published but
/// before its earlier event was — one aggregate's events reach the stream out of order
/// when a relay pass holding the oldest rows stalls and other replicas' relays publish the
/// newer ones — applies that earlier "waiting" news to a view that never saw the newer
/// version. The database refuses every claim and offer of a phantom; a phantom case is
/// forgotten when it is chosen, a phantom item stays until the next reload.
pub(crate) fn phantoms(world: &World) -> (usize, usize) {
    let db = world.db.borrow();
    let mut found = (0, 0);
    for (dispatcher, index) in world.views.borrow().values() {
        found.0 += dispatcher.waiting().saturating_sub(
            db.cases
                .values()
                .filter(|c| c.status == CaseStatus::Waiting)
                .count(),
        );
        found.1 += ["suap", "edilizia"]
            .iter()
            .flat_map(|d| index.window(super::model_db::MUNICIPALITY, d, "nobody", 64))
            .filter(|id| {
                db.items
                    .get(id)
                    .is_some_and(|i| i.state != WorkState::Waiting)
            })
            .count();
    }
    found
}

/// The safety properties; `Err` names the first broken one.
pub(crate) fn check(world: &World) -> Result<(), String> {
    let db = world.db.borrow();
    // Counter: each case claimed exactly once, by one operator at a time, who may serve it.
    let mut holding: BTreeMap<&str, Uuid> = BTreeMap::new();
    let mut claimed: BTreeMap<Uuid, u32> = BTreeMap::new();
    let mut completed: BTreeMap<Uuid, u32> = BTreeMap::new();
    // Back office: one live offer per item, one per specialist, holders within capacity,
    // never offered again to whoever declined it.
    let mut offers: BTreeMap<Uuid, &str> = BTreeMap::new();
    let mut holders: BTreeMap<Uuid, &str> = BTreeMap::new();
    let mut declined: BTreeSet<(Uuid, &str)> = BTreeSet::new();
    let mut done: BTreeMap<Uuid, u32> = BTreeMap::new();
    for fact in &db.history {
        match fact {
            Fact::Claimed { case, operator } => {
                *claimed.entry(*case).or_default() += 1;
                if let Some(other) = holding.insert(operator, *case) {
                    return Err(format!("{operator} holds {other} and {case} at once"));
                }
                let Some(row) = db.cases.get(case) else {
                    return Err(format!("{case} claimed but not in the database"));
                };
                may_serve(operator, &row.service_code)?;
            }
            Fact::Completed { case, operator } => {
                *completed.entry(*case).or_default() += 1;
                if holding.remove(operator.as_str()) != Some(*case) {
                    return Err(format!("{operator} completed {case} without holding it"));
                }
            }
            Fact::Offered { item, to } => {
                if let Some(other) = offers.insert(*item, to) {
                    return Err(format!("{item} offered to {to} while offered to {other}"));
                }
                if holders.contains_key(item) {
                    return Err(format!("{item} offered to {to} while held"));
                }
                if offers.values().filter(|t| **t == to.as_str()).count() > 1 {
                    return Err(format!("{to} has two offers pending"));
                }
                if declined.contains(&(*item, to.as_str())) {
                    return Err(format!("{item} offered again to {to}, who declined it"));
                }
            }
            Fact::OfferEnded {
                item,
                to,
                declined: no,
            } => {
                if offers.remove(item) != Some(to.as_str()) {
                    return Err(format!("{item}'s offer to {to} ended but was not live"));
                }
                if *no {
                    declined.insert((*item, to));
                }
            }
            Fact::Held { item, by } => {
                if let Some(other) = holders.insert(*item, by) {
                    return Err(format!("{item} held by {by} and {other}"));
                }
                let capacity = SPECIALISTS
                    .iter()
                    .find(|s| s.id == by)
                    .map_or(0, |s| s.capacity);
                if holders.values().filter(|h| **h == by.as_str()).count() > capacity {
                    return Err(format!("{by} holds more than {capacity} items"));
                }
            }
            Fact::ItemDone { item, by } => {
                *done.entry(*item).or_default() += 1;
                if holders.remove(item) != Some(by.as_str()) {
                    return Err(format!("{by} completed {item} without holding it"));
                }
            }
        }
    }
    for a in &world.plan.arrivals {
        let (c, d) = (
            claimed.get(&a.case.id).copied().unwrap_or(0),
            completed.get(&a.case.id).copied().unwrap_or(0),
        );
        if (c, d) != (1, 1) {
            return Err(format!(
                "case {} claimed {c} times, completed {d} times",
                a.case.id
            ));
        }
    }
    for r in &world.plan.requests {
        let waits = db
            .items
            .get(&r.item.id)
            .is_some_and(|i| i.state == WorkState::Waiting);
        if done.get(&r.item.id).copied() != Some(1) && !waits {
            return Err(format!("item {} not completed exactly once", r.item.id));
        }
    }
    // Events: each in the stream once, applied by the consumer exactly once.
    let stream = world.stream.borrow();
    let mut in_stream: BTreeMap<Uuid, u32> = BTreeMap::new();
    for m in &stream.messages {
        *in_stream.entry(m.id).or_default() += 1;
    }
    for row in &db.outbox {
        let n = in_stream.get(&row.id).copied().unwrap_or(0);
        if n != 1 {
            return Err(format!("event {} is in the stream {n} times", row.id));
        }
        let applied = db.applied.get(&row.id).copied().unwrap_or(0);
        if applied != 1 {
            return Err(format!("event {} applied {applied} times", row.id));
        }
    }
    if in_stream.len() != db.outbox.len() {
        return Err("the stream holds events the outbox never had".to_owned());
    }
    Ok(())
}

/// The tier and skill rule, judged here on its own (not by `Profile::can_serve`): a
/// counter operator, of at least the service's tier, with every skill it needs.
fn may_serve(operator: &str, service: &str) -> Result<(), String> {
    let (Some(op), Some(svc)) = (
        OPERATORS.iter().find(|o| o.id == operator),
        SERVICES.iter().find(|s| s.code == service),
    ) else {
        return Err(format!("{operator} or {service} unknown"));
    };
    let tier_ok = op.tier != Tier::BackOffice && (op.tier as i32) >= (svc.tier as i32);
    let skill_ok = svc.skill.is_none_or(|(skill, min)| {
        op.skills
            .iter()
            .any(|(have, level)| *have == skill && *level >= min)
    });
    if tier_ok && skill_ok {
        Ok(())
    } else {
        Err(format!(
            "{operator} was given {service}, which they may not serve"
        ))
    }
}
