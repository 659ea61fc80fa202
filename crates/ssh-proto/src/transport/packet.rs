//! The binary packet protocol (RFC 4253 §6): framing, padding, sequence numbers, and the
//! per-direction byte/packet counters that drive rekeying.
//!
//! Sending appends straight into the outgoing buffer and encrypts in place. Receiving
//! decrypts in place inside the receive buffer and hands out the payload as a `Bytes` view
//! of it, so the steady state allocates nothing per packet (a payload's storage is reused
//! once the application drops it).

use bytes::{BufMut, Bytes, BytesMut};
use rand_core::CryptoRng;

use super::cipher::Protection;
use super::compress::{Compressor, Decompressor};
use crate::error::PacketError;

/// Bytes before the payload: `uint32 packet_length`, `byte padding_length`.
pub(crate) const HEADER_LEN: usize = 5;
const MIN_PADDING: usize = 4;
/// More than any padding we add (under two cipher blocks plus the minimum).
const MAX_PADDING: usize = 64;
/// The longest MAC or AEAD tag (hmac-sha2-512).
const MAX_TAG: usize = 64;

/// Traffic counted since the last key exchange, for rekey limits.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) bytes: u64,
    pub(crate) packets: u64,
}

/// The sending half.
pub(crate) struct Sealer {
    pub(crate) protection: Protection,
    pub(crate) seq: u32,
    pub(crate) counters: Counters,
    compressor: Option<Compressor>,
    scratch: Vec<u8>,
    padding: [u8; 256],
}

/// Where a message under construction starts in the output buffer.
pub(crate) struct PacketStart(usize);

impl Sealer {
    pub(crate) fn new() -> Self {
        Self {
            protection: Protection::Plain,
            seq: 0,
            counters: Counters::default(),
            compressor: None,
            scratch: Vec::new(),
            padding: [0; 256],
        }
    }

    pub(crate) fn set_compression(&mut self, on: bool) {
        self.compressor = on.then(Compressor::new);
    }

    /// Heap held by the compression scratch buffer.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.scratch.capacity()
    }

    pub(crate) fn shrink_buffers(&mut self) {
        self.scratch = Vec::new();
    }

    /// `payload_hint`: the payload's size when the caller knows it (channel data), so that
    /// the whole packet is reserved at once. Appending header, payload, padding and tag one
    /// after another would reallocate, copying the payload again, whenever the writer
    /// still holds the previous output.
    pub(crate) fn begin(&self, out: &mut BytesMut, payload_hint: usize) -> PacketStart {
        if payload_hint > 0 {
            out.reserve(HEADER_LEN + payload_hint + MAX_PADDING + MAX_TAG);
        }
        let start = out.len();
        out.put_bytes(0, HEADER_LEN);
        PacketStart(start)
    }

    /// Compresses, pads, seals. On error `out` is restored to where the packet started.
    pub(crate) fn finish(
        &mut self,
        out: &mut BytesMut,
        start: PacketStart,
        max_payload: usize,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), PacketError> {
        let start = start.0;
        let body = start + HEADER_LEN;
        let payload_len = out.len().saturating_sub(body);
        if payload_len > max_payload {
            out.truncate(start);
            return Err(PacketError::PayloadTooLarge(payload_len));
        }
        if let Some(c) = &mut self.compressor {
            self.scratch.clear();
            let payload = out.get(body..).unwrap_or_default();
            if let Err(e) = c.compress(payload, &mut self.scratch) {
                out.truncate(start);
                return Err(e);
            }
            out.truncate(body);
            out.extend_from_slice(&self.scratch);
        }
        let payload_len = out.len() - body;

        let block = self.protection.block_size();
        let unpadded = 1 + payload_len + if self.protection.length_outside_padding() { 0 } else { 4 };
        let mut pad = block - unpadded % block;
        if pad < MIN_PADDING {
            pad += block;
        }
        let pad_bytes = self.padding.get_mut(..pad).unwrap_or_default();
        rng.fill_bytes(pad_bytes);
        out.extend_from_slice(pad_bytes);

        let packet_len = 1 + payload_len + pad;
        let tag_len = self.protection.tag_len();
        out.put_bytes(0, tag_len);
        let Some(packet) = out.get_mut(start..) else {
            return Err(PacketError::PayloadTooLarge(payload_len));
        };
        let (packet, tag) = packet.split_at_mut(4 + packet_len);
        let header = (packet_len as u32).to_be_bytes();
        for (dst, src) in packet.iter_mut().zip(header.iter().chain([&(pad as u8)])) {
            *dst = *src;
        }
        self.protection.seal(self.seq, packet, tag);

        self.seq = self.seq.wrapping_add(1);
        self.counters.bytes += (4 + packet_len + tag_len) as u64;
        self.counters.packets += 1;
        Ok(())
    }
}

