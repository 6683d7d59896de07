//! How the CLI prints: aligned tables and short summaries for people, the
//! API's JSON for scripts (`-o json`), colour only on a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::ValueEnum;
use serde::Serialize;

/// What `-o` / `--output` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and summaries for a person at a terminal.
    #[default]
    Table,
    /// The API's payload as pretty JSON, for scripts.
    Json,
}

/// A cell's colour, chosen by what the value means for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Plain,
    /// Done, healthy.
    Good,
    /// Needs a look: paused, held, skipped, lagging.
    Warn,
    /// Failed, erroring.
    Bad,
    /// Secondary detail (ids, notes).
    Dim,
}

impl Tone {
    fn code(self) -> Option<&'static str> {
        match self {
            Self::Plain => None,
            Self::Good => Some("32"),
            Self::Warn => Some("33"),
            Self::Bad => Some("31"),
            Self::Dim => Some("2"),
        }
    }
}

/// Where and when the output is read: the instant "3 min ago" counts from,
/// and whether escape codes would reach a terminal.
#[derive(Debug, Clone, Default)]
pub(super) struct View {
    pub(super) now: DateTime<Utc>,
    pub(super) colour: bool,
    /// Each schedule's time zone, so a run's times read as its schedule's.
    pub(super) zones: BTreeMap<String, String>,
}

impl View {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or
    /// empty (no-color.org).
    pub(super) fn terminal(now: DateTime<Utc>) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self {
            now,
            colour: std::io::stdout().is_terminal() && !no_color,
            zones: BTreeMap::new(),
        }
    }

    pub(super) fn paint(&self, tone: Tone, text: &str) -> String {
        match tone.code() {
            Some(code) if self.colour && !text.is_empty() => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_owned(),
        }
    }

    /// `3 min ago`, `in 2 days`, `just now`.
    pub(super) fn ago(&self, at: DateTime<Utc>) -> String {
        let seconds = (self.now - at).num_seconds();
        let (amount, unit) = match seconds.unsigned_abs() {
            0..=9 => return "just now".to_owned(),
            s @ 10..=59 => (s, "s"),
            s @ 60..=3_599 => (s / 60, "min"),
            s @ 3_600..=86_399 => (s / 3_600, "h"),
            s => (s / 86_400, if s < 172_800 { "day" } else { "days" }),
        };
        if seconds >= 0 {
            format!("{amount} {unit} ago")
        } else {
            format!("in {amount} {unit}")
        }
    }

    /// `at` in `schedule`'s zone (UTC for a schedule no longer listed).
    pub(super) fn local_to(&self, schedule: &str, at: DateTime<Utc>) -> String {
        local(at, self.zones.get(schedule).map_or("UTC", String::as_str))
    }

    /// [`Self::ago`], or `never`.
    pub(super) fn ago_or_never(&self, at: Option<DateTime<Utc>>) -> String {
        at.map_or_else(|| "never".to_owned(), |at| self.ago(at))
    }
}

/// `Thu 3 Dec 08:30 GMT`: an instant as it reads in `zone` (UTC when the
/// zone is unknown to this build, said as such).
pub(super) fn local(at: DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<Tz>() {
        Ok(zone) => at
            .with_timezone(&zone)
            .format("%a %-d %b %H:%M %Z")
            .to_string(),
        Err(_) => at.format("%a %-d %b %H:%M UTC").to_string(),
    }
}

