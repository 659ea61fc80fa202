//! User-authentication messages (RFC 4252, RFC 4256 keyboard-interactive, RFC 4462 §3
//! gssapi-with-mic).
//!
//! Decoders take the whole payload, message number included, and reject trailing bytes.
//! Messages 60 and 61 mean different things depending on the method in progress; each has
//! its own decoder and the state machine picks the right one.

use bytes::BufMut;

use super::{NameList, Reader, WireError, WireWrite, expect_msg, msg};

/// Most prompts accepted in one `SSH_MSG_USERAUTH_INFO_REQUEST` / answers in one response
/// (OpenSSH caps both at 100).
pub const MAX_PROMPTS: u32 = 100;
/// Most mechanism OIDs accepted in one gssapi-with-mic request.
pub const MAX_GSS_MECHANISMS: u32 = 32;

/// Method names (RFC 4252 §5, RFC 4256, RFC 4462).
pub mod method {
    /// `none`
    pub const NONE: &str = "none";
    /// `password`
    pub const PASSWORD: &str = "password";
    /// `publickey`
    pub const PUBLICKEY: &str = "publickey";
    /// `keyboard-interactive`
    pub const KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";
    /// `gssapi-with-mic`
    pub const GSSAPI_WITH_MIC: &str = "gssapi-with-mic";
    /// `hostbased`
    pub const HOSTBASED: &str = "hostbased";
}

/// The method-specific part of `SSH_MSG_USERAUTH_REQUEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestMethod<'a> {
    /// `none`.
    None,
    /// `password`, with a new password when changing it.
    Password {
        /// The (current) password.
        password: &'a [u8],
        /// The new password (`boolean TRUE` form).
        new_password: Option<&'a [u8]>,
    },
    /// `publickey`: a query when `signature` is `None`.
    PublicKey {
        /// Public key algorithm name.
        algorithm: &'a str,
        /// Public key (or certificate) blob.
        key: &'a [u8],
        /// Signature blob (`string alg ‖ string sig`).
        signature: Option<&'a [u8]>,
    },
    /// `keyboard-interactive`.
    KeyboardInteractive {
        /// Deprecated language tag.
        language: &'a [u8],
        /// Comma-separated submethod hints.
        submethods: &'a [u8],
    },
    /// `gssapi-with-mic`: the mechanism OIDs (DER) the client supports.
    GssapiWithMic {
        /// Mechanism OIDs.
        mechanisms: Vec<&'a [u8]>,
    },
    /// Any other method (including `hostbased`), left undecoded.
    Other {
        /// Method name.
        name: &'a str,
        /// Its fields.
        data: &'a [u8],
    },
}

impl RequestMethod<'_> {
    /// The method name.
    pub fn name(&self) -> &str {
        match self {
            Self::None => method::NONE,
            Self::Password { .. } => method::PASSWORD,
            Self::PublicKey { .. } => method::PUBLICKEY,
            Self::KeyboardInteractive { .. } => method::KEYBOARD_INTERACTIVE,
            Self::GssapiWithMic { .. } => method::GSSAPI_WITH_MIC,
            Self::Other { name, .. } => name,
        }
    }
}

/// `SSH_MSG_USERAUTH_REQUEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserauthRequest<'a> {
    /// User name (UTF-8).
    pub user: &'a str,
    /// Service to start after authentication (`ssh-connection`).
    pub service: &'a str,
    /// Method and its data.
    pub method: RequestMethod<'a>,
}

