//! GSS-API glue for `gssapi-with-mic` (RFC 4462 §3).
//!
//! The core never calls a GSS library: context tokens go out as events
//! ([`Event::GssapiMechanism`](crate::Event::GssapiMechanism),
//! [`Event::GssapiToken`](crate::Event::GssapiToken) on the client,
//! [`AuthAttempt::GssapiToken`] on the server) and come back
//! as commands. A driver implements [`GssClient`] / [`GssServer`] over its GSS library
//! (libgssapi, SSPI) and hands events to [`client_step`] / [`server_step`], which make the
//! matching command calls; or it drives the commands itself.

use bytes::Bytes;

use super::{AuthAttempt, AuthReply};

/// The Kerberos V5 mechanism, DER-encoded OID 1.2.840.113554.1.2.2 (RFC 1964).
pub const KRB5_MECHANISM: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// A GSS-API failure: major and minor status and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GssFailure {
    /// GSS major status.
    pub major: u32,
    /// Mechanism minor status.
    pub minor: u32,
    /// Text for logs.
    pub message: String,
}

/// One context-establishment step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GssStep {
    /// More round trips are needed; send this token.
    Continue(Vec<u8>),
    /// The context is established; send this last token if it is not empty.
    Complete(Vec<u8>),
}

/// A client security context (`gss_init_sec_context` / `gss_get_mic`).
pub trait GssClient {
    /// One `gss_init_sec_context` call: `input` is `None` for the first.
    fn init(&mut self, mechanism: &[u8], input: Option<&[u8]>) -> Result<GssStep, GssFailure>;
    /// `gss_get_mic` over `data` with the established context.
    fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>, GssFailure>;
}

/// A server security context (`gss_accept_sec_context` / `gss_verify_mic`).
pub trait GssServer {
    /// Whether this mechanism is supported.
    fn supports(&self, mechanism: &[u8]) -> bool;
    /// One `gss_accept_sec_context` call.
    fn accept(&mut self, input: &[u8]) -> Result<GssStep, GssFailure>;
    /// `gss_verify_mic`.
    fn verify_mic(&mut self, data: &[u8], mic: &[u8]) -> Result<(), GssFailure>;
    /// Whether the established context's principal may log in as `user` (krb5_kuserok).
    fn authorized(&self, user: &str) -> bool;
}

/// What the client must do next for one GSS-API event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Send this context token (`gssapi_token`).
    Token(Vec<u8>),
    /// Send this token, then finish with a MIC over `gssapi_mic_data()` (`gssapi_finish`).
    TokenThenMic(Vec<u8>),
    /// Finish with a MIC.
    Mic,
    /// Give up: call `gssapi_abort` (then another method may start).
    Fail(GssFailure),
}

/// Runs the client context for a mechanism choice (`input: None`) or a server token.
pub fn client_step(ctx: &mut dyn GssClient, mechanism: &[u8], input: Option<&[u8]>) -> ClientAction {
    match ctx.init(mechanism, input) {
        Ok(GssStep::Continue(t)) => ClientAction::Token(t),
        Ok(GssStep::Complete(t)) if t.is_empty() => ClientAction::Mic,
        Ok(GssStep::Complete(t)) => ClientAction::TokenThenMic(t),
        Err(e) => ClientAction::Fail(e),
    }
}

/// The server's reply to one gssapi-with-mic step, computed with `ctx`.
pub fn server_step(ctx: &mut dyn GssServer, user: &str, attempt: &AuthAttempt) -> AuthReply {
    match attempt {
        AuthAttempt::Gssapi { mechanisms } => match mechanisms.iter().find(|m| ctx.supports(m)) {
            Some(m) => AuthReply::GssapiMechanism(m.clone()),
            None => AuthReply::Reject,
        },
        AuthAttempt::GssapiToken { token } => match ctx.accept(token) {
            Ok(GssStep::Continue(out) | GssStep::Complete(out)) => AuthReply::GssapiToken(Bytes::from(out)),
            Err(_) => AuthReply::Reject,
        },
        AuthAttempt::GssapiMic { mic, mic_data } => {
            if ctx.verify_mic(mic_data, mic).is_ok() && ctx.authorized(user) {
                AuthReply::Accept
            } else {
                AuthReply::Reject
            }
        }
        _ => AuthReply::Reject,
    }
}
