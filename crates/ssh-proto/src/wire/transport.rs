//! Transport-layer messages (RFC 4253 §§7–12, RFC 8308, OpenSSH PROTOCOL).
//!
//! Decoders take the whole payload, message number included, and reject trailing bytes.

use bytes::BufMut;

use super::{NameList, Reader, WireError, WireWrite, expect_msg, msg};

/// `SSH_MSG_DISCONNECT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// Reason code.
    pub reason: u32,
    /// Human-readable description (not necessarily valid UTF-8 from hostile peers).
    pub description: &'a [u8],
    /// Language tag.
    pub language: &'a [u8],
}

impl<'a> Disconnect<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::DISCONNECT)?;
        let reason = r.u32()?;
        let description = r.string()?;
        // Some old implementations omit the language tag.
        let language = if r.is_empty() { &[][..] } else { r.string()? };
        r.finish()?;
        Ok(Self { reason, description, language })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::DISCONNECT);
        w.put_u32(self.reason);
        w.put_string(self.description);
        w.put_string(self.language);
    }
}

/// `SSH_MSG_IGNORE`, `SSH2_MSG_PING`, `SSH2_MSG_PONG`, and the gssapi-with-mic messages
/// that carry one string (`GSSAPI_RESPONSE`, `GSSAPI_TOKEN`, `GSSAPI_ERRTOK`, `GSSAPI_MIC`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueData<'a> {
    /// The data.
    pub data: &'a [u8],
}

impl<'a> OpaqueData<'a> {
    /// Decodes a payload with message number `number`.
    pub fn decode(payload: &'a [u8], number: u8) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, number)?;
        let data = r.string()?;
        r.finish()?;
        Ok(Self { data })
    }

    /// Encodes with message number `number`.
    pub fn encode(&self, number: u8, w: &mut impl BufMut) {
        w.put_u8(number);
        w.put_string(self.data);
    }
}

/// `SSH_MSG_UNIMPLEMENTED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unimplemented {
    /// Sequence number of the rejected packet.
    pub seq: u32,
}

impl Unimplemented {
    /// Decodes the payload.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::UNIMPLEMENTED)?;
        let seq = r.u32()?;
        r.finish()?;
        Ok(Self { seq })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::UNIMPLEMENTED);
        w.put_u32(self.seq);
    }
}

/// `SSH_MSG_DEBUG`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debug<'a> {
    /// Whether the message should be shown to the user.
    pub always_display: bool,
    /// The message.
    pub message: &'a [u8],
    /// Language tag.
    pub language: &'a [u8],
}

impl<'a> Debug<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::DEBUG)?;
        let always_display = r.bool()?;
        let message = r.string()?;
        let language = if r.is_empty() { &[][..] } else { r.string()? };
        r.finish()?;
        Ok(Self { always_display, message, language })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::DEBUG);
        w.put_bool(self.always_display);
        w.put_string(self.message);
        w.put_string(self.language);
    }
}

/// `SSH_MSG_SERVICE_REQUEST` and `SSH_MSG_SERVICE_ACCEPT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service<'a> {
    /// Service name, e.g. `ssh-userauth`.
    pub name: &'a str,
}

impl<'a> Service<'a> {
    /// Decodes a payload with message number `number`.
    pub fn decode(payload: &'a [u8], number: u8) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, number)?;
        let name = r.utf8()?;
        r.finish()?;
        Ok(Self { name })
    }

    /// Encodes with message number `number`.
    pub fn encode(&self, number: u8, w: &mut impl BufMut) {
        w.put_u8(number);
        w.put_string(self.name.as_bytes());
    }
}

/// Most extensions accepted in one `SSH_MSG_EXT_INFO`.
pub const MAX_EXTENSIONS: u32 = 64;

/// `SSH_MSG_EXT_INFO` (RFC 8308 §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtInfo<'a> {
    /// `(extension-name, extension-value)` pairs.
    pub extensions: Vec<(&'a str, &'a [u8])>,
}

impl<'a> ExtInfo<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::EXT_INFO)?;
        let count = r.u32()?;
        if count > MAX_EXTENSIONS {
            return Err(WireError::TooLong);
        }
        let mut extensions = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let name = r.utf8()?;
            let value = r.string()?;
            extensions.push((name, value));
        }
        r.finish()?;
        Ok(Self { extensions })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::EXT_INFO);
        w.put_u32(self.extensions.len() as u32);
        for (name, value) in &self.extensions {
            w.put_string(name.as_bytes());
            w.put_string(value);
        }
    }

    /// The value of extension `name`, if present.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.extensions.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The ten algorithm name-lists of a KEXINIT, in wire order.
