//! Fuzz target bodies (feature `fuzzing`), compiled by CI and called by the cargo-fuzz targets in `fuzz/`.
//!
//! Every body takes arbitrary bytes and must not panic on any input. The only panics are the
//! assertions below: each one is a property of the core that a hostile peer must not be able
//! to break (a decoded message re-encodes to the same bytes, a forged packet is never
//! accepted, a closed connection stays closed, output stays bounded), so a panic here is a
//! bug in the core, not in the harness.
//!
//! Inputs are read with a forgiving cursor (missing bytes read as zero), so every byte string
//! is a valid input and the mutator never wastes executions on a rejected header.
//!
//! | body | what it drives |
//! |---|---|
//! | [`version_line`] | the identification-line reader, both roles, whole vs fragmented |
//! | [`transport_messages`] | every decoder of [`crate::wire::transport`] plus [`Reader`] / [`NameList`] |
//! | [`packet_decoder`] | the packet opener under every cipher/MAC, fed sealed packets then tampering |
//! | [`client_connection`] / [`server_connection`] | a connection after a real handshake under the `none` cipher, fed raw packets |
//! | [`client_payloads`] / [`server_payloads`] | a connection after a real handshake under real ciphers, fed payloads sealed by its peer |
//! | [`auth_messages`] | every user-authentication decoder, decode/encode round trips |
//! | [`connection_messages`] | every connection-protocol decoder, typed channel/global requests, channel types, terminal modes |
//! | [`client_session`] / [`server_session`] | a connection during user authentication or with an open session channel, fed payloads and channel commands, answering decisions by a fuzzer-chosen policy |
//!
//! [`seeds`] builds the initial corpus (committed under `fuzz/seeds/<target>/`); [`TARGETS`]
//! names every body for the corpus replay test (`tests/fuzz_regressions.rs`).

// A fuzz harness reports bugs by panicking; setup steps that cannot fail on a correct core
// (a fixed handshake in memory) use `expect`.
#![allow(clippy::expect_used, clippy::panic)]

mod agent;
mod files;
mod known_hosts;
mod messages;
mod session;
mod ssh_config;

pub use agent::agent_messages;
pub use files::{certificates, key_files};
pub use known_hosts::known_hosts;
pub use messages::{auth_messages, connection_messages};
pub use session::{client_session, server_session};
pub use ssh_config::ssh_config;

/// Seeds as `(target, name, bytes)`.
type Seeds = Vec<(&'static str, String, Vec<u8>)>;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zeroize::Zeroizing;

use crate::algorithm::{AlgorithmList, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac};
use crate::testing::Pair;
use crate::transport::BannerLimits;
use crate::transport::Transport;
use crate::transport::cipher::{DirectionKeys, Protection};
use crate::transport::packet::{Opener, Sealer};
use crate::transport::version::VersionReader;
use crate::wire::transport::{
    Debug as DebugMsg, Disconnect, ExtInfo, GexGroup, GexRequest, KexClientPublic, KexInit, KexReply, OpaqueData,
    Service, Unimplemented, encode_kexinit,
};
use crate::wire::{NameList, Reader, WireWrite, mpint_encoded_len, msg};
use crate::{DisconnectReason, Error, Event, HostKey, SeededRng, client, server};

/// A fuzz body: arbitrary bytes in, a panic only on a broken property.
pub type FuzzBody = fn(&[u8]);

/// Every fuzz body by target name (the names of the cargo-fuzz targets and of the
/// `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` directories).
pub const TARGETS: &[(&str, FuzzBody)] = &[
    ("version_line", version_line),
    ("transport_messages", transport_messages),
    ("packet_decoder", packet_decoder),
    ("client_connection", client_connection),
    ("server_connection", server_connection),
    ("client_payloads", client_payloads),
    ("server_payloads", server_payloads),
    ("auth_messages", auth_messages),
    ("connection_messages", connection_messages),
    ("client_session", client_session),
    ("server_session", server_session),
    ("key_files", key_files),
    ("certificates", certificates),
    ("known_hosts", known_hosts),
    ("ssh_config", ssh_config),
    ("agent_messages", agent_messages),
];

// ---- input helpers -----------------------------------------------------------------------

/// A cursor that never fails: reads past the end return zeros / empty slices.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Fragment sizes chosen by the fuzzer, cycled: `count (mod 8)` then one byte per size,
/// where 0 means "everything that is left".
#[derive(Clone, Debug)]
struct Chunks {
    sizes: Vec<u8>,
    pos: usize,
}

impl Chunks {
    fn parse(input: &mut Input<'_>) -> Self {
        let n = usize::from(input.u8() % 8);
        Self { sizes: input.bytes(n).to_vec(), pos: 0 }
    }

    fn encode(sizes: &[u8]) -> Vec<u8> {
        let mut v = vec![sizes.len() as u8];
        v.extend_from_slice(sizes);
        v
    }

    /// Length of the next fragment (at least 1 when `remaining > 0`).
    fn next(&mut self, remaining: usize) -> usize {
        if self.sizes.is_empty() {
            return remaining;
        }
        let s = self.sizes.get(self.pos % self.sizes.len()).copied().unwrap_or(0);
        self.pos += 1;
        if s == 0 { remaining } else { usize::from(s).min(remaining) }
    }

    /// Splits `data` into fragments.
    fn split<'d>(&mut self, data: &'d [u8]) -> Vec<&'d [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(self.next(rest.len()));
            out.push(head);
            rest = tail;
        }
        out
    }
}

// ---- version_line ------------------------------------------------------------------------

/// The identification-line reader (RFC 4253 §4.2), in client mode (pre-banner lines allowed)
/// or server mode, with default or tiny limits, fed whole and in fuzzer-chosen fragments.
///
/// Input: `mode` (bit 0: client mode, bit 1: tiny limits), [`Chunks`], then the stream.
///
/// Properties: both feeds give the same result; a parsed identification is well formed and
/// within the line limit; bytes after the line are left in the buffer untouched.
pub fn version_line(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let allow_pre_banner = mode & 1 != 0;
    let limits = if mode & 2 != 0 { BannerLimits { max_lines: 3, max_line_len: 48 } } else { BannerLimits::default() };
    let mut chunks = Chunks::parse(&mut input);
    let stream = input.rest();

    let mut whole_reader = VersionReader::new(limits, allow_pre_banner);
    let mut whole_buf = BytesMut::from(stream);
    let whole = whole_reader.poll(&mut whole_buf);

    let mut reader = VersionReader::new(limits, allow_pre_banner);
    let mut buf = BytesMut::new();
    let mut fragmented = Ok(None);
    for piece in chunks.split(stream) {
        buf.extend_from_slice(piece);
        fragmented = reader.poll(&mut buf);
        if !matches!(fragmented, Ok(None)) {
            break;
        }
    }
    assert_eq!(fragmented, whole, "fragmentation changed the result");
    assert_eq!(reader.first_line(), whole_reader.first_line());

    if let Ok(Some(v)) = &whole {
        // What is left after the line is the rest of the stream, byte for byte.
        assert!(whole_buf.len() < stream.len());
        assert!(stream.ends_with(&whole_buf));
        assert!(whole_buf.starts_with(&buf), "fragmented remainder is not a prefix of the whole remainder");
        assert!(v.line.len() < limits.max_line_len, "identification longer than the line limit");
        assert!(v.line.starts_with("SSH-2.0-") || v.line.starts_with("SSH-1.99-"), "{:?}", v.line);
        assert!(!v.line.contains(['\n', '\0']), "{:?}", v.line);
        assert!(!v.software.is_empty() && !v.software.contains(' '), "{:?}", v.software);
        let proto = if v.line.starts_with("SSH-2.0-") { "2.0" } else { "1.99" };
        let rebuilt = match &v.comments {
            Some(c) => format!("SSH-{proto}-{} {c}", v.software),
            None => format!("SSH-{proto}-{}", v.software),
        };
        assert_eq!(rebuilt, v.line);
        // The line as received (minus CR LF) is what enters the exchange hash.
        let consumed = stream.len() - whole_buf.len();
        let raw = stream.get(..consumed).unwrap_or_default();
        assert!(raw.ends_with(b"\n"));
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.ends_with(v.line.as_bytes()));
    }
}

