//! Events on the wire: CloudEvents attributes in NATS headers (binary mode), the event's
//! protobuf message as the body, `Nats-Msg-Id` = event id so the stream drops re-sends.

use async_nats::HeaderMap;
use bytes::Bytes;
use jiff::Timestamp;
use prost::Message;
use sportello_proto::common::v1::{EntityRef, EventEnvelope};
use uuid::Uuid;

/// Header names.
pub mod header {
    /// CloudEvents spec version.
    pub const SPEC_VERSION: &str = "ce-specversion";
    /// Event id.
    pub const ID: &str = "ce-id";
    /// Emitting service.
    pub const SOURCE: &str = "ce-source";
    /// Event type.
    pub const TYPE: &str = "ce-type";
    /// Commit time.
    pub const TIME: &str = "ce-time";
    /// Aggregate id.
    pub const SUBJECT: &str = "ce-subject";
    /// Aggregate kind (extension).
    pub const AGGREGATE_KIND: &str = "ce-aggregatekind";
    /// Aggregate version (extension).
    pub const AGGREGATE_VERSION: &str = "ce-aggregateversion";
    /// ISTAT municipality code (extension).
    pub const MUNICIPALITY: &str = "ce-municipality";
    /// Protobuf type of the body.
    pub const DATA_SCHEMA: &str = "ce-dataschema";
    /// Body encoding.
    pub const CONTENT_TYPE: &str = "content-type";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
}

/// The namespace of event types: types are `sportello.<relative type>` whatever the
/// deployment's subject prefix.
pub const TYPE_NAMESPACE: &str = "sportello";

/// An event with its metadata, as published or as received.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Event id.
    pub id: Uuid,
    /// `//sportello/<service>`.
    pub source: String,
    /// Relative type, e.g. `registry.street.registered`.
    pub event_type: String,
    /// When the change was committed.
    pub time: Timestamp,
    /// `<service>.<entity>`.
    pub aggregate_kind: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version after the change.
    pub aggregate_version: i64,
    /// ISTAT municipality code.
    pub municipality: String,
    /// Protobuf full name of the body.
    pub data_type: String,
    /// The body.
    pub data: Bytes,
    /// W3C trace context of the change.
    pub traceparent: Option<String>,
}

