//! The templates: built-in emails and pages, the digest templates operators
//! store (subject, HTML and text, checked before they are kept), and
//! rendering them with the one HTML environment.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use chrono::{TimeZone, Utc};
use marquee_admin::digest::DigestTemplate;
use marquee_events::{
    Accessibility, Film, Image, Rating, Review, ReviewId, Screening, ScreeningFilm, ScreeningId,
    Venue,
};
use minijinja::Environment;
use serde::Serialize;

use super::view::TemplateContext;
use super::{Change, ChangeKind, DigestContent, Pick, RenderedDigest};
use crate::archive::FeedLink;

/// The built-in subject, e.g. "What to watch: 23–29 November 2026".
const WEEKLY_SUBJECT: &str = "What to watch: {{ week }}";
const WEEKLY_HTML: &str = include_str!("../../templates/weekly.html");
const WEEKLY_TEXT: &str = include_str!("../../templates/weekly.txt");
const CONFIRM_TEXT: &str = include_str!("../../templates/confirm.txt");
const MESSAGE_PAGE: &str = include_str!("../../templates/pages/message.html");
const UNSUBSCRIBE_PAGE: &str = include_str!("../../templates/pages/unsubscribe.html");
const CONFIRM_PAGE: &str = include_str!("../../templates/pages/confirm.html");
const READER_PAGE: &str = include_str!("../../templates/pages/reader.html");
const PREFERENCE_FIELDS: &str = include_str!("../../templates/pages/preference_fields.html");
const FORM_ERROR: &str = include_str!("../../templates/pages/form_error.html");
const SUBSCRIBE_PAGE: &str = include_str!("../../templates/pages/subscribe.html");
const PREFERENCES_PAGE: &str = include_str!("../../templates/pages/preferences.html");
const UNSUBSCRIBED_PAGE: &str = include_str!("../../templates/pages/unsubscribed.html");
const ARCHIVE_PAGE: &str = include_str!("../../templates/pages/archive.html");

/// The built-in digest template, which schedules use unless told otherwise.
pub const BUILT_IN: &str = "weekly";

/// A digest template's parts as the environment names them: `{name}.subject`,
/// `{name}.html`, `{name}.txt` (the suffix decides HTML escaping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The subject line.
    Subject,
    /// The HTML part.
    Html,
    /// The plain-text part.
    Text,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Html, Part::Text];

    fn file(self, template: &str) -> String {
        let suffix = match self {
            Part::Subject => "subject",
            Part::Html => "html",
            Part::Text => "txt",
        };
        format!("{template}.{suffix}")
    }

    /// As the admin API's body names it.
    fn field(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Html => "html",
            Part::Text => "text",
        }
    }

    fn source(self, template: &DigestTemplate) -> &str {
        match self {
            Part::Subject => &template.subject,
            Part::Html => &template.html,
            Part::Text => &template.text,
        }
    }
}

/// Templates: the digest templates (the built-in `weekly` and those
/// operators stored, which replace a built-in of the same name) and the
/// public pages (under `pages/`, which no digest template can name), in the
/// one HTML environment of [`marquee_runtime::html`], whose undefined
/// names are errors.
pub struct Templates {
    env: RwLock<Environment<'static>>,
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template of that name.
    #[error("no digest template `{0}`: store one with PUT /admin/digest/templates/{0}")]
    Missing(String),
    /// Template names go into URLs and schedules' settings.
    #[error(
        "template name `{0}` must be 1 to 64 lowercase letters, digits and `-`, starting with a letter"
    )]
    Name(String),
    /// The template does not parse or does not render against the sample
    /// digest: refused before it is stored.
    #[error("{field} of template `{template}`, line {line}, column {column}: {reason}")]
    Invalid {
        /// The template.
        template: String,
        /// `subject`, `html` or `text`.
        field: &'static str,
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column (in characters) of the fault.
        column: usize,
        /// minijinja's reason, e.g. `undefined value`.
        reason: String,
    },
    /// The subject renders empty or over several lines.
    #[error("the subject of template `{0}` must render to one non-empty line")]
    Subject(String),
    /// Email clients block scripts; refuse rather than send one.
    #[error("template `{0}` renders a <script>; email HTML must not carry scripts")]
    Script(String),
    /// A template that passed its checks failed on real content.
    #[error("template `{name}` failed: {reason}")]
    Render {
        /// Template file name.
        name: String,
        /// minijinja's message, with the line.
        reason: String,
    },
}

