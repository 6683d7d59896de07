//! `/console/audit`: the audit trail, newest first: who changed what
//! through the API, the console or the CLI, and how it ended.

use axum::extract::{Query, State};
use axum::response::Html;
use marquee_admin::audit::{AuditEntry, AuditQuery, Outcome};
use serde::{Deserialize, Serialize};

use super::{PageError, render};
use crate::Console;
use crate::session::Session;

/// Changes shown on one page.
const SHOWN: usize = 500;

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Option<()>,
    token: String,
    entries: Vec<EntryRow>,
}

#[derive(Serialize)]
struct EntryRow {
    when: String,
    token: String,
    role: String,
    action: String,
    target: String,
    outcome: String,
    /// Refused or failed: the outcome is marked.
    refused: bool,
    detail: String,
}

impl From<AuditEntry> for EntryRow {
    fn from(entry: AuditEntry) -> Self {
        Self {
            when: super::instant(entry.at),
            token: entry.token,
            role: entry.role.to_string(),
            action: entry.method,
            target: entry.target,
            outcome: format!("{} ({})", entry.outcome, entry.status),
            refused: matches!(entry.outcome, Outcome::Refused | Outcome::Failed),
            detail: entry.detail.unwrap_or_default(),
        }
    }
}

/// `?token=`: only one token's changes.
#[derive(Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    token: String,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, PageError> {
    let query = AuditQuery {
        limit: Some(SHOWN),
        token: (!filter.token.is_empty()).then(|| filter.token.clone()),
    };
    let entries: Vec<AuditEntry> = api.get_with("/admin/audit", &query).await?;
    let view = View {
        title: "Audit trail",
        flash: None,
        token: filter.token,
        entries: entries.into_iter().map(EntryRow::from).collect(),
    };
    render(&console, "audit.html", &view)
}
