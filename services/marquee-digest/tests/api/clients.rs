//! The digest's HTML part as mail clients take it: a real sent digest run
//! through `doiuse-email` (Can I email's data, pinned by
//! `tests/email-check/package-lock.json`, installed by `scripts/npm.sh`,
//! found by `DOIUSE_EMAIL_DIR`) for Gmail, Outlook and Apple Mail. Its
//! findings go to `target/email-check.txt`; the test fails on any feature
//! a client does not support beyond the few [`ACCEPTED`] ones.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use crate::email::deliver_picks_and_hamnet_image;
use crate::helpers::{Engine, TestApp, thursday};

on_each!([sqlite = Engine::Sqlite] the_digest_uses_nothing_gmail_outlook_or_apple_mail_lacks_but_the_accepted);

/// Can I email's ids for the clients most readers open the digest in.
const CLIENTS: [&str; 3] = [
    "gmail.desktop-webmail",
    "outlook.windows",
    "apple-mail.macos",
];

/// Features a client does not support that the digest uses on purpose,
/// each harmless where it is missing: the format tags' round corners are
/// square in Outlook, and Outlook, which ignores the preheader's
/// `overflow:hidden`, hides it by its `mso-hide:all` instead.
const ACCEPTED: [&str; 2] = [
    "`border-radius` is not supported by `outlook.windows`",
    "`overflow` is not supported by `outlook.windows`",
];

/// What `doiuse-email` says of one HTML document.
#[derive(Debug, Deserialize)]
struct Checked {
    /// Features a client does not support at all.
    #[serde(default)]
    errors: Vec<String>,
    /// Features a client supports only in part.
    warnings: Vec<String>,
    /// What Can I email notes about a feature in a client.
    notes: Vec<String>,
}

/// Runs `doiuse-email` over `html` for [`CLIENTS`].
fn check(html: &str) -> Checked {
    let dir = std::env::var("DOIUSE_EMAIL_DIR").expect(
        "DOIUSE_EMAIL_DIR is not set: run `source scripts/broker.sh && source scripts/npm.sh && \
         install_doiuse_email` (./scripts/test does)",
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), html).unwrap();
    // `require` from `-e` resolves from the working folder's node_modules.
    let output = Command::new("node")
        .current_dir(&dir)
        .arg("-e")
        .arg(
            "const { doIUseEmail } = require('doiuse-email');
             const [file, ...clients] = process.argv.slice(1);
             const html = require('fs').readFileSync(file, 'utf8');
             process.stdout.write(JSON.stringify(doIUseEmail(html, { emailClients: clients })));",
        )
        .arg(file.path())
        .args(CLIENTS)
        .output()
        .expect("node must be installed to run doiuse-email");
    assert!(
        output.status.success(),
        "doiuse-email failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("doiuse-email printed JSON")
}

/// Each distinct message, sorted, with how often it was said.
fn tally(messages: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for message in messages {
        *counts.entry(message.as_str()).or_default() += 1;
    }
    counts
}

/// The report: every finding once, with its count.
fn report(subject: &str, checked: &Checked) -> String {
    let mut report = format!(
        "doiuse-email over the HTML part of \"{subject}\"\nclients: {}\n",
        CLIENTS.join(", ")
    );
    for (heading, messages) in [
        ("Not supported (errors)", &checked.errors),
        ("Partly supported (warnings)", &checked.warnings),
        ("Notes", &checked.notes),
    ] {
        report.push_str(&format!("\n{heading}: {}\n", messages.len()));
        for (message, count) in tally(messages) {
            report.push_str(&format!("- {message} (x{count})\n"));
        }
    }
    report
}

async fn the_digest_uses_nothing_gmail_outlook_or_apple_mail_lacks_but_the_accepted(
    engine: Engine,
) {
    // Every block a reader can get: picks, a review with its image, the week.
    let app = TestApp::seeded(engine, ["reader@example.com"]).await;
    deliver_picks_and_hamnet_image(&app).await;
    app.only_run_at(thursday()).await;
    let mail = app.sink.wait_for(1).await.remove(0);
    let html = mail.part("text/html");
    assert!(
        html.contains("Editors' picks") && html.contains("<img "),
        "{html}"
    );

    let checked = check(html);
    let written = report(&mail.subject, &checked);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("email-check.txt"), &written).unwrap();

    // It read the document: the body and the tables' widths are reported.
    for feature in ["`<body> element`", "`width attribute`"] {
        assert!(
            checked.warnings.iter().any(|w| w.starts_with(feature)),
            "{feature} unreported:\n{written}"
        );
    }
    let unaccepted: Vec<&String> = checked
        .errors
        .iter()
        .filter(|error| !ACCEPTED.contains(&error.as_str()))
        .collect();
    assert!(
        unaccepted.is_empty(),
        "unsupported in a client:\n{unaccepted:#?}\n{written}"
    );

    // A feature a client lacks is found: the checker is not just quiet.
    let flexed = html.replacen("<table ", r#"<table style="display:flex" "#, 1);
    assert!(
        check(&flexed)
            .errors
            .iter()
            .any(|error| error.contains("display:flex")),
        "display:flex unflagged"
    );
    app.close().await;
}
