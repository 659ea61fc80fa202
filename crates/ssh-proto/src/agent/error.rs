//! Why an agent message could not be decoded, encoded or answered.

use core::fmt;

use crate::wire::WireError;

/// An agent protocol error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentError {
    /// A field was malformed (truncated, trailing bytes, bad UTF-8, …).
    Wire(WireError),
    /// A message of length zero (there is no message number to read).
    EmptyMessage,
    /// A message number this side of the protocol does not know.
    UnknownMessage(u8),
    /// A frame longer than the configured maximum; the stream cannot be resynchronised.
    TooLong {
        /// The length the frame announced.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The client sent more than `limit` bytes while a request waited for a confirmation.
    Backlog {
        /// Bytes waiting.
        buffered: usize,
        /// The limit.
        limit: usize,
    },
    /// A private key, public key or certificate could not be read or written.
    Key(String),
    /// A response arrived with no request outstanding.
    UnexpectedResponse,
    /// The answer to a request was a different kind of response (for example
    /// `SSH_AGENT_FAILURE` to a sign request).
    Refused,
    /// A decision token that is not (or no longer) pending.
    UnknownToken,
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wire(e) => write!(f, "malformed agent message: {e}"),
            Self::EmptyMessage => f.write_str("empty agent message"),
            Self::UnknownMessage(n) => write!(f, "unknown agent message number {n}"),
            Self::TooLong { len, max } => write!(f, "agent message of {len} bytes exceeds the {max}-byte limit"),
            Self::Backlog { buffered, limit } => {
                write!(f, "{buffered} bytes sent while a confirmation was pending (limit {limit})")
            }
            Self::Key(e) => write!(f, "agent key: {e}"),
            Self::UnexpectedResponse => f.write_str("agent response without a pending request"),
            Self::Refused => f.write_str("the agent refused the request"),
            Self::UnknownToken => f.write_str("no agent decision is pending for that token"),
        }
    }
}

impl std::error::Error for AgentError {}

impl From<WireError> for AgentError {
    fn from(e: WireError) -> Self {
        Self::Wire(e)
    }
}

impl From<ssh_key::Error> for AgentError {
    fn from(e: ssh_key::Error) -> Self {
        Self::Key(e.to_string())
    }
}

impl From<ssh_encoding::Error> for AgentError {
    fn from(e: ssh_encoding::Error) -> Self {
        Self::Key(e.to_string())
    }
}
