//! ssh_config resolution against OpenSSH's own: for every (config, host[, -l, -p]) of the
//! corpus in `testdata/ssh_config/`, our `ssh -G` output must equal `ssh -G -F FILE HOST`
//! line for line, defaults included. Configs that OpenSSH rejects must be rejected too, on
//! the same line.
//!
//! Each run copies the corpus into a temp dir (`@DIR@` and `@USER@` filled in), runs `ssh`
//! with a cleared environment (HOME is the temp dir, `TEST_KEYDIR` set for `${}` tests), and
//! never touches the real `~/.ssh`: the corpus uses only absolute includes and no name
//! resolves (so `ssh -G` canonicalization falls back, as our resolver does). `ssh` missing
//! means a loud skip, or a failure with `SSH_INTEROP=require`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ssh_proto::pattern::wildcard_match;
use ssh_proto::ssh_config::{Environment, LocalUser, Query, Sources, resolve};
use test_support::Peer;
use test_support::peers_available;
use test_support::process::run;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The real file system and shell, as a driver would supply them.
struct Host {
    vars: BTreeMap<String, String>,
}

impl Environment for Host {
    fn read_file(&mut self, path: &str) -> Result<Option<String>, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn glob(&mut self, pattern: &str) -> Vec<String> {
        // Enough of glob(3) for the corpus: wildcards in the last component only.
        let (dir, name) = pattern.rsplit_once('/').unwrap_or((".", pattern));
        if !name.contains(['*', '?']) {
            return match Path::new(pattern).exists() {
                true => vec![pattern.to_owned()],
                false => vec![],
            };
        }
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| !f.starts_with('.') && wildcard_match(name, f))
                    .map(|f| format!("{dir}/{f}"))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn exec(&mut self, command: &str) -> Result<bool, String> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", command]).env_clear().envs(&self.vars).stdin(Stdio::null());
        run(&mut cmd, TIMEOUT).map(|f| f.status.success())
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn resolve(&mut self, _name: &str) -> Option<String> {
        None
    }
}

fn output(cmd: &mut Command) -> String {
    let f = run(cmd, TIMEOUT).expect("command runs");
    assert!(f.status.success(), "{cmd:?} failed: {}", f.stderr);
    f.stdout.trim().to_owned()
}

/// The local account the way ssh sees it (getpwuid, gethostname).
fn local_user() -> LocalUser {
    let uid = output(Command::new("id").arg("-u"));
    let passwd = output(Command::new("getent").args(["passwd", &uid]));
    let fields: Vec<&str> = passwd.split(':').collect();
    LocalUser {
        user: fields[0].to_owned(),
        home: fields[5].to_owned(),
        uid: uid.parse().unwrap(),
        hostname: output(Command::new("uname").arg("-n")),
    }
}

struct Corpus {
    dir: tempfile::TempDir,
    local: LocalUser,
    vars: BTreeMap<String, String>,
}

fn copy_tree(from: &Path, to: &Path, subst: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, subst);
        } else {
            std::fs::write(&target, subst(&std::fs::read_to_string(entry.path()).unwrap())).unwrap();
        }
    }
}

fn corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let local = local_user();
    let root = dir.path().to_string_lossy().into_owned();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/ssh_config");
    let user = local.user.clone();
    copy_tree(&src, dir.path(), &|t| t.replace("@DIR@", &root).replace("@USER@", &user));
    let mut vars = BTreeMap::new();
    vars.insert("PATH".to_owned(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()));
    vars.insert("HOME".to_owned(), root.clone());
    vars.insert("SHELL".to_owned(), "/bin/sh".to_owned());
    vars.insert("TEST_KEYDIR".to_owned(), format!("{root}/keys"));
    Corpus { dir, local, vars }
}

