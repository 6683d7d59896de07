//! What a review event means for the social accounts, decided without I/O:
//! post it, cancel what is still queued, or leave it; and the post each
//! account records. The consumer ([`crate::consumer`]) writes the ledger.

use chrono::{DateTime, Utc};
use marquee_events::{Review, ReviewEvent, ReviewId};
use uuid::Uuid;

use crate::compose::{ComposeError, Network};
use crate::network::tid;
use crate::store::posts::{NewPost, Status};
use crate::worker::Account;

/// Namespace of the idempotency keys (a fixed, random UUID).
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_7271_7565_652d_736f_6369_616c_2d31);

/// What to do about one review event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision<'a> {
    /// A new review: one post per account.
    Post(&'a Review),
    /// Withdrawn: posts still queued must not go out.
    Cancel {
        /// The withdrawn review.
        review_id: &'a ReviewId,
        /// What the ledger says about the cancelled posts.
        reason: String,
    },
    /// An edit: never posted again.
    Leave(&'a ReviewId),
}

/// Decides what `event` means for the accounts.
pub(crate) fn decide(event: &ReviewEvent) -> Decision<'_> {
    match event {
        ReviewEvent::Published(published) => Decision::Post(&published.review),
        ReviewEvent::Updated(updated) => Decision::Leave(&updated.review.id),
        ReviewEvent::Withdrawn(withdrawn) => Decision::Cancel {
            review_id: &withdrawn.id,
            reason: format!("review withdrawn before posting: {}", withdrawn.reason),
        },
    }
}

/// How a new post is recorded: in the outbox in a dry run, else queued.
pub(crate) fn initial_status(dry_run: bool) -> Status {
    if dry_run {
        Status::DryRun
    } else {
        Status::Queued
    }
}

/// The post `account` records for `review` at `now`.
pub(crate) fn new_post(
    account: &Account,
    review: &Review,
    now: DateTime<Utc>,
) -> Result<NewPost, ComposeError> {
    let post = account.composer.compose(review)?;
    let network = account.settings.network();
    Ok(NewPost {
        review_id: review.id.clone(),
        account: account.name().to_owned(),
        network,
        idempotency_key: idempotency_key(network, review.id.as_str(), account.name(), now),
        post,
    })
}

/// The key of one review on one account: the same on every replay.
pub(crate) fn idempotency_key(
    network: Network,
    review_id: &str,
    account: &str,
    now: DateTime<Utc>,
) -> String {
    let key = Uuid::new_v5(&KEY_NAMESPACE, format!("{account}\n{review_id}").as_bytes());
    match network {
        // A post's record key must be a TID; the review's clock id keeps two
        // reviews queued in one microsecond apart.
        Network::Bluesky => {
            let bytes = key.as_bytes();
            tid(
                now.timestamp_micros(),
                u16::from_be_bytes([bytes[0], bytes[1]]),
            )
        }
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use marquee_events::ReviewWithdrawn;

    use super::*;

    #[test]
    fn edits_are_left_and_withdrawals_cancel_with_the_reason() {
        let id = ReviewId::parse("hamnet").expect("valid id");
        let withdrawn = ReviewEvent::Withdrawn(ReviewWithdrawn {
            id: id.clone(),
            reason: "pulled".to_owned(),
        });
        assert_eq!(
            decide(&withdrawn),
            Decision::Cancel {
                review_id: &id,
                reason: "review withdrawn before posting: pulled".to_owned(),
            }
        );
        assert_eq!(initial_status(true), Status::DryRun);
        assert_eq!(initial_status(false), Status::Queued);
    }

    #[test]
    fn keys_are_the_same_on_every_replay_and_differ_per_account() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let key = |account| idempotency_key(Network::Mastodon, "hamnet", account, now);
        assert_eq!(key("masto"), key("masto"));
        assert_ne!(key("masto"), key("other"));
        assert_eq!(
            idempotency_key(Network::Bluesky, "hamnet", "sky", now).len(),
            13
        );
    }
}
