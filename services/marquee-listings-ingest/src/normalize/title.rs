//! Titles taken apart: the film's title cleaned of format, extras, access
//! notes, "sold out" and the year, labels classified, and the key films are
//! matched to reviews by.

use std::sync::LazyLock;

use marquee_events::Accessibility;
use regex::Regex;

use super::{collapse, push_unique};

/// What a label or a bracketed note in a title means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Label {
    Format(&'static str),
    Extra(String),
    Access(Accessibility),
    SoldOut,
    Cancelled,
}

/// Classifies one label ("35mm", "Q&A", "audio described", "sold out").
pub(crate) fn classify(label: &str) -> Option<Label> {
    let lower = collapse(label).to_lowercase();
    let bare = lower
        .trim_start_matches(['+', '&'])
        .trim()
        .trim_start_matches("plus ")
        .trim_start_matches("with ")
        .trim()
        .trim_end_matches(" print")
        .trim_end_matches(" screening")
        .trim();
    let format = match bare {
        "35mm" | "35 mm" => Some("35mm"),
        "70mm" | "70 mm" => Some("70mm"),
        "16mm" | "16 mm" => Some("16mm"),
        "dcp" | "digital" => Some("DCP"),
        "4k" | "4k restoration" | "new 4k restoration" | "4k restored" | "4k remaster"
        | "4k remastered" | "restored in 4k" => Some("4K restoration"),
        _ => None,
    };
    if let Some(format) = format {
        return Some(Label::Format(format));
    }
    let access = match bare {
        "subtitled"
        | "captioned"
        | "hoh"
        | "sdh"
        | "cc"
        | "hoh subtitles"
        | "hoh subtitled"
        | "open captions"
        | "closed captions"
        | "captions"
        | "descriptive subtitles" => Some(Accessibility::Subtitled),
        "audio described" | "audio description" | "audiodescription" | "ad" => {
            Some(Accessibility::AudioDescribed)
        }
        "relaxed" | "relaxed performance" => Some(Accessibility::Relaxed),
        "parent & baby" | "parent and baby" | "parents & babies" | "parents and babies"
        | "carers & babies" | "carers and babies" | "baby-friendly" | "baby friendly" => {
            Some(Accessibility::BabyFriendly)
        }
        _ => None,
    };
    if let Some(access) = access {
        return Some(Label::Access(access));
    }
    match bare {
        "sold out" => return Some(Label::SoldOut),
        "cancelled" | "canceled" => return Some(Label::Cancelled),
        _ => {}
    }
    let canonical = match bare {
        "q&a" | "q & a" | "q and a" | "qa" | "q+a" => Some("Q&A"),
        "intro" | "introduction" | "introduced" | "live intro" => Some("intro"),
        "discussion" | "panel" | "panel discussion" | "post-screening discussion" => {
            Some("discussion")
        }
        "talk" | "director's talk" => Some("talk"),
        _ => None,
    };
    if let Some(extra) = canonical {
        return Some(Label::Extra(extra.to_owned()));
    }
    // "Q&A with Sir Christopher Frayling", "intro by …": an extra, kept verbatim.
    let verbatim = collapse(label);
    let verbatim = verbatim.trim_start_matches(['+', '&']).trim().to_owned();
    [
        "q&a ",
        "intro ",
        "introduction ",
        "introduced ",
        "discussion ",
        "panel ",
        "talk ",
    ]
    .iter()
    .any(|prefix| bare.starts_with(prefix))
    .then_some(Label::Extra(verbatim))
}

/// A title taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CleanTitle {
    pub(crate) title: String,
    pub(crate) year: Option<u16>,
    pub(crate) format: Option<String>,
    pub(crate) extras: Vec<String>,
    pub(crate) accessibility: Vec<Accessibility>,
    pub(crate) sold_out: bool,
    pub(crate) cancelled: bool,
}

