//! The server side of a driver's front end: the decisions a server handler makes (Paramiko's
//! `ServerInterface`), and what a session channel's requests mean before and after its
//! command starts. Both drivers ask their handler the questions these types pose (one
//! blocking, one awaiting) and record the answers here, so the rules are written once.

use bytes::Bytes;

use crate::auth::{AuthAttempt, AuthMethod, AuthReply, InfoRequest};
use crate::connection::{ChannelRequest, PtyRequest};

/// Remote forwards (`tcpip-forward`) one connection may hold at once; more are refused, so a
/// client cannot have the server bind ports, and hold their descriptors, without end.
pub const MAX_REMOTE_FORWARDS: usize = 256;

/// Control requests (signals, window changes) a running command has not taken yet; more
/// are refused, so a client sending them in a loop cannot grow the server's memory.
pub const CONTROL_QUEUE: usize = 64;

/// An authentication decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Authenticated.
    Accept,
    /// This step passed; more are needed.
    Partial,
    /// Refused.
    Reject,
}

impl From<AuthDecision> for AuthReply {
    fn from(d: AuthDecision) -> Self {
        match d {
            AuthDecision::Accept => AuthReply::Accept,
            AuthDecision::Partial => AuthReply::Partial,
            AuthDecision::Reject => AuthReply::Reject,
        }
    }
}

/// A keyboard-interactive step: prompts to show, or a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interactive {
    /// Ask these prompts; the answers come to the handler's interactive-response check.
    Prompts(InfoRequest),
    /// Decide now.
    Decide(AuthDecision),
}

impl From<Interactive> for AuthReply {
    fn from(i: Interactive) -> Self {
        match i {
            Interactive::Prompts(p) => AuthReply::Prompts(p),
            Interactive::Decide(d) => d.into(),
        }
    }
}

/// What a handler is asked about one authentication attempt. Attempts no handler method
/// covers (a certificate, a password change, GSS-API) are refused without asking.
#[derive(Debug)]
pub enum AuthQuestion<'a> {
    /// `none`.
    None,
    /// A password.
    Password(&'a str),
    /// A public key (a query or a verified signature).
    PublicKey(&'a ssh_key::PublicKey),
    /// Keyboard-interactive starts.
    Interactive(&'a [String]),
    /// Keyboard-interactive answers.
    InteractiveResponse(Vec<&'a str>),
}

impl<'a> AuthQuestion<'a> {
    /// The question `attempt` poses, if a handler answers it.
    pub fn of(attempt: &'a AuthAttempt) -> Option<Self> {
        Some(match attempt {
            AuthAttempt::None => Self::None,
            AuthAttempt::Password { password, new_password: None } => Self::Password(password.expose()),
            AuthAttempt::PublicKey { key, certificate: None, .. } => Self::PublicKey(key),
            AuthAttempt::KeyboardInteractive { submethods } => Self::Interactive(submethods),
            AuthAttempt::KeyboardInteractiveResponse { answers } => {
                Self::InteractiveResponse(answers.iter().map(|a| a.expose()).collect())
            }
            _ => return None,
        })
    }
}

/// The per-connection memory of `get_allowed_auths`: asked once, on the user's first
/// request, and narrowing what the core offers from then on.
#[derive(Debug, Default)]
pub struct AllowedAuths {
    asked: bool,
}

impl AllowedAuths {
    /// Whether the handler must be asked now (only on the first request).
    pub fn must_ask(&mut self) -> bool {
        !std::mem::replace(&mut self.asked, true)
    }

    /// Whether `attempt` may go to the handler given the methods it allowed: an attempt
    /// with a method outside them is refused without asking (the core fails it anyway).
    pub fn permits(methods: &[AuthMethod], attempt: &AuthAttempt) -> bool {
        let method = attempt.method();
        method == AuthMethod::None || methods.contains(&method)
    }
}

/// A control request that arrived while a command, shell or subsystem runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionControl {
    /// `signal`: deliver this signal (name without `SIG`: `TERM`, `INT`, …).
    Signal(String),
    /// `window-change`: the client's terminal has a new size.
    WindowChange {
        /// Width in characters.
        cols: u32,
        /// Height in rows.
        rows: u32,
        /// Width in pixels.
        width_px: u32,
        /// Height in pixels.
        height_px: u32,
    },
    /// `break` (RFC 4335) of this many milliseconds.
    Break(u32),
}

/// An accepted `x11-req`: what the client's X server expects from X clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X11Forwarding {
    /// Forward one X connection only.
    pub single_connection: bool,
    /// The X authentication protocol (`MIT-MAGIC-COOKIE-1`).
    pub auth_protocol: String,
    /// The cookie, in hex (often a fake one the client swaps for the real one).
    pub auth_cookie: String,
    /// The X screen number.
    pub screen: u32,
}

/// What the handler is asked about a request on a session channel before its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionQuestion {
    /// A pseudo-terminal.
    Pty(PtyRequest),
    /// An environment variable.
    Env {
        /// Its name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Agent forwarding.
    AgentForwarding,
    /// X11 forwarding.
    X11(X11Forwarding),
    /// Running a command.
    Exec(Bytes),
    /// Starting the login shell.
    Shell,
    /// Starting a subsystem.
    Subsystem(String),
}

/// What a session channel request needs.
#[derive(Debug)]
pub enum SessionStep {
    /// Answer this without the handler (a window change before the command, a second
    /// command, an unknown request).
    Answer(bool),
    /// The command runs: deliver this control to it, and answer whether that worked.
    Control(SessionControl),
    /// Ask the handler, then pass its answer to [`SessionSetup::decided`].
    Ask(SessionQuestion),
}

/// What to start on a session channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serve {
    /// A command.
    Exec(Bytes),
    /// The login shell.
    Shell,
    /// A subsystem by name.
    Subsystem(String),
}

