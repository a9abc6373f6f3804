//! A routing replica: routing's real dispatcher and back-office view, fed the way
//! `dispatch::sync` feeds them (subscribe, then reload, then apply each event through
//! `sync::apply_case_event` / `apply_work_event`), used the way `cases::counter` and
//! `work::flow` use them, with the outbox relay every replica runs.
//!
//! Between the steps of a flow the replica waits (a database round trip): a crash there
//! leaves a transaction uncommitted (nothing happened) or committed without this
//! replica's own follow-up (its view not updated, its reply not sent), as a kill -9 would.

use std::{
    cell::Cell,
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    rc::Rc,
    time::Duration,
};

use rand::{Rng, rngs::StdRng};
use sportello_routing::{
    cases::domain::Case,
    dispatch::{self, Dispatcher, sync},
    work::index::{News, WorkIndex},
};
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;
use uuid::Uuid;

use super::{
    clock::{now_ms, now_ts},
    model_db::{DbError, SharedDb},
    model_stream::{self, PORT, Wire},
    world::{OFFER_TIMEOUT_MS, OPERATORS, SPECIALISTS, World, profile, settings, site},
};

/// `cases::counter::MAX_LOST_RACES`.
const MAX_LOST_RACES: u32 = 16;

/// How many events a relay pass takes.
const RELAY_BATCH: usize = 16;

async fn pause(rng: &mut StdRng, low: u64, high: u64) {
    tokio::time::sleep(Duration::from_millis(rng.random_range(low..=high))).await;
}

fn nats() -> SocketAddr {
    (turmoil::lookup("nats"), PORT).into()
}

/// The replica host `me`.
pub(crate) async fn replica(world: Rc<World>, me: usize) -> turmoil::Result {
    let host = format!("r{me}");
    let life = world.started(&host);
    world.views.borrow_mut().remove(&me);
    let dispatcher = Dispatcher::default();
    let index = WorkIndex::default();
    let socket = model_stream::bind().await?;
    let (acks, acks_rx) = mpsc::unbounded_channel();
    let (news, news_rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(demux(socket.clone(), acks, news));
    let ready = Rc::new(Cell::new(false));
    tokio::task::spawn_local(follow(
        world.clone(),
        me,
        socket.clone(),
        news_rx,
        dispatcher.clone(),
        index.clone(),
        ready.clone(),
    ));
    while !ready.get() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::task::spawn_local(relay(
        world.db.clone(),
        socket.clone(),
        acks_rx,
        world.rng(&host, life, 1),
    ));
    for (n, op) in OPERATORS
        .iter()
        .enumerate()
        .filter(|(_, o)| o.replica == me)
    {
        tokio::task::spawn_local(operator(
            world.clone(),
            op.id,
            dispatcher.clone(),
            world.rng(&host, life, 100 + n as u64),
        ));
    }
    for (n, sp) in SPECIALISTS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.replica == me)
    {
        tokio::task::spawn_local(specialist(
            world.db.clone(),
            sp.id,
            index.clone(),
            world.rng(&host, life, 200 + n as u64),
        ));
    }
    tokio::task::spawn_local(timers(world.db.clone(), index.clone()));
    intake(world, me, dispatcher, index, (host, life)).await
}

/// Sorts datagrams: publish acks to the relay, the subscription's to the follower.
async fn demux(
    socket: Rc<UdpSocket>,
    acks: mpsc::UnboundedSender<Uuid>,
    news: mpsc::UnboundedSender<Wire>,
) {
    let mut buf = vec![0u8; 65_536];
    while let Ok((n, _)) = socket.recv_from(&mut buf).await {
        match Wire::decode(&buf[..n]) {
            Some(Wire::PubAck { id, .. }) => {
                let _ = acks.send(id);
            }
            Some(wire) => {
                let _ = news.send(wire);
            }
            None => {}
        }
    }
}

