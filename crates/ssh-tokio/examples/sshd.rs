//! `sshd-tokio`: the personal SSH server of ssh-blocking's `sshd` example on the ssh-tokio
//! API: the same command line, output, exit codes and behaviour (its documentation is the
//! contract, and `tests/sshd_cli.rs` runs the same contract tests against both), with one
//! task per connection and per session instead of threads. Connections are served on one
//! single-threaded runtime per core ([`Server::sharded`]): each connection's tasks stay on
//! one thread.
//!
//! ```text
//! sshd-tokio -p PORT [-b ADDR] -h HOSTKEY… [-a AUTHORIZED_KEYS] [--password USER:PASS]…
//!            [-o Ciphers=…|KexAlgorithms=…|MACs=…|HostKeyAlgorithms=…|RekeyLimit=…|Compression=…]…
//! ```
//!
//! The binary carries the driver in its name so that both examples can live in one target
//! directory (`cargo run -p ssh-tokio --example sshd-tokio -- -p 2222 -h KEY`).
//!
//! There is no protocol logic here: everything SSH goes through `ssh_tokio::Server`; the
//! command line, the configuration, who may log in and how a command is started are shared
//! with the blocking example (`ssh-blocking/examples/shared/sshd_common.rs`).

#[path = "../../ssh-blocking/examples/shared/sshd_common.rs"]
mod common;

