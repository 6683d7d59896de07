//! Composing posts: a template per network, and text cut to each network's
//! length rule, counted the way that network counts.
//!
//! - Mastodon: 500 grapheme clusters, every URL counted as 23
//!   (`StatusLengthValidator`).
//! - Bluesky: 300 grapheme clusters and 3000 UTF-8 bytes of the record text.
//! - X: 280 weighted characters by twitter-text v3: code points in
//!   0-4351, 8192-8205, 8208-8223 and 8242-8247 weigh 1, others 2, an emoji
//!   sequence weighs 2 as a whole, a URL 23.
//!
//! Only the standfirst is shortened first, then the headline, at word
//! boundaries with an ellipsis; the URL and hashtags are kept whole. If even
//! that is too long (a huge custom template) the whole text is cut at a
//! grapheme boundary, so a composed post never exceeds its limit.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use marquee_events::Review;
use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// The networks Marquee posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Mastodon (any instance).
    Mastodon,
    /// Bluesky (AT Protocol).
    Bluesky,
    /// X (formerly Twitter).
    X,
    /// A generic JSON webhook.
    Webhook,
}

impl Network {
    /// Every network.
    pub const ALL: [Network; 4] = [Self::Mastodon, Self::Bluesky, Self::X, Self::Webhook];

    /// Lowercase name, as in the settings' `network` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mastodon => "mastodon",
            Self::Bluesky => "bluesky",
            Self::X => "x",
            Self::Webhook => "webhook",
        }
    }

    /// The network named `name` (its [`Network::as_str`]).
    fn named(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|network| network.as_str() == name)
    }

    /// Whether `text` is within this network's length limit.
    pub fn fits(self, text: &str) -> bool {
        match self {
            Self::Mastodon => mastodon_length(text) <= MASTODON_LIMIT,
            Self::Bluesky => {
                let (graphemes, bytes) = bluesky_length(text);
                graphemes <= BLUESKY_GRAPHEMES && bytes <= BLUESKY_BYTES
            }
            Self::X => x_weighted_length(text) <= X_LIMIT,
            Self::Webhook => grapheme_count(text) <= WEBHOOK_LIMIT,
        }
    }

    fn default_template(self) -> &'static str {
        match self {
            Self::Mastodon | Self::Bluesky => {
                "{{ headline }}{% if rating %} {{ rating }}{% endif %}\n\n{{ standfirst }}\n\n{{ url }}{% if hashtags %}\n\n{{ hashtags }}{% endif %}"
            }
            Self::X => {
                "{{ headline }}{% if rating %} {{ rating }}{% endif %}\n\n{{ standfirst }}\n\n{{ url }}{% if hashtags %} {{ hashtags }}{% endif %}"
            }
            Self::Webhook => {
                "{{ headline }}{% if rating %} {{ rating }}{% endif %}\n{{ standfirst }}\n{{ url }}"
            }
        }
    }
}

/// A network name this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown network {0:?}: expected mastodon, bluesky, x or webhook")]
pub struct UnknownNetwork(String);

impl std::str::FromStr for Network {
    type Err = UnknownNetwork;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::named(name).ok_or_else(|| UnknownNetwork(name.to_owned()))
    }
}

/// Mastodon's default status limit, in grapheme clusters.
pub const MASTODON_LIMIT: usize = 500;
/// Bluesky's post limit, in grapheme clusters.
pub const BLUESKY_GRAPHEMES: usize = 300;
/// Bluesky's post limit, in UTF-8 bytes.
pub const BLUESKY_BYTES: usize = 3000;
/// X's limit, in weighted characters.
pub const X_LIMIT: usize = 280;
/// Discord's message limit, the tightest of the common webhook targets.
pub const WEBHOOK_LIMIT: usize = 2000;
/// What a URL counts on Mastodon and X, whatever its length.
pub const URL_LENGTH: usize = 23;

const ELLIPSIS: &str = "…";

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s<>"…]+"#).expect("a valid constant regex"));

/// Byte ranges of the URLs in `text`, without trailing punctuation.
pub fn url_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    URL.find_iter(text)
        .map(|m| {
            let url = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'']);
            m.start()..m.start() + url.len()
        })
        .filter(|range| !range.is_empty())
        .collect()
}

