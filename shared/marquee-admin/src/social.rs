//! `/admin/social/…`: the posts ledger and the accounts' queues; posting a
//! skipped review on purpose, cancelling a waiting post, retrying a failed
//! one, pausing and resuming an account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Where a post stands, as the social ledger spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Composed, waiting for its account's worker.
    Queued,
    /// About to be sent, or sent without a known outcome.
    Pending,
    /// Accepted by the network.
    Posted,
    /// Refused for good; see the reason.
    Failed,
    /// Composed in a dry run; never sent.
    DryRun,
    /// Back catalogue: not posted unless an operator asks.
    Skipped,
    /// Never to be sent: cancelled by an operator, or its review withdrawn.
    Cancelled,
}

impl PostStatus {
    /// Every state, for naming them in a refusal.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Pending,
        Self::Posted,
        Self::Failed,
        Self::DryRun,
        Self::Skipped,
        Self::Cancelled,
    ];

    /// The spelling on the wire, e.g. `dry_run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Failed => "failed",
            Self::DryRun => "dry_run",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for PostStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not a post state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown post status `{0}`: expected queued, pending, posted, failed, dry_run, skipped or cancelled"
)]
pub struct UnknownPostStatus(String);

impl std::str::FromStr for PostStatus {
    type Err = UnknownPostStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text.trim())
            .ok_or_else(|| UnknownPostStatus(text.to_owned()))
    }
}

/// One review's post on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SocialPost {
    /// The review.
    pub review_id: String,
    /// The account's name.
    pub account: String,
    /// The account's network: `mastodon`, `bluesky`, `x` or `webhook`.
    pub network: String,
    /// Where it stands.
    pub status: PostStatus,
    /// Why it failed or was skipped (`back catalogue: …`).
    pub reason: Option<String>,
    /// What is (or would be) sent.
    pub text: String,
    /// Where the post can be seen, once posted.
    pub remote_url: Option<String>,
    /// When the row was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `GET /admin/social/posts` and `GET /admin/social/accounts/{account}/posts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct PostsQuery {
    /// Only posts in this state, e.g. `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub status: Option<PostStatus>,
    /// Most to list, newest first (1 to 500).
    #[serde(default = "default_posts_limit")]
    pub limit: i64,
}

fn default_posts_limit() -> i64 {
    100
}

impl Default for PostsQuery {
    fn default() -> Self {
        Self {
            status: None,
            limit: default_posts_limit(),
        }
    }
}

/// How many of an account's posts stand in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostCounts {
    /// Waiting for the worker.
    pub queued: u64,
    /// Being sent, or to be tried again after a transient failure.
    pub pending: u64,
    /// Accepted by the network.
    pub posted: u64,
    /// Refused for good.
    pub failed: u64,
    /// Composed in a dry run.
    pub dry_run: u64,
    /// Back catalogue.
    pub skipped: u64,
    /// Cancelled or withdrawn.
    pub cancelled: u64,
}

impl PostCounts {
    /// Adds `count` posts in `status`.
    pub fn add(&mut self, status: PostStatus, count: u64) {
        let slot = match status {
            PostStatus::Queued => &mut self.queued,
            PostStatus::Pending => &mut self.pending,
            PostStatus::Posted => &mut self.posted,
            PostStatus::Failed => &mut self.failed,
            PostStatus::DryRun => &mut self.dry_run,
            PostStatus::Skipped => &mut self.skipped,
            PostStatus::Cancelled => &mut self.cancelled,
        };
        *slot += count;
    }
}

/// One configured account and its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SocialAccount {
    /// The account's name.
    pub name: String,
    /// Its network: `mastodon`, `bluesky`, `x` or `webhook`.
    pub network: String,
    /// When an operator paused it; its worker sends nothing until resumed.
    pub paused_at: Option<DateTime<Utc>>,
    /// Its posts by state.
    pub counts: PostCounts,
    /// When it last had a post accepted.
    pub last_posted: Option<DateTime<Utc>>,
}

/// One of the publication's fediverse actors: its followers and its
/// deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FediverseActor {
    /// The actor's name, e.g. `reviews`.
    pub name: String,
    /// Its handle, e.g. `reviews@films.example`.
    pub handle: String,
    /// Its ActivityPub id.
    pub id: String,
    /// How many follow it.
    pub followers: i64,
    /// Its deliveries to followers' inboxes, by state.
    pub deliveries: DeliveryCounts,
    /// Whether an operator paused its deliveries (they wait, then go).
    pub paused: bool,
}

/// Deliveries to followers' inboxes, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryCounts {
    /// Waiting for their first or next attempt.
    pub pending: i64,
    /// Accepted by the inbox.
    pub delivered: i64,
    /// Given up: refused by the inbox, or out of attempts.
    pub failed: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_serde_writes_them() {
        for status in PostStatus::ALL {
            let json = serde_json::to_value(status).unwrap_or_default();
            assert_eq!(json, status.as_str());
            assert_eq!(status.as_str().parse::<PostStatus>(), Ok(status));
        }
        assert!("sent".parse::<PostStatus>().is_err());
    }
}
