//! Our client over TCP through authentication and one `exec` session: the whole core
//! (transport, user authentication, connection protocol) against a real server. A test
//! loop, not a driver: the blocking and tokio crates are the real drivers.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh_proto::algorithm::Algorithm;
use ssh_proto::client::Identity;
use ssh_proto::connection::{ChannelError, ChannelId, ChannelRequest, ExitStatus};
use ssh_proto::{DisconnectReason, Event, KeyPair, Negotiated, SeededRng, client};

use crate::client::{describe, exchange, system_rng};

/// One way to authenticate, tried in order.
#[derive(Clone, Debug)]
pub enum Credential {
    /// `publickey` with this identity.
    Key(Identity),
    /// `publickey` where the core asks for the signature ([`Event::AuthSign`]) and this key
    /// answers it, as an agent would.
    ExternalKey(Arc<KeyPair>),
    /// `password`.
    Password(String),
}

/// What an `exec` session gave back.
#[derive(Clone, Debug, Default)]
pub struct ExecOutcome {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error (extended data type 1).
    pub stderr: Vec<u8>,
    /// Exit status or signal.
    pub exit: Option<ExitStatus>,
    /// The algorithms of the first key exchange.
    pub negotiated: Option<Negotiated>,
    /// Completed key exchanges.
    pub key_exchanges: u64,
    /// Failures seen before success: the methods the server listed each time.
    pub auth_failures: Vec<Vec<String>>,
    /// Signature algorithm asked for by external signing, if any.
    pub signed_with: Option<String>,
    /// The banner, if the server sent one.
    pub banner: Option<String>,
    /// Host keys announced after authentication (`hostkeys-00@openssh.com`).
    pub announced_host_keys: usize,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    /// User name.
    pub user: String,
    /// Credentials, tried in order until one succeeds.
    pub credentials: Vec<Credential>,
    /// The command.
    pub command: String,
    /// Environment variables sent before the command (`env` requests).
    pub env: Vec<(String, String)>,
    /// Standard input, sent then closed with EOF.
    pub stdin: Vec<u8>,
    /// Stop reading (and fail) once this much output arrived.
    pub max_output: usize,
}

