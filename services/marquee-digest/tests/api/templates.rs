//! Operators' control of the email: templates checked before they are
//! stored and used from the next digest, a live preview of an unsaved one,
//! and a test send that never counts as the week's run.

use marquee_admin::digest::{DigestPreview, TemplateReport, TestSendReport};
use marquee_digest::RunStatus;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(
    a_template_is_checked_stored_and_used_by_the_next_digest,
    a_test_send_reaches_only_the_named_editors_and_records_no_run,
);

/// `PUT /admin/digest/templates/weekly` of `body`.
async fn put(app: &TestApp, body: &serde_json::Value) -> reqwest::Response {
    app.send_json(Method::PUT, "/admin/digest/templates/weekly", body)
        .await
}

/// The refusal's `error`, after asserting the status is 422.
async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

async fn a_template_is_checked_stored_and_used_by_the_next_digest(engine: Engine) {
    let app = TestApp::seeded(engine, ["reader@films.example"]).await;
    let built_in: TemplateReport = app
        .get("/admin/digest/templates/weekly")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(built_in.template.subject, "What to watch: {{ week }}");
    assert_eq!(built_in.updated_at, None);
    assert_eq!(app.get_status("/admin/digest/templates/nope").await, 404);

    let mut template = built_in.template.clone();
    template.text = "WHAT TO WATCH\n{{ week }}\n  {{ reviws }} new\n".to_owned();
    let reason = refused(put(&app, &json!(template)).await).await;
    assert!(
        reason.starts_with("text of template `weekly`, line 3, column 6: undefined value"),
        "{reason}"
    );
    template.text = built_in.template.text.clone();
    template.html =
        "<h1>{{ week }}</h1>\n<p>{% if reviews %}{{ reviews[0].headline }</p>".to_owned();
    let reason = refused(put(&app, &json!(template)).await).await;
    assert!(
        reason.starts_with("html of template `weekly`, line 2, column"),
        "{reason}"
    );
    assert!(reason.contains("syntax error"), "{reason}");
    let reason = refused(
        app.send_json(
            Method::PUT,
            "/admin/digest/templates/Weekly%20Two",
            &json!(built_in.template),
        )
        .await,
    )
    .await;
    assert!(reason.contains("lowercase letters"), "{reason}");
    // Nothing refused was stored.
    let still: TemplateReport = app
        .get("/admin/digest/templates/weekly")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still, built_in);

    // A live preview of an unsaved template, with the schedule's content.
    template.subject = "Trying: {{ week }}".to_owned();
    template.html =
        built_in
            .template
            .html
            .replacen("<body", "<!-- edited by operators --><body", 1);
    let tried = app
        .send_json(
            Method::POST,
            "/admin/digest/templates/weekly/preview?schedule=weekly",
            &json!(template),
        )
        .await;
    assert_eq!(tried.status(), 200);
    let tried: DigestPreview = tried.json().await.unwrap();
    assert_eq!(tried.subject, "Trying: 26 November – 2 December 2026");
    assert!(tried.html.contains("edited by operators"), "{}", tried.html);
    assert!(tried.text.contains("Hamnet review"), "{}", tried.text);
    let preview: DigestPreview = app
        .client
        .get(app.url("/admin/digest/preview/weekly"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        preview.subject.starts_with("What to watch: "),
        "unsaved: {preview:?}"
    );

    template.subject = "Films this week: {{ week }}".to_owned();
    let stored = put(&app, &json!(template)).await;
    assert_eq!(stored.status(), 200);
    let stored: TemplateReport = stored.json().await.unwrap();
    assert!(stored.updated_at.is_some());

    let run = app.only_run_at(thursday()).await;
    assert_eq!(run.run.status, RunStatus::Sent);
    let mail = app.sink.wait_for(1).await.remove(0);
    assert_eq!(
        mail.subject,
        "Films this week: 26 November – 2 December 2026"
    );
    assert!(mail.part("text/html").contains("edited by operators"));
    // Stored in the database: a restarted process has it.
    let restarted = app.restart().await;
    let kept = restarted.template("weekly").await.unwrap();
    assert_eq!(kept.template.subject, "Films this week: {{ week }}");
    app.close().await;
}

async fn a_test_send_reaches_only_the_named_editors_and_records_no_run(engine: Engine) {
    let app = TestApp::seeded(engine, ["reader@films.example"]).await;
    app.clock.set(thursday());
    let sent = app
        .send_json(
            Method::POST,
            "/admin/digest/test-send/weekly",
            &json!({"to": ["editor@films.example", "chief@films.example"]}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let report: TestSendReport = sent.json().await.unwrap();
    assert_eq!(report.sent, ["editor@films.example", "chief@films.example"]);
    assert!(report.failed.is_empty(), "{report:?}");
    let mails = app.sink.wait_for(2).await;
    let mut to: Vec<_> = mails.iter().map(|m| m.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["chief@films.example", "editor@films.example"]);
    for mail in &mails {
        assert_eq!(
            mail.subject,
            "[test] What to watch: 26 November – 2 December 2026"
        );
        assert!(mail.part("text/plain").contains("Hamnet review"));
        assert_eq!(mail.list_unsubscribe, None);
    }
    // No run: the week's digest still goes to its readers.
    assert_eq!(app.get_json("/admin/digest/runs").await, json!([]));
    let run = app.only_run_at(thursday()).await;
    assert_eq!(run.run.status, RunStatus::Sent);
    assert_eq!(run.counts.sent, 1);
    let mails = app.sink.wait_for(3).await;
    assert_eq!(mails[2].to, "reader@films.example");

    for (body, says) in [
        (json!({"to": []}), "1 to 20 addresses, not 0"),
        (json!({"to": ["not an address"]}), "`to`:"),
        (
            json!({"to": ["a@films.example"], "cc": []}),
            "unknown field",
        ),
    ] {
        let response = app
            .send_json(Method::POST, "/admin/digest/test-send/weekly", &body)
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }
    let unknown = app
        .send_json(
            Method::POST,
            "/admin/digest/test-send/nope",
            &json!({"to": ["a@films.example"]}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    app.close().await;
}
