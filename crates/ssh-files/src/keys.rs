//! Private key files: the ones a user names, and the `~/.ssh` defaults.

use std::path::{Path, PathBuf};

use ssh_proto::KeyPair;
use ssh_proto::driver::{Error, KeySource};
use ssh_proto::keys::file::decode_private_key;

/// A private key file (any format the core reads), decrypted with `passphrase` if it is
/// encrypted. The error names the file.
pub fn load_key(path: &Path, passphrase: Option<&str>) -> Result<KeyPair, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
    let loaded = decode_private_key(&text, passphrase.map(str::as_bytes))
        .map_err(|e| Error::Io(std::io::Error::other(format!("{}: {e}", path.display()))))?;
    Ok(KeyPair::new(loaded.key)?)
}

/// The keys of `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa` that load (with `passphrase`
/// for encrypted ones), in that order: Paramiko's `look_for_keys`. Missing and unreadable
/// files are left out.
pub fn default_keys(passphrase: Option<&str>) -> Vec<KeyPair> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    let dir = PathBuf::from(home).join(".ssh");
    KeySource::DEFAULT_FILES.iter().filter_map(|name| load_key(&dir.join(name), passphrase).ok()).collect()
}
