//! Reading config files for one host, pass by pass, as ssh.c and readconf.c do: Host and
//! Match blocks, Include, IgnoreUnknown, hostname canonicalization and the final pass.

use super::env::{Environment, LocalUser};
use super::error::{ConfigError, ErrorKind};
use super::expand::{self, Tokens};
use super::keyword::{self, Kind};
use super::lexer::{self, LexError};
use super::options::{self, Jump, Options};
use super::{MAX_FILES, Query, Resolved, Sources};

/// OpenSSH's `READCONF_MAX_DEPTH`.
const MAX_DEPTH: usize = 16;

/// Per-file flags (readconf.h `SSHCONF_*`).
#[derive(Clone, Copy)]
struct Flags {
    user_conf: bool,
    never_match: bool,
}

struct Pass<'a, E: Environment> {
    env: &'a mut E,
    local: &'a LocalUser,
    opts: &'a mut Options,
    /// The name `Host` lines match.
    host: &'a str,
    original_host: &'a str,
    final_pass: bool,
    want_final: bool,
    files_read: usize,
}

impl<E: Environment> Pass<'_, E> {
    /// Reads one file; `Ok(false)` when it does not exist.
    fn read(&mut self, path: &str, flags: Flags, active: &mut bool, depth: usize) -> Result<bool, ConfigError> {
        if depth > MAX_DEPTH || self.files_read >= MAX_FILES {
            return Err(ConfigError::new(path, 0, ErrorKind::IncludeDepth));
        }
        self.files_read += 1;
        let text = match self.env.read_file(path) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(false),
            Err(e) => return Err(ConfigError::new(path, 0, ErrorKind::Read(e))),
        };
        for (i, line) in text.split('\n').enumerate() {
            self.line(line, path, i + 1, active, flags, depth).map_err(|kind| ConfigError::new(path, i + 1, kind))?;
        }
        Ok(true)
    }

    fn line(
        &mut self,
        line: &str,
        path: &str,
        lineno: usize,
        active: &mut bool,
        flags: Flags,
        depth: usize,
    ) -> Result<(), ErrorKind> {
        let raw = match lexer::split_line(line) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(()),
            Err(LexError::Quotes) => return Err(ErrorKind::InvalidQuotes),
            Err(LexError::NoArgument) => {
                let k = line.split([' ', '\t', '=']).find(|s| !s.is_empty()).unwrap_or_default();
                return Err(ErrorKind::MissingArgument(k.to_ascii_lowercase()));
            }
        };
        let spec = match keyword::lookup(&raw.keyword) {
            Some(spec) => spec,
            None => {
                let ignored = self.opts.get("ignoreunknown").is_some_and(|list| {
                    crate::pattern::match_comma_list(&list.to_ascii_lowercase(), &raw.keyword).is_match()
                });
                return match ignored {
                    true => Ok(()),
                    false => Err(ErrorKind::UnknownKeyword(raw.keyword)),
                };
            }
        };
        match spec.kind {
            Kind::Host => {
                let args = lexer::split_args(raw.rest).map_err(|_| ErrorKind::InvalidQuotes)?;
                if args.iter().any(String::is_empty) {
                    return Err(ErrorKind::BadValue("host".into(), String::new()));
                }
                *active = !flags.never_match && options::host_line_matches(&args, self.host);
                Ok(())
            }
            Kind::Match => {
                let matched = self.match_line(raw.rest, path, lineno)?;
                *active = !flags.never_match && matched;
                Ok(())
            }
            Kind::Include => {
                let args = lexer::split_args(raw.rest).map_err(|_| ErrorKind::InvalidQuotes)?;
                self.include(&args, active, flags, depth)
            }
            _ => {
                let args = lexer::split_args(raw.rest).map_err(|_| ErrorKind::InvalidQuotes)?;
                options::apply(self.opts, spec, &args, raw.rest, *active, flags.user_conf)
            }
        }
    }

    fn include(&mut self, args: &[String], active: &mut bool, flags: Flags, depth: usize) -> Result<(), ErrorKind> {
        for arg in args {
            if arg.is_empty() {
                return Err(ErrorKind::BadValue("include".into(), String::new()));
            }
            if arg.starts_with('~') && !flags.user_conf {
                return Err(ErrorKind::BadValue("include".into(), arg.clone()));
            }
            let anchored = match arg.starts_with('/') || arg.starts_with('~') {
                true => arg.clone(),
                false if flags.user_conf => format!("~/.ssh/{arg}"),
                false => format!("/etc/ssh/{arg}"),
            };
            let pattern = expand::tilde(&anchored, &self.local.home);
            let was_active = *active;
            for path in self.env.glob(&pattern) {
                let inner = Flags { user_conf: flags.user_conf, never_match: flags.never_match || !was_active };
                self.read(&path, inner, active, depth + 1).map_err(nested)?;
                // Match state inside an included file does not leak into the includer.
                *active = was_active;
            }
        }
        Ok(())
    }

    /// Evaluates a `Match` line (`match_cfg_line`).
    fn match_line(&mut self, rest: &str, path: &str, lineno: usize) -> Result<bool, ErrorKind> {
        let bad = |why: &str| ErrorKind::BadMatch(why.to_owned());
        let port = self.opts.get("port").and_then(|p| p.parse().ok()).unwrap_or(22u16);
        let ruser = self.opts.get("user").unwrap_or(&self.local.user).to_owned();
        let host = match (self.final_pass, self.opts.get("hostname")) {
            (true, Some(h)) => h.to_owned(),
            (false, Some(h)) => expand_hostname(h, self.host)?,
            (_, None) => self.host.to_owned(),
        };
        let _ = (path, lineno);
        let mut result = true;
        let mut attributes = 0usize;
        let mut cursor = Some(rest);
        while let Some(cur) = cursor {
            let Some((attrib, next)) = lexer::strdelim(cur) else { return Err(bad("invalid quotes")) };
            cursor = next;
            if attrib.is_empty() {
                break;
            }
            if attrib.starts_with('#') {
                cursor = None;
                break;
            }
            let (negate, name) = match attrib.strip_prefix('!') {
                Some(n) => (true, n.to_ascii_lowercase()),
                None => (false, attrib.to_ascii_lowercase()),
            };
            if name == "all" {
                let more = cursor.and_then(lexer::strdelim).map(|(a, _)| a).filter(|a| !a.is_empty());
                if attributes > 1 || more.as_ref().is_some_and(|a| !a.starts_with('#')) {
                    return Err(bad("'all' cannot be combined with other Match attributes"));
                }
                return Ok(result && !negate);
            }
            attributes += 1;
            if name == "canonical" || name == "final" {
                if name == "final" {
                    self.want_final = true;
                }
                if self.final_pass == negate {
                    result = false;
                }
                continue;
            }
            let Some((arg, next)) = cursor.and_then(lexer::strdelim) else {
                return Err(bad(&format!("missing Match criteria for {name}")));
            };
            cursor = next;
            if arg.is_empty() || arg.starts_with('#') {
                return Err(bad(&format!("missing Match criteria for {name}")));
            }
            let hit = match name.as_str() {
                "host" => {
                    crate::pattern::match_comma_list(&arg.to_ascii_lowercase(), &host.to_ascii_lowercase()).is_match()
                }
                "originalhost" => crate::pattern::match_comma_list(
                    &arg.to_ascii_lowercase(),
                    &self.original_host.to_ascii_lowercase(),
                )
                .is_match(),
                "user" => crate::pattern::match_comma_list(&arg, &ruser).is_match(),
                "localuser" => crate::pattern::match_comma_list(&arg, &self.local.user).is_match(),
                "exec" => {
                    let tokens = Tokens {
                        host: host.clone(),
                        original_host: self.original_host.to_owned(),
                        port,
                        remote_user: ruser.clone(),
                        local_user: self.local.user.clone(),
                        home: self.local.home.clone(),
                        uid: self.local.uid,
                        local_host: self.local.hostname.clone(),
                        key_alias: self.opts.get("hostkeyalias").unwrap_or(&host).to_owned(),
                        jump_host: String::new(),
                    };
                    let cmd = expand::expand_exec(&arg, &tokens).map_err(|e| ErrorKind::Expansion(e.to_string()))?;
                    // A failed earlier criterion skips the command, as OpenSSH does.
                    if !result {
                        continue;
                    }
                    self.env.exec(&cmd).map_err(ErrorKind::Exec)?
                }
                other => return Err(bad(&format!("Unsupported Match attribute {other}"))),
            };
            if hit == negate {
                result = false;
            }
        }
        if attributes == 0 {
            return Err(bad("One or more attributes required for Match"));
        }
        if cursor.is_some_and(|c| !c.trim().is_empty()) {
            return Err(ErrorKind::ExtraArguments("match".into()));
        }
        Ok(result)
    }
}

