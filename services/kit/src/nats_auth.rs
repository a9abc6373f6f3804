//! Each service's NATS user, derived from what the service declares in its
//! [`ServiceSpec`]: the streams it owns, the durable consumers it runs and the plain or
//! ordered subscriptions it holds. Nothing is listed by hand, so a new consumer or
//! subscription reaches the server's configuration with the code that needs it, and the
//! same function renders the permissions for `make run`, the tests and `deploy/`.
//!
//! What async-nats 0.51 sends on the kit's behalf (nats.rs, outbox.rs, inbox.rs):
//! - events on its own streams' subjects (the relay, also atomic batches), dead letters on
//!   `<prefix>.deadletter.<service>.>`;
//! - `$JS.API.STREAM.{INFO,CREATE,UPDATE}.<stream>` for its own streams and the shared
//!   dead-letter stream (`create_or_update_stream` tries UPDATE, then CREATE);
//! - per durable consumer, on the stream it reads (possibly another service's):
//!   `STREAM.INFO` (`get_stream`), `CONSUMER.CREATE.<stream>.<durable>[.<filter>]`,
//!   `CONSUMER.INFO`, `CONSUMER.MSG.NEXT.<stream>.<durable>` (pull) and the acks,
//!   `$JS.ACK.<stream>.<durable>.>` (`$JS.ACK.<domain>.<account>.<stream>.<durable>.>` in
//!   the newer form);
//! - per ordered consumer (ephemeral, unnamed): `CONSUMER.CREATE.<stream>[.…]`, its
//!   pulls, info and the deletion of a consumer it replaces, on that stream only;
//! - replies (JetStream API answers, pulled messages) on the service's own inbox,
//!   `_INBOX.<service>.>` ([`inbox_prefix`]): a service cannot read another's replies.

use crate::{
    config::SubjectPrefix, inbox::ConsumerSpec, nats::DEAD_LETTER_STREAM, service::ServiceSpec,
};

/// A subscription a service holds outside the kit's durable consumers.
#[derive(Debug, Clone, Copy)]
pub enum Subscription {
    /// Core NATS, no JetStream: messages as they pass, none kept (the gateway's boards).
    Plain {
        /// Relative subjects, e.g. `case.>`.
        subjects: &'static [&'static str],
    },
    /// An ordered, ephemeral JetStream consumer on the stream of `stream_part` (each
    /// replica its own, as routing's view of the waiting cases).
    Ordered {
        /// The stream's name part.
        stream_part: &'static str,
        /// Relative subjects it filters on.
        subjects: &'static [&'static str],
    },
}

impl Subscription {
    /// The subjects, with `prefix`.
    pub fn subjects(&self, prefix: &SubjectPrefix) -> Vec<String> {
        let (Self::Plain { subjects } | Self::Ordered { subjects, .. }) = self;
        subjects.iter().map(|s| prefix.subject(s)).collect()
    }
}

/// The inbox prefix of a service's connection: replies to it arrive on
/// `_INBOX.<service>.<id>`, which only its user may read.
pub fn inbox_prefix(service: &str) -> String {
    format!("_INBOX.{service}")
}

/// What one service's NATS user may publish and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NatsPermissions {
    /// The user: the service's name.
    pub user: String,
    /// Subjects it may publish to.
    pub publish: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<String>,
}

