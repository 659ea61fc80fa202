//! Child processes that are always bounded in time and killed when dropped.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A child process that is killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    /// Takes ownership of `child`; `what` names it in messages.
    pub fn new(child: Child, what: impl Into<String>) -> Self {
        Self { child, what: what.into() }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What this process is (for messages).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The child, for taking its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether it has exited, and how.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills it now and reaps it.
    pub fn kill(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished process printed.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output (lossily decoded).
    pub stdout: String,
    /// Standard error (lossily decoded).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `cmd` to completion with stdin closed, capturing its output; kills it and fails
/// when it runs longer than `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Finished, String> {
    run_with_input(cmd, &[], timeout)
}

/// Like [`run`], writing `input` to the command's stdin (from a thread, so a command that
/// writes before it reads cannot deadlock) and then closing it.
pub fn run_with_input(cmd: &mut Command, input: &[u8], timeout: Duration) -> Result<Finished, String> {
    let start = Instant::now();
    let name = format!("{:?}", cmd.get_program());
    let stdin = if input.is_empty() { Stdio::null() } else { Stdio::piped() };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    if let Some(mut w) = child.stdin.take() {
        let input = input.to_vec();
        thread::spawn(move || {
            use std::io::Write;
            let _ = w.write_all(&input);
        });
    }
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let mut guard = ChildGuard::new(child, name.clone());
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = guard.try_wait() {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            guard.kill();
            break None;
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let collect = |h: Option<thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    };
    let (stdout, stderr) = (collect(out), collect(err));
    match status {
        Some(status) => Ok(Finished { status, stdout, stderr, elapsed: start.elapsed() }),
        None => Err(format!(
            "{name} timed out after {timeout:?} and was killed; stdout: {}; stderr: {}",
            tail(&stdout, 2000),
            tail(&stderr, 2000)
        )),
    }
}

fn reader(mut r: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// The last `max` bytes of `s` (on a character boundary), for messages.
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