/// Sums `count` over the text between URLs, plus [`URL_LENGTH`] per URL.
fn with_urls_as_23(text: &str, count: impl Fn(&str) -> usize) -> usize {
    let mut total = 0;
    let mut last = 0;
    for range in url_ranges(text) {
        total += count(&text[last..range.start]) + URL_LENGTH;
        last = range.end;
    }
    total + count(&text[last..])
}

/// Length of `text` as Mastodon counts it.
pub fn mastodon_length(text: &str) -> usize {
    with_urls_as_23(text, grapheme_count)
}

/// Length of `text` as Bluesky counts it: (grapheme clusters, UTF-8 bytes).
pub fn bluesky_length(text: &str) -> (usize, usize) {
    (grapheme_count(text), text.len())
}

/// Weighted length of `text` as X counts it.
pub fn x_weighted_length(text: &str) -> usize {
    with_urls_as_23(text, |t| {
        // An ASCII character weighs 1, and so does each of CR LF.
        sum_by_runs(t, str::len, |piece| {
            piece.graphemes(true).map(x_cluster_weight).sum()
        })
    })
}

/// Grapheme clusters in `text`, as `text.graphemes(true).count()`.
fn grapheme_count(text: &str) -> usize {
    sum_by_runs(
        text,
        |run| run.len() - run.matches("\r\n").count(),
        |piece| piece.graphemes(true).count(),
    )
}

/// Sums `ascii` over the runs of `text` that hold only ASCII clusters and
/// `other` over the pieces between them, each a whole number of clusters.
///
/// Counting clusters was most of the time composing took, and posts are
/// mostly ASCII. UAX #29 always breaks between two ASCII characters other
/// than CR LF (only non-ASCII characters extend or prepend to a cluster),
/// so a piece around non-ASCII text ends one ASCII character past it (two
/// for CR LF) and the runs between need no segmenter.
fn sum_by_runs(text: &str, ascii: impl Fn(&str) -> usize, other: impl Fn(&str) -> usize) -> usize {
    let bytes = text.as_bytes();
    let crlf_at = |i: usize| bytes.get(i..i + 2) == Some(b"\r\n".as_slice());
    let mut total = 0;
    let mut done = 0;
    while let Some(offset) = bytes[done..].iter().position(|b| !b.is_ascii()) {
        // The ASCII character before non-ASCII text may start its cluster.
        let mut start = done + offset;
        if start > done {
            start -= 1;
            if start > done && crlf_at(start - 1) {
                start -= 1;
            }
        }
        let mut end = done + offset;
        loop {
            end += bytes[end..].iter().take_while(|b| !b.is_ascii()).count();
            // ... and the ASCII character after it may end it.
            if end < bytes.len() {
                end += if crlf_at(end) { 2 } else { 1 };
            }
            if end >= bytes.len() || bytes[end].is_ascii() {
                break;
            }
        }
        total += ascii(&text[done..start]) + other(&text[start..end]);
        done = end;
    }
    total + ascii(&text[done..])
}

fn x_cluster_weight(cluster: &str) -> usize {
    if is_emoji(cluster) {
        return 2;
    }
    cluster
        .chars()
        .map(|c| match u32::from(c) {
            0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
            _ => 2,
        })
        .sum()
}

/// Whether a grapheme cluster is an emoji (sequence). twitter-text matches
/// the full emoji regex; this checks what marks a cluster as one: emoji
/// presentation, ZWJ sequences, keycaps, flags, skin tones, and the
/// pictographic planes.
fn is_emoji(cluster: &str) -> bool {
    cluster.chars().any(|c| {
        matches!(
            u32::from(c),
            0xFE0F | 0x200D | 0x20E3 | 0x1F1E6..=0x1F1FF | 0x1F000..=0x1FAFF
        )
    })
}

/// A post ready to send, as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposedPost {
    /// The text, within the network's limit.
    pub text: String,
    /// The review's canonical URL.
    pub url: String,
    /// The review's headline (for link cards and webhooks).
    pub headline: String,
    /// The review's standfirst (for link cards).
    pub standfirst: String,
    /// The film's title.
    pub film: String,
    /// Stars out of five.
    pub rating: Option<u8>,
    /// The review's lead image (a link card's thumbnail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Why a post could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A template does not parse or render.
    #[error("the post template is invalid: {0}")]
    Template(#[from] minijinja::Error),
}

