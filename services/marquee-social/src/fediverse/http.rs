//! The fediverse routes: WebFinger, NodeInfo, the actors, their
//! collections and objects (`application/activity+json`), and the inboxes.
//! Behind a proxy they need the request's path and `Host` passed on as the
//! peer sent them: both are signed.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use marquee_runtime::error::HttpError;
use serde::Deserialize;
use serde_json::Value;

use super::documents::{self, ACTIVITY_JSON, PAGE_SIZE};
use super::inbox::{MAX_ACTIVITY_BYTES, Received, Refusal};
use super::{Actor, Fediverse};
use crate::SocialService;
use crate::error::StoreError;

pub(crate) fn router(service: SocialService) -> Router {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/actors/{name}", get(actor))
        .route("/actors/{name}/outbox", get(outbox))
        .route("/actors/{name}/followers", get(followers))
        .route("/actors/{name}/reviews/{key}", get(object))
        .route("/actors/{name}/reviews/{key}/{*activity}", get(activity))
        .route("/actors/{name}/inbox", post(actor_inbox))
        .route("/inbox", post(shared_inbox))
        .with_state(service)
}

/// A document as `Content-Type` says.
fn document(content_type: &'static str, status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn activity_json(body: &Value) -> Response {
    document(ACTIVITY_JSON, StatusCode::OK, body)
}

fn fediverse(service: &SocialService) -> Result<&Fediverse, HttpError> {
    service
        .inner
        .fediverse
        .as_ref()
        .ok_or_else(|| HttpError::not_found("this server has no fediverse actors"))
}

fn actor_named<'a>(fediverse: &'a Fediverse, name: &str) -> Result<&'a Actor, HttpError> {
    fediverse
        .actor(name)
        .ok_or_else(|| HttpError::not_found(format!("there is no actor {name} here")))
}

#[derive(Deserialize)]
struct Resource {
    resource: Option<String>,
}

