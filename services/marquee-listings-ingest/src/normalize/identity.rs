//! The stable id of a screening.

use chrono::NaiveDateTime;
use marquee_events::ScreeningId;
use uuid::Uuid;

/// Stable id of a screening, a UUID v5 (namespace URL) of:
/// - `urn:marquee:screening:uid:{venue id}:{source uid}` when the source
///   gives its own id (ICS UID, JSON `id`, JSON-LD `identifier`), with
///   `:{original start, YYYYMMDDTHHMMSS}` appended for an occurrence of a
///   recurring event; a time change then keeps the id and is a `changed`;
/// - else `urn:marquee:screening:slot:{venue id}:{title key}:{local start,
///   YYYY-MM-DDTHH:MM}`, so a re-poll finds the same id (and a moved
///   screening is a cancel plus a new listing).
pub fn screening_id(
    venue_id: &str,
    source_uid: Option<&str>,
    occurrence: Option<NaiveDateTime>,
    title_key: &str,
    local_start: NaiveDateTime,
) -> ScreeningId {
    let name = match source_uid {
        Some(uid) => {
            let mut name = format!("urn:marquee:screening:uid:{venue_id}:{uid}");
            if let Some(occurrence) = occurrence {
                name.push_str(&occurrence.format(":%Y%m%dT%H%M%S").to_string());
            }
            name
        }
        None => format!(
            "urn:marquee:screening:slot:{venue_id}:{title_key}:{}",
            local_start.format("%Y-%m-%dT%H:%M")
        ),
    };
    ScreeningId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_prefer_the_source_uid_and_are_stable() {
        let t = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let a = screening_id("pcc", Some("ev-1"), None, "jaws", t("2026-12-01T20:00"));
        let moved = screening_id("pcc", Some("ev-1"), None, "jaws", t("2026-12-02T18:00"));
        assert_eq!(a, moved);
        let b = screening_id("pcc", None, None, "jaws", t("2026-12-01T20:00"));
        assert_ne!(a, b);
        assert_eq!(
            b,
            screening_id("pcc", None, None, "jaws", t("2026-12-01T20:00"))
        );
        assert_ne!(
            b,
            screening_id("bfi", None, None, "jaws", t("2026-12-01T20:00"))
        );
        assert_eq!(
            b.as_str(),
            Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                b"urn:marquee:screening:slot:pcc:jaws:2026-12-01T20:00"
            )
            .to_string()
        );
    }
}