// ---- transport_messages ------------------------------------------------------------------

fn reencode(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    f(&mut v);
    v
}

/// `string` header + body.
fn string_len(s: &[u8]) -> usize {
    4 + s.len()
}

/// Every decoder of [`crate::wire::transport`] on the same bytes, and [`Reader`] field reads
/// from several offsets.
///
/// Property: whatever decodes re-encodes to the input, up to the three places where the
/// format is not canonical and the encoder writes the canonical form: a `boolean` is sent as
/// 0/1 (any non-zero byte reads as true), KEXINIT's reserved `uint32` is sent as 0, and the
/// optional language tag of DISCONNECT / DEBUG is always sent (an omitted one reads as empty).
/// The old one-field GEX request has no encoder. Decoding the re-encoding gives the same value.
pub fn transport_messages(data: &[u8]) {
    let first = data.first().copied().unwrap_or(0);

    if let Ok(m) = Disconnect::decode(data) {
        let enc = reencode(|w| m.encode(w));
        let with_lang = 1 + 4 + string_len(m.description) + string_len(m.language);
        if data.len() == with_lang {
            assert_eq!(enc, data);
        } else {
            assert!(m.language.is_empty() && data.len() + 4 == with_lang);
            assert_eq!(enc.get(..data.len()), Some(data));
        }
        assert_eq!(Disconnect::decode(&enc), Ok(m));
    }
    if let Ok(m) = DebugMsg::decode(data) {
        let enc = reencode(|w| m.encode(w));
        let mut expected = data.to_vec();
        if let Some(b) = expected.get_mut(1) {
            *b = u8::from(*b != 0);
        }
        let with_lang = 1 + 1 + string_len(m.message) + string_len(m.language);
        if data.len() != with_lang {
            assert!(m.language.is_empty() && data.len() + 4 == with_lang);
            expected.extend_from_slice(&[0; 4]);
        }
        assert_eq!(enc, expected);
        assert_eq!(DebugMsg::decode(&enc), Ok(m));
    }
    if let Ok(m) = OpaqueData::decode(data, first) {
        let enc = reencode(|w| m.encode(first, w));
        assert_eq!(enc, data);
    }
    if let Ok(m) = Unimplemented::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(m) = Service::decode(data, first) {
        assert_eq!(reencode(|w| m.encode(first, w)), data);
    }
    if let Ok(m) = ExtInfo::decode(data) {
        assert!(m.extensions.len() <= crate::wire::transport::MAX_EXTENSIONS as usize);
        let enc = reencode(|w| m.encode(w));
        assert_eq!(enc, data);
        assert_eq!(ExtInfo::decode(&enc), Ok(m));
    }
    if let Ok(m) = KexInit::decode(data) {
        let enc = reencode(|w| m.encode(w));
        let mut expected = data.to_vec();
        let n = expected.len();
        // ... boolean first_kex_packet_follows, uint32 reserved (RFC 4253 §7.1).
        if let Some((b, reserved)) = expected.get_mut(n.saturating_sub(5)..).and_then(|t| t.split_first_mut()) {
            *b = u8::from(*b != 0);
            reserved.fill(0);
        }
        assert_eq!(enc, expected);
        let again = KexInit::decode(&enc).expect("re-encoded KEXINIT decodes");
        assert_eq!((again.cookie, again.lists, again.first_kex_follows), (m.cookie, m.lists, m.first_kex_follows));
        assert_eq!(again.reserved, 0);
        // The generic encoder from names gives the same bytes.
        let from_names = reencode(|w| {
            encode_kexinit(w, &m.cookie, m.lists.iter().map(|l| l.iter()), m.first_kex_follows);
        });
        assert_eq!(from_names, enc);
    }
    for mpint in [false, true] {
        if let Ok(m) = KexReply::decode(data, first, mpint) {
            let enc = reencode(|w| m.encode(first, mpint, w));
            assert_eq!(enc, data);
        }
        if let Ok(m) = KexClientPublic::decode(data, first, mpint) {
            // No encoder: the kex code writes it field by field, exactly like this.
            let enc = reencode(|w| {
                w.push(first);
                if mpint {
                    w.put_mpint_positive(m.public);
                } else {
                    w.put_string(m.public);
                }
            });
            assert_eq!(enc, data);
        }
    }
    if let Ok(m) = GexRequest::decode(data) {
        assert!(m.old || (m.min <= m.preferred && m.preferred <= m.max));
        if !m.old {
            assert_eq!(reencode(|w| m.encode(w)), data);
        } else {
            assert_eq!(data.len(), 5);
        }
    }
    if let Ok(m) = GexGroup::decode(data) {
        assert_eq!(reencode(|w| m.encode(w)), data);
    }
    if let Ok(list) = NameList::parse(data) {
        check_name_list(list, data);
    }
    for start in [0usize, 1, 5, 17] {
        reader_walk(data.get(start..).unwrap_or_default());
    }
}

fn check_name_list(list: NameList<'_>, raw: &[u8]) {
    assert_eq!(list.as_str().as_bytes(), raw);
    let names = list.to_vec();
    assert!(names.len() <= crate::wire::MAX_NAMES);
    assert_eq!(names.join(","), list.as_str());
    for n in &names {
        assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b','), "{n:?}");
        assert!(list.contains(n));
    }
}

/// Reads one field kind repeatedly until it fails, checking each field re-encodes to the bytes
/// it was read from.
fn reader_walk(buf: &[u8]) {
    for kind in 0..5u8 {
        let mut r = Reader::new(buf);
        for _ in 0..64 {
            let before = r.remaining();
            let consumed = |r: &Reader<'_>| before.get(..before.len() - r.remaining().len()).unwrap_or_default();
            match kind {
                0 => match r.string() {
                    Ok(s) => assert_eq!(reencode(|w| w.put_string(s)), consumed(&r)),
                    Err(_) => break,
                },
                1 => match r.name_list() {
                    Ok(l) => {
                        let raw = consumed(&r);
                        check_name_list(l, raw.get(4..).unwrap_or_default());
                        assert_eq!(reencode(|w| w.put_name_list(l.iter())), raw);
                    }
                    Err(_) => break,
                },
                2 => match r.mpint_positive() {
                    Ok(m) => {
                        assert!(m.first() != Some(&0), "mpint magnitude with a leading zero");
                        let raw = consumed(&r);
                        assert_eq!(reencode(|w| w.put_mpint_positive(m)), raw);
                        assert_eq!(mpint_encoded_len(m), raw.len());
                    }
                    Err(_) => break,
                },
                3 => match r.utf8() {
                    Ok(s) => assert_eq!(reencode(|w| w.put_string(s.as_bytes())), consumed(&r)),
                    Err(_) => break,
                },
                _ => match (r.bool(), r.u32(), r.u64()) {
                    (Ok(_), Ok(a), Ok(b)) => {
                        let raw = consumed(&r);
                        assert_eq!(raw.len(), 13);
                        assert_eq!(raw.get(1..5), Some(&a.to_be_bytes()[..]));
                        assert_eq!(raw.get(5..), Some(&b.to_be_bytes()[..]));
                    }
                    _ => break,
                },
            }
        }
        let _ = r.finish();
    }
}

