//! `sshd`: a personal SSH server on the ssh-blocking API, started the way OpenSSH's `sshd`
//! is and serving as the user who runs it (like `sshd` started by that user).
//!
//! ```text
//! sshd -p PORT [-b ADDR] -h HOSTKEY… [-a AUTHORIZED_KEYS] [--password USER:PASS]…
//!      [-o Ciphers=…|KexAlgorithms=…|MACs=…|HostKeyAlgorithms=…|RekeyLimit=…|Compression=…]…
//! ```
//!
//! The flags and output are a contract (`tests/sshd_cli.rs` drives them with OpenSSH `ssh`):
//!
//! - `-p PORT` (required): the port; `0` picks a free one.
//! - `-b ADDR`: the address to bind, **127.0.0.1 by default** (not sshd's every-interface
//!   default: this is a test and development server).
//! - `-h FILE` (required, repeatable): host private keys, unencrypted, in OpenSSH, PEM
//!   (PKCS#1 / SEC1) or PKCS#8 format, any key types the core supports. Every file must load.
//! - `-a FILE`: an OpenSSH `authorized_keys` file, read again at every attempt. Each listed key
//!   logs in **any** user name. Line options (`command=`, `from=`, `restrict`, `no-pty`, …) are
//!   skipped and **not honoured**; `cert-authority` lines, certificates and lines that do not
//!   parse are ignored.
//! - `--password USER:PASS` (repeatable, also `--password=USER:PASS`): that user may log in
//!   with that password, by `password` or by `keyboard-interactive` (one `Password:` prompt).
//! - `-o KEYWORD=VALUE` (or `-o "KEYWORD VALUE"`, repeatable, keywords case-insensitive):
//!   `Ciphers`, `KexAlgorithms`, `MACs`, `HostKeyAlgorithms`, `PubkeyAcceptedAlgorithms` take
//!   OpenSSH lists (`a,b` replaces, `+a` appends, `-a` removes, `^a` puts first, `*`/`?`
//!   wildcards); `RekeyLimit SIZE [TIME]` (`1G 1h`, `default`, `none` for the time, suffixes
//!   K/M/G/T and s/m/h/d/w); `Compression yes|delayed|no`.
//! - Ready: prints exactly `listening on ADDR:PORT` (the bound port) on stdout, flushed, and
//!   nothing else on stdout.
//! - Errors: one line on stderr. Exit status as OpenSSH's sshd: **1** for a usage error
//!   (unknown flag, missing argument, unknown `-o` keyword, a host key that does not load, a
//!   failed bind), **255** for a bad value of a known `-o` keyword.
//! - `SIGTERM` / `SIGINT` (and `SIGHUP`, `SIGQUIT`): stops accepting, sends `SIGHUP` to
//!   running commands, waits up to 3 s for their sessions to end, removes agent socket
//!   directories, exits 0. Commands start with every signal at its default, as under
//!   OpenSSH, even when this server was started with some ignored (`nohup`, `cmd &`).
//!
//! Sessions: `exec` runs `/bin/sh -c COMMAND`; `shell` runs `$SHELL` (else `/bin/sh`) as a
//! login shell (`argv[0]` is `-NAME`); the `sftp` subsystem runs OpenSSH's `sftp-server` when
//! it is installed. The working directory is `$HOME`. The environment is this process's, plus
//! every variable the client sends (like `AcceptEnv *`), plus `TERM` and `SSH_TTY` with a pty
//! and `SSH_AUTH_SOCK` with agent forwarding. With a pty (`ssh -t`) the command gets a real
//! pseudo-terminal as its controlling terminal, with the client's size and terminal modes;
//! window changes resize it. Without one it gets pipes; standard input, output and error are
//! streamed with bounded buffers both ways, the client's EOF closes its input, and the exit
//! status or the killing signal (`exit-signal`, e.g. `TERM`) is reported. Each command leads
//! its own process group, and signals the client sends go to that group (so both `sh -c` and
//! the program it forks get them). A client that goes away hangs up a pty command (`SIGHUP`);
//! a command on pipes sees them break when it writes, as with sshd. Local forwards (`-L`) reach any target; remote forwards
//! (`-R`) listen on 127.0.0.1 whatever address is asked (`GatewayPorts no`). Agent forwarding
//! (`-A`) creates a socket in a private temporary directory (under `$TMPDIR`) for the
//! session's life.
//!
//! There is no protocol logic here: everything SSH goes through `ssh_blocking::Server`.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

#[path = "shared/sshd_common.rs"]
mod common;

