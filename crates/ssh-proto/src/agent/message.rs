//! Typed agent messages (draft-miller-ssh-agent; OpenSSH's PROTOCOL.agent): requests a
//! client sends, responses an agent sends. Each is one frame: `uint32 length ‖ byte type ‖
//! fields`.

use core::fmt;

use ssh_key::{Certificate, PublicKey};
use zeroize::Zeroizing;

use super::constraint::{self, Constraint};
use super::{AgentError, AgentKey};
use bytes::BufMut;

use crate::wire::{Reader, WireError, WireWrite};

/// Message numbers.
pub mod number {
    /// `SSH_AGENT_FAILURE`
    pub const FAILURE: u8 = 5;
    /// `SSH_AGENT_SUCCESS`
    pub const SUCCESS: u8 = 6;
    /// `SSH_AGENTC_REQUEST_IDENTITIES`
    pub const REQUEST_IDENTITIES: u8 = 11;
    /// `SSH_AGENT_IDENTITIES_ANSWER`
    pub const IDENTITIES_ANSWER: u8 = 12;
    /// `SSH_AGENTC_SIGN_REQUEST`
    pub const SIGN_REQUEST: u8 = 13;
    /// `SSH_AGENT_SIGN_RESPONSE`
    pub const SIGN_RESPONSE: u8 = 14;
    /// `SSH_AGENTC_ADD_IDENTITY`
    pub const ADD_IDENTITY: u8 = 17;
    /// `SSH_AGENTC_REMOVE_IDENTITY`
    pub const REMOVE_IDENTITY: u8 = 18;
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`
    pub const REMOVE_ALL_IDENTITIES: u8 = 19;
    /// `SSH_AGENTC_ADD_SMARTCARD_KEY`
    pub const ADD_SMARTCARD_KEY: u8 = 20;
    /// `SSH_AGENTC_REMOVE_SMARTCARD_KEY`
    pub const REMOVE_SMARTCARD_KEY: u8 = 21;
    /// `SSH_AGENTC_LOCK`
    pub const LOCK: u8 = 22;
    /// `SSH_AGENTC_UNLOCK`
    pub const UNLOCK: u8 = 23;
    /// `SSH_AGENTC_ADD_ID_CONSTRAINED`
    pub const ADD_ID_CONSTRAINED: u8 = 25;
    /// `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED`
    pub const ADD_SMARTCARD_KEY_CONSTRAINED: u8 = 26;
    /// `SSH_AGENTC_EXTENSION`
    pub const EXTENSION: u8 = 27;
    /// `SSH_AGENT_EXTENSION_FAILURE`
    pub const EXTENSION_FAILURE: u8 = 28;
    /// `SSH_AGENT_EXTENSION_RESPONSE`
    pub const EXTENSION_RESPONSE: u8 = 29;
}

/// The extension that binds an agent connection to an SSH session (OpenSSH 8.9+).
pub const SESSION_BIND: &str = "session-bind@openssh.com";
/// The extension that lists the extensions an agent supports.
pub const QUERY: &str = "query";

/// Most identities read from one `SSH_AGENT_IDENTITIES_ANSWER`.
pub const MAX_IDENTITIES: u32 = 4096;

/// The `flags` of a sign request: a bit mask, kept whole so unknown bits survive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SignFlags(pub u32);

impl SignFlags {
    /// No flags: `ssh-rsa` (SHA-1) for RSA keys.
    pub const NONE: Self = Self(0);
    /// `SSH_AGENT_RSA_SHA2_256`: sign RSA with `rsa-sha2-256`.
    pub const RSA_SHA2_256: Self = Self(2);
    /// `SSH_AGENT_RSA_SHA2_512`: sign RSA with `rsa-sha2-512`.
    pub const RSA_SHA2_512: Self = Self(4);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags that ask for `alg`'s RSA hash (none for other algorithms).
    pub fn for_algorithm(alg: crate::algorithm::HostKeyAlgorithm) -> Self {
        use crate::algorithm::RsaHash;
        match alg.rsa_hash() {
            Some(RsaHash::Sha256) => Self::RSA_SHA2_256,
            Some(RsaHash::Sha512) => Self::RSA_SHA2_512,
            Some(RsaHash::Sha1) | None => Self::NONE,
        }
    }
}

/// A passphrase or PIN: zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps the bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One key an agent holds, as `SSH_AGENT_IDENTITIES_ANSWER` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The public key blob, or the certificate blob for a certified key.
    pub key_blob: Vec<u8>,
    /// The comment (lossily decoded if it was not UTF-8).
    pub comment: String,
}

impl Identity {
    /// The public key (a certificate's subject key for a certified key).
    pub fn public_key(&self) -> Result<PublicKey, AgentError> {
        match Certificate::from_bytes(&self.key_blob) {
            Ok(c) => Ok(PublicKey::new(c.public_key().clone(), self.comment.as_str())),
            Err(_) => {
                let mut key = PublicKey::from_bytes(&self.key_blob)?;
                key.set_comment(self.comment.as_str());
                Ok(key)
            }
        }
    }

    /// The certificate, when the blob is one.
    pub fn certificate(&self) -> Option<Certificate> {
        Certificate::from_bytes(&self.key_blob).ok()
    }
}

/// `SSH_AGENTC_SIGN_REQUEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// The blob of the key to sign with (public key or certificate).
    pub key_blob: Vec<u8>,
    /// The data to sign.
    pub data: Vec<u8>,
    /// Flags (the RSA hash).
    pub flags: SignFlags,
}