/// An error from an included file keeps its own file and line; this wraps it for the
/// includer's `Result<(), ErrorKind>` by carrying it as text.
fn nested(e: ConfigError) -> ErrorKind {
    match e.kind {
        ErrorKind::IncludeDepth => ErrorKind::IncludeDepth,
        _ => ErrorKind::Read(e.to_string()),
    }
}

/// `Hostname` with `%h` (the only token it takes) and `%%`.
pub(crate) fn expand_hostname(hostname: &str, host: &str) -> Result<String, ErrorKind> {
    expand::expand(hostname, |c| (c == 'h').then(|| host.to_owned()), None)
        .map_err(|e| ErrorKind::Expansion(e.to_string()))
}

/// Whether OpenSSH would treat the name as an address (no lowercasing, no canonicalization).
fn is_addr(h: &str) -> bool {
    let v4 = h.split('.').count() == 4
        && h.split('.').all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    v4 || (h.contains(':') && h.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.' || b == b'%'))
}

fn run_pass<E: Environment>(
    sources: &Sources,
    env: &mut E,
    local: &LocalUser,
    opts: &mut Options,
    host: &str,
    original: &str,
    final_pass: bool,
) -> Result<bool, ConfigError> {
    opts.sendenv_args = 0;
    let mut pass =
        Pass { env, local, opts, host, original_host: original, final_pass, want_final: false, files_read: 0 };
    match sources {
        Sources::File(path) => {
            let mut active = true;
            let user = Flags { user_conf: true, never_match: false };
            if !pass.read(path, user, &mut active, 0)? {
                return Err(ConfigError::new(path, 0, ErrorKind::Read("no such file".into())));
            }
        }
        Sources::Standard => {
            let user_file = format!("{}/.ssh/config", local.home.trim_end_matches('/'));
            let mut active = true;
            pass.read(&user_file, Flags { user_conf: true, never_match: false }, &mut active, 0)?;
            let mut active = true;
            pass.read("/etc/ssh/ssh_config", Flags { user_conf: false, never_match: false }, &mut active, 0)?;
        }
        Sources::None => {}
    }
    Ok(pass.want_final)
}

/// `-o` lines: each read as a one-line user config named `command-line`, line 0 (as ssh
/// reports them), before the first pass.
fn command_line<E: Environment>(
    lines: &[String],
    env: &mut E,
    local: &LocalUser,
    opts: &mut Options,
    host: &str,
) -> Result<(), ConfigError> {
    const FILE: &str = "command-line";
    let mut pass =
        Pass { env, local, opts, host, original_host: host, final_pass: false, want_final: false, files_read: 0 };
    for line in lines {
        if let Ok(Some(raw)) = lexer::split_line(line)
            && let Some(spec) = keyword::lookup(&raw.keyword)
            && let (Kind::Host | Kind::Match | Kind::Include, name) = (spec.kind, spec.name)
        {
            let directive = format!(
                "{}{}",
                name.get(..1).unwrap_or_default().to_ascii_uppercase(),
                name.get(1..).unwrap_or_default()
            );
            return Err(ConfigError::new(FILE, 0, ErrorKind::NotOnCommandLine(directive)));
        }
        let mut active = true;
        let flags = Flags { user_conf: true, never_match: false };
        pass.line(line, FILE, 0, &mut active, flags, 0).map_err(|kind| ConfigError::new(FILE, 0, kind))?;
    }
    Ok(())
}

fn permitted_cnames(opts: &Options) -> Option<&[(String, String)]> {
    match opts.permitted_cnames.as_deref() {
        Some([(s, t)]) if s == "none" && t.is_empty() => None,
        Some(rules) if !rules.is_empty() => Some(rules),
        _ => None,
    }
}

/// `check_follow_cname`: the CNAME target when a rule permits following it.
fn follow_cname(opts: &Options, name: &str, cname: &str, direct: bool, mode: &str) -> Option<String> {
    let rules = permitted_cnames(opts)?;
    if cname.is_empty() || name == cname || mode == "false" || (!direct && mode != "always") {
        return None;
    }
    rules
        .iter()
        .find(|(src, tgt)| {
            crate::pattern::match_comma_list(src, name).is_match()
                && crate::pattern::match_comma_list(tgt, cname).is_match()
        })
        .map(|_| cname.to_owned())
}

/// `resolve_canonicalize` without the address case: the canonical name, if one was found.
fn canonicalize<E: Environment>(
    opts: &Options,
    env: &mut E,
    host: &str,
    direct: bool,
) -> Result<Option<String>, ConfigError> {
    let mode = opts.get("canonicalizehostname").unwrap_or("false");
    if mode == "false" || (!direct && mode != "always") {
        return Ok(None);
    }
    let fallback = opts.get("canonicalizefallbacklocal").unwrap_or("yes") == "yes";
    let not_found = || match fallback {
        true => Ok(None),
        false => Err(ConfigError::new("", 0, ErrorKind::Unresolvable(host.to_owned()))),
    };
    let found = |full: &str, canon: String| {
        let full = full.strip_suffix('.').unwrap_or(full);
        Some(follow_cname(opts, full, &canon, direct, mode).unwrap_or_else(|| full.to_owned()))
    };
    if host.ends_with('.') {
        return match env.resolve(host) {
            Some(c) => Ok(found(host, c)),
            None => not_found(),
        };
    }
    let max_dots: usize = opts.get("canonicalizemaxdots").and_then(|d| d.parse().ok()).unwrap_or(1);
    if host.matches('.').count() > max_dots {
        return Ok(None);
    }
    for domain in opts.lists.get("canonicaldomains").into_iter().flatten() {
        if domain.eq_ignore_ascii_case("none") {
            break;
        }
        let full = format!("{host}.{domain}.");
        if let Some(c) = env.resolve(&full) {
            return Ok(found(&full, c));
        }
    }
    not_found()
}

/// The whole of ssh.c's configuration sequence for one host.
pub(crate) fn resolve<E: Environment>(
    query: &Query,
    sources: &Sources,
    local: &LocalUser,
    env: &mut E,
) -> Result<Resolved, ConfigError> {
    let mut opts = Options::default();
    if let Some(u) = &query.user {
        opts.single.insert("user", u.clone());
    }
    if let Some(p) = query.port {
        opts.single.insert("port", p.to_string());
    }
    let original = query.host.as_str();
    command_line(&query.options, env, local, &mut opts, original)?;
    let mut want_final = run_pass(sources, env, local, &mut opts, original, original, false)?;

    let mut host = original.to_owned();
    if let Some(h) = opts.get("hostname") {
        host = expand_hostname(h, &host).map_err(|k| ConfigError::new("", 0, k))?;
        opts.single.insert("hostname", host.clone());
    }
    if !is_addr(&host) {
        host = host.to_ascii_lowercase();
    }
    let proxy_none = opts.get("proxycommand").is_none_or(|p| p.eq_ignore_ascii_case("none"));
    let direct = proxy_none && opts.jump.is_none();
    let mode = opts.get("canonicalizehostname").unwrap_or("false").to_owned();
    let mut found = false;
    if !is_addr(&host)
        && let Some(c) = canonicalize(&opts, env, &host, direct)?
    {
        host = c;
        found = true;
    }
    if !found && permitted_cnames(&opts).is_some() && (direct || mode == "always") {
        match env.resolve(&host) {
            Some(cname) => {
                if let Some(c) = follow_cname(&opts, &host, &cname, direct, &mode) {
                    host = c;
                }
            }
            None if direct => return Err(ConfigError::new("", 0, ErrorKind::Unresolvable(host))),
            None => {}
        }
    }
    if mode != "false" {
        want_final = true;
    }
    if want_final {
        opts.single.insert("hostname", host.clone());
        run_pass(sources, env, local, &mut opts, &host, original, true)?;
    }
    if opts.jump == Some(Jump::Disabled) {
        opts.jump = None;
    }
    Resolved::new(query.host.clone(), host, opts, local.clone(), env)
}
