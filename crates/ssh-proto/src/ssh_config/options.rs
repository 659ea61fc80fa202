//! The option store and how one keyword line changes it: first value wins, lists
//! accumulate or are set once, exactly where readconf.c does each.

use std::collections::{BTreeMap, HashSet};

use super::error::ErrorKind;
use super::forward::{self, Direction, Forward};
use super::jump::{JumpHost, parse_jump_list};
use super::keyword::{ADD_KEYS, FLAG, Kind, Spec};
use super::names;

/// OpenSSH's caps: identity and certificate files (`SSH_MAX_IDENTITY_FILES`).
const MAX_KEY_FILES: usize = 100;
/// A cap OpenSSH does not have, so a hostile file cannot grow memory without bound.
const MAX_ENTRIES: usize = 4096;
/// Most SendEnv arguments applied in one pass: each `-pattern` scans the whole list, so this
/// bounds a pass's matching work to `MAX_SENDENV_ARGS × MAX_ENTRIES` (another cap of ours).
const MAX_SENDENV_ARGS: usize = 4096;

/// What ProxyJump was set to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Jump {
    /// `ProxyJump none`: no jump, and later ProxyCommand lines are ignored.
    Disabled,
    /// The hops, in the order they are passed through, and the text before the last comma
    /// as written (`ssh -G` prints it verbatim).
    Hosts(Vec<JumpHost>, Option<String>),
}

/// Option values as set by config lines (and the command line), before defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Single-valued options by `ssh -G` name, in their printed form.
    pub single: BTreeMap<&'static str, String>,
    /// Lists set by their first line (known hosts files, CanonicalDomains, LogVerbose,
    /// PermitRemoteOpen) or accumulated (SendEnv, SetEnv).
    pub lists: BTreeMap<&'static str, Vec<String>>,
    /// IdentityFile entries and whether a user config supplied them.
    pub identity_files: Vec<(String, bool)>,
    /// CertificateFile entries likewise.
    pub certificate_files: Vec<(String, bool)>,
    /// LocalForward and DynamicForward, in order.
    pub local_forwards: Vec<Forward>,
    /// RemoteForward, in order.
    pub remote_forwards: Vec<Forward>,
    /// CanonicalizePermittedCNAMEs rules `(source patterns, target patterns)`.
    pub permitted_cnames: Option<Vec<(String, String)>>,
    /// ProxyJump.
    pub jump: Option<Jump>,
    /// SendEnv arguments applied so far in this pass (the resolver resets it per pass).
    pub sendenv_args: usize,
}

impl Options {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    fn set_first(&mut self, name: &'static str, value: String) {
        self.single.entry(name).or_insert(value);
    }
}