/// `dispatch::sync::follow`: an ordered consumer from a little before now, then the
/// reload, then every event in stream order. The link to NATS is a TCP connection in
/// production, so pushes are put back in order here; a push lost (or a silent stream)
/// resets the consumer from the next sequence, as async-nats' ordered consumer does.
#[allow(clippy::too_many_arguments)]
async fn follow(
    world: Rc<World>,
    me: usize,
    socket: Rc<UdpSocket>,
    mut news: mpsc::UnboundedReceiver<Wire>,
    dispatcher: Dispatcher,
    index: WorkIndex,
    ready: Rc<Cell<bool>>,
) {
    let mut sub = 0u64;
    let mut expected: Option<u64> = None;
    let mut early: BTreeMap<u64, (String, Vec<u8>)> = BTreeMap::new();
    // When to (re)create the consumer: at once, then whenever it falls silent or a gap
    // does not fill.
    let mut reset_at = 0u64;
    loop {
        if now_ms() >= reset_at {
            sub += 1;
            early.clear();
            reset_at = now_ms() + 40;
            let wire = Wire::Subscribe {
                sub,
                from: expected,
            };
            let _ = socket.send_to(&wire.encode(), nats()).await;
        }
        let Ok(Some(wire)) = tokio::time::timeout(Duration::from_millis(5), news.recv()).await
        else {
            continue;
        };
        match wire {
            Wire::Subscribed { sub: s, start } if s == sub => {
                reset_at = now_ms() + 40;
                if expected.is_none() {
                    // Reload after subscribing: nothing committed in between is missed.
                    reload(&world, &dispatcher, &index);
                    world
                        .views
                        .borrow_mut()
                        .insert(me, (dispatcher.clone(), index.clone()));
                    ready.set(true);
                }
                expected = Some(start);
            }
            Wire::Push {
                sub: s,
                seq,
                subject,
                payload,
            } if s == sub => {
                let Some(mut next) = expected else {
                    continue;
                };
                if seq >= next {
                    early.insert(seq, (subject, payload));
                }
                while let Some((subject, payload)) = early.remove(&next) {
                    let applied = if subject.starts_with("case.") {
                        sync::apply_case_event(&dispatcher, &payload)
                    } else {
                        sync::apply_work_event(&index, &payload)
                    };
                    if !applied {
                        world
                            .errors
                            .borrow_mut()
                            .push(format!("replica {me} could not read a {subject} event"));
                    }
                    next += 1;
                    reset_at = now_ms() + 40;
                }
                expected = Some(next);
                if !early.is_empty() {
                    // A gap: give the missing push a moment, then reset.
                    reset_at = reset_at.min(now_ms() + 10);
                }
            }
            Wire::Heartbeat { sub: s, last } if s == sub => {
                if expected.is_some_and(|next| last < next) {
                    reset_at = now_ms() + 40;
                } else {
                    // Behind the stream: a lost push at the tail, unless it is on its way.
                    reset_at = reset_at.min(now_ms() + 10);
                }
            }
            _ => {}
        }
    }
}

/// Reloads both views from the database (`Dispatcher::reload`, `WorkFlow::reload_index`).
fn reload(world: &World, dispatcher: &Dispatcher, index: &WorkIndex) {
    let (cases, (items, declines)) = {
        let db = world.db.borrow();
        (db.waiting_at_counters(), db.waiting_items())
    };
    dispatcher.reload_from(&cases);
    let news: Vec<News<'_>> = items
        .iter()
        .map(|i| News {
            id: i.id,
            municipality: super::model_db::MUNICIPALITY,
            department: &i.department,
            due: i.due,
            arrived_at: i.arrived_at,
            version: i.version,
            waiting: true,
        })
        .collect();
    index.reload(&news, &declines);
}

/// A relay pass's transaction: rolled back if the pass dies (with its host) before it
/// commits.
struct RelayTx {
    db: SharedDb,
    tx: u64,
    done: bool,
}

impl Drop for RelayTx {
    fn drop(&mut self) {
        if !self.done {
            self.db.borrow_mut().outbox_rollback(self.tx);
        }
    }
}

/// `kit::outbox::Relay`: take pending rows (skip locked), publish each with its id,
/// mark what was acknowledged, commit.
async fn relay(
    db: SharedDb,
    socket: Rc<UdpSocket>,
    mut acks: mpsc::UnboundedReceiver<Uuid>,
    mut rng: StdRng,
) {
    loop {
        pause(&mut rng, 1, 4).await;
        while acks.try_recv().is_ok() {}
        let (tx, rows) = db.borrow_mut().outbox_take(RELAY_BATCH);
        let mut pass = RelayTx {
            db: db.clone(),
            tx,
            done: false,
        };
        if rows.is_empty() {
            continue;
        }
        for row in &rows {
            let wire = Wire::Publish {
                id: row.id,
                subject: row.subject.clone(),
                payload: row.payload.clone(),
            };
            let _ = socket.send_to(&wire.encode(), nats()).await;
        }
        let wanted: BTreeSet<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut acked = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(15);
        while acked.len() < wanted.len() {
            match tokio::time::timeout_at(deadline, acks.recv()).await {
                Ok(Some(id)) if wanted.contains(&id) => {
                    acked.insert(id);
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        // Acknowledged, not yet marked: a crash here publishes them again next pass.
        pause(&mut rng, 0, 2).await;
        db.borrow_mut().outbox_commit(tx, &acked);
        pass.done = true;
    }
}

/// `cases::counter::Reservation`: released if the call is dropped before it settles
/// (here: its replica crashed mid-claim, which the run counts).
struct Reservation<'d> {
    world: &'d World,
    dispatcher: &'d Dispatcher,
    case: Uuid,
    settled: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.dispatcher.release(self.case);
            self.world
                .crashed_claims
                .set(self.world.crashed_claims.get() + 1);
        }
    }
}