// ---- packet_decoder ----------------------------------------------------------------------

const MAX_PACKET: usize = 256 * 1024;

/// Index 0 is the pre-NEWKEYS plain framing; the rest are keyed ciphers.
const PACKET_CIPHERS: [Option<Cipher>; 12] = [
    None,
    Some(Cipher::ChaCha20Poly1305),
    Some(Cipher::Aes128Gcm),
    Some(Cipher::Aes256Gcm),
    Some(Cipher::Aes128Ctr),
    Some(Cipher::Aes192Ctr),
    Some(Cipher::Aes256Ctr),
    Some(Cipher::Aes128Cbc),
    Some(Cipher::Aes192Cbc),
    Some(Cipher::Aes256Cbc),
    Some(Cipher::TripleDesCbc),
    Some(Cipher::None),
];

const PACKET_MACS: [Mac; 7] = [
    Mac::HmacSha256Etm,
    Mac::HmacSha512Etm,
    Mac::HmacSha1Etm,
    Mac::HmacSha256,
    Mac::HmacSha512,
    Mac::HmacSha1,
    Mac::None,
];

fn fixed_keys(cipher: Cipher, mac: Option<Mac>) -> DirectionKeys {
    DirectionKeys {
        cipher,
        mac,
        iv: Zeroizing::new(vec![0x22; cipher.iv_len()]),
        key: Zeroizing::new(vec![0x11; cipher.key_len()]),
        mac_key: Zeroizing::new(vec![0x33; mac.map_or(0, Mac::key_len)]),
    }
}

/// Builds the packet_decoder header for a suite.
fn packet_header(cipher: usize, mac: usize, compress: bool, seq_from_end: Option<u8>, chunks: &[u8]) -> Vec<u8> {
    let mut v = vec![cipher as u8, mac as u8 | (u8::from(compress) << 3) | (u8::from(seq_from_end.is_some()) << 4)];
    v.push(seq_from_end.unwrap_or(0));
    v.extend(Chunks::encode(chunks));
    v
}

