//! What both `sshd` examples (ssh-blocking's threads, ssh-tokio's tasks) share: the command
//! line, the server configuration it makes, who may log in, which program a session runs
//! and how, terminal modes and signal names. Each example includes this file as a module;
//! only how it waits and moves bytes is its own.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use rustix::termios::Termios;
use ssh_proto::auth::{AuthMethod, InfoRequest, Prompt};
use ssh_proto::connection::{ExitStatus, TerminalModes};
use ssh_proto::driver::{AuthDecision, Interactive};
use ssh_proto::keys::file::{PublicKeyFile, decode_private_key, decode_public_key};
use ssh_proto::ssh_key::PublicKey;
use ssh_proto::{HostKey, RekeyPolicy, server};

pub(crate) const SFTP_SERVERS: &[&str] =
    &["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"];

/// A failure to start: the line for stderr and the exit status.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

/// A usage error (exit 1, as sshd).
pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure { code: 1, message: message.into() }
}

/// A bad value of a known option (exit 255, as sshd's fatal()).
pub(crate) fn bad_value(message: impl Into<String>) -> Failure {
    Failure { code: 255, message: message.into() }
}

pub(crate) const USAGE: &str =
    "usage: sshd -p PORT [-b ADDR] -h HOSTKEY... [-a AUTHORIZED_KEYS] [--password USER:PASS]... [-o KEYWORD=VALUE]...";

// ---------------------------------------------------------------------------------------
// Command line

pub(crate) struct Cli {
    pub(crate) port: u16,
    pub(crate) bind: String,
    pub(crate) host_keys: Vec<PathBuf>,
    pub(crate) authorized_keys: Option<PathBuf>,
    pub(crate) passwords: Vec<(String, String)>,
    /// `-o` keyword and value, in order.
    pub(crate) options: Vec<(String, String)>,
}

pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Cli, Failure> {
    let mut port = None;
    let mut cli = Cli {
        port: 0,
        bind: "127.0.0.1".to_owned(),
        host_keys: Vec::new(),
        authorized_keys: None,
        passwords: Vec::new(),
        options: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" {
            return Err(usage(USAGE));
        }
        if let Some(rest) = arg.strip_prefix("--password") {
            let value = match rest.strip_prefix('=') {
                Some(v) => v.to_owned(),
                None if rest.is_empty() => {
                    args.next().ok_or_else(|| usage("sshd: option requires an argument -- password"))?
                }
                None => return Err(usage(format!("sshd: unknown option {arg}"))),
            };
            let (user, pass) = value
                .split_once(':')
                .filter(|(u, _)| !u.is_empty())
                .ok_or_else(|| usage("sshd: --password wants USER:PASS"))?;
            cli.passwords.push((user.to_owned(), pass.to_owned()));
            continue;
        }
        let flag = match arg.strip_prefix('-') {
            Some(f) if !f.is_empty() && !f.starts_with('-') => f,
            _ if arg.starts_with("--") => return Err(usage(format!("sshd: unknown option {arg}"))),
            _ => return Err(usage(format!("sshd: unexpected argument {arg:?}"))),
        };
        let mut chars = flag.chars();
        let letter = chars.next().unwrap_or('-');
        if !matches!(letter, 'p' | 'b' | 'h' | 'a' | 'o') {
            return Err(usage(format!("sshd: unknown option -- {letter}")));
        }
        let attached = chars.as_str();
        let value = if attached.is_empty() {
            args.next().ok_or_else(|| usage(format!("sshd: option requires an argument -- {letter}")))?
        } else {
            attached.to_owned()
        };
        match letter {
            'p' => {
                port = Some(value.parse::<u16>().map_err(|_| usage(format!("sshd: Bad port number {value:?}")))?);
            }
            'b' => cli.bind = value,
            'h' => cli.host_keys.push(PathBuf::from(value)),
            'a' => cli.authorized_keys = Some(PathBuf::from(value)),
            _ => cli.options.push(split_option(&value)?),
        }
    }
    cli.port = port.ok_or_else(|| usage("sshd: -p PORT is required"))?;
    if cli.host_keys.is_empty() {
        return Err(usage("sshd: no hostkeys available -- exiting (give -h HOSTKEY)"));
    }
    Ok(cli)
}