use common::*;
use rustix::process::{Pid, Signal};
use ssh_blocking::ssh_proto::connection::{ChannelKind, ExitStatus, PtyRequest};
use ssh_blocking::ssh_proto::ssh_key::PublicKey;
use ssh_blocking::{
    AgentOpener, AuthDecision, Channel, Interactive, Reader, Server, ServerHandler, ServerSession, SessionControl,
    Stderr, Stdin,
};

/// How often a session's supervisor looks at what it cannot wait on together (control
/// requests, the channel, news from the threads that move the data).
const TICK: Duration = Duration::from_millis(20);
/// What each data thread reads at once (a pipe's capacity); the channel's window bounds
/// the rest of a session's buffering.
const CHUNK: usize = 64 * 1024;
/// The channel data a client takes per packet (OpenSSH's maximum packet size).
const PACKET: usize = 32 * 1024;
/// Room for news from a session's threads.
const QUEUE: usize = 16;
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
    state: Mutex<Running>,
    changed: Condvar,
    stopping: AtomicBool,
}

#[derive(Default)]
struct Running {
    sessions: usize,
    /// Commands running (each leads its own process group).
    children: HashSet<i32>,
    dirs: Vec<PathBuf>,
}

/// Counts a session while it lives.
struct SessionGuard(Arc<Registry>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.lock().sessions -= 1;
        self.0.changed.notify_all();
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Running> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(self: &Arc<Self>) -> SessionGuard {
        self.lock().sessions += 1;
        SessionGuard(Arc::clone(self))
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops new commands, hangs up running ones, waits for their sessions, and removes the
    /// agent directories still there.
    fn shutdown(&self, wait: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let children: Vec<i32> = self.lock().children.iter().copied().collect();
        for pid in children {
            hang_up(pid);
        }
        let deadline = Instant::now() + wait;
        let mut st = self.lock();
        let had_sessions = st.sessions > 0;
        while st.sessions > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        if had_sessions {
            // A session's exit status and close go out after its command returns: give the
            // connections' writers a moment before the process ends.
            drop(st);
            thread::sleep(FLUSH_GRACE);
            st = self.lock();
        }
        for pid in st.children.iter().filter_map(|p| Pid::from_raw(*p)) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
        for dir in st.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// SIGHUP to a command's process group, as a closing terminal does.
fn hang_up(pid: i32) {
    let Some(pid) = Pid::from_raw(pid) else { return };
    let _ = rustix::process::kill_process_group(pid, Signal::HUP);
}

// ---------------------------------------------------------------------------------------
// The handler

struct Personal {
    credentials: Credentials,
    registry: Arc<Registry>,
}

impl ServerHandler for Personal {
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        self.credentials.password(user, password)
    }

    fn check_auth_publickey(&self, _user: &str, key: &PublicKey) -> AuthDecision {
        self.credentials.publickey(key)
    }

    fn check_auth_interactive(&self, _user: &str, _submethods: &[String]) -> Interactive {
        self.credentials.interactive()
    }

    fn check_auth_interactive_response(&self, user: &str, answers: &[&str]) -> Interactive {
        self.credentials.interactive_response(user, answers)
    }

    fn check_channel_request(&self, kind: &ChannelKind) -> bool {
        matches!(kind, ChannelKind::Session | ChannelKind::DirectTcpip { .. })
    }

    fn check_port_forward_request(&self, _address: &str, port: u16) -> Option<SocketAddr> {
        Some((Ipv4Addr::LOCALHOST, port).into())
    }

    fn check_pty_request(&self, _pty: &PtyRequest) -> bool {
        true
    }

    fn check_env_request(&self, _name: &str, _value: &str) -> bool {
        true
    }

    fn check_agent_forward_request(&self) -> bool {
        true
    }

    fn check_exec_request(&self, _command: &[u8]) -> bool {
        !self.registry.stopping()
    }

    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        self.run(session, Program::Command(command.to_vec()))
    }

    fn check_shell_request(&self) -> bool {
        !self.registry.stopping()
    }

    fn shell(&self, session: &mut ServerSession) -> ExitStatus {
        self.run(session, Program::Shell)
    }

    fn check_subsystem_request(&self, name: &str) -> bool {
        name == "sftp" && sftp_server().is_some() && !self.registry.stopping()
    }

    fn subsystem(&self, session: &mut ServerSession, _name: &str) -> ExitStatus {
        match sftp_server() {
            Some(path) => self.run(session, Program::Sftp(path)),
            None => ExitStatus::Code(127),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running a command for a session

/// What the threads around a running command tell its supervisor.
enum Ev {
    StderrDone,
    StdoutDone,
    Exited(std::process::ExitStatus),
}

/// A pty master shared by the threads that read and write it.
#[derive(Clone)]
struct PtyIo(Arc<pty_process::blocking::Pty>);

impl Read for PtyIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl std::os::fd::AsFd for PtyIo {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Write for PtyIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A command's output: a pipe or a pty master, whose descriptor says how much is waiting.
trait Output: Read + std::os::fd::AsFd + Send {}

impl<T: Read + std::os::fd::AsFd + Send> Output for T {}

/// A started command and its streams.
struct Spawned {
    child: std::process::Child,
    pty: Option<PtyIo>,
    input: CommandInput,
    output: Box<dyn Output>,
    errors: Option<Box<dyn Read + Send>>,
}

fn spawn_pipes(mut cmd: Command) -> io::Result<Spawned> {
    // Its own process group, for signals (a pty command leads a session of its own).
    cmd.process_group(0);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let missing = || io::Error::other("child pipes missing");
    let input = CommandInput::Pipe(child.stdin.take().ok_or_else(missing)?);
    let output = Box::new(child.stdout.take().ok_or_else(missing)?);
    let errors: Box<dyn Read + Send> = Box::new(child.stderr.take().ok_or_else(missing)?);
    Ok(Spawned { child, pty: None, input, output, errors: Some(errors) })
}

fn spawn_pty(mut cmd: Command, request: &PtyRequest) -> io::Result<Spawned> {
    let pty_error = |e: pty_process::Error| io::Error::other(format!("pty: {e}"));
    let (pty, pts) = pty_process::blocking::open().map_err(pty_error)?;
    pty.resize(pty_size(request.cols, request.rows, request.width_px, request.height_px)).map_err(pty_error)?;
    prepare_pty(&mut cmd, &pty, &pts, request)?;
    let child = pty_process::blocking::Command::from(cmd).spawn(pts).map_err(pty_error)?;
    let io = PtyIo(Arc::new(pty));
    Ok(Spawned {
        child,
        input: CommandInput::Pty(io.clone()),
        output: Box::new(io.clone()),
        errors: None,
        pty: Some(io),
    })
}

impl Personal {
    fn run(&self, session: &mut ServerSession, program: Program) -> ExitStatus {
        let _counted = self.registry.enter();
        let (tx, rx) = sync_channel::<Ev>(QUEUE);
        let agent = if let Some(opener) = session.agent_opener() {
            match AgentSocket::start(opener, &self.registry) {
                Ok(a) => Some(a),
                Err(e) => {
                    let _ = session.channel.write_stderr(format!("sshd: agent forwarding failed: {e}\r\n").as_bytes());
                    None
                }
            }
        } else {
            None
        };
        let mut cmd = command_for(&program);
        prepare(&mut cmd, &session.env, agent.as_ref().map(|a| a.path.as_path()));
        let spawned = match &session.pty {
            Some(request) => spawn_pty(cmd, request),
            None => spawn_pipes(cmd),
        };
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                let _ = session.channel.write_stderr(format!("sshd: cannot run the command: {e}\r\n").as_bytes());
                return ExitStatus::Code(127);
            }
        };
        let pid = spawned.child.id();
        let pid_raw = i32::try_from(pid).unwrap_or(0);
        self.registry.lock().children.insert(pid_raw);
        // Stopping between the check and the insert would miss this child: look again.
        if self.registry.stopping() {
            hang_up(pid_raw);
        }
        let status = supervise(session, spawned, tx, rx);
        self.registry.lock().children.remove(&pid_raw);
        drop(agent);
        status
    }
}

/// Starts the threads around a command and passes everything between it and the channel
/// until it has exited and its output is passed on. Returns how it ended.
fn supervise(session: &mut ServerSession, spawned: Spawned, tx: SyncSender<Ev>, rx: Receiver<Ev>) -> ExitStatus {
    let Spawned { mut child, pty, input, output, errors } = spawned;
    let pid = Pid::from_child(&child);
    let moved = Arc::new(Moved::default());

    let from_client = session.channel.reader();
    thread::spawn(move || feed_input(from_client, input));
    let (out_tx, out_moved, stdout) = (tx.clone(), Arc::clone(&moved), session.channel.stdin());
    thread::spawn(move || pump_output(output, stdout, &out_tx, &out_moved));
    let errors_done = errors.is_none();
    if let Some(errors) = errors {
        let (err_tx, stderr) = (tx.clone(), session.channel.stderr());
        thread::spawn(move || pump_errors(errors, stderr, &err_tx));
    }
    let reaper = tx.clone();
    thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = reaper.send(Ev::Exited(status));
        }
    });
    drop(tx);

    let mut s = Supervisor {
        pid,
        pty,
        exited: None,
        output_done: false,
        errors_done,
        moved,
        last_moved: (0, Instant::now()),
        hung_up: false,
    };
    loop {
        while let Ok(ev) = rx.try_recv() {
            s.event(ev);
        }
        while let Some(control) = session.try_control() {
            s.control(control);
        }
        if let Some(status) = s.finished() {
            return status;
        }
        // Data moves on its own threads; this one waits for their news, and looks at the
        // controls and the channel at least every tick.
        if let Ok(ev) = rx.recv_timeout(TICK) {
            s.event(ev);
        }
        if !s.hung_up && channel_closed(&session.channel) {
            s.hang_up();
        }
    }
}

