//! The network crate's errors: an option value that does not parse, or a backend that
//! cannot start. Each `Display` is the one-line message a user sees (after `armvex: `).

use std::fmt;

/// Why a `--netdev` value was refused or its backend could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetError {
    /// A malformed option value; the message names the option (`--netdev user hostfwd=...`).
    Spec(String),
    /// A backend that could not start: no such tap interface, a forwarded port in use, no
    /// user-mode networking built in. Shown as "`--netdev ID: problem`".
    Backend {
        /// The netdev's id.
        id: String,
        /// What went wrong, in the backend's words.
        problem: String,
    },
}

impl NetError {
    /// The message with the option's name `from` replaced by `to` (the `--nic` front end
    /// parses its value as a `--netdev` one).
    pub fn renamed(self, from: &str, to: &str) -> NetError {
        match self {
            NetError::Spec(s) => NetError::Spec(s.replace(from, to)),
            other => other,
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Spec(message) => f.write_str(message),
            NetError::Backend { id, problem } => write!(f, "--netdev {id}: {problem}"),
        }
    }
}

impl std::error::Error for NetError {}

/// Callers that still report errors as strings keep working with `?`.
impl From<NetError> for String {
    fn from(e: NetError) -> String {
        e.to_string()
    }
}
