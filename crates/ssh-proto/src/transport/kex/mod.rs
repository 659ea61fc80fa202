//! Key exchange: the KEXINIT round, each method's messages, the exchange hash, key
//! derivation, NEWKEYS, and the strict-kex (Terrapin) rules.
//!
//! One [`Round`] exists from the moment either side sends KEXINIT until both NEWKEYS have
//! passed. Its [`Step`] names what the round expects next.

pub(crate) mod dh;
mod groups;
mod hash;
pub(crate) mod methods;
pub(crate) mod moduli;
pub(crate) mod negotiate;

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use zeroize::Zeroizing;

use self::dh::DhGroup;
use self::methods::{ClientSecret, SharedSecret};
use self::negotiate::{EXT_INFO_C, EXT_INFO_S, Negotiated, STRICT_KEX_C, STRICT_KEX_S};
use super::cipher::{DirectionKeys, Protection};
use super::{Side, Timer, Transport};
use crate::algorithm::{Algorithm, Cipher, Mac};
use crate::error::{Error, KexError};
use crate::event::{Event, HostKeyToken};
use crate::hostkey::{self, HostKey, ServerHostKey};
use crate::wire::transport::{ExtInfo, GexGroup, GexRequest, KexClientPublic, KexInit, KexReply, encode_kexinit};
use crate::wire::{Reader, WireWrite, msg};

/// The group-exchange parameters that enter the exchange hash.
struct GexParams {
    request: GexRequest,
    p: Vec<u8>,
    g: Vec<u8>,
}

/// Keys for both directions, as seen from this side.
struct Derived {
    tx: DirectionKeys,
    rx: DirectionKeys,
}

/// What the round expects next (named for what it expects, as rustls names its states).
#[allow(clippy::enum_variant_names, clippy::large_enum_variant)]
enum Step {
    /// We sent KEXINIT and wait for the peer's.
    ExpectKexInit,
    /// Client, group exchange: we sent GEX_REQUEST.
    ExpectGexGroup { request: GexRequest },
    /// Client: we sent our public value.
    ExpectReply { secret: ClientSecret, public: Vec<u8>, gex: Option<GexParams> },
    /// Client: the server's signature verified; the application must judge its host key.
    ExpectHostKeyDecision { token: HostKeyToken, key: ServerHostKey, keys: Box<Derived> },
    /// Server: waiting for the client's public value.
    ExpectClientPublic,
    /// Server, group exchange: waiting for GEX_REQUEST.
    ExpectGexRequest,
    /// Server, group exchange: we sent the group and wait for `e`.
    ExpectGexInit { gex: GexParams, group: DhGroup },
    /// We sent NEWKEYS; the peer's NEWKEYS switches the receiving direction.
    ExpectNewKeys { rx: Box<DirectionKeys> },
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Self::ExpectKexInit => "KEXINIT",
            Self::ExpectGexGroup { .. } => "KEX_DH_GEX_GROUP",
            Self::ExpectReply { .. } => "key exchange reply",
            Self::ExpectHostKeyDecision { .. } => "host key decision",
            Self::ExpectClientPublic => "key exchange init",
            Self::ExpectGexRequest => "KEX_DH_GEX_REQUEST",
            Self::ExpectGexInit { .. } => "KEX_DH_GEX_INIT",
            Self::ExpectNewKeys { .. } => "NEWKEYS",
        }
    }
}

/// One key exchange in progress.
pub(crate) struct Round {
    ours: Bytes,
    theirs: Option<Bytes>,
    neg: Option<Negotiated>,
    /// The peer guessed its first kex packet wrong: drop the next method message.
    skip_next: bool,
    newkeys_sent: bool,
    step: Step,
}

impl Round {
    pub(crate) fn awaiting_decision(&self) -> bool {
        matches!(self.step, Step::ExpectHostKeyDecision { .. })
    }

    pub(crate) fn strict(&self) -> bool {
        self.neg.is_some_and(|n| n.strict_kex)
    }

