//! Global requests (RFC 4254 §§4, 7.1; OpenSSH PROTOCOL §§2.5, 2.6, 4.2).

use bytes::{BufMut, Bytes};

use super::{rest, text};
use crate::wire::{Reader, WireError, WireWrite};

/// Most host keys accepted in one `hostkeys-00@openssh.com` / `hostkeys-prove-00@openssh.com`.
pub const MAX_HOST_KEYS: usize = 64;

/// A global request, decoded by name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobalRequest {
    /// `tcpip-forward`: listen on `address:port` (port 0: any) and open `forwarded-tcpip`
    /// channels for connections (`ssh -R`).
    TcpipForward {
        /// Address to bind (`""` all, `localhost`, an address).
        address: String,
        /// Port (0: let the server choose; the reply then carries the port).
        port: u32,
    },
    /// `cancel-tcpip-forward`.
    CancelTcpipForward {
        /// Address that was bound.
        address: String,
        /// Port that was bound.
        port: u32,
    },
    /// `streamlocal-forward@openssh.com`: listen on a Unix socket.
    StreamlocalForward {
        /// Socket path.
        path: String,
    },
    /// `cancel-streamlocal-forward@openssh.com`.
    CancelStreamlocalForward {
        /// Socket path.
        path: String,
    },
    /// `keepalive@openssh.com`: a liveness probe.
    Keepalive,
    /// `no-more-sessions@openssh.com`: the client will open no further session channels.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: the server's host keys (public key blobs).
    HostKeys {
        /// Public key blobs.
        keys: Vec<Bytes>,
    },
    /// `hostkeys-prove-00@openssh.com`: prove possession of these host keys.
    HostKeysProve {
        /// Public key blobs.
        keys: Vec<Bytes>,
    },
    /// Anything else.
    Other {
        /// Request name.
        name: String,
        /// Raw data.
        data: Bytes,
    },
}

/// A list of `string`s filling the rest of the message.
pub(crate) fn decode_blobs(r: &mut Reader<'_>) -> Result<Vec<Bytes>, WireError> {
    let mut keys = Vec::new();
    while !r.is_empty() {
        if keys.len() >= MAX_HOST_KEYS {
            return Err(WireError::TooLong);
        }
        keys.push(Bytes::copy_from_slice(r.string()?));
    }
    Ok(keys)
}

impl GlobalRequest {
    /// The request name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::TcpipForward { .. } => "tcpip-forward",
            Self::CancelTcpipForward { .. } => "cancel-tcpip-forward",
            Self::StreamlocalForward { .. } => "streamlocal-forward@openssh.com",
            Self::CancelStreamlocalForward { .. } => "cancel-streamlocal-forward@openssh.com",
            Self::Keepalive => "keepalive@openssh.com",
            Self::NoMoreSessions => "no-more-sessions@openssh.com",
            Self::HostKeys { .. } => "hostkeys-00@openssh.com",
            Self::HostKeysProve { .. } => "hostkeys-prove-00@openssh.com",
            Self::Other { name, .. } => name,
        }
    }

    /// Decodes request `name` with its data.
    pub fn decode(name: &str, data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let req = match name {
            "tcpip-forward" => Self::TcpipForward { address: text(&mut r)?, port: r.u32()? },
            "cancel-tcpip-forward" => Self::CancelTcpipForward { address: text(&mut r)?, port: r.u32()? },
            "streamlocal-forward@openssh.com" => Self::StreamlocalForward { path: text(&mut r)? },
            "cancel-streamlocal-forward@openssh.com" => Self::CancelStreamlocalForward { path: text(&mut r)? },
            "keepalive@openssh.com" => Self::Keepalive,
            "no-more-sessions@openssh.com" => Self::NoMoreSessions,
            "hostkeys-00@openssh.com" => Self::HostKeys { keys: decode_blobs(&mut r)? },
            "hostkeys-prove-00@openssh.com" => Self::HostKeysProve { keys: decode_blobs(&mut r)? },
            other => Self::Other { name: other.to_owned(), data: rest(&mut r)? },
        };
        r.finish()?;
        Ok(req)
    }

    /// Appends the request data.
    pub fn encode_data(&self, w: &mut impl BufMut) {
        match self {
            Self::TcpipForward { address, port } | Self::CancelTcpipForward { address, port } => {
                w.put_string(address.as_bytes());
                w.put_u32(*port);
            }
            Self::StreamlocalForward { path } | Self::CancelStreamlocalForward { path } => {
                w.put_string(path.as_bytes());
            }
            Self::Keepalive | Self::NoMoreSessions => {}
            Self::HostKeys { keys } | Self::HostKeysProve { keys } => {
                for k in keys {
                    w.put_string(k);
                }
            }
            Self::Other { data, .. } => w.put_slice(data),
        }
    }
}

/// The answer to one of our global requests, carried by
/// [`Event::GlobalRequestResult`](crate::Event::GlobalRequestResult).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalReply {
    /// `REQUEST_SUCCESS`; for `tcpip-forward` with port 0, the port the server bound.
    Success {
        /// The bound port, when the request asked for one.
        bound_port: Option<u32>,
        /// The raw reply data.
        data: Bytes,
    },
    /// `REQUEST_FAILURE`.
    Failure,
}