/// `Keyword=value` or `Keyword value` (sshd_config syntax on the command line).
pub(crate) fn split_option(text: &str) -> Result<(String, String), Failure> {
    let text = text.trim();
    let cut = text.find(|c: char| c == '=' || c.is_ascii_whitespace()).unwrap_or(text.len());
    let (keyword, rest) = text.split_at(cut);
    let rest = rest.trim_start();
    let value = rest.strip_prefix('=').unwrap_or(rest).trim();
    if keyword.is_empty() {
        return Err(usage(format!("command-line: line 0: Bad configuration option: {text:?}")));
    }
    if value.is_empty() {
        return Err(bad_value(format!("command-line line 0: {keyword}: missing argument.")));
    }
    Ok((keyword.to_owned(), value.to_owned()))
}

/// `RekeyLimit SIZE [TIME]`: `default` or a size with an optional K/M/G/T suffix (0 is the
/// default too), then `default`, `none` or a time (`1h30m`, `90`; 0 is none).
pub(crate) fn parse_rekey_limit(value: &str) -> Result<RekeyPolicy, String> {
    let default = RekeyPolicy::default();
    let mut words = value.split_ascii_whitespace();
    let size = words.next().ok_or("missing size")?;
    let bytes = if size.eq_ignore_ascii_case("default") {
        default.bytes
    } else {
        match parse_size(size)? {
            0 => default.bytes,
            n => n,
        }
    };
    let time = match words.next() {
        None => default.time,
        Some(w) if w.eq_ignore_ascii_case("default") => default.time,
        Some(w) if w.eq_ignore_ascii_case("none") => None,
        Some(w) => match parse_time(w)? {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        },
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?}"));
    }
    Ok(RekeyPolicy { bytes, time })
}

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    let n: u64 = digits.parse().map_err(|_| format!("Bad RekeyLimit number {s:?}"))?;
    let scale: u64 = match suffix.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("Bad RekeyLimit number {s:?}")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("RekeyLimit {s:?} too large"))
}

/// sshd's time format: `<n>[s|m|h|d|w]…`, a bare number being seconds.
pub(crate) fn parse_time(s: &str) -> Result<u64, String> {
    let bad = || format!("Bad time {s:?}");
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            number =
                Some(number.unwrap_or(0).checked_mul(10).and_then(|n| n.checked_add(u64::from(d))).ok_or_else(bad)?);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n = number.take().ok_or_else(bad)?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if let Some(n) = number {
        total = total.checked_add(n).ok_or_else(bad)?;
    } else if s.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

pub(crate) fn load_host_key(path: &Path) -> Result<HostKey, Failure> {
    let fail = |why: &dyn std::fmt::Display| usage(format!("sshd: Unable to load host key {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
    let loaded = decode_private_key(&text, None).map_err(|e| fail(&e))?;
    HostKey::new(loaded.key).map_err(|e| fail(&e))
}

pub(crate) fn build_config(cli: &Cli) -> Result<server::Config, Failure> {
    let keys = cli.host_keys.iter().map(|p| load_host_key(p)).collect::<Result<Vec<_>, _>>()?;
    let mut config = server::Config::new(keys);
    for (keyword, value) in &cli.options {
        let bad =
            |why: &dyn std::fmt::Display| bad_value(format!("command-line line 0: Bad {keyword} {value:?}: {why}"));
        let algorithms = &mut config.transport.algorithms;
        match keyword.to_ascii_lowercase().as_str() {
            "ciphers" | "kexalgorithms" | "macs" | "hostkeyalgorithms" => {
                algorithms.apply_openssh_option(keyword, value).map_err(|e| bad(&e))?;
            }
            "compression" => {
                let value = if value.eq_ignore_ascii_case("delayed") { "yes" } else { value };
                algorithms.apply_openssh_option(keyword, value).map_err(|e| bad(&e))?;
            }
            "pubkeyacceptedalgorithms" | "pubkeyacceptedkeytypes" => {
                config.auth.publickey_algorithms.apply_openssh(value).map_err(|e| bad(&e))?;
            }
            "rekeylimit" => config.transport.rekey = parse_rekey_limit(value).map_err(|e| bad(&e))?,
            _ => return Err(usage(format!("command-line: line 0: Bad configuration option: {keyword}"))),
        }
    }
    // Offer the methods that can succeed.
    let mut methods = Vec::new();
    if cli.authorized_keys.is_some() || cli.passwords.is_empty() {
        methods.push(AuthMethod::PublicKey);
    }
    if !cli.passwords.is_empty() {
        methods.extend([AuthMethod::KeyboardInteractive, AuthMethod::Password]);
    }
    config.auth.methods = methods;
    // A connection checks the whole configuration (lists not empty, a host key for the
    // enabled host key algorithms, limits): fail now rather than at the first client.
    let rng = Box::new(ssh_proto::BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng)));
    server::Connection::new(Arc::new(config.clone()), Instant::now(), rng)
        .map_err(|e| bad_value(format!("sshd: bad configuration: {e}")))?;
    Ok(config)
}

// ---------------------------------------------------------------------------------------
// Authorized keys

/// The keys of an authorized_keys file (options skipped, unparsable lines ignored).
pub(crate) fn authorized_keys(path: &Path) -> Vec<PublicKey> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines().filter_map(authorized_key).collect()
}

