//! The SSH wire encoding (RFC 4251 §5) and typed messages.
//!
//! [`Reader`] is strict: every read is bounds-checked, and [`Reader::finish`] rejects
//! trailing bytes. Writers append to a [`BufMut`] so messages can be encoded straight into
//! the packet buffer without an intermediate copy.

pub mod auth;
pub mod connection;
pub mod msg;
pub mod transport;

use core::fmt;

use bytes::BufMut;

/// Why a message failed to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The message ended before a field was complete.
    Truncated,
    /// Bytes remained after the last field.
    TrailingData,
    /// A `string` that must be UTF-8 (or US-ASCII) was not.
    InvalidUtf8,
    /// A `name-list` contained an empty name or a forbidden byte.
    InvalidNameList,
    /// A field exceeded the codec's size limit.
    TooLong,
    /// A field had a value outside its allowed range.
    InvalidValue,
    /// An `mpint` was negative where only positive values are allowed, or not minimally encoded.
    InvalidMpint,
    /// The message number did not match.
    WrongMessage,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated",
            Self::TrailingData => "trailing data",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::InvalidNameList => "invalid name-list",
            Self::TooLong => "field too long",
            Self::InvalidValue => "invalid value",
            Self::InvalidMpint => "invalid mpint",
            Self::WrongMessage => "wrong message number",
        })
    }
}

/// Reads the message number and checks it.
pub(crate) fn expect_msg(r: &mut Reader<'_>, number: u8) -> Result<(), WireError> {
    if r.u8()? == number { Ok(()) } else { Err(WireError::WrongMessage) }
}

/// Longest name-list the codec accepts (OpenSSH caps KEXINIT lists far below this).
pub const MAX_NAME_LIST: usize = 64 * 1024;
/// Most names in one name-list.
pub const MAX_NAMES: usize = 1024;

/// A bounds-checked cursor over a message.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// `byte`.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// `boolean`: any non-zero value is true (RFC 4251 §5).
    pub fn bool(&mut self) -> Result<bool, WireError> {
        Ok(self.u8()? != 0)
    }

    /// `uint32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// `uint64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// `string` as raw bytes.
    pub fn string(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.bytes(len)
    }

    /// `string` that must be UTF-8.
    pub fn utf8(&mut self) -> Result<&'a str, WireError> {
        core::str::from_utf8(self.string()?).map_err(|_| WireError::InvalidUtf8)
    }

    /// `name-list` (RFC 4251 §5): comma-separated, non-empty US-ASCII names without
    /// whitespace, control characters or commas.
    pub fn name_list(&mut self) -> Result<NameList<'a>, WireError> {
        let raw = self.string()?;
        NameList::parse(raw)
    }

    /// `mpint`, returned as its big-endian magnitude without leading zeros.
    /// Negative values are rejected: every mpint this crate reads is non-negative.
    pub fn mpint_positive(&mut self) -> Result<&'a [u8], WireError> {
        let raw = self.string()?;
        match raw.first() {
            None => Ok(raw),
            Some(&b) if b & 0x80 != 0 => Err(WireError::InvalidMpint),
            Some(0) => {
                // A leading zero is only allowed to keep the sign bit clear.
                match raw.get(1) {
                    Some(&next) if next & 0x80 != 0 => Ok(raw.get(1..).unwrap_or_default()),
                    _ => Err(WireError::InvalidMpint),
                }
            }
            Some(_) => Ok(raw),
        }
    }

    /// Fails with [`WireError::TrailingData`] unless everything was read.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.buf.is_empty() { Ok(()) } else { Err(WireError::TrailingData) }
    }
}

/// A validated `name-list`, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameList<'a> {
    raw: &'a str,
}

impl<'a> NameList<'a> {
    /// Validates a raw name-list.
    pub fn parse(raw: &'a [u8]) -> Result<Self, WireError> {
        if raw.len() > MAX_NAME_LIST {
            return Err(WireError::TooLong);
        }
        let s = core::str::from_utf8(raw).map_err(|_| WireError::InvalidNameList)?;
        if s.is_empty() {
            return Ok(Self { raw: s });
        }
        let mut count = 0usize;
        for name in s.split(',') {
            count += 1;
            if name.is_empty() || count > MAX_NAMES || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(WireError::InvalidNameList);
            }
        }
        Ok(Self { raw: s })
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + Clone + 'a {
        let raw = self.raw;
        raw.split(',').filter(|n| !n.is_empty())
    }

    /// Whether `name` is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// The raw comma-separated text.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The names as owned strings (for error reports).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// Encoding helpers over any [`BufMut`].
