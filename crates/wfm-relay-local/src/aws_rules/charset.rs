//! The SQS message character set (SQS API Reference, SendMessage, `MessageBody`): bodies and
//! String/Number attribute values may hold only
//! `#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`; anything else (U+0001,
//! U+FFFE, U+FFFF, …) is refused with `InvalidMessageContents`. moto 5.2.5 accepts every
//! character, so only this layer shows the refusal locally.

/// Whether `c` is in the SQS message character set.
pub fn allowed(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// The first character of `s` outside the SQS character set, if any.
pub fn first_invalid(s: &str) -> Option<char> {
    s.chars().find(|c| !allowed(*c))
}

/// The message AWS gives with `InvalidMessageContents` for the character `c`, e.g.
/// `Invalid binary character '#xFFFF' was found in the message body, …`.
pub fn refusal_message(c: char, place: &str) -> String {
    format!(
        "Invalid binary character '#x{:X}' was found in the {place}, the set of allowed \
         characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        u32::from(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundaries_of_each_range() {
        let cases = [
            ('\u{0}', false),
            ('\u{1}', false),
            ('\u{8}', false),
            ('\u{9}', true),
            ('\u{A}', true),
            ('\u{B}', false),
            ('\u{C}', false),
            ('\u{D}', true),
            ('\u{E}', false),
            ('\u{1F}', false),
            ('\u{20}', true),
            ('\u{D7FF}', true),
            ('\u{E000}', true),
            ('\u{FFFD}', true),
            ('\u{FFFE}', false),
            ('\u{FFFF}', false),
            ('\u{10000}', true),
            ('\u{10FFFF}', true),
        ];
        for (c, want) in cases {
            assert_eq!(allowed(c), want, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn first_invalid_finds_the_first_refused_character() {
        assert_eq!(first_invalid("Lunch \u{FFFD} back"), None);
        assert_eq!(first_invalid("a\u{FFFF}b\u{FFFE}"), Some('\u{FFFF}'));
        assert_eq!(first_invalid("tab\tnewline\n\u{1}"), Some('\u{1}'));
        assert_eq!(first_invalid(""), None);
    }

    #[test]
    fn refusal_message_names_the_code_point_in_hex() {
        let m = refusal_message('\u{FFFF}', "message body");
        assert!(m.starts_with("Invalid binary character '#xFFFF' was found in the message body"));
    }
}
