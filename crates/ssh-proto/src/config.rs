//! Settings shared by both roles.

use core::time::Duration;

use crate::algorithm::Algorithms;
use crate::transport::BannerLimits;

/// This crate's default `softwareversion` (`SSH-2.0-<this>`).
pub const DEFAULT_SOFTWARE_VERSION: &str = concat!("sshrs_", env!("CARGO_PKG_VERSION"));

/// When to re-exchange keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RekeyPolicy {
    /// After this many bytes in either direction (OpenSSH `RekeyLimit`; default 1 GiB).
    /// Lower limits from RFC 4344 for 64-bit block ciphers apply on top.
    pub bytes: u64,
    /// After this much time (default one hour); `None` disables time-based rekeying.
    pub time: Option<Duration>,
}

impl Default for RekeyPolicy {
    fn default() -> Self {
        Self { bytes: 1 << 30, time: Some(Duration::from_secs(3600)) }
    }
}

/// Memory and size limits. Every buffer that a peer can grow is bounded by one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `packet_length` accepted and largest payload sent (default 256 KiB, as OpenSSH).
    pub max_packet: usize,
    /// Lines and line length before the peer's identification.
    pub banner: BannerLimits,
    /// Unprocessed received bytes held while processing is paused (for example while a host
    /// key decision is pending).
    pub max_receive_buffer: usize,
    /// Bytes of upper-layer messages queued while a key exchange is in progress.
    pub max_deferred: usize,
    /// Output not yet taken by `poll_transmit` beyond which automatic replies (PONG,
    /// UNIMPLEMENTED) end the connection: a peer that floods requests while not reading
    /// cannot grow our memory.
    pub max_pending_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packet: 256 * 1024,
            banner: BannerLimits::default(),
            max_receive_buffer: 1024 * 1024,
            max_deferred: 4 * 1024 * 1024,
            max_pending_output: 16 * 1024 * 1024,
        }
    }
}

/// Transport settings common to clients and servers.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Algorithm preferences.
    pub algorithms: Algorithms,
    /// The `softwareversion` part of our identification line.
    pub software_version: String,
    /// Optional comment after the software version.
    pub comment: Option<String>,
    /// Limits.
    pub limits: Limits,
    /// Rekey policy.
    pub rekey: RekeyPolicy,
    /// Time allowed from start to the end of the first key exchange (`None`: no limit).
    pub handshake_timeout: Option<Duration>,
    /// Offer the strict key exchange (Terrapin countermeasure). On by default.
    pub strict_kex: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            algorithms: Algorithms::default(),
            software_version: DEFAULT_SOFTWARE_VERSION.to_owned(),
            comment: None,
            limits: Limits::default(),
            rekey: RekeyPolicy::default(),
            handshake_timeout: Some(Duration::from_secs(120)),
            strict_kex: true,
        }
    }
}

impl TransportConfig {
    /// Our identification line without CR LF.
    pub fn identification(&self) -> String {
        match &self.comment {
            Some(c) => format!("SSH-2.0-{} {c}", self.software_version),
            None => format!("SSH-2.0-{}", self.software_version),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        self.algorithms.validate()?;
        let bad = |why: &str| Err(crate::Error::Config(why.to_owned()));
        if self.software_version.is_empty() || !self.software_version.bytes().all(|b| b.is_ascii_graphic() && b != b'-')
        {
            return bad("software version must be printable ASCII without spaces or '-'");
        }
        if self.identification().len() > 253 {
            return bad("identification line longer than 255 bytes");
        }
        if self.limits.max_packet < 35_000 {
            return bad("max_packet must allow the RFC 4253 minimum of 35000 bytes");
        }
        if self.rekey.bytes < 16 * 1024 {
            return bad("rekey byte limit below 16 KiB");
        }
        Ok(())
    }
}
