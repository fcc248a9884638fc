//! Text a peer chose, made safe to print on a terminal.

use std::fmt::{self, Write};

/// Displays text a peer chose (a message, a file name, a peer id, a reason) with every control
/// character, and every character that reorders text on screen, written as an escape such as
/// `\u{1b}`: nothing a peer sends can move the cursor, clear the screen, or make one name look
/// like another.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if needs_escape(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Control characters (C0, DEL, C1) and the bidirectional marks, embeddings, overrides and
/// isolates.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_reordering_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            Shown("\u{1b}[2Jhi\tthere\u{7f}\u{85}").to_string(),
            "\\u{1b}[2Jhi\\u{9}there\\u{7f}\\u{85}"
        );
        assert_eq!(Shown("bob\u{202e}nimda").to_string(), "bob\\u{202e}nimda");
        assert_eq!(Shown("héllo ✓ 日本").to_string(), "héllo ✓ 日本");
    }
}
