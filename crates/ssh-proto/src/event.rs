//! What a connection reports to its driver.

use bytes::Bytes;

use crate::algorithm::HostKeyAlgorithm;
use crate::auth::{AuthAttempt, AuthToken, InfoRequest, SignToken};
use crate::connection::{
    ChannelId, ChannelKind, ChannelRequest, ExitStatus, GlobalReply, GlobalRequest, GlobalToken, OpenFailure,
    RequestToken,
};
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
    // ---- user authentication ---------------------------------------------------------------
    /// Client: the server's banner (`SSH_MSG_USERAUTH_BANNER`), to show to the user.
    AuthBanner {
        /// The text (lossily decoded, at most 64 Ki characters).
        message: String,
    },
    /// Authentication succeeded: the connection protocol is open. On a server, `user` is
    /// the authenticated user.
    AuthSuccess {
        /// The user name.
        user: String,
    },
    /// Client: the attempt failed. `methods` may continue; `partial_success` says the
    /// attempt itself succeeded but more methods are required.
    AuthFailure {
        /// Methods the server allows next.
        methods: Vec<String>,
        /// Whether this attempt succeeded as one step of several.
        partial_success: bool,
    },
    /// Client: the password has expired; answer with `auth_password_change`.
    AuthPasswordChange {
        /// The server's prompt.
        prompt: String,
    },
    /// Client: keyboard-interactive prompts; answer with `auth_info_response`.
    AuthPrompts(InfoRequest),
    /// Client: sign `data` with the external key (`Identity::External`) and answer with
    /// `provide_signature(token, signature_blob)`, or `signature_failed(token)`.
    AuthSign {
        /// Pass back to answer.
        token: SignToken,
        /// The key to sign with.
        key: Box<ssh_key::PublicKey>,
        /// The signature algorithm (for RSA: `rsa-sha2-512`, `rsa-sha2-256` or `ssh-rsa`).
        algorithm: HostKeyAlgorithm,
        /// The data to sign.
        data: Bytes,
    },
    /// Client: the server chose this GSS-API mechanism; start the context and send its
    /// first token with `gssapi_token`.
    GssapiMechanism {
        /// The mechanism OID (DER).
        oid: Bytes,
    },
    /// Client: a GSS-API context token from the server.
    GssapiToken {
        /// The token.
        token: Bytes,
    },
    /// Client: the server reported a GSS-API error.
    GssapiError {
        /// Major status.
        major: u32,
        /// Minor status.
        minor: u32,
        /// Message.
        message: String,
    },
    /// Client: the server sent a GSS-API error token.
    GssapiErrorToken {
        /// The token.
        token: Bytes,
    },
    /// Server: an authentication step to decide; answer with `auth_reply(token, …)`.
    /// Input waits for the answer (the protocol needs answers in order).
    AuthRequest {
        /// Pass back to answer.
        token: AuthToken,
        /// The user name.
        user: String,
        /// The service requested (`ssh-connection`).
        service: String,
        /// The method and its data.
        attempt: AuthAttempt,
    },

    // ---- connection protocol -------------------------------------------------------------
    /// The peer wants to open a channel; answer with `accept_channel(id)` or
    /// `reject_channel(id, …)`.
    ChannelOpenRequest {
        /// The channel (reserved until answered).
        id: ChannelId,
        /// What it is for.
        kind: ChannelKind,
    },
    /// A channel we opened is open.
    ChannelOpened {
        /// The channel.
        id: ChannelId,
    },
    /// A channel we opened was refused.
    ChannelOpenFailed {
        /// The channel (now gone).
        id: ChannelId,
        /// The reason code.
        reason: OpenFailure,
        /// The peer's description.
        description: String,
    },
    /// Data on a channel. Report it consumed with `channel_consumed` to let the peer send
    /// more: the window is replenished only then.
    ChannelData {
        /// The channel.
        id: ChannelId,
        /// The bytes (a view of the receive buffer).
        data: Bytes,
    },
    /// Extended data (type 1 is stderr), counted in the same window as data.
    ChannelExtendedData {
        /// The channel.
        id: ChannelId,
        /// The data type code.
        code: u32,
        /// The bytes.
        data: Bytes,
    },
    /// The peer will send no more data on this channel.
    ChannelEof {
        /// The channel.
        id: ChannelId,
    },
    /// A channel request of the peer. When `token` is set the peer wants an answer:
    /// `channel_request_reply(id, token, success)`.
    ChannelRequest {
        /// The channel.
        id: ChannelId,
        /// Set when a reply is wanted.
        token: Option<RequestToken>,
        /// The request.
        request: ChannelRequest,
    },
    /// The peer answered one of our want-reply channel requests (in the order sent).
    ChannelRequestResult {
        /// The channel.
        id: ChannelId,
        /// The request's name.
        request: String,
        /// Whether it succeeded.
        success: bool,
    },
    /// More data fits now on a channel that was blocked.
    ChannelWritable {
        /// The channel.
        id: ChannelId,
    },
    /// The channel is closed in both directions and its number may be reused. Carries the
    /// remote command's exit status or signal, when the peer sent one.
    ChannelClosed {
        /// The channel.
        id: ChannelId,
        /// `exit-status` / `exit-signal`, if any.
        exit: Option<ExitStatus>,
    },
    /// A global request of the peer. When `token` is set the peer wants an answer:
    /// `global_request_reply(token, …)`.
    GlobalRequest {
        /// Set when a reply is wanted.
        token: Option<GlobalToken>,
        /// The request.
        request: GlobalRequest,
    },
    /// The peer answered one of our want-reply global requests.
    GlobalRequestResult {
        /// The token `global_request` returned.
        token: GlobalToken,
        /// The answer.
        reply: GlobalReply,
    },
    /// Client: the server announced its host keys (`hostkeys-00@openssh.com`), for
    /// updating known_hosts after proving them with `prove_host_keys`.
    HostKeysAnnounced {
        /// The keys (blobs this crate could not parse are left out).
        keys: Vec<ssh_key::PublicKey>,
    },
    /// Client: the keys whose possession the server proved.
    HostKeysProved {
        /// The proven keys.
        keys: Vec<ssh_key::PublicKey>,
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