/// Line and column (1-based, in characters) of `error` in `source`.
fn position(error: &minijinja::Error, source: &str) -> (usize, usize) {
    let line = error.line().unwrap_or(1);
    let column = match error.range() {
        Some(range) => {
            let before = &source[..range.start.min(source.len())];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            before[line_start..].chars().count() + 1
        }
        None => 1,
    };
    (line, column)
}

/// minijinja's reason without its own "(in template:line)" suffix, which
/// the refusal says in words.
fn reason(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn environment() -> Environment<'static> {
    let mut env = marquee_runtime::html::environment();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Spans for the column of a refusal.
    env.set_debug(true);
    env
}

/// Renders digest template `template` of `env` with `content`.
fn render_digest(
    env: &Environment<'static>,
    template: &str,
    content: &DigestContent,
    web_version_url: &str,
    edition: Edition<'_>,
) -> Result<RenderedDigest, TemplateError> {
    let render = |part: Part, context: &TemplateContext<'_>| {
        let name = part.file(template);
        let found = env
            .get_template(&name)
            .map_err(|_| TemplateError::Missing(template.to_owned()))?;
        found.render(context).map_err(|e| TemplateError::Render {
            name,
            reason: format!("{e:#}"),
        })
    };
    // The subject is rendered first: it cannot use `subject` itself.
    let subject = render(
        Part::Subject,
        &TemplateContext::new("", content, web_version_url, edition),
    )?;
    let subject = subject.trim().to_owned();
    if subject.is_empty() || subject.contains('\n') {
        return Err(TemplateError::Subject(template.to_owned()));
    }
    let context = TemplateContext::new(&subject, content, web_version_url, edition);
    let html = render(Part::Html, &context)?;
    if html.to_ascii_lowercase().contains("<script") {
        return Err(TemplateError::Script(Part::Html.file(template)));
    }
    let text = render(Part::Text, &context)?;
    let TemplateContext {
        preheader,
        unmatched_picks,
        ..
    } = context;
    Ok(RenderedDigest {
        subject,
        html,
        text,
        preheader,
        unmatched_picks,
    })
}

/// An environment holding `template` as `name` after checking it: every
/// part parses and renders against [`sample`], which fills every variable,
/// so a misspelt name is refused here with its line and column.
fn checked(name: &str, template: &DigestTemplate) -> Result<Environment<'static>, TemplateError> {
    if !is_valid_name(name) {
        return Err(TemplateError::Name(name.to_owned()));
    }
    let mut env = environment();
    let invalid = |part: Part, error: &minijinja::Error| {
        let (line, column) = position(error, part.source(template));
        TemplateError::Invalid {
            template: name.to_owned(),
            field: part.field(),
            line,
            column,
            reason: reason(error),
        }
    };
    for part in Part::ALL {
        env.add_template_owned(part.file(name), part.source(template).to_owned())
            .map_err(|error| invalid(part, &error))?;
    }
    let content = sample();
    let links = ReaderLinks {
        unsubscribe_url: "https://films.example/unsubscribe?token=sample",
        preferences_url: "https://films.example/preferences?token=sample",
    };
    let web_version_url = "https://films.example/digests/sample";
    let unmatched = ["Unmatched Film (1950)".to_owned()];
    // Every edition: a name only the email has must be guarded in the web version.
    for edition in [
        Edition::Email(links),
        Edition::Preview(links, &unmatched),
        Edition::Web {
            archive_url: "https://films.example/digests",
            feeds: &[],
        },
    ] {
        let context =
            TemplateContext::new("What to watch: sample", &content, web_version_url, edition);
        for part in Part::ALL {
            let compiled = env
                .get_template(&part.file(name))
                .map_err(|error| invalid(part, &error))?;
            compiled
                .render(&context)
                .map_err(|error| invalid(part, &error))?;
        }
        render_digest(&env, name, &content, web_version_url, edition)?;
    }
    Ok(env)
}

