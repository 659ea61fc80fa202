//! Host key policies over known_hosts files (Paramiko's `RejectPolicy`, `AutoAddPolicy`,
//! `WarningPolicy`, OpenSSH's `StrictHostKeyChecking=accept-new`). The lookup itself is the
//! core's [`ssh_proto::known_hosts`]; this module only reads and writes the files.

use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_proto::ServerHostKey;
use ssh_proto::keys::fingerprint::{FingerprintHash, fingerprint};
use ssh_proto::known_hosts::{Hashing, HostQuery, HostStatus, KnownHosts, host_port_name};
use ssh_proto::ssh_key::public::KeyData;

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
        KnownHosts::parse(&read_text(path)?).map_err(|e| in_file(path, e))
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
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let hashing = if self.hash_new { Hashing::Rng(&mut rng) } else { Hashing::Plain };
        append_entry(path, &host_port_name(&self.host, self.port), key.public_key().key_data(), hashing)
    }
}

/// Appends one entry to the known_hosts file at `path`, creating it (and its directory) when
/// missing. Appended, as OpenSSH does, never rewritten: the file may be a symlink, shared
/// with an `ssh` adding its own line at the same moment, or `/dev/null`
/// (`UserKnownHostsFile=/dev/null`), and writing a new file over it would replace the link,
/// drop the other line, or turn the device into a regular file.
fn append_entry(path: &Path, name: &str, key: &KeyData, hashing: Hashing<'_>) -> Result<(), String> {
    // Parsing the file first holds the addition to the limits the core enforces on edits.
    let existing = read_text(path)?;
    let mut kh = KnownHosts::parse(&existing).map_err(|e| in_file(path, e))?;
    kh.add(name, key, hashing).map_err(|e| e.to_string())?;
    let whole = kh.write();
    // The file's own bytes come back unchanged, then a newline if its last line had none,
    // then the entry.
    let Some(appended) = whole.strip_prefix(existing.as_str()) else {
        return Err(in_file(path, "the entry cannot be appended to this file"));
    };
    let entry = appended.strip_prefix('\n').unwrap_or(appended);
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        fs::create_dir_all(dir).map_err(|e| in_file(dir, e))?;
    }
    let mut file =
        fs::OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| in_file(path, e))?;
    // Whether a newline must go first is asked of the file as opened, not as read above:
    // another writer may have appended meanwhile (OpenSSH checks the same way).
    let mut last = [0u8; 1];
    let unterminated =
        file.seek(SeekFrom::End(-1)).is_ok() && file.read(&mut last).is_ok_and(|n| n == 1 && last != [b'\n']);
    let mut text = String::with_capacity(entry.len() + 1);
    if unterminated {
        text.push('\n');
    }
    text.push_str(entry);
    // One write of a whole line to a file opened for appending lands after whatever another
    // writer appended meanwhile.
    file.write_all(text.as_bytes()).map_err(|e| in_file(path, e))
}

/// The text of the file at `path`; a missing file reads as empty.
fn read_text(path: &Path) -> Result<String, String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(in_file(path, e)),
    }
}

/// An error about the file at `path`, naming it.
fn in_file(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
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

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_proto::{KeyPair, SeededRng};

    fn key(seed: u64) -> KeyData {
        KeyPair::generate_ed25519(&mut SeededRng::new(seed)).public_key().key_data().clone()
    }

    fn trusts(path: &Path, host: &str, port: u16, key: &KeyData) -> bool {
        let kh = KnownHosts::parse(&fs::read_to_string(path).unwrap()).unwrap();
        kh.check(&HostQuery::new(host, port), key.into(), 0).status.is_trusted()
    }

    #[test]
    fn an_entry_is_appended_to_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_hosts");
        append_entry(&path, "a.example", &key(1), Hashing::Plain).unwrap();
        // A last line without its newline, as an editor may leave it.
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("# kept");
        fs::write(&path, &text).unwrap();
        append_entry(&path, "[b.example]:2222", &key(2), Hashing::Rng(&mut SeededRng::new(3))).unwrap();
        let after = fs::read_to_string(&path).unwrap();
        assert!(after.starts_with(&format!("{text}\n|1|")), "{after:?}");
        assert_eq!(after.lines().count(), 3);
        assert!(trusts(&path, "a.example", 22, &key(1)));
        assert!(trusts(&path, "b.example", 2222, &key(2)));
    }

    #[test]
    fn a_symlinked_file_stays_a_link_and_other_writers_lines_stay() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real_known_hosts");
        let mut other = KnownHosts::new();
        other.add("other.example", &key(5), Hashing::Plain).unwrap();
        fs::write(&target, other.write()).unwrap();
        let link = dir.path().join("known_hosts");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        append_entry(&link, "a.example", &key(1), Hashing::Plain).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
        let text = fs::read_to_string(&target).unwrap();
        assert!(text.starts_with("other.example "), "{text:?}");
        assert!(trusts(&target, "a.example", 22, &key(1)));
    }

    #[test]
    fn a_file_that_cannot_be_read_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, [0xff, 0xfe, b'\n']).unwrap();
        assert!(append_entry(&path, "a.example", &key(1), Hashing::Plain).is_err());
        assert_eq!(fs::read(&path).unwrap(), [0xff, 0xfe, b'\n']);
    }
}
