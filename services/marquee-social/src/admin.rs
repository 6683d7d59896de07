//! The social service's operator endpoints under `/admin/social/`: the
//! ledger with each post's state, the accounts with their queues; posting a
//! skipped (back catalogue) review on purpose, cancelling a waiting post,
//! retrying a failed one, pausing and resuming an account; the fediverse
//! actors with their followers and deliveries, paused and resumed.

use axum::Json;
use axum::extract::{Path, Query, State};
use marquee_admin::ErrorBody;
use marquee_admin::social::{
    FediverseActor, PostCounts, PostStatus, PostsQuery, SocialAccount, SocialPost,
};
use marquee_events::ReviewId;
use marquee_runtime::error::HttpError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::SocialService;
use crate::error::{PostSkippedError, QueueError};
use crate::handler::initial_status;
use crate::store::posts::Entry;
use crate::worker::Account;

/// The routes and their description, before the service is attached.
fn api() -> OpenApiRouter<SocialService> {
    OpenApiRouter::new()
        .routes(routes!(posts))
        .routes(routes!(post_skipped))
        .routes(routes!(cancel_post))
        .routes(routes!(retry_post))
        .routes(routes!(accounts))
        .routes(routes!(account_posts))
        .routes(routes!(pause_account))
        .routes(routes!(resume_account))
        .routes(routes!(actors))
        .routes(routes!(pause_actor))
        .routes(routes!(resume_actor))
}

/// `/admin/social/…`.
pub(crate) fn router(service: SocialService) -> axum::Router {
    let (router, _) = api().with_state(service).split_for_parts();
    router
}

/// The social part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

impl From<Entry> for SocialPost {
    fn from(entry: Entry) -> Self {
        Self {
            review_id: entry.review_id.to_string(),
            account: entry.account,
            network: entry.network.as_str().to_owned(),
            status: entry.status,
            reason: entry.reason,
            text: entry.post.text,
            remote_url: entry.remote_url,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}

/// The ledger, newest first: every review's post on every account and
/// where it stands (back catalogue is `skipped`, with its reason).
#[utoipa::path(get, path = "/admin/social/posts", tag = "social",
    security(("bearer" = [])), params(PostsQuery),
    responses((status = 200, body = [SocialPost], description = "the posts")))]
async fn posts(
    State(service): State<SocialService>,
    Query(query): Query<PostsQuery>,
) -> Result<Json<Vec<SocialPost>>, HttpError> {
    let limit = query.limit.clamp(1, 500);
    let entries = service.inner.store.list(query.status, limit).await?;
    Ok(Json(entries.into_iter().map(SocialPost::from).collect()))
}

/// Posts a review skipped as back catalogue after all: its skipped posts
/// are queued (in a dry run, composed into the outbox), once.
#[utoipa::path(post, path = "/admin/social/posts/{review_id}/post", tag = "social",
    security(("bearer" = [])), params(("review_id" = String, Path)),
    responses((status = 200, body = [SocialPost], description = "the review's posts, now queued"),
        (status = 404, body = ErrorBody, description = "no post of this review in the ledger"),
        (status = 409, body = ErrorBody, description = "none of its posts is skipped")))]
async fn post_skipped(
    State(service): State<SocialService>,
    Path(review_id): Path<String>,
) -> Result<Json<Vec<SocialPost>>, HttpError> {
    let review_id =
        ReviewId::parse(&review_id).map_err(|_| PostSkippedError::Unknown(review_id.clone()))?;
    let store = &service.inner.store;
    let before = store.of_review(&review_id).await?;
    if before.is_empty() {
        return Err(PostSkippedError::Unknown(review_id.to_string()).into());
    }
    let status = initial_status(service.inner.settings.dry_run);
    let changed = store
        .post_skipped(&review_id, status, service.now())
        .await?;
    if changed == 0 {
        let states = before
            .iter()
            .map(|entry| format!("{} on {}", entry.status.as_str(), entry.account))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PostSkippedError::NotSkipped {
            review_id: review_id.to_string(),
            states,
        }
        .into());
    }
    tracing::info!(review_id = %review_id, posts = changed, status = status.as_str(), "An operator posts a skipped review on purpose");
    for account in &service.inner.accounts {
        account.wake.notify_one();
    }
    let after = store.of_review(&review_id).await?;
    Ok(Json(after.into_iter().map(SocialPost::from).collect()))
}