impl CleanTitle {
    pub(super) fn take(&mut self, label: Label) {
        match label {
            Label::Format(format) => {
                self.format.get_or_insert_with(|| format.to_owned());
            }
            Label::Extra(extra) => push_unique(&mut self.extras, extra),
            Label::Access(access) => push_unique(&mut self.accessibility, access),
            Label::SoldOut => self.sold_out = true,
            Label::Cancelled => self.cancelled = true,
        }
    }

    /// Takes every piece of `note` if each one is a known label.
    fn take_all(&mut self, note: &str) -> bool {
        self.take_labels(note, false)
    }

    /// Like [`CleanTitle::take_all`], but `strict` refuses free-form extras
    /// ("Talk to Her" reads like "talk …" yet is a film).
    fn take_labels(&mut self, note: &str, strict: bool) -> bool {
        let labels: Option<Vec<Label>> = note
            .split([',', '/', '|', ';', '+'])
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
            .map(|piece| {
                classify(piece)
                    .filter(|label| !strict || !matches!(label, Label::Extra(e) if e.contains(' ')))
            })
            .collect();
        match labels {
            Some(labels) if !labels.is_empty() => {
                labels.into_iter().for_each(|label| self.take(label));
                true
            }
            _ => false,
        }
    }
}

/// Takes a venue's title apart: `Once Upon a Time in the West (1968) [35mm] +
/// Q&A` → "Once Upon a Time in the West", 1968, "35mm", `["Q&A"]`.
///
/// Recognised: `[…]` notes anywhere; trailing `(…)` notes that are a year or
/// known labels (others, like "(Director's Cut)", stay in the title);
/// ` + …` extras; a trailing ` - 35mm` / `: Q&A` when it is a known label; a
/// leading `SOLD OUT:` / `35mm:` likewise; a trailing "in 70mm".
pub(crate) fn clean_title(raw: &str) -> CleanTitle {
    static SQUARE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]").ok());
    static TRAILING_PAREN: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?P<rest>.*?)\s*\((?P<note>[^()]*)\)$").ok());
    static YEAR: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^(?:18|19|20)\d\d$").ok());
    static IN_FORMAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?P<rest>.*\S)\s+in\s+(?P<note>35mm|70mm|16mm|4k)$").ok()
    });

    let mut clean = CleanTitle::default();
    let mut title = collapse(raw);

    // " + Q&A + intro": everything after the first " + " is extras.
    if let Some((head, tail)) = title.split_once(" + ") {
        for piece in tail.split(" + ").map(str::trim).filter(|p| !p.is_empty()) {
            match classify(piece) {
                Some(label) => clean.take(label),
                None => push_unique(&mut clean.extras, piece.to_owned()),
            }
        }
        title = head.trim().to_owned();
    }
    // Square brackets are always notes, never part of a film's title.
    if let Some(square) = SQUARE.as_ref() {
        let notes: Vec<String> = square
            .captures_iter(&title)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
            .collect();
        for note in notes {
            if !clean.take_all(&note) {
                let note = note.trim();
                if YEAR.as_ref().is_some_and(|y| y.is_match(note)) {
                    clean.year = note.parse().ok();
                } else if !note.is_empty() {
                    push_unique(&mut clean.extras, note.to_owned());
                }
            }
        }
        title = collapse(&square.replace_all(&title, " "));
    }
    loop {
        let before = title.clone();
        if let Some(caps) = TRAILING_PAREN.as_ref().and_then(|re| re.captures(&title)) {
            let note = caps["note"].trim().to_owned();
            let rest = caps["rest"].trim().to_owned();
            if YEAR.as_ref().is_some_and(|y| y.is_match(&note)) && clean.year.is_none() {
                clean.year = note.parse().ok();
                title = rest;
            } else if clean.take_all(&note) {
                title = rest;
            }
        }
        for separator in [" - ", " – ", " — ", ": "] {
            if let Some((head, tail)) = title.rsplit_once(separator)
                && !head.trim().is_empty()
                && clean.take_all(tail)
            {
                title = head.trim().to_owned();
            }
        }
        if let Some((head, tail)) = title.split_once(": ")
            && !tail.trim().is_empty()
            && clean.take_labels(head, true)
        {
            title = tail.trim().to_owned();
        }
        if let Some(caps) = IN_FORMAT.as_ref().and_then(|re| re.captures(&title)) {
            let note = caps["note"].to_owned();
            let rest = caps["rest"].to_owned();
            if clean.take_all(&note) {
                title = rest;
            }
        }
        if title == before {
            break;
        }
    }
    let quotes: &[char] = &['"', '\'', '‘', '’', '“', '”'];
    clean.title = title.trim_matches(quotes).trim().to_owned();
    if clean.title.is_empty() {
        clean.title = collapse(raw);
    }
    clean
}

