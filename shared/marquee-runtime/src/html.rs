//! The one way Marquee makes HTML: minijinja templates with HTML
//! auto-escaping, for every page and every email.
//!
//! minijinja rather than maud because operators replace the digest's email
//! templates and the social posts' templates at run time (files and the
//! admin API): those must be data, not compiled code, and one engine for
//! every page means one escaper and one layout.

use minijinja::{AutoEscape, Environment};

/// The layout every public page and console page extends: the
/// publication's look (`{% extends "layout.html" %}`, blocks `title` and
/// `content`).
const LAYOUT: &str = include_str!("../templates/layout.html");

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
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("layout.html", LAYOUT)
        .expect("the shared layout is a valid template");
    env
}

/// `text` escaped for HTML text and attribute values, as the templates
/// escape it; for the few places that write HTML outside a template.
pub fn escape(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
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
        assert!(html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"), "{html}");
        assert_eq!(escape(r#"<a href="x">'"#), "&lt;a href=&quot;x&quot;&gt;&#x27;");
    }
}
