//! The templates: built-in emails and pages, operators' overrides, and
//! rendering them with the one HTML environment.

use std::path::Path;

use anyhow::Context;
use minijinja::Environment;
use serde::Serialize;

use super::view::TemplateContext;
use super::{DigestContent, RenderedDigest, subject};

const WEEKLY_HTML: &str = include_str!("../../templates/weekly.html");
const WEEKLY_TEXT: &str = include_str!("../../templates/weekly.txt");
const CONFIRM_TEXT: &str = include_str!("../../templates/confirm.txt");
const MESSAGE_PAGE: &str = include_str!("../../templates/pages/message.html");
const UNSUBSCRIBE_PAGE: &str = include_str!("../../templates/pages/unsubscribe.html");
const CONFIRM_PAGE: &str = include_str!("../../templates/pages/confirm.html");
/// Templates: the emails (built-in ones, each overridable by a file of the
/// same name in the operator's folder) and the public pages (under `pages/`,
/// which no operator file can name), in the one HTML environment of
/// [`marquee_runtime::html`].
pub struct Templates {
    env: Environment<'static>,
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template of that name.
    #[error("no template `{0}`: add `{0}.html` and `{0}.txt` to the template folder")]
    Missing(String),
    /// The template does not parse or render.
    #[error("template `{name}` failed: {reason}")]
    Render {
        /// Template file name.
        name: String,
        /// minijinja's message, with the line.
        reason: String,
    },
    /// Email clients block scripts; refuse rather than send one.
    #[error("template `{0}` renders a <script>; email HTML must not carry scripts")]
    Script(String),
}

impl Templates {
    /// The built-in templates overlaid with `dir`'s `*.html` and `*.txt`.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut env = marquee_runtime::html::environment();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Operators' templates were written against minijinja's default,
        // where an undefined name renders empty; strict would refuse them
        // at send time.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        let mut add = |name: String, source: String| -> anyhow::Result<()> {
            env.add_template_owned(name.clone(), source)
                .with_context(|| format!("Failed to parse template `{name}`"))
        };
        add("weekly.html".to_owned(), WEEKLY_HTML.to_owned())?;
        add("weekly.txt".to_owned(), WEEKLY_TEXT.to_owned())?;
        add("confirm.txt".to_owned(), CONFIRM_TEXT.to_owned())?;
        add("pages/message.html".to_owned(), MESSAGE_PAGE.to_owned())?;
        add(
            "pages/unsubscribe.html".to_owned(),
            UNSUBSCRIBE_PAGE.to_owned(),
        )?;
        add("pages/confirm.html".to_owned(), CONFIRM_PAGE.to_owned())?;
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("Failed to read the template folder {}", dir.display()))?;
            for entry in entries {
                let path = entry.context("Failed to list templates")?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if name.ends_with(".html") || name.ends_with(".txt") {
                    let source = std::fs::read_to_string(&path)
                        .with_context(|| format!("Failed to read {}", path.display()))?;
                    add(name.to_owned(), source)?;
                }
            }
        }
        Ok(Self { env })
    }

    /// Whether `{template}.html` and `{template}.txt` both exist.
    pub fn has(&self, template: &str) -> bool {
        self.env.get_template(&format!("{template}.html")).is_ok()
            && self.env.get_template(&format!("{template}.txt")).is_ok()
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|_| TemplateError::Missing(name.to_owned()))?;
        template.render(context).map_err(|e| TemplateError::Render {
            name: name.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Renders a digest of `content` through `template`.
    pub fn digest(
        &self,
        template: &str,
        content: &DigestContent,
        unsubscribe_url: &str,
    ) -> Result<RenderedDigest, TemplateError> {
        let subject = subject(content.week_start);
        let context = TemplateContext::new(&subject, content, unsubscribe_url);
        let html = self.render(&format!("{template}.html"), &context)?;
        if html.to_ascii_lowercase().contains("<script") {
            return Err(TemplateError::Script(format!("{template}.html")));
        }
        let text = self.render(&format!("{template}.txt"), &context)?;
        Ok(RenderedDigest {
            subject,
            html,
            text,
        })
    }

    /// A public page: `pages/{name}.html` over the shared layout.
    pub fn page(&self, name: &str, context: &impl Serialize) -> Result<String, TemplateError> {
        self.render(&format!("pages/{name}.html"), context)
    }

    /// The text of a confirmation email.
    pub fn confirmation(&self, confirm_url: &str) -> Result<String, TemplateError> {
        self.render(
            "confirm.txt",
            &serde_json::json!({ "confirm_url": confirm_url }),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::compose::tests::day;

    #[test]
    fn the_built_in_templates_parse_and_a_script_is_refused() {
        let templates = Templates::load(None).expect("built-in templates parse");
        assert!(templates.has("weekly"));
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("weekly.html"), "<script>x()</script>").expect("write");
        let templates = Templates::load(Some(dir.path())).expect("override parses");
        let content = DigestContent {
            week_start: day(2026, 11, 23),
            reviews: vec![],
            screenings: vec![],
            ratings: HashMap::new(),
        };
        assert!(matches!(
            templates.digest("weekly", &content, "https://x/unsubscribe"),
            Err(TemplateError::Script(_))
        ));
    }
}
