//! `/console/social`: each social account's queue with pause/resume, the
//! fediverse actors' followers and deliveries with pause/resume, and the
//! posts with the reason for each state, filtered by account and state; a
//! waiting post cancelled, a failed one retried, a skipped one posted on
//! purpose. The API decides and refuses; this page shows its answer.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, Response};
use marquee_admin::social::{
    DeliveryCounts, FediverseActor, PostStatus, PostsQuery, SocialAccount, SocialPost,
};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, Toggle, back, instant, render};
use crate::session::Session;
use crate::{Console, encode};

const PAGE: &str = "/console/social";
const ACTORS: &str = "/admin/social/actors";
/// Most posts the page lists, newest first.
const POSTS_SHOWN: i64 = 200;

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    accounts: Vec<AccountRow>,
    actors: Vec<ActorRow>,
    statuses: Vec<&'static str>,
    filter: Filter,
    posts: Vec<PostRow>,
}

#[derive(Serialize)]
struct AccountRow {
    name: String,
    /// This page showing only its posts.
    link: String,
    network: String,
    state: String,
    counts: marquee_admin::social::PostCounts,
    last_posted: String,
    /// `pause` for a sending account, `resume` for a paused one.
    action: Toggle,
}

impl From<SocialAccount> for AccountRow {
    fn from(account: SocialAccount) -> Self {
        let (state, action) = match account.paused_at {
            Some(at) => (format!("paused since {}", instant(at)), Toggle::Resume),
            None => ("sending".to_owned(), Toggle::Pause),
        };
        Self {
            link: format!("{PAGE}?account={}", encode(&account.name)),
            name: account.name,
            network: account.network,
            state,
            counts: account.counts,
            last_posted: account
                .last_posted
                .map_or_else(|| "never".to_owned(), instant),
            action,
        }
    }
}

#[derive(Serialize)]
struct ActorRow {
    name: String,
    handle: String,
    followers: i64,
    deliveries: DeliveryCounts,
    state: &'static str,
    /// `pause` for a delivering actor, `resume` for a paused one.
    action: Toggle,
}

impl From<FediverseActor> for ActorRow {
    fn from(actor: FediverseActor) -> Self {
        let (state, action) = if actor.paused {
            ("paused", Toggle::Resume)
        } else {
            ("delivering", Toggle::Pause)
        };
        Self {
            name: actor.name,
            handle: actor.handle,
            followers: actor.followers,
            deliveries: actor.deliveries,
            state,
            action,
        }
    }
}

#[derive(Serialize)]
struct PostRow {
    review_id: String,
    account: String,
    status: &'static str,
    updated: String,
    reason: String,
    text: String,
    remote_url: String,
    cancel: bool,
    retry: bool,
    post: bool,
}

impl From<SocialPost> for PostRow {
    fn from(post: SocialPost) -> Self {
        Self {
            cancel: matches!(post.status, PostStatus::Queued | PostStatus::Skipped),
            retry: post.status == PostStatus::Failed,
            post: post.status == PostStatus::Skipped,
            review_id: post.review_id,
            account: post.account,
            status: post.status.as_str(),
            updated: instant(post.updated_at),
            reason: post.reason.unwrap_or_default(),
            text: post.text,
            remote_url: post.remote_url.unwrap_or_default(),
        }
    }
}

/// The page's filter; empty fields (the "all" choices) filter nothing.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Filter {
    #[serde(default)]
    account: String,
    #[serde(default)]
    status: String,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(flash): Query<Flash>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, PageError> {
    let status = match filter.status.as_str() {
        "" => None,
        text => Some(
            text.parse::<PostStatus>()
                .map_err(marquee_runtime::error::HttpError::bad_request)?,
        ),
    };
    let query = PostsQuery {
        status,
        limit: POSTS_SHOWN,
    };
    let posts_path = match filter.account.as_str() {
        "" => "/admin/social/posts".to_owned(),
        account => format!("/admin/social/accounts/{}/posts", encode(account)),
    };
    let (accounts, actors, posts) = tokio::join!(
        api.get::<Vec<SocialAccount>>("/admin/social/accounts"),
        api.get::<Vec<FediverseActor>>(ACTORS),
        api.get_with::<Vec<SocialPost>>(&posts_path, &query),
    );
    let view = View {
        title: "Social queue",
        flash,
        accounts: accounts?.into_iter().map(AccountRow::from).collect(),
        actors: actors?.into_iter().map(ActorRow::from).collect(),
        statuses: PostStatus::ALL.iter().map(|s| s.as_str()).collect(),
        filter,
        posts: posts?.into_iter().map(PostRow::from).collect(),
    };
    render(&console, "social.html", &view)
}

#[derive(Deserialize)]
pub(crate) struct AccountForm {
    account: String,
    action: Toggle,
}

pub(crate) async fn toggle(Session(api): Session, Form(form): Form<AccountForm>) -> Response {
    let path = form.action.path("/admin/social/accounts", &form.account);
    let outcome = api
        .post::<SocialAccount>(&path)
        .await
        .map(|account| match account.paused_at {
            Some(_) => format!("account {}: paused", account.name),
            None => format!("account {}: sending", account.name),
        });
    back(PAGE, outcome)
}

#[derive(Deserialize)]
pub(crate) struct ActorForm {
    actor: String,
    action: Toggle,
}

pub(crate) async fn toggle_actor(Session(api): Session, Form(form): Form<ActorForm>) -> Response {
    let outcome = api
        .post::<FediverseActor>(&form.action.path(ACTORS, &form.actor))
        .await
        .map(|actor| {
            let state = if actor.paused { "paused" } else { "delivering" };
            format!("actor {}: {state}", actor.name)
        });
    back(PAGE, outcome)
}