/// Which copy of a digest is rendered; each carries its own links.
#[derive(Debug, Clone, Copy)]
pub enum Edition<'a> {
    /// A subscriber's email, with their own links.
    Email(ReaderLinks<'a>),
    /// An editor's preview: an email, plus the picks that match no
    /// screening (before any reader's preferences).
    Preview(ReaderLinks<'a>, &'a [String]),
    /// The web version kept in the archive: no subscriber's links, the
    /// archive's feeds advertised.
    Web {
        /// The archive's list page.
        archive_url: &'a str,
        /// The archive's feeds, for autodiscovery.
        feeds: &'a [FeedLink],
    },
}

/// A subscriber's own links in their email.
#[derive(Debug, Clone, Copy)]
pub struct ReaderLinks<'a> {
    /// Signed one-click unsubscribe.
    pub unsubscribe_url: &'a str,
    /// Their preferences page.
    pub preferences_url: &'a str,
}

impl Templates {
    /// The built-in templates, then `stored` ones (name and parts) over
    /// them; a stored template that this build's variables no longer fill
    /// is refused here rather than at a send.
    pub fn load(stored: &[(String, DigestTemplate)]) -> anyhow::Result<Self> {
        let built_in = DigestTemplate {
            subject: WEEKLY_SUBJECT.to_owned(),
            html: WEEKLY_HTML.to_owned(),
            text: WEEKLY_TEXT.to_owned(),
        };
        let mut env = environment();
        for (name, template) in
            std::iter::once((BUILT_IN.to_owned(), built_in)).chain(stored.iter().cloned())
        {
            checked(&name, &template).map_err(|error| {
                anyhow::anyhow!("Stored digest template `{name}` no longer renders ({error}); fix it with PUT /admin/digest/templates/{name}")
            })?;
            for part in Part::ALL {
                env.add_template_owned(part.file(&name), part.source(&template).to_owned())?;
            }
        }
        for (name, source) in [
            ("confirm.txt", CONFIRM_TEXT),
            ("pages/message.html", MESSAGE_PAGE),
            ("pages/unsubscribe.html", UNSUBSCRIBE_PAGE),
            ("pages/confirm.html", CONFIRM_PAGE),
            ("pages/reader.html", READER_PAGE),
            ("pages/preference_fields.html", PREFERENCE_FIELDS),
            ("pages/form_error.html", FORM_ERROR),
            ("pages/subscribe.html", SUBSCRIBE_PAGE),
            ("pages/preferences.html", PREFERENCES_PAGE),
            ("pages/unsubscribed.html", UNSUBSCRIBED_PAGE),
            ("pages/archive.html", ARCHIVE_PAGE),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self {
            env: RwLock::new(env),
        })
    }