/// `SSH_AGENTC_ADD_IDENTITY` / `SSH_AGENTC_ADD_ID_CONSTRAINED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddIdentity {
    /// The private key.
    pub key: AgentKey,
    /// Its comment.
    pub comment: String,
    /// Constraints; sent as `ADD_ID_CONSTRAINED` when not empty.
    pub constraints: Vec<Constraint>,
}

/// `SSH_AGENTC_ADD_SMARTCARD_KEY(_CONSTRAINED)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddSmartcardKey {
    /// The PKCS#11 provider (OpenSSH: a library path).
    pub provider: String,
    /// The PIN.
    pub pin: Secret,
    /// Constraints; sent as the `_CONSTRAINED` form when not empty.
    pub constraints: Vec<Constraint>,
}

/// `session-bind@openssh.com`: the SSH session an agent connection was forwarded over or
/// used for, proven by the server host key's signature over the session identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionBind {
    /// The server's host key blob.
    pub host_key: Vec<u8>,
    /// The session identifier (exchange hash of the first key exchange).
    pub session_id: Vec<u8>,
    /// The host key's signature blob over `session_id`.
    pub signature: Vec<u8>,
    /// Whether the agent connection is forwarded (not for the client's own authentication).
    pub is_forwarding: bool,
}

/// `SSH_AGENTC_EXTENSION` requests. The contents follow the name directly (OpenSSH's
/// format, without the nested `string` of early drafts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionRequest {
    /// `session-bind@openssh.com`.
    SessionBind(SessionBind),
    /// `query`.
    Query,
    /// Any other extension, carried opaquely.
    Other {
        /// The extension name.
        name: String,
        /// The bytes after the name.
        contents: Vec<u8>,
    },
}