/// Parses an OpenSSH time value (`90`, `1h30m`, `2W`) into seconds.
pub(crate) fn convtime(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let mult = match rest.bytes().next() {
            None => 1,
            Some(c) => {
                rest = rest.get(1..)?;
                match c.to_ascii_lowercase() {
                    b's' => 1,
                    b'm' => 60,
                    b'h' => 3600,
                    b'd' => 86400,
                    b'w' => 604800,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    (total <= i64::from(i32::MAX)).then_some(total)
}

/// `RekeyLimit bytes [interval]` as `ssh -G` prints it: `<bytes> <seconds>`.
fn rekey_limit(args: &[String]) -> Option<String> {
    let bytes = match args.first().map(String::as_str)? {
        "default" => 0,
        v => {
            let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
            let n: u64 = v.get(..split)?.parse().ok()?;
            let shift = match v.get(split..)?.to_ascii_uppercase().as_str() {
                "" | "B" => 0,
                "K" => 10,
                "M" => 20,
                "G" => 30,
                "T" => 40,
                _ => return None,
            };
            let n = n.checked_mul(1u64 << shift)?;
            if n != 0 && n < 16 {
                return None;
            }
            n
        }
    };
    let secs = match args.get(1).map(String::as_str) {
        None | Some("none") => 0,
        Some(t) => convtime(t)?,
    };
    Some(format!("{bytes} {secs}"))
}

/// `EscapeChar` as `ssh -G` prints it (`vis(3)` of the character).
fn escape_char(v: &str) -> Option<String> {
    let b = v.as_bytes();
    match b {
        _ if v == "none" => Some("none".into()),
        [b'\\'] => Some("\\\\".into()),
        [c] if c.is_ascii_graphic() => Some(v.to_owned()),
        [c] => Some(format!("\\{c:03o}")),
        [b'^', c] if (64..128).contains(c) => {
            let ctl = c & 31;
            Some(format!("\\^{}", char::from(ctl + 64)))
        }
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn state(table: super::keyword::States, v: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| k.eq_ignore_ascii_case(v)).map(|(_, out)| *out)
}

/// Whether a `Host` line applies to `host`: some pattern matches and no negated one does.
pub(crate) fn host_line_matches(patterns: &[String], host: &str) -> bool {
    let mut active = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if crate::pattern::wildcard_match(neg, host) => return false,
            Some(_) => {}
            None if crate::pattern::wildcard_match(p, host) => active = true,
            None => {}
        }
    }
    active
}

/// Applies one ordinary keyword line (not Host/Match/Include) to `opts`. `rest` is the raw
/// text after the keyword; `active` says whether the current block applies; `user_conf`
/// whether the file is a user configuration. Values are checked even in inactive blocks,
/// as OpenSSH does.
pub(crate) fn apply(
    opts: &mut Options,
    spec: Spec,
    args: &[String],
    rest: &str,
    active: bool,
    user_conf: bool,
) -> Result<(), ErrorKind> {
    let name = spec.name;
    let bad = |v: &str| ErrorKind::BadValue(name.to_owned(), v.to_owned());
    let first = args.first().map(String::as_str).filter(|a| !a.is_empty());
    let need = || first.ok_or_else(|| ErrorKind::MissingArgument(name.to_owned()));
    let at_most = |n: usize| match args.len() > n {
        true => Err(ErrorKind::ExtraArguments(name.to_owned())),
        false => Ok(()),
    };
    match spec.kind {
        Kind::Host | Kind::Match | Kind::Include | Kind::Ignored => {}
        Kind::States(table) => {
            let v = need()?;
            let out = state(table, v).ok_or_else(|| bad(v))?;
            at_most(1)?;
            // SyslogFacility is set whatever the block state (a readconf.c quirk kept for fidelity).
            if active || name == "syslogfacility" {
                opts.set_first(name, out.to_owned());
            }
        }
        Kind::Int => {
            let v = need()?;
            let n = parse_int(v).ok_or_else(|| bad(v))?;
            at_most(1)?;
            if active {
                opts.set_first(name, n.to_string());
            }
        }
        Kind::Time => {
            let v = need()?;
            let secs = match v {
                "none" => None,
                _ => Some(convtime(v).ok_or_else(|| bad(v))?),
            };
            at_most(1)?;
            if active && let Some(secs) = secs {
                opts.set_first(name, secs.to_string());
            }
        }
        Kind::Port => {
            let v = need()?;
            let port = v.parse::<u16>().ok().filter(|p| *p > 0 && v.bytes().all(|b| b.is_ascii_digit()));
            let port = port.ok_or_else(|| bad(v))?;
            at_most(1)?;
            if active {
                opts.set_first(name, port.to_string());
            }
        }
        Kind::Str => {
            let v = need()?;
            at_most(1)?;
            if active {
                opts.set_first(name, v.to_owned());
            }
        }
        Kind::Command => {
            let v = rest.trim_start_matches([' ', '\t', '\r', '\n', '=']);
            if v.is_empty() {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            // Only a real ProxyJump shadows ProxyCommand (`ProxyJump none` does not, on 9.2p1).
            let skip = name == "proxycommand" && matches!(opts.jump, Some(Jump::Hosts(..)));
            if active && !skip {
                opts.set_first(name, v.to_owned());
            }
        }
        Kind::Algorithms(kind) => {
            let v = need()?;
            let list = v.strip_prefix(['+', '^']).unwrap_or(v);
            if !v.starts_with('-') && !names::valid(kind, list) {
                return Err(bad(v));
            }
            at_most(1)?;
            if active {
                opts.set_first(name, v.to_owned());
            }
        }
        Kind::IdentityFile | Kind::CertificateFile => {
            let v = need()?;
            at_most(1)?;
            if active {
                let files = match spec.kind {
                    Kind::IdentityFile => &mut opts.identity_files,
                    _ => &mut opts.certificate_files,
                };
                if files.len() >= MAX_KEY_FILES {
                    return Err(ErrorKind::TooMany(name.to_owned()));
                }
                let entry = (v.to_owned(), user_conf);
                if !files.contains(&entry) {
                    files.push(entry);
                }
            }
        }
        Kind::FirstList { none_alone, max } => {
            if args.is_empty() {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                if a.is_empty() {
                    return Err(bad(a));
                }
                if none_alone && a.eq_ignore_ascii_case("none") && args.len() > 1 {
                    return Err(bad(a));
                }
                let a = match name {
                    "canonicaldomains" if !a.eq_ignore_ascii_case("none") => {
                        if !names::valid_domain(a) {
                            return Err(bad(a));
                        }
                        a.to_ascii_lowercase()
                    }
                    _ => a.clone(),
                };
                values.push(a);
            }
            if values.len() > max {
                return Err(ErrorKind::TooMany(name.to_owned()));
            }
            if active && !opts.lists.contains_key(name) {
                opts.lists.insert(name, values);
            }
        }
        Kind::PermittedCnames => {
            if args.is_empty() {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            let mut rules = Vec::new();
            for a in args {
                let rule = if a.eq_ignore_ascii_case("none") {
                    if args.len() > 1 {
                        return Err(bad(a));
                    }
                    ("none".to_owned(), String::new())
                } else if a == "*" {
                    ("*".to_owned(), "*".to_owned())
                } else {
                    let lower = a.to_ascii_lowercase();
                    match lower.split_once(':') {
                        Some((s, t)) if !t.is_empty() => (s.to_owned(), t.to_owned()),
                        _ => return Err(bad(a)),
                    }
                };
                rules.push(rule);
            }
            if rules.len() > 32 {
                return Err(ErrorKind::TooMany(name.to_owned()));
            }
            if active && opts.permitted_cnames.is_none() {
                opts.permitted_cnames = Some(rules);
            }
        }
        Kind::SendEnv => {
            for a in args {
                if a.is_empty() || a.contains('=') {
                    return Err(bad(a));
                }
                if !active {
                    continue;
                }
                opts.sendenv_args += 1;
                if opts.sendenv_args > MAX_SENDENV_ARGS {
                    return Err(ErrorKind::TooMany(name.to_owned()));
                }
                let list = opts.lists.entry(name).or_default();
                match a.strip_prefix('-') {
                    Some(pattern) => list.retain(|e| !crate::pattern::wildcard_match(pattern, e)),
                    None if list.len() >= MAX_ENTRIES => return Err(ErrorKind::TooMany(name.to_owned())),
                    None => list.push(a.clone()),
                }
            }
            if opts.lists.get(name).is_some_and(Vec::is_empty) {
                opts.lists.remove(name);
            }
        }
        Kind::SetEnv => {
            let was_set = opts.lists.contains_key(name);
            let mut added = Vec::new();
            let mut seen = HashSet::new();
            for a in args {
                let Some((var, _)) = a.split_once('=') else { return Err(bad(a)) };
                // The first value of a variable wins within the line, as in readconf.c.
                if active && !was_set && seen.insert(var) {
                    if added.len() == MAX_ENTRIES {
                        return Err(ErrorKind::TooMany(name.to_owned()));
                    }
                    added.push(a.clone());
                }
            }
            if !added.is_empty() {
                opts.lists.insert(name, added);
            }
        }
        Kind::PermitRemoteOpen => {
            if args.is_empty() {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            for a in args {
                let alone = a.eq_ignore_ascii_case("any") || a.eq_ignore_ascii_case("none");
                if alone && args.len() > 1 {
                    return Err(bad(a));
                }
                let valid = alone
                    || a.rsplit_once(':')
                        .is_some_and(|(h, p)| !h.is_empty() && (p == "*" || p.parse::<u16>().is_ok_and(|n| n > 0)));
                if !valid {
                    return Err(bad(a));
                }
            }
            if args.len() > MAX_ENTRIES {
                return Err(ErrorKind::TooMany(name.to_owned()));
            }
            if active && !opts.lists.contains_key(name) {
                opts.lists.insert(name, args.to_vec());
            }
        }
        Kind::LocalForward | Kind::RemoteForward | Kind::DynamicForward => {
            let v = need()?;
            let (dir, max) = match spec.kind {
                Kind::LocalForward => (Direction::Local, 2),
                Kind::RemoteForward => (Direction::Remote, 2),
                _ => (Direction::Dynamic, 1),
            };
            let second = args.get(1).map(String::as_str).filter(|s| !s.is_empty());
            let fwd = forward::parse(dir, v, second).ok_or_else(|| bad(v))?;
            at_most(max)?;
            if active {
                let list = match dir {
                    Direction::Remote => &mut opts.remote_forwards,
                    _ => &mut opts.local_forwards,
                };
                if list.len() >= MAX_ENTRIES {
                    return Err(ErrorKind::TooMany(name.to_owned()));
                }
                if !list.contains(&fwd) {
                    list.push(fwd);
                }
            }
        }
        Kind::ProxyJump => {
            let v = rest.trim_start_matches([' ', '\t', '\r', '\n', '=']);
            let v = v.split('#').next().unwrap_or_default().trim_end_matches([' ', '\t', '\r', '\n']);
            if v.is_empty() {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            let hops = parse_jump_list(v).ok_or_else(|| bad(v))?;
            if hops.len() > MAX_ENTRIES {
                return Err(ErrorKind::TooMany(name.to_owned()));
            }
            if active && opts.jump.is_none() && !opts.single.contains_key("proxycommand") {
                opts.jump = Some(match hops.is_empty() {
                    true => Jump::Disabled,
                    false => Jump::Hosts(hops, v.rsplit_once(',').map(|(extra, _)| extra.to_owned())),
                });
            }
        }
        Kind::ForwardAgent => {
            let v = need()?;
            at_most(1)?;
            let value = match state(FLAG, v) {
                Some(out) => out.to_owned(),
                None => {
                    names::check_env_syntax(v).ok_or_else(|| bad(v))?;
                    v.to_owned()
                }
            };
            if active {
                opts.set_first(name, value);
            }
        }
        Kind::AddKeysToAgent => {
            let v = need()?;
            let second = args.get(1);
            at_most(2)?;
            let value = match (state(ADD_KEYS, v), second) {
                (Some("confirm"), Some(t)) => match convtime(t) {
                    Some(0) => "confirm".to_owned(),
                    Some(secs) => format!("confirm {secs}"),
                    None => return Err(bad(t)),
                },
                (Some(out), None) => out.to_owned(),
                (None, None) => match convtime(v) {
                    Some(0) => "true".to_owned(),
                    Some(secs) => secs.to_string(),
                    None => return Err(bad(v)),
                },
                (_, Some(t)) => return Err(bad(t)),
            };
            if active {
                opts.set_first(name, value);
            }
        }
        Kind::ControlPersist => {
            let v = need()?;
            at_most(1)?;
            let value = match v {
                "no" | "false" => "no".to_owned(),
                "yes" | "true" => "yes".to_owned(),
                _ => match convtime(v) {
                    Some(0) => "yes".to_owned(),
                    Some(secs) => secs.to_string(),
                    None => return Err(bad(v)),
                },
            };
            if active {
                opts.set_first(name, value);
            }
        }
        Kind::Verbatim { min, max } => {
            if args.len() < min || args.iter().any(String::is_empty) {
                return Err(ErrorKind::MissingArgument(name.to_owned()));
            }
            at_most(max)?;
            let value = match name {
                // An octal mode, printed as `0%o`.
                "streamlocalbindmask" => {
                    let v = need()?;
                    let mode = u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o777).ok_or_else(|| bad(v))?;
                    format!("0{mode:o}")
                }
                "rekeylimit" => rekey_limit(args).ok_or_else(|| bad(&args.join(" ")))?,
                "escapechar" => escape_char(need()?).ok_or_else(|| bad(&args.join(" ")))?,
                // One value serves both classes; names are case-insensitive.
                "ipqos" => match args {
                    [one] => format!("{0} {0}", one.to_ascii_lowercase()),
                    _ => args.join(" ").to_ascii_lowercase(),
                },
                _ => args.join(" "),
            };
            if active {
                opts.set_first(name, value);
            }
        }
    }
    Ok(())
}
