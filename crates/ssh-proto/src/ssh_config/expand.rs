//! `%` tokens, `${VAR}` and `~` expansion with OpenSSH's rules (misc.c `percent_expand`,
//! `dollar_expand`, `tilde_expand`).

use sha1::{Digest, Sha1};

/// The values `%` tokens stand for, for one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// `%h`: the remote host name (after `Hostname` and canonicalization).
    pub host: String,
    /// `%n`: the host name as given.
    pub original_host: String,
    /// `%p`: the port.
    pub port: u16,
    /// `%r`: the remote user.
    pub remote_user: String,
    /// `%u`: the local user.
    pub local_user: String,
    /// `%d`: the local home directory.
    pub home: String,
    /// `%i`: the local uid.
    pub uid: u32,
    /// `%l`: the local host name; `%L` is its first label.
    pub local_host: String,
    /// `%k`: HostKeyAlias, else the host name as given.
    pub key_alias: String,
    /// `%j`: the ProxyJump hop connected through, or empty.
    pub jump_host: String,
}

impl Tokens {
    /// `%C`: hex SHA-1 of `%l%h%p%r`, as OpenSSH 9.2 computes it (later releases add `%j`).
    pub fn connection_hash(&self) -> String {
        let mut h = Sha1::new();
        for part in [self.local_host.as_str(), &self.host, &self.port.to_string(), &self.remote_user] {
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn short_host(&self) -> &str {
        self.local_host.split('.').next().unwrap_or_default()
    }

    /// The value of one token letter, or `None` for a letter OpenSSH does not define.
    fn value(&self, c: char) -> Option<String> {
        Some(match c {
            'C' => self.connection_hash(),
            'L' => self.short_host().to_owned(),
            'i' => self.uid.to_string(),
            'k' => self.key_alias.clone(),
            'l' => self.local_host.clone(),
            'n' => self.original_host.clone(),
            'p' => self.port.to_string(),
            'd' => self.home.clone(),
            'h' => self.host.clone(),
            'r' => self.remote_user.clone(),
            'u' => self.local_user.clone(),
            'j' => self.jump_host.clone(),
            _ => return None,
        })
    }
}

/// Looks up an environment variable for `${VAR}`.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why an expansion failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// `%x` with a letter not allowed here.
    UnknownToken(char),
    /// A lone `%` at the end.
    TrailingPercent,
    /// `${` without `}`, or `${}`.
    BadVariable,
    /// `${VAR}` is not set.
    Unset(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownToken(c) => write!(f, "unknown key %{c}"),
            Self::TrailingPercent => f.write_str("invalid format"),
            Self::BadVariable => f.write_str("malformed ${} variable"),
            Self::Unset(v) => write!(f, "env var ${{{v}}} has no value"),
        }
    }
}

impl std::error::Error for ExpandError {}

/// Expands `%` tokens with `lookup` (`%%` is a literal `%`) and, when `vars` is given,
/// `${VAR}` from it. Bounded: the result grows by at most the sum of the values used.
pub fn expand(s: &str, lookup: impl Fn(char) -> Option<String>, vars: Option<Vars<'_>>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let (Some(vars), Some(after)) = (vars, rest.strip_prefix("${")) {
            let end = after.find('}').ok_or(ExpandError::BadVariable)?;
            let name = after.get(..end).unwrap_or_default();
            if name.is_empty() {
                return Err(ExpandError::BadVariable);
            }
            out.push_str(&vars(name).ok_or_else(|| ExpandError::Unset(name.to_owned()))?);
            rest = after.get(end + 1..).unwrap_or_default();
            continue;
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
        if c != '%' {
            out.push(c);
            continue;
        }
        let t = rest.chars().next().ok_or(ExpandError::TrailingPercent)?;
        rest = rest.get(t.len_utf8()..).unwrap_or_default();
        match t {
            '%' => out.push('%'),
            _ => out.push_str(&lookup(t).ok_or(ExpandError::UnknownToken(t))?),
        }
    }
    Ok(out)
}

/// Expands with every client token (`%C %L %i %k %l %n %p %d %h %r %u %j`).
pub(crate) fn expand_all(s: &str, t: &Tokens, vars: Option<Vars<'_>>) -> Result<String, ExpandError> {
    expand(s, |c| t.value(c), vars)
}

/// `Match exec` tokens: the client set without `%j`.
pub(crate) fn expand_exec(s: &str, t: &Tokens) -> Result<String, ExpandError> {
    expand(s, |c| if c == 'j' { None } else { t.value(c) }, None)
}

/// `~` and `~/` to the home directory (`~user` is left alone: there is no user database here).
pub(crate) fn tilde(s: &str, home: &str) -> String {
    let rest = match s.strip_prefix('~') {
        Some(r) if r.is_empty() || r.starts_with('/') => r.trim_start_matches('/'),
        _ => return s.to_owned(),
    };
    let home = home.trim_end_matches('/');
    format!("{home}/{rest}")
}
