//! The one way Marquee makes HTML: minijinja templates with HTML
//! auto-escaping, for every page and every email.
//!
//! minijinja rather than maud because operators replace the digest's email
//! templates and the social posts' templates at run time (files and the
//! admin API): those must be data, not compiled code, and one engine for
//! every page means one escaper and one layout.
//!
//! The escaper is html-escape's quoted-attribute encoding (`& < > " '`),
//! plugged into minijinja as its formatter: minijinja's own also writes `/`
//! as `&#x2f;`, which turned every link in an email or a feed into
//! `https:&#x2f;&#x2f;…`.

use std::sync::LazyLock;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, Output, State};

/// The layout every public page and console page extends: the
/// publication's look (`{% extends "layout.html" %}`, blocks `title` and
/// `content`).
const LAYOUT: &str = include_str!("../templates/layout.html");

/// The page an [`HttpError`](crate::error::HttpError) answers a browser
/// with (`title`, `message`).
const ERROR: &str = include_str!("../templates/error.html");

/// An environment holding the shared layout, escaping HTML in every
/// template whose name ends in `.html`; add a service's own templates with
/// `add_template`.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format_value);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("layout.html", LAYOUT)
        .expect("the shared layout is a valid template");
    env.add_template("error.html", ERROR)
        .expect("the error page is a valid template");
    env
}

/// [`environment`] with a service's own `templates` (name, source) added,
/// for templates compiled into the binary: one that does not parse is a bug,
/// so it panics at start naming the template.
pub fn environment_with(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = environment();
    for (name, source) in templates {
        env.add_template(name, source)
            .unwrap_or_else(|error| panic!("template {name} does not parse: {error:#}"));
    }
    env
}

/// The shared environment as it is, built once: error pages render from it
/// on every refused browser request.
static SHARED: LazyLock<Environment<'static>> = LazyLock::new(environment);

/// The error page saying `title` and `message`.
pub(crate) fn error_page(title: &str, message: &str) -> Result<String, Error> {
    SHARED
        .get_template("error.html")?
        .render(minijinja::context! { title, message })
}

/// `text` escaped for HTML text and attribute values, as the templates
/// escape it; for the few places that write HTML outside a template.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// Writes `value` into a template's output, escaping HTML with [`escape`]
/// where the template auto-escapes and the value is not marked safe.
fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    let plain = value.is_safe() || value.is_undefined() || value.is_none();
    if state.auto_escape() == AutoEscape::Html && !plain {
        // Strings are escaped where they lie, borrowed when nothing needs
        // escaping; other values are formatted first.
        match value.as_str() {
            Some(text) => out.write_str(&html_escape::encode_quoted_attribute(text))?,
            None => out.write_str(&escape(&value.to_string()))?,
        }
        Ok(())
    } else {
        minijinja::escape_formatter(out, state, value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pages_escape_what_they_are_given() {
        let mut env = environment();
        env.add_template(
            "page.html",
            r#"{% extends "layout.html" %}{% block title %}{{ title }}{% endblock %}{% block content %}<p>{{ text }}</p>{% endblock %}"#,
        )
        .unwrap();
        let html = env
            .get_template("page.html")
            .unwrap()
            .render(minijinja::context! { title => "A & B", text => "<script>x</script>" })
            .unwrap();
        assert!(html.contains("<title>A &amp; B"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert_eq!(
            escape(r#"<a href="x">'"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;"
        );
    }

    #[test]
    fn links_keep_their_slashes() {
        let mut env = environment();
        env.add_template("link.html", r#"<a href="{{ url }}">{{ n }}</a>"#)
            .unwrap();
        let html = env
            .get_template("link.html")
            .unwrap()
            .render(minijinja::context! { url => "https://example.com/a?b=1&c='2'", n => 3 })
            .unwrap();
        assert_eq!(
            html,
            r#"<a href="https://example.com/a?b=1&amp;c=&#x27;2&#x27;">3</a>"#
        );
    }
}