use std::collections::HashSet;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use rustix::process::{Pid, Signal};
use ssh_tokio::ssh_proto::connection::{ChannelKind, ExitStatus, PtyRequest};
use ssh_tokio::ssh_proto::ssh_key::PublicKey;
use ssh_tokio::{
    AgentOpener, AuthDecision, Channel, Controls, Interactive, Server, ServerHandler, ServerSession, SessionControl,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

/// What each copy moves at once (a pipe's capacity); the channel's window bounds the rest
/// of a session's buffering.
const CHUNK: usize = 64 * 1024;
/// The channel data a client takes per packet (OpenSSH's maximum packet size).
const PACKET: usize = 32 * 1024;
/// After a pty command exits, output still arriving is passed on until this long passes
/// without any (a background job may hold the terminal open forever).
const PTY_DRAIN: Duration = Duration::from_millis(250);
/// How long SIGTERM waits for running sessions to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);
/// After the last session ended on SIGTERM, time for its exit status to reach the client.
const FLUSH_GRACE: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------
// What is running, for a clean SIGTERM

#[derive(Default)]
struct Registry {
    sessions: AtomicUsize,
    stopping: AtomicBool,
    state: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    /// Commands running (each leads its own process group).
    children: HashSet<i32>,
    dirs: Vec<PathBuf>,
}

/// Counts a session while it lives.
struct SessionGuard(Arc<Registry>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Keeps a command's process group on the list while it runs.
struct ChildGuard(Arc<Registry>, i32);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.0.lock().children.remove(&self.1);
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Running> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(self: &Arc<Self>) -> SessionGuard {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        SessionGuard(Arc::clone(self))
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn child(self: &Arc<Self>, pid: i32) -> ChildGuard {
        self.lock().children.insert(pid);
        // Stopping between the check and the insert would miss this child: look again.
        if self.stopping() {
            signal_group(pid, Signal::HUP);
        }
        ChildGuard(Arc::clone(self), pid)
    }

    /// Stops new commands, hangs up running ones, waits for their sessions, and removes the
    /// agent directories still there.
    async fn shutdown(&self, wait: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let children: Vec<i32> = self.lock().children.iter().copied().collect();
        for pid in children {
            signal_group(pid, Signal::HUP);
        }
        let deadline = Instant::now() + wait;
        let had_sessions = self.sessions.load(Ordering::SeqCst) > 0;
        while self.sessions.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if had_sessions {
            // A session's exit status and close go out after its command returns: give the
            // connections' writers a moment before the process ends.
            tokio::time::sleep(FLUSH_GRACE).await;
        }
        let mut st = self.lock();
        for pid in st.children.iter().copied() {
            signal_group(pid, Signal::KILL);
        }
        for dir in st.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A signal to a command's process group.
fn signal_group(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

// ---------------------------------------------------------------------------------------
// The handler

struct Personal {
    credentials: Credentials,
    registry: Arc<Registry>,
}

impl ServerHandler for Personal {
    async fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        self.credentials.password(user, password)
    }

    async fn check_auth_publickey(&self, _user: &str, key: &PublicKey) -> AuthDecision {
        self.credentials.publickey(key)
    }

    async fn check_auth_interactive(&self, _user: &str, _submethods: &[String]) -> Interactive {
        self.credentials.interactive()
    }

    async fn check_auth_interactive_response(&self, user: &str, answers: &[&str]) -> Interactive {
        self.credentials.interactive_response(user, answers)
    }

    async fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        matches!(kind, ChannelKind::Session | ChannelKind::DirectTcpip { .. })
    }

    async fn check_port_forward_request(&self, _address: &str, port: u16) -> Option<SocketAddr> {
        Some((Ipv4Addr::LOCALHOST, port).into())
    }

    async fn check_pty_request(&self, _pty: &PtyRequest) -> bool {
        true
    }

    async fn check_env_request(&self, _name: &str, _value: &str) -> bool {
        true
    }

    async fn check_agent_forward_request(&self) -> bool {
        true
    }

    async fn check_exec_request(&self, _command: &[u8]) -> bool {
        !self.registry.stopping()
    }

    async fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        self.run(session, Program::Command(command.to_vec())).await
    }

    async fn check_shell_request(&self) -> bool {
        !self.registry.stopping()
    }

    async fn shell(&self, session: &mut ServerSession) -> ExitStatus {
        self.run(session, Program::Shell).await
    }

    async fn check_subsystem_request(&self, name: &str) -> bool {
        name == "sftp" && sftp_server().is_some() && !self.registry.stopping()
    }

    async fn subsystem(&self, session: &mut ServerSession, _name: &str) -> ExitStatus {
        match sftp_server() {
            Some(path) => self.run(session, Program::Sftp(path)).await,
            None => ExitStatus::Code(127),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running a command for a session

impl Personal {
    async fn run(&self, session: &mut ServerSession, program: Program) -> ExitStatus {
        let _counted = self.registry.enter();
        let agent = match session.agent_opener() {
            Some(opener) => match AgentSocket::start(opener, &self.registry) {
                Ok(a) => Some(a),
                Err(e) => {
                    let message = format!("sshd: agent forwarding failed: {e}\r\n");
                    let _ = session.channel.stderr().write_all(message.as_bytes()).await;
                    None
                }
            },
            None => None,
        };
        let mut cmd = command_for(&program);
        prepare(&mut cmd, &session.env, agent.as_ref().map(|a| a.path.as_path()));
        let result = match session.pty.clone() {
            Some(request) => self.run_pty(session, cmd, &request).await,
            None => self.run_pipes(session, cmd).await,
        };
        drop(agent);
        match result {
            Ok(status) => status,
            Err(e) => {
                let message = format!("sshd: cannot run the command: {e}\r\n");
                let _ = session.channel.stderr().write_all(message.as_bytes()).await;
                ExitStatus::Code(127)
            }
        }
    }

    /// A command on pipes: stdin, stdout and stderr stream both ways at the pace of the
    /// channel's window and the pipes; it ends once the command has exited and its output
    /// is passed on.
    async fn run_pipes(&self, session: &mut ServerSession, cmd: std::process::Command) -> io::Result<ExitStatus> {
        let mut cmd = tokio::process::Command::from(cmd);
        // Its own process group, for signals (a pty command leads a session of its own).
        cmd.process_group(0).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let _listed = self.registry.child(pid);
        let missing = || io::Error::other("child pipes missing");
        let (stdin, stdout, stderr) = (
            child.stdin.take().ok_or_else(missing)?,
            child.stdout.take().ok_or_else(missing)?,
            child.stderr.take().ok_or_else(missing)?,
        );
        let mut to_stderr = session.channel.stderr();
        let (from_client, to_client) = tokio::io::split(&mut session.channel);
        // Client input to the command; dropping the pipe at the end is its EOF.
        let input = copy(from_client, stdin);
        // Output and errors until both pipes close; EOF goes to the client after both,
        // when the command is done.
        // The pipes move into their copies, so a client that goes away closes them and the
        // command sees them break when it writes, as under OpenSSH.
        let mut to_client = to_client;
        let output = async move {
            tokio::join!(
                async move {
                    let mut stdout = stdout;
                    copy_into(&mut stdout, &mut to_client).await
                },
                async move {
                    let mut stderr = stderr;
                    copy_into(&mut stderr, &mut to_stderr).await
                }
            )
        };
        let exited = Arc::new(AtomicBool::new(false));
        let finished = async {
            let (status, _) = tokio::join!(
                async {
                    let status = child.wait().await;
                    exited.store(true, Ordering::SeqCst);
                    status
                },
                output
            );
            status
        };
        let on_control = |control| on_control(pid, &exited, None, control);
        let status = drive(finished, input, &mut session.controls, on_control, || {}).await?;
        Ok(exit_status_of(status))
    }

    /// A command on a pseudo-terminal: it reads and writes the terminal, window changes
    /// resize it, and output still coming after it exits is passed on until it pauses.
    async fn run_pty(
        &self,
        session: &mut ServerSession,
        mut cmd: std::process::Command,
        request: &PtyRequest,
    ) -> io::Result<ExitStatus> {
        let pty_error = |e: pty_process::Error| io::Error::other(format!("pty: {e}"));
        let (pty, pts) = pty_process::open().map_err(pty_error)?;
        pty.resize(pty_size(request.cols, request.rows, request.width_px, request.height_px)).map_err(pty_error)?;
        prepare_pty(&mut cmd, &pty, &pts, request)?;
        let mut child = pty_process::Command::from(tokio::process::Command::from(cmd)).spawn(pts).map_err(pty_error)?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let _listed = self.registry.child(pid);
        // Window changes resize the terminal through a descriptor of its own, while the
        // input task holds the writing half.
        let resize = rustix::io::dup(&pty)?;
        let (from_pty, mut to_pty) = pty.into_split();
        let (from_client, mut to_client) = tokio::io::split(&mut session.channel);
        let exited = Arc::new(tokio::sync::Notify::new());
        let input = async move {
            let mut from_client = from_client;
            let _ = copy_into(&mut from_client, &mut to_pty).await;
        };
        let output = {
            let exited = Arc::clone(&exited);
            async move {
                let mut from_pty = from_pty;
                let mut buf = vec![0u8; CHUNK];
                let mut done = false;
                loop {
                    let read = if done {
                        match tokio::time::timeout(PTY_DRAIN, from_pty.read(&mut buf)).await {
                            Ok(r) => r,
                            Err(_) => break,
                        }
                    } else {
                        tokio::select! {
                            r = from_pty.read(&mut buf) => r,
                            () = exited.notified() => { done = true; continue; }
                        }
                    };
                    // EIO once the command and every other holder of the terminal are gone.
                    let Ok(n @ 1..) = read else { break };
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        // The client went away: a terminal hangs up.
                        signal_group(pid, Signal::HUP);
                        break;
                    }
                }
            }
        };
        let reaped = Arc::new(AtomicBool::new(false));
        let finished = async {
            let status = child.wait().await;
            reaped.store(true, Ordering::SeqCst);
            exited.notify_one();
            status
        };
        let finished = async { tokio::join!(finished, output).0 };
        let on_control = |control| on_control(pid, &reaped, Some(&resize), control);
        // The channel or the connection is gone: a terminal hangs up, as when sshd closes
        // the pty.
        let hang_up = || {
            if !reaped.load(Ordering::SeqCst) {
                signal_group(pid, Signal::HUP);
            }
        };
        let status = drive(finished, input, &mut session.controls, on_control, hang_up).await?;
        Ok(exit_status_of(status))
    }
}

/// Runs `finished` to its end while moving client input and delivering control requests;
/// input that is still open when the command is done is left behind. `gone` runs once the
/// session's controls end: the channel or the connection is gone.
async fn drive<T>(
    finished: impl Future<Output = io::Result<T>>,
    input: impl Future<Output = ()>,
    controls: &mut Controls,
    mut on_control: impl FnMut(SessionControl),
    gone: impl FnOnce(),
) -> io::Result<T> {
    tokio::pin!(finished, input);
    let (mut input_open, mut gone) = (true, Some(gone));
    loop {
        tokio::select! {
            r = &mut finished => return r,
            () = &mut input, if input_open => input_open = false,
            control = controls.next(), if gone.is_some() => match control {
                Some(control) => on_control(control),
                None => {
                    if let Some(gone) = gone.take() {
                        gone();
                    }
                }
            },
        }
    }
}

fn on_control(pid: i32, exited: &AtomicBool, pty: Option<&std::os::fd::OwnedFd>, control: SessionControl) {
    match control {
        // The whole group: `sh -c` forks the program it runs (dash does not exec the last
        // command), and both must get it, as from a terminal. Not once it was reaped: its
        // number may be another process's by now.
        SessionControl::Signal(name) => {
            if !exited.load(Ordering::SeqCst)
                && let Some(signal) = signal_named(&name)
            {
                signal_group(pid, signal);
            }
        }
        SessionControl::WindowChange { cols, rows, width_px, height_px } => {
            if let Some(pty) = pty {
                let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
                let size = rustix::termios::Winsize {
                    ws_row: clamp(rows),
                    ws_col: clamp(cols),
                    ws_xpixel: clamp(width_px),
                    ws_ypixel: clamp(height_px),
                };
                let _ = rustix::termios::tcsetwinsize(pty, size);
            }
        }
        SessionControl::Break(_) => {}
    }
}

/// Copies `from` into `to` in [`CHUNK`]s, then closes `to` (a pipe: the command's EOF).
async fn copy(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let _ = copy_into(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

async fn copy_into(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin + ?Sized),
) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        let n = read_ready(from, &mut buf, n).await;
        to.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Reads on, after `n` bytes, what `from` has ready now, up to one packet: a command
/// writing small blocks still travels in full packets (fewer packets and system calls on
/// both ends), as OpenSSH's buffered channels do. Nothing waits for more; an error or EOF
/// is left for the next read to report.
async fn read_ready(from: &mut (impl AsyncRead + Unpin), buf: &mut [u8], mut n: usize) -> usize {
    while n < PACKET.min(buf.len()) {
        let more = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(buf.get_mut(n..).unwrap_or_default());
            match std::pin::Pin::new(&mut *from).poll_read(cx, &mut rb) {
                std::task::Poll::Ready(Ok(())) => std::task::Poll::Ready(rb.filled().len()),
                std::task::Poll::Ready(Err(_)) | std::task::Poll::Pending => std::task::Poll::Ready(0),
            }
        })
        .await;
        if more == 0 {
            return n;
        }
        n += more;
    }
    n
}

// ---------------------------------------------------------------------------------------
// Agent forwarding

/// The session's `SSH_AUTH_SOCK`: a socket in a private temporary directory; each connection
/// to it gets an agent channel to the client.
struct AgentSocket {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    accepting: JoinHandle<()>,
    registry: Arc<Registry>,
}

impl AgentSocket {
    fn start(opener: AgentOpener, registry: &Arc<Registry>) -> io::Result<Self> {
        let (dir, path) = agent_socket_dir()?;
        let listener = UnixListener::bind(&path)?;
        registry.lock().dirs.push(dir.path().to_owned());
        let accepting = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                match opener.open().await {
                    Ok(channel) => {
                        tokio::spawn(pump_agent(channel, conn));
                    }
                    // The connection is gone: so is the session.
                    Err(ssh_tokio::Error::Disconnected { .. }) => break,
                    // Refused by the client: this agent client sees its socket close.
                    Err(_) => drop(conn),
                }
            }
        });
        Ok(Self { dir: Some(dir), path, accepting, registry: Arc::clone(registry) })
    }
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        self.accepting.abort();
        if let Some(dir) = self.dir.take() {
            self.registry.lock().dirs.retain(|d| d != dir.path());
            let _ = dir.close();
        }
    }
}