/// Why a received message is not a Sportello event.
#[derive(Debug, thiserror::Error)]
#[error("malformed event: header {0} is missing or invalid")]
pub struct MalformedEvent(pub &'static str);

impl EventRecord {
    /// The NATS headers for this event.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            self.id.to_string().as_str(),
        );
        headers.insert(header::SPEC_VERSION, "1.0");
        headers.insert(header::ID, self.id.to_string().as_str());
        headers.insert(header::SOURCE, self.source.as_str());
        headers.insert(
            header::TYPE,
            format!("{TYPE_NAMESPACE}.{}", self.event_type).as_str(),
        );
        headers.insert(header::TIME, self.time.to_string().as_str());
        headers.insert(header::SUBJECT, self.aggregate_id.as_str());
        headers.insert(header::AGGREGATE_KIND, self.aggregate_kind.as_str());
        headers.insert(
            header::AGGREGATE_VERSION,
            self.aggregate_version.to_string().as_str(),
        );
        headers.insert(header::MUNICIPALITY, self.municipality.as_str());
        headers.insert(
            header::DATA_SCHEMA,
            format!("type.googleapis.com/{}", self.data_type).as_str(),
        );
        headers.insert(header::CONTENT_TYPE, "application/protobuf");
        if let Some(traceparent) = &self.traceparent {
            headers.insert(header::TRACEPARENT, traceparent.as_str());
        }
        headers
    }

    /// Reads an event back from a NATS message's headers and body.
    pub fn from_message(headers: Option<&HeaderMap>, body: Bytes) -> Result<Self, MalformedEvent> {
        let headers = headers.ok_or(MalformedEvent("ce-id"))?;
        let get = |name: &'static str| -> Result<&str, MalformedEvent> {
            headers
                .get(name)
                .map(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .ok_or(MalformedEvent(name))
        };
        let full_type = get(header::TYPE)?;
        let event_type = full_type
            .strip_prefix(TYPE_NAMESPACE)
            .and_then(|t| t.strip_prefix('.'))
            .ok_or(MalformedEvent(header::TYPE))?;
        Ok(Self {
            id: get(header::ID)?
                .parse()
                .map_err(|_| MalformedEvent(header::ID))?,
            source: get(header::SOURCE)?.to_owned(),
            event_type: event_type.to_owned(),
            time: get(header::TIME)?
                .parse()
                .map_err(|_| MalformedEvent(header::TIME))?,
            aggregate_kind: get(header::AGGREGATE_KIND)?.to_owned(),
            aggregate_id: get(header::SUBJECT)?.to_owned(),
            aggregate_version: get(header::AGGREGATE_VERSION)?
                .parse()
                .map_err(|_| MalformedEvent(header::AGGREGATE_VERSION))?,
            municipality: get(header::MUNICIPALITY)?.to_owned(),
            data_type: get(header::DATA_SCHEMA)?
                .strip_prefix("type.googleapis.com/")
                .ok_or(MalformedEvent(header::DATA_SCHEMA))?
                .to_owned(),
            data: body,
            traceparent: headers
                .get(header::TRACEPARENT)
                .map(|v| v.as_str().to_owned()),
        })
    }

    /// Decodes the body as `E`, checking it is of that type.
    pub fn decode<E: sportello_proto::Event>(&self) -> Result<E, DecodeError> {
        if self.event_type != E::TYPE || self.data_type != E::full_name() {
            return Err(DecodeError::WrongType {
                expected: E::TYPE,
                found: self.event_type.clone(),
            });
        }
        E::decode(self.data.clone()).map_err(DecodeError::Protobuf)
    }

    /// The structured (envelope) form, for dead letters and exports.
    pub fn to_envelope(&self) -> EventEnvelope {
        EventEnvelope {
            id: self.id.to_string(),
            source: self.source.clone(),
            r#type: format!("{TYPE_NAMESPACE}.{}", self.event_type),
            time: Some(to_proto_timestamp(self.time)),
            subject: Some(EntityRef {
                kind: self.aggregate_kind.clone(),
                id: self.aggregate_id.clone(),
            }),
            aggregate_version: u64::try_from(self.aggregate_version).unwrap_or_default(),
            municipality_istat_code: self.municipality.clone(),
            data_type: self.data_type.clone(),
            data: self.data.to_vec(),
            traceparent: self.traceparent.clone().unwrap_or_default(),
        }
    }
}

/// An event body that is not what the consumer expected.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Another event type.
    #[error("expected event {expected}, found {found}")]
    WrongType {
        /// The type the consumer handles.
        expected: &'static str,
        /// The type received.
        found: String,
    },
    /// The body does not decode.
    #[error("event body does not decode: {0}")]
    Protobuf(prost::DecodeError),
}

/// A jiff timestamp as a protobuf one.
pub fn to_proto_timestamp(time: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.as_second(),
        nanos: time.subsec_nanosecond(),
    }
}

/// Encodes a message to bytes.
pub fn encode(message: &impl Message) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let record = EventRecord {
            id: Uuid::now_v7(),
            source: "//sportello/registry".into(),
            event_type: "registry.street.registered".into(),
            time: "2026-11-26T09:00:00Z".parse().unwrap(),
            aggregate_kind: "registry.street".into(),
            aggregate_id: "0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f".into(),
            aggregate_version: 3,
            municipality: "011015".into(),
            data_type: "sportello.registry.v1.StreetRegistered".into(),
            data: Bytes::from_static(b"\x0a\x01x"),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        };
        let headers = record.headers();
        assert_eq!(
            headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .unwrap()
                .as_str(),
            record.id.to_string()
        );
        assert_eq!(
            headers.get(header::TYPE).unwrap().as_str(),
            "sportello.registry.street.registered"
        );
        let back = EventRecord::from_message(Some(&headers), record.data.clone()).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn a_message_without_headers_is_malformed() {
        assert!(EventRecord::from_message(None, Bytes::new()).is_err());
    }
}