/// The packet opener under one cipher suite with fixed keys.
///
/// Input: `cipher` (index mod 12 into plain, the ten ciphers and `none`), `flags` (bits 0-2:
/// MAC for non-AEAD ciphers, bit 3: zlib, bit 4: start near the sequence number wrap),
/// `seq` (distance from the wrap), [`Chunks`], `count (mod 16)` payloads of `u16 length ‖
/// bytes` that a matching sealer seals, `count (mod 8)` mutations of `u16 position ‖ u8 xor`
/// applied to the sealed stream, then raw bytes appended to it.
///
/// Properties: untouched sealed payloads come out identical and in order whatever the
/// fragmentation; with an authenticated suite no packet other than the sealed ones is ever
/// accepted (tampering and appended bytes are always rejected); with an unauthenticated one
/// every packet before the first tampered byte comes out intact.
pub fn packet_decoder(data: &[u8]) {
    let mut input = Input::new(data);
    let cipher = PACKET_CIPHERS.get(usize::from(input.u8()) % PACKET_CIPHERS.len()).copied().flatten();
    let flags = input.u8();
    let seq_offset = input.u8();
    let mut chunks = Chunks::parse(&mut input);

    let mac = PACKET_MACS.get(usize::from(flags & 7) % PACKET_MACS.len()).copied().unwrap_or(Mac::None);
    let compress = flags & 8 != 0;
    let seq = if flags & 16 != 0 { u32::MAX - u32::from(seq_offset) } else { 0 };

    let mut sealer = Sealer::new();
    let mut opener = Opener::new();
    let authenticated = match cipher {
        None => false,
        Some(c) => {
            let mac = (!c.is_aead()).then_some(mac);
            let keys = fixed_keys(c, mac);
            sealer.protection = Protection::new(&keys, true).expect("fixed keys fit");
            opener.protection = Protection::new(&keys, false).expect("fixed keys fit");
            c.is_aead() || mac.is_some_and(|m| m != Mac::None)
        }
    };
    sealer.seq = seq;
    opener.seq = seq;
    sealer.set_compression(compress);
    opener.set_compression(compress);

    let mut rng = SeededRng::new(0);
    let mut wire = BytesMut::new();
    let mut payloads: Vec<&[u8]> = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..input.u8() % 16 {
        let len = usize::from(input.u16());
        let payload = input.bytes(len);
        if payload.is_empty() {
            // The transport never sends an empty payload, and the opener rejects one.
            continue;
        }
        let start = sealer.begin(&mut wire, 0);
        wire.extend_from_slice(payload);
        sealer.finish(&mut wire, start, MAX_PACKET, &mut rng).expect("payloads below the maximum seal");
        payloads.push(payload);
        ends.push(wire.len());
    }

    let mut first_mutation = usize::MAX;
    for _ in 0..input.u8() % 8 {
        let pos = usize::from(input.u16());
        let x = input.u8();
        if x != 0 && !wire.is_empty() {
            let at = pos % wire.len();
            if let Some(b) = wire.get_mut(at) {
                *b ^= x;
            }
            first_mutation = first_mutation.min(at);
        }
    }
    let tail = input.rest();
    let sealed_len = wire.len();
    wire.extend_from_slice(tail);
    let stream = wire.freeze();

    let mut rx = BytesMut::new();
    let mut got: Vec<Bytes> = Vec::new();
    let mut error = None;
    'feed: for piece in chunks.split(&stream) {
        rx.extend_from_slice(piece);
        loop {
            match opener.poll(&mut rx, MAX_PACKET) {
                Ok(Some(r)) => {
                    assert!(!r.payload.is_empty());
                    assert!(r.payload.len() <= MAX_PACKET);
                    got.push(r.payload);
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }

    let intact = ends.iter().take_while(|&&end| end <= first_mutation).count();
    assert!(got.len() >= intact, "untouched packet lost: got {} of {intact} ({error:?})", got.len());
    for (i, (g, p)) in got.iter().zip(&payloads).take(intact).enumerate() {
        assert_eq!(&g[..], *p, "untouched packet {i} changed");
    }
    if authenticated {
        assert!(got.len() <= payloads.len(), "a forged packet was accepted");
        for (i, (g, p)) in got.iter().zip(&payloads).enumerate() {
            assert_eq!(&g[..], *p, "tampered packet {i} was accepted");
        }
    }
    if first_mutation == usize::MAX && tail.is_empty() {
        assert_eq!(error, None);
        assert_eq!(got.len(), payloads.len());
        assert!(rx.is_empty());
        assert_eq!(opener.seq, sealer.seq);
        assert_eq!(opener.counters.bytes, sealed_len as u64);
    }
}

// ---- connections -------------------------------------------------------------------------

/// `max_pending_output` of the fuzzed connections: small, so the limit is reachable with
/// inputs of a few KiB.
const PENDING_LIMIT: usize = 1024;

fn host_key() -> HostKey {
    static KEY: OnceLock<HostKey> = OnceLock::new();
    KEY.get_or_init(|| HostKey::generate_ed25519(&mut SeededRng::new(0x5eed))).clone()
}

/// Both ends of a fuzzed connection, as far as the contract checks need.
trait Endpoint {
    fn input(&mut self, data: &[u8], now: Instant) -> Result<(), Error>;
    fn timeout(&mut self, now: Instant) -> Result<(), Error>;
    fn eof(&mut self) -> Result<(), Error>;
    fn transmit(&mut self) -> Option<Bytes>;
    fn event(&mut self) -> Option<Event>;
    fn deadline(&self) -> Option<Instant>;
    fn pending(&self) -> usize;
    fn closed(&self) -> bool;
    fn transport(&mut self) -> &mut Transport;
    /// A user command: 0 rekey, 1 ignore, 2 ping, 3 the role's own (client: request
    /// `ssh-userauth`), 4 close.
    fn command(&mut self, which: u8, data: &[u8]) -> Result<(), Error>;
    /// Answers a decision event the way `policy` says (see [`session::answer`]).
    fn answer(&mut self, ev: &Event, policy: u8);
    /// A connection-protocol or authentication command (see [`session::command`]).
    fn session_command(
        &mut self,
        which: u8,
        data: &[u8],
        current: Option<crate::connection::ChannelId>,
    ) -> Option<crate::connection::ChannelId>;
}

macro_rules! endpoint {
    ($t:ty, |$c:ident| $own:expr) => {
        impl Endpoint for $t {
            fn input(&mut self, data: &[u8], now: Instant) -> Result<(), Error> {
                self.handle_input(data, now)
            }
            fn timeout(&mut self, now: Instant) -> Result<(), Error> {
                self.handle_timeout(now)
            }
            fn eof(&mut self) -> Result<(), Error> {
                self.handle_eof()
            }
            fn transmit(&mut self) -> Option<Bytes> {
                self.poll_transmit()
            }
            fn event(&mut self) -> Option<Event> {
                self.poll_event()
            }
            fn deadline(&self) -> Option<Instant> {
                self.poll_timeout()
            }
            fn pending(&self) -> usize {
                self.pending_output()
            }
            fn closed(&self) -> bool {
                self.is_closed()
            }
            fn transport(&mut self) -> &mut Transport {
                self.transport_mut()
            }
            fn answer(&mut self, ev: &Event, policy: u8) {
                session::answer(self, ev, policy);
            }
            fn session_command(
                &mut self,
                which: u8,
                data: &[u8],
                current: Option<crate::connection::ChannelId>,
            ) -> Option<crate::connection::ChannelId> {
                session::command(self, which, data, current)
            }
            fn command(&mut self, which: u8, data: &[u8]) -> Result<(), Error> {
                match which % 5 {
                    0 => self.rekey(),
                    1 => self.send_ignore(data),
                    2 => self.send_ping(data),
                    3 => {
                        let $c = self;
                        $own
                    }
                    _ => {
                        self.close(DisconnectReason::ByApplication, "fuzz");
                        Ok(())
                    }
                }
            }
        }
    };
}

endpoint!(client::Connection, |c| c.request_service("ssh-userauth"));
endpoint!(server::Connection, |_s| Ok(()));

#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `handle_input` / `handle_eof`: peer input.
    Input,
    Timeout,
    Command,
}

/// Tracks the driver contract of one connection across calls.
struct Contract {
    /// Whether `Event::Disconnected` was seen.
    disconnected: bool,
    /// Answer decision events with this policy (the session bodies); `None`: leave them.
    policy: Option<u8>,
    /// The channel the session bodies' commands act on (the last one opened or accepted).
    current: Option<crate::connection::ChannelId>,
    /// Drain output after every call (a driver that writes everything) or only on request
    /// (a peer that does not read).
    drain: bool,
    input_bytes: usize,
    output: Vec<u8>,
    events: usize,
}

impl Contract {
    fn new(drain: bool) -> Self {
        Self { disconnected: false, policy: None, current: None, drain, input_bytes: 0, output: Vec::new(), events: 0 }
    }

    /// Runs one call and checks what it may do.
    fn call<E: Endpoint>(
        &mut self,
        e: &mut E,
        kind: Call,
        f: impl FnOnce(&mut E) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let was_closed = e.closed();
        let pending_before = e.pending();
        let r = f(e);
        if was_closed {
            match kind {
                Call::Input => assert_eq!(r, Err(Error::Closed), "input after the end must return Closed"),
                Call::Timeout => assert_eq!(r, Ok(()), "a timeout after the end must be a no-op"),
                Call::Command => {
                    assert!(matches!(r, Ok(()) | Err(Error::Closed | Error::ApiMisuse(_))), "{r:?}")
                }
            }
            assert_eq!(e.pending(), pending_before, "a closed connection queued output");
            assert!(e.event().is_none(), "a closed connection raised an event");
        } else if let (Err(err), Call::Input | Call::Timeout) = (&r, kind) {
            assert_ne!(err, &Error::Closed, "Closed from an open connection");
            assert!(err.is_fatal(), "non-fatal error from peer input: {err:?}");
            assert!(e.closed(), "the connection failed with {err:?} but is still open");
        }
        if e.closed() {
            assert_eq!(e.deadline(), None, "a closed connection asks for a timeout");
        }
        self.settle(e);
        r
    }

    /// Drains events (always) and output (when draining); checks the bounds.
    fn settle<E: Endpoint>(&mut self, e: &mut E) {
        while let Some(ev) = e.event() {
            assert!(!self.disconnected, "event after Disconnected: {ev:?}");
            self.disconnected = matches!(ev, Event::Disconnected { .. });
            self.events += 1;
            if let Some(policy) = self.policy {
                match &ev {
                    Event::ChannelOpened { id } => self.current = Some(*id),
                    Event::ChannelOpenRequest { id, .. } if policy & 1 != 0 => self.current = Some(*id),
                    _ => {}
                }
                e.answer(&ev, policy);
            }
        }
        assert_eq!(e.closed(), self.disconnected, "closed state and Disconnected event disagree");
        // A packet is at least 16 bytes; each raises at most a couple of events.
        assert!(
            self.events <= 2 * (self.input_bytes / 16) + 8,
            "{} events from {} bytes",
            self.events,
            self.input_bytes
        );
        if self.drain {
            self.take_output(e);
        } else {
            // Automatic replies stop at the limit; past it go at most the reply that crossed it
            // (a PONG no longer than the input) and one key exchange round plus DISCONNECT.
            let bound = PENDING_LIMIT + self.input_bytes + 4096;
            assert!(
                e.pending() <= bound,
                "pending output {} > {bound} after {} input bytes",
                e.pending(),
                self.input_bytes
            );
        }
    }

    /// Takes the connection's output into [`Self::output`] (what its peer has yet to read).
    fn take_output<E: Endpoint>(&mut self, e: &mut E) {
        while let Some(b) = e.transmit() {
            assert!(!b.is_empty(), "poll_transmit returned an empty buffer");
            self.output.extend_from_slice(&b);
        }
        assert_eq!(e.pending(), 0);
        if self.output.len() > 1 << 20 {
            // Nobody reads it in the raw bodies; keep the harness itself bounded.
            self.output.clear();
        }
    }

    /// Feeds peer bytes in fragments, advancing the clock by `dt` after each and firing due timers.
    fn deliver<E: Endpoint>(&mut self, e: &mut E, bytes: &[u8], chunks: &mut Chunks, now: &mut Instant, dt: Duration) {
        for piece in chunks.split(bytes) {
            self.input_bytes += piece.len();
            let at = *now;
            let _ = self.call(e, Call::Input, |e| e.input(piece, at));
            self.tick(e, now, dt);
        }
    }

    fn tick<E: Endpoint>(&mut self, e: &mut E, now: &mut Instant, dt: Duration) {
        if dt.is_zero() {
            return;
        }
        *now += dt;
        let at = *now;
        if e.deadline().is_some_and(|d| d <= at) {
            let _ = self.call(e, Call::Timeout, |e| e.timeout(at));
        }
    }
}

/// Header flags of the connection bodies.
mod flag {
    /// Take output only at the end / on pump (a peer that does not read).
    pub(super) const NO_DRAIN: u8 = 1;
    /// Negotiate `zlib` compression (active from the first NEWKEYS).
    pub(super) const ZLIB: u8 = 2;
    /// Report EOF after the input.
    pub(super) const EOF: u8 = 4;
    /// Client: request `ssh-userauth` before the input.
    pub(super) const SERVICE: u8 = 8;
    /// Start a re-exchange before the input.
    pub(super) const REKEY: u8 = 16;
    /// Send a ping before the input.
    pub(super) const PING: u8 = 32;
}

/// Client and server configurations with the given cipher, MAC and compression, and a small
/// pending-output limit. The fuzzed end accepts every key exchange (and, as a client, every
/// host key algorithm) while its peer offers only curve25519-sha256 and ssh-ed25519: the
/// initial handshake is always the same cheap one, and a re-exchange that the fuzzer starts
/// can negotiate any method (group exchange, finite-field, NIST, hybrid post-quantum).
fn configs(cipher: Cipher, mac: Mac, compression: Compression, fuzz_server: bool) -> (client::Config, server::Config) {
    let mut narrow = crate::TransportConfig::default();
    narrow.algorithms.kex = AlgorithmList::new([KexAlgorithm::Curve25519Sha256]);
    narrow.algorithms.host_key = AlgorithmList::new([HostKeyAlgorithm::Ed25519]);
    narrow.algorithms.cipher = AlgorithmList::new([cipher]);
    narrow.algorithms.mac = AlgorithmList::new([mac]);
    narrow.algorithms.compression = AlgorithmList::new([compression]);
    narrow.limits.max_pending_output = PENDING_LIMIT;
    let mut wide = narrow.clone();
    wide.algorithms.kex = AlgorithmList::all();
    wide.algorithms.host_key = AlgorithmList::all();
    let (ct, st) = if fuzz_server { (narrow, wide) } else { (wide, narrow) };
    let c = client::Config { transport: ct, ..client::Config::default() };
    let mut s = server::Config::new(vec![host_key()]);
    s.transport = st;
    (c, s)
}

/// A completed in-memory handshake with fixed seeds, both ends' events drained.
fn handshake(cipher: Cipher, mac: Mac, compression: Compression, fuzz_server: bool) -> Pair {
    let (c, s) = configs(cipher, mac, compression, fuzz_server);
    let mut pair = Pair::new(c, s, Instant::now(), 7).expect("fuzz configuration is valid");
    pair.drive().expect("in-memory handshake");
    assert!(pair.client.is_established() && pair.server.is_established());
    while pair.client.poll_event().is_some() {}
    while pair.server.poll_event().is_some() {}
    pair.client_events.clear();
    pair.server_events.clear();
    pair
}

fn none_pair(flags: u8, fuzz_server: bool) -> Pair {
    let comp = if flags & flag::ZLIB != 0 { Compression::Zlib } else { Compression::None };
    handshake(Cipher::None, Mac::None, comp, fuzz_server)
}

/// Header of the connection bodies: flags, [`Chunks`], time step.
struct ConnHeader {
    flags: u8,
    chunks: Chunks,
    dt: Duration,
}

impl ConnHeader {
    fn parse(input: &mut Input<'_>) -> Self {
        let flags = input.u8();
        let chunks = Chunks::parse(input);
        let dt = u64::from(input.u8());
        // Up to ~18 hours per step: reaches the one-hour rekey timer in one step.
        Self { flags, chunks, dt: Duration::from_secs(dt * dt) }
    }

    fn encode(flags: u8, chunks: &[u8], dt: u8) -> Vec<u8> {
        let mut v = vec![flags];
        v.extend(Chunks::encode(chunks));
        v.push(dt);
        v
    }
}

/// Optional commands before the input, per the header flags.
fn start_commands<E: Endpoint>(e: &mut E, c: &mut Contract, flags: u8) {
    if flags & flag::SERVICE != 0 {
        let _ = c.call(e, Call::Command, |e| e.command(3, b""));
    }
    if flags & flag::REKEY != 0 {
        let _ = c.call(e, Call::Command, |e| e.command(0, b""));
    }
    if flags & flag::PING != 0 {
        let _ = c.call(e, Call::Command, |e| e.command(2, b"fuzz"));
    }
}

fn finish<E: Endpoint>(e: &mut E, c: &mut Contract, flags: u8) {
    if flags & flag::EOF != 0 {
        let r = c.call(e, Call::Input, |e| e.eof());
        assert!(r.is_err(), "EOF must end the connection");
    }
    c.take_output(e);
    assert_eq!(e.closed(), c.disconnected);
    // Whatever happened, the end is final.
    if e.closed() {
        let _ = c.call(e, Call::Input, |e| e.input(b"SSH-2.0-x\r\n", Instant::now()));
        let _ = c.call(e, Call::Command, |e| e.command(1, b"x"));
        assert!(e.transmit().is_none());
    }
}

fn raw_connection<E: Endpoint>(data: &[u8], fuzz_server: bool, pick: impl FnOnce(&mut Pair) -> &mut E) {
    let mut input = Input::new(data);
    let mut h = ConnHeader::parse(&mut input);
    let stream = input.rest();
    let mut pair = none_pair(h.flags, fuzz_server);
    let mut now = pair.now;
    let e = pick(&mut pair);
    let mut c = Contract::new(h.flags & flag::NO_DRAIN == 0);
    start_commands(e, &mut c, h.flags);
    c.deliver(e, stream, &mut h.chunks, &mut now, h.dt);
    finish(e, &mut c, h.flags);
}

/// A client after a real handshake under the `none` cipher and MAC, fed arbitrary bytes as
/// the server's packets (plain `uint32 length ‖ padding length ‖ payload ‖ padding`).
///
/// Input: `flags` (see the `flag` constants: no-drain, zlib, EOF at the end, request a
/// service / rekey / ping first), [`Chunks`], `dt` (the clock advances `dt²` seconds after
/// each fragment and due timers fire), then the stream.
///
/// Properties: no panic; peer input errors are fatal and close the connection with exactly
/// one final `Disconnected` event; after the end, input returns `Closed` and nothing else
/// produces output or events; pending output stays within `max_pending_output` plus one reply.
pub fn client_connection(data: &[u8]) {
    raw_connection(data, false, |p| &mut p.client);
}

/// The server counterpart of [`client_connection`]: the bytes arrive as the client's packets.
/// Under the `none` cipher the fuzzer can complete whole re-exchanges by itself.
pub fn server_connection(data: &[u8]) {
    raw_connection(data, true, |p| &mut p.server);
}

/// Default ciphers the payload bodies choose from (all real, all default-enabled).
const REAL_CIPHERS: [Cipher; 6] = [
    Cipher::Aes128Gcm,
    Cipher::Aes256Gcm,
    Cipher::ChaCha20Poly1305,
    Cipher::Aes128Ctr,
    Cipher::Aes192Ctr,
    Cipher::Aes256Ctr,
];
const REAL_MACS: [Mac; 6] =
    [Mac::HmacSha256Etm, Mac::HmacSha512Etm, Mac::HmacSha1Etm, Mac::HmacSha256, Mac::HmacSha512, Mac::HmacSha1];

/// Record kinds of the payload bodies.
mod op {
    /// `u16 len ‖ payload`: the peer seals it (`seal_raw`) and its output is delivered.
    pub(super) const SEAL: u8 = 0;
    /// `u16 len ‖ payload ‖ u16 pos ‖ u8 xor`: sealed, then one byte of the sealed bytes flipped.
    pub(super) const SEAL_FLIP: u8 = 1;
    /// `u16 seconds`: advance the clock, fire due timers on both ends.
    pub(super) const TIME: u8 = 2;
    /// Move real traffic both ways until idle (lets a re-exchange complete).
    pub(super) const PUMP: u8 = 3;
    /// `u8 which ‖ u8 len ‖ data`: a command on the fuzzed end.
    pub(super) const COMMAND: u8 = 4;
    /// `u8 which ‖ u8 len ‖ data`: a command on the peer (4: prefer the `data[0]`-th kex method).
    pub(super) const PEER_COMMAND: u8 = 5;
    /// `u16 len ‖ bytes`: raw bytes, not sealed.
    pub(super) const RAW: u8 = 6;
}

/// Builds the payload-body header.
fn payload_header(cipher: usize, mac: usize, zlib: bool, no_drain: bool, chunks: &[u8]) -> Vec<u8> {
    let mut v = vec![cipher as u8, mac as u8 | (u8::from(zlib) << 4) | (u8::from(no_drain) << 5)];
    v.extend(Chunks::encode(chunks));
    v
}

fn payload_connection<E: Endpoint, P: Endpoint>(
    data: &[u8],
    fuzz_server: bool,
    split: impl FnOnce(&mut Pair) -> (&mut E, &mut P),
) {
    let mut input = Input::new(data);
    let cipher = REAL_CIPHERS.get(usize::from(input.u8()) % REAL_CIPHERS.len()).copied().unwrap_or(Cipher::Aes128Gcm);
    let flags = input.u8();
    let mac = REAL_MACS.get(usize::from(flags & 15) % REAL_MACS.len()).copied().unwrap_or(Mac::HmacSha256Etm);
    let comp = if flags & 16 != 0 { Compression::Zlib } else { Compression::None };
    let mut chunks = Chunks::parse(&mut input);
    let mut pair = handshake(cipher, mac, comp, fuzz_server);
    let mut now = pair.now;
    let (e, peer) = split(&mut pair);
    let mut c = Contract::new(flags & 32 == 0);
    let zero = Duration::ZERO;

    let mut records = 0;
    while !input.is_empty() && records < 256 {
        records += 1;
        match input.u8() % 7 {
            kind @ (op::SEAL | op::SEAL_FLIP) => {
                let len = usize::from(input.u16());
                let payload = input.bytes(len);
                let (pos, xor) = if kind == op::SEAL_FLIP { (usize::from(input.u16()), input.u8()) } else { (0, 0) };
                if peer.transport().seal_raw(payload).is_err() {
                    continue;
                }
                let mut bytes = Vec::new();
                while let Some(b) = peer.transmit() {
                    bytes.extend_from_slice(&b);
                }
                let n = bytes.len();
                if let Some(b) = bytes.get_mut(pos % n.max(1)) {
                    *b ^= xor;
                }
                c.deliver(e, &bytes, &mut chunks, &mut now, zero);
            }
            op::TIME => {
                let secs = u64::from(input.u16());
                now += Duration::from_secs(secs);
                let at = now;
                if e.deadline().is_some_and(|d| d <= at) {
                    let _ = c.call(e, Call::Timeout, |e| e.timeout(at));
                }
                if peer.deadline().is_some_and(|d| d <= at) {
                    let _ = peer.timeout(at);
                }
            }
            op::PUMP => pump(e, peer, &mut c, &mut chunks, now),
            op::COMMAND => {
                let which = input.u8();
                let len = usize::from(input.u8());
                let d = input.bytes(len);
                let _ = c.call(e, Call::Command, |e| e.command(which, d));
            }
            op::PEER_COMMAND => {
                let which = input.u8() % 5;
                let len = usize::from(input.u8());
                let d = input.bytes(len);
                if which == 4 {
                    // Not close (the peer stays a sealing oracle): prefer another kex method.
                    prefer_kex(peer.transport(), d.first().copied().unwrap_or(0));
                } else {
                    let _ = peer.command(which, d);
                }
                while peer.event().is_some() {}
            }
            _ => {
                let len = usize::from(input.u16());
                let raw = input.bytes(len);
                c.deliver(e, raw, &mut chunks, &mut now, zero);
            }
        }
    }
    finish(e, &mut c, 0);
}

/// Every key exchange method, for [`prefer_kex`].
fn all_kex() -> Vec<KexAlgorithm> {
    AlgorithmList::<KexAlgorithm>::all().as_slice().to_vec()
}

/// Makes the peer offer only the `index`-th key exchange method from its next KEXINIT on.
fn prefer_kex(t: &mut Transport, index: u8) {
    let all = all_kex();
    if let Some(&k) = all.get(usize::from(index) % all.len().max(1)) {
        let mut cfg = (*t.cfg).clone();
        cfg.algorithms.kex = AlgorithmList::new([k]);
        t.cfg = std::sync::Arc::new(cfg);
    }
}

/// Moves real traffic between the fuzzed end and its peer until idle (bounded rounds).
fn pump<E: Endpoint, P: Endpoint>(e: &mut E, peer: &mut P, c: &mut Contract, chunks: &mut Chunks, mut now: Instant) {
    for _ in 0..16 {
        c.take_output(e);
        let out = core::mem::take(&mut c.output);
        let mut moved = !out.is_empty();
        if !out.is_empty() {
            let _ = peer.input(&out, now);
        }
        while peer.event().is_some() {}
        let mut back = Vec::new();
        while let Some(b) = peer.transmit() {
            back.extend_from_slice(&b);
        }
        if !back.is_empty() {
            moved = true;
            c.deliver(e, &back, chunks, &mut now, Duration::ZERO);
        }
        if !moved {
            break;
        }
    }
}

/// A client after a real handshake under a real (default) cipher, fed messages that the
/// server's own transport seals, so arbitrary payloads arrive through real crypto.
///
/// Input: `cipher` (index mod 6 into the default ciphers), `flags` (bits 0-3: MAC for the
/// CTR ciphers, bit 4: zlib, bit 5: no-drain), [`Chunks`], then records: a kind byte (mod 7,
/// see the `op` constants) and its fields: seal a payload, seal and flip a byte, advance the
/// clock, pump real traffic both ways, a command on either end, raw bytes.
///
/// Properties: those of [`client_connection`].
pub fn client_payloads(data: &[u8]) {
    payload_connection(data, false, |p| (&mut p.client, &mut p.server));
}

/// The server counterpart of [`client_payloads`].
pub fn server_payloads(data: &[u8]) {
    payload_connection(data, true, |p| (&mut p.server, &mut p.client));
}

// ---- seeds -------------------------------------------------------------------------------

fn packet(payload_fn: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    reencode(payload_fn)
}

const CIPHER_NAMES: &[&str] = &[
    "none",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
];
const MAC_NAMES: &[&str] = &[
    "none",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
];

/// Example messages of every transport kind, valid as a peer would send them.
fn sample_messages() -> Vec<(&'static str, Vec<u8>)> {
    let kexinit = packet(|w| {
        encode_kexinit(
            w,
            &[7; 16],
            [
                &["curve25519-sha256", "ext-info-c", "kex-strict-c-v00@openssh.com"][..],
                &["ssh-ed25519", "rsa-sha2-512"],
                CIPHER_NAMES,
                CIPHER_NAMES,
                MAC_NAMES,
                MAC_NAMES,
                &["none", "zlib", "zlib@openssh.com"],
                &["none", "zlib", "zlib@openssh.com"],
                &[],
                &[],
            ],
            false,
        );
    });
    vec![
        ("kexinit", kexinit),
        ("disconnect", packet(|w| Disconnect { reason: 11, description: b"bye", language: b"en" }.encode(w))),
        (
            "disconnect-nolang",
            packet(|w| {
                w.push(msg::DISCONNECT);
                w.extend_from_slice(&2u32.to_be_bytes());
                w.put_string(b"x");
            }),
        ),
        ("ignore", packet(|w| OpaqueData { data: b"padding" }.encode(msg::IGNORE, w))),
        ("debug", packet(|w| DebugMsg { always_display: true, message: b"hello", language: b"" }.encode(w))),
        ("unimplemented", packet(|w| Unimplemented { seq: 3 }.encode(w))),
        ("service-request", packet(|w| Service { name: "ssh-userauth" }.encode(msg::SERVICE_REQUEST, w))),
        ("service-accept", packet(|w| Service { name: "ssh-userauth" }.encode(msg::SERVICE_ACCEPT, w))),
        (
            "ext-info",
            packet(|w| {
                ExtInfo {
                    extensions: vec![("server-sig-algs", b"ssh-ed25519,rsa-sha2-256"), ("ping@openssh.com", b"0")],
                }
                .encode(w)
            }),
        ),
        ("ping", packet(|w| OpaqueData { data: b"are you there" }.encode(msg::PING, w))),
        ("pong", packet(|w| OpaqueData { data: b"yes" }.encode(msg::PONG, w))),
        (
            "ecdh-init",
            packet(|w| {
                w.push(msg::KEX_INIT);
                w.put_string(&[9; 32]);
            }),
        ),
        (
            "kex-reply",
            packet(|w| {
                KexReply { host_key: b"\0\0\0\x0bssh-ed25519", public: &[5; 32], signature: b"sig" }.encode(
                    msg::KEX_REPLY,
                    false,
                    w,
                )
            }),
        ),
        ("gex-request", packet(|w| GexRequest { min: 2048, preferred: 3072, max: 8192, old: false }.encode(w))),
        ("gex-request-old", vec![msg::KEX_INIT, 0, 0, 8, 0]),
        ("gex-group", packet(|w| GexGroup { p: &[0xff, 0xff, 0xff, 0xfb], g: &[2] }.encode(w))),
        (
            "gex-init",
            packet(|w| {
                w.push(msg::KEX_DH_GEX_INIT);
                w.put_mpint_positive(&[0x80, 1, 2, 3]);
            }),
        ),
        ("newkeys", vec![msg::NEWKEYS]),
        (
            "userauth-request",
            packet(|w| {
                w.push(msg::USERAUTH_FIRST);
                w.put_string(b"user");
                w.put_string(b"ssh-connection");
                w.put_string(b"none");
            }),
        ),
        ("unknown-transport", vec![40, 1, 2, 3]),
        ("unknown-upper", vec![90, 0, 0, 0, 7, b's', b'e', b's', b's', b'i', b'o', b'n']),
    ]
}

/// The sample messages a connection accepts after the handshake without ending (no
/// DISCONNECT, no user authentication, no key exchange, only the SERVICE_REQUEST a server
/// expects), then a KEXINIT.
fn message_stream(server_target: bool) -> Vec<Vec<u8>> {
    let service = if server_target { msg::SERVICE_ACCEPT } else { msg::SERVICE_REQUEST };
    let (kex, mut rest): (Vec<_>, Vec<_>) = sample_messages()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| !matches!(m.first(), Some(&(msg::DISCONNECT | msg::USERAUTH_FIRST | msg::SERVICE_ACCEPT))))
        .filter(|m| m.first() != Some(&service))
        .partition(|m| m.first().is_some_and(|&n| msg::is_kex(n)));
    rest.extend(kex.into_iter().filter(|m| m.first() == Some(&msg::KEXINIT)));
    rest
}

