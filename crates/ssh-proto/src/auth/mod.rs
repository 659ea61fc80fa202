//! User authentication (RFC 4252), both roles: none, password (with change requests),
//! publickey (query, then signature; user certificates; external signers), keyboard-interactive
//! (RFC 4256) and gssapi-with-mic (RFC 4462 §3).
//!
//! Every decision is an event answered later by a command: the client's prompts and
//! external signatures, the server's verdict on each attempt. The server verifies publickey
//! signatures itself and only asks the application whether the key is allowed.

pub(crate) mod client;
pub mod gss;
pub(crate) mod server;

use core::fmt;

use zeroize::Zeroizing;

use crate::wire::auth::method;

/// A secret string (password, keyboard-interactive answer): zeroized when dropped and
/// redacted in `Debug` output.
///
/// ```
/// let s = ssh_proto::auth::Secret::new("hunter2");
/// assert_eq!(s.expose(), "hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A secret decoded from wire bytes (invalid UTF-8 is replaced, as OpenSSH's PAM path does).
    pub(crate) fn from_wire(b: &[u8]) -> Self {
        Self::new(String::from_utf8_lossy(b).into_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// An authentication method (RFC 4252 §5 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `none`: succeeds only if the server requires nothing.
    None,
    /// `password`.
    Password,
    /// `publickey`.
    PublicKey,
    /// `keyboard-interactive` (RFC 4256).
    KeyboardInteractive,
    /// `gssapi-with-mic` (RFC 4462).
    GssapiWithMic,
}

impl AuthMethod {
    /// Every method, in the order servers usually list them.
    pub const ALL: [Self; 5] =
        [Self::PublicKey, Self::GssapiWithMic, Self::KeyboardInteractive, Self::Password, Self::None];

    /// The method name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => method::NONE,
            Self::Password => method::PASSWORD,
            Self::PublicKey => method::PUBLICKEY,
            Self::KeyboardInteractive => method::KEYBOARD_INTERACTIVE,
            Self::GssapiWithMic => method::GSSAPI_WITH_MIC,
        }
    }

    /// The method for a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One keyboard-interactive prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The text to show.
    pub text: String,
    /// Whether the answer may be echoed (false for passwords).
    pub echo: bool,
}

impl Prompt {
    /// A prompt.
    pub fn new(text: impl Into<String>, echo: bool) -> Self {
        Self { text: text.into(), echo }
    }
}

/// A keyboard-interactive round: a title, an instruction and prompts (RFC 4256 §3.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InfoRequest {
    /// Title (may be empty).
    pub name: String,
    /// Instruction (may be empty).
    pub instruction: String,
    /// Prompts (may be empty: the client then answers with no responses).
    pub prompts: Vec<Prompt>,
}

/// Identifies a pending authentication decision of the server application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthToken(pub(crate) u64);

/// Identifies a pending external signature of the client application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignToken(pub(crate) u64);

/// The server's view of one authentication step, carried by
/// [`Event::AuthRequest`](crate::Event::AuthRequest).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthAttempt {
    /// `none`.
    None,
    /// `password`; `new_password` is set when the client answers a change request.
    Password {
        /// The password given.
        password: Secret,
        /// The new password, when changing.
        new_password: Option<Secret>,
    },
    /// `publickey`. When `verified` is true the core has checked the signature over this
    /// session; the application decides only whether the key (or certificate) is allowed
    /// for the user. When false this is a query: accepting it makes the core answer
    /// `PK_OK`, which authenticates nothing.
    PublicKey {
        /// The algorithm used.
        algorithm: crate::algorithm::HostKeyAlgorithm,
        /// The public key (for a certificate, the certified key).
        key: ssh_key::PublicKey,
        /// The user certificate, when one was presented. Its CA signature, principals and
        /// validity are the application's decision (see `ssh_key::Certificate::validate`).
        certificate: Option<Box<ssh_key::Certificate>>,
        /// Whether a valid signature was presented.
        verified: bool,
    },
    /// `keyboard-interactive` starts; answer with [`AuthReply::Prompts`] (or decide at once).
    KeyboardInteractive {
        /// The client's submethod hints.
        submethods: Vec<String>,
    },
    /// The client's answers to the last [`AuthReply::Prompts`].
    KeyboardInteractiveResponse {
        /// One answer per prompt, in order.
        answers: Vec<Secret>,
    },
    /// `gssapi-with-mic` starts: answer [`AuthReply::GssapiMechanism`] with one of these
    /// mechanism OIDs (DER), or reject.
    Gssapi {
        /// Mechanisms the client supports.
        mechanisms: Vec<bytes::Bytes>,
    },
    /// A context token from the client; answer [`AuthReply::GssapiToken`] (or reject).
    GssapiToken {
        /// The token.
        token: bytes::Bytes,
    },
    /// The client finished the context and sent a MIC over `mic_data`; verify it with the
    /// context, then accept or reject.
    GssapiMic {
        /// The MIC.
        mic: bytes::Bytes,
        /// The data it must cover (RFC 4462 §3.5).
        mic_data: bytes::Bytes,
    },
    /// The client finished the context without integrity protection
    /// (`GSSAPI_EXCHANGE_COMPLETE`); accept only if the context itself provides that.
    GssapiExchangeComplete,
}

impl AuthAttempt {
    /// The method this step belongs to.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::None => AuthMethod::None,
            Self::Password { .. } => AuthMethod::Password,
            Self::PublicKey { .. } => AuthMethod::PublicKey,
            Self::KeyboardInteractive { .. } | Self::KeyboardInteractiveResponse { .. } => {
                AuthMethod::KeyboardInteractive
            }
            Self::Gssapi { .. } | Self::GssapiToken { .. } | Self::GssapiMic { .. } | Self::GssapiExchangeComplete => {
                AuthMethod::GssapiWithMic
            }
        }
    }
}

/// The server application's answer to an [`AuthAttempt`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthReply {
    /// The step succeeded. For a publickey query this answers `PK_OK`; otherwise the method
    /// succeeded, and the user is authenticated unless `authentication_methods` asks for more.
    Accept,
    /// The step failed.
    Reject,
    /// The method succeeded but more are needed (Paramiko's `AUTH_PARTIALLY_SUCCESSFUL`).
    Partial,
    /// Password only: the password has expired; ask for a new one with this prompt.
    ChangePassword {
        /// Shown to the user.
        prompt: String,
    },
    /// keyboard-interactive only: ask these questions (another round).
    Prompts(InfoRequest),
    /// gssapi-with-mic start only: use this mechanism (one the client offered).
    GssapiMechanism(bytes::Bytes),
    /// gssapi-with-mic token only: send this token back (may be empty when the context
    /// completed without output).
    GssapiToken(bytes::Bytes),
}

#[cfg(test)]
mod tests;