/// Renders posts for one account.
#[derive(Debug)]
pub struct Composer {
    network: Network,
    env: minijinja::Environment<'static>,
    /// The account's own tags, on every post.
    hashtags: Vec<String>,
    /// Tags after those, by review section: a feature is not a review.
    section_hashtags: BTreeMap<String, Vec<String>>,
}

/// `#tag` for each non-blank tag, however it was written (`tag`, `#tag`).
fn normalize_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|tag| tag.trim().trim_start_matches('#'))
        .filter(|tag| !tag.is_empty())
        .map(|tag| format!("#{tag}"))
        .collect()
}

/// `★★★★☆` for four stars out of five.
pub fn stars(rating: u8) -> String {
    let full = usize::from(rating.min(5));
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

impl Composer {
    /// A composer with `template`, or the network's default.
    pub fn new(
        network: Network,
        template: Option<&str>,
        hashtags: &[String],
    ) -> Result<Self, ComposeError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let source = template.unwrap_or(network.default_template()).to_owned();
        env.add_template_owned("post", source)?;
        Ok(Self {
            network,
            env,
            hashtags: normalize_tags(hashtags),
            section_hashtags: BTreeMap::new(),
        })
    }

    /// Adds each section's own tags after the account's, for the posts of
    /// reviews in that section.
    pub fn with_section_hashtags(mut self, sections: &BTreeMap<String, Vec<String>>) -> Self {
        self.section_hashtags = sections
            .iter()
            .map(|(section, tags)| (section.trim().to_owned(), normalize_tags(tags)))
            .collect();
        self
    }

    /// The tags of a post in `section`: the account's, then the section's,
    /// each once.
    fn hashtags(&self, section: &str) -> String {
        let mut tags: Vec<&str> = Vec::new();
        let own = self
            .section_hashtags
            .get(section.trim())
            .into_iter()
            .flatten();
        for tag in self.hashtags.iter().chain(own) {
            if !tags.iter().any(|seen| seen.eq_ignore_ascii_case(tag)) {
                tags.push(tag);
            }
        }
        tags.join(" ")
    }

    /// The network this composer writes for.
    pub fn network(&self) -> Network {
        self.network
    }

    fn render(
        &self,
        review: &Review,
        headline: &str,
        standfirst: &str,
    ) -> Result<String, ComposeError> {
        let template = self.env.get_template("post")?;
        let text = template.render(minijinja::context! {
            headline => headline,
            film => review.film.title,
            standfirst => standfirst,
            rating => review.rating.map(|r| stars(r.stars())).unwrap_or_default(),
            url => review.url.as_str(),
            hashtags => self.hashtags(&review.section),
        })?;
        Ok(tidy(&text))
    }

    /// The post for `review`, cut to fit the network.
    pub fn compose(&self, review: &Review) -> Result<ComposedPost, ComposeError> {
        let text = self.fit(review)?;
        Ok(ComposedPost {
            text,
            url: review.url.to_string(),
            headline: review.headline.clone(),
            standfirst: review.standfirst.clone(),
            film: review.film.title.clone(),
            rating: review.rating.map(|r| r.stars()),
            image: review.image.as_ref().map(|i| i.url.to_string()),
        })
    }

    fn fit(&self, review: &Review) -> Result<String, ComposeError> {
        let fits = |text: &str| self.network.fits(text);
        let (headline, standfirst) = (review.headline.trim(), review.standfirst.trim());
        let full = self.render(review, headline, standfirst)?;
        if fits(&full) {
            return Ok(full);
        }
        let standfirst_cuts = word_cuts(standfirst);
        if let Some(text) = longest::<ComposeError>(standfirst_cuts.len(), |k| {
            let text = self.render(review, headline, &cut(standfirst, &standfirst_cuts, k))?;
            Ok(fits(&text).then_some(text))
        })? {
            return Ok(text);
        }
        let headline_cuts = word_cuts(headline);
        if let Some(text) = longest::<ComposeError>(headline_cuts.len(), |k| {
            let text = self.render(review, &cut(headline, &headline_cuts, k), "")?;
            Ok(fits(&text).then_some(text))
        })? {
            return Ok(text);
        }
        // A template longer than the limit on its own: cut the text itself.
        let text = self.render(review, ELLIPSIS, "")?;
        Ok(truncate_to_fit(&text, fits))
    }
}

