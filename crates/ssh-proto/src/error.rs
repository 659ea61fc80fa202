//! Typed errors, each mapped to the SSH disconnect reason it produces.

use core::fmt;

use crate::algorithm::AlgorithmKind;
use crate::wire::WireError;

/// SSH disconnect reason codes (RFC 4253 §11.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// `SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT` (1).
    HostNotAllowedToConnect,
    /// `SSH_DISCONNECT_PROTOCOL_ERROR` (2).
    ProtocolError,
    /// `SSH_DISCONNECT_KEY_EXCHANGE_FAILED` (3).
    KeyExchangeFailed,
    /// `SSH_DISCONNECT_RESERVED` (4).
    Reserved,
    /// `SSH_DISCONNECT_MAC_ERROR` (5).
    MacError,
    /// `SSH_DISCONNECT_COMPRESSION_ERROR` (6).
    CompressionError,
    /// `SSH_DISCONNECT_SERVICE_NOT_AVAILABLE` (7).
    ServiceNotAvailable,
    /// `SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED` (8).
    ProtocolVersionNotSupported,
    /// `SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE` (9).
    HostKeyNotVerifiable,
    /// `SSH_DISCONNECT_CONNECTION_LOST` (10).
    ConnectionLost,
    /// `SSH_DISCONNECT_BY_APPLICATION` (11).
    ByApplication,
    /// `SSH_DISCONNECT_TOO_MANY_CONNECTIONS` (12).
    TooManyConnections,
    /// `SSH_DISCONNECT_AUTH_CANCELLED_BY_USER` (13).
    AuthCancelledByUser,
    /// `SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE` (14).
    NoMoreAuthMethodsAvailable,
    /// `SSH_DISCONNECT_ILLEGAL_USER_NAME` (15).
    IllegalUserName,
    /// A code outside the RFC's table, as received from a peer.
    Other(u32),
}

impl DisconnectReason {
    /// The numeric code sent on the wire.
    pub fn code(self) -> u32 {
        match self {
            Self::HostNotAllowedToConnect => 1,
            Self::ProtocolError => 2,
            Self::KeyExchangeFailed => 3,
            Self::Reserved => 4,
            Self::MacError => 5,
            Self::CompressionError => 6,
            Self::ServiceNotAvailable => 7,
            Self::ProtocolVersionNotSupported => 8,
            Self::HostKeyNotVerifiable => 9,
            Self::ConnectionLost => 10,
            Self::ByApplication => 11,
            Self::TooManyConnections => 12,
            Self::AuthCancelledByUser => 13,
            Self::NoMoreAuthMethodsAvailable => 14,
            Self::IllegalUserName => 15,
            Self::Other(code) => code,
        }
    }

    /// The reason for a numeric code.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::HostNotAllowedToConnect,
            2 => Self::ProtocolError,
            3 => Self::KeyExchangeFailed,
            4 => Self::Reserved,
            5 => Self::MacError,
            6 => Self::CompressionError,
            7 => Self::ServiceNotAvailable,
            8 => Self::ProtocolVersionNotSupported,
            9 => Self::HostKeyNotVerifiable,
            10 => Self::ConnectionLost,
            11 => Self::ByApplication,
            12 => Self::TooManyConnections,
            13 => Self::AuthCancelledByUser,
            14 => Self::NoMoreAuthMethodsAvailable,
            15 => Self::IllegalUserName,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::HostNotAllowedToConnect => "host not allowed to connect",
            Self::ProtocolError => "protocol error",
            Self::KeyExchangeFailed => "key exchange failed",
            Self::Reserved => "reserved",
            Self::MacError => "MAC error",
            Self::CompressionError => "compression error",
            Self::ServiceNotAvailable => "service not available",
            Self::ProtocolVersionNotSupported => "protocol version not supported",
            Self::HostKeyNotVerifiable => "host key not verifiable",
            Self::ConnectionLost => "connection lost",
            Self::ByApplication => "disconnected by application",
            Self::TooManyConnections => "too many connections",
            Self::AuthCancelledByUser => "authentication cancelled by user",
            Self::NoMoreAuthMethodsAvailable => "no more authentication methods available",
            Self::IllegalUserName => "illegal user name",
            Self::Other(code) => return write!(f, "reason code {code}"),
        };
        f.write_str(s)
    }
}

