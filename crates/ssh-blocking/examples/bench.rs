//! End-to-end benchmark on loopback, in one run: our blocking and async (tokio) clients,
//! OpenSSH's `ssh` and Paramiko against OpenSSH's sshd, and OpenSSH's `ssh` against our
//! `sshd` (blocking) and `sshd-tokio` examples.
//!
//! ```text
//! cargo build --release -p ssh-blocking -p ssh-tokio --examples
//! target/release/examples/bench [--size MiB] [--paramiko-size MiB] [--rounds N] [--connects N]
//! ```
//!
//! Each row is the best of `--rounds` runs (default 3, taken in turn across the row's columns so
//! the machine's slow spells hit them alike) of a channel download (`head -c N
//! /dev/zero` on the server) and upload (`cat > /dev/null`), for aes128-gcm and
//! chacha20-poly1305, and connect + authenticate + `exec true` round trips per second.
//! Throughput is the bulk phase alone: each client's time for the same transfer of 0 bytes
//! (connection, authentication, channel, exit) is measured the same way and subtracted.
//! Ratios compare each row with OpenSSH's client against OpenSSH's sshd, measured in the
//! same run. Needs OpenSSH (`ssh`, `sshd`, `ssh-keygen`) and, for its rows, Paramiko.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_blocking::ssh_proto::algorithm::{AlgorithmList, Cipher};
use ssh_blocking::ssh_proto::keys::file::{PrivateKeyFormat, encode_private_key};
use ssh_blocking::ssh_proto::{KeyPair, client};
use ssh_blocking::{AuthOutcome, Session, Timeouts};
use test_support::process::ChildGuard;
use test_support::{Sshd, SshdOptions};

const MIB: u64 = 1 << 20;

struct Options {
    size: u64,
    paramiko_size: u64,
    rounds: u32,
    connects: u32,
}

