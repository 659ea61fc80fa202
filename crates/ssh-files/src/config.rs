//! ssh_config for both drivers' clients: the operating system's side of the core's
//! [`Environment`] (files, globs, `Match exec`, variables, name lookup), the local account,
//! and [`ConnectOptions`] from a resolved host.

use std::fs;
use std::io::ErrorKind;
use std::net::ToSocketAddrs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ssh_proto::connection::Keepalive;
use ssh_proto::pattern;
use ssh_proto::ssh_config::{Environment, LocalUser, Proxy, Resolved, StrictHostKeyChecking};

use crate::{AuthMethod, ConnectOptions, Error, UnknownHostPolicy};

/// The real environment: the file system, `/bin/sh` for `Match exec`, the process's
/// variables and the system resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn read_file(&mut self, path: &str) -> Result<Option<String>, String> {
        match fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn glob(&mut self, pattern: &str) -> Vec<String> {
        // Like glob(3): wildcards match within one component; dot files only when the
        // component asks for them.
        let mut found = vec![if pattern.starts_with('/') { "/".to_owned() } else { String::new() }];
        for part in pattern.split('/').filter(|p| !p.is_empty()) {
            let mut next = Vec::new();
            for base in &found {
                let join = |name: &str| match base.as_str() {
                    "" => name.to_owned(),
                    b if b.ends_with('/') => format!("{b}{name}"),
                    b => format!("{b}/{name}"),
                };
                if !part.contains(['*', '?']) {
                    next.push(join(part));
                    continue;
                }
                let dir = if base.is_empty() { "." } else { base.as_str() };
                let Ok(entries) = fs::read_dir(dir) else { continue };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if (name.starts_with('.') && !part.starts_with('.')) || !pattern::wildcard_match(part, &name) {
                        continue;
                    }
                    next.push(join(&name));
                }
            }
            found = next;
        }
        let mut hits: Vec<String> = found.into_iter().filter(|p| fs::symlink_metadata(p).is_ok()).collect();
        hits.sort();
        hits
    }

    fn exec(&mut self, command: &str) -> Result<bool, String> {
        let status =
            Command::new("/bin/sh").arg("-c").arg(command).stdin(Stdio::null()).status().map_err(|e| e.to_string())?;
        match status.code() {
            Some(code) => Ok(code == 0),
            None => Err(format!("{command}: killed by a signal")),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn resolve(&mut self, name: &str) -> Option<String> {
        let bare = name.trim_end_matches('.');
        (bare, 0).to_socket_addrs().ok()?.next().map(|_| bare.to_owned())
    }
}

/// The account this process runs as: name and home from `USER`/`HOME` or `/etc/passwd`,
/// the uid from `/proc/self`, the host name from the kernel.
pub fn local_user() -> LocalUser {
    let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.get(2) == Some(&&*uid.to_string()));
    let field = |i: usize| entry.as_ref().and_then(|f| f.get(i)).map(|s| (*s).to_owned());
    let user = std::env::var("USER").ok().or_else(|| field(0)).unwrap_or_else(|| uid.to_string());
    let home = std::env::var("HOME").ok().or_else(|| field(5)).unwrap_or_else(|| "/".into());
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    LocalUser { user, home, uid, hostname }
}

fn bad(what: String) -> Error {
    Error::Io(std::io::Error::new(ErrorKind::InvalidInput, what))
}

/// `RekeyLimit`'s size (`1G`, `500M`, `64K`, bytes) as ssh -G prints or the user writes it.
fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

