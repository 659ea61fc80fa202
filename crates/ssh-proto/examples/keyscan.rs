//! `keyscan [-p PORT] [-o Option=Value]… HOST`: key exchange plus an `ssh-userauth` service
//! request against a server, then its host key as a known_hosts line and one line per
//! negotiated algorithm. The whole driver is this std::net loop around the sans-IO core.
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use std::{process::ExitCode, sync::Arc};

use ssh_proto::algorithm::Algorithm;
use ssh_proto::{Error, Event, client};

fn scan(host: &str, port: u16, cfg: client::Config, timeout: Duration) -> Result<(), String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or("no address")?;
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "timeout connecting".to_owned(),
        _ => format!("connect: {e}"),
    })?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let rng = Box::new(rand_core::UnwrapErr(getrandom::SysRng));
    let mut conn = client::Connection::new(Arc::new(cfg), Instant::now(), rng).map_err(|e| e.to_string())?;
    conn.request_service("ssh-userauth").map_err(|e| e.to_string())?;
    let (mut key, mut buf) = (None, vec![0u8; 64 * 1024]);
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::HostKey { token, key: k } => (key, _) = (Some(*k), conn.accept_host_key(token)),
                Event::ServiceAccepted { .. } => return report(host, port, key.as_ref(), &conn),
                Event::Disconnected { error: Some(e), .. } => return Err(describe(&e)),
                Event::Disconnected { reason, description, .. } => {
                    return Err(format!("disconnected ({reason}): {description}"));
                }
                _ => {}
            }
        }
        while let Some(out) = conn.poll_transmit() {
            sock.write_all(&out).map_err(|e| format!("write: {e}"))?;
        }
        let now = Instant::now();
        let wake = conn.poll_timeout().map_or(deadline, |t| t.min(deadline));
        if now >= deadline {
            return Err("timeout".into());
        }
        sock.set_read_timeout(Some(wake.saturating_duration_since(now).max(Duration::from_millis(1)))).ok();
        let r = match sock.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now())
            }
            Err(e) => return Err(format!("read: {e}")),
        };
        if let Err(e) = r {
            while let Some(out) = conn.poll_transmit() {
                let _ = sock.write_all(&out);
            }
            return Err(describe(&e));
        }
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Version(v) => format!("not SSH: {v}"),
        Error::NoCommonAlgorithm { kind, ours, theirs } => {
            format!("no common {kind} algorithm: ours [{}], theirs [{}]", ours.join(","), theirs.join(","))
        }
        other => other.to_string(),
    }
}

fn report(
    host: &str,
    port: u16,
    key: Option<&ssh_proto::ServerHostKey>,
    conn: &client::Connection,
) -> Result<(), String> {
    let (key, n) = (key.ok_or("no host key")?, conn.negotiated().ok_or("no key exchange")?);
    let name = if port == 22 { host.to_owned() } else { format!("[{host}]:{port}") };
    println!("{name} {}", key.to_openssh());
    println!("kex {}\nhostkey {}", n.kex.name(), n.host_key.name());
    let pair = |a: &str, b: &str| if a == b { a.to_owned() } else { format!("{a} {b}") };
    println!("cipher {}", pair(n.cipher_c2s.name(), n.cipher_s2c.name()));
    let mac = |m: Option<ssh_proto::algorithm::Mac>| m.map_or("<implicit>", |m| m.name());
    println!("mac {}", pair(mac(n.mac_c2s), mac(n.mac_s2c)));
    println!("compression {}", pair(n.compression_c2s.name(), n.compression_s2c.name()));
    Ok(())
}

fn main() -> ExitCode {
    let (mut port, mut host, mut cfg, mut timeout) = (22u16, None, client::Config::default(), Duration::from_secs(10));
    let mut args = std::env::args().skip(1);
    let usage = "usage: keyscan [-p PORT] [-o KexAlgorithms|HostKeyAlgorithms|Ciphers|MACs|Compression|ConnectTimeout=VALUE]... HOST";
    while let Some(a) = args.next() {
        let r = match a.as_str() {
            "-p" => args.next().and_then(|p| p.parse().ok()).map(|p| port = p).ok_or_else(|| usage.to_owned()),
            "-o" => args.next().ok_or_else(|| usage.to_owned()).and_then(|o| match o.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("ConnectTimeout") => {
                    v.parse().map(|s| timeout = Duration::from_secs(s)).map_err(|_| format!("bad ConnectTimeout {v:?}"))
                }
                Some((k, v)) => cfg.transport.algorithms.apply_openssh_option(k, v).map_err(|e| e.to_string()),
                None => Err(usage.to_owned()),
            }),
            h if !h.starts_with('-') && host.is_none() => {
                host = Some(h.to_owned());
                Ok(())
            }
            _ => Err(usage.to_owned()),
        };
        if let Err(e) = r {
            eprintln!("keyscan: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(host) = host else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    match scan(&host, port, cfg, timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyscan: {host}:{port}: {e}");
            ExitCode::FAILURE
        }
    }
}
