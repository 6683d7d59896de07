//! The contract's own tests: checked-in schemas match the Rust types, and the
//! wire form round-trips and rejects what it must.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use marquee_events::{
    DecodeError, Envelope, EventData, Review, ReviewEvent, ReviewId, ReviewPublished,
    ReviewWithdrawn, ScreeningEvent, header as ce, schemas,
};

fn schema_path(event_type: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{event_type}.json"))
}

/// Fails when a Rust type changes without its checked-in schema.
/// `UPDATE_SCHEMAS=1 cargo test -p marquee-events` rewrites the files.
#[test]
fn checked_in_schemas_match_the_rust_types() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (event_type, schema) in schemas() {
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = schema_path(event_type);
        if update {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != generated {
            drifted.push(path.display().to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "these schemas differ from the Rust types: {drifted:?}; if the change follows \
         docs/events.md, run `UPDATE_SCHEMAS=1 cargo test -p marquee-events` and commit them"
    );
}

#[test]
fn every_schema_file_belongs_to_an_event_type() {
    let known: Vec<PathBuf> = schemas().iter().map(|(t, _)| schema_path(t)).collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            known.contains(&path),
            "stale schema file {}",
            path.display()
        );
    }
}

/// When the fixture review was published, and its events happened.
fn thursday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 9, 10, 0, 0).unwrap()
}

fn review() -> Review {
    marquee_test_support::events::review("cms-4821", thursday())
}

fn published(review: Review) -> Envelope<ReviewPublished> {
    marquee_test_support::events::published("marquee/test", review)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_event_round_trips_through_its_wire_form() {
    let sent = published(review());
    let wire = sent.to_wire();
    assert_eq!(wire.key, "cms-4821");
    assert_eq!(header(&wire.headers, ce::SPEC_VERSION), Some("1.0"));
    assert_eq!(header(&wire.headers, ce::TYPE), Some(ReviewPublished::TYPE));
    let body: serde_json::Value = serde_json::from_slice(&wire.body).unwrap();
    assert_eq!(body["schema_version"], 1);

    let received: Envelope<ReviewEvent> = Envelope::from_wire(&wire.headers, &wire.body).unwrap();
    assert_eq!(received.id, sent.id);
    assert_eq!(received.time, sent.time);
    assert_eq!(received.data, ReviewEvent::Published(sent.data));
}

/// Consumers keep a ledger of the event ids they applied; ids that sort by
/// time land at its end instead of on a random page.
#[test]
fn event_ids_sort_by_the_time_of_the_event() {
    let withdrawal = |time| {
        let data = ReviewWithdrawn {
            id: ReviewId::parse("cms-1").unwrap(),
            reason: "gone".into(),
        };
        Envelope::new("marquee/test", data, time).id
    };
    let earlier = withdrawal(thursday());
    let later = withdrawal(thursday() + chrono::Duration::milliseconds(1));
    let same_instant = withdrawal(thursday());
    assert_eq!(earlier.get_version_num(), 7);
    assert!(earlier < later, "{earlier} then {later}");
    assert_ne!(earlier, same_instant, "two events of one instant");
    assert_eq!(
        earlier.get_timestamp().map(|t| t.to_unix()),
        Some((u64::try_from(thursday().timestamp()).unwrap(), 0))
    );
}

#[test]
fn a_specific_type_refuses_another_type_of_the_same_topic() {
    let wire = Envelope::new(
        "marquee/test",
        ReviewWithdrawn {
            id: ReviewId::parse("cms-1").unwrap(),
            reason: "gone".into(),
        },
        thursday(),
    )
    .to_wire();
    let err = Envelope::<ReviewPublished>::from_wire(&wire.headers, &wire.body).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownType(t) if t == ReviewWithdrawn::TYPE));
}

#[test]
fn malformed_messages_are_refused_with_the_reason() {
    let wire = valid_wire();

    let without_id: Vec<_> = wire
        .headers
        .iter()
        .filter(|(n, _)| n != ce::ID)
        .cloned()
        .collect();
    let err = Envelope::<ReviewEvent>::from_wire(&without_id, &wire.body).unwrap_err();
    assert_eq!(err.to_string(), "missing header `ce_id`");

    let err = Envelope::<ReviewEvent>::from_wire(&wire.headers, b"{not json").unwrap_err();
    assert!(err.to_string().starts_with("invalid body:"), "{err}");

    let newer = br#"{"schema_version": 2, "data": {}}"#;
    let err = Envelope::<ReviewEvent>::from_wire(&wire.headers, newer).unwrap_err();
    assert!(matches!(err, DecodeError::UnsupportedVersion(2)));

    let bad_rating = String::from_utf8(wire.body.clone())
        .unwrap()
        .replace(r#""rating":4"#, r#""rating":9"#);
    let err = Envelope::<ReviewEvent>::from_wire(&wire.headers, bad_rating.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("0 to 5 stars"), "{err}");
}

fn valid_wire() -> marquee_events::WireEvent {
    published(review()).to_wire()
}

proptest::proptest! {
    /// Broken bodies and header values are refused with a reason, never a panic.
    #[test]
    fn broken_events_are_refused_with_a_reason(
        body in marquee_test_support::mutated(&String::from_utf8(valid_wire().body).unwrap()),
        header_at in 0..7usize,
        header_value in ".*",
    ) {
        let valid = valid_wire();
        let mut broken = valid.headers.clone();
        if let Some(header) = broken.get_mut(header_at) {
            header.1 = header_value;
        }
        for headers in [&valid.headers, &broken] {
            if let Err(error) = Envelope::<ReviewEvent>::from_wire(headers, body.as_bytes()) {
                proptest::prop_assert!(!error.to_string().is_empty());
            }
            if let Err(error) = Envelope::<ScreeningEvent>::from_wire(headers, body.as_bytes()) {
                proptest::prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}
