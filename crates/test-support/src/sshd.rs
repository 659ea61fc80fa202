//! OpenSSH `sshd` on loopback, in a temporary directory, with every host key type, a host
//! certificate for each, and every algorithm it supports enabled.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::{find_in_path, is_executable};
use crate::process::{ChildGuard, run, tail};

const KEYGEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Where `sshd` is: `/usr/sbin/sshd`, else the first `sshd` in `PATH`.
pub(crate) fn sshd_path() -> Option<PathBuf> {
    let default = PathBuf::from("/usr/sbin/sshd");
    if is_executable(&default) { Some(default) } else { find_in_path("sshd") }
}

/// The algorithms an [`Sshd`] enabled, per kind, in the order of its config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshdAlgorithms {
    /// `KexAlgorithms`.
    pub kex: Vec<String>,
    /// `HostKeyAlgorithms`.
    pub host_key: Vec<String>,
    /// `Ciphers`.
    pub cipher: Vec<String>,
    /// `MACs`.
    pub mac: Vec<String>,
    /// What `Compression yes` offers (`zlib@openssh.com` and `none`).
    pub compression: Vec<String>,
}

impl SshdAlgorithms {
    /// What OpenSSH's `ssh` client supports (`ssh -Q` per kind), with compression: the
    /// lists for a matrix of `ssh` against our servers.
    pub fn ssh_client() -> Result<Self, String> {
        Ok(Self {
            kex: query("kex")?,
            host_key: query("HostKeyAlgorithms")?,
            cipher: query("cipher")?,
            mac: query("mac")?,
            compression: vec!["zlib@openssh.com".into(), "none".into()],
        })
    }

    /// The driver interop matrix: every kex, host key, cipher and MAC sshd and we share,
    /// one at a time on top of a base set (curve25519-sha256, ssh-ed25519, aes128-ctr with
    /// hmac-sha2-256-etm), plus zlib@openssh.com. Panics when fewer are in common than a
    /// working build and sshd 9.2 share (8 kex, 6 host key, 6 cipher, 6 MAC algorithms).
    pub fn one_at_a_time(&self) -> Vec<crate::Combo> {
        use crate::algos::common;
        use ssh_proto::algorithm::{Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac};
        let kex: Vec<KexAlgorithm> = common(&self.kex);
        let host_keys: Vec<HostKeyAlgorithm> = common(&self.host_key);
        let ciphers: Vec<Cipher> = common(&self.cipher);
        let macs: Vec<Mac> = common(&self.mac);
        let counts = (kex.len(), host_keys.len(), ciphers.len(), macs.len());
        assert!(counts.0 >= 8 && counts.1 >= 6 && counts.2 >= 6 && counts.3 >= 6, "{counts:?} of {self:?}");
        let base = crate::Combo {
            kex: KexAlgorithm::Curve25519Sha256,
            host_key: HostKeyAlgorithm::Ed25519,
            cipher: Cipher::Aes128Ctr,
            mac: Some(Mac::HmacSha256Etm),
            compression: Compression::None,
        };
        let mut cases = Vec::new();
        cases.extend(kex.iter().map(|&kex| crate::Combo { kex, ..base }));
        cases.extend(host_keys.iter().map(|&host_key| crate::Combo { host_key, ..base }));
        cases.extend(ciphers.iter().map(|&cipher| crate::Combo {
            cipher,
            mac: (!cipher.is_aead()).then_some(base.mac).flatten(),
            ..base
        }));
        cases.extend(macs.iter().map(|&mac| crate::Combo { mac: Some(mac), ..base }));
        cases.push(crate::Combo { compression: Compression::ZlibOpenSsh, ..base });
        cases
    }

    /// Whether `name` is enabled for any kind.
    pub fn contains(&self, name: &str) -> bool {
        [&self.kex, &self.host_key, &self.cipher, &self.mac, &self.compression]
            .iter()
            .any(|l| l.iter().any(|n| n == name))
    }
}

/// [`Sshd`] settings.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// `LogLevel` (default `ERROR`).
    pub log_level: String,
    /// `MaxStartups` (default 1000: room for a parallel matrix).
    pub max_startups: u32,
    /// `Compression yes` (default) or `no`.
    pub compression: bool,
    /// Extra `sshd_config` lines, appended last.
    pub extra_config: Vec<String>,
    /// How long to wait for the port to accept connections (default 10 s).
    pub start_timeout: Duration,
}

