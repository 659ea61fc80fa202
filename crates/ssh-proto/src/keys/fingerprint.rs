//! Fingerprints and the `ssh-keygen -l` line.

use md5::{Digest, Md5};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey};

/// The hash of a fingerprint (`ssh-keygen -E`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FingerprintHash {
    /// `SHA256:` + unpadded base64 (OpenSSH's default since 6.8).
    #[default]
    Sha256,
    /// `MD5:` + colon-separated lowercase hex (Paramiko's `get_fingerprint`).
    Md5,
}

impl FingerprintHash {
    /// Parses `sha256` / `md5` (any case), as `ssh-keygen -E` takes them.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" => Some(Self::Sha256),
            "md5" => Some(Self::Md5),
            _ => None,
        }
    }
}

/// The fingerprint of `key` exactly as OpenSSH prints it.
///
/// ```
/// use ssh_proto::keys::fingerprint::{FingerprintHash, fingerprint};
/// let key = ssh_key::PublicKey::from_openssh(
///     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILMDAtpX5l9xyVTOtha5WJJWtpSz0c1zK+2XrNvSzem7",
/// ).unwrap();
/// assert!(fingerprint(key.key_data(), FingerprintHash::Sha256).starts_with("SHA256:"));
/// assert_eq!(fingerprint(key.key_data(), FingerprintHash::Md5).len(), 4 + 47);
/// ```
pub fn fingerprint(key: &KeyData, hash: FingerprintHash) -> String {
    match hash {
        FingerprintHash::Sha256 => key.fingerprint(HashAlg::Sha256).to_string(),
        FingerprintHash::Md5 => {
            let mut blob = Vec::new();
            // Encoding a parsed key into a Vec cannot fail.
            let _ = ssh_encoding::Encode::encode(key, &mut blob);
            let digest = Md5::digest(&blob);
            let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("MD5:{}", hex.join(":"))
        }
    }
}

/// The key size `ssh-keygen -l` prints: modulus bits for RSA, `p` bits for DSA, the curve
/// size for ECDSA, 256 for Ed25519.
pub fn key_bits(key: &KeyData) -> u32 {
    fn bits(m: &ssh_encoding::Mpint) -> u32 {
        let b = m.as_positive_bytes().unwrap_or_default();
        match b.first() {
            Some(&top) => (b.len() as u32 - 1) * 8 + (8 - top.leading_zeros()),
            None => 0,
        }
    }
    match key {
        KeyData::Rsa(k) => bits(k.n()),
        KeyData::Dsa(k) => bits(k.p()),
        KeyData::Ecdsa(k) => match k.curve() {
            ssh_key::EcdsaCurve::NistP256 => 256,
            ssh_key::EcdsaCurve::NistP384 => 384,
            ssh_key::EcdsaCurve::NistP521 => 521,
        },
        KeyData::SkEcdsaSha2NistP256(_) => 256,
        _ => 256,
    }
}

/// The type tag `ssh-keygen -l` prints in parentheses.
pub fn type_label(key: &KeyData) -> &'static str {
    match key {
        KeyData::Rsa(_) => "RSA",
        KeyData::Dsa(_) => "DSA",
        KeyData::Ecdsa(_) => "ECDSA",
        KeyData::Ed25519(_) => "ED25519",
        KeyData::SkEcdsaSha2NistP256(_) => "ECDSA-SK",
        KeyData::SkEd25519(_) => "ED25519-SK",
        _ => "UNKNOWN",
    }
}

