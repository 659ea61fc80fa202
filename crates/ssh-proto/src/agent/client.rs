//! The client side of an agent connection, sans-IO: requests queued as bytes out, responses
//! matched to them in order as bytes come in.

use std::collections::VecDeque;

use ssh_key::PublicKey;
use zeroize::Zeroizing;

use super::frame::{DEFAULT_MAX_MESSAGE, FrameDecoder};
use super::message::{AddIdentity, Identity, Request, Response, SignFlags, SignRequest};
use super::{AgentError, AgentKey, Constraint};
use crate::algorithm::HostKeyAlgorithm;

/// Identifies a request; its response comes back with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// One connection to an agent.
///
/// The agent protocol answers requests strictly in order, so the client keeps the ids of
/// outstanding requests in a queue and pairs each response with the oldest one.
///
/// Signing for user authentication: answer [`Event::AuthSign`](crate::Event::AuthSign)
/// with [`sign_for_auth`](Self::sign_for_auth), and give the signature blob from the
/// response to `client::Connection::provide_signature` as it is.
///
/// ```
/// use ssh_proto::agent::{AgentClient, AgentKey, AgentServer, MemoryAgent};
/// use ssh_proto::algorithm::HostKeyAlgorithm;
/// use ssh_proto::{KeyPair, SeededRng};
///
/// let key = KeyPair::generate_ed25519(&mut SeededRng::new(7));
/// let (mut store, mut server, mut client) = (MemoryAgent::new(), AgentServer::new(), AgentClient::new());
/// client.add_identity(AgentKey::new(key.private_key()).unwrap(), "me", Vec::new()).unwrap();
/// let sign = client.sign_for_auth(key.public_key(), HostKeyAlgorithm::Ed25519, b"data").unwrap();
/// while let Some(bytes) = client.poll_transmit() {
///     server.handle_input(&bytes, &mut store, 0, &mut SeededRng::new(1)).unwrap();
/// }
/// while let Some(bytes) = server.poll_transmit() {
///     client.handle_input(&bytes).unwrap();
/// }
/// let (_, added) = client.poll_response().unwrap();
/// assert!(added.unwrap().into_success().is_ok());
/// let (id, signed) = client.poll_response().unwrap();
/// assert_eq!(id, sign);
/// let blob = signed.unwrap().into_signature().unwrap();
/// // `blob` is `string "ssh-ed25519" ‖ string signature`: what provide_signature takes.
/// assert_eq!(&blob[4..15], b"ssh-ed25519");
/// ```
#[derive(Debug)]
pub struct AgentClient {
    decoder: FrameDecoder,
    out: VecDeque<Zeroizing<Vec<u8>>>,
    pending: VecDeque<RequestId>,
    responses: VecDeque<(RequestId, Result<Response, AgentError>)>,
    next_id: u64,
}

impl Default for AgentClient {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentClient {
    /// A client with the default response size limit (256 KiB).
    pub fn new() -> Self {
        Self::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// A client that rejects responses longer than `max` bytes.
    pub fn with_max_message(max: usize) -> Self {
        Self {
            decoder: FrameDecoder::new(max),
            out: VecDeque::new(),
            pending: VecDeque::new(),
            responses: VecDeque::new(),
            next_id: 0,
        }
    }

    /// Queues any request.
    pub fn send(&mut self, request: &Request) -> Result<RequestId, AgentError> {
        let frame = request.to_frame()?;
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.out.push_back(frame);
        self.pending.push_back(id);
        Ok(id)
    }

    /// Queues `SSH_AGENTC_REQUEST_IDENTITIES`.
    pub fn request_identities(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.out.push_back(Zeroizing::new(vec![0, 0, 0, 1, super::message::number::REQUEST_IDENTITIES]));
        self.pending.push_back(id);
        id
    }

    /// Queues a sign request for `key` over `data`.
    pub fn sign(&mut self, key: &PublicKey, data: &[u8], flags: SignFlags) -> Result<RequestId, AgentError> {
        let key_blob = key.to_bytes()?;
        self.send(&Request::Sign(SignRequest { key_blob, data: data.to_vec(), flags }))
    }

    /// Queues the sign request that answers [`Event::AuthSign`](crate::Event::AuthSign):
    /// the RSA flags follow `algorithm`.
    pub fn sign_for_auth(
        &mut self,
        key: &PublicKey,
        algorithm: HostKeyAlgorithm,
        data: &[u8],
    ) -> Result<RequestId, AgentError> {
        self.sign(key, data, SignFlags::for_algorithm(algorithm))
    }

    /// Queues `SSH_AGENTC_ADD_IDENTITY` (or `_CONSTRAINED` when there are constraints).
    pub fn add_identity(
        &mut self,
        key: AgentKey,
        comment: &str,
        constraints: Vec<Constraint>,
    ) -> Result<RequestId, AgentError> {
        self.send(&Request::AddIdentity(Box::new(AddIdentity { key, comment: comment.to_owned(), constraints })))
    }

    /// Bytes from the agent, in any fragmentation. An error (a frame over the size limit,
    /// a response nobody asked for) means the stream cannot continue.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), AgentError> {
        self.decoder.push(data);
        while let Some(payload) = self.decoder.next_frame()? {
            let response = Response::decode(payload);
            let id = self.pending.pop_front().ok_or(AgentError::UnexpectedResponse)?;
            self.responses.push_back((id, response));
        }
        Ok(())
    }

    /// The next bytes to send to the agent (zeroized on drop: they may hold a private key).
    pub fn poll_transmit(&mut self) -> Option<Zeroizing<Vec<u8>>> {
        self.out.pop_front()
    }

    /// The next response, with the id of the request it answers. A response that failed
    /// to decode is an error for that request only.
    pub fn poll_response(&mut self) -> Option<(RequestId, Result<Response, AgentError>)> {
        self.responses.pop_front()
    }

    /// Requests sent (or queued) and not answered yet.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }
}

impl Response {
    /// The identity list of `SSH_AGENT_IDENTITIES_ANSWER`, else [`AgentError::Refused`].
    pub fn into_identities(self) -> Result<Vec<Identity>, AgentError> {
        match self {
            Self::Identities(ids) => Ok(ids),
            _ => Err(AgentError::Refused),
        }
    }

    /// The signature blob of `SSH_AGENT_SIGN_RESPONSE`, else [`AgentError::Refused`].
    pub fn into_signature(self) -> Result<Vec<u8>, AgentError> {
        match self {
            Self::Signature(sig) => Ok(sig),
            _ => Err(AgentError::Refused),
        }
    }

    /// `Ok` for `SSH_AGENT_SUCCESS`, else [`AgentError::Refused`].
    pub fn into_success(self) -> Result<(), AgentError> {
        match self {
            Self::Success => Ok(()),
            _ => Err(AgentError::Refused),
        }
    }
}