impl<'a> UserauthRequest<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_REQUEST)?;
        let user = r.utf8()?;
        let service = r.utf8()?;
        let name = r.utf8()?;
        let method = match name {
            method::NONE => RequestMethod::None,
            method::PASSWORD => {
                let change = r.bool()?;
                let password = r.string()?;
                let new_password = if change { Some(r.string()?) } else { None };
                RequestMethod::Password { password, new_password }
            }
            method::PUBLICKEY => {
                let signed = r.bool()?;
                let algorithm = r.utf8()?;
                let key = r.string()?;
                let signature = if signed { Some(r.string()?) } else { None };
                RequestMethod::PublicKey { algorithm, key, signature }
            }
            method::KEYBOARD_INTERACTIVE => {
                let language = r.string()?;
                let submethods = r.string()?;
                RequestMethod::KeyboardInteractive { language, submethods }
            }
            method::GSSAPI_WITH_MIC => {
                let n = r.u32()?;
                if n > MAX_GSS_MECHANISMS {
                    return Err(WireError::TooLong);
                }
                let mut mechanisms = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    mechanisms.push(r.string()?);
                }
                RequestMethod::GssapiWithMic { mechanisms }
            }
            _ => {
                let data = r.remaining();
                r.bytes(data.len())?;
                RequestMethod::Other { name, data }
            }
        };
        r.finish()?;
        Ok(Self { user, service, method })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_REQUEST);
        w.put_string(self.user.as_bytes());
        w.put_string(self.service.as_bytes());
        w.put_string(self.method.name().as_bytes());
        match &self.method {
            RequestMethod::None => {}
            RequestMethod::Password { password, new_password } => {
                w.put_bool(new_password.is_some());
                w.put_string(password);
                if let Some(n) = new_password {
                    w.put_string(n);
                }
            }
            RequestMethod::PublicKey { algorithm, key, signature } => {
                w.put_bool(signature.is_some());
                w.put_string(algorithm.as_bytes());
                w.put_string(key);
                if let Some(s) = signature {
                    w.put_string(s);
                }
            }
            RequestMethod::KeyboardInteractive { language, submethods } => {
                w.put_string(language);
                w.put_string(submethods);
            }
            RequestMethod::GssapiWithMic { mechanisms } => {
                w.put_u32(mechanisms.len() as u32);
                for m in mechanisms {
                    w.put_string(m);
                }
            }
            RequestMethod::Other { data, .. } => w.put_slice(data),
        }
    }
}

/// The data a publickey signature covers (RFC 4252 §7): the session identifier, then the
/// request as sent with `boolean TRUE`, without the signature.
pub fn publickey_signed_data(session_id: &[u8], user: &str, service: &str, algorithm: &str, key: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(session_id.len() + user.len() + service.len() + algorithm.len() + key.len() + 40);
    d.put_string(session_id);
    d.put_u8(msg::USERAUTH_REQUEST);
    d.put_string(user.as_bytes());
    d.put_string(service.as_bytes());
    d.put_string(method::PUBLICKEY.as_bytes());
    d.put_bool(true);
    d.put_string(algorithm.as_bytes());
    d.put_string(key);
    d
}

/// The data a gssapi-with-mic MIC covers (RFC 4462 §3.5).
pub fn gssapi_mic_data(session_id: &[u8], user: &str, service: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(session_id.len() + user.len() + service.len() + 40);
    d.put_string(session_id);
    d.put_u8(msg::USERAUTH_REQUEST);
    d.put_string(user.as_bytes());
    d.put_string(service.as_bytes());
    d.put_string(method::GSSAPI_WITH_MIC.as_bytes());
    d
}

/// `SSH_MSG_USERAUTH_FAILURE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserauthFailure<'a> {
    /// Methods that can continue.
    pub methods: NameList<'a>,
    /// Whether the request succeeded but more methods are required.
    pub partial_success: bool,
}

impl<'a> UserauthFailure<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_FAILURE)?;
        let methods = r.name_list()?;
        let partial_success = r.bool()?;
        r.finish()?;
        Ok(Self { methods, partial_success })
    }

    /// Encodes a failure listing `methods`.
    pub fn encode<'n>(methods: impl IntoIterator<Item = &'n str> + Clone, partial_success: bool, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_FAILURE);
        w.put_name_list(methods);
        w.put_bool(partial_success);
    }
}

/// `SSH_MSG_USERAUTH_BANNER` and `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`: a text and a
/// language tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMessage<'a> {
    /// The text (UTF-8 from a well-behaved peer; decoded lossily by the state machines).
    pub text: &'a [u8],
    /// Language tag.
    pub language: &'a [u8],
}

impl<'a> TextMessage<'a> {
    /// Decodes a payload with message number `number`.
    pub fn decode(payload: &'a [u8], number: u8) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, number)?;
        let text = r.string()?;
        let language = r.string()?;
        r.finish()?;
        Ok(Self { text, language })
    }