/// Cuts `text` to `width` characters on one line, ending in `…` when cut.
pub(super) fn clip(text: &str, width: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= width {
        line
    } else {
        let kept: String = line.chars().take(width.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Columns aligned on the widest cell; numbers right-aligned.
pub(super) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<(String, Tone)>>,
    right: Vec<bool>,
}

impl Table {
    pub(super) fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
            right: vec![false; headers.len()],
        }
    }

    /// Right-aligns the columns at `columns` (counts, offsets).
    pub(super) fn numeric(mut self, columns: &[usize]) -> Self {
        for &column in columns {
            self.right[column] = true;
        }
        self
    }

    pub(super) fn row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    /// The table, or `empty` when it has no rows.
    pub(super) fn render(&self, view: &View, empty: &str) -> String {
        if self.rows.is_empty() {
            return format!("{empty}\n");
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, (cell, _)) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<(String, Tone)> = self
            .headers
            .iter()
            .map(|h| ((*h).to_owned(), Tone::Plain))
            .collect();
        for (index, row) in std::iter::once(&header).chain(&self.rows).enumerate() {
            let mut line = String::new();
            for (column, (cell, tone)) in row.iter().enumerate() {
                let pad = widths[column].saturating_sub(cell.chars().count());
                let last = column + 1 == row.len();
                let painted = if index == 0 && view.colour {
                    format!("\x1b[1m{cell}\x1b[0m")
                } else {
                    view.paint(*tone, cell)
                };
                if column > 0 {
                    line.push_str("  ");
                }
                if self.right[column] {
                    let _ = write!(line, "{}{painted}", " ".repeat(pad));
                } else if last {
                    line.push_str(&painted);
                } else {
                    let _ = write!(line, "{painted}{}", " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `label: value` lines with the labels aligned, for one object.
pub(super) fn summary(view: &View, lines: &[(&str, String)]) -> String {
    let width = lines
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|(label, value)| {
            let label = format!("{label}:{}", " ".repeat(width - label.len()));
            format!("{}  {value}\n", view.paint(Tone::Dim, &label))
        })
        .collect()
}

/// What a person reads for an answer; its JSON form is the value itself.
pub(super) trait Human {
    fn human(&self, view: &View) -> String;
}

/// Prints `value` as `format` asks.
pub(super) fn print<T: Serialize + Human>(
    value: &T,
    format: Format,
    view: &View,
) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Format::Table => print!("{}", value.human(view)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn ages_read_as_a_person_says_them() {
        let view = View {
            now: at("2026-12-03T08:30:00Z"),
            ..View::default()
        };
        assert_eq!(view.ago(at("2026-12-03T08:29:55Z")), "just now");
        assert_eq!(view.ago(at("2026-12-03T08:29:15Z")), "45 s ago");
        assert_eq!(view.ago(at("2026-12-03T08:27:00Z")), "3 min ago");
        assert_eq!(view.ago(at("2026-12-03T05:00:00Z")), "3 h ago");
        assert_eq!(view.ago(at("2026-12-02T08:00:00Z")), "1 day ago");
        assert_eq!(view.ago(at("2026-11-26T08:30:00Z")), "7 days ago");
        assert_eq!(view.ago(at("2026-12-05T08:30:00Z")), "in 2 days");
        assert_eq!(view.ago_or_never(None), "never");
    }

    #[test]
    fn local_times_carry_the_zone_and_its_summer_time() {
        assert_eq!(
            local(at("2026-12-03T08:30:00Z"), "Europe/London"),
            "Thu 3 Dec 08:30 GMT"
        );
        assert_eq!(
            local(at("2026-07-02T07:30:00Z"), "Europe/London"),
            "Thu 2 Jul 08:30 BST"
        );
        assert_eq!(
            local(at("2026-07-02T07:30:00Z"), "Mars/Olympus"),
            "Thu 2 Jul 07:30 UTC"
        );
    }

    #[test]
    fn columns_align_and_colour_only_when_asked() {
        let mut table = Table::new(&["NAME", "COUNT", "STATE"]).numeric(&[1]);
        table.row(vec![
            ("weekly".to_owned(), Tone::Plain),
            ("7".to_owned(), Tone::Plain),
            ("paused".to_owned(), Tone::Warn),
        ]);
        table.row(vec![
            ("a".to_owned(), Tone::Plain),
            ("1234".to_owned(), Tone::Plain),
            ("ok".to_owned(), Tone::Good),
        ]);
        let plain = View {
            now: at("2026-12-03T08:30:00Z"),
            ..View::default()
        };
        assert_eq!(
            table.render(&plain, "none"),
            "NAME    COUNT  STATE\nweekly      7  paused\na        1234  ok\n"
        );
        let coloured = View {
            colour: true,
            ..plain.clone()
        };
        let text = table.render(&coloured, "none");
        assert!(text.contains("\x1b[33mpaused\x1b[0m"), "{text:?}");
        assert!(!table.render(&plain, "none").contains('\x1b'));
        assert_eq!(
            Table::new(&["NAME"]).render(&plain, "No schedules."),
            "No schedules.\n"
        );
        assert_eq!(clip("a\nlong   reason", 8), "a long …");
    }
}
