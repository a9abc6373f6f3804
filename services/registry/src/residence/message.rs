//! A change of residence as the wire shows it.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::registry::v1::{
    ConfirmationBasis, MovingMember, NewAddress, ObservationsOutcome, ResidenceChange as Message,
};

use super::{
    domain::{APPEAL, Basis, Status},
    store::Change,
};

/// The change on the wire.
pub fn change_message(change: &Change) -> Message {
    Message {
        id: change.id.to_string(),
        municipality_istat_code: change.municipality.to_string(),
        status: change.status.to_proto() as i32,
        family_id: change.family_id.to_string(),
        destination_family_id: change.destination_family_id.to_string(),
        declarant_id: change.declarant_id.to_string(),
        members: change
            .members
            .iter()
            .map(|(id, relationship)| MovingMember {
                resident_id: id.to_string(),
                relationship: relationship.to_proto() as i32,
            })
            .collect(),
        address: Some(NewAddress {
            street_code: change.street_code.clone(),
            house_number: change.house_number.as_str().to_owned(),
        }),
        declare_time: Some(to_proto_timestamp(change.declared_at)),
        effective_date: change.effective_date.to_string(),
        registration_due: change.clock.registration_due.to_string(),
        check_due: change.clock.check_due.to_string(),
        silence_assent_date: change
            .clock
            .silence_assent_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        protocol_registration_id: change.protocol_registration_id.clone(),
        protocol_number: change.protocol_number.clone(),
        record_time: Some(to_proto_timestamp(change.recorded_at)),
        check_case_id: change.check_case_id.clone(),
        reasons_against_time: change
            .reasons_against
            .as_ref()
            .map(|(at, _)| to_proto_timestamp(*at)),
        decide_time: change.decided_at.map(to_proto_timestamp),
        confirmation_basis: match change.basis {
            Some(Basis::Check) => ConfirmationBasis::Check as i32,
            Some(Basis::SilenceAssent) => ConfirmationBasis::SilenceAssent as i32,
            None => ConfirmationBasis::Unspecified as i32,
        },
        rejection_reason: change.rejection_reason.clone().unwrap_or_default(),
        version: u64::try_from(change.version).unwrap_or_default(),
        check_close_time: change.case_closed_at.map(to_proto_timestamp),
        reasons_against: change
            .reasons_against
            .as_ref()
            .map(|(_, text)| text.clone())
            .unwrap_or_default(),
        check_failure: change.check_failure.clone().unwrap_or_default(),
        notice_sent_date: day(change.notice_sent.as_ref().map(|(_, d)| *d)),
        notice_protocol_number: change
            .notice_sent
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default(),
        notice_delivery: change
            .notice_received
            .map_or(0, |(d, _)| d.to_proto() as i32),
        notice_received_date: day(change.notice_received.map(|(_, d)| d)),
        observations_window_end: day(change.clock.observations_window_end),
        observations_date: day(change.observations.as_ref().map(|(d, _)| *d)),
        observations_outcome: match change.observations_answer {
            Some((true, _)) => ObservationsOutcome::Accepted as i32,
            Some((false, _)) => ObservationsOutcome::Rejected as i32,
            None => ObservationsOutcome::Unspecified as i32,
        },
        observations_answer: change
            .observations_answer
            .as_ref()
            .map(|(_, a)| a.clone())
            .unwrap_or_default(),
        remaining_head_id: change
            .remaining_head
            .map(|h| h.to_string())
            .unwrap_or_default(),
        representative_id: change
            .representative
            .map(|r| r.to_string())
            .unwrap_or_default(),
        origin_municipality_istat_code: change.origin_municipality.clone().unwrap_or_default(),
        origin_country: change.origin_country.clone().unwrap_or_default(),
        appeal: if change.status == Status::Rejected {
            APPEAL.to_owned()
        } else {
            String::new()
        },
    }
}

fn day(day: Option<jiff::civil::Date>) -> String {
    day.map(|d| d.to_string()).unwrap_or_default()
}