/// Records what `peer` sends `target` after the handshake while `script` runs. With
/// `two_way`, the target's answers reach the peer too and traffic moves until idle (a
/// re-exchange completes); without, the peer only speaks. The fuzz body with the same header
/// replays the same handshake with the same seeds, so the recording continues it validly.
fn record<E: Endpoint, P: Endpoint>(
    e: &mut E,
    peer: &mut P,
    now: Instant,
    two_way: bool,
    script: impl FnOnce(&mut P),
) -> Vec<u8> {
    script(peer);
    let mut recorded = Vec::new();
    for _ in 0..32 {
        let mut moved = false;
        while let Some(b) = peer.transmit() {
            moved = true;
            recorded.extend_from_slice(&b);
            let _ = e.input(&b, now);
        }
        while let Some(b) = e.transmit() {
            if two_way {
                moved = true;
                let _ = peer.input(&b, now);
            }
        }
        while e.event().is_some() {}
        while peer.event().is_some() {}
        if !moved {
            break;
        }
    }
    recorded
}

/// Runs the handshake of a connection body with `flags`, lets `script` act on the peer's
/// transport, and records what the peer sends (see [`record`]).
fn recorded(flags: u8, server_target: bool, two_way: bool, script: impl FnOnce(&mut Transport)) -> Vec<u8> {
    let mut pair = none_pair(flags, server_target);
    let now = pair.now;
    if server_target {
        record(&mut pair.server, &mut pair.client, now, two_way, |p| script(p.transport_mut()))
    } else {
        record(&mut pair.client, &mut pair.server, now, two_way, |p| script(p.transport_mut()))
    }
}