pub const KEXINIT_LISTS: usize = 10;

/// `SSH_MSG_KEXINIT` (RFC 4253 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexInit<'a> {
    /// Random cookie.
    pub cookie: [u8; 16],
    /// kex_algorithms, server_host_key_algorithms, encryption c2s/s2c, mac c2s/s2c,
    /// compression c2s/s2c, languages c2s/s2c.
    pub lists: [NameList<'a>; KEXINIT_LISTS],
    /// `first_kex_packet_follows`.
    pub first_kex_follows: bool,
    /// Reserved, must be 0 on send, ignored on receipt.
    pub reserved: u32,
}

impl<'a> KexInit<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::KEXINIT)?;
        let cookie = r.array()?;
        let mut lists = [NameList::parse(b"")?; KEXINIT_LISTS];
        for l in &mut lists {
            *l = r.name_list()?;
        }
        let first_kex_follows = r.bool()?;
        let reserved = r.u32()?;
        r.finish()?;
        Ok(Self { cookie, lists, first_kex_follows, reserved })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        encode_kexinit(
            w,
            &self.cookie,
            self.lists.iter().map(|l| l.iter().collect::<Vec<_>>()),
            self.first_kex_follows,
        );
    }
}

/// Encodes a KEXINIT from name lists.
pub fn encode_kexinit<L, I, S>(w: &mut impl BufMut, cookie: &[u8; 16], lists: L, first_kex_follows: bool)
where
    L: IntoIterator<Item = I>,
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<str>,
{
    w.put_u8(msg::KEXINIT);
    w.put_slice(cookie);
    for list in lists {
        let names: Vec<S> = list.into_iter().collect();
        w.put_name_list(names.iter().map(AsRef::as_ref));
    }
    w.put_bool(first_kex_follows);
    w.put_u32(0);
}

/// The client's first key-exchange message: `SSH_MSG_KEX_ECDH_INIT`, `SSH_MSG_KEX_HYBRID_INIT`,
/// `SSH_MSG_KEXDH_INIT` (30) and `SSH_MSG_KEX_DH_GEX_INIT` (32). One string (or mpint) field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexClientPublic<'a> {
    /// `Q_C`, `C_INIT` or the mpint `e` (its magnitude, validated).
    pub public: &'a [u8],
}

impl<'a> KexClientPublic<'a> {
    /// Decodes a payload with message number `number`; `mpint` selects mpint validation.
    pub fn decode(payload: &'a [u8], number: u8, mpint: bool) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, number)?;
        let public = if mpint { r.mpint_positive()? } else { r.string()? };
        r.finish()?;
        Ok(Self { public })
    }
}

/// The server's key-exchange reply: `SSH_MSG_KEX_ECDH_REPLY`, `SSH_MSG_KEX_HYBRID_REPLY`,
/// `SSH_MSG_KEXDH_REPLY` (31) and `SSH_MSG_KEX_DH_GEX_REPLY` (33).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexReply<'a> {
    /// `K_S`, the host key (or certificate) blob.
    pub host_key: &'a [u8],
    /// `Q_S`, `S_REPLY` or the mpint `f` (its magnitude, validated).
    pub public: &'a [u8],
    /// The signature blob over the exchange hash.
    pub signature: &'a [u8],
}

impl<'a> KexReply<'a> {
    /// Decodes a payload with message number `number`; `mpint` selects mpint validation.
    pub fn decode(payload: &'a [u8], number: u8, mpint: bool) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, number)?;
        let host_key = r.string()?;
        let public = if mpint { r.mpint_positive()? } else { r.string()? };
        let signature = r.string()?;
        r.finish()?;
        Ok(Self { host_key, public, signature })
    }

    /// Encodes with message number `number`.
    pub fn encode(&self, number: u8, mpint: bool, w: &mut impl BufMut) {
        w.put_u8(number);
        w.put_string(self.host_key);
        if mpint {
            w.put_mpint_positive(self.public);
        } else {
            w.put_string(self.public);
        }
        w.put_string(self.signature);
    }
}

/// `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §3), or the old single-size form (message 30).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GexRequest {
    /// Minimal acceptable group size in bits.
    pub min: u32,
    /// Preferred size in bits.
    pub preferred: u32,
    /// Maximal acceptable size in bits.
    pub max: u32,
    /// Whether this was the old `SSH_MSG_KEX_DH_GEX_REQUEST_OLD` (only `n` on the wire).
    pub old: bool,
}