/// One packet taken off the wire.
pub(crate) struct Received {
    pub(crate) seq: u32,
    /// A view of the receive buffer.
    pub(crate) payload: Bytes,
    /// Bytes of receive buffer the payload's allocation spans from its start (what holding
    /// a view of it may keep alive).
    pub(crate) shares: usize,
}

/// The receiving half.
pub(crate) struct Opener {
    pub(crate) protection: Protection,
    pub(crate) seq: u32,
    pub(crate) counters: Counters,
    /// `packet_length` of the packet in progress, once its first bytes were decrypted.
    pending: Option<(usize, usize)>,
    decompressor: Option<Decompressor>,
    inflated: Vec<u8>,
    inflated_out: BytesMut,
}

impl Opener {
    pub(crate) fn new() -> Self {
        Self {
            protection: Protection::Plain,
            seq: 0,
            counters: Counters::default(),
            pending: None,
            decompressor: None,
            inflated: Vec::new(),
            inflated_out: BytesMut::new(),
        }
    }

    pub(crate) fn set_compression(&mut self, on: bool) {
        self.decompressor = on.then(Decompressor::new);
    }

    /// Heap held by the decompression buffers.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.inflated.capacity() + self.inflated_out.capacity()
    }

    pub(crate) fn shrink_buffers(&mut self) {
        self.inflated = Vec::new();
        if self.inflated_out.is_empty() {
            self.inflated_out = BytesMut::new();
        }
    }

    /// Decodes the next complete packet from `buf`, if there is one.
    pub(crate) fn poll(&mut self, buf: &mut BytesMut, max_packet: usize) -> Result<Option<Received>, PacketError> {
        let (packet_len, prefix) = match self.pending {
            Some(p) => p,
            None => {
                let prefix = self.protection.length_prefix_len();
                let Some(head) = buf.get_mut(..prefix) else { return Ok(None) };
                let len = self.protection.read_length(self.seq, head) as usize;
                let block = self.protection.block_size();
                let padded = if self.protection.length_outside_padding() { len } else { len + 4 };
                if len > max_packet {
                    return Err(PacketError::TooLarge { length: len as u32, max: max_packet as u32 });
                }
                if len < 1 + MIN_PADDING + 1 || padded % block != 0 {
                    return Err(PacketError::BadLength(len as u32));
                }
                self.pending = Some((len, prefix));
                (len, prefix)
            }
        };
        let tag_len = self.protection.tag_len();
        let total = 4 + packet_len + tag_len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let Some(whole) = buf.get_mut(..total) else { return Ok(None) };
        let (packet, tag) = whole.split_at_mut(4 + packet_len);
        if !self.protection.open(self.seq, packet, prefix, tag) {
            return Err(PacketError::MacMismatch);
        }
        let pad_byte = packet.get(4).copied().unwrap_or(0);
        let pad = usize::from(pad_byte);
        if pad < MIN_PADDING || pad + 1 >= packet_len {
            return Err(PacketError::BadPadding(pad_byte));
        }
        let payload_end = 4 + packet_len - pad;
        self.pending = None;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.counters.bytes += total as u64;
        self.counters.packets += 1;

        let shares = buf.capacity();
        let packet = buf.split_to(total);
        let (payload, shares) = match &mut self.decompressor {
            None => (packet.freeze().slice(HEADER_LEN..payload_end), shares),
            Some(d) => {
                let compressed = packet.get(HEADER_LEN..payload_end).unwrap_or_default();
                d.decompress(compressed, &mut self.inflated, max_packet)?;
                self.inflated_out.extend_from_slice(&self.inflated);
                let shares = self.inflated_out.capacity();
                (self.inflated_out.split().freeze(), shares)
            }
        };
        if payload.is_empty() {
            return Err(PacketError::EmptyPayload);
        }
        Ok(Some(Received { seq, payload, shares }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::{Cipher, Mac};
    use crate::rng::SeededRng;
    use crate::transport::cipher::DirectionKeys;
    use proptest::prelude::*;
    use zeroize::Zeroizing;

    fn keys(cipher: Cipher, mac: Option<Mac>) -> DirectionKeys {
        DirectionKeys {
            cipher,
            mac,
            key: Zeroizing::new(vec![3; cipher.key_len()]),
            iv: Zeroizing::new(vec![5; cipher.iv_len()]),
            mac_key: Zeroizing::new(vec![7; mac.map_or(0, Mac::key_len)]),
        }
    }

    fn pair(cipher: Option<(Cipher, Option<Mac>)>, compress: bool) -> (Sealer, Opener) {
        let mut s = Sealer::new();
        let mut o = Opener::new();
        if let Some((c, m)) = cipher {
            s.protection = Protection::new(&keys(c, m), true).unwrap();
            o.protection = Protection::new(&keys(c, m), false).unwrap();
        }
        s.set_compression(compress);
        o.set_compression(compress);
        (s, o)
    }

    fn seal(s: &mut Sealer, out: &mut BytesMut, payload: &[u8], rng: &mut SeededRng) {
        let start = s.begin(out, 0);
        out.extend_from_slice(payload);
        s.finish(out, start, 256 * 1024, rng).unwrap();
    }

    const SUITES: &[Option<(Cipher, Option<Mac>)>] = &[
        None,
        Some((Cipher::ChaCha20Poly1305, None)),
        Some((Cipher::Aes128Gcm, None)),
        Some((Cipher::Aes256Gcm, None)),
        Some((Cipher::Aes128Ctr, Some(Mac::HmacSha256Etm))),
        Some((Cipher::Aes192Ctr, Some(Mac::HmacSha512))),
        Some((Cipher::Aes256Ctr, Some(Mac::HmacSha1Etm))),
        Some((Cipher::Aes128Cbc, Some(Mac::HmacSha1))),
        Some((Cipher::TripleDesCbc, Some(Mac::HmacSha256))),
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any payloads, any suite, compressed or not, split into arbitrary chunks: the same
        /// payloads come out in order.
        #[test]
        fn framing_round_trip_any_fragmentation(
            suite in 0..SUITES.len(),
            compress in any::<bool>(),
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..3000), 1..8),
            cuts in proptest::collection::vec(1usize..5000, 1..50),
        ) {
            let (mut s, mut o) = pair(SUITES[suite], compress);
            let mut rng = SeededRng::new(1);
            let mut wire = BytesMut::new();
            for p in &payloads {
                seal(&mut s, &mut wire, p, &mut rng);
            }
            let wire = wire.freeze();
            let mut rx = BytesMut::new();
            let mut got = Vec::new();
            let mut pos = 0;
            let mut cuts = cuts.into_iter().cycle();
            while pos < wire.len() {
                let n = cuts.next().unwrap().min(wire.len() - pos);
                rx.extend_from_slice(&wire[pos..pos + n]);
                pos += n;
                while let Some(r) = o.poll(&mut rx, 256 * 1024).unwrap() {
                    got.push(r.payload.to_vec());
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert!(rx.is_empty());
        }
    }

    #[test]
    fn sequence_numbers_wrap() {
        for &suite in SUITES {
            let (mut s, mut o) = pair(suite, false);
            s.seq = u32::MAX - 1;
            o.seq = u32::MAX - 1;
            let mut rng = SeededRng::new(2);
            let mut wire = BytesMut::new();
            for i in 0..4u8 {
                seal(&mut s, &mut wire, &[i + 1; 40], &mut rng);
            }
            let seqs: Vec<u32> = std::iter::from_fn(|| o.poll(&mut wire, 1 << 18).unwrap()).map(|r| r.seq).collect();
            assert_eq!(seqs, [u32::MAX - 1, u32::MAX, 0, 1]);
        }
    }

    #[test]
    fn hostile_lengths_are_typed_errors() {
        let mut o = Opener::new();
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 0][..]);
        assert!(matches!(o.poll(&mut buf, 256 * 1024), Err(PacketError::TooLarge { length: u32::MAX, .. })));
        let mut o = Opener::new();
        let mut buf = BytesMut::from(&[0, 0, 0, 0][..]);
        assert_eq!(o.poll(&mut buf, 256 * 1024).err(), Some(PacketError::BadLength(0)));
        // Length not a multiple of the block size.
        let mut o = Opener::new();
        let mut buf = BytesMut::from(&[0, 0, 0, 13][..]);
        assert_eq!(o.poll(&mut buf, 256 * 1024).err(), Some(PacketError::BadLength(13)));
        // Padding length below 4, and padding covering the whole packet.
        for pad in [3u8, 11] {
            let mut o = Opener::new();
            let mut buf = BytesMut::from(&[0, 0, 0, 12, pad, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
            assert_eq!(o.poll(&mut buf, 256 * 1024).err(), Some(PacketError::BadPadding(pad)));
        }
    }

    #[test]
    fn mac_failure_for_every_suite() {
        for &suite in SUITES.iter().skip(1) {
            let (mut s, mut o) = pair(suite, false);
            let mut rng = SeededRng::new(3);
            let mut wire = BytesMut::new();
            seal(&mut s, &mut wire, b"\x05hello", &mut rng);
            let n = wire.len();
            wire[n - 1] ^= 0x40;
            assert_eq!(o.poll(&mut wire, 1 << 18).err(), Some(PacketError::MacMismatch), "{suite:?}");
        }
    }
}
