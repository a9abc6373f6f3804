//! Stored enrolment records on the wire.

use sportello_kit::events::to_proto_timestamp;
use sportello_proto::education::v1::{
    Application as ApplicationMessage, Entry as EntryMessage, Objection as ObjectionMessage,
    ObjectionStatus, OfferStatus, Ranking as RankingMessage, RankingRow, Window as WindowMessage,
};

use super::{age::Entry, domain::criteria_message, store};

/// A window.
pub fn window(window: &store::Window) -> WindowMessage {
    let w = &window.window;
    WindowMessage {
        id: window.id.0.to_string(),
        municipality_istat_code: w.municipality.to_string(),
        level: w.service.level() as i32,
        school_year: i32::from(w.year.0),
        opens_on: w.opens_on.to_string(),
        closes_on: w.closes_on.to_string(),
        starts_on: w.starts_on.to_string(),
        criteria: Some(criteria_message(&w.criteria)),
        applications: u32::try_from(window.filed).unwrap_or_default(),
        version: u64::try_from(window.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(window.created_at)),
        objection_days: u32::try_from(w.objection_days).unwrap_or_default(),
        places: u32::try_from(w.places).unwrap_or_default(),
        acceptance_days: u32::try_from(w.acceptance_days).unwrap_or_default(),
        check_percent: u32::try_from(w.check_percent).unwrap_or_default(),
    }
}

/// An application: never its health data.
pub fn application(a: &store::Application) -> ApplicationMessage {
    ApplicationMessage {
        id: a.id.0.to_string(),
        window_id: a.window_id.0.to_string(),
        code: a.code.clone(),
        protocol_number: a.protocol_number.clone(),
        child_ref: a.child_ref.clone(),
        entry: match a.entry {
            Entry::Regular => EntryMessage::Regular,
            Entry::Early => EntryMessage::Early,
        } as i32,
        resident: a.resident,
        working_parents: u32::try_from(a.working_parents).unwrap_or_default(),
        siblings_enrolled: u32::try_from(a.siblings_enrolled).unwrap_or_default(),
        isee_value_cents: a.isee_cents,
        dsu_protocol: a.dsu_protocol.clone().unwrap_or_default(),
        score: u32::try_from(a.score).unwrap_or_default(),
        channel: a.filing.channel() as i32,
        file_time: Some(to_proto_timestamp(a.filed_at)),
        offer_status: match a.offer_status.as_deref() {
            Some("offered") => OfferStatus::Offered,
            Some("accepted") => OfferStatus::Accepted,
            Some("refused") => OfferStatus::Refused,
            Some("lapsed") => OfferStatus::Lapsed,
            _ => OfferStatus::Unspecified,
        } as i32,
        offer_last_day: a.offer_last_day.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// A published ranking.
pub fn ranking(r: &store::Ranking) -> RankingMessage {
    RankingMessage {
        window_id: r.window_id.0.to_string(),
        stage: r.stage.message() as i32,
        criteria_version: u32::try_from(r.criteria_version).unwrap_or_default(),
        rows: r
            .rows
            .iter()
            .map(|row| RankingRow {
                position: row.position,
                application_code: row.code.clone(),
                score: row.total,
            })
            .collect(),
        open_data_csv: r.open_data_csv.clone(),
        publish_time: Some(to_proto_timestamp(r.published_at)),
    }
}

/// An objection, with its application's code.
pub fn objection(o: &store::Objection, application_code: &str) -> ObjectionMessage {
    ObjectionMessage {
        id: o.id.0.to_string(),
        application_id: o.application_id.0.to_string(),
        application_code: application_code.to_owned(),
        window_id: o.window_id.0.to_string(),
        protocol_number: o.protocol_number.clone(),
        status: match o.status.as_str() {
            "open" => ObjectionStatus::Open,
            "upheld" => ObjectionStatus::Upheld,
            "rejected" => ObjectionStatus::Rejected,
            _ => ObjectionStatus::Unspecified,
        } as i32,
        grounds: o.grounds.clone(),
        score_before: u32::try_from(o.score_before).unwrap_or_default(),
        score_after: o
            .score_after
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or_default(),
        file_time: Some(to_proto_timestamp(o.filed_at)),
        decide_time: o.decided_at.map(to_proto_timestamp),
    }
}
