//! Reports and categories as protobuf messages: the public view, never the person.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        AttachmentRef, Category as CategoryMessage, Location, ReplyOutcome, Report as ReportMessage,
    },
};

use super::{domain::Category, store::Report};

/// A category.
pub fn category(c: &Category) -> CategoryMessage {
    CategoryMessage {
        municipality_istat_code: c.municipality.to_string(),
        code: c.code.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        group: c.group.clone(),
        kind: c.kind.message() as i32,
        location_required: c.location_required,
        reply_days: c.reply_days.unwrap_or_default(),
        keywords: c.keywords.clone(),
        office: c.office.clone(),
        active: c.active,
    }
}

/// A report with its attachments' references.
pub fn report(r: &Report, attachments: &[(String, String, i64)]) -> ReportMessage {
    let location = (r.point.is_some() || !r.address.is_empty()).then(|| Location {
        latitude: r.point.map(|p| p.0),
        longitude: r.point.map(|p| p.1),
        address: r.address.clone(),
    });
    ReportMessage {
        id: r.id.to_string(),
        code: r.code.clone(),
        municipality_istat_code: r.municipality.to_string(),
        category_code: r.category_code.clone(),
        category_name: r.category_name.clone(),
        kind: r.kind.message() as i32,
        description: r.description_masked.clone(),
        masked: r.masked.clone(),
        location,
        media_url: r.media_url.clone(),
        attachments: attachments
            .iter()
            .map(|(sha256, media_type, size)| AttachmentRef {
                sha256: sha256.clone(),
                media_type: media_type.clone(),
                size_bytes: u64::try_from(*size).unwrap_or_default(),
            })
            .collect(),
        channel: Channel::from_str_name(&r.channel).unwrap_or_default() as i32,
        protocol_number: r.protocol_number.clone(),
        receive_time: Some(to_proto_timestamp(r.received_at)),
        due_date: r.due_date.to_string(),
        status: r.status.message() as i32,
        office: r.office.clone(),
        reply: r.reply.clone().unwrap_or_default(),
        outcome: r.outcome.map_or(ReplyOutcome::Unspecified, |o| o.message()) as i32,
        reply_protocol_number: r.reply_protocol_number.clone().unwrap_or_default(),
        close_time: r.closed_at.map(to_proto_timestamp),
        update_time: Some(to_proto_timestamp(r.updated_at)),
        reply_emailed: r.reply_emailed,
    }
}
