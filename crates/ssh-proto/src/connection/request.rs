//! Channel requests (RFC 4254 §6, RFC 4335 break, OpenSSH PROTOCOL extensions).

use bytes::{BufMut, Bytes};

use super::modes::TerminalModes;
use super::{rest, text};
use crate::wire::{Reader, WireError, WireWrite};

/// A pseudo-terminal request (`pty-req`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PtyRequest {
    /// `TERM` (for example `xterm-256color`).
    pub term: String,
    /// Width in characters.
    pub cols: u32,
    /// Height in rows.
    pub rows: u32,
    /// Width in pixels (0 if unknown).
    pub width_px: u32,
    /// Height in pixels (0 if unknown).
    pub height_px: u32,
    /// Terminal modes.
    pub modes: TerminalModes,
}

/// How a remote command ended (`exit-status` / `exit-signal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(u32),
    /// It was killed by a signal.
    Signal {
        /// Signal name without `SIG` (`TERM`, `KILL`, …).
        name: String,
        /// Whether it dumped core.
        core_dumped: bool,
        /// Error message.
        message: String,
    },
}

/// A channel request, decoded by name. Requests this crate does not know arrive as
/// [`ChannelRequest::Other`] with their raw data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRequest {
    /// `pty-req`.
    Pty(PtyRequest),
    /// `x11-req`.
    X11 {
        /// Forward only one connection.
        single_connection: bool,
        /// X11 authentication protocol (`MIT-MAGIC-COOKIE-1`).
        auth_protocol: String,
        /// Authentication cookie (hex).
        auth_cookie: String,
        /// X11 screen number.
        screen: u32,
    },
    /// `env`.
    Env {
        /// Variable name.
        name: String,
        /// Value.
        value: String,
    },
    /// `shell`.
    Shell,
    /// `exec`: the command is a byte string (not necessarily UTF-8).
    Exec {
        /// The command line.
        command: Bytes,
    },
    /// `subsystem` (`sftp`, …).
    Subsystem {
        /// Subsystem name.
        name: String,
    },
    /// `window-change`.
    WindowChange {
        /// Width in characters.
        cols: u32,
        /// Height in rows.
        rows: u32,
        /// Width in pixels.
        width_px: u32,
        /// Height in pixels.
        height_px: u32,
    },
    /// `xon-xoff`: whether the client may do flow control with ^S/^Q.
    XonXoff {
        /// Client can do flow control.
        client_can_do: bool,
    },
    /// `signal`: deliver a signal (name without `SIG`).
    Signal {
        /// Signal name.
        name: String,
    },
    /// `break` (RFC 4335): send a BREAK of this many milliseconds.
    Break {
        /// Break length in milliseconds.
        length_ms: u32,
    },
    /// `exit-status` / `exit-signal`.
    Exit(ExitStatus),
    /// `auth-agent-req@openssh.com`: forward the agent over this session.
    AuthAgent,
    /// `eow@openssh.com`: the peer will write no more (half-close without EOF).
    Eow,
    /// `keepalive@openssh.com`: a liveness probe; any reply proves the peer alive.
    Keepalive,
    /// Anything else.
    Other {
        /// Request name.
        name: String,
        /// Raw request data.
        data: Bytes,
    },
}

