//! JetStream, modelled in memory, behind a simulated host ("nats") that speaks datagrams
//! over turmoil's lossy, reordering network:
//!
//! - publishes carry `Nats-Msg-Id`; the stream stores each id once and acknowledges
//!   re-sends as duplicates (the relay's guarantee rests on this);
//! - each replica reads through an *ordered* ephemeral consumer: pushes in stream order
//!   with idle heartbeats; the replica resets it from its next sequence on a gap or on
//!   silence (what async-nats' ordered consumer does), and on a start it begins a little
//!   before "now" (`dispatch::sync`'s overlap);
//! - the consumer's durable pull consumer redelivers what is not acknowledged within its
//!   ack wait, and now and then redelivers an acknowledged message (an ack the server
//!   lost): duplication, for the inbox to absorb.
//!
//! The stored messages and the durable consumer's state survive a crash of the host
//! (`sync_interval: always`); the ephemeral consumers do not.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    net::{Ipv4Addr, SocketAddr},
    rc::Rc,
    time::Duration,
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use turmoil::net::UdpSocket;
use uuid::Uuid;

use super::clock::now_ms;

/// The port every simulated host listens on.
pub(crate) const PORT: u16 = 4222;

/// How long the durable consumer waits for an ack before redelivering.
const ACK_WAIT_MS: u64 = 60;

/// How far before "now" a fresh subscription starts (`sync::OVERLAP`, scaled).
const OVERLAP_MS: u64 = 30;

/// What travels between the hosts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Wire {
    /// Relay → stream.
    Publish {
        id: Uuid,
        subject: String,
        payload: Vec<u8>,
    },
    /// Stream → relay: stored (or recognised as a re-send).
    PubAck { id: Uuid, duplicate: bool },
    /// Replica → stream: (re)create my ordered consumer, from `from` or a little before
    /// now.
    Subscribe { sub: u64, from: Option<u64> },
    /// Stream → replica: the consumer exists; its first sequence.
    Subscribed { sub: u64, start: u64 },
    /// Stream → replica: a message of the ordered consumer.
    Push {
        sub: u64,
        seq: u64,
        subject: String,
        payload: Vec<u8>,
    },
    /// Stream → replica: idle heartbeat, with the stream's last sequence.
    Heartbeat { sub: u64, last: u64 },
    /// Consumer → stream: give me up to `max` messages.
    Fetch { max: usize },
    /// Stream → consumer: a (re)delivery.
    Deliver { seq: u64, id: Uuid },
    /// Consumer → stream.
    Ack { seq: u64 },
}

impl Wire {
    /// Encodes for a datagram.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a datagram.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A stored message.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    /// The event id.
    pub(crate) id: Uuid,
    /// Subject.
    pub(crate) subject: String,
    /// Payload.
    pub(crate) payload: Vec<u8>,
    /// When it was stored (simulated milliseconds).
    pub(crate) at: u64,
}

/// The durable state: messages (sequence = index + 1) and the durable consumer.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// The stream.
    pub(crate) messages: Vec<Stored>,
    /// Ids seen (the duplicate window covers the whole run).
    pub(crate) ids: BTreeSet<Uuid>,
    /// The durable consumer's acknowledged sequences.
    pub(crate) acked: BTreeSet<u64>,
    /// Its unacknowledged deliveries: sequence → when last delivered.
    pub(crate) in_flight: BTreeMap<u64, u64>,
    /// Probability that a fetch also redelivers an acknowledged message.
    pub(crate) duplicate_rate: f64,
}

/// Shared by the "nats" host's incarnations.
pub(crate) type SharedStream = Rc<RefCell<StreamState>>;

fn any_addr() -> SocketAddr {
    (Ipv4Addr::UNSPECIFIED, PORT).into()
}

/// Binds this host's socket.
pub(crate) async fn bind() -> std::io::Result<Rc<UdpSocket>> {
    Ok(Rc::new(UdpSocket::bind(any_addr()).await?))
}

