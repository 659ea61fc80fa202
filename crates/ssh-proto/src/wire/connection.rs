//! Connection-protocol messages (RFC 4254): global requests and channels.
//!
//! These are the envelopes; the type-specific parts (channel open data, channel and global
//! request data) are decoded by `crate::connection`. Decoders take the whole payload,
//! message number included, and reject trailing bytes.

use bytes::BufMut;

use super::{Reader, WireError, WireWrite, expect_msg, msg};

/// Bytes before the data of `SSH_MSG_CHANNEL_DATA`: number, recipient, length.
pub const DATA_HEADER: usize = 9;
/// Bytes before the data of `SSH_MSG_CHANNEL_EXTENDED_DATA`: number, recipient, code, length.
pub const EXTENDED_DATA_HEADER: usize = 13;

/// `SSH_MSG_GLOBAL_REQUEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalRequest<'a> {
    /// Request name.
    pub name: &'a str,
    /// Whether the sender wants `REQUEST_SUCCESS` / `REQUEST_FAILURE`.
    pub want_reply: bool,
    /// Request-specific data.
    pub data: &'a [u8],
}

impl<'a> GlobalRequest<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::GLOBAL_REQUEST)?;
        let name = r.utf8()?;
        let want_reply = r.bool()?;
        Ok(Self { name, want_reply, data: r.remaining() })
    }

    /// Encodes the header; the caller appends the data.
    pub fn encode_header(name: &str, want_reply: bool, w: &mut impl BufMut) {
        w.put_u8(msg::GLOBAL_REQUEST);
        w.put_string(name.as_bytes());
        w.put_bool(want_reply);
    }
}

/// The data of `SSH_MSG_REQUEST_SUCCESS` (request-specific, possibly empty).
pub fn decode_request_success(payload: &[u8]) -> Result<&[u8], WireError> {
    let mut r = Reader::new(payload);
    expect_msg(&mut r, msg::REQUEST_SUCCESS)?;
    Ok(r.remaining())
}

/// `SSH_MSG_CHANNEL_OPEN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOpen<'a> {
    /// Channel type.
    pub kind: &'a str,
    /// Sender's channel number.
    pub sender: u32,
    /// Initial window size.
    pub window: u32,
    /// Maximum packet size.
    pub max_packet: u32,
    /// Type-specific data.
    pub data: &'a [u8],
}

impl<'a> ChannelOpen<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::CHANNEL_OPEN)?;
        let kind = r.utf8()?;
        let sender = r.u32()?;
        let window = r.u32()?;
        let max_packet = r.u32()?;
        Ok(Self { kind, sender, window, max_packet, data: r.remaining() })
    }

    /// Encodes the header; the caller appends the data.
    pub fn encode_header(&self, w: &mut impl BufMut) {
        w.put_u8(msg::CHANNEL_OPEN);
        w.put_string(self.kind.as_bytes());
        w.put_u32(self.sender);
        w.put_u32(self.window);
        w.put_u32(self.max_packet);
    }
}

/// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenConfirmation<'a> {
    /// Our channel number.
    pub recipient: u32,
    /// The peer's channel number.
    pub sender: u32,
    /// Initial window size.
    pub window: u32,
    /// Maximum packet size.
    pub max_packet: u32,
    /// Type-specific data.
    pub data: &'a [u8],
}

impl<'a> OpenConfirmation<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::CHANNEL_OPEN_CONFIRMATION)?;
        let recipient = r.u32()?;
        let sender = r.u32()?;
        let window = r.u32()?;
        let max_packet = r.u32()?;
        Ok(Self { recipient, sender, window, max_packet, data: r.remaining() })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::CHANNEL_OPEN_CONFIRMATION);
        w.put_u32(self.recipient);
        w.put_u32(self.sender);
        w.put_u32(self.window);
        w.put_u32(self.max_packet);
        w.put_slice(self.data);
    }
}

/// `SSH_MSG_CHANNEL_OPEN_FAILURE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFailure<'a> {
    /// Our channel number.
    pub recipient: u32,
    /// Reason code (RFC 4254 §5.1).
    pub reason: u32,
    /// Description.
    pub description: &'a [u8],
    /// Language tag.
    pub language: &'a [u8],
}

impl<'a> OpenFailure<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::CHANNEL_OPEN_FAILURE)?;
        let recipient = r.u32()?;
        let reason = r.u32()?;
        let description = r.string()?;
        // Some implementations omit the language tag.
        let language = if r.is_empty() { &[][..] } else { r.string()? };
        r.finish()?;
        Ok(Self { recipient, reason, description, language })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::CHANNEL_OPEN_FAILURE);
        w.put_u32(self.recipient);
        w.put_u32(self.reason);
        w.put_string(self.description);
        w.put_string(self.language);
    }
}

/// `SSH_MSG_CHANNEL_WINDOW_ADJUST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowAdjust {
    /// Recipient channel.
    pub recipient: u32,
    /// Bytes to add.
    pub bytes: u32,
}

impl WindowAdjust {
    /// Decodes the payload.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::CHANNEL_WINDOW_ADJUST)?;
        let recipient = r.u32()?;
        let bytes = r.u32()?;
        r.finish()?;
        Ok(Self { recipient, bytes })
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        w.put_u8(msg::CHANNEL_WINDOW_ADJUST);
        w.put_u32(self.recipient);
        w.put_u32(self.bytes);
    }
}

