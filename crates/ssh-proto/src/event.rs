//! What a connection reports to its driver.

use bytes::Bytes;

use crate::error::{DisconnectReason, Error};
use crate::hostkey::ServerHostKey;
use crate::transport::Negotiated;

/// Who ended a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// This side (an error it detected, a timeout, or [`close`](crate::client::Connection::close)).
    Local,
    /// The peer sent `SSH_MSG_DISCONNECT` or closed the stream.
    Peer,
}

/// Identifies one pending host key decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostKeyToken(pub(crate) u64);

/// Something the driver should know or decide. Events come out of `poll_event` in the
/// order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Client: the server proved possession of this host key in the first key exchange.
    /// Nothing else is processed until the driver calls `accept_host_key(token)` or
    /// `reject_host_key(token)`. Re-exchanges must present the same key and raise no event.
    HostKey {
        /// Pass back to answer.
        token: HostKeyToken,
        /// The verified key (or certificate).
        key: Box<ServerHostKey>,
    },
    /// A key exchange finished: new keys are in force in both directions.
    KeysExchanged {
        /// What was negotiated.
        negotiated: Negotiated,
        /// Whether this was the first exchange of the connection.
        initial: bool,
    },
    /// Client: the server accepted a service request.
    ServiceAccepted {
        /// The service name.
        service: String,
    },
    /// Client: the server sent `SSH_MSG_EXT_INFO` (RFC 8308).
    ExtInfo {
        /// The algorithms of `server-sig-algs`, if announced.
        server_sig_algs: Option<Vec<String>>,
        /// Whether the server announced `ping@openssh.com`.
        ping: bool,
    },
    /// The peer sent `SSH_MSG_DEBUG`.
    Debug {
        /// Whether the peer asked for it to be shown.
        always_display: bool,
        /// The message (lossily decoded).
        message: String,
    },
    /// The peer answered a `ping@openssh.com` with this data.
    Pong {
        /// The data echoed.
        data: Bytes,
    },
    /// The peer did not understand the packet with this sequence number.
    Unimplemented {
        /// Sequence number of our packet.
        seq: u32,
    },
    /// The connection ended. Always the last event, and raised exactly once.
    Disconnected {
        /// The reason code (sent or received).
        reason: DisconnectReason,
        /// The description (sent or received).
        description: String,
        /// Who ended it.
        initiator: Initiator,
        /// The error behind a local disconnect or a lost stream.
        error: Option<Error>,
    },
}
