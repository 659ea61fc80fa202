//! Host key policies over known_hosts files (Paramiko's `RejectPolicy`, `AutoAddPolicy`,
//! `WarningPolicy`, OpenSSH's `StrictHostKeyChecking=accept-new`). The lookup itself is the
//! core's [`ssh_proto::known_hosts`]; this module only reads and writes the files.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_proto::ServerHostKey;
use ssh_proto::keys::fingerprint::{FingerprintHash, fingerprint};
use ssh_proto::known_hosts::{Hashing, HostQuery, HostStatus, KnownHosts, host_port_name};

use ssh_proto::driver::HostKeyVerifier;

/// What to do with a host key that no known_hosts file lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownHostPolicy {
    /// Refuse the connection (Paramiko's default `RejectPolicy`, `StrictHostKeyChecking=yes`).
    #[default]
    Reject,
    /// Accept and add it to the user's known_hosts file (`AutoAddPolicy`).
    AutoAdd,
    /// Accept it, write nothing, and say so on stderr (`WarningPolicy`).
    Warning,
    /// Accept and add it, like `AutoAdd` (`StrictHostKeyChecking=accept-new`): a key that
    /// changed is still refused, as under every policy.
    AcceptNew,
}

/// Checks host keys against known_hosts files: the user's file (read and, when the policy
/// adds keys, written) and system files (read only). A changed or revoked key is refused
/// under every policy, and nothing is written then.
#[derive(Clone, Debug)]
pub struct KnownHostsVerifier {
    host: String,
    port: u16,
    user_file: Option<PathBuf>,
    system_files: Vec<PathBuf>,
    policy: UnknownHostPolicy,
    hash_new: bool,
}

impl KnownHostsVerifier {
    /// A verifier for `host:port` with `policy` and no files yet.
    pub fn new(host: &str, port: u16, policy: UnknownHostPolicy) -> Self {
        Self { host: host.to_owned(), port, user_file: None, system_files: Vec::new(), policy, hash_new: false }
    }

    /// The user's known_hosts file (Paramiko's `load_host_keys`): read, and written when a
    /// key is added.
    pub fn user_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.user_file = Some(path.into());
        self
    }

    /// A system known_hosts file (`load_system_host_keys`): only read.
    pub fn system_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.system_files.push(path.into());
        self
    }

    /// Whether added entries are hashed (`HashKnownHosts yes`).
    pub fn hash_new_entries(mut self, hash: bool) -> Self {
        self.hash_new = hash;
        self
    }

    fn load(path: &Path) -> Result<KnownHosts, String> {
        match fs::read_to_string(path) {
            Ok(text) => KnownHosts::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(KnownHosts::new()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    fn changed_message(&self, key: &ServerHostKey, status: &HostStatus, file: &Path) -> String {
        let known = match status {
            HostStatus::Mismatch { known } | HostStatus::OtherKeysKnown { known } => known.clone(),
            _ => Vec::new(),
        };
        let offered = fingerprint(key.public_key().key_data(), FingerprintHash::Sha256);
        let listed: Vec<String> = known
            .iter()
            .map(|k| {
                format!(
                    "{} {} ({}:{})",
                    k.key.algorithm().as_str(),
                    fingerprint(k.key.key_data(), FingerprintHash::Sha256),
                    file.display(),
                    k.line
                )
            })
            .collect();
        format!(
            "host key for {} has changed: the server sent {} {offered}, known_hosts has {}",
            host_port_name(&self.host, self.port),
            key.public_key().algorithm().as_str(),
            listed.join(", ")
        )
    }

    fn add(&self, key: &ServerHostKey) -> Result<(), String> {
        let Some(path) = &self.user_file else { return Ok(()) };
        let mut kh = Self::load(path)?;
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let hashing = if self.hash_new { Hashing::Rng(&mut rng) } else { Hashing::Plain };
        let name = host_port_name(&self.host, self.port);
        kh.add(&name, key.public_key().key_data(), hashing).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Write a sibling then rename, so a crash never leaves half a file.
        let tmp = path.with_extension("sshrs-tmp");
        fs::write(&tmp, kh.write()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl HostKeyVerifier for KnownHostsVerifier {
    fn verify(&mut self, key: &ServerHostKey) -> Result<(), String> {
        let query = HostQuery::new(&self.host, self.port);
        let files: Vec<PathBuf> = self.user_file.iter().chain(&self.system_files).cloned().collect();
        for file in &files {
            let kh = Self::load(file)?;
            let verdict = kh.check(&query, key.into(), now());
            // An @revoked line that names this host but cannot be read might revoke this
            // very key: fail closed.
            if let Some(line) = verdict.unreadable_revocations.first() {
                return Err(format!("{}:{line}: unreadable @revoked entry for {}", file.display(), self.host));
            }
            // A certificate that no trusted CA vouches for is judged as its plain key, as
            // OpenSSH does.
            let status = match verdict.status {
                HostStatus::CertificateRejected { plain, .. } => *plain,
                s => s,
            };
            if status.is_revoked() {
                return Err(format!("host key for {} is revoked ({})", self.host, file.display()));
            }
            if status.is_trusted() {
                return Ok(());
            }
            if status.is_changed() {
                return Err(self.changed_message(key, &status, file));
            }
        }
        let fp = fingerprint(key.public_key().key_data(), FingerprintHash::Sha256);
        match self.policy {
            UnknownHostPolicy::Reject => Err(format!(
                "host {} is not in known_hosts ({} {fp})",
                host_port_name(&self.host, self.port),
                key.public_key().algorithm().as_str()
            )),
            UnknownHostPolicy::AutoAdd | UnknownHostPolicy::AcceptNew => self.add(key),
            UnknownHostPolicy::Warning => {
                eprintln!(
                    "Warning: unknown {} host key for {}: {fp}",
                    key.public_key().algorithm().as_str(),
                    host_port_name(&self.host, self.port)
                );
                Ok(())
            }
        }
    }
}
