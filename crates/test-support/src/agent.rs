//! A real OpenSSH `ssh-agent -D` on a socket in a test's directory, stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{ChildGuard, run};

/// The running agent.
pub struct SshAgent {
    _child: ChildGuard,
    socket: PathBuf,
}

impl SshAgent {
    /// Starts one listening on `dir/agent.sock`; returns once the socket exists.
    pub fn start(dir: &Path) -> Result<Self, String> {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start ssh-agent: {e}"))?;
        let child = ChildGuard::new(child, "ssh-agent");
        let until = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > until {
                return Err("ssh-agent did not create its socket within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { _child: child, socket })
    }

    /// Its socket (`SSH_AUTH_SOCK`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `ssh-add KEY` against this agent.
    pub fn add(&self, key: &Path) -> Result<(), String> {
        let out = run(Command::new("ssh-add").arg(key).env("SSH_AUTH_SOCK", &self.socket), Duration::from_secs(20))?;
        if out.status.success() { Ok(()) } else { Err(format!("ssh-add {}: {}", key.display(), out.stderr.trim())) }
    }
}
