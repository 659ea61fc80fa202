//! A client's login as Paramiko's `SSHClient.connect` orders it, kept as state so that both
//! drivers try the same things in the same order and only do the I/O themselves (read a
//! key file, ask the agent, ask the user).
//!
//! The order: keys (given, key files, the agent's, `~/.ssh` defaults: [`KeySource::ORDER`]),
//! then the password, then keyboard-interactive, each only while the server still offers
//! it. A key is offered once however many sources hold it, so a full agent never earns
//! "too many authentication failures" before the key that was asked for.

use std::collections::VecDeque;
use std::time::Duration;

use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use super::AuthOutcome;
use crate::auth::{InfoRequest, Prompt};

/// An authentication method a client may try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// Keys: given, key files, the agent's, `~/.ssh` defaults.
    PublicKey,
    /// The password.
    Password,
    /// Keyboard-interactive: the prompter, or the password for a single hidden prompt.
    KeyboardInteractive,
}

impl AuthMethod {
    /// Paramiko's order: keys, password, keyboard-interactive.
    pub const ORDER: [AuthMethod; 3] = [Self::PublicKey, Self::Password, Self::KeyboardInteractive];

    /// The method's name on the wire (`PreferredAuthentications`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PublicKey => "publickey",
            Self::Password => "password",
            Self::KeyboardInteractive => "keyboard-interactive",
        }
    }

    /// The method with this wire name.
    ///
    /// ```
    /// use ssh_proto::driver::AuthMethod;
    /// assert_eq!(AuthMethod::from_name("password"), Some(AuthMethod::Password));
    /// assert_eq!(AuthMethod::from_name("gssapi-with-mic"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ORDER.into_iter().find(|m| m.name() == name)
    }
}

/// Where the public keys a login tries come from, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Keys the caller loaded (Paramiko's `pkey`).
    Given,
    /// Key files the caller named (`key_filename`, `IdentityFile`); one that cannot be
    /// loaded is an error.
    Files,
    /// The agent's keys, in its order (`allow_agent`); an agent that is absent or fails is
    /// skipped.
    Agent,
    /// `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` (`look_for_keys`); missing ones and ones
    /// that need a passphrase are skipped.
    Defaults,
}

impl KeySource {
    /// The order Paramiko tries them in.
    pub const ORDER: [KeySource; 4] = [Self::Given, Self::Files, Self::Agent, Self::Defaults];

    /// The default key files' names under `~/.ssh`, in the order they are tried.
    pub const DEFAULT_FILES: [&'static str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];
}

/// Timeouts of a client's calls (Paramiko's `banner_timeout`, `auth_timeout`,
/// `channel_timeout`). `None` waits forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The handshake: banner, key exchange, host key decision.
    pub handshake: Option<Duration>,
    /// Each authentication call.
    pub auth: Option<Duration>,
    /// Opening a channel and each channel request.
    pub channel: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Some(Duration::from_secs(15)),
            auth: Some(Duration::from_secs(30)),
            channel: Some(Duration::from_secs(30)),
        }
    }
}

/// The state of one login: which methods are left, what the server last said it allows,
/// and which keys were already offered.
///
/// ```
/// use ssh_proto::driver::{AuthMethod, AuthOutcome, LoginPlan};
///
/// let mut plan = LoginPlan::new(&AuthMethod::ORDER);
/// assert_eq!(plan.next_method(), Some(AuthMethod::PublicKey));
/// // The server refuses the key and offers only keyboard-interactive now.
/// let refused = AuthOutcome::Failure { methods: vec!["keyboard-interactive".into()] };
/// assert!(!plan.settle(refused));
/// assert_eq!(plan.next_method(), Some(AuthMethod::KeyboardInteractive));
/// assert_eq!(plan.next_method(), None);
/// assert_eq!(plan.allowed(), Some(&["keyboard-interactive".to_owned()][..]));
/// ```
#[derive(Clone, Debug)]
pub struct LoginPlan {
    methods: VecDeque<AuthMethod>,
    allowed: Option<Vec<String>>,
    offered: Vec<KeyData>,
}

impl LoginPlan {
    /// A login that tries `methods` in this order.
    pub fn new(methods: &[AuthMethod]) -> Self {
        Self { methods: methods.iter().copied().collect(), allowed: None, offered: Vec::new() }
    }

    /// The next method to try that the server still allows (all of them until it has
    /// answered once); `None` when none is left.
    pub fn next_method(&mut self) -> Option<AuthMethod> {
        while let Some(m) = self.methods.pop_front() {
            if self.allowed.as_ref().is_none_or(|a| a.iter().any(|n| n == m.name())) {
                return Some(m);
            }
        }
        None
    }

