//! Badges on the wire, without their certification.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::mobility::v1::{Badge as BadgeMessage, BadgeState, VehiclePlate};

use super::store::Badge;

/// The badge as callers see it.
pub fn badge(badge: &Badge) -> BadgeMessage {
    BadgeMessage {
        id: badge.id.to_string(),
        municipality_istat_code: badge.municipality.to_string(),
        number: badge.number.clone(),
        holder_ref: badge.holder_ref.clone(),
        state: match badge.state.as_str() {
            "active" => BadgeState::Active,
            "blocked" => BadgeState::Blocked,
            "revoked" => BadgeState::Revoked,
            "expired" => BadgeState::Expired,
            _ => BadgeState::Unspecified,
        } as i32,
        temporary: badge.temporary,
        valid_from: badge.valid_from.to_string(),
        valid_until: badge.valid_until.to_string(),
        plates: badge
            .plates
            .iter()
            .map(|p| VehiclePlate {
                plate: p.plate.clone(),
                kind: p.kind.clone(),
            })
            .collect(),
        platform_state: badge.platform_state.clone(),
        replaced_by: badge.replaced_by.map(|b| b.to_string()).unwrap_or_default(),
        reason: badge.reason.clone().unwrap_or_default(),
        create_time: Some(to_proto_timestamp(badge.created_at)),
        end_time: badge.ended_at.map(to_proto_timestamp),
        version: u64::try_from(badge.version).unwrap_or_default(),
    }
}
