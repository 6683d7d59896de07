//! What a review event means for the social accounts, decided without I/O:
//! post it, cancel what is still queued, or leave it; whether a new review
//! is back catalogue; and the post each account records. The consumer
//! ([`crate::consumer`]) writes the ledger.

use chrono::{DateTime, Utc};
use marquee_events::{Review, ReviewEvent, ReviewId};
use uuid::Uuid;

use crate::compose::{ComposeError, Network};
use crate::network::tid;
use crate::store::posts::{NewPost, PostStatus};
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

/// How long before a source's first sighting a review may have been
/// published and still be new to it: a CMS's webhook arrives seconds after
/// it publishes, and a poll minutes after, so the first review of a pushed
/// source is never taken for back catalogue.
const FIRST_SIGHT_SLACK: chrono::Duration = chrono::Duration::minutes(10);

/// Why `review` is back catalogue, if it is: published before its source
/// was first seen (`source_first_seen`, less [`FIRST_SIGHT_SLACK`]), or
/// older than `max_age` when first seen `now`. Both instants are the
/// service's own, so a consumer attached late to a topic with years of
/// events skips them all.
pub(crate) fn back_catalogue(
    review: &Review,
    source_first_seen: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
) -> Option<String> {
    let published = review.published_at;
    let stamp = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    if published < source_first_seen - FIRST_SIGHT_SLACK {
        Some(format!(
            "back catalogue: published {}, before its source was first seen ({})",
            stamp(published),
            stamp(source_first_seen)
        ))
    } else if now - published > max_age {
        Some(format!(
            "back catalogue: published {}, more than {} h before it was first seen",
            stamp(published),
            max_age.num_hours()
        ))
    } else {
        None
    }
}

/// How a new post is recorded: in the outbox in a dry run, else queued.
pub(crate) fn initial_status(dry_run: bool) -> PostStatus {
    if dry_run {
        PostStatus::DryRun
    } else {
        PostStatus::Queued
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
        assert_eq!(initial_status(true), PostStatus::DryRun);
        assert_eq!(initial_status(false), PostStatus::Queued);
    }

    #[test]
    fn back_catalogue_is_what_predates_its_source_or_the_max_age() {
        let at = |minutes| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minutes);
        let day = chrono::Duration::hours(24);
        let mut review = crate::sample_review().expect("a sample");
        let first_seen = at(60 * 24 * 10);
        review.published_at = first_seen - chrono::Duration::hours(1);
        let reason = back_catalogue(&review, first_seen, first_seen, day * 2).expect("skipped");
        assert!(reason.starts_with("back catalogue: "), "{reason}");
        assert!(
            reason.contains("before its source was first seen"),
            "{reason}"
        );
        // Published minutes before the first sighting: a pushed source's first review.
        review.published_at = first_seen - chrono::Duration::minutes(2);
        assert_eq!(
            back_catalogue(&review, first_seen, first_seen, day * 2),
            None
        );
        // A known source, a review three days old on arrival.
        let now = first_seen + day * 4;
        review.published_at = now - day * 3;
        let reason = back_catalogue(&review, first_seen, now, day * 2).expect("too old");
        assert!(reason.contains("more than 48 h"), "{reason}");
        review.published_at = now - day;
        assert_eq!(back_catalogue(&review, first_seen, now, day * 2), None);
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