impl Default for SshdOptions {
    fn default() -> Self {
        Self {
            log_level: "ERROR".into(),
            max_startups: 1000,
            compression: true,
            extra_config: Vec::new(),
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// A host key generated for an [`Sshd`].
#[derive(Clone, Debug)]
pub struct GeneratedHostKey {
    /// `ed25519`, `ecdsa256`, `ecdsa384`, `ecdsa521`, `rsa3072`, `dsa`.
    pub name: &'static str,
    /// The private key file.
    pub private_path: PathBuf,
    /// `type base64` of the public key.
    pub public: String,
    /// `type base64` of the host certificate.
    pub certificate: String,
}

/// `(name, ssh-keygen arguments)` of every host key an [`Sshd`] gets.
const HOST_KEYS: &[(&str, &[&str])] = &[
    ("ed25519", &["-t", "ed25519"]),
    ("ecdsa256", &["-t", "ecdsa", "-b", "256"]),
    ("ecdsa384", &["-t", "ecdsa", "-b", "384"]),
    ("ecdsa521", &["-t", "ecdsa", "-b", "521"]),
    ("rsa3072", &["-t", "rsa", "-b", "3072"]),
    ("dsa", &["-t", "dsa"]),
];

/// A running `sshd -D -e` on 127.0.0.1. Killed, and its directory removed, on drop.
pub struct Sshd {
    child: ChildGuard,
    dir: tempfile::TempDir,
    port: u16,
    algorithms: SshdAlgorithms,
    host_keys: Vec<GeneratedHostKey>,
    ca_public: String,
    log: PathBuf,
}

impl std::fmt::Debug for Sshd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sshd").field("port", &self.port).field("pid", &self.child.id()).finish()
    }
}

impl Sshd {
    /// Starts with [`SshdOptions::default`].
    pub fn start() -> Result<Self, String> {
        Self::start_with(SshdOptions::default())
    }

