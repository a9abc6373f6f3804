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
    education::v1::EnrolmentWindowOpened => "education.enrolment_window.opened",
    education::v1::ApplicationFiled => "education.application.filed",
    education::v1::RankingPublished => "education.ranking.published",
    education::v1::ObjectionFiled => "education.objection.filed",
    education::v1::ObjectionDecided => "education.objection.decided",
    education::v1::OfferMade => "education.offer.made",
    education::v1::OfferAnswered => "education.offer.answered",
    education::v1::FeeScheduleSet => "education.fee_schedule.set",
    education::v1::SubscriptionCreated => "education.subscription.created",
    gateway::v1::UserSessionsRevoked => "gateway.sessions.revoked",
    mobility::v1::ZoneDefined => "mobility.zone.defined",
    mobility::v1::PermitIssued => "mobility.permit.issued",
    mobility::v1::PermitActivated => "mobility.permit.activated",
    mobility::v1::PermitReviewOpened => "mobility.permit.review_opened",
    mobility::v1::PermitReviewClosed => "mobility.permit.review_closed",
    mobility::v1::PermitEnded => "mobility.permit.ended",
    mobility::v1::BadgeIssued => "mobility.badge.issued",
    mobility::v1::BadgeEnded => "mobility.badge.ended",
    mobility::v1::BadgeRenewalDue => "mobility.badge.renewal_due",
    registry::v1::StreetRegistered => "registry.street.registered",
    registry::v1::ResidentRegistered => "registry.resident.registered",
    registry::v1::ResidentStatusChanged => "registry.resident.status_changed",
    registry::v1::CertificateIssued => "registry.certificate.issued",
    registry::v1::PrivacyAlertRaised => "registry.privacy.alert_raised",
    registry::v1::ResidenceChangeDeclared => "registry.residence_change.declared",
    registry::v1::ResidenceChangeRecorded => "registry.residence_change.recorded",
    registry::v1::ResidenceChangeReasonsAgainstSent => "registry.residence_change.reasons_against_sent",
    registry::v1::ResidenceChangeConfirmed => "registry.residence_change.confirmed",
    registry::v1::ResidenceChangeRejected => "registry.residence_change.rejected",
    registry::v1::ResidenceChangeCheckFailed => "registry.residence_change.check_failed",
    registry::v1::ResidenceChangeNoticeReceived => "registry.residence_change.notice_received",
    registry::v1::ResidenceChangeObservationsRecorded => "registry.residence_change.observations_recorded",
    routing::v1::SiteCreated => "routing.site.created",
    routing::v1::SiteUpdated => "routing.site.updated",
    routing::v1::CatalogueChanged => "routing.catalogue.changed",
    routing::v1::CaseOpened => "case.opened",
    routing::v1::CaseCalled => "case.called",
    routing::v1::CaseRecalled => "case.recalled",
    routing::v1::CaseNoShow => "case.no_show",
    routing::v1::CaseParked => "case.parked",
    routing::v1::CaseResumed => "case.resumed",
    routing::v1::CaseTransferred => "case.transferred",
    routing::v1::CaseQueued => "case.queued",
    routing::v1::CaseCompleted => "case.completed",
    routing::v1::CaseAppointmentRequested => "case.appointment_requested",
    routing::v1::CaseCancelled => "case.cancelled",
    routing::v1::TicketIssued => "ticket.issued",
    routing::v1::OperatorPresenceChanged => "operator.presence_changed",
    routing::v1::OperatorSkillsChanged => "operator.skills_changed",
    routing::v1::SurgeRosterSet => "routing.surge_roster.set",
    routing::v1::SurgeScheduled => "routing.surge.scheduled",
    routing::v1::SurgeStarted => "routing.surge.started",
    routing::v1::SurgeEnded => "routing.surge.ended",
    routing::v1::ProtocolRegistered => "protocol.registered",
    routing::v1::ProtocolVoided => "protocol.voided",
    routing::v1::AppointmentBooked => "routing.appointment.booked",
    routing::v1::AppointmentConfirmed => "routing.appointment.confirmed",
    routing::v1::AppointmentRescheduled => "routing.appointment.rescheduled",
    routing::v1::AppointmentReleased => "routing.appointment.released",
    routing::v1::AppointmentCheckedIn => "routing.appointment.checked_in",
    routing::v1::AppointmentReminderDue => "routing.appointment.reminder_due",
    routing::v1::AppointmentOffered => "routing.appointment.offered",
    suap::v1::BusinessRegistered => "suap.business.registered",
    suap::v1::BusinessUpdated => "suap.business.updated",
    urp::v1::FeedbackSubmitted => "urp.feedback.submitted",
    urp::v1::ReportFiled => "urp.report.filed",
    urp::v1::ReportClosed => "urp.report.closed",
    urp::v1::AccessFiled => "urp.access.filed",
    urp::v1::AccessDecided => "urp.access.decided",
    urp::v1::AccessReviewed => "urp.access.reviewed",
}
