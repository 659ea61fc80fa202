//! The resolved options: typed accessors for what a client needs, Paramiko-style
//! `lookup`/`as_bool`/`as_int`, and the expansions `ssh -G` shows.

use std::collections::BTreeMap;

use super::env::{Environment, LocalUser};
use super::error::{ConfigError, ErrorKind};
use super::expand::{self, ExpandError, Tokens};
use super::forward::{Endpoint, Forward};
use super::jump::JumpHost;
use super::options::{Jump, Options};
use super::{Resolved, dump};

/// Values `ssh -G` prints after expanding them (OpenSSH expands these before printing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expanded {
    pub control_path: Option<String>,
    pub identity_agent: Option<String>,
    pub remote_command: Option<String>,
    pub revoked_host_keys: Option<String>,
    pub forward_agent: Option<String>,
    pub user_known_hosts: Vec<String>,
    pub local_forwards: Vec<Forward>,
    pub remote_forwards: Vec<Forward>,
}

/// How to reach the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// Connect directly.
    Direct,
    /// Run this command (tokens not yet expanded; see [`Resolved::expand`]) and talk over its stdio.
    Command(String),
    /// Go through these hops, first to last.
    Jump(Vec<JumpHost>),
}

/// StrictHostKeyChecking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Refuse unknown and changed keys.
    Yes,
    /// Add new keys, refuse changed ones.
    AcceptNew,
    /// Ask about unknown keys (the default).
    Ask,
    /// Accept new keys; changed keys still limit what the session may do.
    No,
}

/// The algorithm specifications as written (`+`/`-`/`^` kept), for
/// `crate::algorithm::AlgorithmList::apply_openssh`; `None` means the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// Ciphers.
    pub ciphers: Option<String>,
    /// MACs.
    pub macs: Option<String>,
    /// KexAlgorithms.
    pub kex: Option<String>,
    /// HostKeyAlgorithms.
    pub host_keys: Option<String>,
    /// PubkeyAcceptedAlgorithms.
    pub pubkey: Option<String>,
    /// CASignatureAlgorithms.
    pub ca_signature: Option<String>,
}

fn vars<E: Environment>(env: &E) -> impl Fn(&str) -> Option<String> + '_ {
    |name| env.var(name)
}

fn clear_none(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.eq_ignore_ascii_case("none"))
}

