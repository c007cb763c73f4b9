//! Free text people type for others to read (names, gift and booking messages), and the
//! one rule every such text follows: no character that changes how the rest of the text
//! is shown without being seen itself.
//!
//! Refused: control characters (C0, DEL, C1) except the line feed in multi-line texts,
//! and the Unicode *format* characters (general category `Cf`) — bidirectional embeddings,
//! overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), zero-width
//! spaces and joiners (U+200B–U+200D, U+2060–U+2064, U+FEFF), the soft hyphen, interlinear
//! annotation and tag characters — plus the line and paragraph separators (U+2028/U+2029),
//! which some renderers take for line breaks. A bidirectional override can make a
//! recipient's name read as something else in an email or on a tablet; a zero-width
//! character makes two names that look the same differ. The price: an emoji built with a
//! zero-width joiner (👨‍👩‍👧) is refused; its parts alone are fine.

use crate::InvalidValue;
use serde::Serialize;

/// Whether `c` is a Unicode format character (general category `Cf`, Unicode 15).
pub fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F)
}

/// Whether `c` may appear in a text of this kind (see the module documentation).
pub fn is_allowed(c: char, multiline: bool) -> bool {
    if c == '\n' {
        return multiline;
    }
    !(c.is_control() || is_format(c) || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// Refuses `text` when it holds a character [`is_allowed`] refuses, naming `field` and the
/// first such character.
pub fn check(field: &'static str, text: &str, multiline: bool) -> Result<(), InvalidValue> {
    match text.chars().find(|c| !is_allowed(*c, multiline)) {
        None => Ok(()),
        Some(c) => Err(InvalidValue::new(
            field,
            format!(
                "must not contain control, format or invisible characters (found U+{:04X}{})",
                c as u32,
                if multiline {
                    "; only line breaks are allowed"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// A message for someone (a gift message, a message about a booking): CRLF and CR made
/// LF, trimmed, 1 to `max` characters, no character [`is_allowed`] refuses but line feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    /// Checks `raw` as the message named `field`, of at most `max` characters.
    pub fn parse(field: &'static str, raw: &str, max: usize) -> Result<Self, InvalidValue> {
        let normalized = raw.replace("\r\n", "\n").replace('\r', "\n");
        let text = normalized.trim();
        if text.is_empty() {
            return Err(InvalidValue::new(field, "the message is empty"));
        }
        let n = text.chars().count();
        if n > max {
            return Err(InvalidValue::new(
                field,
                format!("the message has {n} characters; at most {max} are allowed"),
            ));
        }
        check(field, text, true)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVISIBLE: [char; 16] = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
        '\u{00AD}', '\u{2028}',
    ];

    #[test]
    fn bidirectional_and_zero_width_characters_are_refused_everywhere() {
        for c in INVISIBLE {
            let s = format!("Zo{c}é");
            assert!(check("name", &s, false).is_err(), "U+{:04X}", c as u32);
            assert!(check("message", &s, true).is_err(), "U+{:04X}", c as u32);
            assert!(MessageText::parse("message", &s, 100).is_err());
        }
        let e = check("recipient_name", "a\u{202E}b", false).unwrap_err();
        assert_eq!(e.field, "recipient_name");
        assert!(e.message.contains("U+202E"), "{}", e.message);
    }

    #[test]
    fn line_feeds_are_allowed_in_messages_only_and_tabs_nowhere() {
        assert!(check("m", "a\nb", true).is_ok());
        assert!(check("n", "a\nb", false).is_err());
        assert!(check("m", "a\tb", true).is_err());
        assert!(check("m", "a\u{0}b", true).is_err());
        assert!(check("m", "a\u{85}b", true).is_err());
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for s in [
            "Zoé",
            "Ångström",
            "שלום",
            "مرحبا",
            "日本語",
            "Łódź 🎁",
            "O'Brien-Smith",
        ] {
            assert!(check("name", s, false).is_ok(), "{s}");
        }
    }

    #[test]
    fn messages_are_normalized_trimmed_and_bounded() {
        assert_eq!(
            MessageText::parse("message", "  bonjour\r\nà 19 h ?  ", 100)
                .unwrap()
                .as_str(),
            "bonjour\nà 19 h ?"
        );
        assert!(MessageText::parse("message", " \n ", 100).is_err());
        assert!(MessageText::parse("message", &"é".repeat(10), 10).is_ok());
        assert!(MessageText::parse("message", &"é".repeat(11), 10).is_err());
    }
}
