//! ProxyJump: `[user@]host[:port]` hops (or `ssh://` URIs), comma-separated, or `none`.

use std::fmt;

/// One ProxyJump hop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JumpHost {
    /// Login name for the hop, if given.
    pub user: Option<String>,
    /// Host name or address (without brackets).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
}

/// Parses one hop: `ssh://[user@]host[:port]` or `[user@]host[:port]` (`[v6addr]:port`).
pub fn parse_hop(s: &str) -> Option<JumpHost> {
    let s = s.strip_prefix("ssh://").map(|r| r.strip_suffix('/').unwrap_or(r)).unwrap_or(s);
    let (user, hostport) = match s.rfind('@') {
        Some(i) => (Some(s.get(..i).filter(|u| !u.is_empty())?.to_owned()), s.get(i + 1..)?),
        None => (None, s),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (h, rest) = inner.split_once(']')?;
        match rest {
            "" => (h, None),
            r => (h, Some(r.strip_prefix(':')?)),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '\t']) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|&p| p > 0)?)
        }
        Some(_) => return None,
    };
    Some(JumpHost { user, host: host.to_owned(), port })
}

/// Parses a whole ProxyJump value (after comment removal): `None` for a syntax error,
/// `Some(vec![])` for `none`.
pub fn parse_jump_list(s: &str) -> Option<Vec<JumpHost>> {
    if s.eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    s.split(',').map(parse_hop).collect()
}

impl fmt::Display for JumpHost {
    /// `ssh -G`'s form: numeric addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        let numeric = self.host.contains(':') || self.host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match numeric {
            true => write!(f, "[{}]", self.host)?,
            false => f.write_str(&self.host)?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}
