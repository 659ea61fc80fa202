//! PEM armor (RFC 7468 plus the RFC 1421 headers OpenSSL's encrypted "traditional" keys
//! carry), read leniently the way OpenSSH and OpenSSL read it: CRLF or LF, surrounding text
//! ignored, base64 wrapped at any width.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use super::KeyFileError;

/// One decoded PEM block.
pub(crate) struct Armor<'a> {
    pub(crate) label: &'a str,
    /// `Proc-Type`, `DEK-Info`, … in file order.
    pub(crate) headers: Vec<(&'a str, &'a str)>,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Armor<'_> {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// `openssl ecparam -genkey` puts this block before the key; it says nothing the key does
/// not.
const SKIPPED: &str = "EC PARAMETERS";

fn begin(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// The label of the first `-----BEGIN label-----` line, if any.
pub(crate) fn first_label(text: &str) -> Option<&str> {
    text.lines().find_map(|l| begin(l.trim()).filter(|l| *l != SKIPPED))
}

/// Decodes the first PEM block in `text`.
pub(crate) fn decode(text: &str) -> Result<Armor<'_>, KeyFileError> {
    let mut lines = text.lines().map(str::trim);
    let label = lines.by_ref().find_map(|l| begin(l).filter(|l| *l != SKIPPED)).ok_or(KeyFileError::NotAKeyFile)?;
    let end = format!("-----END {label}-----");
    let mut headers = Vec::new();
    let mut b64 = Zeroizing::new(String::new());
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.starts_with("-----") {
            // Another boundary before ours: the block was cut off.
            return Err(KeyFileError::Truncated);
        }
        if in_headers {
            if let Some((k, v)) = line.split_once(':')
                && !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                headers.push((k.trim(), v.trim()));
                continue;
            }
            in_headers = false;
            if line.is_empty() {
                continue;
            }
        }
        b64.push_str(line);
    }
    if !ended {
        return Err(KeyFileError::Truncated);
    }
    let body = Base64::decode_vec(&b64).map_err(|_| {
        // A body whose length is not a multiple of four lost its end.
        if !b64.len().is_multiple_of(4) { KeyFileError::Truncated } else { KeyFileError::InvalidBase64 }
    })?;
    Ok(Armor { label, headers, body: Zeroizing::new(body) })
}

/// Armors `der` under `label` with `headers`, base64 wrapped at `width` columns.
pub(crate) fn encode(label: &str, headers: &[(&str, String)], der: &[u8], width: usize) -> Zeroizing<String> {
    let b64 = Zeroizing::new(Base64::encode_string(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / width + 80));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for (k, v) in headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    }
    if !headers.is_empty() {
        out.push('\n');
    }
    for chunk in b64.as_bytes().chunks(width.max(4)) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}
