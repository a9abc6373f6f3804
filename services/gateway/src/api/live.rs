//! Calls as they happen, for the calling boards: one core-NATS subscription to routing's
//! case events per gateway, fanned out to every open board through a broadcast channel.
//!
//! A board is a view, not a consumer that must see every event: it loads the recent
//! calls when it connects and then follows live, so a plain subscription (no durable
//! JetStream consumer, nothing to acknowledge) is the right tool. A board that falls
//! behind skips to the latest state.

use futures::StreamExt;
use prost::Message;
use sportello_kit::{config::SubjectPrefix, events::header};
use sportello_proto::routing::v1::Case;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::views::BoardCall;

/// What a board hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A ticket was called (or called again) to a counter.
    Called {
        /// The site.
        site_id: String,
        /// The call.
        call: BoardCall,
    },
    /// A site's queues changed (a ticket issued, called, transferred, closed).
    QueuesChanged {
        /// The site.
        site_id: String,
    },
}

impl LiveEvent {
    /// The site it is about.
    pub fn site_id(&self) -> &str {
        match self {
            LiveEvent::Called { site_id, .. } | LiveEvent::QueuesChanged { site_id } => site_id,
        }
    }
}

/// Every case event's body starts with the case (tag 1); the rest is not needed here.
#[derive(Clone, PartialEq, Message)]
struct CaseEvent {
    #[prost(message, optional, tag = "1")]
    case: Option<Case>,
}

/// What the feed subscribes to (declared in the gateway's spec, for its NATS user).
pub const SUBJECTS: &[&str] = &["case.>"];

/// The live feed.
#[derive(Debug, Clone)]
pub struct Live {
    sender: broadcast::Sender<LiveEvent>,
}

impl Live {
    /// Starts following `<prefix>.case.>` until `shutdown`.
    pub fn start(
        nats: async_nats::Client,
        prefix: &SubjectPrefix,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let live = Self { sender };
        let subject = prefix.subject(SUBJECTS[0]);
        let called = prefix.subject("case.called");
        let recalled = prefix.subject("case.recalled");
        let feed = live.clone();
        tokio::spawn(async move {
            let mut subscription = match nats.subscribe(subject).await {
                Ok(s) => s,
                Err(error) => {
                    tracing::error!(%error, "boards get no live calls: NATS subscription failed");
                    return;
                }
            };
            loop {
                let message = tokio::select! {
                    () = shutdown.cancelled() => break,
                    message = subscription.next() => match message {
                        Some(m) => m,
                        None => break,
                    },
                };
                let Ok(event) = CaseEvent::decode(message.payload.as_ref()) else {
                    continue;
                };
                let Some(case) = event.case else { continue };
                if case.site_id.is_empty() {
                    continue;
                }
                let subject = message.subject.as_str();
                if subject == called || subject == recalled {
                    let call_time = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(header::TIME))
                        .map(|t| t.as_str().to_owned());
                    feed.publish(LiveEvent::Called {
                        site_id: case.site_id.clone(),
                        call: BoardCall {
                            ticket_label: case.ticket_label.clone(),
                            counter_number: case.counter_number,
                            call_time,
                            call_count: case.call_count,
                        },
                    });
                }
                feed.publish(LiveEvent::QueuesChanged {
                    site_id: case.site_id,
                });
            }
        });
        live
    }

    /// A feed that hears nothing (tests of handlers that do not need it).
    pub fn silent() -> Self {
        Self {
            sender: broadcast::channel(1).0,
        }
    }

    fn publish(&self, event: LiveEvent) {
        // No board listening is fine.
        let _ = self.sender.send(event);
    }

    /// Follows the feed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}
