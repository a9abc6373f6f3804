//! Permits on the wire.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::mobility::v1::{Permit as PermitMessage, VehiclePlate as PlateMessage};

use super::store::Permit;

/// The permit as callers see it.
pub fn permit(permit: &Permit) -> PermitMessage {
    PermitMessage {
        id: permit.id.to_string(),
        municipality_istat_code: permit.municipality.to_string(),
        number: permit.number.clone(),
        zone_code: permit.zone_code.clone(),
        kind: permit.kind.to_proto() as i32,
        state: permit.state.to_proto() as i32,
        plates: permit
            .plates
            .iter()
            .map(|p| PlateMessage {
                plate: p.plate.clone(),
                kind: p.kind.clone(),
            })
            .collect(),
        valid_from: permit.valid_from.to_string(),
        valid_until: permit.valid_until.to_string(),
        amount_cents: u64::try_from(permit.amount_cents).unwrap_or_default(),
        notice_number: permit.notice_number.clone().unwrap_or_default(),
        holder_ref: permit.holder_ref.clone(),
        reason: permit.reason.clone().unwrap_or_default(),
        grace_until: permit
            .grace_until
            .map(|d| d.to_string())
            .unwrap_or_default(),
        activate_time: permit.activated_at.map(to_proto_timestamp),
        end_time: permit.ended_at.map(to_proto_timestamp),
        create_time: Some(to_proto_timestamp(permit.created_at)),
        version: u64::try_from(permit.version).unwrap_or_default(),
    }
}