    /// Encodes with message number `number`.
    pub fn encode(&self, number: u8, w: &mut impl BufMut) {
        w.put_u8(number);
        w.put_string(self.text);
        w.put_string(self.language);
    }
}

/// `SSH_MSG_USERAUTH_PK_OK` (60, answering a publickey query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkOk<'a> {
    /// The algorithm from the query.
    pub algorithm: &'a str,
    /// The key blob from the query.
    pub key: &'a [u8],
}

impl<'a> PkOk<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_60)?;
        let algorithm = r.utf8()?;
        let key = r.string()?;
        r.finish()?;
        Ok(Self { algorithm, key })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_60);
        w.put_string(self.algorithm.as_bytes());
        w.put_string(self.key);
    }
}

/// One prompt of a keyboard-interactive info request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WirePrompt<'a> {
    /// The prompt text.
    pub prompt: &'a [u8],
    /// Whether the answer may be echoed.
    pub echo: bool,
}

/// `SSH_MSG_USERAUTH_INFO_REQUEST` (60, keyboard-interactive; RFC 4256 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoRequest<'a> {
    /// Name (title).
    pub name: &'a [u8],
    /// Instruction.
    pub instruction: &'a [u8],
    /// Deprecated language tag.
    pub language: &'a [u8],
    /// Prompts (possibly none).
    pub prompts: Vec<WirePrompt<'a>>,
}

impl<'a> InfoRequest<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_60)?;
        let name = r.string()?;
        let instruction = r.string()?;
        let language = r.string()?;
        let n = r.u32()?;
        if n > MAX_PROMPTS {
            return Err(WireError::TooLong);
        }
        let mut prompts = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let prompt = r.string()?;
            let echo = r.bool()?;
            prompts.push(WirePrompt { prompt, echo });
        }
        r.finish()?;
        Ok(Self { name, instruction, language, prompts })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_60);
        w.put_string(self.name);
        w.put_string(self.instruction);
        w.put_string(self.language);
        w.put_u32(self.prompts.len() as u32);
        for p in &self.prompts {
            w.put_string(p.prompt);
            w.put_bool(p.echo);
        }
    }
}

/// `SSH_MSG_USERAUTH_INFO_RESPONSE` (61, keyboard-interactive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoResponse<'a> {
    /// One answer per prompt.
    pub answers: Vec<&'a [u8]>,
}

impl<'a> InfoResponse<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_61)?;
        let n = r.u32()?;
        if n > MAX_PROMPTS {
            return Err(WireError::TooLong);
        }
        let mut answers = Vec::with_capacity(n as usize);
        for _ in 0..n {
            answers.push(r.string()?);
        }
        r.finish()?;
        Ok(Self { answers })
    }

    /// Encodes answers.
    pub fn encode<'s>(answers: impl ExactSizeIterator<Item = &'s [u8]>, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_61);
        w.put_u32(answers.len() as u32);
        for a in answers {
            w.put_string(a);
        }
    }
}

/// `SSH_MSG_USERAUTH_GSSAPI_ERROR` (64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GssError<'a> {
    /// GSS major status.
    pub major: u32,
    /// Mechanism minor status.
    pub minor: u32,
    /// Message.
    pub message: &'a [u8],
    /// Language tag.
    pub language: &'a [u8],
}

impl<'a> GssError<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::USERAUTH_GSSAPI_ERROR)?;
        let major = r.u32()?;
        let minor = r.u32()?;
        let message = r.string()?;
        let language = r.string()?;
        r.finish()?;
        Ok(Self { major, minor, message, language })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::USERAUTH_GSSAPI_ERROR);
        w.put_u32(self.major);
        w.put_u32(self.minor);
        w.put_string(self.message);
        w.put_string(self.language);
    }
}

