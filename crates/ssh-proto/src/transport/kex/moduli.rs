//! Group-exchange moduli: OpenSSH's `/etc/ssh/moduli` format and group selection.
//!
//! The driver reads the file and hands its text to [`Moduli::parse`] (Paramiko's
//! `load_server_moduli`); without one, the RFC 3526 groups are used, as OpenSSH does when
//! its moduli file is missing.

use rand_core::CryptoRng;

use super::dh::DhGroup;
use super::groups;
use crate::Error;

/// One safe prime from a moduli file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modulus {
    /// Size in bits.
    pub bits: u32,
    /// Generator.
    pub generator: u32,
    /// The prime, big-endian.
    pub prime: Vec<u8>,
}

/// The table of groups a server offers for `diffie-hellman-group-exchange-*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moduli {
    groups: Vec<Modulus>,
}

impl Default for Moduli {
    /// The RFC 3526 MODP groups of 2048, 3072, 4096, 6144 and 8192 bits.
    fn default() -> Self {
        let fixed: [&[u8]; 5] =
            [&groups::MODP_2048, &groups::MODP_3072, &groups::MODP_4096, &groups::MODP_6144, &groups::MODP_8192];
        Self {
            groups: fixed
                .iter()
                .map(|p| Modulus { bits: p.len() as u32 * 8, generator: 2, prime: p.to_vec() })
                .collect(),
        }
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let padded;
    let s = if s.len() % 2 == 1 {
        padded = format!("0{s}");
        padded.as_str()
    } else {
        s
    };
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

impl Moduli {
    /// Parses OpenSSH moduli text: `time type tests tries size generator modulus` per line,
    /// `#` comments. Only safe primes (type 2) that passed Miller-Rabin (tests bit 0x04) are
    /// kept, as OpenSSH does. Malformed lines are errors naming the line.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut groups = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || Error::Config(format!("moduli line {}: malformed", i + 1));
            let f: Vec<&str> = line.split_whitespace().collect();
            let [_time, kind, tests, _tries, size, generator, modulus] = f.as_slice() else {
                return Err(bad());
            };
            let kind: u32 = kind.parse().map_err(|_| bad())?;
            let tests: u32 = tests.parse().map_err(|_| bad())?;
            let size: u32 = size.parse().map_err(|_| bad())?;
            let generator: u32 = generator.parse().map_err(|_| bad())?;
            let prime = hex_decode(modulus).ok_or_else(bad)?;
            // MODULI_TYPE_SAFE = 2; MODULI_TESTS_MILLER_RABIN = 0x04; size is bits - 1.
            if kind != 2 || tests & 0x04 == 0 || tests & 0x01 != 0 {
                continue;
            }
            let bits = size + 1;
            let actual = prime
                .iter()
                .position(|&b| b != 0)
                .map_or(0, |z| (prime.len() - z) as u32 * 8 - prime.get(z).map_or(0, |b| b.leading_zeros()));
            if actual != bits {
                return Err(Error::Config(format!("moduli line {}: size {bits} does not match the prime", i + 1)));
            }
            groups.push(Modulus { bits, generator, prime });
        }
        if groups.is_empty() {
            return Err(Error::Config("moduli: no usable groups".into()));
        }
        Ok(Self { groups })
    }

    /// The groups.
    pub fn groups(&self) -> &[Modulus] {
        &self.groups
    }

    /// OpenSSH's `choose_dh`: among groups within `[min, max]`, those closest in size to
    /// `preferred` (the smallest size ≥ preferred, else the largest below it), one at random.
    pub(crate) fn choose(&self, min: u32, preferred: u32, max: u32, rng: &mut dyn CryptoRng) -> Option<DhGroup> {
        let in_range = |m: &&Modulus| m.bits >= min && m.bits <= max;
        let target = self
            .groups
            .iter()
            .filter(in_range)
            .map(|m| m.bits)
            .filter(|&b| b >= preferred)
            .min()
            .or_else(|| self.groups.iter().filter(in_range).map(|m| m.bits).max())?;
        let candidates: Vec<&Modulus> = self.groups.iter().filter(|m| m.bits == target).collect();
        let pick = (rng.next_u32() as usize) % candidates.len().max(1);
        let m = candidates.get(pick)?;
        DhGroup::new(&m.prime, &m.generator.to_be_bytes()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn default_table_choice() {
        let m = Moduli::default();
        let mut rng = SeededRng::new(3);
        assert_eq!(m.choose(2048, 3072, 8192, &mut rng).unwrap().bits(), 3072);
        assert_eq!(m.choose(2048, 7680, 8192, &mut rng).unwrap().bits(), 8192);
        assert_eq!(m.choose(9000, 9000, 9000, &mut rng).map(|g| g.bits()), None);
        assert_eq!(m.choose(1024, 1024, 2048, &mut rng).unwrap().bits(), 2048);
    }

    #[test]
    fn parse_openssh_format() {
        let p = hex::encode(groups::MODP_2048);
        let text = format!(
            "# comment\n20230101000000 2 6 100 2047 2 {p}\n20230101000000 2 1 100 2047 2 {p}\n20230101000000 4 6 100 2047 5 {p}\n"
        );
        let m = Moduli::parse(&text).unwrap();
        assert_eq!(m.groups().len(), 1);
        assert_eq!(m.groups()[0].bits, 2048);
        assert!(Moduli::parse("1 2 6 100 2047 2 zz").is_err());
        assert!(Moduli::parse(&format!("1 2 6 100 1023 2 {p}")).is_err());
        assert!(Moduli::parse("").is_err());
    }
}
