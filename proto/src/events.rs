//! The event catalogue: which protobuf message is published as which event type.
//!
//! An event's NATS subject is `<prefix>.<TYPE>`; the prefix is `sportello` in a deployment
//! and a per-test token in tests, so the type is written here without it.

use crate::{education, gateway, mobility, registry, routing, suap, urp};

/// A protobuf message that is published as an event.
pub trait Event: prost::Message + prost::Name + Default {
    /// The event type without the deployment's subject prefix, e.g.
    /// `registry.street.registered`; the subject is `<prefix>.<TYPE>`.
    const TYPE: &'static str;
}

macro_rules! catalogue {
    ($($message:ty => $event_type:literal,)*) => {
        $(impl Event for $message {
            const TYPE: &'static str = $event_type;
        })*

        /// Every event type, for documentation and for tests that check the catalogue.
        pub const EVENT_TYPES: &[&str] = &[$($event_type,)*];
    };
}

catalogue! {
    education::v1::SchoolRegistered => "education.school.registered",
    gateway::v1::UserSessionsRevoked => "gateway.sessions.revoked",
    mobility::v1::ZoneDefined => "mobility.zone.defined",
    registry::v1::StreetRegistered => "registry.street.registered",
    routing::v1::SiteCreated => "routing.site.created",
    suap::v1::BusinessRegistered => "suap.business.registered",
    urp::v1::FeedbackSubmitted => "urp.feedback.submitted",
}
