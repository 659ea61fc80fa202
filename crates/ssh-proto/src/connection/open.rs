//! Channel types (RFC 4254 §§6.1, 6.3.2, 7.2; OpenSSH PROTOCOL for agent and stream-local).

use bytes::{BufMut, Bytes};

use super::{rest, text};
use crate::wire::{Reader, WireError, WireWrite};

/// What a channel is for, with its type-specific open data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelKind {
    /// `session`: a shell, a command or a subsystem.
    Session,
    /// `direct-tcpip`: the peer connects to `host:port` for us (`ssh -L`).
    DirectTcpip {
        /// Host to connect to.
        host: String,
        /// Port to connect to.
        port: u32,
        /// Address of the connection that asked.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `forwarded-tcpip`: a connection arrived on a remotely forwarded port (`ssh -R`).
    ForwardedTcpip {
        /// The address that was bound (as in the `tcpip-forward` request).
        address: String,
        /// The port that was bound.
        port: u32,
        /// Address of the connecting peer.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `x11`: a connection for a forwarded X11 display.
    X11 {
        /// Address of the X client.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `auth-agent@openssh.com`: a connection to the forwarded agent.
    AuthAgent,
    /// `direct-streamlocal@openssh.com`: the peer connects to a Unix socket for us.
    DirectStreamlocal {
        /// Socket path.
        path: String,
    },
    /// `forwarded-streamlocal@openssh.com`: a connection arrived on a forwarded Unix socket.
    ForwardedStreamlocal {
        /// Socket path that was bound.
        path: String,
    },
    /// Any other type.
    Other {
        /// Type name.
        name: String,
        /// Raw open data.
        data: Bytes,
    },
}

impl ChannelKind {
    /// The channel type name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Session => "session",
            Self::DirectTcpip { .. } => "direct-tcpip",
            Self::ForwardedTcpip { .. } => "forwarded-tcpip",
            Self::X11 { .. } => "x11",
            Self::AuthAgent => "auth-agent@openssh.com",
            Self::DirectStreamlocal { .. } => "direct-streamlocal@openssh.com",
            Self::ForwardedStreamlocal { .. } => "forwarded-streamlocal@openssh.com",
            Self::Other { name, .. } => name,
        }
    }

    /// Decodes type `name` with its open data.
    pub fn decode(name: &str, data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let kind = match name {
            "session" => Self::Session,
            "direct-tcpip" => Self::DirectTcpip {
                host: text(&mut r)?,
                port: r.u32()?,
                originator: text(&mut r)?,
                originator_port: r.u32()?,
            },
            "forwarded-tcpip" => Self::ForwardedTcpip {
                address: text(&mut r)?,
                port: r.u32()?,
                originator: text(&mut r)?,
                originator_port: r.u32()?,
            },
            "x11" => {
                // Old OpenSSH clients (SSH_BUG_X11FWD) omit the originator.
                if r.is_empty() {
                    Self::X11 { originator: String::new(), originator_port: 0 }
                } else {
                    Self::X11 { originator: text(&mut r)?, originator_port: r.u32()? }
                }
            }
            "auth-agent@openssh.com" => Self::AuthAgent,
            "direct-streamlocal@openssh.com" => {
                let path = text(&mut r)?;
                // Reserved: string, uint32.
                r.string()?;
                r.u32()?;
                Self::DirectStreamlocal { path }
            }
            "forwarded-streamlocal@openssh.com" => {
                let path = text(&mut r)?;
                r.string()?;
                Self::ForwardedStreamlocal { path }
            }
            other => Self::Other { name: other.to_owned(), data: rest(&mut r)? },
        };
        r.finish()?;
        Ok(kind)
    }

    /// Appends the open data.
    pub fn encode_data(&self, w: &mut impl BufMut) {
        match self {
            Self::Session | Self::AuthAgent => {}
            Self::DirectTcpip { host: a, port, originator, originator_port }
            | Self::ForwardedTcpip { address: a, port, originator, originator_port } => {
                w.put_string(a.as_bytes());
                w.put_u32(*port);
                w.put_string(originator.as_bytes());
                w.put_u32(*originator_port);
            }
            Self::X11 { originator, originator_port } => {
                w.put_string(originator.as_bytes());
                w.put_u32(*originator_port);
            }
            Self::DirectStreamlocal { path } => {
                w.put_string(path.as_bytes());
                w.put_string(b"");
                w.put_u32(0);
            }
            Self::ForwardedStreamlocal { path } => {
                w.put_string(path.as_bytes());
                w.put_string(b"");
            }
            Self::Other { data, .. } => w.put_slice(data),
        }
    }
}

/// Why a channel open was refused (RFC 4254 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenFailure {
    /// `SSH_OPEN_ADMINISTRATIVELY_PROHIBITED` (1).
    AdministrativelyProhibited,
    /// `SSH_OPEN_CONNECT_FAILED` (2).
    ConnectFailed,
    /// `SSH_OPEN_UNKNOWN_CHANNEL_TYPE` (3).
    UnknownChannelType,
    /// `SSH_OPEN_RESOURCE_SHORTAGE` (4).
    ResourceShortage,
    /// Another code.
    Other(u32),
}

impl OpenFailure {
    /// The code on the wire.
    pub fn code(self) -> u32 {
        match self {
            Self::AdministrativelyProhibited => 1,
            Self::ConnectFailed => 2,
            Self::UnknownChannelType => 3,
            Self::ResourceShortage => 4,
            Self::Other(c) => c,
        }
    }

    /// The reason for a code.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::AdministrativelyProhibited,
            2 => Self::ConnectFailed,
            3 => Self::UnknownChannelType,
            4 => Self::ResourceShortage,
            c => Self::Other(c),
        }
    }
}
