//! The social service's operator endpoints under `/admin/social/`: the
//! ledger with each post's state, and posting a skipped (back catalogue)
//! review on purpose.

use axum::Json;
use axum::extract::{Path, Query, State};
use marquee_admin::ErrorBody;
use marquee_admin::social::{PostStatus, PostsQuery, SocialPost};
use marquee_events::ReviewId;
use marquee_runtime::error::HttpError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::SocialService;
use crate::error::PostSkippedError;
use crate::handler::initial_status;
use crate::store::posts::{Entry, Status};

/// The routes and their description, before the service is attached.
fn api() -> OpenApiRouter<SocialService> {
    OpenApiRouter::new()
        .routes(routes!(posts))
        .routes(routes!(post_skipped))
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

impl From<Status> for PostStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Queued => Self::Queued,
            Status::Pending => Self::Pending,
            Status::Posted => Self::Posted,
            Status::Failed => Self::Failed,
            Status::DryRun => Self::DryRun,
            Status::Skipped => Self::Skipped,
        }
    }
}

impl From<PostStatus> for Status {
    fn from(status: PostStatus) -> Self {
        match status {
            PostStatus::Queued => Self::Queued,
            PostStatus::Pending => Self::Pending,
            PostStatus::Posted => Self::Posted,
            PostStatus::Failed => Self::Failed,
            PostStatus::DryRun => Self::DryRun,
            PostStatus::Skipped => Self::Skipped,
        }
    }
}

impl From<Entry> for SocialPost {
    fn from(entry: Entry) -> Self {
        Self {
            review_id: entry.review_id.to_string(),
            account: entry.account,
            network: entry.network.as_str().to_owned(),
            status: entry.status.into(),
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
    let entries = service
        .inner
        .store
        .list(query.status.map(Status::from), limit)
        .await?;
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
