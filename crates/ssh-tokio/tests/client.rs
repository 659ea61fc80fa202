//! The async `Client` against OpenSSH's sshd with the same `ConnectOptions` as the blocking
//! one: known_hosts policies, key files, a real ssh-agent (its keys, and forwarding),
//! ProxyCommand and ProxyJump, ssh_config, remote forwarding to a local port, timeouts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ssh_tokio::ssh_proto::connection::ExitStatus;
use ssh_tokio::ssh_proto::keys::file::{PrivateKeyFormat, encode_private_key};
use ssh_tokio::ssh_proto::ssh_config::{JumpHost, Proxy, Query, Sources, resolve};
use ssh_tokio::ssh_proto::{KeyPair, SeededRng};
use ssh_tokio::{Client, ConnectOptions, Error, RemoteForward, SystemEnvironment, UnknownHostPolicy, local_user};
use test_support::process::run;
use test_support::{Peer, Sshd, SshdOptions, require_peers};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

fn current_user() -> String {
    run(Command::new("id").arg("-un"), Duration::from_secs(10)).expect("id -un").stdout.trim().to_owned()
}

fn user_key(sshd: &Sshd, seed: u64) -> Arc<KeyPair> {
    let key = Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(seed)));
    sshd.authorize_key(&key.public_key().to_openssh().unwrap()).unwrap();
    key
}