pub(crate) fn authorized_key(line: &str) -> Option<PublicKey> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let found = match decode_public_key(line) {
        Ok(found) => found,
        Err(_) => {
            let (options, rest) = split_key_options(line);
            if options.split(',').any(|o| o.trim().eq_ignore_ascii_case("cert-authority")) {
                return None;
            }
            decode_public_key(rest).ok()?
        }
    };
    match found {
        PublicKeyFile::Key(key) => Some(key),
        PublicKeyFile::Certificate(_) => None,
    }
}

/// Splits the leading options field (up to the first blank outside double quotes).
pub(crate) fn split_key_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_ascii_whitespace() && !quoted => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

/// Equal bytes, in time that depends only on the lengths.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) enum Program {
    Command(Vec<u8>),
    Shell,
    Sftp(PathBuf),
}

pub(crate) fn sftp_server() -> Option<PathBuf> {
    SFTP_SERVERS.iter().map(PathBuf::from).find(|p| p.is_file())
}

pub(crate) fn command_for(program: &Program) -> Command {
    match program {
        Program::Command(command) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(OsStr::from_bytes(command));
            c
        }
        Program::Shell => {
            let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into());
            let name = Path::new(&shell).file_name().map(OsStr::to_os_string).unwrap_or_else(|| "sh".into());
            let mut login = std::ffi::OsString::from("-");
            login.push(name);
            let mut c = Command::new(&shell);
            c.arg0(login);
            c
        }
        Program::Sftp(path) => Command::new(path),
    }
}

pub(crate) fn pty_size(cols: u32, rows: u32, width_px: u32, height_px: u32) -> pty_process::Size {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    pty_process::Size::new_with_pixel(clamp(rows), clamp(cols), clamp(width_px), clamp(height_px))
}

