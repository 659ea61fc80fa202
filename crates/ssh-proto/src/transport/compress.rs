//! zlib compression per direction (RFC 4253 §6.2). One stream per direction, flushed with
//! `Z_SYNC_FLUSH` after each packet; restarted at every NEWKEYS, as OpenSSH does.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::PacketError;

pub(crate) struct Compressor(Compress);

impl Compressor {
    pub(crate) fn new() -> Self {
        Self(Compress::new(flate2::Compression::new(6), true))
    }

    /// Compresses `input`, appending to `out`.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), PacketError> {
        let start_in = self.0.total_in();
        out.reserve(input.len() / 2 + 64);
        loop {
            let consumed = (self.0.total_in() - start_in) as usize;
            let rest = input.get(consumed..).unwrap_or_default();
            self.0.compress_vec(rest, out, FlushCompress::Sync).map_err(|_| PacketError::Decompression)?;
            let consumed = (self.0.total_in() - start_in) as usize;
            // A sync flush is complete once it stops filling the output.
            if consumed == input.len() && out.len() < out.capacity() {
                return Ok(());
            }
            out.reserve(out.capacity().max(256));
        }
    }
}

pub(crate) struct Decompressor(Decompress);

impl Decompressor {
    pub(crate) fn new() -> Self {
        Self(Decompress::new(true))
    }

    /// Inflates `input` into `out` (cleared first), failing past `limit` bytes.
    pub(crate) fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), PacketError> {
        out.clear();
        let start_in = self.0.total_in();
        loop {
            let consumed = (self.0.total_in() - start_in) as usize;
            let rest = input.get(consumed..).unwrap_or_default();
            if out.capacity() == out.len() {
                out.reserve((input.len() * 4).clamp(256, limit.saturating_sub(out.len()).max(1)));
            }
            let status =
                self.0.decompress_vec(rest, out, FlushDecompress::Sync).map_err(|_| PacketError::Decompression)?;
            if out.len() > limit {
                return Err(PacketError::Decompression);
            }
            let consumed = (self.0.total_in() - start_in) as usize;
            match status {
                Status::StreamEnd => return Err(PacketError::Decompression),
                _ if consumed == input.len() && out.len() < out.capacity() => return Ok(()),
                Status::BufError if out.len() < out.capacity() => return Err(PacketError::Decompression),
                _ => {
                    if out.len() >= limit {
                        return Err(PacketError::Decompression);
                    }
                    out.reserve(out.capacity().max(256).min(limit + 1 - out.len()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_round_trip_across_packets() {
        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        for i in 0..50u32 {
            let msg: Vec<u8> = (0..(i * 97 % 5000)).map(|j| (j % 7) as u8 + b'a').collect();
            wire.clear();
            c.compress(&msg, &mut wire).unwrap();
            d.decompress(&wire, &mut plain, 1 << 20).unwrap();
            assert_eq!(plain, msg);
        }
    }

    #[test]
    fn bombs_and_garbage_are_errors() {
        let mut c = Compressor::new();
        let mut wire = Vec::new();
        c.compress(&vec![0u8; 1 << 20], &mut wire).unwrap();
        let mut out = Vec::new();
        assert_eq!(Decompressor::new().decompress(&wire, &mut out, 256 * 1024), Err(PacketError::Decompression));
        assert_eq!(
            Decompressor::new().decompress(b"\xff\xff\xff\xff", &mut out, 1024),
            Err(PacketError::Decompression)
        );
    }
}