    /// Whether `key` is worth offering: true the first time, false for a key offered
    /// already through another source.
    pub fn first_offer(&mut self, key: &PublicKey) -> bool {
        let new = !self.offered.contains(key.key_data());
        if new {
            self.offered.push(key.key_data().clone());
        }
        new
    }

    /// Records how an attempt ended; true when the login is complete.
    pub fn settle(&mut self, outcome: AuthOutcome) -> bool {
        match outcome {
            AuthOutcome::Success => true,
            AuthOutcome::Partial { methods } | AuthOutcome::Failure { methods } => {
                self.allowed = Some(methods);
                false
            }
        }
    }

    /// The methods the server last said can continue; `None` if nothing was tried yet (ask
    /// with `none` for the error message).
    pub fn allowed(&self) -> Option<&[String]> {
        self.allowed.as_deref()
    }
}

/// The prompt for a password asked for only when the server still wants one, as ssh words it.
pub fn password_prompt(user: &str, host: &str) -> InfoRequest {
    let prompt = Prompt { text: format!("{user}@{host}'s password: "), echo: false };
    InfoRequest { name: String::new(), instruction: String::new(), prompts: vec![prompt] }
}

/// Paramiko's keyboard-interactive fallback without a prompter: the password answers a
/// single hidden prompt; anything else gets empty answers, which the server refuses.
///
/// ```
/// use ssh_proto::auth::{InfoRequest, Prompt};
/// use ssh_proto::driver::password_answers;
///
/// let one = |echo| InfoRequest {
///     name: String::new(),
///     instruction: String::new(),
///     prompts: vec![Prompt { text: "Password: ".into(), echo }],
/// };
/// assert_eq!(password_answers(&one(false), "pw"), ["pw"]);
/// assert_eq!(password_answers(&one(true), "pw"), [""]);
/// ```
pub fn password_answers(request: &InfoRequest, password: &str) -> Vec<String> {
    match request.prompts.as_slice() {
        [one] if !one.echo => vec![password.to_owned()],
        prompts => vec![String::new(); prompts.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    fn refused(methods: &[&str]) -> AuthOutcome {
        AuthOutcome::Failure { methods: methods.iter().map(|m| (*m).to_owned()).collect() }
    }

    #[test]
    fn methods_in_the_callers_order_while_offered() {
        let mut plan = LoginPlan::new(&[AuthMethod::Password, AuthMethod::PublicKey, AuthMethod::KeyboardInteractive]);
        assert_eq!(plan.allowed(), None);
        assert_eq!(plan.next_method(), Some(AuthMethod::Password));
        assert!(!plan.settle(refused(&["publickey", "password", "keyboard-interactive"])));
        assert_eq!(plan.next_method(), Some(AuthMethod::PublicKey));
        // Partial success with another method required: only that one remains.
        let partial = AuthOutcome::Partial { methods: vec!["keyboard-interactive".into()] };
        assert!(!plan.settle(partial));
        assert_eq!(plan.next_method(), Some(AuthMethod::KeyboardInteractive));
        assert!(plan.settle(AuthOutcome::Success));
        assert_eq!(plan.next_method(), None);
    }

    #[test]
    fn a_method_the_server_dropped_is_skipped() {
        let mut plan = LoginPlan::new(&AuthMethod::ORDER);
        assert_eq!(plan.next_method(), Some(AuthMethod::PublicKey));
        plan.settle(refused(&["publickey"]));
        assert_eq!(plan.next_method(), None);
        assert_eq!(plan.allowed(), Some(&["publickey".to_owned()][..]));
    }

    #[test]
    fn each_key_is_offered_once() {
        let a = KeyPair::generate_ed25519(&mut crate::SeededRng::new(1));
        let b = KeyPair::generate_ed25519(&mut crate::SeededRng::new(2));
        let mut plan = LoginPlan::new(&AuthMethod::ORDER);
        assert!(plan.first_offer(a.public_key()));
        assert!(plan.first_offer(b.public_key()));
        assert!(!plan.first_offer(a.public_key()));
    }

    #[test]
    fn fallback_answers_fill_every_prompt() {
        let hidden = Prompt { text: "a".into(), echo: false };
        let two =
            InfoRequest { name: String::new(), instruction: String::new(), prompts: vec![hidden.clone(), hidden] };
        assert_eq!(password_answers(&two, "pw"), ["", ""]);
        let none = InfoRequest { name: String::new(), instruction: String::new(), prompts: vec![] };
        assert!(password_answers(&none, "pw").is_empty());
        let asked = password_prompt("me", "box");
        assert_eq!(asked.prompts[0].text, "me@box's password: ");
        assert!(!asked.prompts[0].echo);
    }
}