/// Cuts `text` at a grapheme boundary, with an ellipsis, until `fits`.
pub fn truncate_to_fit(text: &str, fits: impl Fn(&str) -> bool) -> String {
    if fits(text) {
        return text.to_owned();
    }
    let cuts: Vec<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
    let found = longest(cuts.len(), |k| {
        let candidate = cut(text, &cuts, k);
        Ok::<_, ComposeError>(fits(&candidate).then_some(candidate))
    });
    match found {
        Ok(Some(text)) => text,
        _ => String::new(),
    }
}

/// Byte offsets where `text` may be cut: the starts of its words.
fn word_cuts(text: &str) -> Vec<usize> {
    text.split_word_bound_indices()
        .filter(|(_, word)| !word.trim().is_empty())
        .map(|(i, _)| i)
        .collect()
}

/// `text` cut before its `k`-th cut point, with an ellipsis (`k = 0` leaves
/// the ellipsis alone, never an empty field that reads as an omission).
fn cut(text: &str, cuts: &[usize], k: usize) -> String {
    let end = cuts.get(k).copied().unwrap_or(text.len());
    let kept = text[..end].trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '–' | '—' | '(')
    });
    format!("{kept}{ELLIPSIS}")
}

/// The result for the largest `k` in `0..n` that `attempt` accepts, by
/// bisection: only values `attempt` accepted are ever returned, so a
/// non-monotone length rule can cost optimality, never the limit.
fn longest<E>(
    n: usize,
    attempt: impl Fn(usize) -> Result<Option<String>, E>,
) -> Result<Option<String>, E> {
    let Some(mut best) = attempt(0)? else {
        return Ok(None);
    };
    let (mut lo, mut hi) = (0, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match attempt(mid)? {
            Some(text) => {
                best = text;
                lo = mid;
            }
            None => hi = mid,
        }
    }
    Ok(Some(best))
}

/// Trailing spaces off every line, at most one blank line in a row, no
/// blank start or end: what an empty template field leaves behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_each_network() {
        let url = "https://films.example/reviews/a-very-long-slug-that-goes-on-and-on";
        assert_eq!(mastodon_length(&format!("Hi {url}")), 3 + 23);
        assert_eq!(x_weighted_length(&format!("Hi {url}")), 3 + 23);
        assert_eq!(x_weighted_length("映画"), 4);
        assert_eq!(x_weighted_length("★★★★☆"), 10);
        assert_eq!(x_weighted_length("👩‍👩‍👧"), 2);
        assert_eq!(x_weighted_length("❤️"), 2);
        assert_eq!(x_weighted_length("café – ‘quoted’"), 15);
        assert_eq!(mastodon_length("👩‍👩‍👧 é"), 3);
        assert_eq!(bluesky_length("é👍"), (2, 2 + 4));
    }

    proptest::proptest! {
        /// The ASCII shortcut counts what the segmenter counts, whatever
        /// mix of ASCII, CR LF, combining marks, prepended marks, joiners,
        /// emoji, flags and keycaps surrounds it.
        #[test]
        fn cluster_counts_match_the_segmenter(
            text in r"[a1 .#\r\n\u{301}\u{600}\u{200D}\u{FE0F}\u{20E3}\u{1F1EC}\u{1F1E7}\u{1F469}\u{1F3FD}\u{1100}\u{1161}é–]{0,40}"
        ) {
            proptest::prop_assert_eq!(grapheme_count(&text), text.graphemes(true).count());
            let weight = sum_by_runs(&text, str::len, |p| p.graphemes(true).map(x_cluster_weight).sum());
            proptest::prop_assert_eq!(weight, text.graphemes(true).map(x_cluster_weight).sum::<usize>());
        }
    }

    #[test]
    fn tidy_collapses_blank_lines() {
        assert_eq!(tidy("  a \n\n\n\nb\n\n"), "a\n\nb");
    }

    #[test]
    fn stars_are_out_of_five() {
        assert_eq!(stars(4), "★★★★☆");
        assert_eq!(stars(0), "☆☆☆☆☆");
    }
}
