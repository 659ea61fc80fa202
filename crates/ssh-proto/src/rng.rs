//! Randomness is injected (DESIGN.md): the core only sees `&mut dyn CryptoRng`.
//!
//! [`SeededRng`] is a deterministic ChaCha20 generator for tests, fuzzing and the pair
//! harness. Production drivers pass a system RNG behind a [`BufferedRng`] (for example
//! `BufferedRng::new(rand_core::UnwrapErr(getrandom::SysRng))`).

use chacha20::ChaCha20Rng;
use rand_core::{Infallible, SeedableRng, TryCryptoRng, TryRng};
use zeroize::Zeroize;

/// A reproducible cryptographically strong generator (ChaCha20) seeded from a `u64`.
/// Deterministic by design: never use it for real connections.
#[derive(Debug)]
pub struct SeededRng(ChaCha20Rng);

impl SeededRng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for SeededRng {}

/// How many bytes [`BufferedRng`] fetches from its source at a time.
const BUFFERED: usize = 512;

/// Serves many small requests from one large read of a slower source.
///
/// Every packet sent asks for 4 to 19 bytes of padding; straight from the operating system's
/// generator that is one system call per packet, about 32,000 per GiB. This reads
/// [`BUFFERED`] bytes at a time instead, as OpenSSH's `arc4random` does. Bytes are wiped
/// from the buffer as they are handed out, and the rest when it drops, so a later look at
/// memory shows no output that was already used (a key exchange's ephemeral secret, say).
/// Requests of half the buffer or more go to the source directly.
///
/// ```
/// use rand_core::Rng;
/// use ssh_proto::{BufferedRng, SeededRng};
///
/// let mut rng = BufferedRng::new(SeededRng::new(7));
/// let mut padding = [0u8; 12];
/// rng.fill_bytes(&mut padding);
/// assert_ne!(padding, [0u8; 12]);
/// ```
pub struct BufferedRng<R> {
    source: R,
    buf: [u8; BUFFERED],
    /// `buf[next..]` is unused output; `buf[..next]` has been handed out and wiped.
    next: usize,
}

impl<R> BufferedRng<R> {
    /// Wraps `source`; the first request fills the buffer.
    pub fn new(source: R) -> Self {
        Self { source, buf: [0; BUFFERED], next: BUFFERED }
    }
}

impl<R> core::fmt::Debug for BufferedRng<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the buffered bytes: they are future key material.
        f.debug_struct("BufferedRng").field("unused", &(BUFFERED - self.next)).finish_non_exhaustive()
    }
}

impl<R> Drop for BufferedRng<R> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl<R: TryRng> TryRng for BufferedRng<R> {
    type Error = R::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        if dst.len() >= BUFFERED / 2 {
            return self.source.try_fill_bytes(dst);
        }
        let mut rest = dst;
        while !rest.is_empty() {
            if self.next == BUFFERED {
                self.source.try_fill_bytes(&mut self.buf)?;
                self.next = 0;
            }
            // `next < BUFFERED` here, so `unused` is never empty and each turn takes a byte.
            let unused = self.buf.get_mut(self.next..).unwrap_or_default();
            let take = rest.len().min(unused.len());
            let (now, later) = rest.split_at_mut(take);
            let (used, _) = unused.split_at_mut(take);
            now.copy_from_slice(used);
            used.zeroize();
            self.next += take;
            rest = later;
        }
        Ok(())
    }
}

impl<R: TryCryptoRng> TryCryptoRng for BufferedRng<R> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::Rng;

    /// Counts the source's requests, to see that small ones are served from the buffer.
    struct Counting {
        inner: SeededRng,
        calls: usize,
    }

    impl TryRng for Counting {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            self.calls += 1;
            self.inner.try_next_u32()
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            self.calls += 1;
            self.inner.try_next_u64()
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            self.calls += 1;
            self.inner.try_fill_bytes(dst)
        }
    }

    #[test]
    fn small_requests_share_one_read_and_used_bytes_are_wiped() {
        let mut rng = BufferedRng::new(Counting { inner: SeededRng::new(1), calls: 0 });
        let mut pad = [0u8; 16];
        for _ in 0..BUFFERED / 16 {
            rng.fill_bytes(&mut pad);
        }
        assert_eq!(rng.source.calls, 1);
        assert!(rng.buf.iter().all(|&b| b == 0), "used output stays in memory");
        rng.fill_bytes(&mut pad);
        assert_eq!(rng.source.calls, 2);
        let big = &mut [0u8; BUFFERED];
        rng.fill_bytes(big);
        assert_eq!(rng.source.calls, 3, "a large request goes to the source");
        assert_eq!(rng.next, 16, "a large request leaves the buffer alone");
    }

    proptest! {
        /// Whatever the request sizes, the output is the source's stream in order: small
        /// requests from blocks of `BUFFERED` bytes, large ones straight from the stream
        /// (the rest of the current block waits for the next small request).
        #[test]
        fn output_is_the_source_stream(sizes in prop::collection::vec(0usize..2 * BUFFERED, 1..64)) {
            let mut model_source = SeededRng::new(9);
            let mut block: Vec<u8> = Vec::new();
            let mut expected = Vec::new();
            for &size in &sizes {
                if size >= BUFFERED / 2 {
                    let mut direct = vec![0u8; size];
                    model_source.fill_bytes(&mut direct);
                    expected.extend_from_slice(&direct);
                    continue;
                }
                let mut left = size;
                while left > 0 {
                    if block.is_empty() {
                        block = vec![0u8; BUFFERED];
                        model_source.fill_bytes(&mut block);
                    }
                    let take = left.min(block.len());
                    expected.extend(block.drain(..take));
                    left -= take;
                }
            }
            let mut rng = BufferedRng::new(SeededRng::new(9));
            let mut got = Vec::with_capacity(expected.len());
            for size in sizes {
                let mut part = vec![0u8; size];
                rng.fill_bytes(&mut part);
                got.extend_from_slice(&part);
            }
            prop_assert_eq!(got, expected);
        }
    }
}