    /// Generates keys and a certificate per key, writes the config, and starts `sshd`; returns
    /// once the port answers with an SSH banner.
    pub fn start_with(options: SshdOptions) -> Result<Self, String> {
        let sshd = sshd_path().ok_or("sshd not found")?;
        fs::create_dir_all("/run/sshd").map_err(|e| format!("mkdir -p /run/sshd: {e}"))?;
        let dir = tempfile::Builder::new().prefix("interop-sshd-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let (host_keys, ca_public) = generate_keys(dir.path())?;
        let algorithms = enabled_algorithms(&sshd, dir.path(), &host_keys, &options)?;
        let log = dir.path().join("sshd.log");
        let mut last_error = String::new();
        for _attempt in 0..8 {
            let port = free_port()?;
            let config = dir.path().join("sshd_config");
            fs::write(&config, config_text(dir.path(), port, &host_keys, &algorithms, &options))
                .map_err(|e| format!("write sshd_config: {e}"))?;
            let log_file = File::create(&log).map_err(|e| format!("create log: {e}"))?;
            let child = Command::new(&sshd)
                .arg("-D")
                // No re-exec per connection: the forked child serves it (a matrix makes
                // thousands, and re-executing sshd was most of their cost).
                .arg("-r")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", sshd.display()))?;
            let mut child = ChildGuard::new(child, "sshd");
            match wait_ready(&mut child, port, options.start_timeout) {
                Ok(()) => {
                    return Ok(Self { child, dir, port, algorithms, host_keys, ca_public, log });
                }
                Err(e) => {
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{e}; sshd log: {}", tail(&text, 2000));
                    drop(child);
                    // A lost race for the port: try another one. Anything else is fatal.
                    if !(text.contains("Bind to port") || text.contains("Cannot bind") || text.contains("in use")) {
                        break;
                    }
                }
            }
        }
        Err(format!("sshd did not start: {last_error}"))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The algorithms enabled in its config.
    pub fn algorithms(&self) -> &SshdAlgorithms {
        &self.algorithms
    }

    /// Its host keys.
    pub fn host_keys(&self) -> &[GeneratedHostKey] {
        &self.host_keys
    }

    /// The host key called `name` (`ed25519`, `ecdsa384`, `rsa3072`, …).
    pub fn host_key(&self, name: &str) -> Option<&GeneratedHostKey> {
        self.host_keys.iter().find(|k| k.name == name)
    }

    /// The CA that signed the host certificates (`ssh-ed25519 base64`). sshd also trusts it
    /// for user certificates (`TrustedUserCAKeys`).
    pub fn ca_public_key(&self) -> &str {
        &self.ca_public
    }

    /// The CA's private key file (OpenSSH format, no passphrase).
    pub fn ca_private_path(&self) -> PathBuf {
        self.dir.path().join("ca_ed25519")
    }

    /// Adds a public key line (`type base64 [comment]`) to the authorized_keys file that
    /// sshd reads for every user; takes effect for the next connection.
    pub fn authorize_key(&self, line: &str) -> Result<(), String> {
        use std::io::Write;
        let p = self.dir.path().join("authorized_keys");
        let mut f =
            fs::OpenOptions::new().create(true).append(true).open(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        writeln!(f, "{}", line.trim()).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Its temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it logged so far (`-e`: its stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }

    /// Kills sshd as a crash would: the per-connection processes first (children of the
    /// listener, found through /proc), then the listener.
    pub fn kill_all(&mut self) {
        let parent = self.child.id().to_string();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
            // `pid (comm) state ppid …`: the comm may hold spaces, so split after the `)`.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(parent.as_str()) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        self.child.kill();
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Waits until `port` answers with an OpenSSH banner while `child` is alive.
fn wait_ready(child: &mut ChildGuard, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Some(status) = child.try_wait() {
            return Err(format!("sshd exited with {status}"));
        }
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            if line.starts_with("SSH-2.0-OpenSSH") {
                // Another process could own the port if sshd lost the race: make sure ours lives.
                thread::sleep(Duration::from_millis(20));
                return match child.try_wait() {
                    None => Ok(()),
                    Some(status) => Err(format!("sshd exited with {status}")),
                };
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("port {port} did not answer with an SSH banner within {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn generate_keys(dir: &Path) -> Result<(Vec<GeneratedHostKey>, String), String> {
    let ca = dir.join("ca_ed25519");
    // ssh-keygen for RSA 3072 and DSA takes a while: run them all at once.
    let mut jobs: Vec<(&str, PathBuf, &[&str])> =
        HOST_KEYS.iter().map(|(name, args)| (*name, dir.join(format!("host_{name}")), *args)).collect();
    jobs.push(("ca", ca.clone(), &["-t", "ed25519"]));
    let results: Vec<Result<(), String>> = thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, path, args)| {
                s.spawn(move || {
                    let out = run(
                        Command::new("ssh-keygen").args(*args).args(["-q", "-N", "", "-C", name, "-f"]).arg(path),
                        KEYGEN_TIMEOUT,
                    )?;
                    if out.status.success() { Ok(()) } else { Err(format!("ssh-keygen {name}: {}", out.stderr.trim())) }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("keygen thread panicked".into()))).collect()
    });
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    let mut keys = Vec::new();
    for (name, path, _) in jobs.iter().filter(|j| j.0 != "ca") {
        let pub_path = path.with_file_name(format!("host_{name}.pub"));
        let out = run(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(&ca)
                .args(["-I", &format!("interop-{name}"), "-h", "-n", "127.0.0.1,localhost", "-z", "1"])
                .arg(&pub_path),
            KEYGEN_TIMEOUT,
        )?;
        if !out.status.success() {
            return Err(format!("ssh-keygen -s (certify {name}): {}", out.stderr.trim()));
        }
        let cert_path = path.with_file_name(format!("host_{name}-cert.pub"));
        keys.push(GeneratedHostKey {
            name,
            private_path: path.clone(),
            public: read_key_line(&pub_path)?,
            certificate: read_key_line(&cert_path)?,
        });
    }
    Ok((keys, read_key_line(&ca.with_file_name("ca_ed25519.pub"))?))
}

fn read_key_line(p: &Path) -> Result<String, String> {
    let text = fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()))?;
    Ok(text.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
}

/// `ssh -Q` output per kind, in the order asked.
type QueryCache = Result<Vec<(String, Vec<String>)>, String>;

/// `ssh -Q <kind>`, once per process.
fn query(kind: &str) -> Result<Vec<String>, String> {
    static CACHE: OnceLock<QueryCache> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        ["kex", "cipher", "mac", "HostKeyAlgorithms"]
            .iter()
            .map(|k| {
                let out = run(Command::new("ssh").args(["-Q", k]), Duration::from_secs(30))?;
                if !out.status.success() {
                    return Err(format!("ssh -Q {k}: {}", out.stderr.trim()));
                }
                Ok((k.to_string(), out.stdout.split_whitespace().map(str::to_owned).collect()))
            })
            .collect()
    });
    let all = all.as_ref().map_err(Clone::clone)?;
    Ok(all.iter().find(|(k, _)| k == kind).map(|(_, v)| v.clone()).unwrap_or_default())
}

/// `ssh -Q` per kind, minus names `sshd -t` rejects.
fn enabled_algorithms(
    sshd: &Path,
    dir: &Path,
    keys: &[GeneratedHostKey],
    options: &SshdOptions,
) -> Result<SshdAlgorithms, String> {
    let mut algs = SshdAlgorithms {
        kex: query("kex")?,
        host_key: query("HostKeyAlgorithms")?,
        cipher: query("cipher")?,
        mac: query("mac")?,
        compression: if options.compression {
            vec!["zlib@openssh.com".into(), "none".into()]
        } else {
            vec!["none".into()]
        },
    };
    let config = dir.join("sshd_config.test");
    let check = |algs: &SshdAlgorithms, extra: &[String]| -> Result<Result<(), String>, String> {
        let mut text = config_text(dir, 22, keys, algs, options);
        // Options given first win in sshd_config.
        text = extra.iter().map(|l| format!("{l}\n")).collect::<String>() + &text;
        fs::write(&config, text).map_err(|e| format!("write {}: {e}", config.display()))?;
        let out = run(Command::new(sshd).arg("-t").arg("-f").arg(&config), Duration::from_secs(30))?;
        Ok(if out.status.success() { Ok(()) } else { Err(out.stderr) })
    };
    if check(&algs, &[])?.is_ok() {
        return Ok(algs);
    }
    // Something is rejected: test each name alone and keep those sshd takes.
    for (option, list) in [
        ("KexAlgorithms", &mut algs.kex),
        ("HostKeyAlgorithms", &mut algs.host_key),
        ("Ciphers", &mut algs.cipher),
        ("MACs", &mut algs.mac),
    ] {
        let names = std::mem::take(list);
        let mut kept = Vec::new();
        for n in names {
            if check(&SshdAlgorithms::default(), &[format!("{option} {n}")])?.is_ok() {
                kept.push(n);
            }
        }
        *list = kept;
    }
    match check(&algs, &[])? {
        Ok(()) => Ok(algs),
        Err(e) => Err(format!("sshd -t rejects the config even with filtered algorithms: {}", e.trim())),
    }
}

fn config_text(dir: &Path, port: u16, keys: &[GeneratedHostKey], algs: &SshdAlgorithms, o: &SshdOptions) -> String {
    let d = dir.display();
    let mut s = String::new();
    let _ = writeln!(s, "# written by test-support");
    let _ = writeln!(s, "Port {port}\nListenAddress 127.0.0.1\nAddressFamily inet");
    for k in keys {
        let _ = writeln!(s, "HostKey {}", k.private_path.display());
    }
    for k in keys {
        let _ = writeln!(s, "HostCertificate {}-cert.pub", k.private_path.display());
    }
    for (option, list) in [
        ("KexAlgorithms", &algs.kex),
        ("HostKeyAlgorithms", &algs.host_key),
        ("Ciphers", &algs.cipher),
        ("MACs", &algs.mac),
    ] {
        if !list.is_empty() {
            let _ = writeln!(s, "{option} {}", list.join(","));
        }
    }
    let _ = writeln!(s, "Compression {}", if o.compression { "yes" } else { "no" });
    let _ = writeln!(
        s,
        "StrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nLogLevel {}\nMaxStartups {}\nMaxSessions 100\n\
         LoginGraceTime 60\nUseDNS no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         AuthorizedKeysFile {d}/authorized_keys\nTrustedUserCAKeys {d}/ca_ed25519.pub\n\
         PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp",
        o.log_level, o.max_startups
    );
    for line in &o.extra_config {
        let _ = writeln!(s, "{line}");
    }
    s
}
