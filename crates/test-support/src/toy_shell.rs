//! The session side of [`TestServer`](crate::TestServer): accepts the authentication its
//! options allow and runs a toy command language on `exec` / `shell` channels, so that real
//! clients (OpenSSH `ssh`, Paramiko) exercise our server's authentication and connection
//! layers. Not a shell: the real server is the blocking driver's.
//!
//! Commands: `echo WORDS` (stdout), `stderr WORDS` (stderr), `env NAME` (a variable set with
//! an `env` request), `exit N`, `cat` (echoes stdin until EOF), `bulk N` (N bytes of
//! `0123456789abcdef\n` lines, sent as the window allows), `tty` (whether a pty was
//! requested). Each exits 0 unless it says otherwise; unknown commands exit 127.

use std::collections::HashMap;

use ssh_proto::auth::{AuthAttempt, AuthReply};
use ssh_proto::connection::{ChannelError, ChannelId, ChannelKind, ChannelRequest, ExitStatus, OpenFailure};
use ssh_proto::{Event, server};

/// What the server lets in.
#[derive(Clone, Debug, Default)]
pub struct AuthPolicy {
    /// Public keys accepted for `publickey` (any user).
    pub keys: Vec<ssh_proto::ssh_key::PublicKey>,
    /// Password accepted for `password` and for keyboard-interactive's one prompt.
    pub password: Option<String>,
}

#[derive(Debug, Default)]
struct Session {
    env: HashMap<String, String>,
    pty: bool,
    /// `cat` is running: echo data, finish at EOF.
    cat: bool,
    /// Received for `cat`, not yet echoed (and not yet reported consumed: our reader's
    /// backpressure reaches the client through its window).
    pending: Vec<u8>,
    eof: bool,
    /// `bulk` bytes still to send.
    bulk_left: usize,
    bulk_sent: usize,
    done: bool,
}

/// Per-connection state.
#[derive(Debug, Default)]
pub(crate) struct ToyShell {
    policy: AuthPolicy,
    sessions: HashMap<ChannelId, Session>,
    /// Commands run, for the connection record.
    pub(crate) commands: Vec<String>,
    /// The user that authenticated.
    pub(crate) authenticated: Option<String>,
}

const LINE: &[u8] = b"0123456789abcdef\n";

impl ToyShell {
    pub(crate) fn new(policy: AuthPolicy) -> Self {
        Self { policy, ..Default::default() }
    }

    /// Answers one authentication request.
    pub(crate) fn auth(&self, attempt: &AuthAttempt) -> AuthReply {
        match attempt {
            AuthAttempt::PublicKey { key, .. } if self.policy.keys.iter().any(|k| k.key_data() == key.key_data()) => {
                AuthReply::Accept
            }
            AuthAttempt::Password { password, new_password: None }
                if self.policy.password.as_deref() == Some(password.expose()) =>
            {
                AuthReply::Accept
            }
            AuthAttempt::KeyboardInteractive { .. } if self.policy.password.is_some() => {
                AuthReply::Prompts(ssh_proto::auth::InfoRequest {
                    name: String::new(),
                    instruction: String::new(),
                    prompts: vec![ssh_proto::auth::Prompt::new("Password: ", false)],
                })
            }
            AuthAttempt::KeyboardInteractiveResponse { answers }
                if answers.len() == 1 && self.policy.password.as_deref() == answers.first().map(|a| a.expose()) =>
            {
                AuthReply::Accept
            }
            _ => AuthReply::Reject,
        }
    }

    /// Handles one connection-protocol event; returns an error to record, if any.
    pub(crate) fn event(&mut self, conn: &mut server::Connection, ev: &Event) -> Result<(), String> {
        let e = |e: ChannelError| e.to_string();
        match ev {
            Event::AuthSuccess { user } => {
                self.authenticated = Some(user.clone());
            }
            Event::ChannelOpenRequest { id, kind } => match kind {
                ChannelKind::Session => {
                    conn.accept_channel(*id).map_err(e)?;
                    self.sessions.insert(*id, Session::default());
                }
                _ => conn.reject_channel(*id, OpenFailure::AdministrativelyProhibited, "sessions only").map_err(e)?,
            },
            Event::ChannelRequest { id, token, request } => {
                let ok = self.request(*id, request);
                if let Some(t) = token {
                    conn.channel_request_reply(*id, *t, ok).map_err(e)?;
                }
                // The command runs after its reply, as sshd does.
                if ok && let ChannelRequest::Exec { command } = request {
                    let command = String::from_utf8_lossy(command).into_owned();
                    self.run(conn, *id, &command)?;
                } else if ok && matches!(request, ChannelRequest::Shell) {
                    self.run(conn, *id, "echo toy shell")?;
                }
            }
            Event::ChannelData { id, data } => match self.sessions.get_mut(id) {
                Some(s) if s.cat => {
                    s.pending.extend_from_slice(data);
                    self.pump(conn, *id)?;
                }
                _ => conn.channel_consumed(*id, data.len()).map_err(e)?,
            },
            Event::ChannelEof { id } => {
                if let Some(s) = self.sessions.get_mut(id) {
                    s.eof = true;
                }
                self.pump(conn, *id)?;
            }
            Event::ChannelWritable { id } => self.pump(conn, *id)?,
            Event::ChannelClosed { id, .. } => {
                self.sessions.remove(id);
            }
            _ => {}
        }
        Ok(())
    }

