//! A Python script from `python/` as a conversation: JSON lines out, text lines in, every
//! wait bounded, stderr kept in a temporary log for messages, killed when dropped.

use std::io::Write;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::paramiko::line_reader;
use crate::peers::python;
use crate::process::{ChildGuard, tail};

/// A running script (`python3 -u python/NAME ARGS`). Dropping it closes its stdin and kills
/// it.
pub struct ScriptProcess {
    name: String,
    child: ChildGuard,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: tempfile::NamedTempFile,
}

impl std::fmt::Debug for ScriptProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptProcess").field("name", &self.name).field("pid", &self.child.id()).finish()
    }
}

impl ScriptProcess {
    /// Starts `python/<name>` with `args`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(name: &str, args: &[S]) -> Result<Self, String> {
        let log = tempfile::Builder::new()
            .prefix("interop-script-")
            .suffix(".log")
            .tempfile()
            .map_err(|e| format!("temp log: {e}"))?;
        let stderr = log.reopen().map_err(|e| format!("log: {e}"))?;
        let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python")).join(name);
        let child = Command::new(python())
            .arg("-u")
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {} {}: {e}", python(), script.display()))?;
        let mut child = ChildGuard::new(child, name);
        let stdin = child.child_mut().stdin.take();
        let stdout = child.child_mut().stdout.take().ok_or("no stdout")?;
        Ok(Self { name: name.to_owned(), child, stdin, lines: line_reader(stdout), log })
    }

    /// What it printed to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The next stdout line as JSON, waiting at most `timeout`.
    pub fn recv_json(&mut self, timeout: Duration) -> Result<Value, String> {
        let line = match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "{} printed nothing within {timeout:?}; stderr: {}",
                    self.name,
                    tail(&self.log(), 3000)
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("{} closed its stdout; stderr: {}", self.name, tail(&self.log(), 3000)));
            }
        };
        serde_json::from_str(line.trim())
            .map_err(|e| format!("{} printed {line:?} ({e}); stderr: {}", self.name, tail(&self.log(), 3000)))
    }

    /// Writes one line to its stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: write stdin: {e}", self.name))
    }

    /// Closes its stdin and waits at most `timeout` for it to exit (then kills it).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        self.stdin.take();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait() {
                return Ok(status);
            }
            if start.elapsed() >= timeout {
                self.child.kill();
                return Err(format!(
                    "{} did not exit within {timeout:?}; killed; stderr: {}",
                    self.name,
                    tail(&self.log(), 3000)
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ScriptProcess {
    fn drop(&mut self) {
        self.stdin.take();
    }
}
