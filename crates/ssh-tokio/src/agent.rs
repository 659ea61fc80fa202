//! A connection to an SSH agent over its Unix socket, async: the blocking driver's
//! `AgentConnection` through the same sans-IO agent client of the core.

use std::path::Path;
use std::time::Duration;

use ssh_proto::agent::{AgentClient, Identity, RequestId, Response};
use ssh_proto::algorithm::HostKeyAlgorithm;
use ssh_proto::ssh_key::PublicKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::Error;

/// How long one agent request may take (a confirmation prompt included).
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// An open connection to an agent.
///
/// Its calls are not cancellation-safe: a request dropped half-way leaves its answer on the
/// socket for the next call to skip, or a half-sent request; drop the connection then.
pub struct AgentConnection {
    stream: UnixStream,
    client: AgentClient,
}

fn agent_error(e: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("agent: {e}")))
}

impl AgentConnection {
    /// Connects to the agent listening on `socket`.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Self, Error> {
        let stream = UnixStream::connect(socket).await?;
        Ok(Self { stream, client: AgentClient::new() })
    }

    /// Sends what is queued and waits for the answer to `id`.
    async fn roundtrip(&mut self, id: RequestId) -> Result<Response, Error> {
        let exchange = async {
            while let Some(bytes) = self.client.poll_transmit() {
                self.stream.write_all(&bytes).await?;
            }
            let mut buf = [0u8; 16 * 1024];
            loop {
                if let Some((got, response)) = self.client.poll_response() {
                    if got == id {
                        return response.map_err(agent_error);
                    }
                    continue;
                }
                let n = self.stream.read(&mut buf).await?;
                if n == 0 {
                    return Err(agent_error("the agent closed the connection"));
                }
                self.client.handle_input(buf.get(..n).unwrap_or_default()).map_err(agent_error)?;
            }
        };
        tokio::time::timeout(AGENT_TIMEOUT, exchange).await.map_err(|_| agent_error("no answer in time"))?
    }

    /// The agent's keys and certificates, in its order.
    pub async fn identities(&mut self) -> Result<Vec<Identity>, Error> {
        let id = self.client.request_identities();
        self.roundtrip(id).await?.into_identities().map_err(agent_error)
    }

    /// Signs user-authentication `data` with `key` (RSA flags from `algorithm`); the blob
    /// is what the server is sent.
    pub async fn sign_for_auth(
        &mut self,
        key: &PublicKey,
        algorithm: HostKeyAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let id = self.client.sign_for_auth(key, algorithm, data).map_err(agent_error)?;
        self.roundtrip(id).await?.into_signature().map_err(agent_error)
    }
}
