//! Argument checks shared by local commands and by frames from peers.

use crate::error::{ArgumentProblem, InvalidArgument};

/// Longest graph id or peer id, in characters (as in `PEER_GRAPH_PROPERTIES`).
pub const MAX_NAME_CHARS: usize = 256;

/// A graph id or peer id: non-empty, at most 256 characters, no control characters.
pub(crate) fn name(argument: &'static str, value: &str) -> Result<(), InvalidArgument> {
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