impl NatsPermissions {
    /// The permissions of `spec`'s service with subjects under `prefix`.
    pub fn of(spec: &ServiceSpec, prefix: &SubjectPrefix) -> Self {
        let mut publish = Vec::new();
        let mut subscribe = vec![format!("{}.>", inbox_prefix(spec.name))];
        let api = "$JS.API";

        for stream in spec.streams {
            publish.extend(stream.subjects.iter().map(|s| prefix.subject(s)));
        }
        publish.push(prefix.subject(&format!("deadletter.{}.>", spec.name)));
        for stream in spec.streams.iter().chain([&DEAD_LETTER_STREAM]) {
            let name = prefix.stream(stream.part);
            for op in ["INFO", "CREATE", "UPDATE"] {
                publish.push(format!("{api}.STREAM.{op}.{name}"));
            }
        }

        for consumer in (spec.consumers)() {
            let stream = prefix.stream(consumer.stream_part);
            let durable = durable_name(spec.name, &consumer);
            publish.extend([
                format!("{api}.STREAM.INFO.{stream}"),
                format!("{api}.CONSUMER.CREATE.{stream}.{durable}"),
                format!("{api}.CONSUMER.CREATE.{stream}.{durable}.>"),
                format!("{api}.CONSUMER.DURABLE.CREATE.{stream}.{durable}"),
                format!("{api}.CONSUMER.INFO.{stream}.{durable}"),
                format!("{api}.CONSUMER.MSG.NEXT.{stream}.{durable}"),
                format!("$JS.ACK.{stream}.{durable}.>"),
                format!("$JS.ACK.*.*.{stream}.{durable}.>"),
            ]);
        }

        for subscription in spec.subscriptions {
            match subscription {
                Subscription::Plain { .. } => subscribe.extend(subscription.subjects(prefix)),
                Subscription::Ordered { stream_part, .. } => {
                    // Ordered consumers are unnamed and replaced on every gap: any
                    // consumer on that stream, and nothing on another.
                    let stream = prefix.stream(stream_part);
                    publish.extend([
                        format!("{api}.STREAM.INFO.{stream}"),
                        format!("{api}.CONSUMER.CREATE.{stream}"),
                        format!("{api}.CONSUMER.CREATE.{stream}.>"),
                        format!("{api}.CONSUMER.INFO.{stream}.*"),
                        format!("{api}.CONSUMER.MSG.NEXT.{stream}.*"),
                        format!("{api}.CONSUMER.DELETE.{stream}.*"),
                    ]);
                }
            }
        }
        Self {
            user: spec.name.to_owned(),
            publish: dedup(publish),
            subscribe: dedup(subscribe),
        }
    }
}

/// The durable consumer's name in JetStream, as [`crate::inbox::Consumer`] names it.
fn durable_name(service: &str, consumer: &ConsumerSpec) -> String {
    format!("{service}-{}", consumer.name)
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// A user's password in the rendered configuration.
#[derive(Debug, Clone)]
pub enum Password {
    /// Written as is (a local stack's generated password).
    Literal(String),
    /// A `$VARIABLE` the server reads from its environment (a deployment's Secret).
    Variable(String),
}

impl Password {
    fn render(&self) -> String {
        match self {
            // JSON string quoting is valid NATS configuration quoting.
            Self::Literal(password) => {
                serde_json::to_string(password).unwrap_or_else(|_| "\"\"".to_owned())
            }
            Self::Variable(var) => format!("${var}"),
        }
    }
}

/// One user of the rendered configuration.
#[derive(Debug, Clone)]
pub struct NatsUser {
    /// Its name.
    pub name: String,
    /// Its password.
    pub password: Password,
    /// Its permissions; `None` for an operator or a test harness, allowed everything.
    pub permissions: Option<NatsPermissions>,
    /// A comment written above it.
    pub comment: Option<String>,
}

impl NatsUser {
    /// A service's user.
    pub fn service(permissions: NatsPermissions, password: Password) -> Self {
        Self {
            name: permissions.user.clone(),
            password,
            permissions: Some(permissions),
            comment: None,
        }
    }
}

/// The `accounts { … }` block (and `system_account`) of a nats-server configuration:
/// `users` in account SPORTELLO with JetStream, `system` (if any) in account SYS.
pub fn render(users: &[NatsUser], system: Option<&NatsUser>) -> String {
    let mut out = String::from("accounts {\n  SPORTELLO {\n    jetstream: enabled\n    users: [\n");
    for user in users {
        if let Some(comment) = &user.comment {
            out.push_str(&format!("      # {comment}\n"));
        }
        match &user.permissions {
            None => out.push_str(&format!(
                "      {{ user: {}, password: {} }}\n",
                user.name,
                user.password.render()
            )),
            Some(permissions) => {
                out.push_str(&format!(
                    "      {{\n        user: {}\n        password: {}\n",
                    user.name,
                    user.password.render()
                ));
                out.push_str(
                    "        permissions: {\n          publish: {\n            allow: [\n",
                );
                for subject in &permissions.publish {
                    out.push_str(&format!("              \"{subject}\"\n"));
                }
                out.push_str(
                    "            ]\n          }\n          subscribe: {\n            allow: [\n",
                );
                for subject in &permissions.subscribe {
                    out.push_str(&format!("              \"{subject}\"\n"));
                }
                out.push_str("            ]\n          }\n        }\n      }\n");
            }
        }
    }
    out.push_str("    ]\n  }\n");
    if let Some(system) = system {
        out.push_str("  SYS {\n    users: [\n");
        if let Some(comment) = &system.comment {
            out.push_str(&format!("      # {comment}\n"));
        }
        out.push_str(&format!(
            "      {{ user: {}, password: {} }}\n    ]\n  }}\n}}\nsystem_account: SYS\n",
            system.name,
            system.password.render()
        ));
    } else {
        out.push_str("}\n");
    }
    out
}