/// Problems with the peer's identification line (RFC 4253 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionError {
    /// The peer speaks SSH protocol 1.x only.
    Ssh1(String),
    /// The peer announced a protocol version other than 2.0 / 1.99.
    UnsupportedVersion(String),
    /// The peer is not an SSH server or client (for example an HTTP server).
    NotSsh(String),
    /// A line (pre-banner or the identification line) exceeded the configured length.
    LineTooLong,
    /// More pre-banner lines than the configured limit.
    TooManyLines,
    /// The identification line is malformed (missing software version, NUL byte, …).
    Malformed(String),
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ssh1(line) => write!(f, "peer speaks SSH protocol 1 only ({line:?})"),
            Self::UnsupportedVersion(line) => write!(f, "unsupported protocol version ({line:?})"),
            Self::NotSsh(line) => write!(f, "peer is not speaking SSH (first line {line:?})"),
            Self::LineTooLong => f.write_str("identification line too long"),
            Self::TooManyLines => f.write_str("too many lines before the identification line"),
            Self::Malformed(line) => write!(f, "malformed identification line ({line:?})"),
        }
    }
}

/// Problems with the binary packet framing (RFC 4253 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// `packet_length` larger than the configured maximum.
    TooLarge {
        /// The length field as received.
        length: u32,
        /// The configured maximum.
        max: u32,
    },
    /// `packet_length` too small or not a multiple of the cipher block size.
    BadLength(u32),
    /// `padding_length` below 4 or past the end of the packet.
    BadPadding(u8),
    /// The packet carried no message number.
    EmptyPayload,
    /// MAC or AEAD tag verification failed.
    MacMismatch,
    /// A compressed payload could not be inflated, or inflated past the limit.
    Decompression,
    /// The outgoing payload exceeds the maximum packet size.
    PayloadTooLarge(usize),
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { length, max } => write!(f, "packet length {length} exceeds the maximum {max}"),
            Self::BadLength(len) => write!(f, "invalid packet length {len}"),
            Self::BadPadding(pad) => write!(f, "invalid padding length {pad}"),
            Self::EmptyPayload => f.write_str("packet without a message number"),
            Self::MacMismatch => f.write_str("message authentication code incorrect"),
            Self::Decompression => f.write_str("decompression failed"),
            Self::PayloadTooLarge(n) => write!(f, "payload of {n} bytes exceeds the maximum packet size"),
        }
    }
}

/// Key-exchange failures other than negotiation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KexError {
    /// The peer's ephemeral public value is malformed or weak (wrong size, not on the curve,
    /// outside `1 < e < p-1`, an all-zero X25519 result).
    InvalidPublicValue,
    /// The server's host key blob could not be parsed or does not match the negotiated algorithm.
    InvalidHostKey(String),
    /// The exchange-hash signature did not verify.
    BadSignature,
    /// The server's host key changed during a re-exchange.
    HostKeyChanged,
    /// The group offered in diffie-hellman-group-exchange is out of the requested range or invalid.
    BadGroup(String),
    /// No group of an acceptable size is available (server side of group exchange).
    NoSuitableGroup {
        /// Requested minimum size in bits.
        min: u32,
        /// Preferred size in bits.
        preferred: u32,
        /// Requested maximum size in bits.
        max: u32,
    },
    /// A host key signature could not be produced.
    SigningFailed(String),
}

impl fmt::Display for KexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPublicValue => f.write_str("invalid key-exchange public value"),
            Self::InvalidHostKey(why) => write!(f, "invalid host key: {why}"),
            Self::BadSignature => f.write_str("host key signature verification failed"),
            Self::HostKeyChanged => f.write_str("server host key changed during re-exchange"),
            Self::BadGroup(why) => write!(f, "invalid group-exchange group: {why}"),
            Self::NoSuitableGroup { min, preferred, max } => {
                write!(f, "no DH group of {min}..{max} bits (preferred {preferred})")
            }
            Self::SigningFailed(why) => write!(f, "host key signing failed: {why}"),
        }
    }
}