impl ConnectOptions {
    /// Options for a host as ssh_config resolved it: HostName, Port, User, IdentityFile
    /// (keys that load without a passphrase; others are left out), IdentitiesOnly,
    /// known_hosts files, HostKeyAlias, StrictHostKeyChecking, ConnectTimeout,
    /// ProxyCommand / ProxyJump, Ciphers / MACs / KexAlgorithms / HostKeyAlgorithms /
    /// PubkeyAcceptedAlgorithms, Compression, RekeyLimit, ServerAliveInterval /
    /// ServerAliveCountMax, PreferredAuthentications, PasswordAuthentication,
    /// KbdInteractiveAuthentication, PubkeyAuthentication and IdentityAgent.
    pub fn from_config(r: &Resolved, env: &impl Environment) -> Result<Self, Error> {
        let mut o = ConnectOptions::new(r.hostname(), r.port(), r.user());
        let expand = |s: &str| r.expand(s, env).map_err(|e| bad(format!("{s}: {e}")));
        for file in r.identity_files() {
            let path = expand(&file)?;
            if let Ok(key) = crate::load_key(path.as_ref(), None) {
                o.keys.push(Arc::new(key));
            }
        }
        o.look_for_keys = false;
        o.allow_agent = r.get("identitiesonly").as_deref() != Some("yes");
        match r.get("identityagent").as_deref() {
            None | Some("SSH_AUTH_SOCK") => {}
            Some("none") => o.allow_agent = false,
            Some(path) => o.agent_socket = Some(PathBuf::from(expand(path)?)),
        }
        let mut known = r.user_known_hosts_files().iter();
        o.known_hosts = known.next().map(PathBuf::from);
        o.system_known_hosts = known.map(PathBuf::from).collect();
        for f in r.global_known_hosts_files() {
            o.system_known_hosts.push(PathBuf::from(expand(&f)?));
        }
        o.host_key_alias = r.get("hostkeyalias");
        o.policy = match r.strict_host_key_checking() {
            StrictHostKeyChecking::Yes | StrictHostKeyChecking::Ask => UnknownHostPolicy::Reject,
            StrictHostKeyChecking::AcceptNew => UnknownHostPolicy::AcceptNew,
            StrictHostKeyChecking::No => UnknownHostPolicy::AutoAdd,
        };
        if let Some(t) = r.connect_timeout() {
            o.connect_timeout = Some(Duration::from_secs(u64::from(t)));
        }
        o.proxy = match r.proxy() {
            Proxy::Command(c) => Proxy::Command(expand(&c)?),
            other => other,
        };
        let algorithms = r.algorithms();
        let lists = [
            ("Ciphers", &algorithms.ciphers),
            ("MACs", &algorithms.macs),
            ("KexAlgorithms", &algorithms.kex),
            ("HostKeyAlgorithms", &algorithms.host_keys),
        ];
        for (name, spec) in lists {
            if let Some(spec) = spec {
                o.config
                    .transport
                    .algorithms
                    .apply_openssh_option(name, spec)
                    .map_err(|e| bad(format!("{name}: {e}")))?;
            }
        }
        if let Some(spec) = &algorithms.pubkey {
            o.config
                .publickey_algorithms
                .apply_openssh(spec)
                .map_err(|e| bad(format!("PubkeyAcceptedAlgorithms: {e}")))?;
        }
        o.config.transport.algorithms.set_compression(r.compression());
        if let Some(limit) = r.get("rekeylimit") {
            let mut parts = limit.split_whitespace();
            match parts.next().and_then(parse_size) {
                Some(0) | None => {}
                Some(bytes) => o.config.transport.rekey.bytes = bytes,
            }
            match parts.next().and_then(|t| t.parse::<u64>().ok()) {
                Some(0) | None => {}
                Some(secs) => o.config.transport.rekey.time = Some(Duration::from_secs(secs)),
            }
        }
        let interval = r.server_alive_interval();
        if interval > 0 {
            o.config.connection.keepalive = Some(Keepalive {
                interval: Duration::from_secs(u64::from(interval)),
                count_max: r.server_alive_count_max(),
            });
        }
        let enabled = |k: &str| r.get(k).as_deref() != Some("no");
        let preferred = r.get("preferredauthentications");
        let order: Vec<AuthMethod> = match preferred.as_deref() {
            Some(list) => list.split(',').filter_map(AuthMethod::from_name).collect(),
            None => o.auth_methods.clone(),
        };
        o.auth_methods = order
            .into_iter()
            .filter(|m| match m {
                AuthMethod::PublicKey => enabled("pubkeyauthentication"),
                AuthMethod::Password => enabled("passwordauthentication"),
                AuthMethod::KeyboardInteractive => enabled("kbdinteractiveauthentication"),
            })
            .collect();
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword `from_config` maps, read from a resolved config (no connection).
    #[test]
    fn options_from_a_resolved_host() {
        use ssh_proto::algorithm::{Compression, KexAlgorithm};
        use ssh_proto::ssh_config::{MemoryEnvironment, Query, Sources, resolve};
        let mut env = MemoryEnvironment::default();
        let cfg = "Host a\n  HostName 192.0.2.7\n  Port 2022\n  User u1\n  HostKeyAlias alias.example\n  \
                   IdentityAgent /run/agent.sock\n  RekeyLimit 1M 30\n  ConnectTimeout 7\n  \
                   PreferredAuthentications password,keyboard-interactive,publickey\n  PasswordAuthentication no\n  \
                   StrictHostKeyChecking no\n  Compression yes\n  KexAlgorithms curve25519-sha256\n  \
                   ServerAliveInterval 5\n  ServerAliveCountMax 2\n  ProxyCommand nc %h %p\n\
                   Host b\n  ProxyJump j@hop:2200\n  IdentityAgent none\n  IdentitiesOnly yes\n";
        env.files.insert("/cfg".into(), cfg.into());
        let me = LocalUser { user: "me".into(), home: "/home/me".into(), uid: 1000, hostname: "box".into() };
        let r = resolve(&Query::new("a"), &Sources::File("/cfg".into()), &me, &mut env).unwrap();
        let o = ConnectOptions::from_config(&r, &env).unwrap();
        assert_eq!((o.host.as_str(), o.port, o.username.as_str()), ("192.0.2.7", 2022, "u1"));
        assert_eq!(o.host_key_alias.as_deref(), Some("alias.example"));
        assert_eq!(o.agent_socket, Some(PathBuf::from("/run/agent.sock")));
        assert!(o.allow_agent && !o.look_for_keys);
        assert_eq!(o.config.transport.rekey.bytes, 1 << 20);
        assert_eq!(o.config.transport.rekey.time, Some(Duration::from_secs(30)));
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(o.auth_methods, [AuthMethod::KeyboardInteractive, AuthMethod::PublicKey]);
        assert_eq!(o.policy, UnknownHostPolicy::AutoAdd);
        assert_eq!(o.config.transport.algorithms.compression.as_slice().first(), Some(&Compression::ZlibOpenSsh));
        assert_eq!(o.config.transport.algorithms.kex.as_slice(), [KexAlgorithm::Curve25519Sha256]);
        let keepalive = o.config.connection.keepalive.unwrap();
        assert_eq!((keepalive.interval, keepalive.count_max), (Duration::from_secs(5), 2));
        assert_eq!(o.proxy, Proxy::Command("nc 192.0.2.7 2022".into()));
        assert_eq!(o.known_hosts, Some(PathBuf::from("/home/me/.ssh/known_hosts")));

        let r = resolve(&Query::new("b"), &Sources::File("/cfg".into()), &me, &mut env).unwrap();
        let o = ConnectOptions::from_config(&r, &env).unwrap();
        assert!(!o.allow_agent);
        match &o.proxy {
            Proxy::Jump(hops) => {
                assert_eq!(hops.len(), 1);
                assert_eq!(
                    (hops[0].user.as_deref(), hops[0].host.as_str(), hops[0].port),
                    (Some("j"), "hop", Some(2200))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rekey_sizes() {
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("500m"), Some(500 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1T"), None);
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn glob_matches_within_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_string_lossy().into_owned();
        for f in ["a.conf", "b.conf", ".hidden.conf", "sub/c.conf"] {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        let mut env = SystemEnvironment;
        assert_eq!(env.glob(&format!("{root}/*.conf")), [format!("{root}/a.conf"), format!("{root}/b.conf")]);
        assert_eq!(env.glob(&format!("{root}/*/c.conf")), [format!("{root}/sub/c.conf")]);
        assert_eq!(env.glob(&format!("{root}/.h*")), [format!("{root}/.hidden.conf")]);
        assert!(env.glob(&format!("{root}/none*")).is_empty());
    }
}
