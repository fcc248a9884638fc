//! Argument checks shared by local commands and by frames from peers.

use crate::error::{ArgumentProblem, InvalidArgument};

/// Longest graph id or peer id, in characters (as in `PEER_GRAPH_PROPERTIES`).
pub const MAX_NAME_CHARS: usize = 256;

/// A graph id or peer id: non-empty, at most 256 characters, no control characters.
pub(crate) fn name(argument: &'static str, value: &str) -> Result<(), InvalidArgument> {
    // The usual case first: short printable ASCII, checked in one branch-free pass over the bytes
    // (one byte is one character there, and nothing below 0x20 or at 0x7f is printable).
    if value.len() <= MAX_NAME_CHARS && !value.is_empty() && printable_ascii(value) {
        return Ok(());
    }
    let problem = if value.is_empty() {
        ArgumentProblem::Empty
    } else if value.chars().count() > MAX_NAME_CHARS {
        ArgumentProblem::TooLong
    } else if value.chars().any(char::is_control) {
        ArgumentProblem::ControlCharacter
    } else {
        return Ok(());
    };
    Err(InvalidArgument { argument, problem })
}

/// Whether every byte is printable ASCII (0x20 to 0x7e).
fn printable_ascii(value: &str) -> bool {
    value.bytes().fold(true, |printable, byte| {
        printable & (byte.wrapping_sub(0x20) < 0x5f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(value: &str) -> Option<ArgumentProblem> {
        name("name", value).err().map(|error| error.problem)
    }

    #[test]
    fn ascii_and_other_names_follow_the_same_rules() {
        let at_most = |c: &str| c.repeat(MAX_NAME_CHARS);
        assert_eq!(problem(&at_most("x")), None);
        assert_eq!(problem(&at_most("é")), None, "characters, not bytes");
        assert_eq!(
            problem(&(at_most("x") + "x")),
            Some(ArgumentProblem::TooLong)
        );
        assert_eq!(
            problem(&(at_most("é") + "é")),
            Some(ArgumentProblem::TooLong)
        );
        for control in ["\u{0}", "\u{1f}", "\u{7f}", "\u{85}"] {
            let value = format!("a{control}b");
            assert_eq!(
                problem(&value),
                Some(ArgumentProblem::ControlCharacter),
                "{value:?}"
            );
        }
        assert_eq!(problem(" ~"), None, "printable ASCII edges");
    }
}