/// A message that is only its number (`USERAUTH_SUCCESS`, `GSSAPI_EXCHANGE_COMPLETE`).
pub fn decode_empty(payload: &[u8], number: u8) -> Result<(), WireError> {
    let mut r = Reader::new(payload);
    expect_msg(&mut r, number)?;
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    /// Method kind, two byte fields, an optional one, a list.
    type MethodParts = (u8, Vec<u8>, Vec<u8>, Option<Vec<u8>>, Vec<Vec<u8>>);

    fn method_strategy() -> impl Strategy<Value = MethodParts> {
        (0u8..6, bytes(40), bytes(60), proptest::option::of(bytes(80)), proptest::collection::vec(bytes(12), 0..4))
    }

    proptest! {
        #[test]
        fn userauth_request_round_trip(user in "[a-zA-Z0-9._-]{0,20}", service in "[a-z-]{1,16}", m in method_strategy()) {
            let (kind, a, b, c, list) = m;
            let algorithm = "rsa-sha2-512";
            let method = match kind {
                0 => RequestMethod::None,
                1 => RequestMethod::Password { password: &a, new_password: c.as_deref() },
                2 => RequestMethod::PublicKey { algorithm, key: &b, signature: c.as_deref() },
                3 => RequestMethod::KeyboardInteractive { language: &a, submethods: &b },
                4 => RequestMethod::GssapiWithMic { mechanisms: list.iter().map(Vec::as_slice).collect() },
                _ => RequestMethod::Other { name: "hostbased", data: &b },
            };
            let req = UserauthRequest { user: &user, service: &service, method };
            let mut buf = Vec::new();
            req.encode(&mut buf);
            prop_assert_eq!(UserauthRequest::decode(&buf).unwrap(), req);
        }

        #[test]
        fn info_request_round_trip(name in bytes(20), instr in bytes(40), prompts in proptest::collection::vec((bytes(20), any::<bool>()), 0..6)) {
            let req = InfoRequest {
                name: &name,
                instruction: &instr,
                language: b"",
                prompts: prompts.iter().map(|(p, e)| WirePrompt { prompt: p, echo: *e }).collect(),
            };
            let mut buf = Vec::new();
            req.encode(&mut buf);
            prop_assert_eq!(InfoRequest::decode(&buf).unwrap(), req);
            let mut resp = Vec::new();
            InfoResponse::encode(prompts.iter().map(|(p, _)| p.as_slice()), &mut resp);
            let parsed = InfoResponse::decode(&resp).unwrap();
            prop_assert_eq!(parsed.answers.len(), prompts.len());
        }

        #[test]
        fn failure_round_trip(names in proptest::collection::vec("[a-z-]{1,20}", 0..5), partial in any::<bool>()) {
            let mut buf = Vec::new();
            UserauthFailure::encode(names.iter().map(String::as_str), partial, &mut buf);
            let f = UserauthFailure::decode(&buf).unwrap();
            prop_assert_eq!(f.methods.to_vec(), names);
            prop_assert_eq!(f.partial_success, partial);
        }

        #[test]
        fn decoders_never_panic(data in bytes(200)) {
            let _ = UserauthRequest::decode(&data);
            let _ = UserauthFailure::decode(&data);
            let _ = TextMessage::decode(&data, msg::USERAUTH_BANNER);
            let _ = PkOk::decode(&data);
            let _ = InfoRequest::decode(&data);
            let _ = InfoResponse::decode(&data);
            let _ = GssError::decode(&data);
        }
    }

    #[test]
    fn prompt_count_is_bounded() {
        let mut buf = vec![msg::USERAUTH_60];
        for _ in 0..3 {
            buf.put_string(b"");
        }
        buf.put_u32(MAX_PROMPTS + 1);
        assert_eq!(InfoRequest::decode(&buf), Err(WireError::TooLong));
    }

    #[test]
    fn signed_data_matches_rfc4252_layout() {
        let d = publickey_signed_data(b"SID", "u", "ssh-connection", "ssh-ed25519", b"KEY");
        let mut r = Reader::new(&d);
        assert_eq!(r.string().unwrap(), b"SID");
        assert_eq!(r.u8().unwrap(), msg::USERAUTH_REQUEST);
        assert_eq!(r.string().unwrap(), b"u");
        assert_eq!(r.string().unwrap(), b"ssh-connection");
        assert_eq!(r.string().unwrap(), b"publickey");
        assert!(r.bool().unwrap());
        assert_eq!(r.string().unwrap(), b"ssh-ed25519");
        assert_eq!(r.string().unwrap(), b"KEY");
        r.finish().unwrap();
    }
}
