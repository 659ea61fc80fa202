//! The built-in in-memory key store with OpenSSH `ssh-agent` semantics.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::AgentKey;
use super::constraint::Constraint;
use super::message::{
    AddIdentity, ExtensionRequest, ExtensionResponse, Identity, QUERY, Request, Response, SESSION_BIND, Secret,
    SignFlags, SignRequest,
};
use super::server::{AgentBackend, Outcome, RequestContext};
use crate::algorithm::{HostKeyAlgorithm, KeyFamily};
use crate::keys::{self, KeyPair};

/// Most keys one store holds (each add beyond it fails), so a client cannot grow it without bound.
pub const MAX_KEYS: usize = 1024;

/// Longest identity comment accepted on add, in bytes (a `PATH_MAX` file name fits:
/// `ssh-add` comments are file names or `user@host`), so that a client cannot make every
/// entry of an identities answer as large as a whole message.
pub const MAX_COMMENT: usize = 4096;

/// Where the failed-unlock count stops (OpenSSH's `fail_count`, whose delay of 0.1 s per
/// failure stops growing at 10 s).
pub const MAX_UNLOCK_FAILURES: u32 = 100;

/// One key held by the agent.
#[derive(Debug)]
struct Held {
    pair: KeyPair,
    blob: Vec<u8>,
    comment: String,
    /// When it is forgotten, on the caller's clock.
    expires: Option<u64>,
    confirm: bool,
    signatures_left: Option<u32>,
    destinations: Option<Vec<u8>>,
}

/// A salted hash of the lock passphrase (compared in constant time).
struct LockHash {
    salt: [u8; 16],
    hash: Zeroizing<[u8; 32]>,
}

impl LockHash {
    fn new(pass: &Secret, salt: [u8; 16]) -> Self {
        Self { salt, hash: Self::digest(&salt, pass) }
    }

    fn digest(salt: &[u8; 16], pass: &Secret) -> Zeroizing<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(pass.as_bytes());
        Zeroizing::new(h.finalize().into())
    }

    fn matches(&self, pass: &Secret) -> bool {
        Self::digest(&self.salt, pass).ct_eq(&*self.hash).into()
    }
}

/// Keys held in memory, answering requests like OpenSSH's `ssh-agent`: add (replacing the
/// same identity), remove, remove all, list, sign (RSA hash from the flags: `rsa-sha2-256`,
/// `rsa-sha2-512`, else `ssh-rsa`), lock and unlock with a passphrase, the lifetime
/// constraint measured on the caller's clock, the confirm constraint as a decision, and
/// `query`. A constraint given twice refuses the add, as OpenSSH does.
///
/// Keys restricted to destinations (`ssh-add -h`) are stored with their restriction but,
/// since the hop rules are not evaluated here, are only listed and usable on a
/// [local](super::ConnectionState::is_local) connection: one on which no
/// `session-bind@openssh.com` was ever attempted. That is stricter than OpenSSH, never
/// looser.
///
/// A wrong unlock passphrase is counted ([`failed_unlocks`](Self::failed_unlocks)) but not
/// slowed down: the core cannot sleep. OpenSSH waits 0.1 s per failure before answering; a
/// driver that wants the same delays sending the answer (or reading the next request).
#[derive(Default)]
pub struct MemoryAgent {
    keys: Vec<Held>,
    lock: Option<LockHash>,
    failed_unlocks: u32,
}

impl core::fmt::Debug for MemoryAgent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryAgent").field("keys", &self.keys.len()).field("locked", &self.lock.is_some()).finish()
    }
}

impl MemoryAgent {
    /// An empty, unlocked store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the store is locked.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Wrong unlock passphrases since the last successful unlock, stopping at
    /// [`MAX_UNLOCK_FAILURES`].
    pub fn failed_unlocks(&self) -> u32 {
        self.failed_unlocks
    }