/// `?resource=acct:NAME@HOST` (or the actor's URL).
async fn webfinger(
    State(service): State<SocialService>,
    Query(query): Query<Resource>,
) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    let resource = query
        .resource
        .ok_or_else(|| HttpError::bad_request("give the account as ?resource=acct:NAME@HOST"))?;
    let host = fediverse.host();
    let actor = fediverse.actors.iter().find(|actor| {
        let handle = format!("{}@{host}", actor.settings.name);
        resource.strip_prefix("acct:") == Some(handle.as_str()) || resource == actor.id.as_str()
    });
    let actor = actor.ok_or_else(|| {
        HttpError::not_found(format!(
            "no account {resource} here; the accounts are {}",
            fediverse
                .actors
                .iter()
                .map(|a| format!("acct:{}@{host}", a.settings.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let handle = format!("{}@{host}", actor.settings.name);
    let body = documents::webfinger(actor, &handle, &fediverse.base);
    Ok(document("application/jrd+json", StatusCode::OK, &body))
}

async fn nodeinfo_links(State(service): State<SocialService>) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    Ok(document(
        "application/json",
        StatusCode::OK,
        &documents::nodeinfo_links(&fediverse.base),
    ))
}

async fn nodeinfo(State(service): State<SocialService>) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    let mut posts = 0;
    for actor in &fediverse.actors {
        posts += service
            .inner
            .store
            .outbox_count(&actor.settings.name)
            .await?;
    }
    Ok(document(
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        StatusCode::OK,
        &documents::nodeinfo(fediverse.actors.len(), posts),
    ))
}

async fn actor(
    State(service): State<SocialService>,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    let actor = actor_named(fediverse, &name)?;
    Ok(activity_json(&documents::actor(actor, &fediverse.base)))
}

#[derive(Deserialize)]
struct Page {
    page: Option<i64>,
}

async fn outbox(
    State(service): State<SocialService>,
    Path(name): Path<String>,
    Query(query): Query<Page>,
) -> Result<Response, HttpError> {
    let actor = actor_named(fediverse(&service)?, &name)?;
    let store = &service.inner.store;
    let total = store.outbox_count(&name).await?;
    collection(&actor.outbox(), total, query.page, |offset| async move {
        let documents = store.outbox(&name, offset, PAGE_SIZE).await?;
        Ok(documents
            .iter()
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .map(documents::without_context)
            .collect())
    })
    .await
}

async fn followers(
    State(service): State<SocialService>,
    Path(name): Path<String>,
    Query(query): Query<Page>,
) -> Result<Response, HttpError> {
    let actor = actor_named(fediverse(&service)?, &name)?;
    let store = &service.inner.store;
    let total = store.follower_count(&name).await?;
    collection(&actor.followers(), total, query.page, |offset| async move {
        let ids = store.followers(&name, offset, PAGE_SIZE).await?;
        Ok(ids.into_iter().map(Value::String).collect())
    })
    .await
}

/// The collection at `url` of `total` items, or its page `page` (from 1)
/// holding what `items` reads from an offset.
async fn collection<F, Fut>(
    url: &str,
    total: i64,
    page: Option<i64>,
    items: F,
) -> Result<Response, HttpError>
where
    F: FnOnce(i64) -> Fut,
    Fut: Future<Output = Result<Vec<Value>, StoreError>>,
{
    let page = match page {
        Some(n) if n < 1 => {
            return Err(HttpError::bad_request(format!(
                "page {n} does not exist: pages count from 1"
            )));
        }
        Some(n) => Some((n, items((n - 1) * PAGE_SIZE).await?)),
        None => None,
    };
    let url = url::Url::parse(url).map_err(|e| HttpError::internal(&e.into()))?;
    Ok(activity_json(&documents::collection(&url, total, page)))
}

/// A review's `Note` as last published, or its `Tombstone` (410).
async fn object(
    State(service): State<SocialService>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    let actor = actor_named(fediverse, &name)?;
    let id = actor.path(&format!("reviews/{key}"));
    let missing = || HttpError::not_found(format!("actor {name} has published no review {key}"));
    let (kind, activity) = service
        .inner
        .store
        .latest_about(&id)
        .await?
        .ok_or_else(missing)?;
    let activity: Value =
        serde_json::from_str(&activity).map_err(|e| HttpError::internal(&e.into()))?;
    let mut object = activity["object"].clone();
    object["@context"] = activity["@context"].clone();
    let status = if kind == "Delete" {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    Ok(document(ACTIVITY_JSON, status, &object))
}

/// An activity about a review, as delivered.
async fn activity(
    State(service): State<SocialService>,
    Path((name, key, tail)): Path<(String, String, String)>,
) -> Result<Response, HttpError> {
    let fediverse = fediverse(&service)?;
    let actor = actor_named(fediverse, &name)?;
    let id = actor.path(&format!("reviews/{key}/{tail}"));
    let found = service.inner.store.activity(&id).await?;
    let found = found.ok_or_else(|| HttpError::not_found(format!("there is no activity {id}")))?;
    let found: Value = serde_json::from_str(&found).map_err(|e| HttpError::internal(&e.into()))?;
    Ok(activity_json(&found))
}

async fn actor_inbox(
    State(service): State<SocialService>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, HttpError> {
    receive(&service, Some(&name), &uri, &headers, body).await
}

async fn shared_inbox(
    State(service): State<SocialService>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, HttpError> {
    receive(&service, None, &uri, &headers, body).await
}

/// Reads at most [`MAX_ACTIVITY_BYTES`], hands the request to the inbox,
/// and logs and counts a refusal with its reason.
async fn receive(
    service: &SocialService,
    inbox_of: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, HttpError> {
    let fediverse = fediverse(service)?;
    let received = match axum::body::to_bytes(body, MAX_ACTIVITY_BYTES).await {
        Ok(body) => Ok(body),
        Err(_) => Err(Refusal::TooLarge),
    };
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let outcome = match received {
        Ok(body) => {
            let body: Bytes = body;
            let request = Received {
                target,
                headers,
                body: &body,
            };
            fediverse
                .receive(&service.inner.store, inbox_of, request, service.now())
                .await
        }
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok(()) => Ok(StatusCode::ACCEPTED),
        Err(refusal) => {
            let kind = refusal.kind();
            tracing::warn!(inbox = target, reason = %refusal, kind, "Fediverse inbox refused a request");
            metrics::counter!("marquee_fediverse_inbox_refused_total", "reason" => kind)
                .increment(1);
            Err(refusal.into())
        }
    }
}