/// Connects, authenticates, runs the command, collects its output and exit status.
pub fn client_exec(
    addr: SocketAddr,
    config: client::Config,
    req: &ExecRequest,
    timeout: Duration,
) -> Result<ExecOutcome, String> {
    let deadline = Instant::now() + timeout;
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut conn = client::Connection::new(Arc::new(config), Instant::now(), system_rng()).map_err(|e| describe(&e))?;
    let mut out = ExecOutcome::default();
    let mut creds = req.credentials.iter();
    let mut external: Option<Arc<KeyPair>> = None;
    let mut channel: Option<ChannelId> = None;
    let mut stdin_sent = 0usize;
    let mut stdin_done = false;
    let mut buf = vec![0u8; 256 * 1024];
    let mut next_credential = |conn: &mut client::Connection,
                               external: &mut Option<Arc<KeyPair>>|
     -> Result<(), String> {
        match creds.next() {
            Some(Credential::Key(id)) => conn.auth_publickey(&req.user, id.clone()),
            Some(Credential::ExternalKey(k)) => {
                *external = Some(k.clone());
                conn.auth_publickey(&req.user, Identity::External { key: k.public_key().clone(), certificate: None })
            }
            Some(Credential::Password(p)) => conn.auth_password(&req.user, p),
            None => return Err("every credential was refused".into()),
        }
        .map_err(|e| describe(&e))
    };
    next_credential(&mut conn, &mut external)?;
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::HostKey { token, .. } => conn.accept_host_key(token).map_err(|e| describe(&e))?,
                Event::AuthBanner { message } => out.banner = Some(message),
                Event::AuthFailure { methods, .. } => {
                    out.auth_failures.push(methods.clone());
                    next_credential(&mut conn, &mut external).map_err(|e| format!("{e}; server allows {methods:?}"))?;
                }
                Event::AuthSign { token, algorithm, data, .. } => {
                    let key = external.as_ref().ok_or("sign request without an external key")?;
                    out.signed_with = Some(algorithm.name().to_owned());
                    let sig = sign(key, algorithm, &data)?;
                    conn.provide_signature(token, &sig).map_err(|e| describe(&e))?;
                }
                Event::AuthSuccess { .. } => {
                    channel = Some(conn.open_session().map_err(|e| e.to_string())?);
                }
                Event::HostKeysAnnounced { keys } => out.announced_host_keys = keys.len(),
                Event::ChannelOpened { id } => {
                    for (name, value) in &req.env {
                        conn.channel_request(
                            id,
                            &ChannelRequest::Env { name: name.clone(), value: value.clone() },
                            false,
                        )
                        .map_err(|e| e.to_string())?;
                    }
                    let exec = ChannelRequest::Exec { command: req.command.clone().into_bytes().into() };
                    conn.channel_request(id, &exec, true).map_err(|e| e.to_string())?;
                }
                Event::ChannelOpenFailed { reason, description, .. } => {
                    return Err(format!("session refused: {reason:?} {description}"));
                }
                Event::ChannelRequestResult { request, success, .. } if request == "exec" => {
                    if !success {
                        return Err("exec refused".into());
                    }
                    stdin_done = req.stdin.is_empty();
                    if stdin_done {
                        let id = channel.ok_or("no channel")?;
                        conn.channel_eof(id).map_err(|e| e.to_string())?;
                    }
                }
                Event::ChannelData { id, data } => {
                    out.stdout.extend_from_slice(&data);
                    conn.channel_consumed(id, data.len()).map_err(|e| e.to_string())?;
                }
                Event::ChannelExtendedData { id, data, .. } => {
                    out.stderr.extend_from_slice(&data);
                    conn.channel_consumed(id, data.len()).map_err(|e| e.to_string())?;
                }
                Event::ChannelClosed { exit, .. } => {
                    out.exit = exit;
                    out.negotiated = conn.negotiated();
                    out.key_exchanges = conn.key_exchanges();
                    conn.close(DisconnectReason::ByApplication, "done");
                    while let Some(b) = conn.poll_transmit() {
                        let _ = sock.write_all(&b);
                    }
                    return Ok(out);
                }
                // The server closes the session after the exit status, as sshd does; closing at
                // its EOF would race with that status.
                Event::ChannelEof { .. } => {}
                Event::Disconnected { reason, description, error, .. } => {
                    return Err(format!("disconnected ({reason}): {description} {:?}", error.as_ref().map(describe)));
                }
                _ => {}
            }
        }
        // Standard input, as far as the window allows.
        if let (Some(id), false) = (channel, stdin_done)
            && conn.channel_info(id).is_some_and(|i| i.send_window > 0)
            && conn.is_authenticated()
        {
            match conn.channel_send(id, req.stdin.get(stdin_sent..).unwrap_or_default()) {
                Ok(n) => stdin_sent += n,
                Err(ChannelError::Blocked(_) | ChannelError::NotOpen(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
            if stdin_sent == req.stdin.len() {
                conn.channel_eof(id).map_err(|e| e.to_string())?;
                stdin_done = true;
            }
        }
        if out.stdout.len() + out.stderr.len() > req.max_output {
            return Err(format!("more than {} bytes of output", req.max_output));
        }
        if !exchange(&mut conn, &mut sock, &mut buf, deadline)? {
            return Err(format!("timeout after {timeout:?} ({} bytes of output)", out.stdout.len()));
        }
    }
}

/// Signs like an agent would (the whole signature blob).
fn sign(key: &KeyPair, algorithm: ssh_proto::algorithm::HostKeyAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
    key.sign(algorithm, data, &mut SeededRng::new(7)).map_err(|e| e.to_string())
}
