//! Composing a digest: what goes in (new reviews, next week's screenings by
//! day and venue), filtered by a subscriber's preferences, rendered through
//! operator-editable minijinja templates into a subject, HTML and text.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use marquee_events::{Review, Screening};
use minijinja::Environment;
use serde::Serialize;

use crate::store::Preferences;

const WEEKLY_HTML: &str = include_str!("../templates/weekly.html");
const WEEKLY_TEXT: &str = include_str!("../templates/weekly.txt");
const CONFIRM_TEXT: &str = include_str!("../templates/confirm.txt");
const MESSAGE_PAGE: &str = include_str!("../templates/pages/message.html");
const UNSUBSCRIBE_PAGE: &str = include_str!("../templates/pages/unsubscribe.html");

/// A digest ready to send or show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedDigest {
    /// Subject line, e.g. "What to watch: 23–29 November 2026".
    pub subject: String,
    /// The HTML part: inline styles, no scripts.
    pub html: String,
    /// The plain-text part.
    pub text: String,
}

/// What one run has to say, before any subscriber's preferences.
#[derive(Debug, Clone)]
pub struct DigestContent {
    /// First day of the week covered, in the schedule's zone.
    pub week_start: NaiveDate,
    /// Reviews published since the last digest, newest first.
    pub reviews: Vec<Review>,
    /// Screenings of the next 7 days, earliest first.
    pub screenings: Vec<Screening>,
    /// Star ratings of reviews the screenings link to.
    pub ratings: HashMap<String, u8>,
}

impl DigestContent {
    /// Whether there is nothing to tell anyone.
    pub fn is_empty(&self) -> bool {
        self.reviews.is_empty() && self.screenings.is_empty()
    }

    /// The content `preferences` select; [`DigestContent::is_empty`] tells
    /// whether anything is left.
    pub fn for_preferences(&self, preferences: &Preferences) -> DigestContent {
        let reviews = self
            .reviews
            .iter()
            .filter(|review| match preferences.min_rating {
                None => true,
                Some(min) => review.rating.is_some_and(|r| r.stars() >= min),
            })
            .cloned()
            .collect();
        let screenings = self
            .screenings
            .iter()
            .filter(|s| preferences.venues.is_empty() || preferences.venues.contains(&s.venue.id))
            .filter(|s| format_matches(&preferences.formats, s.format.as_deref()))
            .cloned()
            .collect();
        DigestContent {
            week_start: self.week_start,
            reviews,
            screenings,
            ratings: self.ratings.clone(),
        }
    }
}

/// Film formats, as opposed to digital projection.
const CELLULOID: [&str; 3] = ["35mm", "70mm", "16mm"];

fn is_celluloid(format: &str) -> bool {
    let format = format.to_ascii_lowercase();
    CELLULOID.iter().any(|f| format.contains(f))
}

fn format_matches(wanted: &[String], format: Option<&str>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let Some(format) = format else {
        return false;
    };
    let lower = format.to_ascii_lowercase();
    wanted.iter().any(|w| {
        let w = w.to_ascii_lowercase();
        if w == "celluloid" {
            is_celluloid(format)
        } else {
            lower.contains(&w)
        }
    })
}

/// "What to watch: 23–29 November 2026", spanning months and years as needed.
pub fn subject(week_start: NaiveDate) -> String {
    format!("What to watch: {}", week_range(week_start))
}

fn week_range(start: NaiveDate) -> String {
    let end = start + chrono::Duration::days(6);
    if start.year() != end.year() {
        format!(
            "{} – {}",
            start.format("%-d %B %Y"),
            end.format("%-d %B %Y")
        )
    } else if start.month() != end.month() {
        format!("{} – {}", start.format("%-d %B"), end.format("%-d %B %Y"))
    } else {
        format!("{}–{}", start.format("%-d"), end.format("%-d %B %Y"))
    }
}

/// The local date of `at` in `zone`: a digest covers the week starting then.
pub fn week_start(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

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

#[derive(Serialize)]
struct TemplateContext<'a> {
    subject: &'a str,
    week: String,
    reviews: Vec<ReviewView<'a>>,
    days: Vec<DayView<'a>>,
    unsubscribe_url: &'a str,
}

