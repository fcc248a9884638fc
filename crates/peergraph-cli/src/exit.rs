//! Every way the command can fail, and the exit code of each: the one place that mapping lives.

use std::fmt;
use std::process::ExitCode;

use peergraph::{AuthFailure, FailReason};

/// A class of failure; each has its own exit code so scripts can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// Anything not covered below.
    Other,
    /// Bad command line or address syntax (clap's own usage errors use 2 as well).
    Usage,
    /// Nothing answered at the address.
    Unreachable,
    /// The target refused: no such graph or peer id there, or not accepting connections.
    Refused,
    /// The graph secret did not match (or one side has none).
    WrongSecret,
    /// The peer proved an identity other than the one pinned after `#`.
    IdentityMismatch,
    /// A file to send, a secret file or a directory is missing or unreadable.
    File,
    /// The connection handshake did not finish in time.
    TimedOut,
    /// A transfer did not complete: checksum mismatch, receiver error, or connection lost.
    TransferFailed,
}

impl ErrorClass {
    /// Every class, in exit-code order, for the help table.
    const ALL: [ErrorClass; 9] = [
        Self::Other,
        Self::Usage,
        Self::Unreachable,
        Self::Refused,
        Self::WrongSecret,
        Self::IdentityMismatch,
        Self::File,
        Self::TimedOut,
        Self::TransferFailed,
    ];

    /// The process exit code of this class.
    pub(crate) const fn exit_code(self) -> u8 {
        match self {
            Self::Other => 1,
            Self::Usage => 2,
            Self::Unreachable => 3,
            Self::Refused => 4,
            Self::WrongSecret => 5,
            Self::IdentityMismatch => 6,
            Self::File => 7,
            Self::TimedOut => 8,
            Self::TransferFailed => 9,
        }
    }

    const fn summary(self) -> &'static str {
        match self {
            Self::Other => "any other error",
            Self::Usage => "bad usage or bad address syntax",
            Self::Unreachable => "peer unreachable (nothing listens at the address)",
            Self::Refused => "refused (no such graph or peer id at the address)",
            Self::WrongSecret => "wrong or missing graph secret",
            Self::IdentityMismatch => "the peer's identity is not the one after `#`",
            Self::File => "missing or unreadable file or directory",
            Self::TimedOut => "connection handshake timed out",
            Self::TransferFailed => {
                "transfer failed (checksum mismatch, receiver error, link lost)"
            }
        }
    }

    /// The class of a failed connection attempt.
    pub(crate) fn of_fail_reason(reason: FailReason) -> Self {
        match reason {
            FailReason::Refused => Self::Refused,
            FailReason::NotAuthenticated(AuthFailure::MembershipProof) => Self::WrongSecret,
            FailReason::NotAuthenticated(AuthFailure::IdentityMismatch) => Self::IdentityMismatch,
            FailReason::Unreachable => Self::Unreachable,
            FailReason::TimedOut => Self::TimedOut,
            _ => Self::Other,
        }
    }
}

/// The exit-code table shown after `--help`, built from [`ErrorClass`] so it cannot drift.
pub(crate) fn help_table() -> String {
    let mut table = String::from("Exit codes:\n  0  success\n");
    for class in ErrorClass::ALL {
        table.push_str(&format!("  {}  {}\n", class.exit_code(), class.summary()));
    }
    table
}

/// A failure to report: one line on stderr and the class's exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) class: ErrorClass,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }

    /// A failed connection attempt to `target`.
    pub(crate) fn connect(target: &str, reason: FailReason) -> Self {
        Self::new(
            ErrorClass::of_fail_reason(reason),
            format!("cannot connect to {target}: {reason}"),
        )
    }

    pub(crate) fn other(message: impl fmt::Display) -> Self {
        Self::new(ErrorClass::Other, message.to_string())
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.class.exit_code())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the source said.
        f.write_str(&self.message.replace('\n', " "))
    }
}

/// What every command returns.
pub(crate) type Outcome = Result<(), Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_listed() {
        let mut codes: Vec<u8> = ErrorClass::ALL.iter().map(|c| c.exit_code()).collect();
        codes.dedup();
        assert_eq!(codes, (1..=9).collect::<Vec<u8>>());
        assert!(help_table().contains("  5  wrong or missing graph secret"));
    }
}