    fn request(&mut self, id: ChannelId, request: &ChannelRequest) -> bool {
        let Some(s) = self.sessions.get_mut(&id) else { return false };
        match request {
            ChannelRequest::Env { name, value } => {
                s.env.insert(name.clone(), value.clone());
                true
            }
            ChannelRequest::Pty(_) => {
                s.pty = true;
                true
            }
            ChannelRequest::WindowChange { .. } | ChannelRequest::Exec { .. } | ChannelRequest::Shell => true,
            _ => false,
        }
    }

    fn run(&mut self, conn: &mut server::Connection, id: ChannelId, command: &str) -> Result<(), String> {
        self.commands.push(command.to_owned());
        let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
        let e = |e: ChannelError| e.to_string();
        let Some(s) = self.sessions.get_mut(&id) else { return Ok(()) };
        match verb {
            "echo" => {
                conn.channel_send(id, format!("{rest}\n").as_bytes()).map_err(e)?;
                self.finish(conn, id, 0)
            }
            "stderr" => {
                conn.channel_send_extended(id, 1, format!("{rest}\n").as_bytes()).map_err(e)?;
                self.finish(conn, id, 0)
            }
            "env" => {
                let v = s.env.get(rest).cloned().unwrap_or_default();
                conn.channel_send(id, format!("{v}\n").as_bytes()).map_err(e)?;
                self.finish(conn, id, 0)
            }
            "tty" => {
                let v = if s.pty { "pty\n" } else { "no pty\n" };
                conn.channel_send(id, v.as_bytes()).map_err(e)?;
                self.finish(conn, id, 0)
            }
            "exit" => self.finish(conn, id, rest.trim().parse().unwrap_or(1)),
            "cat" => {
                s.cat = true;
                Ok(())
            }
            "bulk" => {
                s.bulk_left = rest.trim().parse().unwrap_or(0);
                self.pump(conn, id)
            }
            _ => {
                conn.channel_send_extended(id, 1, b"toy: unknown command\n").map_err(e)?;
                self.finish(conn, id, 127)
            }
        }
    }

    /// Sends `cat` echoes and `bulk` output as far as the window allows.
    fn pump(&mut self, conn: &mut server::Connection, id: ChannelId) -> Result<(), String> {
        let Some(s) = self.sessions.get_mut(&id) else { return Ok(()) };
        if s.cat {
            while !s.pending.is_empty() {
                match conn.channel_send(id, &s.pending) {
                    Ok(n) => {
                        s.pending.drain(..n);
                        conn.channel_consumed(id, n).map_err(|e| e.to_string())?;
                    }
                    Err(ChannelError::Blocked(_)) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                }
            }
            if s.eof {
                return self.finish(conn, id, 0);
            }
            return Ok(());
        }
        let mut chunk = Vec::with_capacity(64 * 1024);
        while s.bulk_left > 0 {
            chunk.clear();
            let want = s.bulk_left.min(64 * 1024);
            let mut pos = s.bulk_sent;
            while chunk.len() < want {
                let offset = pos % LINE.len();
                let take = (LINE.len() - offset).min(want - chunk.len());
                chunk.extend_from_slice(&LINE[offset..offset + take]);
                pos += take;
            }
            match conn.channel_send(id, &chunk) {
                Ok(n) => {
                    s.bulk_left -= n;
                    s.bulk_sent += n;
                }
                Err(ChannelError::Blocked(_)) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
        if !s.done && s.bulk_sent > 0 {
            return self.finish(conn, id, 0);
        }
        Ok(())
    }

    fn finish(&mut self, conn: &mut server::Connection, id: ChannelId, code: u32) -> Result<(), String> {
        let e = |e: ChannelError| e.to_string();
        if let Some(s) = self.sessions.get_mut(&id) {
            if s.done {
                return Ok(());
            }
            s.done = true;
        }
        conn.channel_eof(id).map_err(e)?;
        conn.channel_request(id, &ChannelRequest::Exit(ExitStatus::Code(code)), false).map_err(e)?;
        conn.channel_close(id).map_err(e)
    }
}