impl SocialService {
    /// The configured account `name`.
    fn account(&self, name: &str) -> Result<&Account, QueueError> {
        let accounts = &self.inner.accounts;
        accounts
            .iter()
            .find(|account| account.name() == name)
            .ok_or_else(|| QueueError::UnknownAccount {
                account: name.to_owned(),
                known: accounts
                    .iter()
                    .map(Account::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The ledger row of `review_id` on `account`.
    async fn entry(&self, review_id: &str, account: &str) -> Result<Entry, HttpError> {
        let unknown = || QueueError::UnknownPost {
            review_id: review_id.to_owned(),
            account: account.to_owned(),
        };
        let id = ReviewId::parse(review_id).map_err(|_| unknown())?;
        Ok(self
            .inner
            .store
            .get(&id, account)
            .await?
            .ok_or_else(unknown)?)
    }

    /// `account`'s queue as the API shows it.
    async fn account_report(&self, account: &Account) -> Result<SocialAccount, HttpError> {
        let store = &self.inner.store;
        let mut counts = PostCounts::default();
        for (name, status, count) in store.counts().await? {
            if name == account.name() {
                counts.add(status, count);
            }
        }
        Ok(SocialAccount {
            name: account.name().to_owned(),
            network: account.settings.network().as_str().to_owned(),
            paused_at: store.paused_at(account.name()).await?,
            counts,
            last_posted: store.last_posted(account.name()).await?,
        })
    }
}

/// Why a post in `status` cannot be cancelled, and what to do instead.
fn not_cancellable(status: PostStatus) -> &'static str {
    match status {
        PostStatus::Pending => {
            "it is being sent (pending) and may already be on the network; pause the account to hold the posts after it"
        }
        PostStatus::Posted => "it was posted already",
        PostStatus::DryRun => "it is in the dry-run outbox, which sends nothing",
        PostStatus::Failed => "it failed, so it goes out only if retried",
        PostStatus::Cancelled => "it is cancelled already",
        PostStatus::Queued | PostStatus::Skipped => "it changed meanwhile; look again",
    }
}

/// Why a post in `status` cannot be retried.
fn not_retryable(status: PostStatus) -> &'static str {
    match status {
        PostStatus::Cancelled => {
            "it was cancelled (by an operator, or its review was withdrawn) and stays so"
        }
        PostStatus::Queued | PostStatus::Pending => "it is waiting to be sent already",
        PostStatus::Posted => "it was posted already",
        PostStatus::DryRun => "it is in the dry-run outbox, which sends nothing",
        PostStatus::Skipped => {
            "it is back catalogue; post it on purpose instead (POST /admin/social/posts/{review_id}/post)"
        }
        PostStatus::Failed => "it changed meanwhile; look again",
    }
}

/// Cancels a post still waiting (`queued`, or `skipped` as back
/// catalogue): it is never sent. A `pending` post may already be on the
/// network and is refused.
#[utoipa::path(post, path = "/admin/social/posts/{review_id}/{account}/cancel", tag = "social",
    security(("bearer" = [])),
    params(("review_id" = String, Path), ("account" = String, Path)),
    responses((status = 200, body = SocialPost, description = "the post, now cancelled"),
        (status = 404, body = ErrorBody, description = "no such post"),
        (status = 409, body = ErrorBody, description = "the post is no longer waiting")))]
