//! The feeds' HTML templates (`templates/*.html`) in the shared
//! environment: the index page, and a screening's item content.

use std::sync::LazyLock;

use minijinja::Environment;

/// The feeds' templates, escaped as HTML; loaded once, rendered per
/// request and per feed item.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    marquee_runtime::html::environment_with(&[
        ("index.html", include_str!("../templates/index.html")),
        (
            "screening.html",
            include_str!("../templates/screening.html"),
        ),
    ])
});

/// Renders the template `name` with `context`.
pub(crate) fn render(
    name: &str,
    context: impl serde::Serialize,
) -> Result<String, minijinja::Error> {
    TEMPLATES.get_template(name)?.render(context)
}

#[cfg(test)]
mod tests {
    /// A template that fails to parse would only show at the first request.
    #[test]
    fn every_template_parses() {
        for name in ["index.html", "screening.html"] {
            assert!(super::TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }
}