/// A message from client to agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    RequestIdentities,
    /// `SSH_AGENTC_SIGN_REQUEST`.
    Sign(SignRequest),
    /// `SSH_AGENTC_ADD_IDENTITY` or `SSH_AGENTC_ADD_ID_CONSTRAINED`.
    AddIdentity(Box<AddIdentity>),
    /// `SSH_AGENTC_REMOVE_IDENTITY`: the key blob.
    RemoveIdentity(Vec<u8>),
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES`.
    RemoveAllIdentities,
    /// `SSH_AGENTC_ADD_SMARTCARD_KEY(_CONSTRAINED)`.
    AddSmartcardKey(AddSmartcardKey),
    /// `SSH_AGENTC_REMOVE_SMARTCARD_KEY`.
    RemoveSmartcardKey {
        /// The PKCS#11 provider.
        provider: String,
        /// The PIN.
        pin: Secret,
    },
    /// `SSH_AGENTC_LOCK`.
    Lock(Secret),
    /// `SSH_AGENTC_UNLOCK`.
    Unlock(Secret),
    /// `SSH_AGENTC_EXTENSION`.
    Extension(ExtensionRequest),
}

fn constraints_len(cs: &[Constraint]) -> usize {
    cs.iter().map(Constraint::encoded_len).sum()
}

fn put_constraints(w: &mut Vec<u8>, cs: &[Constraint]) {
    for c in cs {
        c.encode(w);
    }
}

impl Request {
    /// The message number this request is sent with.
    pub fn number(&self) -> u8 {
        use number::*;
        match self {
            Self::RequestIdentities => REQUEST_IDENTITIES,
            Self::Sign(_) => SIGN_REQUEST,
            Self::AddIdentity(a) if a.constraints.is_empty() => ADD_IDENTITY,
            Self::AddIdentity(_) => ADD_ID_CONSTRAINED,
            Self::RemoveIdentity(_) => REMOVE_IDENTITY,
            Self::RemoveAllIdentities => REMOVE_ALL_IDENTITIES,
            Self::AddSmartcardKey(a) if a.constraints.is_empty() => ADD_SMARTCARD_KEY,
            Self::AddSmartcardKey(_) => ADD_SMARTCARD_KEY_CONSTRAINED,
            Self::RemoveSmartcardKey { .. } => REMOVE_SMARTCARD_KEY,
            Self::Lock(_) => LOCK,
            Self::Unlock(_) => UNLOCK,
            Self::Extension(_) => EXTENSION,
        }
    }

    /// Exact size of the payload (message number and fields).
    fn payload_len(&self) -> Result<usize, AgentError> {
        Ok(1 + match self {
            Self::RequestIdentities | Self::RemoveAllIdentities => 0,
            Self::Sign(s) => 4 + s.key_blob.len() + 4 + s.data.len() + 4,
            Self::AddIdentity(a) => a.key.encoded_len()? + 4 + a.comment.len() + constraints_len(&a.constraints),
            Self::RemoveIdentity(b) => 4 + b.len(),
            Self::AddSmartcardKey(a) => {
                4 + a.provider.len() + 4 + a.pin.as_bytes().len() + constraints_len(&a.constraints)
            }
            Self::RemoveSmartcardKey { provider, pin } => 4 + provider.len() + 4 + pin.as_bytes().len(),
            Self::Lock(p) | Self::Unlock(p) => 4 + p.as_bytes().len(),
            Self::Extension(ExtensionRequest::Query) => 4 + QUERY.len(),
            Self::Extension(ExtensionRequest::SessionBind(b)) => {
                4 + SESSION_BIND.len() + 12 + b.host_key.len() + b.session_id.len() + b.signature.len() + 1
            }
            Self::Extension(ExtensionRequest::Other { name, contents }) => 4 + name.len() + contents.len(),
        })
    }

    /// The framed message (`uint32 length ‖ payload`). The buffer is sized exactly up front
    /// and zeroized on drop, as it may hold a private key or passphrase.
    pub fn to_frame(&self) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let len = self.payload_len()?;
        let mut out = Zeroizing::new(Vec::with_capacity(4 + len));
        out.put_u32(u32::try_from(len).map_err(|_| WireError::TooLong)?);
        out.push(self.number());
        match self {
            Self::RequestIdentities | Self::RemoveAllIdentities => {}
            Self::Sign(s) => {
                out.put_string(&s.key_blob);
                out.put_string(&s.data);
                out.put_u32(s.flags.0);
            }
            Self::AddIdentity(a) => {
                a.key.encode(&mut out)?;
                out.put_string(a.comment.as_bytes());
                put_constraints(&mut out, &a.constraints);
            }
            Self::RemoveIdentity(b) => out.put_string(b),
            Self::AddSmartcardKey(a) => {
                out.put_string(a.provider.as_bytes());
                out.put_string(a.pin.as_bytes());
                put_constraints(&mut out, &a.constraints);
            }
            Self::RemoveSmartcardKey { provider, pin } => {
                out.put_string(provider.as_bytes());
                out.put_string(pin.as_bytes());
            }
            Self::Lock(p) | Self::Unlock(p) => out.put_string(p.as_bytes()),
            Self::Extension(ExtensionRequest::Query) => out.put_string(QUERY.as_bytes()),
            Self::Extension(ExtensionRequest::SessionBind(b)) => {
                out.put_string(SESSION_BIND.as_bytes());
                out.put_string(&b.host_key);
                out.put_string(&b.session_id);
                out.put_string(&b.signature);
                out.put_bool(b.is_forwarding);
            }
            Self::Extension(ExtensionRequest::Other { name, contents }) => {
                out.put_string(name.as_bytes());
                out.extend_from_slice(contents);
            }
        }
        Ok(out)
    }

    /// Decodes a payload (message number and fields, without the length).
    pub fn decode(payload: &[u8]) -> Result<Self, AgentError> {
        use number::*;
        let mut r = Reader::new(payload);
        let n = r.u8().map_err(|_| AgentError::EmptyMessage)?;
        let req = match n {
            REQUEST_IDENTITIES => Self::RequestIdentities,
            SIGN_REQUEST => Self::Sign(SignRequest {
                key_blob: r.string()?.to_vec(),
                data: r.string()?.to_vec(),
                flags: SignFlags(r.u32()?),
            }),
            ADD_IDENTITY | ADD_ID_CONSTRAINED => {
                let key = AgentKey::decode(&mut r)?;
                let comment = lossy(r.string()?);
                let constraints = if n == ADD_ID_CONSTRAINED { constraint::decode_all(&mut r)? } else { Vec::new() };
                Self::AddIdentity(Box::new(AddIdentity { key, comment, constraints }))
            }
            REMOVE_IDENTITY => Self::RemoveIdentity(r.string()?.to_vec()),
            REMOVE_ALL_IDENTITIES => Self::RemoveAllIdentities,
            ADD_SMARTCARD_KEY | ADD_SMARTCARD_KEY_CONSTRAINED => {
                let provider = r.utf8()?.to_owned();
                let pin = Secret::new(r.string()?);
                let constraints =
                    if n == ADD_SMARTCARD_KEY_CONSTRAINED { constraint::decode_all(&mut r)? } else { Vec::new() };
                Self::AddSmartcardKey(AddSmartcardKey { provider, pin, constraints })
            }
            REMOVE_SMARTCARD_KEY => {
                Self::RemoveSmartcardKey { provider: r.utf8()?.to_owned(), pin: Secret::new(r.string()?) }
            }
            LOCK => Self::Lock(Secret::new(r.string()?)),
            UNLOCK => Self::Unlock(Secret::new(r.string()?)),
            EXTENSION => {
                let name = r.utf8()?;
                let contents = r.remaining();
                r = Reader::new(&[]);
                Self::Extension(match name {
                    SESSION_BIND => {
                        let mut c = Reader::new(contents);
                        let bind = SessionBind {
                            host_key: c.string()?.to_vec(),
                            session_id: c.string()?.to_vec(),
                            signature: c.string()?.to_vec(),
                            is_forwarding: c.bool()?,
                        };
                        c.finish()?;
                        ExtensionRequest::SessionBind(bind)
                    }
                    QUERY if contents.is_empty() => ExtensionRequest::Query,
                    _ => ExtensionRequest::Other { name: name.to_owned(), contents: contents.to_vec() },
                })
            }
            other => return Err(AgentError::UnknownMessage(other)),
        };
        r.finish()?;
        Ok(req)
    }
}

/// The public key in a key blob, which must hold exactly one.
pub(crate) fn key_data(mut blob: &[u8]) -> Option<ssh_key::public::KeyData> {
    let key = ssh_encoding::Decode::decode(&mut blob).ok()?;
    blob.is_empty().then_some(key)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `SSH_AGENT_EXTENSION_RESPONSE` contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionResponse {
    /// The answer to `query`: the extensions the agent supports.
    Query(Vec<String>),
    /// Any other extension's response, carried opaquely.
    Other {
        /// The extension name.
        name: String,
        /// The bytes after the name.
        contents: Vec<u8>,
    },
}

/// A message from agent to client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `SSH_AGENT_SUCCESS`.
    Success,
    /// `SSH_AGENT_FAILURE`.
    Failure,
    /// `SSH_AGENT_EXTENSION_FAILURE`.
    ExtensionFailure,
    /// `SSH_AGENT_IDENTITIES_ANSWER`.
    Identities(Vec<Identity>),
    /// `SSH_AGENT_SIGN_RESPONSE`: the signature blob (`string alg ‖ string sig`), the
    /// format `client::Connection::provide_signature` takes.
    Signature(Vec<u8>),
    /// `SSH_AGENT_EXTENSION_RESPONSE`.
    Extension(ExtensionResponse),
}

impl Response {
    /// The message number.
    pub fn number(&self) -> u8 {
        use number::*;
        match self {
            Self::Success => SUCCESS,
            Self::Failure => FAILURE,
            Self::ExtensionFailure => EXTENSION_FAILURE,
            Self::Identities(_) => IDENTITIES_ANSWER,
            Self::Signature(_) => SIGN_RESPONSE,
            Self::Extension(_) => EXTENSION_RESPONSE,
        }
    }

    /// The framed message (`uint32 length ‖ payload`).
    pub fn to_frame(&self) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 0, self.number()];
        match self {
            Self::Success | Self::Failure | Self::ExtensionFailure => {}
            Self::Identities(ids) => {
                out.put_u32(ids.len() as u32);
                for id in ids {
                    out.put_string(&id.key_blob);
                    out.put_string(id.comment.as_bytes());
                }
            }
            Self::Signature(sig) => out.put_string(sig),
            Self::Extension(ExtensionResponse::Query(names)) => {
                out.put_string(QUERY.as_bytes());
                for n in names {
                    out.put_string(n.as_bytes());
                }
            }
            Self::Extension(ExtensionResponse::Other { name, contents }) => {
                out.put_string(name.as_bytes());
                out.extend_from_slice(contents);
            }
        }
        let len = (out.len() - 4) as u32;
        if let Some(head) = out.get_mut(..4) {
            head.copy_from_slice(&len.to_be_bytes());
        }
        out
    }

    /// Decodes a payload (message number and fields, without the length).
    pub fn decode(payload: &[u8]) -> Result<Self, AgentError> {
        use number::*;
        let mut r = Reader::new(payload);
        let resp = match r.u8().map_err(|_| AgentError::EmptyMessage)? {
            SUCCESS => Self::Success,
            FAILURE => Self::Failure,
            EXTENSION_FAILURE => Self::ExtensionFailure,
            IDENTITIES_ANSWER => {
                let n = r.u32()?;
                if n > MAX_IDENTITIES {
                    return Err(WireError::TooLong.into());
                }
                let mut ids = Vec::new();
                for _ in 0..n {
                    ids.push(Identity { key_blob: r.string()?.to_vec(), comment: lossy(r.string()?) });
                }
                Self::Identities(ids)
            }
            SIGN_RESPONSE => Self::Signature(r.string()?.to_vec()),
            EXTENSION_RESPONSE => {
                let name = r.utf8()?;
                if name == QUERY {
                    let mut names = Vec::new();
                    while !r.is_empty() {
                        if names.len() as u32 == MAX_IDENTITIES {
                            return Err(WireError::TooLong.into());
                        }
                        names.push(r.utf8()?.to_owned());
                    }
                    Self::Extension(ExtensionResponse::Query(names))
                } else {
                    let contents = r.remaining().to_vec();
                    r = Reader::new(&[]);
                    Self::Extension(ExtensionResponse::Other { name: name.to_owned(), contents })
                }
            }
            other => return Err(AgentError::UnknownMessage(other)),
        };
        r.finish()?;
        Ok(resp)
    }
}