async fn cancel_post(
    State(service): State<SocialService>,
    Path((review_id, account)): Path<(String, String)>,
) -> Result<Json<SocialPost>, HttpError> {
    let entry = service.entry(&review_id, &account).await?;
    let cancelled = service
        .inner
        .store
        .cancel(
            &entry.review_id,
            &account,
            "cancelled by an operator",
            service.now(),
        )
        .await?;
    let after = service.entry(&review_id, &account).await?;
    if !cancelled {
        return Err(QueueError::NotCancellable {
            review_id,
            account,
            why: not_cancellable(after.status),
        }
        .into());
    }
    tracing::info!(review_id = %after.review_id, account, was = entry.status.as_str(), "An operator cancelled a post");
    Ok(Json(after.into()))
}

/// Queues a failed post again, due at once with a fresh count of
/// attempts (in a dry run, into the outbox).
#[utoipa::path(post, path = "/admin/social/posts/{review_id}/{account}/retry", tag = "social",
    security(("bearer" = [])),
    params(("review_id" = String, Path), ("account" = String, Path)),
    responses((status = 200, body = SocialPost, description = "the post, queued again"),
        (status = 404, body = ErrorBody, description = "no such post"),
        (status = 409, body = ErrorBody, description = "the post did not fail")))]
async fn retry_post(
    State(service): State<SocialService>,
    Path((review_id, account)): Path<(String, String)>,
) -> Result<Json<SocialPost>, HttpError> {
    let entry = service.entry(&review_id, &account).await?;
    let reason = format!(
        "retried by an operator; it had failed: {}",
        entry.reason.as_deref().unwrap_or("no reason recorded")
    );
    let status = initial_status(service.inner.settings.dry_run);
    let retried = service
        .inner
        .store
        .retry(&entry.review_id, &account, status, &reason, service.now())
        .await?;
    let after = service.entry(&review_id, &account).await?;
    if !retried {
        return Err(QueueError::NotRetryable {
            review_id,
            account,
            why: not_retryable(after.status),
        }
        .into());
    }
    tracing::info!(review_id = %after.review_id, account, status = status.as_str(), "An operator retries a failed post");
    if let Ok(worker) = service.account(&account) {
        worker.wake.notify_one();
    }
    Ok(Json(after.into()))
}

/// Every configured account: whether it is paused, and its posts by state.
#[utoipa::path(get, path = "/admin/social/accounts", tag = "social",
    security(("bearer" = [])),
    responses((status = 200, body = [SocialAccount], description = "the accounts, as configured")))]
async fn accounts(
    State(service): State<SocialService>,
) -> Result<Json<Vec<SocialAccount>>, HttpError> {
    let mut reports = Vec::with_capacity(service.inner.accounts.len());
    for account in &service.inner.accounts {
        reports.push(service.account_report(account).await?);
    }
    Ok(Json(reports))
}

/// One account's posts, newest first.
#[utoipa::path(get, path = "/admin/social/accounts/{account}/posts", tag = "social",
    security(("bearer" = [])), params(("account" = String, Path), PostsQuery),
    responses((status = 200, body = [SocialPost], description = "the account's posts"),
        (status = 404, body = ErrorBody, description = "no such account")))]
async fn account_posts(
    State(service): State<SocialService>,
    Path(account): Path<String>,
    Query(query): Query<PostsQuery>,
) -> Result<Json<Vec<SocialPost>>, HttpError> {
    let account = service.account(&account)?;
    let entries = service
        .inner
        .store
        .list_of(
            Some(account.name()),
            query.status,
            query.limit.clamp(1, 500),
        )
        .await?;
    Ok(Json(entries.into_iter().map(SocialPost::from).collect()))
}

/// Pauses an account: its worker sends nothing more (a post already in
/// flight finishes) until resumed; new reviews still queue for it.
#[utoipa::path(post, path = "/admin/social/accounts/{account}/pause", tag = "social",
    security(("bearer" = [])), params(("account" = String, Path)),
    responses((status = 200, body = SocialAccount, description = "the account, paused"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 409, body = ErrorBody, description = "paused already")))]
