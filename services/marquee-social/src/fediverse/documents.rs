//! The ActivityStreams documents the actors serve and send, built without
//! I/O: actor, WebFinger and NodeInfo answers, a review's `Note`, the
//! activities about it and the paged collections.
//!
//! A review is a `Note`, not an `Article`: Mastodon (to 4.3) shows an
//! `Article` as its title and a link only, while it shows a `Note`'s
//! content whole — the headline, rating and standfirst, with the link
//! under them as a preview card. `summary` stays empty: Mastodon shows it
//! as a content warning hiding the post.

use marquee_events::Review;
use marquee_runtime::html::escape;
use serde_json::{Value, json};
use url::Url;

use super::Actor;
use crate::compose::stars;

/// The ActivityStreams context, with the security vocabulary for keys.
const CONTEXT: [&str; 2] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
];

/// The audience of every post.
pub(crate) const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The content type of every document.
pub(crate) const ACTIVITY_JSON: &str = "application/activity+json";

/// Items per page of the outbox and followers collections.
pub(crate) const PAGE_SIZE: i64 = 20;

/// The actor document: an `Organization`, the publication itself.
pub(crate) fn actor(actor: &Actor, site: &Url) -> Value {
    let mut document = json!({
        "@context": CONTEXT,
        "id": actor.id,
        "type": "Organization",
        "preferredUsername": actor.settings.name,
        "name": actor.settings.display_name,
        "summary": format!("<p>{}</p>", escape(&actor.settings.summary)),
        "url": site,
        "inbox": actor.inbox(),
        "outbox": actor.outbox(),
        "followers": actor.followers(),
        "endpoints": { "sharedInbox": actor.shared_inbox() },
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "publicKey": {
            "id": actor.key_id(),
            "owner": actor.id,
            "publicKeyPem": actor.public_pem,
        },
    });
    if let Some(icon) = &actor.settings.icon {
        document["icon"] = json!({ "type": "Image", "url": icon });
    }
    document
}

/// The WebFinger answer (RFC 7033) for `acct:NAME@HOST`.
pub(crate) fn webfinger(actor: &Actor, handle: &str, site: &Url) -> Value {
    json!({
        "subject": format!("acct:{handle}"),
        "aliases": [actor.id],
        "links": [
            { "rel": "self", "type": ACTIVITY_JSON, "href": actor.id },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": site },
        ],
    })
}

/// `/.well-known/nodeinfo`: where the NodeInfo document is.
pub(crate) fn nodeinfo_links(base: &Url) -> Value {
    json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": join(base, "nodeinfo/2.1"),
        }],
    })
}

/// NodeInfo 2.1: what this server is, its actors and posts.
pub(crate) fn nodeinfo(actors: usize, posts: i64) -> Value {
    json!({
        "version": "2.1",
        "software": {
            "name": "marquee",
            "version": env!("CARGO_PKG_VERSION"),
            "homepage": "https://github.com/marquee",
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
        "openRegistrations": false,
        "usage": { "users": { "total": actors }, "localPosts": posts },
        "metadata": {},
    })
}

/// The `Note` of `review` by `actor`.
pub(crate) fn note(actor: &Actor, review: &Review) -> Value {
    let mut headline = format!("<strong>{}</strong>", escape(&review.headline));
    if let Some(rating) = review.rating {
        headline = format!("{headline} {}", stars(rating.stars()));
    }
    let mut content = format!("<p>{headline}</p>");
    if !review.standfirst.is_empty() {
        content += &format!("<p>{}</p>", escape(&review.standfirst));
    }
    let link = escape(review.url.as_str());
    content += &format!(r#"<p><a href="{link}">{link}</a></p>"#);
    let hashtags = &actor.settings.hashtags;
    if !hashtags.is_empty() {
        let tags: Vec<String> = hashtags.iter().map(|t| format!("#{}", escape(t))).collect();
        content += &format!("<p>{}</p>", tags.join(" "));
    }
    let mut note = json!({
        "@context": CONTEXT,
        "id": actor.object_id(&review.id),
        "type": "Note",
        "attributedTo": actor.id,
        "published": review.published_at.to_rfc3339(),
        "url": review.url,
        "to": [PUBLIC],
        "cc": [actor.followers()],
        "content": content,
        "tag": hashtags.iter().map(|t| json!({ "type": "Hashtag", "name": format!("#{t}") })).collect::<Vec<_>>(),
    });
    if review.updated_at > review.published_at {
        note["updated"] = json!(review.updated_at.to_rfc3339());
    }
    if let Some(image) = &review.image {
        note["attachment"] = json!([{
            "type": "Image",
            "url": image.url,
            "name": image.alt.clone().unwrap_or_default(),
        }]);
    }
    note
}

/// A `Create`, `Update` or `Delete` of `object` by `actor`, addressed as
/// posts are.
pub(crate) fn activity(actor: &Actor, kind: &str, id: &str, object: Value) -> Value {
    json!({
        "@context": CONTEXT,
        "id": id,
        "type": kind,
        "actor": actor.id,
        "to": [PUBLIC],
        "cc": [actor.followers()],
        "object": without_context(object),
    })
}

/// What a deleted review's object becomes.
pub(crate) fn tombstone(id: &str) -> Value {
    json!({ "id": id, "type": "Tombstone", "formerType": "Note" })
}

/// The `Accept` of `follow` (the received activity, as sent).
pub(crate) fn accept(actor: &Actor, id: &str, follow: &Value) -> Value {
    json!({
        "@context": CONTEXT,
        "id": id,
        "type": "Accept",
        "actor": actor.id,
        "object": without_context(follow.clone()),
    })
}

/// An `OrderedCollection` of `total` items paged at `url?page=N`, or its
/// page `page` holding `items`.
pub(crate) fn collection(url: &Url, total: i64, page: Option<(i64, Vec<Value>)>) -> Value {
    let page_url = |n: i64| format!("{url}?page={n}");
    let Some((n, items)) = page else {
        return json!({
            "@context": CONTEXT[0],
            "id": url,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": page_url(1),
            "last": page_url(((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)),
        });
    };
    let mut document = json!({
        "@context": CONTEXT[0],
        "id": page_url(n),
        "type": "OrderedCollectionPage",
        "partOf": url,
        "totalItems": total,
        "orderedItems": items,
    });
    if n > 1 {
        document["prev"] = json!(page_url(n - 1));
    }
    if n * PAGE_SIZE < total {
        document["next"] = json!(page_url(n + 1));
    }
    document
}

/// An embedded object (or a collection's item) carries no `@context` of
/// its own.
pub(crate) fn without_context(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("@context");
    }
    object
}

/// `path` under `base`, which is a directory URL.
pub(crate) fn join(base: &Url, path: &str) -> Url {
    base.join(path).unwrap_or_else(|_| base.clone())
}