/// What the client set up on a session channel before its command starts. Requests before
/// the command shape it; once the command runs, controls go to it and a second command is
/// refused, as sshd does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionSetup {
    /// Environment variables the handler accepted, in the order sent.
    pub env: Vec<(String, String)>,
    /// The pseudo-terminal the handler accepted, with the latest size.
    pub pty: Option<PtyRequest>,
    /// Whether agent forwarding was accepted.
    pub agent_forwarding: bool,
    /// The X11 forwarding accepted.
    pub x11: Option<X11Forwarding>,
    started: bool,
}

impl SessionSetup {
    /// Whether the command (shell, subsystem) has started.
    pub fn started(&self) -> bool {
        self.started
    }

    /// What `request` needs.
    pub fn step(&mut self, request: ChannelRequest) -> SessionStep {
        if self.started {
            return match request {
                ChannelRequest::Signal { name } => SessionStep::Control(SessionControl::Signal(name)),
                ChannelRequest::WindowChange { cols, rows, width_px, height_px } => {
                    SessionStep::Control(SessionControl::WindowChange { cols, rows, width_px, height_px })
                }
                ChannelRequest::Break { length_ms } => SessionStep::Control(SessionControl::Break(length_ms)),
                _ => SessionStep::Answer(false),
            };
        }
        SessionStep::Ask(match request {
            ChannelRequest::Pty(_) if self.pty.is_some() => return SessionStep::Answer(false),
            ChannelRequest::Pty(pty) => SessionQuestion::Pty(pty),
            ChannelRequest::Env { name, value } => SessionQuestion::Env { name, value },
            ChannelRequest::WindowChange { cols, rows, width_px, height_px } => {
                let Some(pty) = &mut self.pty else { return SessionStep::Answer(false) };
                (pty.cols, pty.rows, pty.width_px, pty.height_px) = (cols, rows, width_px, height_px);
                return SessionStep::Answer(true);
            }
            ChannelRequest::AuthAgent => SessionQuestion::AgentForwarding,
            ChannelRequest::X11 { .. } if self.x11.is_some() => return SessionStep::Answer(false),
            ChannelRequest::X11 { single_connection, auth_protocol, auth_cookie, screen } => {
                SessionQuestion::X11(X11Forwarding { single_connection, auth_protocol, auth_cookie, screen })
            }
            ChannelRequest::Exec { command } => SessionQuestion::Exec(command),
            ChannelRequest::Shell => SessionQuestion::Shell,
            ChannelRequest::Subsystem { name } => SessionQuestion::Subsystem(name),
            _ => return SessionStep::Answer(false),
        })
    }

