//! The async client against OpenSSH's sshd: host key check, authentication, exec with
//! stdout / stderr / exit status, stdin streamed from another task while output is read,
//! a pty, environment, forced rekeys during a checked 1 GiB transfer, many channels at once.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_tokio::ssh_proto::connection::ExitStatus;
use ssh_tokio::ssh_proto::{KeyPair, SeededRng, ServerHostKey, client};
use ssh_tokio::{AuthOutcome, Channel, Error, Session};
use test_support::process::run;
use test_support::{Peer, Sshd, SshdOptions, pattern, require_peers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

fn current_user() -> String {
    run(Command::new("id").arg("-un"), Duration::from_secs(10)).expect("id -un").stdout.trim().to_owned()
}

fn user_key(sshd: &Sshd) -> Arc<KeyPair> {
    let key = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(21)));
    sshd.authorize_key(&key.public_key().to_openssh().unwrap()).unwrap();
    key
}

async fn connect(sshd: &Sshd, config: client::Config) -> Session {
    let tcp = tokio::net::TcpStream::connect(sshd.addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let want: Vec<String> =
        sshd.host_keys().iter().map(|k| k.public.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    Session::handshake(tcp, config, move |key: &ServerHostKey| {
        let line = key.to_openssh();
        if want.contains(&line) { Ok(()) } else { Err(format!("unknown host key {line}")) }
    })
    .await
    .unwrap()
}

/// Sends `len` bytes of `pattern(len, seed)` through `cat` on a new channel, from another
/// task while this one reads them back; returns the channel, finished.
async fn through_cat(session: &Session, len: usize, seed: u64) -> Channel {
    let ch = session.open_session().await.unwrap();
    ch.exec("cat").await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(ch);
    let data = pattern(len, seed);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&sent).await.unwrap();
        wr.shutdown().await.unwrap();
        wr
    });
    let mut got = Vec::new();
    rd.read_to_end(&mut got).await.unwrap();
    let wr = writer.await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "cat (seed {seed}) returned different bytes");
    rd.unsplit(wr)
}

