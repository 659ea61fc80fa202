//! Decoder bodies for user-authentication and connection-protocol messages.

use super::{Input, reencode};
use crate::connection::{ChannelKind, ChannelRequest, GlobalRequest, TerminalModes};
use crate::wire::auth::{GssError, InfoRequest, InfoResponse, PkOk, TextMessage, UserauthFailure, UserauthRequest};
use crate::wire::connection::{
    ChannelData, ChannelOpen, ChannelRequest as WireChannelRequest, GlobalRequest as WireGlobalRequest,
    OpenConfirmation, OpenFailure, WindowAdjust, decode_recipient,
};
use crate::wire::transport::OpaqueData;
use crate::wire::{WireWrite, msg};

/// Every decoder of [`crate::wire::auth`] on the same bytes.
///
/// Properties: decoding the re-encoding gives the same value; for messages without a
/// `boolean` the re-encoding is the input itself.
pub fn auth_messages(data: &[u8]) {
    let first = data.first().copied().unwrap_or(0);
    if let Ok(m) = UserauthRequest::decode(data) {
        let enc = reencode(|w| m.encode(w));
        assert_eq!(UserauthRequest::decode(&enc), Ok(m.clone()));
        assert!(enc.len() <= data.len(), "canonical form is never longer");
    }
    if let Ok(m) = UserauthFailure::decode(data) {
        let enc = reencode(|w| UserauthFailure::encode(m.methods.iter(), m.partial_success, w));
        let again = UserauthFailure::decode(&enc).expect("re-encoded failure decodes");
        assert_eq!((again.methods.to_vec(), again.partial_success), (m.methods.to_vec(), m.partial_success));
    }
    if let Ok(m) = TextMessage::decode(data, first) {
        assert_eq!(reencode(|w| m.encode(first, w)), data);
    }
    if let Ok(m) = PkOk::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(m) = InfoRequest::decode(data) {
        assert!(m.prompts.len() <= crate::wire::auth::MAX_PROMPTS as usize);
        let enc = reencode(|w| m.encode(w));
        assert_eq!(InfoRequest::decode(&enc), Ok(m));
    }
    if let Ok(m) = InfoResponse::decode(data) {
        assert_eq!(reencode(|w| InfoResponse::encode(m.answers.iter().copied(), w)), data);
    }
    if let Ok(m) = OpaqueData::decode(data, first) {
        assert_eq!(reencode(|w| m.encode(first, w)), data);
    }
    if let Ok(m) = GssError::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
}

/// Names the typed decoders know, chosen by the first input byte.
const REQUEST_NAMES: &[&str] = &[
    "pty-req",
    "x11-req",
    "env",
    "shell",
    "exec",
    "subsystem",
    "window-change",
    "xon-xoff",
    "signal",
    "break",
    "exit-status",
    "exit-signal",
    "auth-agent-req@openssh.com",
    "eow@openssh.com",
    "keepalive@openssh.com",
    "custom@example.com",
];
const KIND_NAMES: &[&str] = &[
    "session",
    "direct-tcpip",
    "forwarded-tcpip",
    "x11",
    "auth-agent@openssh.com",
    "direct-streamlocal@openssh.com",
    "forwarded-streamlocal@openssh.com",
    "tun@openssh.com",
];
const GLOBAL_NAMES: &[&str] = &[
    "tcpip-forward",
    "cancel-tcpip-forward",
    "streamlocal-forward@openssh.com",
    "cancel-streamlocal-forward@openssh.com",
    "keepalive@openssh.com",
    "no-more-sessions@openssh.com",
    "hostkeys-00@openssh.com",
    "hostkeys-prove-00@openssh.com",
    "other@example.com",
];

fn pick<'n>(names: &[&'n str], b: u8) -> &'n str {
    names.get(usize::from(b) % names.len()).copied().unwrap_or("x")
}