/// Whether the client has closed the channel, or the connection is gone.
fn channel_closed(channel: &Channel) -> bool {
    !matches!(channel.recv_exit_status(Some(Duration::ZERO)), Err(ssh_blocking::Error::Timeout(_)))
}

struct Supervisor {
    pid: Pid,
    pty: Option<PtyIo>,
    exited: Option<std::process::ExitStatus>,
    output_done: bool,
    errors_done: bool,
    /// Output passed on so far, and when that count last changed.
    moved: Arc<Moved>,
    last_moved: (u64, Instant),
    hung_up: bool,
}

impl Supervisor {
    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::StderrDone => self.errors_done = true,
            Ev::StdoutDone => self.output_done = true,
            Ev::Exited(status) => {
                self.exited = Some(status);
                self.last_moved = (self.moved.bytes.load(Ordering::SeqCst), Instant::now());
            }
        }
    }

    fn control(&mut self, control: SessionControl) {
        match control {
            SessionControl::Signal(name) => {
                if self.exited.is_none()
                    && let Some(signal) = signal_named(&name)
                {
                    // The whole group: `sh -c` forks the program it runs (dash does not exec
                    // the last command), and both must get it, as from a terminal.
                    let _ = rustix::process::kill_process_group(self.pid, signal);
                }
            }
            SessionControl::WindowChange { cols, rows, width_px, height_px } => {
                if let Some(pty) = &self.pty {
                    let _ = pty.0.resize(pty_size(cols, rows, width_px, height_px));
                }
            }
            SessionControl::Break(_) => {}
        }
    }

    /// The client went away: a terminal hangs up, as when sshd closes the pty; pipes are
    /// left to the command, which sees them break when it writes.
    fn hang_up(&mut self) {
        self.hung_up = true;
        if self.exited.is_none() && self.pty.is_some() {
            hang_up(self.pid.as_raw_nonzero().get());
        }
    }

    fn finished(&mut self) -> Option<ExitStatus> {
        let status = self.exited?;
        let drained = if self.pty.is_some() {
            let now = self.moved.bytes.load(Ordering::SeqCst);
            if now != self.last_moved.0 {
                self.last_moved = (now, Instant::now());
            }
            let writing = self.moved.writing.load(Ordering::SeqCst);
            self.output_done || (!writing && self.last_moved.1.elapsed() >= PTY_DRAIN)
        } else {
            self.output_done && self.errors_done
        };
        if !drained {
            return None;
        }
        Some(exit_status_of(status))
    }
}

