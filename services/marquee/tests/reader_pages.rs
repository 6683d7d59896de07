//! The reader's public pages in a real headless Chromium, on `marquee up`
//! with the real SMTP server: subscribe from the form, confirm from the
//! mailed link, manage preferences from the digest's signed link (change
//! them, pause, unsubscribe), subscribe again; and the refusals (a field
//! the form names, an unknown venue, an oversized post, the rate limit).
//! Every page is checked by axe-core (WCAG 2.1 A and AA) at a desktop and
//! a phone width, and screenshotted to `target/reader-screenshots/`; so
//! are the archive of sent digests and a web version.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::browser::{Driver, axe_source, axe_violations, click, screenshots, text_once};
use common::{Demo, TOKEN};
use fantoccini::{Client, Locator};
use marquee_admin::digest::{RunReport, RunStatus, SendAccepted, Subscriber, SubscriberStatus};
use marquee_runtime::clock::{Clock, SystemClock};
use marquee_test_support::{SmtpSink, wait};

/// Desktop and phone: the widths every page is checked and shot at.
const WIDTHS: [(u32, u32, &str); 2] = [(1280, 1100, "desktop"), (390, 1500, "phone")];

/// Checks the page the browser shows with axe-core at both widths, and
/// that it fits each width without scrolling sideways (WCAG 1.4.10, which
/// axe does not test); screenshots each as `{name}-{width}.png`, and goes
/// back to desktop.
async fn check_page(browser: &Client, axe: &str, name: &str) {
    for (width, height, label) in WIDTHS {
        browser.set_window_size(width, height).await.unwrap();
        let violations = axe_violations(browser, axe).await;
        assert!(
            violations.is_empty(),
            "{name} at {label} width has WCAG 2.1 A/AA violations:\n{}",
            violations.join("\n")
        );
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            overflow, 0,
            "{name} at {label} width scrolls sideways by {overflow}px"
        );
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        std::fs::write(
            screenshots("reader-screenshots").join(format!("{name}-{label}.png")),
            png,
        )
        .unwrap();
    }
    let (width, height, _) = WIDTHS[0];
    browser.set_window_size(width, height).await.unwrap();
}

/// Opens `path` of the demo in `browser`.
async fn open(browser: &Client, demo: &Demo, path: &str) {
    browser.goto(&format!("{}{path}", demo.base)).await.unwrap();
}

