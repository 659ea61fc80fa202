//! What both `ssh` examples (ssh-blocking's threads, ssh-tokio's tasks) share: the command
//! line and its ssh_config lines, resolution and `-G`, the connect options and prompts, the
//! error lines, which forwards and terminal the session asks for, the environment it
//! sends and the exit code. Each example includes this file as a module; only how it waits
//! and moves bytes is its own.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;

use ssh_files::{ConnectOptions, Error, Prompter, SystemEnvironment, local_user};
use ssh_proto::auth::InfoRequest;
use ssh_proto::connection::ExitStatus;
use ssh_proto::pattern::wildcard_match;
use ssh_proto::ssh_config::{Endpoint, Query, Resolved, Sources, resolve};

pub(crate) const USAGE: &str =
    "usage: ssh [-ACGNTntv] [-c cipher_spec] [-F configfile] [-i identity_file] [-J destination]
           [-L address] [-l login_name] [-m mac_spec] [-o option] [-p port] [-R address]
           destination [command [argument ...]]";

/// What the command line asked for beyond ssh_config lines.
#[derive(Default)]
pub(crate) struct Args {
    /// ssh_config lines in command-line order (`-o`, and the flags that stand for one).
    pub(crate) lines: Vec<String>,
    pub(crate) config: Option<String>,
    pub(crate) destination: String,
    pub(crate) command: Vec<String>,
    pub(crate) verbose: u32,
    pub(crate) dump: bool,
}

pub(crate) fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(255)
}

