//! The CloudEvents 1.0 envelope and its Kafka binary-content-mode wire form.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::SCHEMA_VERSION;

/// Header names of the CloudEvents Kafka binding (binary content mode).
pub mod header {
    /// `id`: unique per event; consumers deduplicate by it.
    pub const ID: &str = "ce_id";
    /// `source`: the service and source that produced the event.
    pub const SOURCE: &str = "ce_source";
    /// `type`: e.g. `com.marquee.review.published`.
    pub const TYPE: &str = "ce_type";
    /// `time`: when the event happened, RFC 3339.
    pub const TIME: &str = "ce_time";
    /// `specversion`: always `1.0`.
    pub const SPEC_VERSION: &str = "ce_specversion";
    /// `subject`: the item id, also the message key.
    pub const SUBJECT: &str = "ce_subject";
    /// `datacontenttype` maps to the plain `content-type` header in the Kafka binding.
    pub const CONTENT_TYPE: &str = "content-type";
}

const SPEC_VERSION: &str = "1.0";
const CONTENT_TYPE: &str = "application/json";

/// The payload of one event type.
pub trait EventData: Serialize + DeserializeOwned + JsonSchema {
    /// CloudEvents `type`.
    const TYPE: &'static str;
    /// Topic the event is published on.
    const TOPIC: &'static str;
    /// The id of the item the event is about: message key and `subject`.
    fn item_id(&self) -> &str;
}

/// A set of event types read from one topic, decoded by their CloudEvents `type`.
pub trait EventFamily: Sized {
    /// Decodes the `data` of an event of type `ce_type`.
    fn decode(ce_type: &str, data: serde_json::Value) -> Result<Self, DecodeError>;
}

impl<T: EventData> EventFamily for T {
    fn decode(ce_type: &str, data: serde_json::Value) -> Result<Self, DecodeError> {
        if ce_type != T::TYPE {
            return Err(DecodeError::UnknownType(ce_type.to_owned()));
        }
        decode_data(data)
    }
}

pub(crate) fn decode_data<T: DeserializeOwned>(data: serde_json::Value) -> Result<T, DecodeError> {
    serde_json::from_value(data).map_err(DecodeError::Body)
}

/// The JSON body: the schema version beside the data.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub(crate) struct Body<T> {
    /// Version of the body's schema; see `docs/events.md`.
    pub(crate) schema_version: u32,
    /// The event's data.
    pub(crate) data: T,
}

/// One event with its CloudEvents attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<T> {
    /// Unique event id.
    pub id: Uuid,
    /// Producer, e.g. `marquee/reviews-ingest/cms-feed`.
    pub source: String,
    /// CloudEvents `type`.
    pub event_type: String,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The item id: key and subject.
    pub subject: String,
    /// The payload.
    pub data: T,
}

/// What goes on the wire: key, headers, body.
#[derive(Debug, Clone, PartialEq)]
pub struct WireEvent {
    /// Message key: the item id.
    pub key: String,
    /// CloudEvents attributes as headers.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Vec<u8>,
}

/// Why a message is not a valid event. Such a message is a poison message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A required CloudEvents header is absent.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header has a value this contract does not accept.
    #[error("header `{name}` has an invalid value {value:?}: {reason}")]
    InvalidHeader {
        /// Header name.
        name: &'static str,
        /// The value as received.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `ce_type` is not one this consumer reads.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    /// The body was written by a newer schema.
    #[error("schema_version {0} is newer than the supported {SCHEMA_VERSION}")]
    UnsupportedVersion(u32),
    /// The body is not the JSON the schema describes.
    #[error("invalid body: {0}")]
    Body(#[source] serde_json::Error),
}

impl<T: EventData> Envelope<T> {
    /// A new event about `data`, happening at `time`: the producer reads
    /// its clock (`marquee_runtime::clock`), since this crate does no I/O.
    ///
    /// The id is a UUIDv7 of `time`: ids of new events sort after older
    /// ones, so the consumers' ledgers of applied event ids grow at their
    /// end instead of at a random page of an index as large as the log.
    pub fn new(source: impl Into<String>, data: T, time: DateTime<Utc>) -> Self {
        let millis = u64::try_from(time.timestamp_millis()).unwrap_or(0);
        let timestamp = uuid::Timestamp::from_unix(
            uuid::NoContext,
            millis / 1_000,
            u32::try_from(millis % 1_000 * 1_000_000).unwrap_or(0),
        );
        Self {
            id: Uuid::new_v7(timestamp),
            source: source.into(),
            event_type: T::TYPE.to_owned(),
            time,
            subject: data.item_id().to_owned(),
            data,
        }
    }

    /// The binary-content-mode wire form.
    pub fn to_wire(&self) -> WireEvent {
        let body = Body {
            schema_version: SCHEMA_VERSION,
            data: &self.data,
        };
        let body = serde_json::to_vec(&body).expect("event data serializes to JSON");
        let headers = [
            (header::ID, self.id.to_string()),
            (header::SOURCE, self.source.clone()),
            (header::TYPE, self.event_type.clone()),
            (
                header::TIME,
                self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
            (header::SPEC_VERSION, SPEC_VERSION.to_owned()),
            (header::SUBJECT, self.subject.clone()),
            (header::CONTENT_TYPE, CONTENT_TYPE.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        WireEvent {
            key: self.subject.clone(),
            headers,
            body,
        }
    }
}

impl<T: EventFamily> Envelope<T> {
    /// Decodes a received message from its headers and body.
    pub fn from_wire(headers: &[(String, String)], body: &[u8]) -> Result<Self, DecodeError> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.as_str())
        };
        let required = |name: &'static str| header(name).ok_or(DecodeError::MissingHeader(name));
        let spec = required(header::SPEC_VERSION)?;
        if spec != SPEC_VERSION {
            return Err(invalid(header::SPEC_VERSION, spec, "expected 1.0"));
        }
        if let Some(content_type) = header(header::CONTENT_TYPE)
            && !content_type.starts_with(CONTENT_TYPE)
        {
            return Err(invalid(
                header::CONTENT_TYPE,
                content_type,
                "expected application/json",
            ));
        }
        let id = required(header::ID)?;
        let id = Uuid::parse_str(id).map_err(|e| invalid(header::ID, id, e))?;
        let time = required(header::TIME)?;
        let time = DateTime::parse_from_rfc3339(time)
            .map_err(|e| invalid(header::TIME, time, e))?
            .with_timezone(&Utc);
        let event_type = required(header::TYPE)?.to_owned();
        let body: Body<serde_json::Value> =
            serde_json::from_slice(body).map_err(DecodeError::Body)?;
        if body.schema_version > SCHEMA_VERSION {
            return Err(DecodeError::UnsupportedVersion(body.schema_version));
        }
        Ok(Self {
            id,
            source: required(header::SOURCE)?.to_owned(),
            subject: required(header::SUBJECT)?.to_owned(),
            time,
            data: T::decode(&event_type, body.data)?,
            event_type,
        })
    }
}

fn invalid(name: &'static str, value: &str, reason: impl ToString) -> DecodeError {
    DecodeError::InvalidHeader {
        name,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}