/// Applies the client's terminal modes (RFC 4254 §8) that Linux has.
pub(crate) fn apply_modes(t: &mut Termios, modes: &TerminalModes) {
    use rustix::termios::{
        ControlModes as C, InputModes as I, LocalModes as L, OutputModes as O, SpecialCodeIndex as S,
    };
    use ssh_proto::connection::modes::opcode as op;
    for &(code, value) in &modes.0 {
        let special = match code {
            op::VINTR => Some(S::VINTR),
            op::VQUIT => Some(S::VQUIT),
            op::VERASE => Some(S::VERASE),
            op::VKILL => Some(S::VKILL),
            op::VEOF => Some(S::VEOF),
            op::VEOL => Some(S::VEOL),
            op::VEOL2 => Some(S::VEOL2),
            op::VSTART => Some(S::VSTART),
            op::VSTOP => Some(S::VSTOP),
            op::VSUSP => Some(S::VSUSP),
            op::VREPRINT => Some(S::VREPRINT),
            op::VWERASE => Some(S::VWERASE),
            op::VLNEXT => Some(S::VLNEXT),
            op::VDISCARD => Some(S::VDISCARD),
            _ => None,
        };
        if let Some(index) = special {
            // 255 disables the character (_POSIX_VDISABLE is 0 on Linux).
            t.special_codes[index] = if value == 255 { 0 } else { u8::try_from(value).unwrap_or(0) };
            continue;
        }
        let on = value != 0;
        match code {
            op::IGNPAR => t.input_modes.set(I::IGNPAR, on),
            op::PARMRK => t.input_modes.set(I::PARMRK, on),
            op::INPCK => t.input_modes.set(I::INPCK, on),
            op::ISTRIP => t.input_modes.set(I::ISTRIP, on),
            op::INLCR => t.input_modes.set(I::INLCR, on),
            op::IGNCR => t.input_modes.set(I::IGNCR, on),
            op::ICRNL => t.input_modes.set(I::ICRNL, on),
            op::IUCLC => t.input_modes.set(I::IUCLC, on),
            op::IXON => t.input_modes.set(I::IXON, on),
            op::IXANY => t.input_modes.set(I::IXANY, on),
            op::IXOFF => t.input_modes.set(I::IXOFF, on),
            op::IMAXBEL => t.input_modes.set(I::IMAXBEL, on),
            op::IUTF8 => t.input_modes.set(I::IUTF8, on),
            op::ISIG => t.local_modes.set(L::ISIG, on),
            op::ICANON => t.local_modes.set(L::ICANON, on),
            op::XCASE => t.local_modes.set(L::XCASE, on),
            op::ECHO => t.local_modes.set(L::ECHO, on),
            op::ECHOE => t.local_modes.set(L::ECHOE, on),
            op::ECHOK => t.local_modes.set(L::ECHOK, on),
            op::ECHONL => t.local_modes.set(L::ECHONL, on),
            op::NOFLSH => t.local_modes.set(L::NOFLSH, on),
            op::TOSTOP => t.local_modes.set(L::TOSTOP, on),
            op::IEXTEN => t.local_modes.set(L::IEXTEN, on),
            op::ECHOCTL => t.local_modes.set(L::ECHOCTL, on),
            op::ECHOKE => t.local_modes.set(L::ECHOKE, on),
            op::PENDIN => t.local_modes.set(L::PENDIN, on),
            op::OPOST => t.output_modes.set(O::OPOST, on),
            op::OLCUC => t.output_modes.set(O::OLCUC, on),
            op::ONLCR => t.output_modes.set(O::ONLCR, on),
            op::OCRNL => t.output_modes.set(O::OCRNL, on),
            op::ONOCR => t.output_modes.set(O::ONOCR, on),
            op::ONLRET => t.output_modes.set(O::ONLRET, on),
            op::CS7 | op::CS8 if on => {
                t.control_modes.remove(C::CSIZE);
                t.control_modes.insert(if code == op::CS7 { C::CS7 } else { C::CS8 });
            }
            op::PARENB => t.control_modes.set(C::PARENB, on),
            op::PARODD => t.control_modes.set(C::PARODD, on),
            _ => {}
        }
    }
}

/// Signal names as SSH spells them (RFC 4254 §6.10: without `SIG`).
pub(crate) const SIGNALS: &[(&str, Signal)] = &[
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("ILL", Signal::ILL),
    ("TRAP", Signal::TRAP),
    ("ABRT", Signal::ABORT),
    ("BUS", Signal::BUS),
    ("FPE", Signal::FPE),
    ("KILL", Signal::KILL),
    ("USR1", Signal::USR1),
    ("SEGV", Signal::SEGV),
    ("USR2", Signal::USR2),
    ("PIPE", Signal::PIPE),
    ("ALRM", Signal::ALARM),
    ("TERM", Signal::TERM),
    ("CHLD", Signal::CHILD),
    ("CONT", Signal::CONT),
    ("STOP", Signal::STOP),
    ("TSTP", Signal::TSTP),
    ("TTIN", Signal::TTIN),
    ("TTOU", Signal::TTOU),
    ("URG", Signal::URG),
    ("XCPU", Signal::XCPU),
    ("XFSZ", Signal::XFSZ),
    ("VTALRM", Signal::VTALARM),
    ("PROF", Signal::PROF),
    ("WINCH", Signal::WINCH),
    ("SYS", Signal::SYS),
];

pub(crate) fn signal_named(name: &str) -> Option<Signal> {
    let name = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, s)| *s)
}

/// The SSH name of signal number `n` (OpenSSH's name for one it does not know).
pub(crate) fn signal_name(n: i32) -> String {
    SIGNALS.iter().find(|(_, s)| s.as_raw() == n).map_or("SIG@openssh.com", |(name, _)| name).to_owned()
}

