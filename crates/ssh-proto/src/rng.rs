//! Randomness is injected (DESIGN.md): the core only sees `&mut dyn CryptoRng`.
//!
//! [`SeededRng`] is a deterministic ChaCha20 generator for tests, fuzzing and the pair
//! harness. Production drivers pass a system RNG (for example
//! `rand_core::UnwrapErr(getrandom::SysRng)`).

use chacha20::ChaCha20Rng;
use rand_core::{Infallible, SeedableRng, TryCryptoRng, TryRng};

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
