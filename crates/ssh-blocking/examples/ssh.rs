//! `ssh`: OpenSSH's client command line over ssh-blocking.
//!
//! ```text
//! ssh [-p PORT] [-l USER] [-i KEY]… [-F CONFIG] [-o Key=Value]… [-L spec]… [-R spec]…
//!     [-N] [-T] [-t [-t]] [-C] [-c CIPHERS] [-m MACS] [-A] [-v] [-G] [-J JUMP] [-n]
//!     destination [command…]
//! ```
//!
//! Options become ssh_config lines in command-line order, ahead of the files, so the first
//! value given wins as in OpenSSH; `-G` prints the result as `ssh -G` does. stdin goes to
//! the remote command, stdout and stderr stay apart, and the exit code is the remote exit
//! status: 255 for a connection or authentication failure (with one line on stderr) or a
//! command killed by a signal. A password, when the server wants one, comes from the
//! terminal or from `SSH_ASKPASS` (`SSH_ASKPASS_REQUIRE=force`, or no terminal); BatchMode
//! asks nothing. `StrictHostKeyChecking ask` refuses unknown hosts (no question is asked).

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ssh_blocking::ssh_proto::auth::InfoRequest;
use ssh_blocking::ssh_proto::connection::ExitStatus;
use ssh_blocking::ssh_proto::pattern::wildcard_match;
use ssh_blocking::ssh_proto::ssh_config::{Endpoint, Query, Sources, resolve};
use ssh_blocking::{
    Channel, Client, ConnectOptions, Error, LocalForward, Prompter, RemoteForward, SystemEnvironment, local_user,
};

const USAGE: &str = "usage: ssh [-ACGNTntv] [-c cipher_spec] [-F configfile] [-i identity_file] [-J destination]
           [-L address] [-l login_name] [-m mac_spec] [-o option] [-p port] [-R address]
           destination [command [argument ...]]";

/// What the command line asked for beyond ssh_config lines.
#[derive(Default)]
struct Args {
    /// ssh_config lines in command-line order (`-o`, and the flags that stand for one).
    lines: Vec<String>,
    config: Option<String>,
    destination: String,
    command: Vec<String>,
    verbose: u32,
    dump: bool,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(255)
}

