//! The async client against the blocking driver's server, in process: keyboard-interactive
//! in two rounds, password, a banner-free exec with stdout, stderr and exit status, and
//! a command echoing what it reads.

use std::future::Future;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ssh_blocking::{AuthDecision, Interactive, Server, ServerHandler, ServerSession};
use ssh_tokio::ssh_proto::auth::{InfoRequest, Prompt};
use ssh_tokio::ssh_proto::connection::ExitStatus;
use ssh_tokio::ssh_proto::{HostKey, SeededRng, ServerHostKey, client, server};
use ssh_tokio::{AuthOutcome, Session};
use test_support::pattern;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

struct Handler;

fn prompt(text: &str) -> Interactive {
    Interactive::Prompts(InfoRequest {
        name: String::new(),
        instruction: String::new(),
        prompts: vec![Prompt { text: text.to_owned(), echo: false }],
    })
}

impl ServerHandler for Handler {
    fn check_auth_password(&self, user: &str, password: &str) -> AuthDecision {
        if (user, password) == ("bob", "hunter2") { AuthDecision::Accept } else { AuthDecision::Reject }
    }
    fn check_auth_interactive(&self, _user: &str, _submethods: &[String]) -> Interactive {
        prompt("Password: ")
    }
    fn check_auth_interactive_response(&self, _user: &str, answers: &[&str]) -> Interactive {
        match answers {
            ["hunter2"] => prompt("Code: "),
            ["123456"] => Interactive::Decide(AuthDecision::Accept),
            _ => Interactive::Decide(AuthDecision::Reject),
        }
    }
    fn check_exec_request(&self, _command: &[u8]) -> bool {
        true
    }
    fn exec(&self, session: &mut ServerSession, command: &[u8]) -> ExitStatus {
        let ch = &mut session.channel;
        if command == b"cat" {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n @ 1..) = ch.read(&mut buf) {
                if ch.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            return ExitStatus::Code(0);
        }
        let _ = ch.write_all(command);
        let _ = ch.write_stderr(b"to stderr");
        ExitStatus::Code(4)
    }
}

fn start() -> (std::net::SocketAddr, ssh_blocking::StopHandle) {
    let host = HostKey::generate_ed25519(&mut SeededRng::new(31));
    let server = Server::bind("127.0.0.1:0", server::Config::new(vec![host]), Handler).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.stop_handle().unwrap();
    std::thread::spawn(move || server.serve());
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_password_and_exec() {
    let (addr, stop) = start();
    timeout(LIMIT, async {
        let trust = |_: &ServerHostKey| Ok(());
        let s = Session::connect(addr, client::Config::default(), trust).await.unwrap();
        // Wrong answers fail; the right two rounds pass.
        let wrong = s.auth_interactive("bob", "", |_| vec!["nope".to_owned()]).await.unwrap();
        assert!(matches!(wrong, AuthOutcome::Failure { .. }), "{wrong:?}");
        let mut rounds = Vec::new();
        let ok = s
            .auth_interactive("bob", "", |request| {
                let text = request.prompts.first().map(|p| p.text.clone()).unwrap_or_default();
                rounds.push(text.clone());
                vec![if text == "Password: " { "hunter2" } else { "123456" }.to_owned()]
            })
            .await
            .unwrap();
        assert_eq!(ok, AuthOutcome::Success);
        assert_eq!(rounds, ["Password: ", "Code: "]);

        let mut ch = s.open_session().await.unwrap();
        ch.exec("hello").await.unwrap();
        let mut err = ch.stderr();
        let mut out = Vec::new();
        ch.read_to_end(&mut out).await.unwrap();
        let mut e = Vec::new();
        err.read_to_end(&mut e).await.unwrap();
        assert_eq!((out.as_slice(), e.as_slice()), (&b"hello"[..], &b"to stderr"[..]));
        assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(4)));

        // Password on a second connection, then 4 MiB echoed.
        let s = Session::connect(addr, client::Config::default(), trust).await.unwrap();
        assert!(matches!(s.auth_password("bob", "wrong").await.unwrap(), AuthOutcome::Failure { .. }));
        assert_eq!(s.auth_password("bob", "hunter2").await.unwrap(), AuthOutcome::Success);
        let ch = s.open_session().await.unwrap();
        ch.exec("cat").await.unwrap();
        let (mut rd, mut wr) = tokio::io::split(ch);
        let data = pattern(4 << 20, 9);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            wr.write_all(&sent).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(got == data, "cat returned {} of {} bytes, or changed them", got.len(), data.len());
    })
    .await
    .expect("within the time limit");
    stop.stop();
}

/// Counts the polls of the future it wraps.
struct Counted<F> {
    inner: std::pin::Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// A task waiting for something that does not come sleeps: an idle `accept` is polled a
/// handful of times, not in a loop (it once woke itself with its own poll's unlock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_wait_sleeps() {
    let (addr, stop) = start();
    let trust = |_: &ServerHostKey| Ok(());
    let s = Arc::new(Session::connect(addr, client::Config::default(), trust).await.unwrap());
    assert_eq!(s.auth_password("bob", "hunter2").await.unwrap(), AuthOutcome::Success);
    let polls = Arc::new(AtomicUsize::new(0));
    let waiting = Arc::clone(&s);
    let counted =
        Counted { inner: Box::pin(async move { waiting.accept().await.map(|_| ()) }), polls: Arc::clone(&polls) };
    let task = tokio::spawn(counted);
    // Traffic on the connection meanwhile wakes the waiter a few times at most.
    let ch = s.open_session().await.unwrap();
    ch.exec("hello").await.unwrap();
    assert_eq!(ch.exit_status().await.unwrap(), Some(ExitStatus::Code(4)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = polls.load(Ordering::Relaxed);
    assert!(n < 50, "an idle accept was polled {n} times in 300 ms");
    task.abort();
    stop.stop();
}