    /// How many keys are held (expired ones included until [`expire`](Self::expire) runs).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// When the next key expires, for the driver's timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.keys.iter().filter_map(|k| k.expires).min()
    }

    /// Forgets keys whose lifetime is over at `now`.
    pub fn expire(&mut self, now: u64) {
        self.keys.retain(|k| k.expires.is_none_or(|t| t > now));
    }

    /// The destination restriction a key was added with (opaque
    /// `restrict-destination-v00@openssh.com` contents).
    pub fn destination_restriction(&self, key_blob: &[u8]) -> Option<&[u8]> {
        self.keys.iter().find(|k| k.blob == key_blob).and_then(|k| k.destinations.as_deref())
    }

    fn usable(k: &Held, ctx: &RequestContext<'_>) -> bool {
        k.destinations.is_none() || ctx.connection.is_local()
    }

    fn add(&mut self, add: &AddIdentity, now: u64) -> Response {
        match self.try_add(&add.key, &add.comment, &add.constraints, now) {
            Some(()) => Response::Success,
            None => Response::Failure,
        }
    }

    fn try_add(&mut self, key: &AgentKey, comment: &str, constraints: &[Constraint], now: u64) -> Option<()> {
        if comment.len() > MAX_COMMENT {
            return None;
        }
        let pair = KeyPair::new(key.to_private_key(comment).ok()?).ok()?;
        let blob = key.identity_blob().ok()?;
        let mut held = Held {
            pair,
            blob,
            comment: comment.to_owned(),
            expires: None,
            confirm: false,
            signatures_left: None,
            destinations: None,
        };
        // Each constraint at most once: OpenSSH refuses a repeat ("already set").
        for c in constraints {
            match c {
                Constraint::Lifetime(s) => set_once(&mut held.expires, now.saturating_add(u64::from(*s)))?,
                Constraint::Confirm if held.confirm => return None,
                Constraint::Confirm => held.confirm = true,
                Constraint::MaxSignatures(n) => set_once(&mut held.signatures_left, *n)?,
                Constraint::RestrictDestination(d) => set_once(&mut held.destinations, d.clone())?,
                // An unknown restriction cannot be honoured: refuse the key, as OpenSSH does.
                Constraint::Extension { .. } => return None,
            }
        }
        if let Some(old) = self.keys.iter_mut().find(|k| k.blob == held.blob) {
            *old = held;
        } else if self.keys.len() < MAX_KEYS {
            self.keys.push(held);
        } else {
            return None;
        }
        Some(())
    }

    fn sign(&mut self, req: &SignRequest, ctx: &mut RequestContext<'_>) -> Outcome {
        let Some(i) = self.keys.iter().position(|k| k.blob == req.key_blob && Self::usable(k, ctx)) else {
            return Outcome::Reply(Response::Failure);
        };
        let Some(k) = self.keys.get_mut(i) else { return Outcome::Reply(Response::Failure) };
        if k.confirm && !ctx.confirmed {
            return Outcome::Confirm { key_blob: k.blob.clone(), comment: k.comment.clone() };
        }
        if k.signatures_left == Some(0) {
            return Outcome::Reply(Response::Failure);
        }
        let Some(alg) = signature_algorithm(k.pair.family(), req.flags) else {
            return Outcome::Reply(Response::Failure);
        };
        match k.pair.sign(alg, &req.data, ctx.rng) {
            Ok(sig) => {
                if let Some(n) = &mut k.signatures_left {
                    *n -= 1;
                }
                Outcome::Reply(Response::Signature(sig))
            }
            Err(_) => Outcome::Reply(Response::Failure),
        }
    }
}

/// Sets a constraint's value unless it was set already.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// The algorithm a sign request asks of a key family (OpenSSH's `agent_decode_alg`:
/// SHA-256 wins when both RSA flags are set).
fn signature_algorithm(family: KeyFamily, flags: SignFlags) -> Option<HostKeyAlgorithm> {
    if family == KeyFamily::Rsa {
        let alg = if flags.contains(SignFlags::RSA_SHA2_256) {
            HostKeyAlgorithm::RsaSha256
        } else if flags.contains(SignFlags::RSA_SHA2_512) {
            HostKeyAlgorithm::RsaSha512
        } else {
            HostKeyAlgorithm::SshRsa
        };
        return Some(alg);
    }
    keys::plain_algorithms(family).first().copied()
}

impl AgentBackend for MemoryAgent {
    fn handle(&mut self, request: &Request, ctx: &mut RequestContext<'_>) -> Outcome {
        self.expire(ctx.now);
        if let Some(lock) = &self.lock {
            // Locked: only UNLOCK works, and the key list reads as empty.
            let r = match request {
                Request::Unlock(pass) if lock.matches(pass) => {
                    self.lock = None;
                    self.failed_unlocks = 0;
                    Response::Success
                }
                Request::Unlock(_) => {
                    self.failed_unlocks = (self.failed_unlocks + 1).min(MAX_UNLOCK_FAILURES);
                    Response::Failure
                }
                Request::RequestIdentities => Response::Identities(Vec::new()),
                _ => Response::Failure,
            };
            return Outcome::Reply(r);
        }
        let r = match request {
            Request::RequestIdentities => Response::Identities(
                self.keys
                    .iter()
                    .filter(|k| Self::usable(k, ctx))
                    .map(|k| Identity { key_blob: k.blob.clone(), comment: k.comment.clone() })
                    .collect(),
            ),
            Request::Sign(req) => return self.sign(req, ctx),
            Request::AddIdentity(add) => self.add(add, ctx.now),
            Request::RemoveIdentity(blob) => {
                let before = self.keys.len();
                self.keys.retain(|k| k.blob != *blob);
                if self.keys.len() < before { Response::Success } else { Response::Failure }
            }
            Request::RemoveAllIdentities => {
                self.keys.clear();
                Response::Success
            }
            Request::Lock(pass) => {
                let mut salt = [0u8; 16];
                ctx.rng.fill_bytes(&mut salt);
                self.lock = Some(LockHash::new(pass, salt));
                Response::Success
            }
            Request::Extension(ExtensionRequest::Query) => {
                Response::Extension(ExtensionResponse::Query(vec![QUERY.to_owned(), SESSION_BIND.to_owned()]))
            }
            // No PKCS#11 here; unlocking an unlocked agent fails, as in OpenSSH.
            Request::AddSmartcardKey(_)
            | Request::RemoveSmartcardKey { .. }
            | Request::Unlock(_)
            | Request::Extension(ExtensionRequest::SessionBind(_) | ExtensionRequest::Other { .. }) => {
                Response::Failure
            }
        };
        Outcome::Reply(r)
    }

    fn is_locked(&self) -> bool {
        MemoryAgent::is_locked(self)
    }
}