/// Splits an `-L`/`-R` argument (`[bind:]port:host:hostport`) into the two arguments the
/// `LocalForward` / `RemoteForward` keywords take.
pub(crate) fn forward_line(keyword: &str, spec: &str) -> String {
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

pub(crate) fn parse_args(argv: &[String]) -> Result<Args, String> {
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
pub(crate) fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// The terminal behind `/dev/tty`, if there is one.
pub(crate) fn tty() -> Option<File> {
    File::options().read(true).write(true).open("/dev/tty").ok()
}

/// `stty ARGS` on the terminal; its output.
pub(crate) fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty").args(args).stdin(tty()?).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Asks one question: SSH_ASKPASS when forced or without a terminal, else the terminal
/// (without echo when `echo` is false).
pub(crate) fn ask(prompt: &str, echo: bool) -> Option<String> {
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
pub(crate) struct RawTerminal(Option<String>);

impl RawTerminal {
    pub(crate) fn enter() -> Self {
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

/// What `main` goes on with: an exit code already (usage error, `-G`), or a host to connect to.
pub(crate) enum Start {
    Exit(ExitCode),
    Connect(Args, Box<Resolved>),
}

/// Parses the command line and resolves the destination through ssh_config; `-G` prints
/// the result and ends here.
pub(crate) fn start() -> Start {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => return Start::Exit(fail(e)),
    };
    let mut query = Query::new(args.destination.clone());
    query.options = args.lines.clone();
    let sources = match args.config.as_deref() {
        None => Sources::Standard,
        Some("none") => Sources::None,
        Some(f) => Sources::File(f.to_owned()),
    };
    let resolved = match resolve(&query, &sources, &local_user(), &mut SystemEnvironment) {
        Ok(r) => r,
        Err(e) => return Start::Exit(fail(e)),
    };
    if args.dump {
        print!("{}", resolved.to_ssh_g());
        return Start::Exit(ExitCode::SUCCESS);
    }
    Start::Connect(args, Box::new(resolved))
}

pub(crate) fn debug(args: &Args, msg: impl FnOnce() -> String) {
    if args.verbose > 0 {
        eprintln!("debug1: {}", msg());
    }
}

/// The connect options the resolved host asks for, with prompts on the terminal or
/// through SSH_ASKPASS unless BatchMode says not to ask.
pub(crate) fn connect_options(args: &Args, r: &Resolved) -> Result<ConnectOptions, String> {
    let mut o = ConnectOptions::from_config(r, &SystemEnvironment).map_err(|e| format!("ssh: {e}"))?;
    if r.get("batchmode").as_deref() != Some("yes") {
        o.prompter = Some(Prompter(Arc::new(|req: &InfoRequest| {
            if !req.instruction.is_empty() {
                eprintln!("{}", req.instruction);
            }
            req.prompts.iter().map(|p| ask(&p.text, p.echo).unwrap_or_default()).collect()
        })));
    }
    debug(args, || format!("Connecting to {} [{}] port {}.", r.original_host(), o.host, o.port));
    Ok(o)
}

/// The one line ssh prints when it cannot connect or log in.
pub(crate) fn connect_error(o: &ConnectOptions, e: Error) -> String {
    match e {
        Error::AuthFailed { allowed } => {
            format!("{}@{}: Permission denied ({}).", o.username, o.host, allowed.join(","))
        }
        Error::HostKeyRejected(why) => format!("{why}\nHost key verification failed."),
        Error::Io(e) => format!("ssh: connect to host {} port {}: {e}", o.host, o.port),
        other => format!("ssh: {}: {other}", o.host),
    }
}

/// `-v`'s line about the negotiated algorithms.
pub(crate) fn negotiated_line(n: &ssh_proto::Negotiated) -> String {
    use ssh_proto::algorithm::Algorithm;
    format!(
        "kex: {} host key {} cipher {} mac {}",
        n.kex.name(),
        n.host_key.name(),
        n.cipher_c2s.name(),
        n.mac_c2s.map_or("<implicit>", |m| m.name())
    )
}

/// The agent socket to forward (`ForwardAgent`, `-A`), when asked for and there is one.
pub(crate) fn forwarded_agent(r: &Resolved) -> Option<std::ffi::OsString> {
    r.get("forwardagent").is_some_and(|v| v != "no").then(|| std::env::var_os("SSH_AUTH_SOCK")).flatten()
}

/// `-L`: where to listen, and the target as the server sees it.
pub(crate) struct Local {
    pub(crate) listen: SocketAddr,
    pub(crate) host: String,
    pub(crate) port: u16,
}

pub(crate) fn local_forwards(r: &Resolved) -> Result<Vec<Local>, String> {
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
        let listen = format!("{bind}:{port}").parse().map_err(|e| format!("ssh: -L {bind}:{port}: {e}"))?;
        locals.push(Local { listen, host: to.clone(), port: *to_port });
    }
    Ok(locals)
}

/// `-R`: where the server listens, and the target as this machine sees it.
pub(crate) struct Remote {
    pub(crate) bind: String,
    pub(crate) port: u16,
    pub(crate) host: String,
    pub(crate) target_port: u16,
}

pub(crate) fn remote_forwards(r: &Resolved) -> Result<Vec<Remote>, String> {
    let mut remotes = Vec::new();
    for f in r.remote_forwards() {
        let (Endpoint::Tcp { host, port }, Some(Endpoint::Tcp { host: Some(to), port: to_port })) =
            (&f.listen, &f.connect)
        else {
            return Err("ssh: only TCP remote forwards to a host:port are supported".into());
        };
        let bind = host.clone().unwrap_or_else(|| "localhost".into());
        remotes.push(Remote { bind, port: *port, host: to.clone(), target_port: *to_port });
    }
    Ok(remotes)
}

pub(crate) fn remote_forward_failed(f: &Remote, e: impl std::fmt::Display) -> String {
    format!("Error: remote port forwarding failed for listen port {}: {e}", f.port)
}

pub(crate) fn remote_forward_started(f: &Remote, bound: u32) {
    if f.port == 0 {
        eprintln!("Allocated port {bound} for remote forward to {}:{}", f.host, f.target_port);
    }
}

/// `-N` (`SessionType none`): forwarding only.
pub(crate) fn session_none(r: &Resolved) -> bool {
    r.get("sessiontype").as_deref() == Some("none")
}

/// Whether stdin is to be sent (`-n`, `StdinNull`).
pub(crate) fn stdin_null(r: &Resolved) -> bool {
    r.get("stdinnull").as_deref() == Some("yes")
}

/// The pty to ask for (`-t`, `-t -t`, `-T`, `RequestTTY`), as ssh decides it: terminal
/// type, columns, rows, and whether the local terminal goes raw.
pub(crate) struct Pty {
    pub(crate) term: String,
    pub(crate) cols: u32,
    pub(crate) rows: u32,
    pub(crate) raw: bool,
}

pub(crate) fn pty(args: &Args, r: &Resolved) -> Option<Pty> {
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
    if !want_pty {
        return None;
    }
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
    let size = stty(&["size"]).unwrap_or_default();
    let mut dims = size.split_whitespace().filter_map(|n| n.parse::<u32>().ok());
    let (rows, cols) = (dims.next().unwrap_or(24), dims.next().unwrap_or(80));
    Some(Pty { term, cols, rows, raw: stdin_tty })
}

/// The variables to send: `SetEnv`'s, then those of this process `SendEnv` names.
pub(crate) fn environment(r: &Resolved) -> Vec<(String, String)> {
    let mut vars = r.set_env();
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
            vars.push((name, value));
        }
    }
    vars
}

/// ssh's exit code for how the remote command ended: its status, 255 for a signal or none.
pub(crate) fn exit_code<E>(status: Result<Option<ExitStatus>, E>) -> ExitCode {
    match status {
        Ok(Some(ExitStatus::Code(c))) => ExitCode::from((c & 0xff) as u8),
        Ok(Some(ExitStatus::Signal { .. })) | Ok(None) | Err(_) => ExitCode::from(255),
    }
}
