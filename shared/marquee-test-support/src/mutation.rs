//! Malformed inputs for the parsers' property tests: a real, valid document
//! broken by a few random edits (junk inserted, spans deleted, duplicated or
//! cut off), which reaches deeper into a parser than random text does.

use proptest::prelude::*;

/// Fragments that have broken parsers before: control characters, markup
/// and format keywords out of place, odd Unicode, a long run.
const JUNK: &[&str] = &[
    "\0",
    "\r\n",
    "\r",
    "\n\n\n",
    "<",
    ">",
    "&",
    "&#0;",
    "&#x110000;",
    "]]>",
    "<![CDATA[",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    "\\",
    "BEGIN:VEVENT\n",
    "END:VCALENDAR\n",
    "DTSTART;TZID=Nowhere/Land:20261301T250000\n",
    "RRULE:FREQ=SECONDLY;COUNT=99999999\n",
    "<script>alert(1)</script>",
    "<item>",
    "</channel>",
    "{\"@type\":",
    "null",
    "-1",
    "99999999999999999999",
    "1e309",
    "\u{FEFF}",
    "\u{202E}",
    "\u{FFFF}",
    "🎬",
    " ",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, &'static str),
    Delete(f64, f64),
    Duplicate(f64, f64),
    Truncate(f64),
    Repeat(&'static str, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    let junk = prop::sample::select(JUNK);
    prop_oneof![
        (at.clone(), junk.clone()).prop_map(|(at, j)| Edit::Insert(at, j)),
        (at.clone(), 0.0..0.2f64).prop_map(|(at, len)| Edit::Delete(at, len)),
        (at.clone(), 0.0..0.2f64).prop_map(|(at, len)| Edit::Duplicate(at, len)),
        at.prop_map(Edit::Truncate),
        (junk, 1..5_000usize).prop_map(|(j, n)| Edit::Repeat(j, n)),
    ]
}

/// The char boundary nearest `fraction` of the way through `text`.
fn boundary(text: &str, fraction: f64) -> usize {
    let mut at = ((text.len() as f64) * fraction.clamp(0.0, 1.0)) as usize;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut text: String, edit: &Edit) -> String {
    match *edit {
        Edit::Insert(at, junk) => text.insert_str(boundary(&text, at), junk),
        Edit::Delete(at, len) => {
            let (from, to) = (boundary(&text, at), boundary(&text, at + len));
            text.replace_range(from..to, "");
        }
        Edit::Duplicate(at, len) => {
            let (from, to) = (boundary(&text, at), boundary(&text, at + len));
            let copy = text[from..to].to_owned();
            text.insert_str(to, &copy);
        }
        Edit::Truncate(at) => text.truncate(boundary(&text, at)),
        Edit::Repeat(junk, times) => {
            let at = boundary(&text, 0.5);
            text.insert_str(at, &junk.repeat(times));
        }
    }
    text
}

/// `valid` with one to eight random edits.
pub fn mutated(valid: &str) -> impl Strategy<Value = String> + use<> {
    let valid = valid.to_owned();
    prop::collection::vec(edit(), 1..8)
        .prop_map(move |edits| edits.iter().fold(valid.clone(), apply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_text_valid_utf8_at_any_position() {
        let text = "héllo 🎬 wörld".to_owned();
        for edit in [
            Edit::Insert(0.33, "\0"),
            Edit::Delete(0.1, 0.5),
            Edit::Duplicate(0.2, 0.3),
            Edit::Truncate(0.77),
            Edit::Repeat("ab", 3),
        ] {
            let edited = apply(text.clone(), &edit);
            assert_ne!(edited, text, "{edit:?} changed nothing");
        }
        assert_eq!(apply(text.clone(), &Edit::Truncate(0.0)), "");
    }
}