async fn pause_account(
    State(service): State<SocialService>,
    Path(account): Path<String>,
) -> Result<Json<SocialAccount>, HttpError> {
    let account = service.account(&account)?;
    let store = &service.inner.store;
    if !store.pause(account.name(), service.now()).await? {
        let since = store
            .paused_at(account.name())
            .await?
            .map_or_else(|| "a moment ago".to_owned(), |at| at.to_rfc3339());
        return Err(QueueError::AlreadyPaused {
            account: account.name().to_owned(),
            since,
        }
        .into());
    }
    tracing::info!(
        account = account.name(),
        "An operator paused a social account"
    );
    Ok(Json(service.account_report(account).await?))
}

/// Resumes a paused account: what queued meanwhile goes out, paced as usual.
#[utoipa::path(post, path = "/admin/social/accounts/{account}/resume", tag = "social",
    security(("bearer" = [])), params(("account" = String, Path)),
    responses((status = 200, body = SocialAccount, description = "the account, sending again"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 409, body = ErrorBody, description = "not paused")))]
async fn resume_account(
    State(service): State<SocialService>,
    Path(account): Path<String>,
) -> Result<Json<SocialAccount>, HttpError> {
    let account = service.account(&account)?;
    if !service.inner.store.resume(account.name()).await? {
        return Err(QueueError::NotPaused(account.name().to_owned()).into());
    }
    tracing::info!(
        account = account.name(),
        "An operator resumed a social account"
    );
    account.wake.notify_one();
    Ok(Json(service.account_report(account).await?))
}

/// The publication's fediverse actors: followers, deliveries by state, and
/// whether an operator paused them (none unless configured).
#[utoipa::path(get, path = "/admin/social/actors", tag = "social",
    security(("bearer" = [])),
    responses((status = 200, body = [FediverseActor], description = "the actors, as configured")))]
async fn actors(
    State(service): State<SocialService>,
) -> Result<Json<Vec<FediverseActor>>, HttpError> {
    let Some(fediverse) = &service.inner.fediverse else {
        return Ok(Json(Vec::new()));
    };
    Ok(Json(fediverse.report(&service.inner.store).await?))
}

/// Pauses an actor's deliveries: activities still queue, nothing is sent
/// until resumed; follows are still answered once it is.
#[utoipa::path(post, path = "/admin/social/actors/{actor}/pause", tag = "social",
    security(("bearer" = [])), params(("actor" = String, Path)),
    responses((status = 200, body = FediverseActor, description = "the actor, paused"),
        (status = 404, body = ErrorBody, description = "no such actor"),
        (status = 409, body = ErrorBody, description = "paused already")))]
async fn pause_actor(
    State(service): State<SocialService>,
    Path(actor): Path<String>,
) -> Result<Json<FediverseActor>, HttpError> {
    set_actor_paused(&service, &actor, true).await
}

/// Resumes an actor's deliveries: what queued meanwhile goes out.
#[utoipa::path(post, path = "/admin/social/actors/{actor}/resume", tag = "social",
    security(("bearer" = [])), params(("actor" = String, Path)),
    responses((status = 200, body = FediverseActor, description = "the actor, delivering again"),
        (status = 404, body = ErrorBody, description = "no such actor"),
        (status = 409, body = ErrorBody, description = "not paused")))]
async fn resume_actor(
    State(service): State<SocialService>,
    Path(actor): Path<String>,
) -> Result<Json<FediverseActor>, HttpError> {
    set_actor_paused(&service, &actor, false).await
}

async fn set_actor_paused(
    service: &SocialService,
    actor: &str,
    paused: bool,
) -> Result<Json<FediverseActor>, HttpError> {
    let fediverse = service.inner.fediverse.as_ref().ok_or_else(|| {
        HttpError::not_found(format!(
            "there is no fediverse actor {actor}: none is configured ([social.fediverse])"
        ))
    })?;
    Ok(Json(
        fediverse.pause(&service.inner.store, actor, paused).await?,
    ))
}