fn parse() -> Result<Options, String> {
    let mut o = Options { size: 1024 * MIB, paramiko_size: 256 * MIB, rounds: 3, connects: 20 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<u64>().ok()).ok_or(format!("{a} needs a number"));
        match a.as_str() {
            "--size" => o.size = value()? * MIB,
            "--paramiko-size" => o.paramiko_size = value()? * MIB,
            "--rounds" => o.rounds = value()? as u32,
            "--connects" => o.connects = value()? as u32,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// Who talks to whom.
struct Setup {
    user: String,
    key: Arc<KeyPair>,
    key_path: PathBuf,
    known_hosts: PathBuf,
    openssh: Sshd,
    ours: ChildGuard,
    ours_port: u16,
    /// The `sshd-tokio` example.
    tokio_server: ChildGuard,
    tokio_port: u16,
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// The best (shortest) of `rounds` timings.
fn best(rounds: u32, mut f: impl FnMut() -> Result<Duration, String>) -> Result<Duration, String> {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        best = best.min(f()?);
    }
    Ok(best)
}

/// One column's transfer: the time to move `n` bytes.
type Transfer<'a> = Box<dyn FnMut(u64) -> Result<Duration, String> + 'a>;

/// MB/s of the bulk phase for each column: the best transfer of `size` bytes less the best
/// of 0 bytes. Rounds go over all columns in turn, so a slow spell of the machine hits every
/// column of the row alike instead of one column's rounds.
fn rates(size: u64, rounds: u32, columns: &mut [Transfer<'_>]) -> Result<Vec<f64>, String> {
    let mut empty = vec![Duration::MAX; columns.len()];
    let mut full = vec![Duration::MAX; columns.len()];
    for _ in 0..rounds {
        for (i, transfer) in columns.iter_mut().enumerate() {
            empty[i] = empty[i].min(transfer(0)?);
            full[i] = full[i].min(transfer(size)?);
        }
    }
    Ok(full.iter().zip(&empty).map(|(f, e)| mbps(size, f.saturating_sub(*e).max(Duration::from_micros(1)))).collect())
}

fn ssh_args(s: &Setup, port: u16, cipher: &str) -> Vec<String> {
    [
        "-F",
        "none",
        "-p",
        &port.to_string(),
        "-i",
        s.key_path.to_str().unwrap_or_default(),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        &format!("UserKnownHostsFile={}", s.known_hosts.display()),
        "-o",
        "LogLevel=ERROR",
        "-c",
        cipher,
        "-l",
        &s.user,
        "127.0.0.1",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// OpenSSH's client: download discards stdout, upload feeds stdin from a pipe.
fn openssh_transfer(s: &Setup, port: u16, cipher: &str, size: u64, upload: bool) -> Result<Duration, String> {
    let mut cmd = Command::new("ssh");
    cmd.args(ssh_args(s, port, cipher)).stderr(Stdio::inherit());
    let start = Instant::now();
    let status = if upload {
        cmd.arg("cat > /dev/null").stdin(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let chunk = vec![0u8; 256 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            stdin.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        drop(stdin);
        child.wait().map_err(|e| e.to_string())?
    } else {
        cmd.arg(format!("head -c {size} /dev/zero")).stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let mut out = child.stdout.take().ok_or("no stdout")?;
        let got = std::io::copy(&mut out, &mut std::io::sink()).map_err(|e| e.to_string())?;
        if got != size {
            return Err(format!("ssh delivered {got} of {size} bytes"));
        }
        child.wait().map_err(|e| e.to_string())?
    };
    if !status.success() {
        return Err(format!("ssh exited with {status}"));
    }
    Ok(start.elapsed())
}

fn our_session(s: &Setup, port: u16, cipher: Option<Cipher>) -> Result<Session, String> {
    let mut config = client::Config::default();
    if let Some(c) = cipher {
        config.transport.algorithms.cipher = AlgorithmList::new([c]);
    }
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let stream = tcp.try_into().map_err(|e: std::io::Error| e.to_string())?;
    let session = Session::handshake(stream, config, Timeouts::default(), |_: &_| Ok(())).map_err(|e| e.to_string())?;
    match session.auth_publickey(&s.user, Arc::clone(&s.key)).map_err(|e| e.to_string())? {
        AuthOutcome::Success => Ok(session),
        other => Err(format!("auth: {other:?}")),
    }
}

/// Our client, in this process: the channel read/written through the blocking API.
fn our_transfer(s: &Setup, port: u16, cipher: Cipher, size: u64, upload: bool) -> Result<Duration, String> {
    let start = Instant::now();
    let session = our_session(s, port, Some(cipher))?;
    let mut ch = session.open_session().map_err(|e| e.to_string())?;
    if upload {
        ch.exec("cat > /dev/null").map_err(|e| e.to_string())?;
        let chunk = vec![0u8; 256 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            ch.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        ch.send_eof().map_err(|e| e.to_string())?;
        let _ = ch.read_all();
    } else {
        ch.exec(&format!("head -c {size} /dev/zero")).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0u64;
        loop {
            let n = ch.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        if got != size {
            return Err(format!("we received {got} of {size} bytes"));
        }
    }
    let status = ch.recv_exit_status(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    if status != Some(ssh_blocking::ssh_proto::connection::ExitStatus::Code(0)) {
        return Err(format!("exit {status:?}"));
    }
    session.close();
    Ok(start.elapsed())
}

/// The async client (ssh-tokio), in this process, on a two-worker runtime: the same
/// transfer through `AsyncRead`/`AsyncWrite`.
fn tokio_transfer(
    rt: &tokio::runtime::Runtime,
    s: &Setup,
    port: u16,
    cipher: Cipher,
    size: u64,
    upload: bool,
) -> Result<Duration, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt.block_on(async {
        let start = Instant::now();
        let session = tokio_session(s, port, cipher).await?;
        let mut ch = session.open_session().await.map_err(|e| e.to_string())?;
        if upload {
            ch.exec("cat > /dev/null").await.map_err(|e| e.to_string())?;
            let chunk = vec![0u8; 256 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                ch.write_all(&chunk[..n]).await.map_err(|e| e.to_string())?;
                left -= n as u64;
            }
            ch.shutdown().await.map_err(|e| e.to_string())?;
        } else {
            ch.exec(&format!("head -c {size} /dev/zero")).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            loop {
                let n = ch.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            if got != size {
                return Err(format!("we received {got} of {size} bytes"));
            }
        }
        let status = ch.exit_status().await.map_err(|e| e.to_string())?;
        if status != Some(ssh_blocking::ssh_proto::connection::ExitStatus::Code(0)) {
            return Err(format!("exit {status:?}"));
        }
        session.close();
        Ok(start.elapsed())
    })
}

async fn tokio_session(s: &Setup, port: u16, cipher: Cipher) -> Result<ssh_tokio::Session, String> {
    let mut config = client::Config::default();
    config.transport.algorithms.cipher = AlgorithmList::new([cipher]);
    let trust = |_: &ssh_blocking::ssh_proto::ServerHostKey| Ok(());
    let session = ssh_tokio::Session::connect(("127.0.0.1", port), config, trust).await.map_err(|e| e.to_string())?;
    match session.auth_publickey(&s.user, Arc::clone(&s.key)).await.map_err(|e| e.to_string())? {
        AuthOutcome::Success => Ok(session),
        other => Err(format!("auth: {other:?}")),
    }
}

fn connects_tokio(rt: &tokio::runtime::Runtime, s: &Setup, port: u16, n: u32) -> Result<Duration, String> {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let session = tokio_session(s, port, Cipher::Aes128Gcm).await?;
            let ch = session.open_session().await.map_err(|e| e.to_string())?;
            ch.exec("true").await.map_err(|e| e.to_string())?;
            ch.exit_status().await.map_err(|e| e.to_string())?;
            session.close();
        }
        Ok(start.elapsed())
    })
}

const PARAMIKO: &str = r#"
import sys, time, paramiko
port, user, key, cipher, size, mode, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
others = [c for c in paramiko.Transport._preferred_ciphers if c != cipher]
def connect():
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port=int(port), username=user, key_filename=key, allow_agent=False,
              look_for_keys=False, disabled_algorithms={"ciphers": others})
    return c
start = time.monotonic()
if mode == "connect":
    for _ in range(count):
        c = connect()
        _, out, _ = c.exec_command("true")
        out.channel.recv_exit_status()
        c.close()
elif mode == "download":
    c = connect()
    _, out, _ = c.exec_command("head -c %d /dev/zero" % size)
    got = 0
    while True:
        b = out.channel.recv(262144)
        if not b:
            break
        got += len(b)
    assert got == size, got
    out.channel.recv_exit_status()
    c.close()
else:
    c = connect()
    stdin, out, _ = c.exec_command("cat > /dev/null")
    chunk = b"\0" * 262144
    left = size
    while left > 0:
        n = min(left, len(chunk))
        stdin.channel.sendall(chunk[:n])
        left -= n
    stdin.channel.shutdown_write()
    out.channel.recv_exit_status()
    c.close()
print(time.monotonic() - start)
"#;

fn paramiko(s: &Setup, port: u16, cipher: &str, size: u64, mode: &str, count: u32) -> Result<Duration, String> {
    let out = Command::new(test_support::python())
        .args(["-c", PARAMIKO, &port.to_string(), &s.user])
        .arg(&s.key_path)
        .args([cipher, &size.to_string(), mode, &count.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("paramiko: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default()));
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("paramiko said: {e}"))?;
    Ok(Duration::from_secs_f64(secs))
}

fn connects_openssh(s: &Setup, port: u16, n: u32) -> Result<Duration, String> {
    let start = Instant::now();
    for _ in 0..n {
        let status = Command::new("ssh")
            .args(ssh_args(s, port, "aes128-gcm@openssh.com"))
            .arg("true")
            .stdin(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("ssh exited with {status}"));
        }
    }
    Ok(start.elapsed())
}

fn connects_ours(s: &Setup, port: u16, n: u32) -> Result<Duration, String> {
    let start = Instant::now();
    for _ in 0..n {
        let session = our_session(s, port, Some(Cipher::Aes128Gcm))?;
        let ch = session.open_session().map_err(|e| e.to_string())?;
        ch.exec("true").map_err(|e| e.to_string())?;
        ch.recv_exit_status(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        session.close();
    }
    Ok(start.elapsed())
}

/// Starts our server example `name` (`sshd` or `sshd-tokio`, beside this one).
fn start_ours(dir: &Path, authorized: &Path, name: &str) -> Result<(ChildGuard, u16), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let sshd = exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !sshd.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p ssh-blocking -p ssh-tokio --examples",
            sshd.display()
        ));
    }
    let host = dir.join(format!("host_ed25519_{name}"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&host)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("ssh-keygen failed".into());
    }
    let mut child = Command::new(&sshd)
        .args(["-p", "0", "-h"])
        .arg(&host)
        .arg("-a")
        .arg(authorized)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let guard = ChildGuard::new(child, name);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).map_err(|e| e.to_string())? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let port =
        line.rsplit(':').next().and_then(|p| p.trim().parse().ok()).ok_or(format!("our sshd printed {line:?}"))?;
    Ok((guard, port))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let o = parse()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key = Arc::new(KeyPair::generate_ed25519(&mut rng));
    let key_path = dir.path().join("id_bench");
    let text =
        encode_private_key(key.private_key(), PrivateKeyFormat::OpenSsh, None, &mut rng).map_err(|e| e.to_string())?;
    std::fs::write(&key_path, text.as_bytes()).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    let line = key.public_key().to_openssh().map_err(|e| e.to_string())?;
    let authorized = dir.path().join("authorized_keys");
    std::fs::write(&authorized, format!("{line}\n")).map_err(|e| e.to_string())?;
    let openssh = Sshd::start_with(SshdOptions { compression: false, ..Default::default() })?;
    openssh.authorize_key(&line)?;
    let (ours, ours_port) = start_ours(dir.path(), &authorized, "sshd")?;
    let (tokio_server, tokio_port) = start_ours(dir.path(), &authorized, "sshd-tokio")?;
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().map_err(|e| e.to_string())?.stdout)
        .trim()
        .to_owned();
    let known_hosts = dir.path().join("known_hosts");
    let s = Setup { user, key, key_path, known_hosts, openssh, ours, ours_port, tokio_server, tokio_port };
    let have_paramiko =
        Command::new(test_support::python()).args(["-c", "import paramiko"]).status().is_ok_and(|st| st.success());
    let (size, psize, rounds) = (o.size, o.paramiko_size, o.rounds);
    let sshd_port = s.openssh.port();

    println!(
        "# loopback benchmark: best of {rounds}; {} MiB per transfer ({} MiB for Paramiko)",
        size / MIB,
        psize / MIB
    );
    println!();
    println!(
        "| workload | cipher | OpenSSH ssh → OpenSSH sshd | ours → OpenSSH sshd | ours (tokio) → OpenSSH sshd | OpenSSH ssh → our sshd | OpenSSH ssh → our sshd-tokio | Paramiko → OpenSSH sshd |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    for (cipher, name) in
        [(Cipher::Aes128Gcm, "aes128-gcm@openssh.com"), (Cipher::ChaCha20Poly1305, "chacha20-poly1305@openssh.com")]
    {
        for upload in [false, true] {
            let mut columns: Vec<Transfer<'_>> = vec![
                Box::new(|n| openssh_transfer(&s, sshd_port, name, n, upload)),
                Box::new(|n| our_transfer(&s, sshd_port, cipher, n, upload)),
                Box::new(|n| tokio_transfer(&rt, &s, sshd_port, cipher, n, upload)),
                Box::new(|n| openssh_transfer(&s, s.ours_port, name, n, upload)),
                Box::new(|n| openssh_transfer(&s, s.tokio_port, name, n, upload)),
            ];
            let [base, us, tk, our_server, tokio_server] = rates(size, rounds, &mut columns)?[..] else {
                return Err("one rate per column".into());
            };
            drop(columns);
            let pm = match (have_paramiko, cipher) {
                (true, Cipher::Aes128Gcm) => {
                    let mode = if upload { "upload" } else { "download" };
                    let mut column: [Transfer<'_>; 1] = [Box::new(|n| paramiko(&s, sshd_port, name, n, mode, 0))];
                    let v = rates(psize, 1, &mut column)?[0];
                    format!("{v:.0} MB/s ({:.2}×)", v / base)
                }
                (true, _) => "(no chacha20 in Paramiko)".to_owned(),
                (false, _) => "(Paramiko not installed)".to_owned(),
            };
            println!(
                "| {} | {} | {base:.0} MB/s (1.00×) | {us:.0} MB/s ({:.2}×) | {tk:.0} MB/s ({:.2}×) | {our_server:.0} MB/s ({:.2}×) | {tokio_server:.0} MB/s ({:.2}×) | {pm} |",
                if upload { "upload" } else { "download" },
                name.split('@').next().unwrap_or(name),
                us / base,
                tk / base,
                our_server / base,
                tokio_server / base,
            );
        }
    }
    let n = o.connects;
    let rate = |d: Duration| f64::from(n) / d.as_secs_f64();
    let base = rate(best(rounds, || connects_openssh(&s, sshd_port, n))?);
    let us = rate(best(rounds, || connects_ours(&s, sshd_port, n))?);
    let tk = rate(best(rounds, || connects_tokio(&rt, &s, sshd_port, n))?);
    let our_server = rate(best(rounds, || connects_openssh(&s, s.ours_port, n))?);
    let tokio_server = rate(best(rounds, || connects_openssh(&s, s.tokio_port, n))?);
    let pm = if have_paramiko {
        let v = rate(best(1, || paramiko(&s, sshd_port, "aes128-gcm@openssh.com", 0, "connect", n))?);
        format!("{v:.1}/s ({:.2}×)", v / base)
    } else {
        "(Paramiko not installed)".to_owned()
    };
    println!(
        "| connect + auth + exec | aes128-gcm | {base:.1}/s (1.00×) | {us:.1}/s ({:.2}×) | {tk:.1}/s ({:.2}×) | {our_server:.1}/s ({:.2}×) | {tokio_server:.1}/s ({:.2}×) | {pm} |",
        us / base,
        tk / base,
        our_server / base,
        tokio_server / base
    );
    drop((s.ours, s.tokio_server));
    Ok(())
}