#[derive(Serialize)]
struct ReviewView<'a> {
    headline: &'a str,
    url: &'a str,
    film: &'a str,
    year: Option<u16>,
    standfirst: &'a str,
    author: Option<&'a str>,
    stars: Option<String>,
}

#[derive(Serialize)]
struct DayView<'a> {
    label: String,
    venues: Vec<VenueView<'a>>,
}

#[derive(Serialize)]
struct VenueView<'a> {
    name: &'a str,
    screenings: Vec<ScreeningView<'a>>,
}

#[derive(Serialize)]
struct ScreeningView<'a> {
    time: String,
    title: &'a str,
    year: Option<u16>,
    format: Option<&'a str>,
    celluloid: bool,
    strand: Option<&'a str>,
    extras: &'a [String],
    stars: Option<String>,
    booking_url: Option<&'a str>,
    sold_out: bool,
}

fn stars(n: u8) -> String {
    let n = usize::from(n.min(5));
    format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
}

impl<'a> TemplateContext<'a> {
    fn new(subject: &'a str, content: &'a DigestContent, unsubscribe_url: &'a str) -> Self {
        let reviews = content
            .reviews
            .iter()
            .map(|r| ReviewView {
                headline: &r.headline,
                url: r.url.as_str(),
                film: &r.film.title,
                year: r.film.year,
                standfirst: &r.standfirst,
                author: r.author.as_deref(),
                stars: r.rating.map(|r| stars(r.stars())),
            })
            .collect();
        // Day (venue's wall clock) → venue name → screenings, in order.
        let mut days: BTreeMap<NaiveDate, BTreeMap<&str, Vec<ScreeningView>>> = BTreeMap::new();
        for s in &content.screenings {
            days.entry(s.starts_at_local.date())
                .or_default()
                .entry(&s.venue.name)
                .or_default()
                .push(ScreeningView {
                    time: s.starts_at_local.format("%H:%M").to_string(),
                    title: &s.film.title,
                    year: s.film.year,
                    format: s.format.as_deref(),
                    celluloid: s.format.as_deref().is_some_and(is_celluloid),
                    strand: s.strand.as_deref(),
                    extras: &s.extras,
                    stars: s
                        .review_id
                        .as_ref()
                        .and_then(|id| content.ratings.get(id.as_str()))
                        .map(|n| stars(*n)),
                    booking_url: s.booking_url.as_ref().map(url::Url::as_str),
                    sold_out: s.sold_out,
                });
        }
        let days = days
            .into_iter()
            .map(|(day, venues)| DayView {
                label: day.format("%A %-d %B").to_string(),
                venues: venues
                    .into_iter()
                    .map(|(name, mut screenings)| {
                        screenings.sort_by(|a, b| a.time.cmp(&b.time));
                        VenueView { name, screenings }
                    })
                    .collect(),
            })
            .collect();
        Self {
            subject,
            week: week_range(content.week_start),
            reviews,
            days,
            unsubscribe_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn subjects_carry_the_weeks_dates() {
        assert_eq!(
            subject(day(2026, 11, 23)),
            "What to watch: 23–29 November 2026"
        );
        assert_eq!(
            subject(day(2026, 11, 30)),
            "What to watch: 30 November – 6 December 2026"
        );
        assert_eq!(
            subject(day(2026, 12, 28)),
            "What to watch: 28 December 2026 – 3 January 2027"
        );
    }

    #[test]
    fn celluloid_means_film_prints() {
        let celluloid = vec!["celluloid".to_owned()];
        assert!(format_matches(&celluloid, Some("35mm")));
        assert!(format_matches(&celluloid, Some("70MM IMAX")));
        assert!(!format_matches(&celluloid, Some("DCP")));
        assert!(!format_matches(&celluloid, None));
        assert!(format_matches(&[], None));
        assert!(format_matches(&["dcp".to_owned()], Some("DCP")));
    }

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
