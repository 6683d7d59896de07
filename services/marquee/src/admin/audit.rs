//! `marquee admin audit`: the audit trail, newest first, as a table of who
//! changed what and how it ended.

use clap::Args;
use marquee_admin::audit::{AuditEntry, AuditQuery, Outcome};

use super::Out;
use super::api::Api;
use super::output::{Human, Table, Tone, View, clip};

/// Widest a refusal's reason is printed.
const REASON: usize = 60;

/// What `marquee admin audit` takes.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Most to list, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Only the changes made with the token of this name (`--token` is
    /// the token the CLI itself presents).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
}

pub(super) async fn run(api: &Api, out: &Out, args: AuditArgs) -> anyhow::Result<()> {
    let query = AuditQuery {
        limit: Some(args.limit as usize),
        token: args.by,
    };
    let trail: Vec<AuditEntry> = api.0.get_with("/admin/audit", &query).await?;
    out.print(&trail)
}

fn outcome_tone(outcome: Outcome) -> Tone {
    match outcome {
        Outcome::Done | Outcome::Started => Tone::Good,
        Outcome::Refused => Tone::Warn,
        Outcome::Failed => Tone::Bad,
    }
}

impl Human for Vec<AuditEntry> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "AGE", "TOKEN", "ROLE", "ACTION", "TARGET", "OUTCOME", "STATUS", "REASON",
        ])
        .numeric(&[6]);
        for entry in self {
            table.row(vec![
                (view.ago(entry.at), Tone::Plain),
                (entry.token.clone(), Tone::Plain),
                (entry.role.to_string(), Tone::Dim),
                (entry.method.clone(), Tone::Plain),
                (entry.target.clone(), Tone::Plain),
                (entry.outcome.to_string(), outcome_tone(entry.outcome)),
                (entry.status.to_string(), Tone::Plain),
                (
                    clip(entry.detail.as_deref().unwrap_or(""), REASON),
                    Tone::Plain,
                ),
            ]);
        }
        table.render(view, "No changes recorded.")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::DateTime;
    use marquee_admin::audit::Role;

    use super::*;

    #[test]
    fn the_trail_reads_as_a_table() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let view = View {
            now: at("2026-12-03T08:30:00Z"),
            ..View::default()
        };
        let trail = vec![
            AuditEntry {
                at: at("2026-12-03T08:27:00Z"),
                token: "ana".to_owned(),
                role: Role::Editor,
                method: "POST".to_owned(),
                target: "/admin/digest/send/weekly".to_owned(),
                status: 403,
                outcome: Outcome::Refused,
                detail: Some("this call needs the admin role".to_owned()),
            },
            AuditEntry {
                at: at("2026-12-03T06:30:00Z"),
                token: "demo".to_owned(),
                role: Role::Admin,
                method: "PUT".to_owned(),
                target: "/admin/digest/schedules/weekly".to_owned(),
                status: 200,
                outcome: Outcome::Done,
                detail: None,
            },
        ];
        assert_eq!(
            trail.human(&view),
            "AGE        TOKEN  ROLE    ACTION  TARGET                          OUTCOME  STATUS  REASON\n\
             3 min ago  ana    editor  POST    /admin/digest/send/weekly       refused     403  this call needs the admin role\n\
             2 h ago    demo   admin   PUT     /admin/digest/schedules/weekly  done        200\n"
        );
        assert_eq!(
            Vec::<AuditEntry>::new().human(&view),
            "No changes recorded.\n"
        );
    }
}