impl ChannelRequest {
    /// The request name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Pty(_) => "pty-req",
            Self::X11 { .. } => "x11-req",
            Self::Env { .. } => "env",
            Self::Shell => "shell",
            Self::Exec { .. } => "exec",
            Self::Subsystem { .. } => "subsystem",
            Self::WindowChange { .. } => "window-change",
            Self::XonXoff { .. } => "xon-xoff",
            Self::Signal { .. } => "signal",
            Self::Break { .. } => "break",
            Self::Exit(ExitStatus::Code(_)) => "exit-status",
            Self::Exit(ExitStatus::Signal { .. }) => "exit-signal",
            Self::AuthAgent => "auth-agent-req@openssh.com",
            Self::Eow => "eow@openssh.com",
            Self::Keepalive => "keepalive@openssh.com",
            Self::Other { name, .. } => name,
        }
    }

    /// Decodes request `name` with its data.
    pub fn decode(name: &str, data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let req = match name {
            "pty-req" => {
                let term = text(&mut r)?;
                let (cols, rows, width_px, height_px) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
                let modes = TerminalModes::decode(r.string()?)?;
                Self::Pty(PtyRequest { term, cols, rows, width_px, height_px, modes })
            }
            "x11-req" => Self::X11 {
                single_connection: r.bool()?,
                auth_protocol: text(&mut r)?,
                auth_cookie: text(&mut r)?,
                screen: r.u32()?,
            },
            "env" => Self::Env { name: text(&mut r)?, value: text(&mut r)? },
            "shell" => Self::Shell,
            "exec" => Self::Exec { command: Bytes::copy_from_slice(r.string()?) },
            "subsystem" => Self::Subsystem { name: text(&mut r)? },
            "window-change" => {
                Self::WindowChange { cols: r.u32()?, rows: r.u32()?, width_px: r.u32()?, height_px: r.u32()? }
            }
            "xon-xoff" => Self::XonXoff { client_can_do: r.bool()? },
            "signal" => Self::Signal { name: text(&mut r)? },
            "break" => Self::Break { length_ms: r.u32()? },
            "exit-status" => Self::Exit(ExitStatus::Code(r.u32()?)),
            "exit-signal" => {
                let name = text(&mut r)?;
                let core_dumped = r.bool()?;
                let message = text(&mut r)?;
                // The language tag is required by RFC 4254 but omitted by some servers.
                if !r.is_empty() {
                    r.string()?;
                }
                Self::Exit(ExitStatus::Signal { name, core_dumped, message })
            }
            "auth-agent-req@openssh.com" => Self::AuthAgent,
            "eow@openssh.com" => Self::Eow,
            "keepalive@openssh.com" => Self::Keepalive,
            other => Self::Other { name: other.to_owned(), data: rest(&mut r)? },
        };
        r.finish()?;
        Ok(req)
    }

    /// Appends the request data (after the name and want-reply flag).
    pub fn encode_data(&self, w: &mut impl BufMut) {
        match self {
            Self::Pty(p) => {
                w.put_string(p.term.as_bytes());
                w.put_u32(p.cols);
                w.put_u32(p.rows);
                w.put_u32(p.width_px);
                w.put_u32(p.height_px);
                w.put_string(&p.modes.encode());
            }
            Self::X11 { single_connection, auth_protocol, auth_cookie, screen } => {
                w.put_bool(*single_connection);
                w.put_string(auth_protocol.as_bytes());
                w.put_string(auth_cookie.as_bytes());
                w.put_u32(*screen);
            }
            Self::Env { name, value } => {
                w.put_string(name.as_bytes());
                w.put_string(value.as_bytes());
            }
            Self::Exec { command } => w.put_string(command),
            Self::Subsystem { name } | Self::Signal { name } => w.put_string(name.as_bytes()),
            Self::WindowChange { cols, rows, width_px, height_px } => {
                w.put_u32(*cols);
                w.put_u32(*rows);
                w.put_u32(*width_px);
                w.put_u32(*height_px);
            }
            Self::XonXoff { client_can_do } => w.put_bool(*client_can_do),
            Self::Break { length_ms } => w.put_u32(*length_ms),
            Self::Exit(ExitStatus::Code(c)) => w.put_u32(*c),
            Self::Exit(ExitStatus::Signal { name, core_dumped, message }) => {
                w.put_string(name.as_bytes());
                w.put_bool(*core_dumped);
                w.put_string(message.as_bytes());
                w.put_string(b"");
            }
            Self::Other { data, .. } => w.put_slice(data),
            Self::Shell | Self::AuthAgent | Self::Eow | Self::Keepalive => {}
        }
    }
}
