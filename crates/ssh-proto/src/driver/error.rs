//! The error type of the drivers' calls, one for all drivers so that code moving between
//! them handles the same cases.

use core::fmt;
use std::io;

use crate::DisconnectReason;
use crate::connection::{ChannelError, OpenFailure};

/// Why a driver's call failed (a `Session`'s or a `Channel`'s, blocking or async).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the stream failed.
    Io(io::Error),
    /// The protocol core refused a command or the peer broke the protocol.
    Protocol(crate::Error),
    /// The connection is gone: the peer or we disconnected, or the stream ended.
    Disconnected {
        /// The reason code.
        reason: DisconnectReason,
        /// The description sent or received.
        description: String,
    },
    /// The call did not finish within its timeout.
    Timeout(&'static str),
    /// The host key was refused (by the policy or the verifier).
    HostKeyRejected(String),
    /// The server refused every authentication method tried.
    AuthFailed {
        /// The methods the server still allows.
        allowed: Vec<String>,
    },
    /// The server refused to open the channel.
    ChannelOpen {
        /// The reason code.
        reason: OpenFailure,
        /// The server's description.
        description: String,
    },
    /// The server refused a channel request (`exec`, `pty-req`, …).
    RequestRefused(String),
    /// A channel command failed.
    Channel(ChannelError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => write!(f, "{e}"),
            Self::Disconnected { reason, description } => write!(f, "disconnected ({reason}): {description}"),
            Self::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Self::HostKeyRejected(why) => write!(f, "host key rejected: {why}"),
            Self::AuthFailed { allowed } => {
                write!(f, "authentication failed; the server allows: {}", allowed.join(","))
            }
            Self::ChannelOpen { reason, description } => write!(f, "channel refused ({reason:?}): {description}"),
            Self::RequestRefused(name) => write!(f, "the server refused the {name} request"),
            Self::Channel(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Channel(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        Self::Protocol(e)
    }
}

impl From<ChannelError> for Error {
    fn from(e: ChannelError) -> Self {
        Self::Channel(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::Disconnected { .. } => io::Error::new(io::ErrorKind::ConnectionAborted, e),
            other => io::Error::other(other),
        }
    }
}