    /// Records the handler's answer to `question`; returns what to start, when it was a
    /// command the handler accepted.
    pub fn decided(&mut self, question: SessionQuestion, yes: bool) -> Option<Serve> {
        if !yes {
            return None;
        }
        let serve = match question {
            SessionQuestion::Pty(pty) => {
                self.pty = Some(pty);
                return None;
            }
            SessionQuestion::Env { name, value } => {
                self.env.push((name, value));
                return None;
            }
            SessionQuestion::AgentForwarding => {
                self.agent_forwarding = true;
                return None;
            }
            SessionQuestion::X11(x11) => {
                self.x11 = Some(x11);
                return None;
            }
            SessionQuestion::Exec(command) => Serve::Exec(command),
            SessionQuestion::Shell => Serve::Shell,
            SessionQuestion::Subsystem(name) => Serve::Subsystem(name),
        };
        self.started = true;
        Some(serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pty() -> ChannelRequest {
        ChannelRequest::Pty(PtyRequest { term: "xterm".into(), cols: 80, rows: 24, ..PtyRequest::default() })
    }

    #[test]
    fn setup_then_command_then_controls() {
        let mut s = SessionSetup::default();
        let SessionStep::Ask(q) = s.step(pty()) else { panic!("pty is asked") };
        assert_eq!(s.decided(q, true), None);
        // A second pty is refused without asking; a resize updates the first.
        assert!(matches!(s.step(pty()), SessionStep::Answer(false)));
        let resize = ChannelRequest::WindowChange { cols: 100, rows: 30, width_px: 0, height_px: 0 };
        assert!(matches!(s.step(resize.clone()), SessionStep::Answer(true)));
        assert_eq!(s.pty.as_ref().map(|p| (p.cols, p.rows)), Some((100, 30)));
        let env = ChannelRequest::Env { name: "LANG".into(), value: "C".into() };
        let SessionStep::Ask(q) = s.step(env.clone()) else { panic!("env is asked") };
        assert_eq!(s.decided(q, false), None);
        assert!(s.env.is_empty(), "a refused variable is not kept");
        let SessionStep::Ask(q) = s.step(env) else { panic!("env is asked") };
        s.decided(q, true);
        assert_eq!(s.env, vec![("LANG".to_owned(), "C".to_owned())]);
        let SessionStep::Ask(q) = s.step(ChannelRequest::Shell) else { panic!("shell is asked") };
        assert_eq!(s.decided(q, true), Some(Serve::Shell));
        assert!(s.started());
        // Running: controls go to the command, a second command is refused.
        assert!(matches!(s.step(resize), SessionStep::Control(SessionControl::WindowChange { cols: 100, .. })));
        assert!(matches!(
            s.step(ChannelRequest::Signal { name: "INT".into() }),
            SessionStep::Control(SessionControl::Signal(n)) if n == "INT"
        ));
        assert!(matches!(s.step(ChannelRequest::Exec { command: "id".into() }), SessionStep::Answer(false)));
    }

    #[test]
    fn a_refused_command_starts_nothing_and_a_resize_without_pty_fails() {
        let mut s = SessionSetup::default();
        let resize = ChannelRequest::WindowChange { cols: 1, rows: 1, width_px: 0, height_px: 0 };
        assert!(matches!(s.step(resize), SessionStep::Answer(false)));
        let SessionStep::Ask(q) = s.step(ChannelRequest::Exec { command: "id".into() }) else { panic!() };
        assert_eq!(s.decided(q, false), None);
        assert!(!s.started(), "another command may be asked for after a refusal");
        assert!(matches!(s.step(ChannelRequest::Subsystem { name: "sftp".into() }), SessionStep::Ask(_)));
    }
}