/// `SSH_MSG_CHANNEL_DATA` / `SSH_MSG_CHANNEL_EXTENDED_DATA`. The data starts at
/// [`DATA_HEADER`] / [`EXTENDED_DATA_HEADER`] of the payload, so the receiver can hand out
/// a view of the payload without copying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// Recipient channel.
    pub recipient: u32,
    /// `None` for CHANNEL_DATA; the data type code (1 = stderr) for EXTENDED_DATA.
    pub code: Option<u32>,
    /// The data.
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Decodes a CHANNEL_DATA or CHANNEL_EXTENDED_DATA payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        let number = r.u8()?;
        let recipient = r.u32()?;
        let code = match number {
            msg::CHANNEL_DATA => None,
            msg::CHANNEL_EXTENDED_DATA => Some(r.u32()?),
            _ => return Err(WireError::WrongMessage),
        };
        let data = r.string()?;
        r.finish()?;
        Ok(Self { recipient, code, data })
    }

    /// The offset of the data in the payload.
    pub fn data_offset(&self) -> usize {
        if self.code.is_some() { EXTENDED_DATA_HEADER } else { DATA_HEADER }
    }

    /// Encodes the payload.
    pub fn encode(&self, w: &mut impl BufMut) {
        match self.code {
            None => w.put_u8(msg::CHANNEL_DATA),
            Some(_) => w.put_u8(msg::CHANNEL_EXTENDED_DATA),
        }
        w.put_u32(self.recipient);
        if let Some(c) = self.code {
            w.put_u32(c);
        }
        w.put_string(self.data);
    }
}

/// Messages that carry only the recipient channel: EOF, CLOSE, SUCCESS, FAILURE.
pub fn decode_recipient(payload: &[u8], number: u8) -> Result<u32, WireError> {
    let mut r = Reader::new(payload);
    expect_msg(&mut r, number)?;
    let recipient = r.u32()?;
    r.finish()?;
    Ok(recipient)
}

/// Encodes a message that carries only the recipient channel.
pub fn encode_recipient(number: u8, recipient: u32, w: &mut impl BufMut) {
    w.put_u8(number);
    w.put_u32(recipient);
}

/// `SSH_MSG_CHANNEL_REQUEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRequest<'a> {
    /// Recipient channel.
    pub recipient: u32,
    /// Request type.
    pub name: &'a str,
    /// Whether the sender wants `CHANNEL_SUCCESS` / `CHANNEL_FAILURE`.
    pub want_reply: bool,
    /// Type-specific data.
    pub data: &'a [u8],
}

impl<'a> ChannelRequest<'a> {
    /// Decodes the payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        expect_msg(&mut r, msg::CHANNEL_REQUEST)?;
        let recipient = r.u32()?;
        let name = r.utf8()?;
        let want_reply = r.bool()?;
        Ok(Self { recipient, name, want_reply, data: r.remaining() })
    }

    /// Encodes the header; the caller appends the data.
    pub fn encode_header(recipient: u32, name: &str, want_reply: bool, w: &mut impl BufMut) {
        w.put_u8(msg::CHANNEL_REQUEST);
        w.put_u32(recipient);
        w.put_string(name.as_bytes());
        w.put_bool(want_reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    proptest! {
        #[test]
        fn channel_open_round_trip(kind in "[a-z@.-]{1,30}", sender: u32, window: u32, max_packet: u32, data in bytes(50)) {
            let o = ChannelOpen { kind: &kind, sender, window, max_packet, data: &data };
            let mut buf = Vec::new();
            o.encode_header(&mut buf);
            buf.extend_from_slice(&data);
            prop_assert_eq!(ChannelOpen::decode(&buf).unwrap(), o);
        }

        #[test]
        fn confirmation_and_failure_round_trip(a: u32, b: u32, c: u32, d: u32, text in bytes(40)) {
            let conf = OpenConfirmation { recipient: a, sender: b, window: c, max_packet: d, data: &text };
            let mut buf = Vec::new();
            conf.encode(&mut buf);
            prop_assert_eq!(OpenConfirmation::decode(&buf).unwrap(), conf);
            let fail = OpenFailure { recipient: a, reason: b, description: &text, language: b"" };
            let mut buf = Vec::new();
            fail.encode(&mut buf);
            prop_assert_eq!(OpenFailure::decode(&buf).unwrap(), fail);
        }

        #[test]
        fn data_round_trip(recipient: u32, code in proptest::option::of(any::<u32>()), data in bytes(300)) {
            let d = ChannelData { recipient, code, data: &data };
            let mut buf = Vec::new();
            d.encode(&mut buf);
            let parsed = ChannelData::decode(&buf).unwrap();
            prop_assert_eq!(&parsed, &d);
            prop_assert_eq!(&buf[parsed.data_offset()..], &data[..]);
        }

        #[test]
        fn request_round_trip(recipient: u32, name in "[a-z@.-]{1,30}", want: bool, data in bytes(50)) {
            let mut buf = Vec::new();
            ChannelRequest::encode_header(recipient, &name, want, &mut buf);
            buf.extend_from_slice(&data);
            let r = ChannelRequest::decode(&buf).unwrap();
            prop_assert_eq!(r, ChannelRequest { recipient, name: &name, want_reply: want, data: &data });
            let mut buf = Vec::new();
            GlobalRequest::encode_header(&name, want, &mut buf);
            buf.extend_from_slice(&data);
            prop_assert_eq!(GlobalRequest::decode(&buf).unwrap(), GlobalRequest { name: &name, want_reply: want, data: &data });
        }

        #[test]
        fn decoders_never_panic(data in bytes(100)) {
            let _ = GlobalRequest::decode(&data);
            let _ = ChannelOpen::decode(&data);
            let _ = OpenConfirmation::decode(&data);
            let _ = OpenFailure::decode(&data);
            let _ = WindowAdjust::decode(&data);
            let _ = ChannelData::decode(&data);
            let _ = ChannelRequest::decode(&data);
            let _ = decode_recipient(&data, msg::CHANNEL_EOF);
        }
    }
}