fn connection_seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>, target: &'static str, server_target: bool) {
    let messages = sample_messages();
    let mut push = |name: &str, flags: u8, chunks: &[u8], dt: u8, stream: &[u8]| {
        let mut seed = ConnHeader::encode(flags, chunks, dt);
        seed.extend_from_slice(stream);
        out.push((target, name.to_owned(), seed));
    };
    // Every message alone, then all of them in one stream.
    for (name, m) in &messages {
        let stream = recorded(0, server_target, false, |t| {
            let _ = t.seal_raw(m);
        });
        push(&format!("msg-{name}"), 0, &[], 0, &stream);
    }
    let stream = message_stream(server_target);
    let all = recorded(0, server_target, false, |t| {
        for m in &stream {
            let _ = t.seal_raw(m);
        }
    });
    push("all", 0, &[], 0, &all);
    push("all-fragmented", 0, &[1, 7, 0, 3], 0, &all);
    push("all-nodrain", flag::NO_DRAIN, &[16], 0, &all);
    // Re-exchanges started by the peer, recorded (valid continuations of the handshake), with
    // and without zlib, whole and fragmented, and with a clock that fires the rekey timer.
    for (name, flags, chunks, dt) in [
        ("peer-rekey", 0u8, &[][..], 0u8),
        ("peer-rekey-zlib", flag::ZLIB, &[][..], 0),
        ("peer-rekey-fragmented", 0, &[5, 64, 1][..], 0),
        ("peer-rekey-timer", 0, &[16][..], 61),
    ] {
        let stream = recorded(flags, server_target, true, |t| {
            let _ = t.rekey();
            let _ = t.seal_raw(&[msg::IGNORE, 0, 0, 0, 0]);
        });
        push(name, flags, chunks, dt, &stream);
    }
    // Re-exchanges with every other kex method (the peer switches its preference first).
    for (i, k) in all_kex().iter().enumerate() {
        if *k == KexAlgorithm::Curve25519Sha256 {
            continue;
        }
        let stream = recorded(0, server_target, true, |t| {
            prefer_kex(t, i as u8);
            let _ = t.rekey();
        });
        push(&format!("peer-rekey-{}", crate::algorithm::Algorithm::name(*k)), 0, &[], 0, &stream);
    }
    // Compressed traffic.
    let zlib = recorded(flag::ZLIB, server_target, false, |t| {
        for m in &stream {
            let _ = t.seal_raw(m);
        }
    });
    push("zlib", flag::ZLIB, &[], 0, &zlib);
    // Commands first, then a ping from the peer, then EOF.
    let ping = recorded(0, server_target, false, |t| {
        let _ = t.seal_raw(&[msg::PING, 0, 0, 0, 1, b'p']);
    });
    push("commands-eof", flag::SERVICE | flag::PING | flag::EOF, &[], 0, &ping);
    push("local-rekey", flag::REKEY, &[], 0, &ping);
    if !server_target {
        let accept = recorded(flag::SERVICE, server_target, false, |t| {
            let _ = t.seal_raw(&[
                msg::SERVICE_ACCEPT,
                0,
                0,
                0,
                12,
                b's',
                b's',
                b'h',
                b'-',
                b'u',
                b's',
                b'e',
                b'r',
                b'a',
                b'u',
                b't',
                b'h',
            ]);
        });
        push("service-accept", flag::SERVICE, &[], 0, &accept);
    }
}