/// A resource limit that the peer (or the application) exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Unprocessed input beyond the receive buffer limit.
    ReceiveBuffer,
    /// Output queued (not yet taken by `poll_transmit`) beyond the limit.
    PendingOutput,
    /// Messages queued during a key exchange beyond the limit.
    DeferredDuringKex,
    /// A field or list longer than the codec accepts.
    FieldLength,
    /// More unanswered requests of the peer than `ConnectionConfig::max_pending_requests`.
    PendingRequests,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReceiveBuffer => "receive buffer limit exceeded",
            Self::PendingOutput => "pending output limit exceeded",
            Self::DeferredDuringKex => "too much traffic queued during key exchange",
            Self::FieldLength => "field length limit exceeded",
            Self::PendingRequests => "too many unanswered requests",
        })
    }
}

/// Which deadline expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The identification exchange and first key exchange did not finish in time.
    Handshake,
    /// User authentication did not finish in time (server `LoginGraceTime`).
    Auth,
    /// The peer answered none of the keepalive probes.
    Keepalive,
    /// No channel activity for the idle timeout.
    Idle,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Handshake => "handshake timed out",
            Self::Auth => "authentication timed out",
            Self::Keepalive => "peer stopped answering keepalive probes",
            Self::Idle => "idle timeout",
        })
    }
}

/// Everything that can end or refuse an operation of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer's identification line was unacceptable.
    Version(VersionError),
    /// Binary packet framing failed.
    Packet(PacketError),
    /// A message could not be decoded.
    InvalidMessage {
        /// The message number.
        msg: u8,
        /// What was wrong with it.
        reason: WireError,
    },
    /// A message arrived that the current state does not allow.
    UnexpectedMessage {
        /// The message number.
        msg: u8,
        /// What the connection was expecting.
        expected: &'static str,
    },
    /// A message other than the key exchange's own arrived during a strict initial key
    /// exchange (kex-strict-*-v00@openssh.com, the Terrapin countermeasure).
    StrictKexViolation {
        /// The message number.
        msg: u8,
        /// Its sequence number.
        seq: u32,
    },
    /// The sequence number wrapped during the initial key exchange (Terrapin defence).
    SequenceWrapped,
    /// Negotiation found no algorithm both sides support.
    NoCommonAlgorithm {
        /// Which algorithm kind.
        kind: AlgorithmKind,
        /// What we offered.
        ours: Vec<String>,
        /// What the peer offered.
        theirs: Vec<String>,
    },
    /// The key exchange failed.
    Kex(KexError),
    /// The application rejected the server's host key.
    HostKeyRejected,
    /// The peer requested a service we do not provide.
    ServiceNotAvailable(String),
    /// A configured limit was exceeded.
    LimitExceeded(Limit),
    /// A deadline passed.
    Timeout(TimeoutKind),
    /// The peer sent `SSH_MSG_DISCONNECT`.
    PeerDisconnected {
        /// The reason code it gave.
        reason: DisconnectReason,
        /// Its description.
        description: String,
    },
    /// The peer closed the stream without a `SSH_MSG_DISCONNECT`.
    ConnectionLost,
    /// The application closed the connection.
    LocallyClosed {
        /// The reason code sent.
        reason: DisconnectReason,
        /// The description sent.
        description: String,
    },
    /// The connection has already ended; the call has no effect.
    Closed,
    /// Invalid configuration (an unknown algorithm name, a bad limit).
    Config(String),
    /// The call is not valid in the current state.
    ApiMisuse(&'static str),
    /// A command found the output queue of a key exchange full (`Limits::max_deferred`);
    /// nothing was queued. Retry once output drains.
    OutputFull,
    /// The client failed authentication too many times (server `max_attempts`).
    AuthAttemptsExceeded(u32),
    /// A message named a channel that does not exist.
    UnknownChannel {
        /// The message number.
        msg: u8,
        /// The channel number it named.
        channel: u32,
    },
    /// The peer broke the flow-control or EOF rules of a channel.
    ChannelProtocol {
        /// Our channel number.
        channel: u32,
        /// What it did.
        violation: crate::connection::ChannelViolation,
    },
}