impl GexRequest {
    /// Decodes either form.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        let req = match r.u8()? {
            msg::KEX_DH_GEX_REQUEST => {
                let min = r.u32()?;
                let preferred = r.u32()?;
                let max = r.u32()?;
                Self { min, preferred, max, old: false }
            }
            msg::KEX_INIT => {
                let n = r.u32()?;
                Self { min: n, preferred: n, max: n, old: true }
            }
            _ => return Err(WireError::WrongMessage),
        };
        r.finish()?;
        if !req.old && (req.min > req.preferred || req.preferred > req.max) {
            return Err(WireError::InvalidValue);
        }
        Ok(req)
    }

    /// Encodes the payload (new form only; the old form is never sent).
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::KEX_DH_GEX_REQUEST);
        w.put_u32(self.min);
        w.put_u32(self.preferred);
        w.put_u32(self.max);
    }
}

/// `SSH_MSG_KEX_DH_GEX_GROUP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GexGroup<'a> {
    /// The safe prime `p` (magnitude).
    pub p: &'a [u8],
    /// The generator `g` (magnitude).
    pub g: &'a [u8],
}

impl<'a> GexGroup<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::KEX_REPLY)?;
        let p = r.mpint_positive()?;
        let g = r.mpint_positive()?;
        r.finish()?;
        Ok(Self { p, g })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::KEX_REPLY);
        w.put_mpint_positive(self.p);
        w.put_mpint_positive(self.g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9@.+-]{1,24}"
    }

    proptest! {
        #[test]
        fn kexinit_round_trip(
            cookie in any::<[u8; 16]>(),
            lists in proptest::collection::vec(proptest::collection::vec(name(), 0..6), KEXINIT_LISTS),
            follows in any::<bool>(),
        ) {
            let mut buf = Vec::new();
            encode_kexinit(&mut buf, &cookie, lists.iter().map(|l| l.iter().map(String::as_str)), follows);
            let k = KexInit::decode(&buf).unwrap();
            prop_assert_eq!(k.cookie, cookie);
            prop_assert_eq!(k.first_kex_follows, follows);
            for (parsed, orig) in k.lists.iter().zip(&lists) {
                prop_assert_eq!(&parsed.to_vec(), orig);
            }
            let mut again = Vec::new();
            k.encode(&mut again);
            prop_assert_eq!(again, buf);
        }

        #[test]
        fn disconnect_round_trip(reason in any::<u32>(), desc in proptest::collection::vec(any::<u8>(), 0..100)) {
            let d = Disconnect { reason, description: &desc, language: b"" };
            let mut buf = Vec::new();
            d.encode(&mut buf);
            prop_assert_eq!(Disconnect::decode(&buf).unwrap(), d);
        }

        #[test]
        fn ext_info_round_trip(exts in proptest::collection::vec((name(), proptest::collection::vec(any::<u8>(), 0..40)), 0..10)) {
            let e = ExtInfo { extensions: exts.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect() };
            let mut buf = Vec::new();
            e.encode(&mut buf);
            prop_assert_eq!(ExtInfo::decode(&buf).unwrap(), e);
        }

        #[test]
        fn kex_reply_round_trip(k in proptest::collection::vec(any::<u8>(), 0..100), q in proptest::collection::vec(any::<u8>(), 1..100), s in proptest::collection::vec(any::<u8>(), 0..100), mpint in any::<bool>()) {
            let mut q = q;
            if mpint {
                // magnitudes as the decoder returns them have no leading zero
                q[0] |= 1;
            }
            let reply = KexReply { host_key: &k, public: &q, signature: &s };
            let mut buf = Vec::new();
            reply.encode(msg::KEX_REPLY, mpint, &mut buf);
            prop_assert_eq!(KexReply::decode(&buf, msg::KEX_REPLY, mpint).unwrap(), reply);
        }

        #[test]
        fn gex_round_trip(min in 0u32..5000, d1 in 0u32..5000, d2 in 0u32..5000) {
            let req = GexRequest { min, preferred: min + d1, max: min + d1 + d2, old: false };
            let mut buf = Vec::new();
            req.encode(&mut buf);
            prop_assert_eq!(GexRequest::decode(&buf).unwrap(), req);
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = KexInit::decode(&data);
            let _ = Disconnect::decode(&data);
            let _ = ExtInfo::decode(&data);
            let _ = KexReply::decode(&data, msg::KEX_REPLY, true);
            let _ = GexRequest::decode(&data);
            let _ = GexGroup::decode(&data);
            let _ = Debug::decode(&data);
        }
    }

    #[test]
    fn gex_request_rejects_inverted_range() {
        let mut buf = Vec::new();
        GexRequest { min: 4096, preferred: 2048, max: 8192, old: false }.encode(&mut buf);
        assert_eq!(GexRequest::decode(&buf), Err(WireError::InvalidValue));
    }
}