/// What to do to one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PostAction {
    /// Never send it.
    Cancel,
    /// Queue a failed one again.
    Retry,
    /// Post a skipped review (on every account) on purpose.
    Post,
}

#[derive(Deserialize)]
pub(crate) struct PostForm {
    review_id: String,
    account: String,
    action: PostAction,
}

pub(crate) async fn act(Session(api): Session, Form(form): Form<PostForm>) -> Response {
    let review = encode(&form.review_id);
    let on = |verb: &str| {
        format!(
            "/admin/social/posts/{review}/{}/{verb}",
            encode(&form.account)
        )
    };
    let outcome = match form.action {
        PostAction::Cancel => api.post::<SocialPost>(&on("cancel")).await.map(|post| {
            format!(
                "post of {} on {}: {}",
                post.review_id, post.account, post.status
            )
        }),
        PostAction::Retry => api.post::<SocialPost>(&on("retry")).await.map(|post| {
            format!(
                "post of {} on {}: {}",
                post.review_id, post.account, post.status
            )
        }),
        PostAction::Post => api
            .post::<Vec<SocialPost>>(&format!("/admin/social/posts/{review}/post"))
            .await
            .map(|posts| {
                let states = posts
                    .iter()
                    .map(|post| format!("{} on {}", post.status, post.account))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("review {}: {states}", form.review_id)
            }),
    };
    back(PAGE, outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, Utc};
    use marquee_admin::social::PostCounts;

    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn post(status: PostStatus) -> SocialPost {
        SocialPost {
            review_id: "hamnet".to_owned(),
            account: "the hook".to_owned(),
            network: "webhook".to_owned(),
            status,
            reason: Some("HTTP 422: <refused>".to_owned()),
            text: "Hamnet ★★★★".to_owned(),
            remote_url: None,
            created_at: at(),
            updated_at: at(),
        }
    }

    fn page(
        accounts: Vec<SocialAccount>,
        actors: Vec<FediverseActor>,
        posts: Vec<SocialPost>,
    ) -> String {
        let view = View {
            title: "Social queue",
            flash: Flash::default(),
            accounts: accounts.into_iter().map(AccountRow::from).collect(),
            actors: actors.into_iter().map(ActorRow::from).collect(),
            statuses: PostStatus::ALL.iter().map(|s| s.as_str()).collect(),
            filter: Filter {
                account: "the hook".to_owned(),
                status: String::new(),
            },
            posts: posts.into_iter().map(PostRow::from).collect(),
        };
        super::super::templates()
            .get_template("social.html")
            .unwrap()
            .render(&view)
            .unwrap()
    }

    #[test]
    fn an_account_and_its_posts_show_their_state_and_the_actions_it_allows() {
        let mut counts = PostCounts::default();
        counts.add(PostStatus::Failed, 2);
        let paused = SocialAccount {
            name: "the hook".to_owned(),
            network: "webhook".to_owned(),
            paused_at: Some(at()),
            counts,
            last_posted: None,
        };
        let html = page(vec![paused], Vec::new(), vec![post(PostStatus::Failed)]);
        for cell in [
            r#"<a href="/console/social?account=the+hook">the hook</a>"#,
            r#"<td class="state">paused since 2026-11-26 08:30 UTC</td>"#,
            r#"<td class="failed">2</td>"#,
            r#"<td class="last-posted">never</td>"#,
            r#"<button name="action" value="resume">Resume</button>"#,
            r#"<td class="reason muted">HTTP 422: &lt;refused&gt;</td>"#,
            r#"<button name="action" value="retry">Retry</button>"#,
            "<option selected>the hook</option>",
        ] {
            assert!(html.contains(cell), "{cell} missing from {html}");
        }
        assert!(!html.contains(r#"value="cancel""#), "{html}");

        let skipped = page(Vec::new(), Vec::new(), vec![post(PostStatus::Skipped)]);
        assert!(
            skipped.contains(r#"value="post">Post</button>"#),
            "{skipped}"
        );
        assert!(skipped.contains(r#"value="cancel""#), "{skipped}");
        assert!(skipped.contains("No social accounts are configured."));
        assert!(skipped.contains("No fediverse actors are configured."));
        let posted = page(Vec::new(), Vec::new(), vec![post(PostStatus::Posted)]);
        assert!(!posted.contains("/console/social/posts"), "{posted}");
    }

    #[test]
    fn a_paused_actor_shows_its_deliveries_and_offers_resume() {
        let actor = FediverseActor {
            name: "reviews".to_owned(),
            handle: "reviews@films.example".to_owned(),
            id: "https://films.example/fediverse/reviews".to_owned(),
            followers: 3,
            deliveries: DeliveryCounts {
                pending: 4,
                delivered: 5,
                failed: 1,
            },
            paused: true,
        };
        let html = page(Vec::new(), vec![actor], Vec::new());
        for cell in [
            r#"<tr data-actor="reviews">"#,
            r#"<td class="handle">reviews@films.example</td>"#,
            r#"<td class="followers">3</td>"#,
            r#"<td class="pending">4</td>"#,
            r#"<td class="delivered">5</td>"#,
            r#"<td class="failed">1</td>"#,
            r#"<td class="state">paused</td>"#,
            r#"<input type="hidden" name="actor" value="reviews">"#,
            r#"<button name="action" value="resume">Resume</button>"#,
        ] {
            assert!(html.contains(cell), "{cell} missing from {html}");
        }
        assert!(!html.contains("No fediverse actors"), "{html}");
    }
}
