//! iCalendar's line syntax: lines unfolded (a line starting with a space or
//! tab continues the one before), each content line split into name,
//! parameters and value (each property keeping its line number, so every
//! rejection can name it), TEXT values unescaped.

use crate::error::IngestError;

/// One unfolded content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Property {
    pub(super) line: usize,
    pub(super) name: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) value: String,
}

impl Property {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Unfolds physical lines into logical ones, each with its first line number.
pub(super) fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some((_, last)) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !raw.trim().is_empty() {
            lines.push((index + 1, raw.to_owned()));
        }
    }
    lines
}

/// Splits `name;param=value;param="quoted":value`.
pub(super) fn content_line(line: usize, text: &str) -> Result<Property, IngestError> {
    let bad = |why: &str| IngestError::row(format!("line {line}"), "bad_line", why.to_owned());
    let name_end = text
        .find([';', ':'])
        .ok_or_else(|| bad("not an iCalendar content line (no ':' between name and value)"))?;
    let name = text[..name_end].trim().to_ascii_uppercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad("not an iCalendar content line (bad property name)"));
    }
    let mut params = Vec::new();
    let mut rest = &text[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after
            .find('=')
            .ok_or_else(|| bad("a parameter has no '='"))?;
        let param = after[..eq].trim().to_ascii_uppercase();
        let mut value = String::new();
        let mut tail = &after[eq + 1..];
        loop {
            if let Some(quoted) = tail.strip_prefix('"') {
                let close = quoted
                    .find('"')
                    .ok_or_else(|| bad("a quoted parameter value never ends"))?;
                value.push_str(&quoted[..close]);
                tail = &quoted[close + 1..];
            } else {
                let end = tail.find([';', ':', ',']).unwrap_or(tail.len());
                value.push_str(&tail[..end]);
                tail = &tail[end..];
            }
            match tail.strip_prefix(',') {
                Some(more) => {
                    value.push(',');
                    tail = more;
                }
                None => break,
            }
        }
        params.push((param, value));
        rest = tail;
    }
    let value = rest
        .strip_prefix(':')
        .ok_or_else(|| bad("not an iCalendar content line (no ':' before the value)"))?;
    Ok(Property {
        line,
        name,
        params,
        value: value.to_owned(),
    })
}

/// TEXT values: `\n`, `\,`, `\;`, `\\` unescaped.
pub(super) fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A list of TEXT values split on unescaped commas.
pub(super) fn text_list(value: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ',') => items.push(String::new()),
            (true, _) => {
                escaped = false;
                if let Some(last) = items.last_mut() {
                    last.push('\\');
                    last.push(c);
                }
            }
            (false, _) => {
                if let Some(last) = items.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    items
        .iter()
        .map(|i| unescape(i).trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}