/// The "nats" host.
pub(crate) async fn nats(state: SharedStream, seed: u64) -> turmoil::Result {
    let socket = bind().await?;
    let mut rng = StdRng::seed_from_u64(seed);
    // Ephemeral ordered consumers: replica address → (consumer, next sequence to push).
    let subscribers: Rc<RefCell<BTreeMap<SocketAddr, (u64, u64)>>> = Rc::default();
    tokio::task::spawn_local(push(socket.clone(), state.clone(), subscribers.clone()));
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let Some(wire) = Wire::decode(&buf[..n]) else {
            continue;
        };
        let reply = match wire {
            Wire::Publish {
                id,
                subject,
                payload,
            } => {
                let mut s = state.borrow_mut();
                let duplicate = !s.ids.insert(id);
                if !duplicate {
                    s.messages.push(Stored {
                        id,
                        subject,
                        payload,
                        at: now_ms(),
                    });
                }
                vec![Wire::PubAck { id, duplicate }]
            }
            Wire::Subscribe { sub, from: first } => {
                let s = state.borrow();
                let start = first.unwrap_or_else(|| {
                    let since = now_ms().saturating_sub(OVERLAP_MS);
                    s.messages
                        .iter()
                        .position(|m| m.at >= since)
                        .map_or(s.messages.len() as u64 + 1, |i| i as u64 + 1)
                });
                subscribers.borrow_mut().insert(from, (sub, start));
                vec![Wire::Subscribed { sub, start }]
            }
            Wire::Fetch { max } => fetch(&mut state.borrow_mut(), max, &mut rng),
            Wire::Ack { seq } => {
                let mut s = state.borrow_mut();
                s.in_flight.remove(&seq);
                s.acked.insert(seq);
                vec![]
            }
            _ => vec![],
        };
        for wire in reply {
            let _ = socket.send_to(&wire.encode(), from).await;
        }
    }
}

/// The durable pull consumer's answer to a fetch.
fn fetch(s: &mut StreamState, max: usize, rng: &mut StdRng) -> Vec<Wire> {
    let now = now_ms();
    let mut out = Vec::new();
    for (i, message) in s.messages.iter().enumerate() {
        if out.len() >= max {
            break;
        }
        let seq = i as u64 + 1;
        if s.acked.contains(&seq) {
            continue;
        }
        if s.in_flight
            .get(&seq)
            .is_some_and(|at| now < at + ACK_WAIT_MS)
        {
            continue;
        }
        out.push(Wire::Deliver {
            seq,
            id: message.id,
        });
    }
    for wire in &out {
        if let Wire::Deliver { seq, .. } = wire {
            s.in_flight.insert(*seq, now);
        }
    }
    if !s.acked.is_empty() && rng.random_bool(s.duplicate_rate) {
        let n = rng.random_range(0..s.acked.len());
        if let Some(seq) = s.acked.iter().nth(n).copied()
            && let Some(message) = s.messages.get(seq as usize - 1)
        {
            out.push(Wire::Deliver {
                seq,
                id: message.id,
            });
        }
    }
    out
}

/// Pushes each ordered consumer's next messages, and idle heartbeats.
async fn push(
    socket: Rc<UdpSocket>,
    state: SharedStream,
    subscribers: Rc<RefCell<BTreeMap<SocketAddr, (u64, u64)>>>,
) {
    let mut beat = 0u32;
    loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        beat += 1;
        let mut out = Vec::new();
        {
            let s = state.borrow();
            let last = s.messages.len() as u64;
            for (addr, (sub, next)) in subscribers.borrow_mut().iter_mut() {
                while *next <= last && out.len() < 64 {
                    let m = &s.messages[*next as usize - 1];
                    out.push((
                        *addr,
                        Wire::Push {
                            sub: *sub,
                            seq: *next,
                            subject: m.subject.clone(),
                            payload: m.payload.clone(),
                        },
                    ));
                    *next += 1;
                }
                if beat.is_multiple_of(10) {
                    out.push((*addr, Wire::Heartbeat { sub: *sub, last }));
                }
            }
        }
        for (addr, wire) in out {
            let _ = socket.send_to(&wire.encode(), addr).await;
        }
    }
}
