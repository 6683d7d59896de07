//! Named tokens and roles on the one-process demo, and the audit trail:
//! a viewer reads but cannot send, an editor pauses a schedule but cannot
//! send, the old plain token is an admin, and every change (refusals too)
//! is in `GET /admin/audit` and `marquee admin audit` with who made it.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Demo, TOKEN};
use marquee_admin::ErrorBody;
use marquee_admin::audit::{AuditEntry, Outcome, Role};
use marquee_runtime::admin::{Token, TokenSetting};
use secrecy::SecretString;

const VIEWER: &str = "viewer-secret-0123";
const EDITOR: &str = "editor-secret-4567";
const PLAIN: &str = "plain-secret-89ab";

async fn with_roles() -> Demo {
    Demo::start_with(|settings| {
        for (name, role, secret) in [("vic", Role::Viewer, VIEWER), ("ana", Role::Editor, EDITOR)] {
            settings.admin.tokens.push(TokenSetting::Named(Token {
                name: name.to_owned(),
                role,
                token: SecretString::from(secret),
            }));
        }
        settings
            .admin
            .tokens
            .push(TokenSetting::Plain(SecretString::from(PLAIN)));
    })
    .await
}

async fn post(demo: &Demo, path: &str, token: &str) -> (u16, String) {
    let response = demo
        .http
        .post(format!("{}{path}", demo.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_its_part_and_every_change_is_audited() {
    let demo = with_roles().await;
    let send = "/admin/digest/send/weekly";
    let pause = "/admin/digest/schedules/weekly/pause";
    let resume = "/admin/digest/schedules/weekly/resume";

    // Everyone reads; the preview needs an editor.
    for token in [VIEWER, EDITOR, TOKEN, PLAIN] {
        assert_eq!(
            demo.get("/admin/digest/schedules", Some(token)).await.0,
            200
        );
    }
    let (status, body) = demo.get("/admin/digest/preview/weekly", Some(VIEWER)).await;
    assert_eq!(status, 403, "{body}");

    // A viewer cannot send, nor pause; the answer names the role needed.
    let (status, body) = post(&demo, send, VIEWER).await;
    assert_eq!(status, 403);
    let refusal: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(
        refusal.error,
        "this call needs the admin role (the token vic has the viewer role)"
    );
    assert_eq!(post(&demo, pause, VIEWER).await.0, 403);

    // An editor pauses and resumes a schedule, and cannot send.
    assert_eq!(post(&demo, pause, EDITOR).await.0, 200);
    assert_eq!(post(&demo, resume, EDITOR).await.0, 200);
    let (status, body) = post(&demo, send, EDITOR).await;
    assert_eq!(status, 403);
    assert!(body.contains("needs the admin role"), "{body}");

    // The plain token is an admin, named by its place in the list.
    assert_eq!(post(&demo, pause, PLAIN).await.0, 200);

    let (status, body) = demo.get("/admin/audit?limit=50", Some(VIEWER)).await;
    assert_eq!(status, 200, "{body}");
    let trail: Vec<AuditEntry> = serde_json::from_str(&body).unwrap();
    let seen: Vec<(&str, Role, &str, Outcome)> = trail
        .iter()
        .filter(|entry| entry.target.starts_with("/admin/digest/"))
        .map(|entry| {
            (
                entry.token.as_str(),
                entry.role,
                entry.target.as_str(),
                entry.outcome,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("token-4", Role::Admin, pause, Outcome::Done),
            ("ana", Role::Editor, send, Outcome::Refused),
            ("ana", Role::Editor, resume, Outcome::Done),
            ("ana", Role::Editor, pause, Outcome::Done),
            ("vic", Role::Viewer, pause, Outcome::Refused),
            ("vic", Role::Viewer, send, Outcome::Refused),
        ],
        "newest first, reads left out"
    );
    let refused = trail
        .iter()
        .find(|e| e.token == "vic" && e.target == send)
        .unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.method, "POST");
    assert_eq!(refused.detail.as_deref(), Some(refusal.error.as_str()));
    assert!(!body.contains("secret"), "no token in the trail: {body}");

    let (_, mine) = demo.get("/admin/audit?token=ana", Some(VIEWER)).await;
    let mine: Vec<AuditEntry> = serde_json::from_str(&mine).unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|entry| entry.token == "ana"));

    // The CLI reads the same trail, as a viewer, in both forms.
    let json = cli(&demo, VIEWER, &["-o", "json", "audit", "--by", "ana"]);
    let listed: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(listed, mine);
    let table = cli(&demo, VIEWER, &["audit", "--by", "ana", "--limit", "2"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("AGE "), "{table}");
    for (line, (target, outcome)) in lines[1..].iter().zip([(send, "refused"), (resume, "done")]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert!(
            cells.contains(&"ana") && cells.contains(&"editor"),
            "{line}"
        );
        assert!(
            cells.contains(&target) && cells.contains(&outcome),
            "{line}"
        );
    }
    assert!(
        lines[1].ends_with("this call needs the admin role (the token ana has the edito…"),
        "the reason, clipped: {table}"
    );

    // A viewer's CLI cannot send either: exit code 1, the reason on stderr.
    let output = command(&demo, VIEWER, &["digest", "send", "weekly"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs the admin role"), "{stderr}");
}

fn command(demo: &Demo, token: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_marquee"))
        .arg("admin")
        .args(args)
        .env("MARQUEE_API", &demo.base)
        .env("MARQUEE_ADMIN_TOKEN", token)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `marquee admin ARGS` with `token`: its standard output, once it succeeded.
fn cli(demo: &Demo, token: &str, args: &[&str]) -> String {
    let output = command(demo, token, args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