/// Where the client's input goes.
enum CommandInput {
    /// The command's standard input: the channel's reader thread writes into it.
    Pipe(std::process::ChildStdin),
    /// The pty master, which the output thread reads with blocking reads, so it cannot be
    /// made non-blocking for a sink: copied a chunk at a time.
    Pty(PtyIo),
}

/// Writes client input to the command; closing a pipe at the end is the command's EOF.
/// The channel's window bounds what the client can send ahead of the command.
fn feed_input(mut from: Reader, to: CommandInput) {
    match to {
        CommandInput::Pipe(pipe) => {
            // The command stopped reading: what the client sends from now on is dropped,
            // as sshd does, so the client is not held back by the window.
            if from.copy_to(pipe).is_err() {
                from.shutdown_read();
            }
        }
        CommandInput::Pty(mut pty) => copy_chunks(&mut from, &mut pty),
    }
}

/// Copies until `from` ends or either side fails, a chunk at a time.
fn copy_chunks(from: &mut dyn Read, to: &mut dyn Write) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A pty master reads EIO once every slave is closed.
            Err(_) => return,
        }
    }
}

/// How much output has been passed on, and whether a write to the client is under way.
#[derive(Default)]
struct Moved {
    bytes: AtomicU64,
    writing: AtomicBool,
}

