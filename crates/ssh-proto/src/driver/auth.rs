//! The client side of an authentication call, as a driver's front end sees it.

use bytes::Bytes;

use super::Demux;
use crate::algorithm::HostKeyAlgorithm;
use crate::auth::{InfoRequest, SignToken};
use crate::{Event, ServerHostKey};

/// Decides whether to trust the server's host key (known_hosts policies implement it).
pub trait HostKeyVerifier {
    /// `Ok` to continue, `Err(why)` to disconnect.
    fn verify(&mut self, key: &ServerHostKey) -> Result<(), String>;
}

impl<F: FnMut(&ServerHostKey) -> Result<(), String>> HostKeyVerifier for F {
    fn verify(&mut self, key: &ServerHostKey) -> Result<(), String> {
        self(key)
    }
}

/// How an authentication call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Authenticated.
    Success,
    /// This method passed, more are required (`AuthenticationMethods`).
    Partial {
        /// Methods that can continue.
        methods: Vec<String>,
    },
    /// Refused.
    Failure {
        /// Methods that can continue.
        methods: Vec<String>,
    },
}

/// The next thing an authentication call must deal with.
#[derive(Debug)]
pub enum AuthStep {
    /// The call is over.
    Done(AuthOutcome),
    /// Keyboard-interactive prompts to answer (`auth_info_response`).
    Prompts(InfoRequest),
    /// Data to sign with a key held elsewhere, an agent's (`provide_signature` or
    /// `signature_failed`); local keys are signed by the connection itself.
    Sign {
        /// Pass back with the answer.
        token: SignToken,
        /// The key to sign with.
        key: Box<ssh_key::PublicKey>,
        /// The signature algorithm.
        algorithm: HostKeyAlgorithm,
        /// The data to sign.
        data: Bytes,
    },
}

impl<W> Demux<W> {
    /// Takes the authentication events in order and returns the first that needs the
    /// caller; banners go to `banner` on the way. `None`: wait for more.
    pub fn take_auth_step(&mut self, banner: &mut impl FnMut(String)) -> Option<AuthStep> {
        loop {
            let at = self.events.iter().position(|e| {
                matches!(
                    e,
                    Event::AuthBanner { .. }
                        | Event::AuthSuccess { .. }
                        | Event::AuthFailure { .. }
                        | Event::AuthSign { .. }
                        | Event::AuthPrompts(_)
                        | Event::AuthPasswordChange { .. }
                )
            })?;
            match self.events.remove(at)? {
                Event::AuthBanner { message } => banner(message),
                Event::AuthSuccess { .. } => return Some(AuthStep::Done(AuthOutcome::Success)),
                Event::AuthFailure { methods, partial_success: true } => {
                    return Some(AuthStep::Done(AuthOutcome::Partial { methods }));
                }
                Event::AuthFailure { methods, .. } => return Some(AuthStep::Done(AuthOutcome::Failure { methods })),
                Event::AuthSign { token, key, algorithm, data } => {
                    return Some(AuthStep::Sign { token, key, algorithm, data });
                }
                Event::AuthPrompts(request) => return Some(AuthStep::Prompts(request)),
                // A password change request is answered by the connection (it fails the
                // method) and needs nothing from the caller.
                _ => {}
            }
        }
    }

    /// Takes the server's host key, once it came, for the caller to decide on.
    pub fn take_host_key(&mut self) -> Option<(crate::HostKeyToken, ServerHostKey)> {
        let at = self.events.iter().position(|e| matches!(e, Event::HostKey { .. }))?;
        match self.events.remove(at)? {
            Event::HostKey { token, key } => Some((token, *key)),
            _ => None,
        }
    }
}