pub trait WireWrite: BufMut {
    /// `string`.
    fn put_string(&mut self, s: &[u8]) {
        self.put_u32(s.len() as u32);
        self.put_slice(s);
    }

    /// `boolean`.
    fn put_bool(&mut self, b: bool) {
        self.put_u8(u8::from(b));
    }

    /// `name-list` from names.
    fn put_name_list<'n>(&mut self, names: impl IntoIterator<Item = &'n str> + Clone) {
        let len: usize = names.clone().into_iter().enumerate().map(|(i, n)| n.len() + usize::from(i > 0)).sum();
        self.put_u32(len as u32);
        for (i, n) in names.into_iter().enumerate() {
            if i > 0 {
                self.put_u8(b',');
            }
            self.put_slice(n.as_bytes());
        }
    }

    /// `mpint` from a non-negative big-endian magnitude (leading zeros are stripped and a
    /// zero byte is prefixed when the top bit is set).
    fn put_mpint_positive(&mut self, magnitude: &[u8]) {
        let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        let m = magnitude.get(start..).unwrap_or_default();
        let pad = m.first().is_some_and(|&b| b & 0x80 != 0);
        self.put_u32((m.len() + usize::from(pad)) as u32);
        if pad {
            self.put_u8(0);
        }
        self.put_slice(m);
    }
}

impl<B: BufMut + ?Sized> WireWrite for B {}

/// Length of `magnitude` encoded by [`WireWrite::put_mpint_positive`], including the length prefix.
pub fn mpint_encoded_len(magnitude: &[u8]) -> usize {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
    let m = magnitude.get(start..).unwrap_or_default();
    4 + m.len() + usize::from(m.first().is_some_and(|&b| b & 0x80 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mpint_vectors_rfc4251() {
        // RFC 4251 §5 examples.
        let cases: &[(&[u8], &[u8])] = &[
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0, 0x80]),
        ];
        for (mag, enc) in cases {
            let mut v = Vec::new();
            v.put_mpint_positive(mag);
            assert_eq!(&v[..], *enc);
            assert_eq!(mpint_encoded_len(mag), enc.len());
            let mut r = Reader::new(enc);
            assert_eq!(r.mpint_positive().unwrap(), *mag);
            r.finish().unwrap();
        }
        // Negative and non-minimal encodings are rejected.
        assert_eq!(Reader::new(&[0, 0, 0, 2, 0xed, 0xcc]).mpint_positive(), Err(WireError::InvalidMpint));
        assert_eq!(Reader::new(&[0, 0, 0, 2, 0, 0x7f]).mpint_positive(), Err(WireError::InvalidMpint));
    }

    #[test]
    fn name_lists() {
        assert_eq!(NameList::parse(b"").unwrap().iter().count(), 0);
        assert_eq!(NameList::parse(b"a,b@c.d").unwrap().to_vec(), ["a", "b@c.d"]);
        for bad in [&b","[..], b"a,,b", b"a,", b"a b", b"a\0", b"\xff"] {
            assert_eq!(NameList::parse(bad), Err(WireError::InvalidNameList), "{bad:?}");
        }
    }

    #[test]
    fn truncation_is_an_error() {
        let mut r = Reader::new(&[0, 0, 0, 9, 1, 2]);
        assert_eq!(r.string(), Err(WireError::Truncated));
        let mut r = Reader::new(&[0, 0]);
        assert_eq!(r.u32(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[1]).finish(), Err(WireError::TrailingData));
    }

    proptest! {
        #[test]
        fn mpint_round_trip(mag in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut v = Vec::new();
            v.put_mpint_positive(&mag);
            let start = mag.iter().position(|&b| b != 0).unwrap_or(mag.len());
            let mut r = Reader::new(&v);
            prop_assert_eq!(r.mpint_positive().unwrap(), &mag[start..]);
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn name_list_round_trip(names in proptest::collection::vec("[a-z0-9@.-]{1,20}", 0..20)) {
            let mut v = Vec::new();
            v.put_name_list(names.iter().map(String::as_str));
            let mut r = Reader::new(&v);
            let parsed = r.name_list().unwrap();
            prop_assert_eq!(parsed.to_vec(), names);
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&data);
            let _ = r.string();
            let _ = r.name_list();
            let _ = r.mpint_positive();
            let _ = r.u64();
        }
    }
}