/// Command output to the client's standard output, at the pace the client's window allows.
/// What the command has written meanwhile is read on before sending, up to one packet, so
/// a command writing small blocks still travels in full packets (fewer packets and system
/// calls on both ends), as OpenSSH's buffered channels do; nothing waits for more.
fn pump_output(mut from: Box<dyn Output>, mut to: Stdin, tx: &SyncSender<Ev>, moved: &Moved) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A pty master reads EIO once every slave is closed.
            Err(_) => break,
        };
        while n < PACKET && rustix::io::ioctl_fionread(from.as_fd()).is_ok_and(|waiting| waiting > 0) {
            match from.read(&mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(more) => n += more,
            }
        }
        moved.writing.store(true, Ordering::SeqCst);
        let written = to.write_all(&buf[..n]);
        moved.bytes.fetch_add(n as u64, Ordering::SeqCst);
        moved.writing.store(false, Ordering::SeqCst);
        if written.is_err() {
            break;
        }
    }
    let _ = tx.send(Ev::StdoutDone);
}

/// Command standard error to the client's, at the pace the client's window allows.
fn pump_errors(mut from: Box<dyn Read + Send>, mut to: Stderr, tx: &SyncSender<Ev>) {
    copy_chunks(&mut from, &mut to);
    let _ = tx.send(Ev::StderrDone);
}

// ---------------------------------------------------------------------------------------
// Agent forwarding

/// The session's `SSH_AUTH_SOCK`: a socket in a private temporary directory; each connection
/// to it gets an agent channel to the client.
struct AgentSocket {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    registry: Arc<Registry>,
}

impl AgentSocket {
    fn start(opener: AgentOpener, registry: &Arc<Registry>) -> io::Result<Self> {
        let (dir, path) = agent_socket_dir()?;
        let listener = UnixListener::bind(&path)?;
        registry.lock().dirs.push(dir.path().to_owned());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                match opener.open() {
                    Ok(channel) => {
                        thread::spawn(move || pump_agent(channel, conn));
                    }
                    // The connection is gone: so is the session.
                    Err(ssh_blocking::Error::Disconnected { .. }) => break,
                    // Refused by the client: this agent client sees its socket close.
                    Err(_) => drop(conn),
                }
            }
        });
        Ok(Self { dir: Some(dir), path, stop, registry: Arc::clone(registry) })
    }
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept so the listener closes.
        let _ = UnixStream::connect(&self.path);
        if let Some(dir) = self.dir.take() {
            self.registry.lock().dirs.retain(|d| d != dir.path());
            let _ = dir.close();
        }
    }
}

/// Copies between a local agent client and an agent channel, half-closing each way.
fn pump_agent(mut channel: Channel, socket: UnixStream) {
    let Ok(mut from_socket) = socket.try_clone() else { return };
    let mut up = channel.stdin();
    let upstream = thread::spawn(move || {
        let _ = io::copy(&mut from_socket, &mut up);
        let _ = up.send_eof();
    });
    let mut to_socket = socket;
    let _ = io::copy(&mut channel, &mut to_socket);
    let _ = to_socket.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

// ---------------------------------------------------------------------------------------

fn run() -> Result<(), Failure> {
    let cli = parse_args(std::env::args().skip(1))?;
    let config = build_config(&cli)?;
    let registry = Arc::new(Registry::default());
    let handler = Personal { credentials: Credentials::from_cli(&cli), registry: Arc::clone(&registry) };
    // Handled signals are reset to their default in every command this server runs, while
    // ignored ones would stay ignored: `nohup sshd` must not give its commands an
    // unkillable SIGHUP.
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT])
        .map_err(|e| usage(format!("sshd: cannot handle signals: {e}")))?;
    let server = Server::bind((cli.bind.as_str(), cli.port), config, handler)
        .map_err(|e| usage(format!("sshd: Bind to port {} on {} failed: {e}", cli.port, cli.bind)))?;
    let addr = server.local_addr().map_err(|e| usage(format!("sshd: {e}")))?;
    let stop = server.stop_handle().map_err(|e| usage(format!("sshd: {e}")))?;
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            stop.stop();
        }
    });
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {addr}")
            .and_then(|()| out.flush())
            .map_err(|e| usage(format!("sshd: stdout: {e}")))?;
    }
    let served = server.serve();
    registry.shutdown(SHUTDOWN_WAIT);
    served.map_err(|e| usage(format!("sshd: {e}")))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}
