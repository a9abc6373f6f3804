//! Access requests as protobuf messages: the office's view (never the person) and the
//! register's line (nothing that could name anyone).

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{AccessRequestRecord, Objection, RegisterEntry},
};

use super::store::{Access, ObjectionRow};

fn day(d: Option<jiff::civil::Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The office's view of `a`.
pub fn record(a: &Access, objections: &[ObjectionRow]) -> AccessRequestRecord {
    let (garante_asked, garante_given) = a
        .review_stops
        .iter()
        .find_map(|s| match *s {
            sportello_pa::Stop::GaranteOpinion { asked, given } => Some((Some(asked), given)),
            _ => None,
        })
        .unwrap_or((None, None));
    let corrected = a.stops.iter().find_map(|s| match *s {
        sportello_pa::Stop::IrregularRequest { corrected, .. } => corrected,
        _ => None,
    });
    let irregular_notified = a.stops.iter().find_map(|s| match *s {
        sportello_pa::Stop::IrregularRequest { notified, .. } => Some(notified),
        _ => None,
    });
    AccessRequestRecord {
        id: a.id.to_string(),
        municipality_istat_code: a.municipality.to_string(),
        kind: a.kind.message() as i32,
        subject: a.subject.clone(),
        interest: a.interest.clone(),
        channel: Channel::from_str_name(&a.channel).unwrap_or_default() as i32,
        protocol_number: a.protocol_number.clone(),
        receive_time: Some(to_proto_timestamp(a.received_at)),
        state: a.state.message() as i32,
        due_date: day(a.due_date),
        outcome_on_expiry: if a.kind.is_civic() {
            "decision_due".into()
        } else {
            "silence_refusal".into()
        },
        irregular_notified_date: day(irregular_notified),
        irregular_reason: a.irregular_reason.clone().unwrap_or_default(),
        corrected_date: day(corrected),
        counter_interested: u32::try_from(a.counter_interested).unwrap_or_default(),
        counter_interested_notified_date: day(a.counter_interested_notified_on),
        objection_deadline: day(a.objection_deadline),
        objections: objections
            .iter()
            .map(|o| Objection {
                party: u32::try_from(o.party).unwrap_or_default(),
                received_date: o.received_on.to_string(),
                reasons: o.reasons.clone(),
            })
            .collect(),
        decision: a.decision.map_or(0, |d| d.message() as i32),
        grounds: a.grounds.clone(),
        reasons: a.reasons.clone().unwrap_or_default(),
        remedies: a.remedies.clone().unwrap_or_default(),
        deferred_until: day(a.deferred_until),
        copy_pages: u32::try_from(a.copy_pages).unwrap_or_default(),
        copy_cost_cents: u64::try_from(a.copy_cost_cents).unwrap_or_default(),
        published_url: a.published_url.clone().unwrap_or_default(),
        decision_protocol_number: a.decision_protocol_number.clone().unwrap_or_default(),
        decided_date: day(a.decided_on),
        deliver_from_date: day(a.deliver_from),
        review_deadline: day(a.review_deadline),
        review_by: a.review_by.map_or(0, |b| b.message() as i32),
        review_requested_date: day(a.review_requested_on),
        review_due_date: day(a.review_due_date),
        garante_asked_date: day(garante_asked),
        garante_given_date: day(garante_given),
        review_decision: a.review_decision.map_or(0, |d| d.message() as i32),
        review_reasons: a.review_decision_reasons.clone().unwrap_or_default(),
        reviewed_date: day(a.reviewed_on),
    }
}

/// The register's line for `a`: what was asked (masked at intake), when, how it ended.
pub fn register_entry(a: &Access) -> RegisterEntry {
    RegisterEntry {
        protocol_number: a.protocol_number.clone(),
        kind: a.kind.message() as i32,
        received_date: a.received_on.to_string(),
        subject: a.subject.clone(),
        counter_interested: a.counter_interested > 0,
        decision: a.decision.map_or(0, |d| d.message() as i32),
        decided_date: day(a.decided_on),
        grounds: a.grounds.clone(),
        review_requested: a.review_requested_on.is_some(),
        review_decision: a.review_decision.map_or(0, |d| d.message() as i32),
        reviewed_date: day(a.reviewed_on),
        state: a.state.message() as i32,
    }
}
