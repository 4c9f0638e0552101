//! Text people read: what a name or a description may hold. Text is normalised to NFC first (so
//! the same visible string is stored, compared and counted one way), then checked by Unicode
//! general category, not by a hand-kept list.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a text was refused: a short code for clients and a sentence for people.
pub(crate) type Refusal = (&'static str, &'static str);

/// Names and display names: visible characters and ordinary spaces only. Refused: control (Cc)
/// and format (Cf: zero-width characters, bidi overrides) characters, line and paragraph
/// separators (Zl, Zp), private-use, surrogate and unassigned code points. The zero-width joiner
/// is format too: emoji joined into one (👩‍💻) belong in descriptions; single emoji are fine.
pub fn name(raw: &str) -> Result<String, Refusal> {
    let text: String = raw.trim().nfc().collect();
    if let Some(c) = text.chars().find(|c| !allowed_in_name(*c)) {
        return Err(("invalid", refusal_reason(c)));
    }
    Ok(text)
}

/// Descriptions: as free as text gets (line breaks, tabs, emoji sequences with their joiners,
/// any script), but no control characters beyond line breaks and tabs, and no bidi overrides or
/// isolates, which can make text display in another order than it is stored.
pub fn description(raw: &str) -> Result<String, Refusal> {
    let text: String = raw.nfc().collect();
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(("invalid", "must not contain control characters other than line breaks and tabs"));
    }
    if text.chars().any(is_bidi_control) {
        return Err(("invalid", "must not contain bidirectional override or isolate characters"));
    }
    Ok(text)
}

fn allowed_in_name(c: char) -> bool {
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

fn refusal_reason(c: char) -> &'static str {
    match c.general_category() {
        GeneralCategory::Control => "must not contain control characters",
        GeneralCategory::Format => "must not contain invisible formatting characters (zero-width, bidi controls)",
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => "must be a single line",
        _ => "must not contain private-use or unassigned characters",
    }
}

/// U+202A–U+202E (embeddings, overrides) and U+2066–U+2069 (isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_invisible_direction_changing_and_multi_line_text() {
        for bad in [
            "\u{200B}",
            "\u{202E}gnp.exe",
            "a\u{2028}b",
            "a\u{2029}b",
            "x\u{E000}",
            "x\u{0378}",
            "a\u{7}b",
            "\u{FEFF}x",
        ] {
            assert!(name(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["Lamp", "Лампа", "ランプ", "café", "💻 desk", "A  B"] {
            assert!(name(good).is_ok(), "{good:?} must be accepted");
        }
    }

    #[test]
    fn text_is_stored_in_nfc() {
        let decomposed = "cafe\u{301}";
        assert_eq!(name(decomposed).unwrap(), "caf\u{e9}");
        assert_eq!(name(decomposed).unwrap().chars().count(), 4, "counted after normalising");
        assert_eq!(description(decomposed).unwrap(), "caf\u{e9}");
    }

    #[test]
    fn descriptions_allow_line_breaks_and_joiners_but_not_bidi_overrides() {
        assert!(description("line one\nline two\u{2028}three 👩\u{200D}💻").is_ok());
        assert!(description("\u{202E}evil").is_err());
        assert!(description("\u{2066}isolated\u{2069}").is_err());
        assert!(description("bell\u{7}").is_err());
    }
}
