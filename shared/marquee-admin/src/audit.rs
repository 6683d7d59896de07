//! `/admin/audit`: every change made through the admin API (the console
//! and the CLI call it too), who made it, and how it ended.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a token may do; each role may do everything the one before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also previews, test sends, templates and schedules.
    Editor,
    /// Also sends, subscriber changes, imports, replays and re-drives.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        })
    }
}

/// How a change ended, from its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done (2xx but 202).
    Done,
    /// Accepted as a job that runs on (202).
    Started,
    /// Refused: outside the role, not found, in the wrong state (4xx).
    Refused,
    /// Failed on the server's side (5xx).
    Failed,
}

impl Outcome {
    /// The outcome an HTTP `status` code stands for.
    pub fn of_status(status: u16) -> Self {
        match status {
            202 => Self::Started,
            200..=399 => Self::Done,
            400..=499 => Self::Refused,
            _ => Self::Failed,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Done => "done",
            Self::Started => "started",
            Self::Refused => "refused",
            Self::Failed => "failed",
        })
    }
}

/// One change, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// When it was answered.
    pub at: DateTime<Utc>,
    /// The name of the token that made it.
    pub token: String,
    /// That token's role.
    pub role: Role,
    /// The HTTP method: `POST`, `PUT`, …
    pub method: String,
    /// What it changed: the path (and query) it was made on.
    pub target: String,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, when it was refused or failed: the answer's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /admin/audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Most to list, newest first (default 100, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only the changes made with this token name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(Outcome::of_status(200), Outcome::Done);
        assert_eq!(Outcome::of_status(202), Outcome::Started);
        assert_eq!(Outcome::of_status(403), Outcome::Refused);
        assert_eq!(Outcome::of_status(503), Outcome::Failed);
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
    }
}
