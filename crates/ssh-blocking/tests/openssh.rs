//! The blocking client against OpenSSH's sshd: handshake with a host key check, public key
//! authentication, exec with stdout / stderr / exit status, stdin streamed from another
//! thread while output is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_blocking::ssh_proto::connection::ExitStatus;
use ssh_blocking::ssh_proto::{KeyPair, SeededRng, client};
use ssh_blocking::{AuthOutcome, Error, Session, Timeouts};
use test_support::process::run;
use test_support::{Peer, Sshd, require_peers};

fn current_user() -> String {
    run(Command::new("id").arg("-un"), Duration::from_secs(10)).expect("id -un").stdout.trim().to_owned()
}

fn connect(sshd: &Sshd) -> Session {
    let tcp = TcpStream::connect(sshd.addr()).unwrap();
    let want = sshd.host_keys().iter().map(|k| k.public.clone()).collect::<Vec<_>>();
    Session::handshake(tcp.try_into().unwrap(), client::Config::default(), Timeouts::default(), move |key: &_| {
        let key: &ssh_blocking::ssh_proto::ServerHostKey = key;
        let line = key.to_openssh();
        if want.iter().any(|w| w.split(' ').take(2).collect::<Vec<_>>().join(" ") == line) {
            Ok(())
        } else {
            Err(format!("unknown host key {line}"))
        }
    })
    .unwrap()
}

fn user_key(sshd: &Sshd) -> Arc<KeyPair> {
    let key = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(11)));
    sshd.authorize_key(&key.public_key().to_openssh().unwrap()).unwrap();
    key
}

#[test]
fn exec_with_output_streams_and_exit_status() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let key = user_key(&sshd);
    let session = connect(&sshd);
    let user = current_user();
    assert!(
        matches!(session.auth_none(&user).unwrap(), AuthOutcome::Failure { methods } if methods.contains(&"publickey".to_owned()))
    );
    assert_eq!(session.auth_publickey(&user, key).unwrap(), AuthOutcome::Success);
    assert!(session.is_authenticated());

    let mut ch = session.open_session().unwrap();
    ch.exec("printf hello; printf oops >&2; exit 3").unwrap();
    let mut err = ch.stderr();
    assert_eq!(ch.read_all().unwrap(), b"hello");
    let mut e = Vec::new();
    err.read_to_end(&mut e).unwrap();
    assert_eq!(e, b"oops");
    assert_eq!(ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(3)));

    // A second channel on the same session, fed from another thread: 8 MiB through cat.
    let mut ch = session.open_session().unwrap();
    ch.exec("cat").unwrap();
    let mut stdin = ch.stdin();
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&sent).unwrap();
        stdin.send_eof().unwrap();
    });
    let got = ch.read_all().unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "cat returned different bytes");
    assert_eq!(ch.recv_exit_status(Some(Duration::from_secs(10))).unwrap(), Some(ExitStatus::Code(0)));

    // A refused request is an error, not a hang.
    let ch = session.open_session().unwrap();
    assert!(matches!(ch.subsystem("no-such-subsystem"), Err(Error::RequestRefused(_))));
    drop(ch);
    session.close();
    assert!(!session.is_active());
}

#[test]
fn a_rejected_host_key_disconnects() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let tcp = TcpStream::connect(sshd.addr()).unwrap();
    let r = Session::handshake(tcp.try_into().unwrap(), client::Config::default(), Timeouts::default(), |_: &_| {
        Err("not in known_hosts".to_owned())
    });
    assert!(matches!(r, Err(Error::HostKeyRejected(why)) if why == "not in known_hosts"));
}