/// The key films are matched by: lower case, "&" as "and", punctuation
/// dropped, a leading article dropped ("The Godfather" = "Godfather, The").
pub fn title_key(title: &str) -> String {
    let mut lowered = title.to_lowercase().replace('&', " and ");
    for article in [", the", ", a", ", an"] {
        if let Some(head) = lowered.trim_end().strip_suffix(article) {
            lowered = head.to_owned();
            break;
        }
    }
    let words: String = lowered
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = words.split_whitespace().collect();
    if words.len() > 1 && matches!(words.first(), Some(&("the" | "a" | "an"))) {
        words.remove(0);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_and_extras_come_out_of_titles() {
        let clean = clean_title("Once Upon a Time in the West [35mm] + Q&A");
        assert_eq!(clean.title, "Once Upon a Time in the West");
        assert_eq!(clean.format.as_deref(), Some("35mm"));
        assert_eq!(clean.extras, vec!["Q&A"]);

        let clean = clean_title(
            "Once Upon a Time in the West (1968) [35mm] + intro + Q&A with Sir Christopher Frayling",
        );
        assert_eq!(clean.title, "Once Upon a Time in the West");
        assert_eq!(clean.year, Some(1968));
        assert_eq!(
            clean.extras,
            vec!["intro", "Q&A with Sir Christopher Frayling"]
        );

        let clean = clean_title("2001: A Space Odyssey - 70mm");
        assert_eq!(clean.title, "2001: A Space Odyssey");
        assert_eq!(clean.format.as_deref(), Some("70mm"));

        let clean = clean_title("Lawrence of Arabia in 70mm");
        assert_eq!(
            (clean.title.as_str(), clean.format.as_deref()),
            ("Lawrence of Arabia", Some("70mm"))
        );

        let clean = clean_title("SOLD OUT: The Good, the Bad and the Ugly (4K restoration)");
        assert_eq!(clean.title, "The Good, the Bad and the Ugly");
        assert_eq!(clean.format.as_deref(), Some("4K restoration"));
        assert!(clean.sold_out);

        let clean = clean_title("Paddington 2 (Parent & Baby, Audio Described)");
        assert_eq!(clean.title, "Paddington 2");
        assert_eq!(
            clean.accessibility,
            vec![Accessibility::BabyFriendly, Accessibility::AudioDescribed]
        );

        // Notes that are part of a title stay.
        assert_eq!(
            clean_title("Blade Runner (The Final Cut)").title,
            "Blade Runner (The Final Cut)"
        );
        assert_eq!(
            clean_title("Mission: Impossible").title,
            "Mission: Impossible"
        );
        assert_eq!(clean_title("  Jaws  (1975) ").year, Some(1975));
    }

    #[test]
    fn title_keys_ignore_case_punctuation_and_articles() {
        assert_eq!(
            title_key("The Good, the Bad & the Ugly"),
            "good the bad and the ugly"
        );
        assert_eq!(
            title_key("Good, the Bad and the Ugly, The"),
            "good the bad and the ugly"
        );
        assert_eq!(
            title_key("Once upon a time in the West"),
            title_key("ONCE UPON A TIME IN THE WEST")
        );
    }
}