    fn env(&self) -> std::sync::RwLockReadGuard<'_, Environment<'static>> {
        self.env.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether digest template `template` exists.
    pub fn has(&self, template: &str) -> bool {
        let env = self.env();
        Part::ALL
            .iter()
            .all(|part| env.get_template(&part.file(template)).is_ok())
    }

    /// Digest template `name`'s parts as they are in force.
    pub fn get(&self, name: &str) -> Result<DigestTemplate, TemplateError> {
        let env = self.env();
        let source = |part: Part| {
            env.get_template(&part.file(name))
                .map(|t| t.source().to_owned())
                .map_err(|_| TemplateError::Missing(name.to_owned()))
        };
        Ok(DigestTemplate {
            subject: source(Part::Subject)?,
            html: source(Part::Html)?,
            text: source(Part::Text)?,
        })
    }

    /// Checks `template` (see [`Templates::check`]) and puts it in force as
    /// `name`; the caller stores it.
    pub fn replace(&self, name: &str, template: &DigestTemplate) -> Result<(), TemplateError> {
        Self::check(name, template)?;
        let mut env = self.env.write().unwrap_or_else(PoisonError::into_inner);
        for part in Part::ALL {
            env.add_template_owned(part.file(name), part.source(template).to_owned())
                .map_err(|e| TemplateError::Render {
                    name: part.file(name),
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Refuses a template that does not parse, names a variable the digest
    /// does not have, renders a script or an empty subject.
    pub fn check(name: &str, template: &DigestTemplate) -> Result<(), TemplateError> {
        checked(name, template).map(drop)
    }

    /// Renders `template`, unsaved, with `content`: a live preview.
    pub fn try_out(
        name: &str,
        template: &DigestTemplate,
        content: &DigestContent,
        web_version_url: &str,
        edition: Edition<'_>,
    ) -> Result<RenderedDigest, TemplateError> {
        let env = checked(name, template)?;
        render_digest(&env, name, content, web_version_url, edition)
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, TemplateError> {
        let env = self.env();
        let template = env
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
        web_version_url: &str,
        edition: Edition<'_>,
    ) -> Result<RenderedDigest, TemplateError> {
        render_digest(&self.env(), template, content, web_version_url, edition)
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

/// A digest with every variable filled (a rated review with an image, a
/// screening with every detail): templates are rendered against it before
/// they are stored, so each loop body and `if` branch is checked.
fn sample() -> DigestContent {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 26, 19, 30, 0)
        .single()
        .expect("a sample time");
    let url = |path: &str| {
        url::Url::parse(&format!("https://films.example/{path}")).expect("a sample URL")
    };
    let review_id = ReviewId::parse("sample-review").expect("a sample id");
    let review = Review {
        id: review_id.clone(),
        url: url("reviews/sample"),
        headline: "Sample review – a headline".to_owned(),
        film: Film {
            title: "Sample Film".to_owned(),
            year: Some(2026),
            runtime_minutes: Some(120),
        },
        standfirst: "A standfirst.".to_owned(),
        body_html: "<p>Body.</p>".to_owned(),
        author: Some("A Critic".to_owned()),
        rating: Some(Rating::try_from(4).expect("a sample rating")),
        section: "In Cinemas".to_owned(),
        image: Some(Image {
            url: url("images/sample.jpg"),
            alt: Some("A still".to_owned()),
        }),
        published_at: at,
        updated_at: at,
    };
    let screening = Screening {
        id: ScreeningId::parse("sample-screening").expect("a sample id"),
        venue: Venue {
            id: "sample-venue".to_owned(),
            name: "Sample Cinema".to_owned(),
            address: Some("1 Sample Street".to_owned()),
        },
        film: ScreeningFilm {
            title: "Sample Film".to_owned(),
            year: Some(2026),
            director: Some("A Director".to_owned()),
            runtime_minutes: Some(120),
        },
        starts_at: at,
        starts_at_local: at.naive_utc(),
        time_zone: "Europe/London".to_owned(),
        screen: Some("Screen 1".to_owned()),
        format: Some("35mm".to_owned()),
        strand: Some("A season".to_owned()),
        extras: vec!["Q&A".to_owned()],
        accessibility: vec![Accessibility::Subtitled],
        booking_url: Some(url("book")),
        sold_out: true,
        review_id: Some(review_id),
    };
    let pick = Pick {
        title: "Sample Film".to_owned(),
        year: Some(2026),
        note: Some("An editor's line.".to_owned()),
        screenings: vec![screening.clone()],
    };
    let change = Change {
        screening: screening.clone(),
        kind: ChangeKind::Cancelled,
    };
    DigestContent {
        week_start: at.date_naive(),
        ratings: HashMap::from([("sample-review".to_owned(), 4)]),
        reviews: vec![review],
        screenings: vec![screening],
        picks: vec![pick],
        changes: vec![change],
        needs: vec![Accessibility::Subtitled],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(templates: &Templates, name: &str, content: &DigestContent) -> RenderedDigest {
        let links = ReaderLinks {
            unsubscribe_url: "https://x.example/u",
            preferences_url: "https://x.example/p",
        };
        templates
            .digest(
                name,
                content,
                "https://x.example/web",
                Edition::Email(links),
            )
            .expect("renders")
    }

    fn weekly() -> DigestTemplate {
        Templates::load(&[])
            .expect("built-in templates check")
            .get(BUILT_IN)
            .expect("built in")
    }

    #[test]
    fn the_built_in_template_renders_the_sample_with_its_subject() {
        let templates = Templates::load(&[]).expect("built-in templates check");
        assert!(templates.has(BUILT_IN));
        let digest = email(&templates, BUILT_IN, &sample());
        assert_eq!(
            digest.subject,
            "What to watch: 26 November – 2 December 2026"
        );
        assert!(digest.html.contains("Sample review"), "{}", digest.html);
        assert!(digest.text.contains("Sample review"), "{}", digest.text);
    }

    #[test]
    fn the_built_in_subject_spans_months_and_years_as_needed() {
        let templates = Templates::load(&[]).expect("built-in templates check");
        let mut content = sample();
        for (week_start, subject) in [
            ((2026, 11, 23), "What to watch: 23–29 November 2026"),
            (
                (2026, 11, 30),
                "What to watch: 30 November – 6 December 2026",
            ),
            (
                (2026, 12, 28),
                "What to watch: 28 December 2026 – 3 January 2027",
            ),
        ] {
            content.week_start =
                crate::compose::tests::day(week_start.0, week_start.1, week_start.2);
            let digest = email(&templates, BUILT_IN, &content);
            assert_eq!(digest.subject, subject);
        }
    }

    #[test]
    fn a_script_an_unknown_variable_and_a_syntax_error_are_refused_where_they_are() {
        let mut template = weekly();
        template.html = "<p>{{ week }}</p><script>x()</script>".to_owned();
        assert!(matches!(
            Templates::check("weekly", &template),
            Err(TemplateError::Script(_))
        ));

        let mut template = weekly();
        template.text = "WHAT TO WATCH\n  {{ wek }}\n".to_owned();
        let error = Templates::check("weekly", &template).expect_err("unknown variable");
        assert!(
            matches!(
                &error,
                TemplateError::Invalid {
                    field: "text",
                    line: 2,
                    column: 6,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("undefined"), "{error}");

        let mut template = weekly();
        template.html =
            "<h1>{{ week }}</h1>\n<p>{% for r in reviews %}{{ r.headline }</p>".to_owned();
        let error = Templates::check("weekly", &template).expect_err("syntax error");
        assert!(
            matches!(
                &error,
                TemplateError::Invalid {
                    field: "html",
                    line: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("html of template `weekly`, line 2, column"),
            "{error}"
        );

        let mut template = weekly();
        template.subject = "{% if false %}x{% endif %}".to_owned();
        assert!(matches!(
            Templates::check("weekly", &template),
            Err(TemplateError::Subject(_))
        ));
        assert!(matches!(
            Templates::check("Weekly!", &weekly()),
            Err(TemplateError::Name(_))
        ));
    }

    #[test]
    fn a_stored_template_this_build_cannot_fill_stops_the_start() {
        let mut stale = weekly();
        stale.text = "{{ week }}\n{{ renamed_variable }}\n".to_owned();
        let error = Templates::load(&[("weekly".to_owned(), stale)])
            .err()
            .expect("refused at start");
        let said = error.to_string();
        assert!(
            said.contains("Stored digest template `weekly` no longer renders")
                && said.contains("line 2, column 4"),
            "{said}"
        );
    }

    #[test]
    fn a_replaced_template_is_in_force_and_a_refused_one_changes_nothing() {
        let templates = Templates::load(&[]).expect("built-in templates check");
        let mut template = weekly();
        template.subject = "Films: {{ week }}".to_owned();
        templates.replace("holiday", &template).expect("valid");
        let digest = email(&templates, "holiday", &sample());
        assert_eq!(digest.subject, "Films: 26 November – 2 December 2026");
        template.subject = "{{ nope }}".to_owned();
        assert!(templates.replace("holiday", &template).is_err());
        assert_eq!(
            templates.get("holiday").expect("kept").subject,
            "Films: {{ week }}"
        );
    }
}
