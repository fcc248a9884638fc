//! Argument checks shared by local commands and by frames from peers.

use crate::error::{ArgumentProblem, InvalidArgument};

/// Longest graph id or peer id, in characters (as in `PEER_GRAPH_PROPERTIES`).
pub const MAX_NAME_CHARS: usize = 256;

/// A graph id or peer id: non-empty, at most 256 characters, no control characters.
pub(crate) fn name(argument: &'static str, value: &str) -> Result<(), InvalidArgument> {
    let problem = if value.is_empty() {
        ArgumentProblem::Empty
    } else if value.is_ascii() {
        // The usual case, checked a byte at a time: each byte is one character, and the ASCII
        // control characters are exactly those below 0x20 and 0x7f.
        if value.len() > MAX_NAME_CHARS {
            ArgumentProblem::TooLong
        } else if value.bytes().any(|byte| byte.is_ascii_control()) {
            ArgumentProblem::ControlCharacter
        } else {
            return Ok(());
        }
    } else if value.chars().count() > MAX_NAME_CHARS {
        ArgumentProblem::TooLong
    } else if value.chars().any(char::is_control) {
        ArgumentProblem::ControlCharacter
    } else {
        return Ok(());
    };
    Err(InvalidArgument { argument, problem })
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