fn key_file(dir: &Path, name: &str, key: &KeyPair) -> PathBuf {
    let path = dir.join(name);
    let text = encode_private_key(key.private_key(), PrivateKeyFormat::OpenSsh, None, &mut SeededRng::new(3)).unwrap();
    std::fs::write(&path, text.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

/// Options for sshd with nothing but what the test gives (no agent, no `~/.ssh` keys).
fn options(sshd: &Sshd, dir: &Path) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", sshd.port(), &current_user());
    o.allow_agent = false;
    o.look_for_keys = false;
    o.known_hosts = Some(dir.join("known_hosts"));
    o
}

/// Standard output of `command`, and its exit status.
async fn output(c: &Client, command: &str) -> (Vec<u8>, Option<ExitStatus>) {
    let mut exec = c.exec_command(command).await.unwrap();
    let mut out = Vec::new();
    exec.stdout.read_to_end(&mut out).await.unwrap();
    (out, exec.stdout.exit_status().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_hosts_policies_and_auth_failure() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let mut o = options(&sshd, dir.path());
    o.keys = vec![user_key(&sshd, 11)];
    timeout(LIMIT, async {
        // Unknown host under Reject: refused, nothing written.
        let err = Client::connect(&o).await.err().unwrap();
        assert!(matches!(&err, Error::HostKeyRejected(why) if why.contains("not in known_hosts")), "{err}");
        assert!(!kh.exists());

        o.policy = UnknownHostPolicy::AcceptNew;
        let c = Client::connect(&o).await.unwrap();
        assert_eq!(output(&c, "echo hi; exit 3").await, (b"hi\n".to_vec(), Some(ExitStatus::Code(3))));
        c.close();
        let written = std::fs::read_to_string(&kh).unwrap();
        assert!(written.starts_with(&format!("[127.0.0.1]:{} ", sshd.port())), "{written}");
        o.policy = UnknownHostPolicy::Reject;
        Client::connect(&o).await.unwrap().close();

        // A different key for the same host: refused under every policy, file unchanged.
        let other = KeyPair::generate_ed25519(&mut SeededRng::new(5));
        let forged = format!("[127.0.0.1]:{} {}\n", sshd.port(), other.public_key().to_openssh().unwrap());
        std::fs::write(&kh, &forged).unwrap();
        for policy in [UnknownHostPolicy::Reject, UnknownHostPolicy::AutoAdd, UnknownHostPolicy::AcceptNew] {
            o.policy = policy;
            let why = Client::connect(&o).await.err().unwrap().to_string();
            assert!(why.contains("has changed"), "{why}");
            assert_eq!(std::fs::read_to_string(&kh).unwrap(), forged);
        }

        // Wrong credentials: the error lists what the server allows.
        std::fs::remove_file(&kh).unwrap();
        o.policy = UnknownHostPolicy::AutoAdd;
        o.keys = vec![Arc::new(KeyPair::generate_ed25519(&mut SeededRng::new(6)))];
        o.password = Some("wrong".into());
        match Client::connect(&o).await {
            Err(Error::AuthFailed { allowed }) => assert!(allowed.contains(&"publickey".to_owned()), "{allowed:?}"),
            other => panic!("expected AuthFailed, got {:?}", other.err()),
        }
        // A key file that cannot be read is an error naming it, as in Paramiko.
        o.key_files = vec![dir.path().join("missing")];
        let why = Client::connect(&o).await.err().unwrap().to_string();
        assert!(why.contains("missing"), "{why}");
    })
    .await
    .unwrap();
}

/// With seven agent keys and sshd's MaxAuthTries 3, the key file asked for goes first and
/// logs in; the agent's own key, added last, logs in through the agent's signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_keys_and_the_key_asked_for_first() {
    require_peers!(Peer::Sshd, Peer::SshAgent, Peer::SshAdd);
    let sshd =
        Sshd::start_with(SshdOptions { extra_config: vec!["MaxAuthTries 3".into()], ..Default::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agent = test_support::SshAgent::start(dir.path()).unwrap();
    let mut rng = SeededRng::new(99);
    for i in 0..7 {
        let k = KeyPair::generate_ed25519(&mut rng);
        agent.add(&key_file(dir.path(), &format!("noise{i}"), &k)).unwrap();
    }
    let wanted = KeyPair::generate_ed25519(&mut rng);
    sshd.authorize_key(&wanted.public_key().to_openssh().unwrap()).unwrap();
    let mut o = options(&sshd, dir.path());
    o.policy = UnknownHostPolicy::AutoAdd;
    o.allow_agent = true;
    o.agent_socket = Some(agent.socket().to_owned());
    o.key_files = vec![key_file(dir.path(), "wanted", &wanted)];
    timeout(LIMIT, async {
        Client::connect(&o).await.unwrap().close();
        o.key_files.clear();
        assert!(Client::connect(&o).await.is_err(), "no agent key is authorized yet");
        agent.add(&dir.path().join("wanted")).unwrap();
        let sshd2 =
            Sshd::start_with(SshdOptions { extra_config: vec!["MaxAuthTries 20".into()], ..Default::default() })
                .unwrap();
        sshd2.authorize_key(&wanted.public_key().to_openssh().unwrap()).unwrap();
        o.port = sshd2.port();
        let c = Client::connect(&o).await.unwrap();
        assert_eq!(output(&c, "echo agent").await.0, b"agent\n");
    })
    .await
    .unwrap();
}

/// `-A`: `ssh-add -l` on the server lists the key of the ssh-agent here, only on a session
/// that asked for forwarding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_forwarding_through_sshd() {
    require_peers!(Peer::Sshd, Peer::SshAgent, Peer::SshAdd);
    let sshd = Sshd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agent = test_support::SshAgent::start(dir.path()).unwrap();
    let key = KeyPair::generate_ed25519(&mut SeededRng::new(8));
    agent.add(&key_file(dir.path(), "id_agent", &key)).unwrap();
    let fp = ssh_tokio::ssh_proto::keys::fingerprint::fingerprint(key.public_key().key_data(), Default::default());
    let mut o = options(&sshd, dir.path());
    o.keys = vec![user_key(&sshd, 12)];
    o.policy = UnknownHostPolicy::AutoAdd;
    timeout(LIMIT, async {
        let c = Client::connect(&o).await.unwrap();
        c.session().forward_agent(agent.socket());
        assert_eq!(output(&c, "ssh-add -l").await.1, Some(ExitStatus::Code(2)), "no agent without the request");
        let mut ch = c.session().open_session().await.unwrap();
        ch.request_agent_forwarding().await.unwrap();
        ch.exec("ssh-add -l").await.unwrap();
        let mut listed = String::new();
        ch.read_to_string(&mut listed).await.unwrap();
        assert!(listed.contains(&fp), "ssh-add -l: {listed}");
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(0)));
    })
    .await
    .unwrap();
}

/// ProxyCommand (`ssh -W` through the same sshd) and ProxyJump (two hops through it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_command_and_proxy_jump_through_sshd() {
    require_peers!(Peer::Sshd, Peer::Ssh);
    let sshd = Sshd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = user_key(&sshd, 13);
    let path = key_file(dir.path(), "id", &key);
    let user = current_user();
    let mut o = options(&sshd, dir.path());
    o.keys = vec![key];
    o.policy = UnknownHostPolicy::AutoAdd;
    timeout(LIMIT, async {
        o.proxy = Proxy::Command(format!(
            "exec ssh -F /dev/null -i {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o LogLevel=ERROR -p {port} -W 127.0.0.1:{port} {user}@127.0.0.1",
            path.display(),
            port = sshd.port()
        ));
        let c = Client::connect(&o).await.unwrap();
        assert_eq!(output(&c, "echo via proxycommand").await.0, b"via proxycommand\n");
        c.close();

        let hop = JumpHost { user: Some(user.clone()), host: "127.0.0.1".into(), port: Some(sshd.port()) };
        o.proxy = Proxy::Jump(vec![hop.clone(), hop]);
        let c = Client::connect(&o).await.unwrap();
        assert_eq!(output(&c, "echo via two jumps").await.0, b"via two jumps\n");
        let conn = String::from_utf8(output(&c, "echo $SSH_CONNECTION").await.0).unwrap();
        assert!(conn.starts_with("127.0.0.1 "), "{conn}");
        drop(c);

        // A command that is not an SSH server: a typed error within the handshake timeout.
        o.proxy = Proxy::Command("echo not ssh; sleep 30".into());
        o.timeouts.handshake = Some(Duration::from_secs(2));
        assert!(Client::connect(&o).await.is_err());
    })
    .await
    .unwrap();
}