/// Types `text` into the field at `css`.
async fn type_into(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Whether the checkbox at `css` is ticked.
async fn is_ticked(browser: &Client, css: &str) -> bool {
    let checkbox = browser.find(Locator::Css(css)).await.unwrap();
    checkbox.is_selected().await.unwrap()
}

/// The one subscriber with `email`, as the admin API has them.
async fn subscriber(demo: &Demo, email: &str) -> Subscriber {
    let found: Vec<Subscriber> = serde_json::from_value(
        demo.admin(&format!("/admin/digest/subscribers?q={email}"))
            .await,
    )
    .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// The link in `text` that contains `path`.
fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|word| word.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in {text}"))
        .to_owned()
}

/// Sends the weekly digest now and waits for its run to finish.
async fn send_digest(demo: &Demo) -> RunReport {
    let accepted: SendAccepted = demo
        .http
        .post(format!("{}/admin/digest/send/weekly?force=true", demo.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    wait::until(
        "the digest run finishes",
        Duration::from_secs(60),
        || async {
            let report: RunReport = serde_json::from_value(
                demo.admin(&format!("/admin/digest/runs/{}", accepted.run))
                    .await,
            )
            .unwrap();
            (report.run.status != RunStatus::Sending).then_some(report)
        },
    )
    .await
}

/// The demo mailing through `sink`, once its screenings name the venues.
async fn demo_mailing_to(sink: &SmtpSink) -> Demo {
    let port = sink.port;
    let demo = Demo::start_with(move |settings| settings.digest.smtp.port = port).await;
    demo.until("/subscribe", None, |page| {
        page.contains("BFI Southbank") && page.contains("The Castle Cinema")
    })
    .await;
    demo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_subscribes_confirms_manages_preferences_and_leaves_in_chromium_by_mail() {
    let sink = SmtpSink::start();
    let demo = demo_mailing_to(&sink).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let axe = axe_source();
    let reader = "reader@films.example";

    // axe-core finds what it should: an image without a text alternative.
    open(&browser, &demo, "/subscribe").await;
    browser.execute(&axe, vec![]).await.unwrap();
    browser
        .execute(
            "document.querySelector('main').append(document.createElement('img'))",
            vec![],
        )
        .await
        .unwrap();
    let found = axe_violations(&browser, &axe).await;
    assert!(
        found.iter().any(|v| v.starts_with("image-alt")),
        "{found:?}"
    );

    // The form: the address and every kind of preference.
    open(&browser, &demo, "/subscribe").await;
    check_page(&browser, &axe, "01-subscribe").await;
    type_into(&browser, "#email", reader).await;
    click(&browser, "input[name=venues][value=bfi-southbank]").await;
    click(&browser, "input[name=formats][value=celluloid]").await;
    click(&browser, "#min_rating option[value='3']").await;
    click(&browser, "input[name=accessibility][value=audio_described]").await;
    click(&browser, "form button[type=submit]").await;
    text_once(&browser, "h1", |h1| h1 == "Check your inbox").await;
    check_page(&browser, &axe, "02-check-inbox").await;

    let stored = subscriber(&demo, reader).await;
    assert_eq!(stored.status, SubscriberStatus::Pending);
    assert_eq!(stored.preferences.venues, ["bfi-southbank"]);
    assert_eq!(stored.preferences.formats, ["celluloid"]);
    assert_eq!(stored.preferences.min_rating, Some(3));
    assert_eq!(stored.preferences.accessibility, ["audio_described"]);

    // The mailed link opens a page; only its button confirms.
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.to, reader);
    let confirm = link_in(mail.part("text/plain"), "/subscribe/confirm?token=");
    browser.goto(&confirm).await.unwrap();
    text_once(&browser, "h1", |h1| h1 == "Confirm your subscription").await;
    check_page(&browser, &axe, "03-confirm").await;
    assert_eq!(
        subscriber(&demo, reader).await.status,
        SubscriberStatus::Pending
    );
    click(&browser, "form button[type=submit]").await;
    text_once(&browser, "h1", |h1| h1 == "You're subscribed").await;
    check_page(&browser, &axe, "04-confirmed").await;
    assert_eq!(
        subscriber(&demo, reader).await.status,
        SubscriberStatus::Confirmed
    );

    // The digest carries the signed preferences link.
    let report = send_digest(&demo).await;
    assert_eq!(report.counts.sent, 1, "{report:?}");
    let digest = &sink.wait_for(2).await[1];
    assert_eq!(digest.to, reader);
    let preferences = link_in(digest.part("text/plain"), "/preferences?token=");
    browser.goto(&preferences).await.unwrap();
    text_once(&browser, "h1", |h1| h1 == "Your preferences").await;
    let bfi = "input[name=venues][value=bfi-southbank]";
    assert!(is_ticked(&browser, bfi).await, "the stored venue is ticked");
    check_page(&browser, &axe, "05-preferences").await;

    // Changed: another venue, any format, every review.
    click(&browser, bfi).await;
    click(&browser, "input[name=venues][value=castle-cinema]").await;
    click(&browser, "input[name=formats][value='']").await;
    click(&browser, "#min_rating option[value='']").await;
    click(&browser, "form[action^='?token='] button[type=submit]").await;
    text_once(&browser, "h1", |h1| h1 == "Preferences saved").await;
    check_page(&browser, &axe, "06-preferences-saved").await;
    let changed = subscriber(&demo, reader).await.preferences;
    assert_eq!(changed.venues, ["castle-cinema"]);
    assert!(
        changed.formats.is_empty() && changed.min_rating.is_none(),
        "{changed:?}"
    );
    assert_eq!(changed.accessibility, ["audio_described"]);

    // Paused for four weeks: the next digest skips the reader.
    browser.goto(&preferences).await.unwrap();
    click(&browser, "#weeks option[value='4']").await;
    click(&browser, "form[action*='/preferences/pause'] button").await;
    text_once(&browser, "h1", |h1| h1 == "Your digest is paused").await;
    check_page(&browser, &axe, "07-paused").await;
    let paused_until = subscriber(&demo, reader)
        .await
        .preferences
        .paused_until
        .expect("paused");
    let weeks = (paused_until - SystemClock.now()).num_days();
    assert!((27..=28).contains(&weeks), "paused for {weeks} days");
    let report = send_digest(&demo).await;
    assert_eq!(report.counts.sent, 0, "{report:?}");
    assert_eq!(sink.messages().len(), 2, "no digest to a paused reader");

    // Unsubscribed from the same page.
    browser.goto(&preferences).await.unwrap();
    let shown = text_once(&browser, "main", |main| main.contains("paused until")).await;
    assert!(shown.contains(reader), "{shown}");
    click(&browser, "form[action*='/preferences/unsubscribe'] button").await;
    text_once(&browser, "h1", |h1| h1 == "You're unsubscribed").await;
    check_page(&browser, &axe, "08-unsubscribed").await;
    assert_eq!(
        subscriber(&demo, reader).await.status,
        SubscriberStatus::Unsubscribed
    );

    // The old preferences link now changes nothing, whatever it is asked.
    let old = |path: &str| preferences.replacen("/preferences?", &format!("{path}?"), 1);
    let page = demo.http.get(&preferences).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This link is no longer valid")
    );
    for (path, body) in [
        ("/preferences", "venues=bfi-southbank"),
        ("/preferences/pause", "weeks=1"),
        ("/preferences/resume", ""),
        ("/preferences/unsubscribe", ""),
    ] {
        let answer = demo
            .http
            .post(old(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 410, "{path}");
    }
    let after = subscriber(&demo, reader).await;
    assert_eq!(after.status, SubscriberStatus::Unsubscribed);
    assert_eq!(after.preferences.venues, ["castle-cinema"]);
    assert_eq!(after.preferences.paused_until, Some(paused_until));

    // Subscribing again is a new subscription: a new link confirms it, the
    // old confirmation link does not.
    click(&browser, "form button[type=submit]").await;
    text_once(&browser, "h1", |h1| h1 == "Check your inbox").await;
    check_page(&browser, &axe, "09-resubscribed-check-inbox").await;
    let again = &sink.wait_for(3).await[2];
    assert_eq!(again.to, reader);
    let stale = demo.http.post(&confirm).send().await.unwrap();
    assert_eq!(stale.status(), 410);
    assert_eq!(
        subscriber(&demo, reader).await.status,
        SubscriberStatus::Pending
    );
    let renewed = link_in(again.part("text/plain"), "/subscribe/confirm?token=");
    assert_eq!(demo.http.post(&renewed).send().await.unwrap().status(), 200);
    let back = subscriber(&demo, reader).await;
    assert_eq!(back.status, SubscriberStatus::Confirmed);
    assert_eq!(
        back.preferences.venues,
        ["castle-cinema"],
        "kept from the form"
    );
}

/// `POST /subscribe` of a urlencoded `body`: the status and the page.
async fn post_form(demo: &Demo, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = demo
        .http
        .post(format!("{}/subscribe", demo.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `POST /subscribe` of a JSON `body`: the answer.
async fn post_json(demo: &Demo, body: serde_json::Value) -> reqwest::Response {
    let url = format!("{}/subscribe", demo.base);
    demo.http.post(url).json(&body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_posts_are_refused_with_clear_pages_storing_nothing_and_the_rate_limit_answers_429() {
    let sink = SmtpSink::start();
    let demo = demo_mailing_to(&sink).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let axe = axe_source();

    // A field refused in the browser: the form again, saying which and why.
    open(&browser, &demo, "/subscribe").await;
    browser
        .execute("document.querySelector('form').noValidate = true", vec![])
        .await
        .unwrap();
    type_into(&browser, "#email", "not-an-address").await;
    click(&browser, "input[name=venues][value=castle-cinema]").await;
    click(&browser, "form button[type=submit]").await;
    let alert = text_once(&browser, "[role=alert]", |alert| {
        alert.contains("Email address")
    })
    .await;
    assert!(alert.contains("not-an-address"), "{alert}");
    let kept = "input[name=venues][value=castle-cinema]";
    assert!(is_ticked(&browser, kept).await, "what was entered is kept");
    check_page(&browser, &axe, "10-subscribe-refused").await;

    // Posted by hand: an unknown venue, a field no form has, a huge body.
    let (status, page) = post_form(
        &demo,
        "email=a%40films.example&venues=odeon-leicester-square",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("`odeon-leicester-square` is not a venue the digest lists")
            && page.contains("bfi-southbank"),
        "{page}"
    );
    let (status, page) = post_form(&demo, "email=a%40films.example&colour=red").await;
    assert_eq!(status, 422);
    assert!(
        page.contains("a field `colour` that this form does not have"),
        "{page}"
    );
    let (status, page) = post_form(
        &demo,
        format!("email=a%40films.example&list={}", "x".repeat(20_000)),
    )
    .await;
    assert_eq!(status, 413);
    assert!(page.contains("larger than 16 KiB"), "{page}");
    let json = post_json(
        &demo,
        serde_json::json!({ "email": "a@films.example", "preferences": { "venues": ["nowhere"] } }),
    )
    .await;
    assert_eq!(json.status(), 422);
    let nobody: Vec<Subscriber> =
        serde_json::from_value(demo.admin("/admin/digest/subscribers").await).unwrap();
    assert!(nobody.is_empty(), "nothing stored: {nobody:?}");
    assert!(sink.files().is_empty(), "nothing mailed");

    // A mailbox gets three confirmation links an hour, the same answer
    // whether or not it is known; the fourth request is a clear 429 page.
    let mailbox = "flooded@films.example";
    for _ in 0..3 {
        let (status, page) = post_form(&demo, format!("email={mailbox}")).await;
        assert_eq!(status, 202);
        assert!(page.contains("a confirmation link is on its way"), "{page}");
    }
    sink.wait_for_files(3).await;
    open(&browser, &demo, "/subscribe").await;
    type_into(&browser, "#email", mailbox).await;
    click(&browser, "form button[type=submit]").await;
    let refused = text_once(&browser, "main", |main| main.contains("Too many requests")).await;
    assert!(refused.contains("ask again after"), "{refused}");
    check_page(&browser, &axe, "11-rate-limited").await;
    let limited = post_json(&demo, serde_json::json!({ "email": mailbox })).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(sink.files().len(), 3, "no fourth confirmation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_and_a_sent_digests_web_version_pass_axe_at_both_widths_in_chromium() {
    let sink = SmtpSink::start();
    let demo = demo_mailing_to(&sink).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let axe = axe_source();

    // A confirmed reader, then a digest that went out: the archive's one.
    let (status, _) = post_form(&demo, "email=reader%40films.example").await;
    assert_eq!(status, 202);
    let mail = &sink.wait_for(1).await[0];
    let confirm = link_in(mail.part("text/plain"), "/subscribe/confirm?token=");
    assert_eq!(demo.http.post(&confirm).send().await.unwrap().status(), 200);
    let report = send_digest(&demo).await;
    assert_eq!(report.counts.sent, 1, "{report:?}");
    let digest = &sink.wait_for(2).await[1];

    open(&browser, &demo, "/digest/archive").await;
    text_once(&browser, "h1", |h1| h1 == "Past digests").await;
    let listed = text_once(&browser, "main li a", |link| !link.is_empty()).await;
    assert_eq!(listed, digest.subject);
    check_page(&browser, &axe, "12-archive").await;

    click(&browser, "main li a").await;
    text_once(&browser, "h1", |h1| h1 == "What to watch").await;
    let url = browser.current_url().await.unwrap();
    assert!(url.path().starts_with("/digest/archive/weekly/"), "{url}");
    assert_eq!(browser.title().await.unwrap(), digest.subject);
    let shown = text_once(&browser, "body", |body| {
        body.contains("On screen this week")
    })
    .await;
    assert!(
        shown.contains("Past digests") && !shown.contains("Unsubscribe"),
        "{shown}"
    );
    check_page(&browser, &axe, "13-web-version").await;
}
