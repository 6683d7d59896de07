//! Making untrusted upstream text safe to put in an event: HTML through
//! ammonia, plain-text fields stripped of markup, URLs stripped of tracking.

use ammonia::{Builder, UrlRelative};
use scraper::{ElementRef, Html, Node};
use url::Url;

/// Query parameters that say who clicked, not what was linked.
const TRACKING_PARAMS: [&str; 10] = [
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "_ga", "ref_src",
];

/// Sanitized HTML: no scripts, styles, event handlers or `javascript:` URLs;
/// basic formatting and links kept, links opened with `rel="noopener noreferrer"`.
/// Relative links resolve against `base`; tracking parameters are dropped.
pub(crate) fn sanitize_html(html: &str, base: &Url) -> String {
    let mut builder = Builder::default();
    builder
        .link_rel(Some("noopener noreferrer"))
        .url_relative(UrlRelative::RewriteWithBase(base.clone()))
        .attribute_filter({
            // Resolved here, before ammonia's own rewriting, so relative
            // links lose their tracking parameters too.
            let base = base.clone();
            move |_, attribute, value| {
                if matches!(attribute, "href" | "src")
                    && let Ok(url) = base.join(value)
                    && matches!(url.scheme(), "http" | "https")
                {
                    return Some(strip_tracking(url).to_string().into());
                }
                Some(value.into())
            }
        });
    builder.clean(html).to_string()
}

/// The text of an HTML fragment: tags stripped, entities decoded, script and
/// style contents dropped, whitespace collapsed.
pub(crate) fn plain_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    let fragment = Html::parse_fragment(html);
    let mut text = String::new();
    push_text(fragment.root_element(), &mut text);
    collapse_whitespace(&text)
}

/// Appends the readable text under `element`.
pub(crate) fn push_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e)
                if matches!(e.name(), "script" | "style" | "noscript" | "template") => {}
            Node::Element(e) => {
                let block = is_block(e.name());
                if block {
                    out.push(' ');
                }
                if let Some(child) = ElementRef::wrap(child) {
                    push_text(child, out);
                }
                if block {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "br" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "tr"
    )
}

/// Runs of whitespace become one space; ends trimmed.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `url` without `utm_*` and click-id parameters, so that the same article
/// shared through a campaign link keeps one identity.
pub(crate) fn strip_tracking(mut url: Url) -> Url {
    if url.query().is_none() {
        return url;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            !key.starts_with("utm_") && !TRACKING_PARAMS.contains(&key.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

/// HTML normalized for change detection: whitespace runs collapsed and
/// whitespace between tags dropped, so re-indented markup hashes the same.
pub(crate) fn normalize_html(html: &str) -> String {
    collapse_whitespace(html)
        .replace("> ", ">")
        .replace(" <", "<")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/reviews/x").unwrap()
    }

    #[test]
    fn hostile_html_is_defused() {
        let dirty = r#"<p onclick="steal()">Hi <script>alert(1)</script><style>p{}</style>
            <a href="javascript:alert(1)">x</a> <img src="a.jpg" onerror="steal()">
            <a href="/other?utm_source=x&id=3">rel</a><b>unclosed"#;
        let clean = sanitize_html(dirty, &base());
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("onerror"), "{clean}");
        assert!(!clean.contains("javascript:"), "{clean}");
        assert!(!clean.contains("p{}"), "{clean}");
        assert!(
            clean.contains(r#"href="https://example.com/other?id=3""#),
            "{clean}"
        );
        assert!(clean.contains(r#"rel="noopener noreferrer""#), "{clean}");
        assert!(clean.ends_with("<b>unclosed</b></p>"), "{clean}");
    }

    #[test]
    fn plain_text_strips_tags_and_decodes_entities() {
        assert_eq!(
            plain_text("<b>Fish</b> &amp; Chips &#8211;\n <script>x()</script> &quot;good&quot;"),
            "Fish & Chips – \"good\""
        );
        assert_eq!(plain_text("<p>One</p><p>Two</p>"), "One Two");
    }

    #[test]
    fn tracking_parameters_are_dropped() {
        let url =
            Url::parse("https://e.com/a?utm_source=x&UTM_medium=y&fbclid=1&page=2#top").unwrap();
        assert_eq!(strip_tracking(url).as_str(), "https://e.com/a?page=2#top");
        let url = Url::parse("https://e.com/a?utm_source=x").unwrap();
        assert_eq!(strip_tracking(url).as_str(), "https://e.com/a");
    }

    #[test]
    fn html_normalization_ignores_layout_whitespace() {
        assert_eq!(
            normalize_html("<p>a  b</p>\n  <p>c</p>"),
            normalize_html("<p>a b</p><p>c</p>")
        );
    }
}
