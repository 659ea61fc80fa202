//! A connection to an SSH agent over its Unix socket (Paramiko's `Agent`): list its keys
//! and have it sign, through the core's sans-IO agent client.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use ssh_proto::agent::{AgentClient, Identity, RequestId, Response};
use ssh_proto::algorithm::HostKeyAlgorithm;
use ssh_proto::ssh_key::PublicKey;

use crate::Error;

/// How long one agent request may take (a confirmation prompt included).
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// An open connection to an agent.
pub struct AgentConnection {
    stream: UnixStream,
    client: AgentClient,
}

fn agent_error(e: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("agent: {e}")))
}

impl AgentConnection {
    /// Connects to the agent listening on `socket`.
    pub fn connect(socket: impl AsRef<Path>) -> Result<Self, Error> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(AGENT_TIMEOUT))?;
        stream.set_write_timeout(Some(AGENT_TIMEOUT))?;
        Ok(Self { stream, client: AgentClient::new() })
    }

    /// Connects to the agent `SSH_AUTH_SOCK` names, if it names one.
    pub fn from_env() -> Option<Result<Self, Error>> {
        let socket = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty())?;
        Some(Self::connect(socket))
    }

    /// Sends what is queued and waits for the answer to `id`.
    fn roundtrip(&mut self, id: RequestId) -> Result<Response, Error> {
        while let Some(bytes) = self.client.poll_transmit() {
            self.stream.write_all(&bytes)?;
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some((got, response)) = self.client.poll_response() {
                if got == id {
                    return response.map_err(agent_error);
                }
                continue;
            }
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                return Err(agent_error("the agent closed the connection"));
            }
            self.client.handle_input(buf.get(..n).unwrap_or_default()).map_err(agent_error)?;
        }
    }

    /// The agent's keys and certificates, in its order.
    pub fn identities(&mut self) -> Result<Vec<Identity>, Error> {
        let id = self.client.request_identities();
        self.roundtrip(id)?.into_identities().map_err(agent_error)
    }

    /// Signs user-authentication `data` with `key` (RSA flags from `algorithm`); the blob
    /// is what the server is sent.
    pub fn sign_for_auth(
        &mut self,
        key: &PublicKey,
        algorithm: HostKeyAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let id = self.client.sign_for_auth(key, algorithm, data).map_err(agent_error)?;
        self.roundtrip(id)?.into_signature().map_err(agent_error)
    }
}