#[test]
fn a_silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let timeouts = Timeouts { handshake: Some(Duration::from_millis(300)), ..Timeouts::default() };
    let start = std::time::Instant::now();
    let r = Session::handshake(tcp.try_into().unwrap(), client::Config::default(), timeouts, |_: &_| Ok(()));
    assert!(matches!(r, Err(Error::Timeout(_))), "{:?}", r.err());
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Paramiko's SSHClient flow: AutoAdd writes the key, Reject then accepts it; a changed key
/// is refused under every policy with both fingerprints, and the file stays as it was.
#[test]
fn client_known_hosts_policies() {
    use ssh_blocking::{Client, ConnectOptions, UnknownHostPolicy};
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let key = user_key(&sshd);
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let user = current_user();
    let mut o = ConnectOptions::new("127.0.0.1", sshd.port(), &user);
    o.keys = vec![key];
    o.known_hosts = Some(kh.clone());

    // Unknown host under Reject: refused, nothing written.
    let err = Client::connect(&o).err().unwrap();
    assert!(matches!(&err, Error::HostKeyRejected(why) if why.contains("not in known_hosts")), "{err}");
    assert!(!kh.exists());

    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect(&o).unwrap();
    let mut run = c.exec_command("echo hi").unwrap();
    assert_eq!(run.stdout.read_all().unwrap(), b"hi\n");
    c.close();
    let written = std::fs::read_to_string(&kh).unwrap();
    assert!(written.starts_with(&format!("[127.0.0.1]:{} ", sshd.port())), "{written}");

    o.policy = UnknownHostPolicy::Reject;
    Client::connect(&o).unwrap().close();

    // A different key for the same host: refused, both fingerprints named, file unchanged.
    let other = KeyPair::generate_ed25519(&mut SeededRng::new(5));
    let forged = format!("[127.0.0.1]:{} {}\n", sshd.port(), other.public_key().to_openssh().unwrap());
    std::fs::write(&kh, &forged).unwrap();
    for policy in [UnknownHostPolicy::Reject, UnknownHostPolicy::AutoAdd, UnknownHostPolicy::Warning] {
        o.policy = policy;
        let err = Client::connect(&o).err().unwrap();
        let why = err.to_string();
        assert!(why.contains("has changed"), "{why}");
        let theirs =
            ssh_blocking::ssh_proto::keys::fingerprint::fingerprint(other.public_key().key_data(), Default::default());
        assert!(why.contains(&theirs), "{why}");
        assert_eq!(std::fs::read_to_string(&kh).unwrap(), forged);
    }

    // Wrong credentials: the error lists what the server allows.
    std::fs::remove_file(&kh).unwrap();
    o.policy = UnknownHostPolicy::AutoAdd;
    o.keys = vec![Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(6)))];
    o.password = Some("wrong".into());
    match Client::connect(&o) {
        Err(Error::AuthFailed { allowed }) => assert!(allowed.contains(&"publickey".to_owned()), "{allowed:?}"),
        other => panic!("expected AuthFailed, got {:?}", other.err()),
    }
}

/// `-L` through OpenSSH's sshd to an echo server on loopback, checksummed.
#[test]
fn local_forward_through_sshd() {
    use ssh_blocking::{Client, ConnectOptions, LocalForward, UnknownHostPolicy};
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let key = user_key(&sshd);
    let echo = test_support::EchoServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", sshd.port(), &current_user());
    o.keys = vec![key];
    o.known_hosts = Some(dir.path().join("known_hosts"));
    o.policy = UnknownHostPolicy::AutoAdd;
    let c = Client::connect(&o).unwrap();
    let fwd =
        LocalForward::start(Arc::clone(c.session()), "127.0.0.1:0".parse().unwrap(), "127.0.0.1", echo.addr().port())
            .unwrap();
    let data: Vec<u8> = (0..(4u32 << 20)).map(|i| (i.wrapping_mul(7919) >> 8) as u8).collect();
    let mut s = TcpStream::connect(fwd.local_addr()).unwrap();
    let mut r = s.try_clone().unwrap();
    let sent = data.clone();
    let w = std::thread::spawn(move || {
        s.write_all(&sent).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    w.join().unwrap();
    assert!(got == data, "{} of {} bytes came back", got.len(), data.len());
}