/// Who may log in: the `-a` file's keys (read again at every attempt) and the
/// `--password` entries.
pub(crate) struct Credentials {
    pub(crate) authorized_keys: Option<PathBuf>,
    pub(crate) passwords: Vec<(String, String)>,
}

impl Credentials {
    pub(crate) fn from_cli(cli: &Cli) -> Self {
        Self { authorized_keys: cli.authorized_keys.clone(), passwords: cli.passwords.clone() }
    }

    fn password_ok(&self, user: &str, password: &str) -> bool {
        // Every entry is compared, so the time does not tell which user matched.
        self.passwords.iter().fold(false, |ok, (u, p)| {
            ok | (same_bytes(u.as_bytes(), user.as_bytes()) & same_bytes(p.as_bytes(), password.as_bytes()))
        })
    }

    pub(crate) fn password(&self, user: &str, password: &str) -> AuthDecision {
        decide(self.password_ok(user, password))
    }

    pub(crate) fn publickey(&self, key: &PublicKey) -> AuthDecision {
        let Some(path) = &self.authorized_keys else { return AuthDecision::Reject };
        decide(authorized_keys(path).iter().any(|k| k.key_data() == key.key_data()))
    }

    /// Keyboard-interactive: one `Password:` prompt, when there are passwords.
    pub(crate) fn interactive(&self) -> Interactive {
        if self.passwords.is_empty() {
            return Interactive::Decide(AuthDecision::Reject);
        }
        Interactive::Prompts(InfoRequest {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![Prompt { text: "Password: ".into(), echo: false }],
        })
    }

    pub(crate) fn interactive_response(&self, user: &str, answers: &[&str]) -> Interactive {
        Interactive::Decide(decide(matches!(answers, [one] if self.password_ok(user, one))))
    }
}

fn decide(ok: bool) -> AuthDecision {
    if ok { AuthDecision::Accept } else { AuthDecision::Reject }
}

/// A finished command as SSH reports it: its code, or the signal that killed it.
pub(crate) fn exit_status_of(status: std::process::ExitStatus) -> ExitStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code as u32),
        (None, Some(signal)) => {
            ExitStatus::Signal { name: signal_name(signal), core_dumped: status.core_dumped(), message: String::new() }
        }
        (None, None) => ExitStatus::Code(255),
    }
}

/// The environment a command starts with: this process's minus its own session
/// variables, plus what the client sent, in a login directory.
pub(crate) fn prepare(cmd: &mut Command, env: &[(String, String)], agent_socket: Option<&Path>) {
    for name in ["SSH_AUTH_SOCK", "SSH_TTY", "SSH_CLIENT", "SSH_CONNECTION", "SSH_ORIGINAL_COMMAND"] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(path) = agent_socket {
        cmd.env("SSH_AUTH_SOCK", path);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| Path::new(h).is_dir()) {
        cmd.current_dir(home);
    }
}

/// Sets up a new pseudo-terminal for `cmd`: the client's terminal modes on it, and `TERM`
/// and `SSH_TTY` in the command's environment.
pub(crate) fn prepare_pty(
    cmd: &mut Command,
    pty: impl std::os::fd::AsFd,
    pts: impl std::os::fd::AsFd,
    request: &ssh_proto::connection::PtyRequest,
) -> std::io::Result<()> {
    if let Ok(mut modes) = rustix::termios::tcgetattr(&pts) {
        apply_modes(&mut modes, &request.modes);
        let _ = rustix::termios::tcsetattr(&pts, rustix::termios::OptionalActions::Now, &modes);
    }
    let name = rustix::pty::ptsname(&pty, Vec::new())?;
    if !request.term.is_empty() {
        cmd.env("TERM", &request.term);
    }
    cmd.env("SSH_TTY", OsStr::from_bytes(name.as_bytes()));
    Ok(())
}

/// A private directory (mode 0700, under `$TMPDIR`) for a session's `SSH_AUTH_SOCK`, and
/// the socket's path in it.
pub(crate) fn agent_socket_dir() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let dir =
        tempfile::Builder::new().prefix("ssh-agent-").permissions(std::fs::Permissions::from_mode(0o700)).tempdir()?;
    let path = dir.path().join(format!("agent.{}", std::process::id()));
    Ok((dir, path))
}
