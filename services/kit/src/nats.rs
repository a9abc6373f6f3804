//! NATS and JetStream: the connection, the streams each service owns, and their set-up.
//!
//! NATS being down never stops a service from serving: the client connects in the
//! background and reconnects forever, stream set-up is retried with backoff, and the
//! outbox holds events until NATS is back.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio_util::sync::CancellationToken;

use crate::{backoff::Backoff, config::SubjectPrefix};

/// A stream a service owns: `<PREFIX>_<PART>` capturing `<prefix>.<subject>` for each of
/// its relative subjects.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    /// Name part, e.g. `registry` (the stream is `SPORTELLO_REGISTRY`).
    pub part: &'static str,
    /// Relative subjects, e.g. `registry.>`.
    pub subjects: &'static [&'static str],
}

/// Dead letters of every consumer: `<prefix>.deadletter.<service>.<consumer>`.
pub const DEAD_LETTER_STREAM: StreamSpec = StreamSpec {
    part: "deadletter",
    subjects: &["deadletter.>"],
};

/// How long JetStream remembers a `Nats-Msg-Id` to drop a re-sent event. The relay
/// re-sends only what it published without recording it, within seconds; the inbox
/// catches anything older.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How long dead letters stay in their stream: an operator looks at them after a holiday.
/// No consumer's inbox reads this stream (a dead letter was never applied), so it may
/// outlive the inbox's retention; the event streams may not (`RETENTION_EVENTS`, see
/// [`crate::retention::Periods::check_events`]).
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// The stream's configuration with the default `RETENTION_EVENTS` (tools and tests that
/// create a stream beside a service).
pub fn stream_config(prefix: &SubjectPrefix, spec: &StreamSpec, replicas: usize) -> stream::Config {
    stream_config_kept(prefix, spec, replicas, crate::retention::DEFAULT_EVENTS)
}

/// The stream's configuration: events are kept `max_age` (`RETENTION_EVENTS`; dead
/// letters [`DEAD_LETTER_RETENTION`]).
pub fn stream_config_kept(
    prefix: &SubjectPrefix,
    spec: &StreamSpec,
    replicas: usize,
    max_age: Duration,
) -> stream::Config {
    let max_age = if spec.part == DEAD_LETTER_STREAM.part {
        DEAD_LETTER_RETENTION
    } else {
        max_age
    };
    stream::Config {
        name: prefix.stream(spec.part),
        subjects: spec.subjects.iter().map(|s| prefix.subject(s)).collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: replicas,
        // The relay publishes each outbox batch as one atomic batch (NATS 2.12+): one
        // write and one fsync for the batch instead of one per event.
        allow_atomic_publish: true,
        ..Default::default()
    }
}

/// A NATS connection failure that no retry can fix (a malformed URL).
#[derive(Debug, thiserror::Error)]
#[error("NATS_URL is invalid: {0}")]
pub struct NatsUrlError(String);

/// Connects in the background as `service`'s user (`credentials`; see
/// [`crate::config::NatsAuth`]): returns at once, then reconnects forever. Replies come
/// on the service's own inbox ([`crate::nats_auth::inbox_prefix`]), the only one its
/// user may read.
pub async fn connect(
    url: &str,
    service: &str,
    credentials: Option<(String, String)>,
) -> Result<async_nats::Client, NatsUrlError> {
    let name = format!("sportello-{service}");
    let inbox = crate::nats_auth::inbox_prefix(service);
    let service = service.to_owned();
    let options = match credentials {
        Some((user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        None => async_nats::ConnectOptions::new(),
    };
    options
        .name(name)
        .custom_inbox_prefix(inbox)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .event_callback(move |event| {
            let service = service.clone();
            async move {
                match event {
                    async_nats::Event::Connected => tracing::info!(%service, "connected to NATS"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!(%service, "disconnected from NATS; events wait in the outbox")
                    }
                    // A refused subject is a permission missing from the service's spec
                    // (nats_auth.rs): say which, loudly.
                    async_nats::Event::ServerError(error) => tracing::error!(%service, %error,
                        "NATS ha rifiutato un'operazione / NATS refused an operation"),
                    other => tracing::debug!(%service, event = %other, "NATS event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| NatsUrlError(e.to_string()))
}

/// The user and password written in the URL (`nats://user:password@host:4222`), where a
/// deployment puts each service's own NATS user. async-nats 0.51 does not use a URL's
/// credentials by itself: without this the server refuses the connection.
pub fn credentials(url: &str) -> Option<(String, String)> {
    let addr: async_nats::ServerAddr = url.trim().parse().ok()?;
    let user = addr.username()?.to_owned();
    Some((user, addr.password().unwrap_or_default().to_owned()))
}

/// Creates or updates `streams`, retrying with backoff until it succeeds or `shutdown`
/// is cancelled. Returns whether the streams are in place.
pub async fn ensure_streams(
    js: &jetstream::Context,
    streams: &[stream::Config],
    shutdown: &CancellationToken,
) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    'retry: loop {
        for config in streams {
            if let Err(error) = js.create_or_update_stream(config.clone()).await {
                let delay = backoff.next_delay();
                tracing::warn!(stream = %config.name, %error, retry_in_ms = delay.as_millis() as u64,
                    "cannot set up JetStream stream yet");
                tokio::select! {
                    () = tokio::time::sleep(delay) => continue 'retry,
                    () = shutdown.cancelled() => return false,
                }
            }
        }
        tracing::info!(streams = streams.len(), "JetStream streams ready");
        return true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_url() {
        assert_eq!(
            credentials("nats://registry:s3cret@nats:4222"),
            Some(("registry".to_owned(), "s3cret".to_owned()))
        );
        assert_eq!(credentials("nats://nats:4222"), None);
    }
}
