//! `ssh-tokio`: OpenSSH's client command line over ssh-tokio, with the same flags, output
//! and exit codes as ssh-blocking's `ssh` example.
//!
//! ```text
//! ssh-tokio [-p PORT] [-l USER] [-i KEY]… [-F CONFIG] [-o Key=Value]… [-L spec]… [-R spec]…
//!     [-N] [-T] [-t [-t]] [-C] [-c CIPHERS] [-m MACS] [-A] [-v] [-G] [-J JUMP] [-n]
//!     destination [command…]
//! ```
//!
//! The command line, ssh_config resolution, prompts and exit codes are shared with the
//! blocking example (`ssh-blocking/examples/shared/ssh_common.rs`); this file only
//! connects and moves bytes with tasks.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ssh_tokio::ssh_proto::ssh_config::Resolved;
use ssh_tokio::{Client, LocalForward, RemoteForward};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../ssh-blocking/examples/shared/ssh_common.rs"]
mod ssh_common;
use ssh_common::{Args, RawTerminal, Start, debug, fail};

fn main() -> ExitCode {
    let (args, resolved) = match ssh_common::start() {
        Start::Exit(code) => return code,
        Start::Connect(args, resolved) => (args, resolved),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("ssh: runtime: {e}")),
    };
    let code = runtime.block_on(run(&args, &resolved)).unwrap_or_else(fail);
    // The task reading our stdin may be blocked in read(2): do not wait for it.
    runtime.shutdown_background();
    code
}

async fn run(args: &Args, r: &Resolved) -> Result<ExitCode, String> {
    let o = ssh_common::connect_options(args, r)?;
    let client = Client::connect(&o).await.map_err(|e| ssh_common::connect_error(&o, e))?;
    let session = Arc::clone(client.session());
    if let Some(n) = session.negotiated() {
        debug(args, || ssh_common::negotiated_line(&n));
    }
    debug(args, || format!("Authenticated to {} ([{}]:{}).", r.original_host(), o.host, o.port));

    let agent = ssh_common::forwarded_agent(r);
    if let Some(sock) = &agent {
        session.forward_agent(sock);
    }
    // Forwards live until the process ends.
    let mut locals = Vec::new();
    for f in ssh_common::local_forwards(r)? {
        let fwd = LocalForward::start(Arc::clone(&session), f.listen, &f.host, f.port)
            .await
            .map_err(|e| format!("ssh: bind {}: {e}", f.listen))?;
        debug(args, || format!("Local forwarding listening on {}.", fwd.local_addr()));
        locals.push(fwd);
    }
    let mut remotes = Vec::new();
    for f in ssh_common::remote_forwards(r)? {
        let fwd = RemoteForward::start(Arc::clone(&session), &f.bind, u32::from(f.port), &f.host, f.target_port)
            .await
            .map_err(|e| ssh_common::remote_forward_failed(&f, e))?;
        ssh_common::remote_forward_started(&f, fwd.remote_port());
        remotes.push(fwd);
    }

    if ssh_common::session_none(r) {
        // Forwarding only: until the connection ends.
        session.closed().await;
        return Ok(ExitCode::SUCCESS);
    }

    let mut ch = session.open_session().await.map_err(|e| format!("ssh: channel: {e}"))?;
    let pty = ssh_common::pty(args, r);
    for (name, value) in ssh_common::environment(r) {
        let _ = ch.set_env(&name, &value).await;
    }
    if agent.is_some() {
        let _ = ch.request_agent_forwarding().await;
    }
    let raw = match &pty {
        Some(p) => {
            ch.request_pty(&p.term, p.cols, p.rows)
                .await
                .map_err(|e| format!("ssh: PTY allocation request failed: {e}"))?;
            p.raw.then(RawTerminal::enter)
        }
        None => None,
    };
    let command = args.command.join(" ");
    let started = if command.is_empty() { ch.shell().await } else { ch.exec(&command).await };
    started.map_err(|e| format!("ssh: {e}"))?;

    let mut stdin = ch.stdin();
    let null_stdin = ssh_common::stdin_null(r);
    tokio::spawn(async move {
        if !null_stdin {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut stdin).await;
        }
        let _ = stdin.shutdown().await;
    });
    let mut stderr = ch.stderr();
    let errors = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await;
    });
    copy_stdout(&mut ch).await.map_err(|e| format!("ssh: {e}"))?;
    let _ = errors.await;
    let status = tokio::time::timeout(Duration::from_secs(30), ch.exit_status()).await;
    drop(raw);
    // No status within the time: 255, as for none at all.
    Ok(ssh_common::exit_code(status.unwrap_or(Ok(None))))
}

/// Remote stdout to ours, flushed per read so interactive output shows at once.
async fn copy_stdout(ch: &mut ssh_tokio::Channel) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = tokio::io::stdout();
    loop {
        let n = ch.read(&mut buf).await?;
        if n == 0 {
            return out.flush().await;
        }
        out.write_all(&buf[..n]).await?;
        out.flush().await?;
    }
}
