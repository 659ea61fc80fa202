//! `ssh`: OpenSSH's client command line over ssh-blocking.
//!
//! ```text
//! ssh [-p PORT] [-l USER] [-i KEY]… [-F CONFIG] [-o Key=Value]… [-L spec]… [-R spec]…
//!     [-N] [-T] [-t [-t]] [-C] [-c CIPHERS] [-m MACS] [-A] [-v] [-G] [-J JUMP] [-n]
//!     destination [command…]
//! ```
//!
//! Options become ssh_config lines in command-line order, ahead of the files, so the first
//! value given wins as in OpenSSH; `-G` prints the result as `ssh -G` does. stdin goes to
//! the remote command, stdout and stderr stay apart, and the exit code is the remote exit
//! status: 255 for a connection or authentication failure (with one line on stderr) or a
//! command killed by a signal. A password, when the server wants one, comes from the
//! terminal or from `SSH_ASKPASS` (`SSH_ASKPASS_REQUIRE=force`, or no terminal); BatchMode
//! asks nothing. `StrictHostKeyChecking ask` refuses unknown hosts (no question is asked).

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ssh_blocking::ssh_proto::ssh_config::Resolved;
use ssh_blocking::{Channel, Client, LocalForward, RemoteForward};

#[path = "shared/ssh_common.rs"]
mod ssh_common;
use ssh_common::{Args, RawTerminal, Start, debug, fail};

fn main() -> ExitCode {
    match ssh_common::start() {
        Start::Exit(code) => code,
        Start::Connect(args, resolved) => run(&args, &resolved).unwrap_or_else(fail),
    }
}

fn run(args: &Args, r: &Resolved) -> Result<ExitCode, String> {
    let o = ssh_common::connect_options(args, r)?;
    let client = Client::connect(&o).map_err(|e| ssh_common::connect_error(&o, e))?;
    let session = Arc::clone(client.session());
    if let Some(n) = session.negotiated() {
        debug(args, || ssh_common::negotiated_line(&n));
    }
    debug(args, || format!("Authenticated to {} ([{}]:{}).", r.original_host(), o.host, o.port));

    let agent = ssh_common::forwarded_agent(r);
    if let Some(sock) = &agent {
        session.forward_agent(sock).map_err(|e| format!("ssh: agent forwarding: {e}"))?;
    }
    // Forwards live until the process ends.
    let mut locals = Vec::new();
    for f in ssh_common::local_forwards(r)? {
        let fwd = LocalForward::start(Arc::clone(&session), f.listen, &f.host, f.port)
            .map_err(|e| format!("ssh: bind {}: {e}", f.listen))?;
        debug(args, || format!("Local forwarding listening on {}.", fwd.local_addr()));
        locals.push(fwd);
    }
    let mut remotes = Vec::new();
    for f in ssh_common::remote_forwards(r)? {
        let fwd = RemoteForward::start(Arc::clone(&session), &f.bind, u32::from(f.port), &f.host, f.target_port)
            .map_err(|e| ssh_common::remote_forward_failed(&f, e))?;
        ssh_common::remote_forward_started(&f, fwd.remote_port());
        remotes.push(fwd);
    }

    if ssh_common::session_none(r) {
        // Forwarding only: wait for the connection to end.
        while session.is_active() {
            std::thread::sleep(Duration::from_millis(200));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut ch = session.open_session().map_err(|e| format!("ssh: channel: {e}"))?;
    let pty = ssh_common::pty(args, r);
    for (name, value) in ssh_common::environment(r) {
        let _ = ch.set_env(&name, &value);
    }
    if agent.is_some() {
        let _ = ch.request_agent_forwarding();
    }
    let _raw = match &pty {
        Some(p) => {
            ch.request_pty(&p.term, p.cols, p.rows).map_err(|e| format!("ssh: PTY allocation request failed: {e}"))?;
            p.raw.then(RawTerminal::enter)
        }
        None => None,
    };
    let command = args.command.join(" ");
    let started = if command.is_empty() { ch.shell() } else { ch.exec(&command) };
    started.map_err(|e| format!("ssh: {e}"))?;

    let mut stdin = ch.stdin();
    let null_stdin = ssh_common::stdin_null(r);
    std::thread::spawn(move || {
        if !null_stdin {
            let _ = io::copy(&mut io::stdin().lock(), &mut stdin);
        }
        let _ = stdin.send_eof();
    });
    let mut stderr = ch.stderr();
    let errors = std::thread::spawn(move || {
        let _ = io::copy(&mut stderr, &mut io::stderr().lock());
    });
    copy_stdout(&mut ch).map_err(|e| format!("ssh: {e}"))?;
    let _ = errors.join();
    let status = ch.recv_exit_status(Some(Duration::from_secs(30)));
    drop(_raw);
    Ok(ssh_common::exit_code(status))
}

/// Remote stdout to ours, flushed per read so interactive output shows at once.
fn copy_stdout(ch: &mut Channel) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = io::stdout().lock();
    loop {
        let n = ch.read(&mut buf)?;
        if n == 0 {
            return out.flush();
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}