/// Copies between a local agent client and an agent channel, half-closing each way.
async fn pump_agent(mut channel: Channel, mut socket: tokio::net::UnixStream) {
    let _ = tokio::io::copy_bidirectional(&mut channel, &mut socket).await;
}

// ---------------------------------------------------------------------------------------
// Startup

async fn run() -> Result<(), Failure> {
    let cli = parse_args(std::env::args().skip(1))?;
    let config = build_config(&cli)?;
    let registry = Arc::new(Registry::default());
    let handler = Personal { credentials: Credentials::from_cli(&cli), registry: Arc::clone(&registry) };
    // Handled signals are reset to their default in every command this server runs, while
    // ignored ones would stay ignored: `nohup sshd` must not give its commands an
    // unkillable SIGHUP.
    let handle = |kind| signal(kind).map_err(|e| usage(format!("sshd: cannot handle signals: {e}")));
    let (mut term, mut int) = (handle(SignalKind::terminate())?, handle(SignalKind::interrupt())?);
    let (mut hup, mut quit) = (handle(SignalKind::hangup())?, handle(SignalKind::quit())?);
    let server = Server::bind((cli.bind.as_str(), cli.port), config, handler)
        .await
        .map_err(|e| usage(format!("sshd: Bind to port {} on {} failed: {e}", cli.port, cli.bind)))?;
    let cores = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    let server = server.sharded(cores).map_err(|e| usage(format!("sshd: cannot start threads: {e}")))?;
    let addr = server.local_addr().map_err(|e| usage(format!("sshd: {e}")))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {addr}")
            .and_then(|()| out.flush())
            .map_err(|e| usage(format!("sshd: stdout: {e}")))?;
    }
    let served = tokio::select! {
        r = server.serve() => r,
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
        _ = hup.recv() => Ok(()),
        _ = quit.recv() => Ok(()),
    };
    server.stop_handle().stop();
    registry.shutdown(SHUTDOWN_WAIT).await;
    served.map_err(|e| usage(format!("sshd: {e}")))
}

fn main() -> ExitCode {
    // This runtime only accepts connections and waits for signals: the server's shards
    // serve the connections.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sshd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run());
    // Sessions still running after the shutdown wait are not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}
