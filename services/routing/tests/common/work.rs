//! A department's side of the back office: its work requests, published on its stream as
//! its outbox relay would, and its specialists.

use sportello_kit::EventRecord;
use sportello_proto::routing::v1::{
    OutcomeOnExpiry, Presence, StatutoryClock, Tier, WorkOrigin, WorkRequested,
};
use uuid::Uuid;

use super::{Desk, LA_SPEZIA};

pub const CHECK: &str = "registry.residence_address_check";

/// The registry asks for a residence address check with this clock.
pub fn request(work_id: Uuid, due: &str, warning: &str) -> WorkRequested {
    WorkRequested {
        work_id: work_id.to_string(),
        origin: Some(WorkOrigin {
            service: "registry".into(),
            procedure_kind: "residence_change".into(),
            procedure_id: Uuid::now_v7().to_string(),
        }),
        municipality_istat_code: LA_SPEZIA.into(),
        service_code: CHECK.into(),
        requester_ref: String::new(),
        clock: Some(StatutoryClock {
            rule: "residence_check".into(),
            start_date: "2026-11-26".into(),
            due_date: due.into(),
            warning_date: warning.into(),
            outcome_on_expiry: OutcomeOnExpiry::SilenceAssent as i32,
            suspensions: vec![],
        }),
        context_note: "Verifica dell'abitualità della dimora.".into(),
        priority_category: 0,
        documents: vec![],
        protocol_registration_id: String::new(),
    }
}

/// The registry's stream, as the registry creates it at start.
pub async fn registry_stream(desk: &Desk) -> async_nats::jetstream::Context {
    let js = async_nats::jetstream::new(desk.ctx.nats().await);
    let _ = js
        .get_or_create_stream(sportello_kit::nats::stream_config(
            &desk.ctx.config.subject_prefix,
            &sportello_kit::StreamSpec {
                part: "registry",
                subjects: &["registry.>"],
            },
            1,
        ))
        .await
        .unwrap();
    js
}

/// Publishes `message` on the registry's stream as its outbox relay would: `event_type`
/// with `event_id` (also its `Nats-Msg-Id`), about `aggregate_id`.
pub async fn publish_as<M: prost::Name>(
    desk: &Desk,
    event_id: Uuid,
    event_type: &str,
    aggregate_id: &str,
    message: &M,
) {
    let js = registry_stream(desk).await;
    let record = EventRecord {
        id: event_id,
        source: "//sportello/registry".into(),
        event_type: event_type.into(),
        time: jiff::Timestamp::now(),
        aggregate_kind: "registry.residence_change".into(),
        aggregate_id: aggregate_id.into(),
        aggregate_version: 1,
        municipality: LA_SPEZIA.into(),
        data_type: M::full_name(),
        data: message.encode_to_vec().into(),
        traceparent: None,
    };
    js.publish_with_headers(
        desk.ctx.config.subject_prefix.subject(event_type),
        record.headers(),
        record.data.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

/// Publishes `message` on the registry's stream as its outbox relay would, with `event_id`.
pub async fn publish(desk: &Desk, event_id: Uuid, message: &WorkRequested) {
    let procedure = &message.origin.as_ref().unwrap().procedure_id;
    publish_as(
        desk,
        event_id,
        "registry.work.requested",
        procedure,
        message,
    )
    .await;
}

/// A back-office specialist of the registry, present for back-office work.
pub async fn specialist(desk: &mut Desk, id: &str) {
    desk.operators
        .upsert_operator(super::request(
            sportello_proto::routing::v1::UpsertOperatorRequest {
                operator: Some(sportello_proto::routing::v1::Operator {
                    id: id.into(),
                    municipality_istat_code: LA_SPEZIA.into(),
                    display_name: format!("Specialista {id}"),
                    tier: Tier::BackOffice as i32,
                    department: "anagrafe".into(),
                    skills: vec![sportello_proto::routing::v1::Skill {
                        skill: "anagrafe".into(),
                        proficiency: 4,
                    }],
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    desk.presence(id, Presence::BackOffice).await.unwrap();
}

/// A specialist at the back office, as the gateway calls for them.
pub fn back_office_person(id: &str) -> sportello_kit::CallContext {
    sportello_kit::CallContext::new(
        "gateway",
        &format!("operator:{id}"),
        LA_SPEZIA,
        "work.serve",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::BackOffice])
    .with_department(Some("anagrafe"))
}
