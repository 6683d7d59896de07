//! Property tests: every reviews parser (CMS feeds, index pages and
//! sitemaps, article pages, dates, webhook bodies), fed broken versions of
//! real documents and random text, answers with reviews or with reasons,
//! never a panic. `scripts/fuzz` runs them longer.

#![allow(clippy::unwrap_used)]

use marquee_test_support::mutated;
use proptest::prelude::*;
use url::Url;

use crate::webhook::{Action, WebhookPayload};
use crate::{IngestError, draft, feed, page};

const RSS: &str = include_str!("../tests/fixtures/feed.rss");
const ATOM: &str = include_str!("../tests/fixtures/feed.atom");
const INDEX: &str = include_str!("../tests/fixtures/index.html");
const SITEMAP: &str = include_str!("../tests/fixtures/sitemap.xml");
const JSON_LD: &str = include_str!("../tests/fixtures/jsonld-review.html");
const REFERENCE: &str = include_str!("../tests/fixtures/reference-page.html");
const WEBHOOK: &str = r#"{"action":"published","review":{"id":"9f1c2a4e-0000-4000-8000-000000000001","url":"https://films.example/reviews/hamnet","headline":"Hamnet review","standfirst":"Grief","body_html":"<p>Body</p>","section":"In Cinemas","authors":["Ada Lee"],"rating":4,"published_at":"2026-11-20T09:00:00Z","film":{"title":"Hamnet","year":2025}}}"#;

fn base() -> Url {
    Url::parse("https://films.example/reviews/").unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn has_reason(error: &IngestError) {
    assert!(
        !error.to_string().trim().is_empty(),
        "an error without a reason"
    );
}

proptest! {
    #[test]
    fn feeds_never_panic(text in prop_oneof![mutated(RSS), mutated(ATOM), ".*"]) {
        match feed::parse_feed(&text, &base(), now()) {
            Ok(items) => items.iter().filter_map(|item| item.as_ref().err()).for_each(has_reason),
            Err(error) => has_reason(&error),
        }
    }

    #[test]
    fn index_pages_and_sitemaps_never_panic(text in prop_oneof![mutated(INDEX), mutated(SITEMAP), ".*"]) {
        if let Err(error) = page::article_links(&text, &base(), None) {
            has_reason(&error);
        }
    }

    #[test]
    fn articles_never_panic(text in prop_oneof![mutated(JSON_LD), mutated(REFERENCE), ".*"]) {
        if let Err(error) = page::extract_article(&text, &base(), now()) {
            has_reason(&error);
        }
    }

    #[test]
    fn dates_never_panic(text in ".*") {
        let _ = draft::parse_date(&text);
    }

    #[test]
    fn webhook_bodies_never_panic(text in prop_oneof![mutated(WEBHOOK), ".*"]) {
        if let Ok(payload) = serde_json::from_str::<WebhookPayload>(&text)
            && let Err(reason) = Action::try_from(payload)
        {
            prop_assert!(!reason.to_string().is_empty());
        }
    }
}

#[test]
fn a_character_across_the_64_kib_mark_is_no_panic() {
    // 🎬 is four bytes; pad so it straddles byte 65,536 where the prolog check cuts.
    let pad = 64 * 1024 - RSS.len() - 2;
    let text = format!("{RSS}<!--{}🎬-->", "x".repeat(pad - 4));
    assert!(!text.is_char_boundary(64 * 1024));
    assert!(feed::parse_feed(&text, &base(), now()).is_ok());
    // Not an index page: it links no articles, which is refused with a reason.
    has_reason(&page::article_links(&text, &base(), None).unwrap_err());
}

#[test]
fn the_unbroken_documents_are_read() {
    assert!(
        feed::parse_feed(RSS, &base(), now())
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    let payload: WebhookPayload = serde_json::from_str(WEBHOOK).unwrap();
    assert!(Action::try_from(payload).is_ok());
}

#[test]
fn thousands_of_nested_elements_are_refused_not_a_stack_overflow() {
    // Nested extension elements overflowed the RSS parser's stack (scripts/fuzz).
    for (doc, anchor) in [(RSS, "<media:description>"), (ATOM, "<summary")] {
        let nested = doc.replacen(anchor, &format!("{}{anchor}", "<media:x>".repeat(5_000)), 1);
        let error = feed::parse_feed(&nested, &base(), now()).unwrap_err();
        assert!(
            error.to_string().contains("nested more than 64 deep"),
            "{error}"
        );
    }
}