/// Splits an `-L`/`-R` argument (`[bind:]port:host:hostport`) into the two arguments the
/// `LocalForward` / `RemoteForward` keywords take.
fn forward_line(keyword: &str, spec: &str) -> String {
    // The target is the last `host:port` (host possibly in brackets).
    let split = spec.rfind(':').and_then(|port_at| {
        let head = &spec[..port_at];
        if head.ends_with(']') { head.rfind('[') } else { head.rfind(':').map(|i| i + 1) }
    });
    match split {
        Some(at) if at > 0 => format!("{keyword} {} {}", &spec[..at - 1], &spec[at..]),
        _ => format!("{keyword} {spec}"),
    }
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    // Flags ssh assigns directly (last one wins, over -o and the files too).
    let mut tty: Option<&str> = None;
    let mut session_none = false;
    let mut null_stdin = false;
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            i -= 1;
            break;
        };
        for (at, c) in flags.char_indices() {
            let takes_value = "pliFoLRcmJ".contains(c);
            if !takes_value {
                match c {
                    'N' => (session_none, tty) = (true, Some("no")),
                    'T' => tty = Some("no"),
                    't' => tty = Some(if tty == Some("yes") { "force" } else { "yes" }),
                    'C' => a.lines.push("Compression=yes".into()),
                    'A' => a.lines.push("ForwardAgent=yes".into()),
                    'v' => a.verbose += 1,
                    'G' => a.dump = true,
                    'n' => null_stdin = true,
                    other => return Err(format!("unknown option -- {other}\n{USAGE}")),
                }
                continue;
            }
            let rest = &flags[at + c.len_utf8()..];
            let value = if !rest.is_empty() {
                rest.to_owned()
            } else {
                let v = argv.get(i).ok_or_else(|| format!("option requires an argument -- {c}\n{USAGE}"))?;
                i += 1;
                v.clone()
            };
            match c {
                'p' => a.lines.push(format!("Port={value}")),
                'l' => a.lines.push(format!("User={value}")),
                // As ssh does, a missing file is left out with a warning.
                'i' => {
                    let home = std::env::var("HOME").unwrap_or_default();
                    let path = match value.strip_prefix("~/") {
                        Some(rest) => format!("{home}/{rest}"),
                        None => value.clone(),
                    };
                    match std::fs::metadata(&path) {
                        Ok(_) => a.lines.push(format!("IdentityFile={path}")),
                        Err(e) => eprintln!("Warning: Identity file {path} not accessible: {}.", io_reason(&e)),
                    }
                }
                'F' => a.config = Some(value),
                'o' => a.lines.push(value),
                'L' => a.lines.push(forward_line("LocalForward", &value)),
                'R' => a.lines.push(forward_line("RemoteForward", &value)),
                'c' => a.lines.push(format!("Ciphers={value}")),
                'm' => a.lines.push(format!("MACs={value}")),
                'J' => a.lines.push(format!("ProxyJump={value}")),
                _ => unreachable!("listed above"),
            }
            break;
        }
    }
    let direct = [
        tty.map(|t| format!("RequestTTY={t}")),
        session_none.then(|| "SessionType=none".to_owned()),
        null_stdin.then(|| "StdinNull=yes".to_owned()),
        (a.verbose > 0).then(|| format!("LogLevel=DEBUG{}", a.verbose.min(3))),
    ];
    a.lines.splice(0..0, direct.into_iter().flatten());
    let rest = argv.get(i..).unwrap_or_default();
    let Some((dest, command)) = rest.split_first() else { return Err(USAGE.into()) };
    // `user@host`, `ssh://user@host:port`: lower precedence than -l / -p / -o.
    let dest = dest.as_str();
    let (user, hostport) = match dest.rsplit_once('@') {
        Some((u, h)) => (Some(u.trim_start_matches("ssh://")), h),
        None => (None, dest.trim_start_matches("ssh://")),
    };
    let (host, port) = match (dest.starts_with("ssh://"), hostport.rsplit_once(':')) {
        (true, Some((h, p))) => (h, Some(p)),
        _ => (hostport, None),
    };
    if let Some(u) = user {
        a.lines.push(format!("User={u}"));
    }
    if let Some(p) = port {
        a.lines.push(format!("Port={p}"));
    }
    a.destination = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    a.command = command.to_vec();
    Ok(a)
}

/// The strerror-style text of an I/O error, as ssh prints it.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// The terminal behind `/dev/tty`, if there is one.
fn tty() -> Option<File> {
    File::options().read(true).write(true).open("/dev/tty").ok()
}

/// `stty ARGS` on the terminal; its output.
fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty").args(args).stdin(tty()?).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Asks one question: SSH_ASKPASS when forced or without a terminal, else the terminal
/// (without echo when `echo` is false).
fn ask(prompt: &str, echo: bool) -> Option<String> {
    let askpass = std::env::var("SSH_ASKPASS").ok().filter(|a| !a.is_empty());
    let forced = std::env::var("SSH_ASKPASS_REQUIRE").is_ok_and(|v| v == "force");
    let terminal = tty();
    if let Some(program) = askpass.filter(|_| forced || terminal.is_none()) {
        let out = Command::new(program).arg(prompt).stdin(Stdio::null()).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        return out.status.success().then(|| text.trim_end_matches(['\r', '\n']).to_owned());
    }
    let mut t = terminal?;
    let _ = t.write_all(prompt.as_bytes());
    let saved = if echo { None } else { stty(&["-g"]).inspect(|_| drop(stty(&["-echo"]))) };
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while t.read(&mut byte).ok()? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    if let Some(s) = saved {
        stty(&[&s]);
        let _ = t.write_all(b"\n");
    }
    Some(String::from_utf8_lossy(&line).trim_end_matches('\r').to_owned())
}