async fn login(sshd: &Sshd, config: client::Config) -> Session {
    let key = user_key(sshd);
    let session = connect(sshd, config).await;
    assert_eq!(session.auth_publickey(&current_user(), key).await.unwrap(), AuthOutcome::Success);
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_and_exit_status() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let key = user_key(&sshd);
    let session = connect(&sshd, client::Config::default()).await;
    let user = current_user();
    let none = session.auth_none(&user).await.unwrap();
    assert!(
        matches!(none, AuthOutcome::Failure { ref methods } if methods.contains(&"publickey".to_owned())),
        "{none:?}"
    );
    assert_eq!(session.auth_publickey(&user, key).await.unwrap(), AuthOutcome::Success);
    assert!(session.is_authenticated());

    timeout(LIMIT, async {
        let mut ch = session.open_session().await.unwrap();
        ch.exec("printf hello; printf oops >&2; exit 3").await.unwrap();
        let mut err = ch.stderr();
        let mut out = Vec::new();
        ch.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello");
        let mut e = Vec::new();
        err.read_to_end(&mut e).await.unwrap();
        assert_eq!(e, b"oops");
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(3)));

        // 8 MiB through cat, written by another task while this one reads.
        let ch = through_cat(&session, 8 << 20, 1).await;
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(0)));

        // A refused request is an error, not a hang.
        let ch = session.open_session().await.unwrap();
        assert!(matches!(ch.subsystem("no-such-subsystem").await, Err(Error::RequestRefused(_))));
    })
    .await
    .expect("within the time limit");
    session.close();
    timeout(LIMIT, async {
        while session.is_active() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection ends after close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_host_key_disconnects() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let tcp = tokio::net::TcpStream::connect(sshd.addr()).await.unwrap();
    let r = timeout(
        LIMIT,
        Session::handshake(tcp, client::Config::default(), |_: &ServerHostKey| Err("not known".to_owned())),
    )
    .await
    .unwrap();
    assert!(matches!(r, Err(Error::HostKeyRejected(why)) if why == "not known"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_env_and_rekey() {
    require_peers!(Peer::Sshd);
    let sshd =
        Sshd::start_with(SshdOptions { extra_config: vec!["AcceptEnv SSHRS_*".into()], ..Default::default() }).unwrap();
    let s = login(&sshd, client::Config::default()).await;
    timeout(LIMIT, async {
        let mut ch = s.open_session().await.unwrap();
        ch.request_pty("xterm", 80, 24).await.unwrap();
        ch.exec("stty size").await.unwrap();
        let mut out = String::new();
        ch.read_to_string(&mut out).await.unwrap();
        assert_eq!(out.trim_end(), "24 80");

        let mut ch = s.open_session().await.unwrap();
        ch.set_env("SSHRS_GREETING", "hello there").await.unwrap();
        ch.set_env("NOT_ACCEPTED", "x").await.unwrap();
        ch.exec("printf '%s|%s' \"$SSHRS_GREETING\" \"$NOT_ACCEPTED\"").await.unwrap();
        let mut out = Vec::new();
        ch.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello there|");

        let before = s.key_exchanges();
        s.send_ignore(b"padding").unwrap();
        s.rekey().unwrap();
        while s.key_exchanges() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut ch = s.open_session().await.unwrap();
        ch.exec("echo still here").await.unwrap();
        let mut out = Vec::new();
        ch.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"still here\n");
    })
    .await
    .expect("within the time limit");
}

/// sshd's RekeyLimit forces a key exchange every 48 MiB of a 1 GiB download whose every
/// byte is checked against its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_rekeys_during_a_gigabyte() {
    require_peers!(Peer::Sshd);
    let sshd =
        Sshd::start_with(SshdOptions { extra_config: vec!["RekeyLimit 48M".into()], ..Default::default() }).unwrap();
    let s = login(&sshd, client::Config::default()).await;
    const LEN: u64 = 1 << 30;
    const LINE: &[u8] = b"0123456789abcdef\n";
    timeout(Duration::from_secs(240), async {
        let mut ch = s.open_session().await.unwrap();
        ch.exec(&format!("yes 0123456789abcdef | head -c {LEN}")).await.unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let expect: Vec<u8> = LINE.iter().copied().cycle().take(buf.len() + LINE.len()).collect();
        let (mut total, mut bad) = (0u64, 0u64);
        loop {
            let n = ch.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            let at = (total % LINE.len() as u64) as usize;
            bad += u64::from(buf[..n] != expect[at..at + n]);
            total += n as u64;
        }
        assert_eq!((total, bad), (LEN, 0), "length, and reads that differed from the pattern");
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(0)));
        let rekeys = s.key_exchanges();
        assert!(rekeys >= 21, "only {rekeys} key exchanges (initial included) over 1 GiB with RekeyLimit 48M");
    })
    .await
    .expect("within the time limit");
}