impl Resolved {
    pub(crate) fn new<E: Environment>(
        host_arg: String,
        hostname: String,
        opts: Options,
        local: LocalUser,
        env: &mut E,
    ) -> Result<Self, ConfigError> {
        let port = opts.get("port").and_then(|p| p.parse().ok()).unwrap_or(22);
        let remote_user = opts.get("user").unwrap_or(&local.user).to_owned();
        let jump_host = match &opts.jump {
            Some(Jump::Hosts(h, _)) => h.last().map(|j| j.host.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        let tokens = Tokens {
            host: hostname.clone(),
            original_host: host_arg.clone(),
            port,
            remote_user,
            local_user: local.user.clone(),
            home: local.home.clone(),
            uid: local.uid,
            local_host: local.hostname.clone(),
            key_alias: opts.get("hostkeyalias").map(str::to_ascii_lowercase).unwrap_or_else(|| host_arg.clone()),
            jump_host,
        };
        let err = |k: &str, e: ExpandError| ConfigError::new("", 0, ErrorKind::Expansion(format!("{k}: {e}")));
        let env: &E = env;
        let v = vars(env);
        let path = |k: &'static str, s: Option<&str>| -> Result<Option<String>, ConfigError> {
            s.map(|s| expand::expand_all(&expand::tilde(s, &local.home), &tokens, Some(&v)).map_err(|e| err(k, e)))
                .transpose()
        };
        let forward_agent = match opts.get("forwardagent") {
            Some(f @ ("yes" | "no")) => Some(f.to_owned()),
            other => path("forwardagent", other)?,
        };
        let known: Vec<String> = match opts.lists.get("userknownhostsfile") {
            Some(l) if l.first().is_some_and(|f| f.eq_ignore_ascii_case("none")) => Vec::new(),
            Some(l) => l.clone(),
            None => vec!["~/.ssh/known_hosts".into(), "~/.ssh/known_hosts2".into()],
        };
        let mut user_known_hosts = Vec::with_capacity(known.len());
        for k in &known {
            user_known_hosts.extend(path("userknownhostsfile", Some(k))?);
        }
        let cleared = opts.get("clearallforwardings") == Some("yes");
        let fwd = |list: &[Forward]| -> Result<Vec<Forward>, ConfigError> {
            if cleared {
                return Ok(Vec::new());
            }
            let ep = |e: &Endpoint| -> Result<Endpoint, ConfigError> {
                match e {
                    Endpoint::Path(p) => {
                        Ok(Endpoint::Path(expand::expand_all(p, &tokens, None).map_err(|e| err("forward", e))?))
                    }
                    tcp => Ok(tcp.clone()),
                }
            };
            list.iter()
                .map(|f| Ok(Forward { listen: ep(&f.listen)?, connect: f.connect.as_ref().map(ep).transpose()? }))
                .collect()
        };
        let expanded = Expanded {
            control_path: path("controlpath", clear_none(opts.get("controlpath")))?,
            identity_agent: path("identityagent", opts.get("identityagent"))?,
            remote_command: clear_none(opts.get("remotecommand"))
                .map(|c| expand::expand_all(c, &tokens, None).map_err(|e| err("remotecommand", e)))
                .transpose()?,
            revoked_host_keys: path("revokedhostkeys", clear_none(opts.get("revokedhostkeys")))?,
            forward_agent,
            user_known_hosts,
            local_forwards: fwd(&opts.local_forwards)?,
            remote_forwards: fwd(&opts.remote_forwards)?,
        };
        Ok(Self { host_arg, hostname, opts, local, tokens, expanded })
    }

    /// The configuration as `ssh -G` prints it (OpenSSH 9.2p1, Debian build).
    pub fn to_ssh_g(&self) -> String {
        dump::dump(self)
    }

    /// Paramiko's `SSHConfig.lookup(host)`: every option with its values, keys lowercase as
    /// `ssh -G` spells them, defaults included; multi-valued options keep every value.
    pub fn lookup(&self) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in self.to_ssh_g().lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            map.entry(k.to_ascii_lowercase()).or_default().push(v.to_owned());
        }
        map
    }

    /// The first value of an option as `ssh -G` prints it (`None` when not set and no default).
    pub fn get(&self, keyword: &str) -> Option<String> {
        self.lookup().remove(&keyword.to_ascii_lowercase()).and_then(|v| v.into_iter().next())
    }

    /// Paramiko's `SSHConfigDict.as_bool`: `yes`/`true` are true, any other value false.
    pub fn as_bool(&self, keyword: &str) -> Option<bool> {
        self.get(keyword).map(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
    }

    /// Paramiko's `SSHConfigDict.as_int`: the value as an integer, `None` when not numeric.
    pub fn as_int(&self, keyword: &str) -> Option<i64> {
        self.get(keyword).and_then(|v| v.parse().ok())
    }

    /// The remote user (`User`, `-l`, else the local user).
    pub fn user(&self) -> &str {
        self.opts.get("user").unwrap_or(&self.local.user)
    }

    /// The host to connect to (after `Hostname`, lowercasing and canonicalization).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The host as given.
    pub fn original_host(&self) -> &str {
        &self.host_arg
    }

    /// The port (default 22).
    pub fn port(&self) -> u16 {
        self.tokens.port
    }

    /// The token values for this connection (`%h`, `%p`, `%C`, ...).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Expands `~`, every client `%` token and `${VAR}` in `s`, as OpenSSH does for
    /// IdentityFile, CertificateFile, ControlPath, UserKnownHostsFile and IdentityAgent
    /// (ProxyCommand, LocalCommand and RemoteCommand take `%` tokens only: use
    /// [`expand::expand`](super::expand) with [`Resolved::tokens`] for those, or this with a
    /// string without `~` and `${`).
    pub fn expand<E: Environment>(&self, s: &str, env: &E) -> Result<String, ExpandError> {
        let v = vars(env);
        expand::expand_all(&expand::tilde(s, &self.local.home), &self.tokens, Some(&v))
    }

    pub(crate) fn identity_files_raw(&self) -> Vec<&str> {
        match self.opts.identity_files.is_empty() {
            true => dump::DEFAULT_IDENTITIES.to_vec(),
            false => self.opts.identity_files.iter().map(|(f, _)| f.as_str()).collect(),
        }
    }

    /// IdentityFile paths as written (OpenSSH's defaults when none is set).
    pub fn identity_files(&self) -> Vec<String> {
        self.identity_files_raw().into_iter().map(str::to_owned).collect()
    }

    /// CertificateFile paths as written.
    pub fn certificate_files(&self) -> Vec<String> {
        self.opts.certificate_files.iter().map(|(f, _)| f.clone()).collect()
    }

    /// UserKnownHostsFile, expanded (empty for `none`).
    pub fn user_known_hosts_files(&self) -> &[String] {
        &self.expanded.user_known_hosts
    }

    /// GlobalKnownHostsFile (empty for `none`).
    pub fn global_known_hosts_files(&self) -> Vec<String> {
        match self.opts.lists.get("globalknownhostsfile") {
            Some(l) if l.first().is_some_and(|f| f.eq_ignore_ascii_case("none")) => Vec::new(),
            Some(l) => l.clone(),
            None => vec!["/etc/ssh/ssh_known_hosts".into(), "/etc/ssh/ssh_known_hosts2".into()],
        }
    }

    /// ProxyJump wins over a later ProxyCommand and vice versa; `none` means direct.
    pub fn proxy(&self) -> Proxy {
        match (&self.opts.jump, self.command("proxycommand")) {
            (Some(Jump::Hosts(h, _)), _) => Proxy::Jump(h.clone()),
            (_, Some(c)) => Proxy::Command(c.to_owned()),
            _ => Proxy::Direct,
        }
    }

    /// StrictHostKeyChecking (default `ask`).
    pub fn strict_host_key_checking(&self) -> StrictHostKeyChecking {
        match self.opts.get("stricthostkeychecking") {
            Some("true") => StrictHostKeyChecking::Yes,
            Some("accept-new") => StrictHostKeyChecking::AcceptNew,
            Some("false") => StrictHostKeyChecking::No,
            _ => StrictHostKeyChecking::Ask,
        }
    }

    fn seconds(&self, k: &str) -> Option<u32> {
        self.opts.get(k).and_then(|v| v.parse().ok())
    }

    /// ServerAliveInterval in seconds (0: off; Debian's default is 300 under BatchMode).
    pub fn server_alive_interval(&self) -> u32 {
        let batch = self.opts.get("batchmode") == Some("yes");
        self.seconds("serveraliveinterval").unwrap_or(if batch { 300 } else { 0 })
    }

    /// ServerAliveCountMax (default 3).
    pub fn server_alive_count_max(&self) -> u32 {
        self.seconds("serveralivecountmax").unwrap_or(3)
    }

    /// ConnectTimeout in seconds (`None`: the system's).
    pub fn connect_timeout(&self) -> Option<u32> {
        self.seconds("connecttimeout")
    }

    /// Compression.
    pub fn compression(&self) -> bool {
        self.opts.get("compression") == Some("yes")
    }

    /// The algorithm specifications as written.
    pub fn algorithms(&self) -> Algorithms {
        let g = |k: &str| self.opts.get(k).map(str::to_owned);
        Algorithms {
            ciphers: g("ciphers"),
            macs: g("macs"),
            kex: g("kexalgorithms"),
            host_keys: g("hostkeyalgorithms"),
            pubkey: g("pubkeyacceptedalgorithms"),
            ca_signature: g("casignaturealgorithms"),
        }
    }

    /// LocalForward entries (Unix socket paths expanded), empty under ClearAllForwardings.
    pub fn local_forwards(&self) -> Vec<&Forward> {
        self.expanded.local_forwards.iter().filter(|f| f.connect.is_some()).collect()
    }

    /// DynamicForward entries.
    pub fn dynamic_forwards(&self) -> Vec<&Forward> {
        self.expanded.local_forwards.iter().filter(|f| f.connect.is_none()).collect()
    }

    /// RemoteForward entries (no target: a remote dynamic forward).
    pub fn remote_forwards(&self) -> &[Forward] {
        &self.expanded.remote_forwards
    }

    /// SendEnv patterns after `-pattern` removals.
    pub fn send_env(&self) -> Vec<String> {
        self.opts.lists.get("sendenv").cloned().unwrap_or_default()
    }

    /// SetEnv as `(name, value)`.
    pub fn set_env(&self) -> Vec<(String, String)> {
        let list = self.opts.lists.get("setenv").into_iter().flatten();
        list.filter_map(|e| e.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    /// A command-like option, `None` when unset or `none`.
    pub(crate) fn command(&self, k: &str) -> Option<&str> {
        clear_none(self.opts.get(k))
    }

    pub(crate) fn forwards_cleared(&self) -> bool {
        self.opts.get("clearallforwardings") == Some("yes")
    }

    pub(crate) fn permitted_cnames(&self) -> &[(String, String)] {
        match self.opts.permitted_cnames.as_deref() {
            Some([(s, t)]) if s == "none" && t.is_empty() => &[],
            Some(r) => r,
            None => &[],
        }
    }

    /// UpdateHostKeys, with OpenSSH's default rule (on unless other known hosts files or
    /// VerifyHostKeyDNS are configured).
    pub(crate) fn update_host_keys(&self) -> String {
        if let Some(v) = self.opts.get("updatehostkeys") {
            return v.to_owned();
        }
        let dns_off = self.opts.get("verifyhostkeydns").is_none_or(|v| v == "false");
        let default_files = match self.opts.lists.get("userknownhostsfile") {
            None => true,
            Some(l) => matches!(l.as_slice(), [one] if one == "~/.ssh/known_hosts"),
        };
        match dns_off && default_files {
            true => "true".into(),
            false => "false".into(),
        }
    }
}