/// `Flow::call_next`, with routing's dispatcher and the database's claim.
async fn call_next(
    world: &World,
    operator: &str,
    lanes: &[dispatch::index::LaneKey],
    dispatcher: &Dispatcher,
    rng: &mut StdRng,
    faults: bool,
) -> Result<Option<Case>, DbError> {
    let settings = settings();
    let mut lost_races = 0;
    loop {
        if lost_races == MAX_LOST_RACES {
            // The view is far behind: start again from the database.
            let cases = world.db.borrow().waiting_at_counters();
            dispatcher.reload_from(&cases);
        }
        let Some(pick) = dispatcher.choose(lanes, now_ts(), &settings) else {
            return Ok(None);
        };
        let mut reservation = Reservation {
            world,
            dispatcher,
            case: pick.case,
            settled: false,
        };
        // The claim's round trip: a crash before it commits leaves the case waiting.
        pause(rng, 0, 2).await;
        let failed = faults && rng.random_bool(world.db.borrow().unavailable);
        let claimed = world
            .db
            .borrow_mut()
            .claim(pick.case, operator, pick.reason, failed);
        if let Ok(Some(case)) = &claimed {
            // Flow::claim applies its own commit to the view.
            pause(rng, 0, 1).await;
            dispatcher.apply(case);
        }
        reservation.settled = true;
        drop(reservation);
        match claimed {
            Ok(Some(case)) => return Ok(Some(case)),
            // Another operator or replica got it first: choose again.
            Ok(None) => {
                dispatcher.forget(pick.case);
                lost_races += 1;
            }
            Err(error) => {
                dispatcher.release(pick.case);
                return Err(error);
            }
        }
    }
}

/// A counter operator's console, served by this replica: call, serve, complete, again.
async fn operator(world: Rc<World>, id: &'static str, dispatcher: Dispatcher, mut rng: StdRng) {
    let Some(def) = OPERATORS.iter().find(|o| o.id == id) else {
        return;
    };
    let lanes = dispatch::lanes_for(&profile(def), site(), &settings(), &world.catalogue);
    loop {
        // A retry after a lost reply: the operator already holds the case it called.
        let held = world.db.borrow().held_by(id);
        if let Some(case) = held {
            pause(&mut rng, 2, 12).await;
            world.db.borrow_mut().complete(case.id, id);
            continue;
        }
        let faults = now_ms() < super::world::FAULT_MS;
        match call_next(&world, id, &lanes, &dispatcher, &mut rng, faults).await {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => pause(&mut rng, 3, 10).await,
        }
    }
}

/// A specialist's console: accept or decline what is offered, complete what is held.
async fn specialist(db: SharedDb, id: &'static str, index: WorkIndex, mut rng: StdRng) {
    loop {
        pause(&mut rng, 3, 12).await;
        let now = now_ms();
        let offered = db.borrow().offer_for(id);
        if let Some(item) = offered {
            if rng.random_bool(0.2) {
                db.borrow_mut()
                    .decline(item, id, &index, now, OFFER_TIMEOUT_MS);
            } else {
                db.borrow_mut().accept(item, id, now);
            }
        }
        let held = db.borrow().held_items(id);
        for item in held {
            if rng.random_bool(0.3) {
                db.borrow_mut()
                    .complete_item(item, id, &index, now_ms(), OFFER_TIMEOUT_MS);
            }
        }
    }
}

/// The offer timers (`work::timers::OfferLapse`).
async fn timers(db: SharedDb, index: WorkIndex) {
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        db.borrow_mut()
            .lapse_due(&index, now_ms(), OFFER_TIMEOUT_MS);
    }
}

/// The kiosk's tickets and the departments' requests this replica takes, each at its
/// time (or at once after a restart: a retried request is idempotent).
async fn intake(
    world: Rc<World>,
    me: usize,
    dispatcher: Dispatcher,
    index: WorkIndex,
    (host, life): (String, u64),
) -> turmoil::Result {
    let mut rng = world.rng(&host, life, 2);
    let mut work: Vec<_> = world
        .plan
        .arrivals
        .iter()
        .filter(|a| a.replica == me)
        .map(|a| (a.at, Some(a.case.clone()), None))
        .chain(
            world
                .plan
                .requests
                .iter()
                .filter(|r| r.replica == me)
                .map(|r| (r.at, None, Some(r.item.clone()))),
        )
        .collect();
    work.sort_by_key(|(at, case, item)| {
        (
            *at,
            case.as_ref().map(|c| c.id),
            item.as_ref().map(|i| i.id),
        )
    });
    for (at, case, item) in work {
        let now = now_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
        pause(&mut rng, 0, 1).await;
        if let Some(case) = case {
            let case = world.db.borrow_mut().open_case(case);
            // The intake applies its own commit to the view.
            pause(&mut rng, 0, 1).await;
            dispatcher.apply(&case);
        }
        if let Some(item) = item {
            world
                .db
                .borrow_mut()
                .request(item, &index, now_ms(), OFFER_TIMEOUT_MS);
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}