/// The line `ssh-keygen -l [-E hash] -f FILE` prints for a key: `BITS FINGERPRINT COMMENT
/// (TYPE)`, with `no comment` when the comment is empty. A certificate's type gets `-CERT`.
///
/// ```
/// use ssh_proto::keys::fingerprint::{FingerprintHash, keygen_line};
/// let key = ssh_key::PublicKey::from_openssh(
///     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILMDAtpX5l9xyVTOtha5WJJWtpSz0c1zK+2XrNvSzem7 me@host",
/// ).unwrap();
/// let line = keygen_line(&key, false, FingerprintHash::Sha256);
/// assert!(line.starts_with("256 SHA256:") && line.ends_with(" me@host (ED25519)"));
/// ```
pub fn keygen_line(key: &PublicKey, certificate: bool, hash: FingerprintHash) -> String {
    let data = key.key_data();
    let comment = if key.comment().is_empty() { "no comment" } else { key.comment().as_str_lossy() };
    let cert = if certificate { "-CERT" } else { "" };
    format!("{} {} {comment} ({}{cert})", key_bits(data), fingerprint(data, hash), type_label(data))
}

/// The "randomart" picture ssh-keygen draws for a key (`ssh-keygen -lv`, and after `-t`):
/// the drunken-bishop walk over the fingerprint digest on a 17×9 board, titled with the key
/// type (`-CERT` for a certificate) and size.
///
/// ```
/// use ssh_proto::keys::fingerprint::{FingerprintHash, randomart};
/// let key = ssh_key::PublicKey::from_openssh(
///     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILMDAtpX5l9xyVTOtha5WJJWtpSz0c1zK+2XrNvSzem7",
/// ).unwrap();
/// let art = randomart(key.key_data(), false, FingerprintHash::Sha256);
/// assert!(art.starts_with("+--[ED25519 256]--+\n") && art.ends_with("+----[SHA256]-----+"));
/// assert_eq!(art.lines().count(), 11);
/// ```
pub fn randomart(key: &KeyData, certificate: bool, hash: FingerprintHash) -> String {
    const W: usize = 17;
    const H: usize = 9;
    const SYMBOLS: &[u8] = b" .o+=*BOX@%&#/^SE";
    let top = SYMBOLS.len() - 1;
    let digest: Vec<u8> = match hash {
        FingerprintHash::Sha256 => key.fingerprint(HashAlg::Sha256).as_bytes().to_vec(),
        FingerprintHash::Md5 => {
            let mut blob = Vec::new();
            let _ = ssh_encoding::Encode::encode(key, &mut blob);
            Md5::digest(&blob).to_vec()
        }
    };
    let mut field = [[0usize; H]; W];
    let (mut x, mut y) = (W / 2, H / 2);
    for byte in digest {
        let mut input = byte;
        for _ in 0..4 {
            x = if input & 1 != 0 { (x + 1).min(W - 1) } else { x.saturating_sub(1) };
            y = if input & 2 != 0 { (y + 1).min(H - 1) } else { y.saturating_sub(1) };
            if let Some(cell) = field.get_mut(x).and_then(|c| c.get_mut(y))
                && *cell < top - 2
            {
                *cell += 1;
            }
            input >>= 2;
        }
    }
    if let Some(c) = field.get_mut(W / 2).and_then(|c| c.get_mut(H / 2)) {
        *c = top - 1;
    }
    if let Some(c) = field.get_mut(x).and_then(|c| c.get_mut(y)) {
        *c = top;
    }
    let border = |label: &str| {
        let label: String = label.chars().take(W).collect();
        let left = (W - label.len()) / 2;
        format!("+{}{label}{}+", "-".repeat(left), "-".repeat(W - left - label.len()))
    };
    let cert = if certificate { "-CERT" } else { "" };
    let mut title = format!("[{}{cert} {}]", type_label(key), key_bits(key));
    if title.len() >= W {
        title = format!("[{}{cert}]", type_label(key));
    }
    let name = match hash {
        FingerprintHash::Sha256 => "[SHA256]",
        FingerprintHash::Md5 => "[MD5]",
    };
    let mut out = border(&title);
    out.push('\n');
    for row in 0..H {
        out.push('|');
        for column in &field {
            let v = column.get(row).copied().unwrap_or(0).min(top);
            out.push(char::from(SYMBOLS.get(v).copied().unwrap_or(b'?')));
        }
        out.push_str("|\n");
    }
    out.push_str(&border(name));
    out
}
