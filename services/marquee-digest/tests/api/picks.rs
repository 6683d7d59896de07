//! Editors' picks an editor marks for a schedule: stored through the admin
//! API once checked, led with before the Repertory Rundown's (a film both
//! name once, as the editor wrote it), and one that matches no screening is
//! named in the preview's editors' note, never to readers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::email::{position, rundown};
use crate::helpers::{Engine, TestApp, published, thursday};

const PICKS: &str = "/admin/digest/picks/weekly";

/// `PUT` `picks` for the weekly schedule: the status and the JSON answer.
async fn put_picks(app: &TestApp, picks: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let response = app.send_json(Method::PUT, PICKS, &picks).await;
    (response.status(), response.json().await.unwrap())
}

on_both_engines!(
    bad_picks_are_refused_saying_which_and_nothing_is_stored,
    the_email_leads_with_the_editors_picks_then_the_rundowns,
);

async fn bad_picks_are_refused_saying_which_and_nothing_is_stored(engine: Engine) {
    let app = TestApp::seeded(engine, ["reader@example.com"]).await;
    let thirteen: Vec<_> = (1..=13)
        .map(|n| json!({ "title": format!("Film {n}") }))
        .collect();
    for (picks, says) in [
        (
            json!([{ "title": "Heat" }, { "title": "  ", "year": 1995 }]),
            "pick 2 has no title",
        ),
        (
            json!([{ "title": "Heat", "year": 1850 }]),
            "pick 1 (`Heat`): year 1850 is not between 1870 and 2100",
        ),
        (
            json!(thirteen),
            "13 picks is too many: a digest leads with at most 12",
        ),
        (
            json!([{ "title": "Heat", "year": 1995 }, { "title": "HEAT" }]),
            "pick 2 (`HEAT`) is the same film as pick 1",
        ),
    ] {
        let (status, body) = put_picks(&app, picks).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"], says);
    }
    let unknown = app
        .send_json(Method::PUT, "/admin/digest/picks/nope", &json!([]))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.clock.set(thursday());
    let stored = app.get_json(PICKS).await;
    assert_eq!(stored["picks"], json!([]), "{stored}");
    assert_eq!(stored["updated_at"], json!(null));
    app.close().await;
}

async fn the_email_leads_with_the_editors_picks_then_the_rundowns(engine: Engine) {
    let app = TestApp::seeded(engine, ["reader@example.com"]).await;
    // The Rundown names the Leone (as "Once Upon a Time in the West") and
    // a film that plays nowhere.
    app.deliver(&published(
        &rundown(),
        thursday() - chrono::Duration::hours(20),
    ))
    .await;
    app.clock.set(thursday());
    let (status, saved) = put_picks(
        &app,
        json!([
            { "title": "2001: A Space Odyssey", "note": "  Kubrick on 70mm, as it was shot.  " },
            { "title": "once upon a time in the west", "year": 1968 },
            { "title": "Nowhere Film", "year": 1999 },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved,
        app.get_json(PICKS).await,
        "GET tells what PUT stored"
    );
    let picks = saved["picks"].as_array().unwrap();
    assert_eq!(picks.len(), 3);
    assert_eq!(picks[0]["pick"]["note"], "Kubrick on 70mm, as it was shot.");
    assert_eq!(
        picks[0]["screenings"],
        json!([{ "venue": "BFI Southbank", "starts_at_local": "2026-11-29T14:00:00" }])
    );
    assert_eq!(picks[1]["screenings"].as_array().unwrap().len(), 1);
    assert_eq!(
        picks[2]["screenings"],
        json!([]),
        "Nowhere Film plays nowhere"
    );

    // The preview tells the editor which picks readers will not see.
    let preview = app
        .get("/admin/digest/preview/weekly")
        .await
        .text()
        .await
        .unwrap();
    let note = position(&preview, "Editors' note (preview only)");
    let listed = &preview[note..position(&preview, "Editors' picks")];
    assert!(
        listed.contains("Nowhere Film (1999)") && listed.contains("Unseen Film (1950)"),
        "{listed}"
    );

    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.counts.sent, 1, "{report:?}");
    let mail = app.sink.wait_for(1).await.remove(0);
    for part in ["text/html", "text/plain"] {
        let body = mail.part(part);
        // The preheader ("2 editors' picks, …") comes before the heading.
        let preheader = position(body, "3 new reviews and 3 screenings");
        let start = position(&body[preheader..], "Editors' picks") + preheader;
        let end = position(&body[start..], "New reviews") + start;
        let section = &body[start..end];
        let kubrick = position(section, "2001: A Space Odyssey");
        let note = position(section, "Kubrick on 70mm, as it was shot.");
        let leone = section
            .find("once upon a time in the west (1968)")
            .unwrap_or_else(|| panic!("{part}: the editor's spelling is not kept: {section}"));
        assert!(
            kubrick < note && note < leone,
            "{part}: out of the editor's order"
        );
        // Once as the pick, once as its screening; the Rundown's pick of
        // the same film would make it four.
        let leones = section
            .to_ascii_lowercase()
            .matches("once upon a time in the west")
            .count();
        assert_eq!(
            leones, 2,
            "{part}: the Rundown's pick is listed twice: {section}"
        );
        assert!(
            !body.contains("Nowhere Film") && !body.contains("Unseen Film"),
            "{part}"
        );
        assert!(
            body[..preheader].contains("2 editors"),
            "{part}: the preheader counts the picks readers get"
        );
    }
    app.close().await;
}