/// `(config, host, -l, -p)`.
type Case = (&'static str, &'static str, Option<&'static str>, Option<u16>);

const CASES: &[Case] = &[
    ("basic.conf", "web.internal", None, None),
    ("basic.conf", "bastion.internal", None, None),
    ("basic.conf", "db1.internal", None, None),
    ("basic.conf", "DB2.Internal", None, None),
    ("basic.conf", "other.com", Some("carol"), Some(2022)),
    ("match.conf", "alias1", None, None),
    ("match.conf", "alias2", None, None),
    ("match.conf", "exechost", None, None),
    ("match.conf", "plain", Some("someone"), None),
    ("match.conf", "x.example.org", None, Some(2200)),
    ("include.conf", "inc-a", None, None),
    ("include.conf", "inc-b", None, None),
    ("include.conf", "after-include", None, None),
    ("canon.conf", "web", None, None),
    ("canon.conf", "web.dotted", None, None),
    ("canon.conf", "Mixed", None, None),
    ("canon_proxy.conf", "somehost", None, None),
    ("proxyjump.conf", "j1", None, None),
    ("proxyjump.conf", "j2", None, None),
    ("proxyjump.conf", "j3", None, None),
    ("proxyjump.conf", "j4", None, None),
    ("proxyjump.conf", "other", None, None),
    ("tokens.conf", "tokhost", None, None),
    ("tokens.conf", "TokHost", Some("override"), Some(2022)),
    ("misc.conf", "anything", None, None),
    ("clear.conf", "anything", None, None),
    ("edge.conf", "edgehost", None, None),
];

fn ssh_g(
    c: &Corpus,
    file: &Path,
    host: &str,
    user: Option<&str>,
    port: Option<u16>,
) -> test_support::process::Finished {
    let mut cmd = Command::new("ssh");
    cmd.arg("-G").arg("-F").arg(file);
    if let Some(u) = user {
        cmd.args(["-l", u]);
    }
    if let Some(p) = port {
        cmd.args(["-p", &p.to_string()]);
    }
    cmd.arg(host).env_clear().envs(&c.vars).current_dir(c.dir.path()).stdin(Stdio::null());
    run(&mut cmd, TIMEOUT).expect("ssh -G runs")
}

#[test]
fn ssh_g_output_matches_openssh() {
    if !peers_available(&[Peer::Ssh]) {
        return;
    }
    let c = corpus();
    let mut failures = Vec::new();
    for &(file, host, user, port) in CASES {
        let path = c.dir.path().join(file);
        let theirs = ssh_g(&c, &path, host, user, port);
        assert!(theirs.status.success(), "ssh -G -F {file} {host} failed: {}", theirs.stderr);
        let mut env = Host { vars: c.vars.clone() };
        let query = Query { host: host.to_owned(), user: user.map(str::to_owned), port, options: Vec::new() };
        let ours = match resolve(&query, &Sources::File(path.to_string_lossy().into_owned()), &c.local, &mut env) {
            Ok(r) => r.to_ssh_g(),
            Err(e) => {
                failures.push(format!("{file} {host}: we failed: {e}"));
                continue;
            }
        };
        let (a, b): (Vec<&str>, Vec<&str>) = (theirs.stdout.lines().collect(), ours.lines().collect());
        if a != b {
            let mut diff = String::new();
            for l in &a {
                if !b.contains(l) {
                    diff += &format!("\n  - {l}");
                }
            }
            for l in &b {
                if !a.contains(l) {
                    diff += &format!("\n  + {l}");
                }
            }
            if diff.is_empty() {
                diff = "\n  (same lines, different order)".into();
            }
            failures.push(format!("{file} {host} {user:?} {port:?}: ssh -G differs (- openssh, + ours):{diff}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    eprintln!("ssh_config: {} cases identical to ssh -G", CASES.len());
}

/// `-o` lines: `(config, host, options)`; each must give `ssh -G -F config -o … host`.
const OPTION_CASES: &[(&str, &str, &[&str])] = &[
    ("basic.conf", "web.internal", &["Port=2200", "User=override", "Port 2300"]),
    ("basic.conf", "db1.internal", &["Hostname=direct.example.org", "IdentityFile=/keys/first"]),
    ("basic.conf", "other.com", &["Ciphers=aes128-ctr,aes256-gcm@openssh.com", "MACs -hmac-sha1*"]),
    ("basic.conf", "other.com", &["StrictHostKeyChecking accept-new", "UserKnownHostsFile=/tmp/kh_%h", "SetEnv=A=1"]),
    ("proxyjump.conf", "j1", &["ProxyJump=me@hop1:2222,hop2"]),
    ("proxyjump.conf", "other", &["ProxyCommand=nc %h %p", "ServerAliveInterval=5", "RekeyLimit=1M 30"]),
];

#[test]
fn command_line_options_match_openssh() {
    if !peers_available(&[Peer::Ssh]) {
        return;
    }
    let c = corpus();
    for &(file, host, options) in OPTION_CASES {
        let path = c.dir.path().join(file);
        let mut cmd = Command::new("ssh");
        cmd.arg("-G").arg("-F").arg(&path);
        for o in options {
            cmd.arg("-o").arg(o);
        }
        cmd.arg(host).env_clear().envs(&c.vars).current_dir(c.dir.path()).stdin(Stdio::null());
        let theirs = run(&mut cmd, TIMEOUT).expect("ssh -G runs");
        assert!(theirs.status.success(), "ssh -G -F {file} {options:?} {host} failed: {}", theirs.stderr);
        let mut env = Host { vars: c.vars.clone() };
        let mut query = Query::new(host);
        query.options = options.iter().map(|o| (*o).to_owned()).collect();
        let ours = resolve(&query, &Sources::File(path.to_string_lossy().into_owned()), &c.local, &mut env)
            .unwrap_or_else(|e| panic!("{file} {host} {options:?}: {e}"))
            .to_ssh_g();
        let (a, b): (Vec<&str>, Vec<&str>) = (theirs.stdout.lines().collect(), ours.lines().collect());
        let missing: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
        let extra: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
        assert!(a == b, "{file} {host} {options:?}: - openssh {missing:?} + ours {extra:?}");
    }
    // What ssh refuses on its command line, we refuse.
    for bad in ["Frobnicate=yes", "Host=y", "Match=all", "Include=/etc/ssh/ssh_config", "Port=0"] {
        let mut cmd = Command::new("ssh");
        cmd.args(["-G", "-F", "none", "-o", bad, "h"]).env_clear().envs(&c.vars).stdin(Stdio::null());
        let theirs = run(&mut cmd, TIMEOUT).expect("ssh -G runs");
        assert!(!theirs.status.success(), "ssh accepted -o {bad}");
        let mut query = Query::new("h");
        query.options = vec![bad.to_owned()];
        let mut env = Host { vars: c.vars.clone() };
        let e = resolve(&query, &Sources::None, &c.local, &mut env).expect_err(bad);
        assert_eq!(e.file, "command-line", "{bad}: {e}");
    }
}

/// Configs OpenSSH refuses, with the line it names.
const BAD: &[(&str, usize)] = &[
    ("Host *\n  Frobnicate yes\n", 2),
    ("User alice\nPort 0\n", 2),
    ("Compression maybe\n", 1),
    ("Host x\nProxyJump a:notaport\n", 2),
    ("ProxyJump @host\n", 1),
    ("User \"unterminated\n", 1),
    ("Hostname\n", 1),
    ("Match nosuch x\n", 1),
    ("Match all host x\n", 1),
    ("Match host\n", 1),
    ("SendEnv A=B\n", 1),
    ("SetEnv NOEQUALS\n", 1),
    ("ServerAliveInterval 5x\n", 1),
    ("LocalForward 8080\n", 1),
    ("UserKnownHostsFile a none\n", 1),
    ("Ciphers aes999-ctr\n", 1),
    ("Host a\n  Port 22 23\n", 2),
    ("Host inactive\n  StrictHostKeyChecking sometimes\n", 2),
];

#[test]
fn bad_configs_rejected_like_openssh() {
    if !peers_available(&[Peer::Ssh]) {
        return;
    }
    let c = corpus();
    for (i, &(text, line)) in BAD.iter().enumerate() {
        let path = c.dir.path().join(format!("bad{i}.conf"));
        std::fs::write(&path, text).unwrap();
        let theirs = ssh_g(&c, &path, "somehost", None, None);
        assert!(!theirs.status.success(), "ssh accepted {text:?}");
        assert!(
            theirs.stderr.contains(&format!("line {line}")),
            "ssh's complaint about {text:?} names another line: {}",
            theirs.stderr
        );
        let mut env = Host { vars: c.vars.clone() };
        let err =
            resolve(&Query::new("somehost"), &Sources::File(path.to_string_lossy().into_owned()), &c.local, &mut env)
                .expect_err(text);
        assert_eq!(err.line, line, "{text:?}: {err}");
    }
}

/// SendEnv additions and `-pattern` removals and SetEnv's first-value-wins, in lines short
/// and long (thousands of arguments, under our caps): the same `ssh -G` as OpenSSH.
#[test]
fn environment_lists_match_openssh() {
    if !peers_available(&[Peer::Ssh]) {
        return;
    }
    let c = corpus();
    let many_vars: Vec<String> = (0..3000).map(|i| format!("V{i}={}", i % 7)).collect();
    let many_names: Vec<String> = (0..2000).map(|i| format!("S{i}")).collect();
    let removals: Vec<String> = (0..2000).filter(|i| i % 3 == 0).map(|i| format!("-S{i}")).collect();
    let configs = [
        "Host x\n  SendEnv LANG LC_* FOO BAR\n  SendEnv -LC_* BAZ\n  SetEnv A=1 B=2 A=3\n  SetEnv C=4\nHost *\n  SendEnv -FOO QUX -NOPE\n".to_owned(),
        format!(
            "Host x\n  SetEnv {} V5=dup V1=again\n  SendEnv {}\n  SendEnv {} -S1?\n",
            many_vars.join(" "),
            many_names.join(" "),
            removals.join(" ")
        ),
    ];
    for (i, text) in configs.iter().enumerate() {
        let path = c.dir.path().join(format!("env{i}.conf"));
        std::fs::write(&path, text).unwrap();
        let theirs = ssh_g(&c, &path, "x", None, None);
        assert!(theirs.status.success(), "ssh -G env{i}: {}", theirs.stderr);
        let mut env = Host { vars: c.vars.clone() };
        let r = resolve(&Query::new("x"), &Sources::File(path.to_string_lossy().into_owned()), &c.local, &mut env);
        let ours = r.unwrap().to_ssh_g();
        let pick = |s: &str| -> Vec<String> {
            s.lines().filter(|l| l.starts_with("sendenv ") || l.starts_with("setenv ")).map(str::to_owned).collect()
        };
        assert!(!pick(&theirs.stdout).is_empty());
        assert_eq!(pick(&ours), pick(&theirs.stdout), "env{i}");
        assert_eq!(ours.trim(), theirs.stdout.trim(), "env{i}");
    }
}
