//! Identification exchange (RFC 4253 §4.2).

use bytes::{Buf, BytesMut};

use crate::error::VersionError;

/// Limits on what precedes the peer's identification line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BannerLimits {
    /// Most lines a server may send before its identification line (OpenSSH: 1024).
    pub max_lines: usize,
    /// Longest line, CR LF included (OpenSSH: 8 KiB).
    pub max_line_len: usize,
}

impl Default for BannerLimits {
    fn default() -> Self {
        Self { max_lines: 1024, max_line_len: 8192 }
    }
}

/// The peer's identification, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerVersion {
    /// The whole line without CR LF (`V_C` / `V_S` in the exchange hash).
    pub line: String,
    /// `softwareversion` (for example `OpenSSH_9.2p1`).
    pub software: String,
    /// The comment after the software version, if any.
    pub comments: Option<String>,
}

fn printable(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    s.chars().take(80).filter(|c| !c.is_control()).collect()
}

/// Incremental reader of the peer's identification.
#[derive(Debug)]
pub(crate) struct VersionReader {
    limits: BannerLimits,
    /// Servers may send lines before their identification; clients may not.
    allow_pre_banner: bool,
    lines: usize,
    first_line: Option<String>,
}

impl VersionReader {
    pub(crate) fn new(limits: BannerLimits, allow_pre_banner: bool) -> Self {
        Self { limits, allow_pre_banner, lines: 0, first_line: None }
    }

    /// The first non-SSH line seen, for a "not SSH" report when the peer goes away.
    pub(crate) fn first_line(&self) -> Option<&str> {
        self.first_line.as_deref()
    }

    /// Consumes complete lines from `buf`; returns the identification once seen.
    pub(crate) fn poll(&mut self, buf: &mut BytesMut) -> Result<Option<PeerVersion>, VersionError> {
        loop {
            let Some(nl) = buf.iter().take(self.limits.max_line_len).position(|&b| b == b'\n') else {
                if buf.len() >= self.limits.max_line_len {
                    return Err(VersionError::LineTooLong);
                }
                return Ok(None);
            };
            let raw = buf.get(..nl).unwrap_or_default();
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.starts_with(b"SSH-") {
                let v = parse(line);
                buf.advance(nl + 1);
                return v.map(Some);
            }
            if self.first_line.is_none() {
                self.first_line = Some(printable(line));
            }
            if !self.allow_pre_banner {
                return Err(VersionError::NotSsh(printable(line)));
            }
            self.lines += 1;
            if self.lines > self.limits.max_lines {
                return Err(VersionError::TooManyLines);
            }
            buf.advance(nl + 1);
        }
    }
}

fn parse(line: &[u8]) -> Result<PeerVersion, VersionError> {
    let text = printable(line);
    if line.contains(&0) {
        return Err(VersionError::Malformed(text));
    }
    let s = core::str::from_utf8(line).map_err(|_| VersionError::Malformed(text.clone()))?;
    let rest = s.strip_prefix("SSH-").ok_or_else(|| VersionError::Malformed(text.clone()))?;
    let (proto, software_and_comments) = rest.split_once('-').ok_or_else(|| VersionError::Malformed(text.clone()))?;
    match proto {
        "2.0" | "1.99" => {}
        p if p.starts_with("1.") => return Err(VersionError::Ssh1(text)),
        _ => return Err(VersionError::UnsupportedVersion(text)),
    }
    let (software, comments) = match software_and_comments.split_once(' ') {
        Some((sw, c)) => (sw, Some(c.to_owned())),
        None => (software_and_comments, None),
    };
    if software.is_empty() {
        return Err(VersionError::Malformed(text));
    }
    Ok(PeerVersion { line: s.to_owned(), software: software.to_owned(), comments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], pre: bool) -> Result<Option<PeerVersion>, VersionError> {
        let mut buf = BytesMut::from(input);
        VersionReader::new(BannerLimits::default(), pre).poll(&mut buf)
    }

    #[test]
    fn identification_lines() {
        let v = read(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", false).unwrap().unwrap();
        assert_eq!(v.software, "OpenSSH_9.2p1");
        assert_eq!(v.comments.as_deref(), Some("Debian-2"));
        assert_eq!(v.line, "SSH-2.0-OpenSSH_9.2p1 Debian-2");
        // LF only, and 1.99 compatibility.
        assert_eq!(read(b"SSH-1.99-x\n", false).unwrap().unwrap().software, "x");
        assert!(read(b"SSH-2.0-OpenSSH", false).unwrap().is_none());
    }

    #[test]
    fn pre_banner_lines_only_from_servers() {
        let v = read(b"hello\r\nworld\nSSH-2.0-srv\r\n", true).unwrap().unwrap();
        assert_eq!(v.software, "srv");
        assert!(matches!(read(b"hello\r\nSSH-2.0-x\r\n", false), Err(VersionError::NotSsh(_))));
    }

    #[test]
    fn typed_errors() {
        assert!(matches!(read(b"SSH-1.5-old\r\n", true), Err(VersionError::Ssh1(_))));
        assert!(matches!(read(b"SSH-3.0-future\r\n", true), Err(VersionError::UnsupportedVersion(_))));
        assert!(matches!(read(b"SSH-2.0-\r\n", true), Err(VersionError::Malformed(_))));
        assert!(matches!(read(b"SSH-2.0-a\0b\r\n", true), Err(VersionError::Malformed(_))));
        assert!(matches!(read(&[b'x'; 9000], true), Err(VersionError::LineTooLong)));
        let many = "x\n".repeat(1025);
        assert!(matches!(read(many.as_bytes(), true), Err(VersionError::TooManyLines)));
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"pre\r\nSSH-2.0-OpenSSH_9.2\r\nrest";
        let mut r = VersionReader::new(BannerLimits::default(), true);
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input {
            buf.extend_from_slice(&[b]);
            if let Some(v) = r.poll(&mut buf).unwrap() {
                got = Some(v);
                break;
            }
        }
        assert_eq!(got.unwrap().software, "OpenSSH_9.2");
    }
}