/// Puts the local terminal in raw mode for a remote pty; restores it when dropped.
struct RawTerminal(Option<String>);

impl RawTerminal {
    fn enter() -> Self {
        let saved = stty(&["-g"]);
        if saved.is_some() {
            stty(&["raw", "-echo"]);
        }
        Self(saved)
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(s) = &self.0 {
            stty(&[s]);
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let mut query = Query::new(args.destination.clone());
    query.options = args.lines.clone();
    let sources = match args.config.as_deref() {
        None => Sources::Standard,
        Some("none") => Sources::None,
        Some(f) => Sources::File(f.to_owned()),
    };
    let mut env = SystemEnvironment;
    let resolved = match resolve(&query, &sources, &local_user(), &mut env) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.dump {
        print!("{}", resolved.to_ssh_g());
        return ExitCode::SUCCESS;
    }
    match run(&args, &resolved, &env) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn debug(args: &Args, msg: impl FnOnce() -> String) {
    if args.verbose > 0 {
        eprintln!("debug1: {}", msg());
    }
}

fn run(
    args: &Args,
    r: &ssh_blocking::ssh_proto::ssh_config::Resolved,
    env: &SystemEnvironment,
) -> Result<ExitCode, String> {
    let mut o = ConnectOptions::from_config(r, env).map_err(|e| format!("ssh: {e}"))?;
    let batch = r.get("batchmode").as_deref() == Some("yes");
    if !batch {
        o.prompter = Some(Prompter(Arc::new(|req: &InfoRequest| {
            if !req.instruction.is_empty() {
                eprintln!("{}", req.instruction);
            }
            req.prompts.iter().map(|p| ask(&p.text, p.echo).unwrap_or_default()).collect()
        })));
    }
    debug(args, || format!("Connecting to {} [{}] port {}.", r.original_host(), o.host, o.port));
    let client = Client::connect(&o).map_err(|e| match e {
        Error::AuthFailed { allowed } => {
            format!("{}@{}: Permission denied ({}).", o.username, o.host, allowed.join(","))
        }
        Error::HostKeyRejected(why) => format!("{why}\nHost key verification failed."),
        Error::Io(e) => format!("ssh: connect to host {} port {}: {e}", o.host, o.port),
        other => format!("ssh: {}: {other}", o.host),
    })?;
    let session = Arc::clone(client.session());
    if let Some(n) = session.negotiated() {
        use ssh_blocking::ssh_proto::algorithm::Algorithm;
        debug(args, || {
            format!(
                "kex: {} host key {} cipher {} mac {}",
                n.kex.name(),
                n.host_key.name(),
                n.cipher_c2s.name(),
                n.mac_c2s.map_or("<implicit>", |m| m.name())
            )
        });
    }
    debug(args, || format!("Authenticated to {} ([{}]:{}).", r.original_host(), o.host, o.port));

    let forward_agent = r.get("forwardagent").is_some_and(|v| v != "no");
    if forward_agent && let Some(sock) = std::env::var_os("SSH_AUTH_SOCK") {
        session.forward_agent(sock).map_err(|e| format!("ssh: agent forwarding: {e}"))?;
    }
    // Forwards live until the process ends.
    let mut locals = Vec::new();
    for f in r.local_forwards() {
        let (Endpoint::Tcp { host, port }, Some(Endpoint::Tcp { host: Some(to), port: to_port })) =
            (&f.listen, &f.connect)
        else {
            return Err("ssh: Unix socket forwarding is not supported".into());
        };
        let bind = match host.as_deref() {
            None | Some("localhost") => "127.0.0.1",
            Some("*") => "0.0.0.0",
            Some(h) => h,
        };
        let addr = format!("{bind}:{port}").parse().map_err(|e| format!("ssh: -L {bind}:{port}: {e}"))?;
        let fwd = LocalForward::start(Arc::clone(&session), addr, to, *to_port)
            .map_err(|e| format!("ssh: bind {bind}:{port}: {e}"))?;
        debug(args, || format!("Local forwarding listening on {}.", fwd.local_addr()));
        locals.push(fwd);
    }
    let mut remotes = Vec::new();
    for f in r.remote_forwards() {
        let (Endpoint::Tcp { host, port }, Some(Endpoint::Tcp { host: Some(to), port: to_port })) =
            (&f.listen, &f.connect)
        else {
            return Err("ssh: only TCP remote forwards to a host:port are supported".into());
        };
        let bind = host.as_deref().unwrap_or("localhost");
        let fwd = RemoteForward::start(Arc::clone(&session), bind, u32::from(*port), to, *to_port)
            .map_err(|e| format!("Error: remote port forwarding failed for listen port {port}: {e}"))?;
        if *port == 0 {
            eprintln!("Allocated port {} for remote forward to {to}:{to_port}", fwd.remote_port());
        }
        remotes.push(fwd);
    }

    if r.get("sessiontype").as_deref() == Some("none") {
        // Forwarding only: wait for the connection to end.
        while session.is_active() {
            std::thread::sleep(Duration::from_millis(200));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut ch = session.open_session().map_err(|e| format!("ssh: channel: {e}"))?;
    let stdin_tty = io::stdin().is_terminal();
    let request_tty = r.get("requesttty").unwrap_or_default();
    let want_pty = match request_tty.as_str() {
        "force" => true,
        "true" => stdin_tty,
        "false" => false,
        _ => args.command.is_empty() && stdin_tty,
    };
    if !want_pty && (request_tty == "true" || (request_tty == "auto" && args.command.is_empty())) {
        eprintln!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    }
    for (name, value) in r.set_env() {
        let _ = ch.set_env(&name, &value);
    }
    let patterns = r.send_env();
    for (name, value) in std::env::vars() {
        let mut send = false;
        for p in &patterns {
            match p.strip_prefix('-') {
                Some(neg) if wildcard_match(neg, &name) => send = false,
                None if wildcard_match(p, &name) => send = true,
                _ => {}
            }
        }
        if send {
            let _ = ch.set_env(&name, &value);
        }
    }
    if forward_agent {
        let _ = ch.request_agent_forwarding();
    }
    let _raw = if want_pty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        let size = stty(&["size"]).unwrap_or_default();
        let mut dims = size.split_whitespace().filter_map(|n| n.parse::<u32>().ok());
        let (rows, cols) = (dims.next().unwrap_or(24), dims.next().unwrap_or(80));
        ch.request_pty(&term, cols, rows).map_err(|e| format!("ssh: PTY allocation request failed: {e}"))?;
        stdin_tty.then(RawTerminal::enter)
    } else {
        None
    };
    let command = args.command.join(" ");
    let started = if command.is_empty() { ch.shell() } else { ch.exec(&command) };
    started.map_err(|e| format!("ssh: {e}"))?;

    let mut stdin = ch.stdin();
    let null_stdin = r.get("stdinnull").as_deref() == Some("yes");
    std::thread::spawn(move || {
        if !null_stdin {
            let _ = io::copy(&mut io::stdin().lock(), &mut stdin);
        }
        let _ = stdin.send_eof();
    });
    let mut stderr = ch.stderr();
    let errors = std::thread::spawn(move || {
        let _ = io::copy(&mut stderr, &mut io::stderr().lock());
    });
    copy_stdout(&mut ch).map_err(|e| format!("ssh: {e}"))?;
    let _ = errors.join();
    let status = ch.recv_exit_status(Some(Duration::from_secs(30)));
    drop(_raw);
    Ok(match status {
        Ok(Some(ExitStatus::Code(c))) => ExitCode::from((c & 0xff) as u8),
        Ok(Some(ExitStatus::Signal { .. })) | Ok(None) | Err(_) => ExitCode::from(255),
    })
}

/// Remote stdout to ours, flushed per read so interactive output shows at once.
fn copy_stdout(ch: &mut Channel) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = io::stdout().lock();
    loop {
        let n = ch.read(&mut buf)?;
        if n == 0 {
            return out.flush();
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}