    pub(crate) fn peer_kexinit_seen(&self) -> bool {
        self.theirs.is_some()
    }

    pub(crate) fn newkeys_sent(&self) -> bool {
        self.newkeys_sent
    }

    #[cfg(test)]
    pub(crate) fn ours_payload(&self) -> Bytes {
        self.ours.clone()
    }
}

fn unexpected(number: u8, expected: &'static str) -> Error {
    Error::UnexpectedMessage { msg: number, expected }
}

/// OpenSSH's `dh_gen_key`: exponents of twice the needed security, at least 512 bits.
fn exponent_bits(neg: &Negotiated) -> u32 {
    neg.need_bits().max(256) * 2
}

impl Transport {
    fn host_key_names(&self) -> Result<Vec<&'static str>, Error> {
        let list = self.cfg.algorithms.host_key.as_slice();
        match &self.side {
            Side::Client { .. } => Ok(list.iter().map(|a| a.name()).collect()),
            Side::Server(cfg) => {
                let names: Vec<_> = list
                    .iter()
                    .filter(|a| cfg.host_keys.iter().any(|k| k.algorithms().contains(a)))
                    .map(|a| a.name())
                    .collect();
                if names.is_empty() {
                    return Err(Error::Config("no host key matches the enabled host key algorithms".into()));
                }
                Ok(names)
            }
        }
    }

    /// Sends our KEXINIT and opens a round.
    pub(crate) fn start_kex(&mut self) -> Result<(), Error> {
        let a = &self.cfg.algorithms;
        let client = self.is_client();
        let mut kex: Vec<&str> = a.kex.names();
        if self.kex_count == 0 {
            kex.push(if client { EXT_INFO_C } else { EXT_INFO_S });
            if self.cfg.strict_kex {
                kex.push(if client { STRICT_KEX_C } else { STRICT_KEX_S });
            }
        }
        let host = self.host_key_names()?;
        let ciphers = a.cipher.names();
        let macs = a.mac.names();
        let comp = a.compression.names();
        let none: Vec<&str> = Vec::new();
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let mut payload = BytesMut::with_capacity(1024);
        encode_kexinit(
            &mut payload,
            &cookie,
            [&kex, &host, &ciphers, &ciphers, &macs, &macs, &comp, &comp, &none, &none].map(|l| l.iter().copied()),
            false,
        );
        let payload = payload.freeze();
        self.send_now(|w| w.extend_from_slice(&payload))?;
        self.kex = Some(Box::new(Round {
            ours: payload,
            theirs: None,
            neg: None,
            skip_next: false,
            newkeys_sent: false,
            step: Step::ExpectKexInit,
        }));
        self.set_timer(Timer::Rekey, None);
        Ok(())
    }

    pub(crate) fn handle_kex_message(&mut self, number: u8, pkt: super::Received, now: Instant) -> Result<(), Error> {
        match number {
            msg::KEXINIT => self.on_kexinit(pkt),
            msg::NEWKEYS => self.on_newkeys(&pkt.payload, now),
            msg::KEX_INIT..=49 => self.on_method_message(number, &pkt.payload),
            _ => Err(unexpected(number, "key exchange message")),
        }
    }

    fn on_kexinit(&mut self, pkt: super::Received) -> Result<(), Error> {
        if self.kex.is_none() {
            self.start_kex()?;
        }
        let initial = self.kex_count == 0;
        let client = self.is_client();
        // Strict kex is agreed in the first exchange and holds for the whole connection:
        // sequence numbers reset at every NEWKEYS, not only the first (OpenSSH PROTOCOL
        // 1.9 b; Paramiko and OpenSSH 9.6+ do so).
        let strict_agreed = self.negotiated.is_some_and(|n| n.strict_kex);
        let Some(round) = self.kex.as_mut() else { return Err(unexpected(msg::KEXINIT, "no KEXINIT")) };
        if round.theirs.is_some() {
            return Err(unexpected(msg::KEXINIT, "one KEXINIT per exchange"));
        }
        let theirs = KexInit::decode(&pkt.payload).map_err(Transport::wire_error(msg::KEXINIT))?;
        let ours = KexInit::decode(&round.ours).map_err(Transport::wire_error(msg::KEXINIT))?;
        let (c, s) = if client { (&ours, &theirs) } else { (&theirs, &ours) };
        let mut neg = negotiate::negotiate(c, s, client, initial)?;
        if neg.strict_kex && pkt.seq != 0 {
            // With strict kex the peer's KEXINIT must be its very first packet.
            return Err(Error::StrictKexViolation { msg: msg::KEXINIT, seq: pkt.seq });
        }
        if !initial {
            neg.strict_kex = strict_agreed;
        }
        let skip_next = theirs.first_kex_follows && negotiate::guess_was_wrong(c, s);
        let wants_ext = theirs.lists[0].contains(if client { EXT_INFO_S } else { EXT_INFO_C });
        round.skip_next = skip_next;
        round.neg = Some(neg);
        round.theirs = Some(pkt.payload.clone());
        if initial {
            self.peer_wants_ext_info = wants_ext;
        }
        match &self.side {
            Side::Client { gex } => {
                if neg.kex.is_group_exchange() {
                    let preferred = dh::estimate_group_bits(neg.need_bits()).clamp(gex.min, gex.max);
                    let request = GexRequest { min: gex.min, preferred, max: gex.max, old: false };
                    self.send_now(|w| request.encode(w))?;
                    self.set_step(Step::ExpectGexGroup { request });
                } else {
                    let (secret, public) = methods::client_init(neg.kex, None, exponent_bits(&neg), &mut *self.rng)?;
                    self.send_client_public(msg::KEX_INIT, neg.kex.public_is_mpint(), &public)?;
                    self.set_step(Step::ExpectReply { secret, public, gex: None });
                }
            }
            Side::Server(_) => {
                let step = if neg.kex.is_group_exchange() { Step::ExpectGexRequest } else { Step::ExpectClientPublic };
                self.set_step(step);
            }
        }
        Ok(())
    }

    fn set_step(&mut self, step: Step) {
        if let Some(r) = self.kex.as_mut() {
            r.step = step;
        }
    }

    fn send_client_public(&mut self, number: u8, mpint: bool, public: &[u8]) -> Result<(), Error> {
        self.send_now(|w| {
            w.put_u8(number);
            if mpint {
                w.put_mpint_positive(public);
            } else {
                w.put_string(public);
            }
        })
    }

    fn on_method_message(&mut self, number: u8, payload: &[u8]) -> Result<(), Error> {
        let Some(round) = self.kex.as_mut() else {
            return Err(unexpected(number, "no key exchange in progress"));
        };
        let Some(neg) = round.neg else {
            return Err(unexpected(number, "KEXINIT"));
        };
        if round.skip_next {
            round.skip_next = false;
            return Ok(());
        }
        let step = core::mem::replace(&mut round.step, Step::ExpectKexInit);
        let mpint = neg.kex.public_is_mpint();
        match (step, number) {
            (Step::ExpectGexGroup { request }, msg::KEX_REPLY) => {
                let g = GexGroup::decode(payload).map_err(Transport::wire_error(number))?;
                let group = DhGroup::new(g.p, g.g)?;
                if group.bits() < request.min || group.bits() > request.max {
                    return Err(KexError::BadGroup(format!(
                        "{} bits outside the requested {}..{}",
                        group.bits(),
                        request.min,
                        request.max
                    ))
                    .into());
                }
                let gex = GexParams { request, p: group.p_bytes().to_vec(), g: group.g_bytes().to_vec() };
                let (secret, public) = methods::client_init(neg.kex, Some(group), exponent_bits(&neg), &mut *self.rng)?;
                self.send_client_public(msg::KEX_DH_GEX_INIT, true, &public)?;
                self.set_step(Step::ExpectReply { secret, public, gex: Some(gex) });
                Ok(())
            }
            (Step::ExpectReply { secret, public, gex }, n)
                if n == if gex.is_some() { msg::KEX_DH_GEX_REPLY } else { msg::KEX_REPLY } =>
            {
                let reply = KexReply::decode(payload, n, mpint).map_err(Transport::wire_error(n))?;
                let k = secret.finish(reply.public)?;
                let h = self.exchange_hash(&neg, reply.host_key, gex.as_ref(), &public, reply.public, &k)?;
                let key = hostkey::verify(neg.host_key, reply.host_key, reply.signature, &h)?;
                let keys = Box::new(self.derive_keys(&neg, &k, &h));
                if self.kex_count == 0 {
                    let token = HostKeyToken(self.next_token);
                    self.next_token += 1;
                    self.events.push_back(Event::HostKey { token, key: Box::new(key.clone()) });
                    self.set_step(Step::ExpectHostKeyDecision { token, key, keys });
                    Ok(())
                } else {
                    // A re-exchange must present the key the application accepted.
                    if self.host_key.as_ref().map(|k| k.blob()) != Some(key.blob()) {
                        return Err(KexError::HostKeyChanged.into());
                    }
                    self.send_newkeys(*keys)
                }
            }
            (Step::ExpectClientPublic, msg::KEX_INIT) => {
                let c =
                    KexClientPublic::decode(payload, msg::KEX_INIT, mpint).map_err(Transport::wire_error(number))?;
                self.server_reply(&neg, c.public, None)
            }
            (Step::ExpectGexRequest, msg::KEX_DH_GEX_REQUEST | msg::KEX_INIT) => {
                let request = GexRequest::decode(payload).map_err(Transport::wire_error(number))?;
                let Side::Server(cfg) = &self.side else {
                    return Err(unexpected(number, "server role"));
                };
                // OpenSSH clamps the request to its own DH_GRP_MIN..DH_GRP_MAX.
                let min = request.min.max(2048);
                let max = request.max.min(8192);
                let preferred = request.preferred.clamp(min, max.max(min));
                let group = cfg.clone().moduli.choose(min, preferred, max, &mut *self.rng).ok_or(
                    KexError::NoSuitableGroup { min: request.min, preferred: request.preferred, max: request.max },
                )?;
                let gex = GexParams { request, p: group.p_bytes().to_vec(), g: group.g_bytes().to_vec() };
                self.send_now(|w| GexGroup { p: &gex.p, g: &gex.g }.encode(w))?;
                self.set_step(Step::ExpectGexInit { gex, group });
                Ok(())
            }
            (Step::ExpectGexInit { gex, group }, msg::KEX_DH_GEX_INIT) => {
                let c = KexClientPublic::decode(payload, number, true).map_err(Transport::wire_error(number))?;
                self.server_reply(&neg, c.public, Some((gex, group)))
            }
            (step, n) => {
                let expected = step.name();
                self.set_step(step);
                Err(unexpected(n, expected))
            }
        }
    }

    fn server_host_key(&self, neg: &Negotiated) -> Result<HostKey, Error> {
        match &self.side {
            Side::Server(cfg) => cfg
                .host_keys
                .iter()
                .find(|k| k.algorithms().contains(&neg.host_key))
                .cloned()
                .ok_or_else(|| KexError::SigningFailed(format!("no {} host key", neg.host_key.name())).into()),
            Side::Client { .. } => Err(Error::ApiMisuse("server-only operation")),
        }
    }

    fn server_reply(
        &mut self,
        neg: &Negotiated,
        client_public: &[u8],
        gex: Option<(GexParams, DhGroup)>,
    ) -> Result<(), Error> {
        let key = self.server_host_key(neg)?;
        let (server_public, k) = methods::server_exchange(
            neg.kex,
            gex.as_ref().map(|(_, g)| g),
            exponent_bits(neg),
            client_public,
            &mut *self.rng,
        )?;
        let k_s = key.public_blob(neg.host_key)?;
        let h = self.exchange_hash(neg, &k_s, gex.as_ref().map(|(p, _)| p), client_public, &server_public, &k)?;
        let signature = key.sign(neg.host_key, &h, &mut *self.rng)?;
        let number = if gex.is_some() { msg::KEX_DH_GEX_REPLY } else { msg::KEX_REPLY };
        let reply = KexReply { host_key: &k_s, public: &server_public, signature: &signature };
        self.send_now(|w| reply.encode(number, neg.kex.public_is_mpint(), w))?;
        let keys = self.derive_keys(neg, &k, &h);
        self.send_newkeys(keys)
    }

    /// H = HASH(V_C ‖ V_S ‖ I_C ‖ I_S ‖ K_S ‖ [GEX params] ‖ Q_C/e ‖ Q_S/f ‖ K); fixes the
    /// session identifier on the first exchange.
    fn exchange_hash(
        &mut self,
        neg: &Negotiated,
        k_s: &[u8],
        gex: Option<&GexParams>,
        client_public: &[u8],
        server_public: &[u8],
        k: &SharedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let round = self.kex.as_ref().ok_or(Error::ApiMisuse("no key exchange"))?;
        let theirs = round.theirs.as_ref().ok_or(Error::ApiMisuse("no peer KEXINIT"))?;
        let peer_id = self.peer_id.as_ref().map(|v| v.line.as_bytes()).unwrap_or_default();
        let (v_c, v_s, i_c, i_s) = if self.is_client() {
            (self.local_id.as_bytes(), peer_id, &round.ours[..], &theirs[..])
        } else {
            (peer_id, self.local_id.as_bytes(), &theirs[..], &round.ours[..])
        };
        let mut buf = Zeroizing::new(Vec::with_capacity(4096));
        buf.put_string(v_c);
        buf.put_string(v_s);
        buf.put_string(i_c);
        buf.put_string(i_s);
        buf.put_string(k_s);
        if let Some(g) = gex {
            if g.request.old {
                buf.put_u32(g.request.preferred);
            } else {
                buf.put_u32(g.request.min);
                buf.put_u32(g.request.preferred);
                buf.put_u32(g.request.max);
            }
            buf.put_mpint_positive(&g.p);
            buf.put_mpint_positive(&g.g);
        }
        if neg.kex.public_is_mpint() {
            buf.put_mpint_positive(client_public);
            buf.put_mpint_positive(server_public);
        } else {
            buf.put_string(client_public);
            buf.put_string(server_public);
        }
        buf.extend_from_slice(&k.0);
        let h = hash::digest(neg.kex.hash(), &[&buf]);
        if self.session_id.is_none() {
            self.session_id = Some(Bytes::copy_from_slice(&h));
        }
        Ok(h)
    }

    fn derive_keys(&self, neg: &Negotiated, k: &SharedSecret, h: &[u8]) -> Derived {
        let sid = self.session_id.as_deref().unwrap_or_default();
        let hash = neg.kex.hash();
        let dir = |cipher: Cipher, mac: Option<Mac>, letters: [u8; 3]| DirectionKeys {
            cipher,
            mac,
            iv: hash::derive_key(hash, &k.0, h, letters[0], sid, cipher.iv_len()),
            key: hash::derive_key(hash, &k.0, h, letters[1], sid, cipher.key_len()),
            mac_key: hash::derive_key(hash, &k.0, h, letters[2], sid, mac.map_or(0, Mac::key_len)),
        };
        let c2s = dir(neg.cipher_c2s, neg.mac_c2s, *b"ACE");
        let s2c = dir(neg.cipher_s2c, neg.mac_s2c, *b"BDF");
        if self.is_client() { Derived { tx: c2s, rx: s2c } } else { Derived { tx: s2c, rx: c2s } }
    }

    /// Sends NEWKEYS and switches the sending direction to the new keys.
    fn send_newkeys(&mut self, keys: Derived) -> Result<(), Error> {
        let neg = self.kex.as_ref().and_then(|r| r.neg).ok_or(Error::ApiMisuse("no key exchange"))?;
        self.send_now(|w| w.put_u8(msg::NEWKEYS))?;
        let protection = Protection::new(&keys.tx, true)
            .ok_or_else(|| Error::Kex(KexError::SigningFailed("cannot initialise cipher".into())))?;
        self.sealer.protection = protection;
        if neg.strict_kex {
            self.sealer.seq = 0;
        }
        self.sealer.counters = Default::default();
        let tx_comp = if self.is_client() { neg.compression_c2s } else { neg.compression_s2c };
        self.sealer.set_compression(self.compression_active(tx_comp));
        if let Some(r) = self.kex.as_mut() {
            r.newkeys_sent = true;
            r.step = Step::ExpectNewKeys { rx: Box::new(keys.rx) };
        }
        if let (0, true, Side::Server(cfg)) = (self.kex_count, self.peer_wants_ext_info, &self.side) {
            {
                let sig_algs = cfg.server_sig_algs.join(",");
                let mut extensions = vec![("ping@openssh.com", &b"0"[..])];
                // An empty list would tell the client "no algorithm is accepted".
                if !sig_algs.is_empty() {
                    extensions.insert(0, ("server-sig-algs", sig_algs.as_bytes()));
                }
                let ext = ExtInfo { extensions };
                self.send_now(|w| ext.encode(w))?;
            }
        }
        self.flush_deferred()
    }

    fn on_newkeys(&mut self, payload: &[u8], now: Instant) -> Result<(), Error> {
        let mut r = Reader::new(payload);
        let _ = r.u8();
        r.finish().map_err(Transport::wire_error(msg::NEWKEYS))?;
        let Some(round) = self.kex.as_mut() else {
            return Err(unexpected(msg::NEWKEYS, "no key exchange in progress"));
        };
        let Some(neg) = round.neg else { return Err(unexpected(msg::NEWKEYS, "KEXINIT")) };
        let step = core::mem::replace(&mut round.step, Step::ExpectKexInit);
        let Step::ExpectNewKeys { rx } = step else {
            let expected = step.name();
            round.step = step;
            return Err(unexpected(msg::NEWKEYS, expected));
        };
        self.opener.protection = Protection::new(&rx, false)
            .ok_or_else(|| Error::Kex(KexError::SigningFailed("cannot initialise cipher".into())))?;
        if neg.strict_kex {
            self.opener.seq = 0;
        }
        self.opener.counters = Default::default();
        let rx_comp = if self.is_client() { neg.compression_s2c } else { neg.compression_c2s };
        self.opener.set_compression(self.compression_active(rx_comp));

        let initial = self.kex_count == 0;
        self.kex = None;
        self.kex_count += 1;
        self.negotiated = Some(neg);
        if initial {
            self.set_timer(Timer::Handshake, None);
        }
        self.set_timer(Timer::Rekey, self.cfg.rekey.time.map(|d| now + d));
        self.events.push_back(Event::KeysExchanged { negotiated: neg, initial });
        Ok(())
    }

    /// Client: the application trusts the host key of the pending first exchange.
    pub(crate) fn accept_host_key(&mut self, token: HostKeyToken) -> Result<(), Error> {
        let Some(round) = self.kex.as_mut() else { return Err(Error::ApiMisuse("no host key decision pending")) };
        match core::mem::replace(&mut round.step, Step::ExpectKexInit) {
            Step::ExpectHostKeyDecision { token: t, key, keys } if t == token => {
                self.host_key = Some(key);
                self.send_newkeys(*keys).map_err(|e| self.fail(e))
            }
            other => {
                round.step = other;
                Err(Error::ApiMisuse("no host key decision pending for this token"))
            }
        }
    }

    /// Client: the application does not trust the host key.
    pub(crate) fn reject_host_key(&mut self, token: HostKeyToken) -> Result<(), Error> {
        match self.kex.as_ref().map(|r| &r.step) {
            Some(Step::ExpectHostKeyDecision { token: t, .. }) if *t == token => Err(self.fail(Error::HostKeyRejected)),
            _ => Err(Error::ApiMisuse("no host key decision pending for this token")),
        }
    }
}
