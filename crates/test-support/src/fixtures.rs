//! The throwaway host keys in `crates/ssh-proto/testdata/hostkeys/`: ed25519, ecdsa256/384/521,
//! rsa2048 and dsa, each with a CA-signed host certificate (`host_<name>-cert.pub`).

use std::path::PathBuf;

use ssh_proto::HostKey;
use ssh_proto::algorithm::{Algorithm, HostKeyAlgorithm, KeyFamily};
use ssh_proto::ssh_key::{Certificate, PublicKey};

/// Every fixture name, whether or not this build can serve it (`dsa` needs the `dss` feature).
pub const ALL: &[&str] = &["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa2048", "dsa"];

/// The fixture directory.
pub fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../ssh-proto/testdata/hostkeys"))
}

/// Whether ssh-proto was built with ssh-dss support (its `dss` feature).
pub fn dss_enabled() -> bool {
    HostKeyAlgorithm::from_name("ssh-dss").is_some()
}

/// One fixture host key.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// `ed25519`, `ecdsa256`, … (the file is `host_<name>`).
    pub name: &'static str,
    /// The private key file (OpenSSH format, unencrypted).
    pub private_path: PathBuf,
    /// The public key.
    pub public: PublicKey,
    /// The host certificate.
    pub certificate: Certificate,
    /// The host certificate file.
    pub certificate_path: PathBuf,
    plain: HostKey,
}

impl Fixture {
    /// The key with its certificate attached (serves the `-cert-v01` algorithms too).
    pub fn host_key(&self) -> HostKey {
        self.plain.clone().with_certificate(self.certificate.clone()).expect("fixture certificate matches its key")
    }

    /// The key alone.
    pub fn plain_host_key(&self) -> HostKey {
        self.plain.clone()
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.plain.family()
    }

    /// The `-t` argument of `ssh-keyscan` for this key.
    pub fn keyscan_type(&self) -> &'static str {
        match self.family() {
            KeyFamily::Ed25519 => "ed25519",
            KeyFamily::EcdsaP256 | KeyFamily::EcdsaP384 | KeyFamily::EcdsaP521 => "ecdsa",
            KeyFamily::Rsa => "rsa",
            _ => "dsa",
        }
    }

    /// `type base64` of the public key (no comment).
    pub fn public_openssh(&self) -> String {
        strip_comment(&self.public.to_openssh().expect("encode fixture key"))
    }

    /// `type base64` of the certificate (no comment).
    pub fn certificate_openssh(&self) -> String {
        strip_comment(&self.certificate.to_openssh().expect("encode fixture certificate"))
    }
}

fn strip_comment(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn read(name: &str) -> String {
    let p = dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

/// Loads one fixture by name (panics if it is missing or malformed).
pub fn fixture(name: &'static str) -> Fixture {
    let private_path = dir().join(format!("host_{name}"));
    let plain =
        HostKey::from_openssh(&read(&format!("host_{name}"))).unwrap_or_else(|e| panic!("fixture host_{name}: {e}"));
    let public = plain.public_key().clone();
    let certificate_path = dir().join(format!("host_{name}-cert.pub"));
    let certificate = Certificate::from_openssh(&read(&format!("host_{name}-cert.pub")))
        .unwrap_or_else(|e| panic!("fixture host_{name}-cert.pub: {e}"));
    Fixture { name, private_path, public, certificate, certificate_path, plain }
}

/// Every fixture this build can serve (`dsa` only with the `dss` feature).
pub fn fixtures() -> Vec<Fixture> {
    ALL.iter().filter(|n| **n != "dsa" || dss_enabled()).map(|n| fixture(n)).collect()
}

/// The CA public keys that signed the fixture certificates, as OpenSSH lines.
pub fn ca_public_keys() -> Vec<String> {
    ["ca_ed25519.pub", "ca_rsa.pub"].iter().map(|f| read(f).trim().to_owned()).collect()
}