/// 32 channels at once on one connection, each moving 4 MiB through cat from its own task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_at_once() {
    require_peers!(Peer::Sshd);
    let sshd =
        Sshd::start_with(SshdOptions { extra_config: vec!["MaxSessions 64".into()], ..Default::default() }).unwrap();
    let s = Arc::new(login(&sshd, client::Config::default()).await);
    timeout(Duration::from_secs(120), async {
        let mut tasks = Vec::new();
        for i in 0..32u64 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                through_cat(&s, 4 << 20, i).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await
    .expect("within the time limit");
}

/// Every kex, host key, cipher and MAC sshd and we share, one at a time on top of a base
/// set (and zlib), each carrying 1 MiB through cat.
#[test]
fn every_algorithm_through_the_driver() {
    use test_support::{default_workers, run_matrix};
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let key = user_key(&sshd);
    let cases = sshd.algorithms().one_at_a_time();
    let user = current_user();
    let report = run_matrix("ssh-tokio -> sshd, one algorithm at a time", &cases, default_workers(), |c| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        // The timer must be made inside the runtime.
        let within = async {
            timeout(LIMIT, async {
                let mut config = client::Config::default();
                config.transport.algorithms = c.algorithms();
                let tcp = tokio::net::TcpStream::connect(sshd.addr()).await.map_err(|e| e.to_string())?;
                let session =
                    Session::handshake(tcp, config, |_: &ServerHostKey| Ok(())).await.map_err(|e| e.to_string())?;
                c.check(&session.negotiated().ok_or("no algorithms")?)?;
                match session.auth_publickey(&user, Arc::clone(&key)).await.map_err(|e| e.to_string())? {
                    AuthOutcome::Success => {}
                    other => return Err(format!("auth: {other:?}")),
                }
                through_cat(&session, 1 << 20, 2).await;
                Ok(())
            })
            .await
        };
        rt.block_on(within).map_err(|_| "timed out".to_owned())?
    });
    eprintln!("{}", report.summary());
    report.assert_ok();
}

/// `-L` through sshd to a local echo server: four connections at once, 16 MiB each way,
/// every byte compared; the half-close passes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_forward_through_sshd() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let s = Arc::new(login(&sshd, client::Config::default()).await);
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    let echoing = tokio::spawn(async move {
        loop {
            let (mut tcp, _) = echo.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut rd, mut wr) = tcp.split();
                tokio::io::copy(&mut rd, &mut wr).await.unwrap();
                wr.shutdown().await.unwrap();
            });
        }
    });
    let forward =
        ssh_tokio::LocalForward::start(Arc::clone(&s), "127.0.0.1:0".parse().unwrap(), "127.0.0.1", echo_port)
            .await
            .unwrap();
    let addr = forward.local_addr();
    timeout(LIMIT, async {
        let mut conns = Vec::new();
        for seed in 0..4u64 {
            conns.push(tokio::spawn(async move {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (mut rd, mut wr) = tcp.into_split();
                let data = pattern(16 << 20, seed);
                let sent = data.clone();
                let writer = tokio::spawn(async move {
                    wr.write_all(&sent).await.unwrap();
                    wr.shutdown().await.unwrap();
                });
                let mut got = Vec::new();
                rd.read_to_end(&mut got).await.unwrap();
                writer.await.unwrap();
                assert_eq!(got.len(), data.len());
                assert!(got == data, "connection {seed} returned different bytes");
            }));
        }
        for c in conns {
            c.await.unwrap();
        }
    })
    .await
    .expect("within the time limit");
    drop(forward);
    echoing.abort();
}

/// `-R` through sshd: the server listens on a port it picks, a local client connects to it,
/// the connection arrives through `accept` and is echoed back, 8 MiB compared; after the
/// cancel the port refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_forward_through_sshd() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let s = Arc::new(login(&sshd, client::Config::default()).await);
    timeout(LIMIT, async {
        let port = s.request_port_forward_queued("127.0.0.1", 0).await.unwrap();
        assert_ne!(port, 0);
        let server = Arc::clone(&s);
        let echoing = tokio::spawn(async move {
            let (mut ch, from) = server.accept().await.unwrap();
            assert_eq!((from.address.as_str(), from.port), ("127.0.0.1", port));
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = ch.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                ch.write_all(&buf[..n]).await.unwrap();
            }
            ch.shutdown().await.unwrap();
            // Keep the channel until the client has everything.
            ch.exit_status().await.unwrap();
        });
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await.unwrap();
        let (mut rd, mut wr) = tcp.into_split();
        let data = pattern(8 << 20, 5);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            wr.write_all(&sent).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(
            got == data,
            "the forwarded connection returned {} of {} bytes, or changed them",
            got.len(),
            data.len()
        );
        echoing.await.unwrap();
        s.cancel_port_forward("127.0.0.1", port).await.unwrap();
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await.is_err());
    })
    .await
    .expect("within the time limit");
}
