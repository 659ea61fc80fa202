//! OpenSSL's "traditional" PEM encryption (`Proc-Type: 4,ENCRYPTED` + `DEK-Info`): the key is
//! derived with `EVP_BytesToKey` (one MD5 round, salt = the first 8 IV bytes) and the DER is
//! CBC-encrypted with PKCS#7 padding. OpenSSH and Paramiko write AES-128-CBC; old files use
//! DES-EDE3-CBC.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::KeyFileError;

/// The ciphers a DEK-Info line can name (all CBC: that is what the format defines).
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DekCipher {
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    DesEde3Cbc,
}

impl DekCipher {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "AES-128-CBC" => Self::Aes128Cbc,
            "AES-192-CBC" => Self::Aes192Cbc,
            "AES-256-CBC" => Self::Aes256Cbc,
            "DES-EDE3-CBC" => Self::DesEde3Cbc,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Aes128Cbc => "AES-128-CBC",
            Self::Aes192Cbc => "AES-192-CBC",
            Self::Aes256Cbc => "AES-256-CBC",
            Self::DesEde3Cbc => "DES-EDE3-CBC",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc => 16,
            Self::Aes192Cbc | Self::DesEde3Cbc => 24,
            Self::Aes256Cbc => 32,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            Self::DesEde3Cbc => 8,
            _ => 16,
        }
    }
}

/// `EVP_BytesToKey(MD5, salt, passphrase, count = 1)`.
fn derive_key(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut prev: Option<Zeroizing<[u8; 16]>> = None;
    while key.len() < len {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(&p[..]);
        }
        h.update(passphrase);
        h.update(salt);
        let block = Zeroizing::new(<[u8; 16]>::from(h.finalize()));
        key.extend_from_slice(&block[..]);
        prev = Some(block);
    }
    key.truncate(len);
    key
}

fn cbc_decrypt(cipher: DekCipher, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    macro_rules! run {
        ($c:ty) => {
            cbc::Decryptor::<$c>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok()
        };
    }
    match cipher {
        DekCipher::Aes128Cbc => run!(aes::Aes128),
        DekCipher::Aes192Cbc => run!(aes::Aes192),
        DekCipher::Aes256Cbc => run!(aes::Aes256),
        DekCipher::DesEde3Cbc => run!(des::TdesEde3),
    }
}

/// Decrypts the body of an encrypted traditional PEM block.
pub(crate) fn decrypt(dek_info: &str, passphrase: &[u8], body: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let (name, iv_hex) = dek_info.split_once(',').ok_or_else(|| KeyFileError::malformed("pem", "bad DEK-Info"))?;
    let cipher = DekCipher::from_name(name.trim())
        .ok_or_else(|| KeyFileError::UnsupportedCipher { name: name.trim().to_owned() })?;
    let iv = hex_decode(iv_hex.trim()).ok_or_else(|| KeyFileError::malformed("pem", "bad DEK-Info IV"))?;
    if iv.len() != cipher.iv_len() {
        return Err(KeyFileError::malformed("pem", "DEK-Info IV has the wrong length"));
    }
    let salt = iv.get(..8).ok_or_else(|| KeyFileError::malformed("pem", "short IV"))?;
    let key = derive_key(passphrase, salt, cipher.key_len());
    // Bad padding is what a wrong passphrase looks like (and 1 in 256 wrong passphrases pass
    // it: the DER parse that follows catches those).
    cbc_decrypt(cipher, &key, &iv, body).map(Zeroizing::new).ok_or(KeyFileError::WrongPassphrase)
}

/// Encrypts `der` with AES-128-CBC under `passphrase`, returning the `DEK-Info` value and
/// the ciphertext.
pub(crate) fn encrypt(passphrase: &[u8], iv: [u8; 16], der: &[u8]) -> Result<(String, Vec<u8>), KeyFileError> {
    let cipher = DekCipher::Aes128Cbc;
    let (salt, _) = iv.split_at(8);
    let key = derive_key(passphrase, salt, cipher.key_len());
    let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
        .map_err(KeyFileError::encode)?
        .encrypt_padded_vec::<Pkcs7>(der);
    let iv_hex: String = iv.iter().map(|b| format!("{b:02X}")).collect();
    Ok((format!("{},{iv_hex}", cipher.name()), ct))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let der = b"0123456789 some DER bytes of any length".to_vec();
        let (dek, ct) = encrypt(b"secret", [7; 16], &der).unwrap();
        assert!(dek.starts_with("AES-128-CBC,0707"));
        assert_eq!(&decrypt(&dek, b"secret", &ct).unwrap()[..], &der[..]);
        // A wrong passphrase fails padding or yields garbage; never the plaintext.
        assert!(decrypt(&dek, b"wrong", &ct).map_or(true, |p| p[..] != der[..]));
        assert!(matches!(decrypt("BF-CBC,0011", b"x", &ct), Err(KeyFileError::UnsupportedCipher { .. })));
        assert!(matches!(decrypt("AES-128-CBC,zz", b"x", &ct), Err(KeyFileError::Malformed { .. })));
    }
}
