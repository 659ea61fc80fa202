//! Test data that checksums catch any change in.

/// `len` deterministic pseudo-random bytes (xorshift64); another `seed` gives other bytes,
/// and there is no short period for a lost or repeated block to hide in.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
