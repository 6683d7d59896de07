//! XML text: what XML 1.0 can carry at all (the writers escape markup).

use std::borrow::Cow;

/// `text` without the characters XML 1.0 cannot carry at all (most C0
/// controls, U+FFFE, U+FFFF), which would make the whole feed unparseable.
pub(super) fn xml_text(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    // Bytes, not chars: this runs over every body of every feed rendered.
    // Below 0x80 a byte is its character; U+FFFE and U+FFFF are EF BF BE/BF.
    let bytes = text.as_bytes();
    let clean = bytes
        .iter()
        .all(|&b| b >= b' ' || matches!(b, b'\t' | b'\n' | b'\r'))
        && !bytes
            .windows(3)
            .any(|w| matches!(w, [0xEF, 0xBF, 0xBE | 0xBF]));
    if clean {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The byte scan lets through exactly what XML 1.0 can carry.
        #[test]
        fn xml_text_drops_exactly_what_xml_cannot_carry(
            text in "[a<&\t\n\r\u{0}\u{1}\u{1F}\u{7F}\u{85}é\u{FFFD}\u{FFFE}\u{FFFF}\u{EFBF}\u{1F3AC}]{0,24}"
        ) {
            let expected: String = text
                .chars()
                .filter(|&c| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}'))
                .collect();
            proptest::prop_assert_eq!(xml_text(&text), expected);
        }
    }

    #[test]
    fn text_is_made_safe_for_xml() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td"), "abc\td");
    }
}
