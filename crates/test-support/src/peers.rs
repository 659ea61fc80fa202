//! Which real peers are installed, and the skip-or-fail policy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::run;

/// A real SSH implementation (or tool) the interop tests talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// OpenSSH `sshd` (`/usr/sbin/sshd`).
    Sshd,
    /// OpenSSH `ssh` (also used for `ssh -Q`).
    Ssh,
    /// OpenSSH `ssh-keyscan`.
    SshKeyscan,
    /// OpenSSH `ssh-keygen`.
    SshKeygen,
    /// `python3` with `import paramiko` working.
    Paramiko,
    /// OpenSSH `ssh-agent`.
    SshAgent,
    /// OpenSSH `ssh-add`.
    SshAdd,
}

impl Peer {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sshd => "sshd",
            Self::Ssh => "ssh",
            Self::SshKeyscan => "ssh-keyscan",
            Self::SshKeygen => "ssh-keygen",
            Self::Paramiko => "paramiko",
            Self::SshAgent => "ssh-agent",
            Self::SshAdd => "ssh-add",
        }
    }

    /// `None` when the peer is usable, else why not (probed once per process).
    pub fn missing(self) -> Option<String> {
        static PROBES: [OnceLock<Option<String>>; 7] = [const { OnceLock::new() }; 7];
        let i = self as usize;
        PROBES[i].get_or_init(|| probe(self)).clone()
    }
}

fn probe(peer: Peer) -> Option<String> {
    let t = Duration::from_secs(30);
    match peer {
        Peer::Sshd => match crate::sshd::sshd_path() {
            Some(p) => match run(Command::new(&p).arg("-V"), t) {
                // `sshd -V` is not an option in 9.2 but prints the version and usage; any run counts.
                Ok(_) => None,
                Err(e) => Some(format!("sshd at {} does not run: {e}", p.display())),
            },
            None => Some("OpenSSH sshd not found (/usr/sbin/sshd or PATH)".into()),
        },
        // Found is enough for the agent tools: `ssh-agent` without arguments would start one.
        Peer::SshAgent | Peer::SshAdd => {
            let name = peer.name();
            find_in_path(name).is_none().then(|| format!("{name} not found in PATH"))
        }
        Peer::Ssh | Peer::SshKeyscan | Peer::SshKeygen => {
            let name = peer.name();
            match find_in_path(name) {
                None => Some(format!("{name} not found in PATH")),
                Some(p) => {
                    let args: &[&str] = if peer == Peer::Ssh { &["-V"] } else { &["-?"] };
                    match run(Command::new(&p).args(args), t) {
                        Ok(_) => None,
                        Err(e) => Some(format!("{name} at {} does not run: {e}", p.display())),
                    }
                }
            }
        }
        Peer::Paramiko => {
            match run(Command::new(python()).args(["-c", "import paramiko; print(paramiko.__version__)"]), t) {
                Ok(out) if out.status.success() => None,
                Ok(out) => Some(format!("`{} -c 'import paramiko'` failed: {}", python(), out.stderr.trim())),
                Err(e) => Some(format!("cannot run {}: {e}", python())),
            }
        }
    }
}

/// The Python interpreter: `$PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".to_owned())
}

pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `SSH_INTEROP=require` is set: missing peers are then a failure, not a skip.
pub fn interop_required() -> bool {
    std::env::var("SSH_INTEROP").is_ok_and(|v| v.eq_ignore_ascii_case("require"))
}

/// `true` when every peer is usable. Otherwise prints a loud `SKIPPED:` line to stderr and
/// returns `false`, or panics when `SSH_INTEROP=require` is set.
pub fn peers_available(peers: &[Peer]) -> bool {
    let missing: Vec<String> = peers.iter().filter_map(|p| p.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("interop test");
    let why = missing.join("; ");
    assert!(!interop_required(), "SSH_INTEROP=require, but {test} cannot run: {why}");
    eprintln!(
        "\n********************************************************************************\n\
         SKIPPED: {test}: {why}\n\
         (install the peers with shared/scripts/install-peers.sh; SSH_INTEROP=require turns this into a failure)\n\
         ********************************************************************************\n"
    );
    false
}