fn payload_seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>, target: &'static str, server_target: bool) {
    let messages = sample_messages();
    let seal = |v: &mut Vec<u8>, m: &[u8]| {
        v.push(op::SEAL);
        v.extend_from_slice(&(m.len() as u16).to_be_bytes());
        v.extend_from_slice(m);
    };
    for (cipher, mac, zlib, name) in [
        (0usize, 0usize, false, "aes128gcm"),
        (2, 0, false, "chacha"),
        (3, 0, false, "aes128ctr-sha256etm"),
        (5, 4, true, "aes256ctr-sha512-zlib"),
    ] {
        let mut seed = payload_header(cipher, mac, zlib, false, &[]);
        for m in message_stream(server_target) {
            seal(&mut seed, &m);
        }
        out.push((target, format!("all-{name}"), seed));
    }
    for (name, m) in &messages {
        let mut seed = payload_header(0, 0, false, false, &[3, 0]);
        seal(&mut seed, m);
        out.push((target, format!("msg-{name}"), seed));
    }
    // Re-exchanges with other kex methods, started by the peer.
    for (i, name) in [(0u8, "mlkem"), (5, "ecdh256"), (8, "gex256"), (11, "group14")] {
        let mut seed = payload_header(0, 0, false, false, &[]);
        seed.extend_from_slice(&[op::PEER_COMMAND, 4, 1, i, op::PEER_COMMAND, 0, 0, op::PUMP]);
        seal(&mut seed, &[msg::IGNORE, 0, 0, 0, 0]);
        out.push((target, format!("rekey-{name}"), seed));
    }
    // A real re-exchange started by either end, then traffic under the new keys.
    for (name, which) in [("rekey-local", op::COMMAND), ("rekey-peer", op::PEER_COMMAND)] {
        let mut seed = payload_header(2, 0, false, false, &[]);
        seed.extend_from_slice(&[which, 0, 0, op::PUMP]);
        seal(&mut seed, &[msg::IGNORE, 0, 0, 0, 0]);
        seal(&mut seed, &[msg::PING, 0, 0, 0, 1, b'x']);
        seed.push(op::PUMP);
        out.push((target, name.to_owned(), seed));
    }
    // The rekey timer, a tampered packet, raw garbage, no-drain.
    let mut seed = payload_header(1, 0, false, true, &[]);
    seed.extend_from_slice(&[op::TIME, 0x0e, 0x11, op::PUMP]);
    seal(&mut seed, &[msg::IGNORE, 0, 0, 0, 0]);
    seed.extend_from_slice(&[op::SEAL_FLIP, 0, 5, msg::IGNORE, 0, 0, 0, 0, 0, 9, 0x40]);
    out.push((target, "timer-flip".to_owned(), seed));
    let mut seed = payload_header(4, 1, false, false, &[]);
    seed.extend_from_slice(&[op::RAW, 0, 16]);
    seed.extend_from_slice(&[0, 0, 0, 12, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.push((target, "raw".to_owned(), seed));
}

/// The initial corpus: `(target, file name, bytes)` for every target. Deterministic; the
/// connection seeds are recorded from the same handshake the bodies run, so they continue it
/// validly (including complete re-exchanges).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    files::seeds(&mut out);
    known_hosts::seeds(&mut out);
    ssh_config::seeds(&mut out);
    agent::seeds(&mut out);

    for (name, mode, chunks, text) in [
        ("openssh", 1u8, &[][..], &b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"[..]),
        ("paramiko", 0, &[][..], b"SSH-2.0-paramiko_3.4.0\r\n\x00\x00\x00\x14"),
        ("pre-banner", 1, &[3, 1][..], b"hello\r\nworld\nSSH-2.0-srv comment here\r\nrest"),
        ("compat-199", 1, &[][..], b"SSH-1.99-OpenSSH_3.9p1\n"),
        ("ssh1", 1, &[][..], b"SSH-1.5-old\r\n"),
        ("not-ssh-client", 0, &[][..], b"HTTP/1.1 400 Bad Request\r\n"),
        ("tiny-limits", 3, &[2][..], b"a\nb\nc\nSSH-2.0-x\r\n"),
        ("long", 3, &[][..], b"SSH-2.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
    ] {
        let mut seed = vec![mode];
        seed.extend(Chunks::encode(chunks));
        seed.extend_from_slice(text);
        out.push(("version_line", name.to_owned(), seed));
    }

    for (name, m) in sample_messages() {
        out.push(("transport_messages", name.to_owned(), m));
    }
    out.push(("transport_messages", "name-list".to_owned(), b"aes128-ctr,aes256-gcm@openssh.com".to_vec()));

    for cipher in 0..PACKET_CIPHERS.len() {
        let mac = cipher % PACKET_MACS.len();
        let mut seed = packet_header(cipher, mac, cipher % 3 == 0, (cipher % 4 == 1).then_some(1), &[7, 0]);
        let payloads: [&[u8]; 3] = [b"\x05\x00\x00\x00\x0cssh-userauth", b"\x02\x00\x00\x00\x00", &[0x5e; 300]];
        seed.push(payloads.len() as u8);
        for p in payloads {
            seed.extend_from_slice(&(p.len() as u16).to_be_bytes());
            seed.extend_from_slice(p);
        }
        let (mutations, tail): (&[u8], &[u8]) = match cipher % 3 {
            0 => (&[0], &[]),
            1 => (&[1, 0, 40, 0x80], &[]),
            _ => (&[0], &[0, 0, 0, 12, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        };
        seed.extend_from_slice(mutations);
        seed.extend_from_slice(tail);
        out.push(("packet_decoder", format!("suite-{cipher:02}"), seed));
    }

    connection_seeds(&mut out, "client_connection", false);
    connection_seeds(&mut out, "server_connection", true);
    payload_seeds(&mut out, "client_payloads", false);
    payload_seeds(&mut out, "server_payloads", true);
    messages::seeds(&mut out);
    session::seeds(&mut out);
    out
}