/// ssh_config drives the connection: HostName, Port, User, IdentityFile, IdentitiesOnly,
/// UserKnownHostsFile with a token, accept-new and Ciphers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_options_from_ssh_config() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = key_file(dir.path(), "id_cfg", &user_key(&sshd, 14));
    let cfg = dir.path().join("config");
    let kh = dir.path().join("kh_%h");
    std::fs::write(
        &cfg,
        format!(
            "Host target\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  StrictHostKeyChecking accept-new\n  Ciphers aes256-ctr\n",
            sshd.port(),
            current_user(),
            path.display(),
            kh.display()
        ),
    )
    .unwrap();
    let mut env = SystemEnvironment;
    let resolved =
        resolve(&Query::new("target"), &Sources::File(cfg.to_string_lossy().into()), &local_user(), &mut env).unwrap();
    let o = ConnectOptions::from_config(&resolved, &env).unwrap();
    timeout(LIMIT, async {
        let c = Client::connect(&o).await.unwrap();
        use ssh_tokio::ssh_proto::algorithm::Algorithm;
        assert_eq!(c.session().negotiated().unwrap().cipher_c2s.name(), "aes256-ctr");
        assert_eq!(output(&c, "echo configured").await.0, b"configured\n");
        drop(c);
        let written = std::fs::read_to_string(dir.path().join("kh_127.0.0.1")).unwrap();
        assert!(written.starts_with(&format!("[127.0.0.1]:{} ", sshd.port())), "{written}");
        Client::connect(&o).await.unwrap().close();
    })
    .await
    .unwrap();
}

/// `-R` with a handler: sshd's port carries 4 MiB, three times, to a local echo server;
/// dropping the forward closes sshd's listener; a port sshd cannot bind is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_forward_to_a_local_port() {
    require_peers!(Peer::Sshd);
    let sshd = Sshd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(&sshd, dir.path());
    o.keys = vec![user_key(&sshd, 15)];
    o.policy = UnknownHostPolicy::AutoAdd;
    let echo = test_support::EchoServer::start().unwrap();
    let c = timeout(LIMIT, Client::connect(&o)).await.unwrap().unwrap();
    let fwd =
        timeout(LIMIT, RemoteForward::start(Arc::clone(c.session()), "127.0.0.1", 0, "127.0.0.1", echo.addr().port()))
            .await
            .unwrap()
            .unwrap();
    let port = u16::try_from(fwd.remote_port()).unwrap();
    let data: Vec<u8> = (0..(4u32 << 20)).map(|i| (i.wrapping_mul(40503) >> 7) as u8).collect();
    let got = tokio::task::spawn_blocking(move || {
        (0..3).all(|_| test_support::round_trip(([127, 0, 0, 1], port).into(), &data).unwrap() == data)
    })
    .await
    .unwrap();
    assert!(got, "a forwarded connection lost or changed bytes");
    drop(fwd);
    // The cancel goes out from a spawned task; sshd closes the listener soon after.
    let closed = async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(Duration::from_secs(10), closed).await.expect("sshd still listens after the cancel");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = u32::from(taken.local_addr().unwrap().port());
    let r = timeout(LIMIT, c.session().request_port_forward("127.0.0.1", busy, |_, _| {})).await.unwrap();
    assert!(matches!(r, Err(Error::RequestRefused(_))), "{r:?}");
}

/// A silent server: the handshake timeout ends the connect with a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let (_tcp, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut o = ConnectOptions::new("127.0.0.1", port, "nobody");
    o.timeouts.handshake = Some(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let r = Client::connect(&o).await;
    assert!(matches!(r, Err(Error::Timeout(_))), "{:?}", r.err());
    assert!(started.elapsed() < Duration::from_secs(5));
    holder.abort();
    // A closed port: an I/O error at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = ConnectOptions::new("127.0.0.1", closed, "nobody");
    assert!(matches!(Client::connect(&o).await, Err(Error::Io(_))));
}