impl Error {
    /// The reason code this error puts in the `SSH_MSG_DISCONNECT` it triggers.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::Version(VersionError::Ssh1(_) | VersionError::UnsupportedVersion(_)) => {
                DisconnectReason::ProtocolVersionNotSupported
            }
            Self::Version(_) => DisconnectReason::ProtocolError,
            Self::Packet(PacketError::MacMismatch) => DisconnectReason::MacError,
            Self::Packet(PacketError::Decompression) => DisconnectReason::CompressionError,
            Self::Packet(_) => DisconnectReason::ProtocolError,
            Self::InvalidMessage { .. }
            | Self::UnexpectedMessage { .. }
            | Self::StrictKexViolation { .. }
            | Self::SequenceWrapped
            | Self::UnknownChannel { .. }
            | Self::ChannelProtocol { .. }
            | Self::LimitExceeded(_) => DisconnectReason::ProtocolError,
            Self::AuthAttemptsExceeded(_) => DisconnectReason::NoMoreAuthMethodsAvailable,
            Self::Timeout(TimeoutKind::Idle | TimeoutKind::Auth) => DisconnectReason::ByApplication,
            Self::NoCommonAlgorithm { .. } => DisconnectReason::KeyExchangeFailed,
            Self::Kex(KexError::BadSignature | KexError::HostKeyChanged | KexError::InvalidHostKey(_)) => {
                DisconnectReason::HostKeyNotVerifiable
            }
            Self::Kex(_) => DisconnectReason::KeyExchangeFailed,
            Self::HostKeyRejected => DisconnectReason::HostKeyNotVerifiable,
            Self::ServiceNotAvailable(_) => DisconnectReason::ServiceNotAvailable,
            Self::Timeout(_) | Self::ConnectionLost => DisconnectReason::ConnectionLost,
            Self::PeerDisconnected { reason, .. } | Self::LocallyClosed { reason, .. } => *reason,
            Self::Closed | Self::Config(_) | Self::ApiMisuse(_) | Self::OutputFull => DisconnectReason::ByApplication,
        }
    }

    /// Whether this error ends the connection (as opposed to refusing one call).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::ApiMisuse(_) | Self::OutputFull)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(e) => e.fmt(f),
            Self::Packet(e) => e.fmt(f),
            Self::InvalidMessage { msg, reason } => write!(f, "malformed message {msg}: {reason}"),
            Self::UnexpectedMessage { msg, expected } => {
                write!(f, "unexpected message {msg} (expected {expected})")
            }
            Self::StrictKexViolation { msg, seq } => {
                write!(f, "strict key exchange violation: message {msg} with sequence number {seq}")
            }
            Self::SequenceWrapped => f.write_str("sequence number wrapped during the initial key exchange"),
            Self::NoCommonAlgorithm { kind, ours, theirs } => {
                write!(f, "no matching {kind} algorithm: ours [{}], theirs [{}]", ours.join(","), theirs.join(","))
            }
            Self::Kex(e) => e.fmt(f),
            Self::HostKeyRejected => f.write_str("host key rejected"),
            Self::ServiceNotAvailable(s) => write!(f, "service {s:?} not available"),
            Self::LimitExceeded(l) => l.fmt(f),
            Self::Timeout(t) => t.fmt(f),
            Self::PeerDisconnected { reason, description } => {
                write!(f, "peer disconnected ({reason}): {description}")
            }
            Self::ConnectionLost => f.write_str("connection closed by peer"),
            Self::LocallyClosed { reason, description } => write!(f, "closed locally ({reason}): {description}"),
            Self::Closed => f.write_str("connection closed"),
            Self::Config(why) => write!(f, "invalid configuration: {why}"),
            Self::ApiMisuse(why) => write!(f, "invalid call: {why}"),
            Self::OutputFull => f.write_str("output queue full during a key exchange; retry later"),
            Self::AuthAttemptsExceeded(n) => write!(f, "too many authentication failures ({n})"),
            Self::UnknownChannel { msg, channel } => write!(f, "message {msg} for unknown channel {channel}"),
            Self::ChannelProtocol { channel, violation } => write!(f, "channel {channel}: {violation}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<PacketError> for Error {
    fn from(e: PacketError) -> Self {
        Self::Packet(e)
    }
}

impl From<KexError> for Error {
    fn from(e: KexError) -> Self {
        Self::Kex(e)
    }
}

impl From<VersionError> for Error {
    fn from(e: VersionError) -> Self {
        Self::Version(e)
    }
}