/// Every decoder of [`crate::wire::connection`] on the input, and the typed decoders of
/// channel requests, channel types, global requests and terminal modes on its tail (the
/// name chosen by the first byte).
///
/// Properties: envelope decoders re-encode to the input (up to the optional language tag of
/// OPEN_FAILURE); a typed value re-encodes to data that decodes to the same value; channel
/// data is a slice of the payload at the announced offset.
pub fn connection_messages(data: &[u8]) {
    if let Ok(m) = ChannelOpen::decode(data) {
        let enc = reencode(|w| {
            m.encode_header(w);
            w.extend_from_slice(m.data);
        });
        assert_eq!(enc, data);
    }
    if let Ok(m) = OpenConfirmation::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(m) = OpenFailure::decode(data) {
        let enc = reencode(|w| m.encode(w));
        assert_eq!(OpenFailure::decode(&enc), Ok(m.clone()));
        assert!(enc == data || (m.language.is_empty() && enc.get(..data.len()) == Some(data)));
    }
    if let Ok(m) = WindowAdjust::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(m) = ChannelData::decode(data) {
        assert_eq!(data.get(m.data_offset()..), Some(m.data));
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(m) = WireChannelRequest::decode(data) {
        let enc = reencode(|w| {
            WireChannelRequest::encode_header(m.recipient, m.name, m.want_reply, w);
            w.extend_from_slice(m.data);
        });
        assert_eq!(WireChannelRequest::decode(&enc), Ok(m));
    }
    if let Ok(m) = WireGlobalRequest::decode(data) {
        let enc = reencode(|w| {
            WireGlobalRequest::encode_header(m.name, m.want_reply, w);
            w.extend_from_slice(m.data);
        });
        assert_eq!(WireGlobalRequest::decode(&enc), Ok(m));
    }
    for number in [msg::CHANNEL_EOF, msg::CHANNEL_CLOSE, msg::CHANNEL_SUCCESS, msg::CHANNEL_FAILURE] {
        if let Ok(r) = decode_recipient(data, number) {
            let mut enc = vec![number];
            enc.extend_from_slice(&r.to_be_bytes());
            assert_eq!(enc, data);
        }
    }

    let mut input = Input::new(data);
    let selector = input.u8();
    let tail = input.rest();
    let name = pick(REQUEST_NAMES, selector);
    if let Ok(r) = ChannelRequest::decode(name, tail) {
        assert_eq!(r.name(), name);
        let enc = reencode(|w| r.encode_data(w));
        assert_eq!(ChannelRequest::decode(name, &enc), Ok(r));
    }
    let kind = pick(KIND_NAMES, selector);
    if let Ok(k) = ChannelKind::decode(kind, tail) {
        assert_eq!(k.name(), kind);
        let enc = reencode(|w| k.encode_data(w));
        assert_eq!(ChannelKind::decode(kind, &enc), Ok(k));
    }
    let global = pick(GLOBAL_NAMES, selector);
    if let Ok(g) = GlobalRequest::decode(global, tail) {
        assert_eq!(g.name(), global);
        let enc = reencode(|w| g.encode_data(w));
        assert_eq!(GlobalRequest::decode(global, &enc), Ok(g));
    }
    if let Ok(modes) = TerminalModes::decode(tail) {
        assert!(modes.0.len() <= crate::connection::modes::MAX_MODES);
        assert_eq!(TerminalModes::decode(&modes.encode()), Ok(modes));
    }
}

/// Seeds: valid messages of every kind.
pub(super) fn seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>) {
    use crate::wire::auth::RequestMethod;
    let requests: Vec<(&str, RequestMethod<'_>)> = vec![
        ("none", RequestMethod::None),
        ("password", RequestMethod::Password { password: b"secret", new_password: None }),
        ("password-change", RequestMethod::Password { password: b"old", new_password: Some(b"new") }),
        (
            "publickey-query",
            RequestMethod::PublicKey {
                algorithm: "ssh-ed25519",
                key: b"\0\0\0\x0bssh-ed25519\0\0\0\x20AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                signature: None,
            },
        ),
        (
            "publickey-signed",
            RequestMethod::PublicKey {
                algorithm: "rsa-sha2-512",
                key: b"KEY",
                signature: Some(b"\0\0\0\x0crsa-sha2-512\0\0\0\x03SIG"),
            },
        ),
        ("kbd", RequestMethod::KeyboardInteractive { language: b"", submethods: b"pam" }),
        ("gssapi", RequestMethod::GssapiWithMic { mechanisms: vec![crate::auth::gss::KRB5_MECHANISM] }),
        ("hostbased", RequestMethod::Other { name: "hostbased", data: b"\0\0\0\x01x" }),
    ];
    for (name, method) in requests {
        let m = reencode(|w| UserauthRequest { user: "alice", service: "ssh-connection", method }.encode(w));
        out.push(("auth_messages", format!("request-{name}"), m));
    }
    out.push((
        "auth_messages",
        "failure".into(),
        reencode(|w| UserauthFailure::encode(["publickey", "password"], true, w)),
    ));
    out.push((
        "auth_messages",
        "banner".into(),
        reencode(|w| TextMessage { text: b"hello\n", language: b"en" }.encode(msg::USERAUTH_BANNER, w)),
    ));
    out.push(("auth_messages", "pk-ok".into(), reencode(|w| PkOk { algorithm: "ssh-ed25519", key: b"KEY" }.encode(w))));
    let prompts = vec![crate::wire::auth::WirePrompt { prompt: b"Password: ", echo: false }];
    out.push((
        "auth_messages",
        "info-request".into(),
        reencode(|w| InfoRequest { name: b"n", instruction: b"i", language: b"", prompts }.encode(w)),
    ));
    out.push((
        "auth_messages",
        "info-response".into(),
        reencode(|w| InfoResponse::encode([&b"a"[..], b"b"].into_iter(), w)),
    ));
    out.push((
        "auth_messages",
        "gss-token".into(),
        reencode(|w| OpaqueData { data: b"token" }.encode(msg::USERAUTH_61, w)),
    ));
    out.push((
        "auth_messages",
        "gss-error".into(),
        reencode(|w| GssError { major: 1, minor: 2, message: b"m", language: b"" }.encode(w)),
    ));

    let mut c = |name: &str, m: Vec<u8>| out.push(("connection_messages", name.to_owned(), m));
    c(
        "channel-open",
        reencode(|w| {
            ChannelOpen { kind: "session", sender: 1, window: 2 << 20, max_packet: 32768, data: &[] }.encode_header(w)
        }),
    );
    c(
        "confirm",
        reencode(|w| {
            OpenConfirmation { recipient: 0, sender: 3, window: 1 << 20, max_packet: 32768, data: &[] }.encode(w)
        }),
    );
    c(
        "channel-open-failure",
        reencode(|w| OpenFailure { recipient: 0, reason: 2, description: b"no", language: b"" }.encode(w)),
    );
    c("adjust", reencode(|w| WindowAdjust { recipient: 0, bytes: 65536 }.encode(w)));
    c("data", reencode(|w| ChannelData { recipient: 0, code: None, data: b"hello" }.encode(w)));
    c("stderr", reencode(|w| ChannelData { recipient: 0, code: Some(1), data: b"oops" }.encode(w)));
    c("eof", vec![msg::CHANNEL_EOF, 0, 0, 0, 0]);
    let mut modes = Vec::new();
    modes.put_string(&TerminalModes(vec![(53, 1), (128, 38400)]).encode());
    for (i, name) in REQUEST_NAMES.iter().enumerate() {
        let data: Vec<u8> = match *name {
            "pty-req" => reencode(|w| {
                w.put_string(b"xterm");
                w.extend_from_slice(&[0, 0, 0, 80, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0]);
                w.extend_from_slice(&modes);
            }),
            "exec" | "subsystem" | "signal" => reencode(|w| w.put_string(b"ls")),
            "env" => reencode(|w| {
                w.put_string(b"LANG");
                w.put_string(b"C");
            }),
            "exit-status" | "break" => vec![0, 0, 0, 1],
            "exit-signal" => reencode(|w| {
                w.put_string(b"KILL");
                w.push(1);
                w.put_string(b"killed");
                w.put_string(b"");
            }),
            "window-change" => vec![0, 0, 0, 100, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0],
            "xon-xoff" => vec![1],
            _ => Vec::new(),
        };
        let mut seed = vec![i as u8];
        seed.extend_from_slice(&data);
        c(&format!("typed-{name}"), seed);
        let whole = reencode(|w| {
            WireChannelRequest::encode_header(0, name, true, w);
            w.extend_from_slice(&data);
        });
        c(&format!("request-{name}"), whole);
    }
    let mut seed = vec![1u8];
    seed.extend(reencode(|w| {
        w.put_string(b"db");
        w.extend_from_slice(&[0, 0, 0x15, 0x38]);
        w.put_string(b"127.0.0.1");
        w.extend_from_slice(&[0, 0, 0x9c, 0x40]);
    }));
    c("typed-direct-tcpip", seed);
    c(
        "global-forward",
        reencode(|w| {
            WireGlobalRequest::encode_header("tcpip-forward", true, w);
            w.put_string(b"");
            w.extend_from_slice(&[0, 0, 0, 0]);
        }),
    );
}
