//! LocalForward / RemoteForward / DynamicForward specifications, as OpenSSH's
//! `parse_forward` reads them and `ssh -G` prints them.

use std::fmt;

/// One side of a forwarding: a TCP address or a Unix socket path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP port, with the host it binds or connects to (`None`: the default address).
    Tcp {
        /// The host, if one was given.
        host: Option<String>,
        /// The port (0 lets a remote listener pick one).
        port: u16,
    },
    /// A Unix-domain socket path.
    Path(String),
}

/// A forwarding as configured.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Forward {
    /// Where connections are accepted.
    pub listen: Endpoint,
    /// Where they go; `None` for a dynamic (SOCKS) forwarding.
    pub connect: Option<Endpoint>,
}

/// Which of the three keywords a specification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Local,
    Remote,
    Dynamic,
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `[host]:port`, `host:port` or (when `port_only` is allowed) `port`; a path when it has a `/`.
fn parse_endpoint(s: &str, port_only: bool, allow_zero: bool) -> Option<Endpoint> {
    if s.contains('/') && !s.starts_with('[') {
        return Some(Endpoint::Path(s.to_owned()));
    }
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (h, rest) = inner.split_once(']')?;
        (Some(h), rest.strip_prefix(':')?)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (Some(h), p),
            None if port_only => (None, s),
            None => return None,
        }
    };
    let port = parse_port(port)?;
    if port == 0 && !allow_zero {
        return None;
    }
    let host = host.filter(|h| !h.is_empty()).map(str::to_owned);
    Some(Endpoint::Tcp { host, port })
}

/// Parses a forwarding from its one or two arguments.
pub(crate) fn parse(dir: Direction, first: &str, second: Option<&str>) -> Option<Forward> {
    let remote = dir == Direction::Remote;
    let listen = parse_endpoint(first, true, remote)?;
    let connect = match (dir, second) {
        (Direction::Dynamic, None) | (Direction::Remote, None) => None,
        (Direction::Dynamic, Some(_)) | (Direction::Local, None) => return None,
        (_, Some(c)) => Some(
            parse_endpoint(c, false, false)
                .filter(|e| matches!(e, Endpoint::Path(_) | Endpoint::Tcp { host: Some(_), .. }))?,
        ),
    };
    if matches!(listen, Endpoint::Path(_)) && connect.is_none() {
        return None;
    }
    Some(Forward { listen, connect })
}

impl fmt::Display for Endpoint {
    /// `ssh -G`'s form: `port`, `[host]:port` or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host: None, port } => write!(f, "{port}"),
            Self::Tcp { host: Some(h), port } => write!(f, "[{h}]:{port}"),
            Self::Path(p) => f.write_str(p),
        }
    }
}
