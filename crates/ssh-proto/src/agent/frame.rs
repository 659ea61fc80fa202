//! Framing: `uint32 length ‖ payload`, decoded incrementally from arbitrary fragments.

use zeroize::{Zeroize, Zeroizing};

use super::AgentError;

/// The default largest message (OpenSSH's agent uses 256 KiB, `AGENT_MAX_LEN`).
pub const DEFAULT_MAX_MESSAGE: usize = 256 * 1024;

/// Collects bytes until whole frames are there. The buffer is zeroized as frames leave it
/// and when it grows or drops, because requests can carry private keys.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Zeroizing<Vec<u8>>,
    max: usize,
    /// Length of the frame handed out by the last `next_frame`, removed on the next call.
    taken: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl FrameDecoder {
    /// A decoder that rejects payloads longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { buf: Zeroizing::new(Vec::new()), max, taken: 0 }
    }

    /// The payload size limit.
    pub fn max_message(&self) -> usize {
        self.max
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.taken
    }

    /// Appends received bytes. Never holds more than one maximum-size frame plus the input
    /// being appended: [`next_frame`](Self::next_frame) rejects an oversized length as soon
    /// as its four bytes are in.
    pub fn push(&mut self, data: &[u8]) {
        self.compact();
        let needed = self.buf.len() + data.len();
        if needed > self.buf.capacity() {
            // Grow by hand so the old allocation is zeroized, not just freed.
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(self.buf.capacity() * 2)));
            grown.extend_from_slice(&self.buf);
            self.buf = grown;
        }
        self.buf.extend_from_slice(data);
    }

    /// Drops the frame returned last, wiping the bytes that move or are left behind.
    fn compact(&mut self) {
        if self.taken == 0 {
            return;
        }
        let len = self.buf.len();
        self.buf.copy_within(self.taken.min(len).., 0);
        let keep = len - self.taken.min(len);
        if let Some(tail) = self.buf.get_mut(keep..) {
            tail.zeroize();
        }
        self.buf.truncate(keep);
        self.taken = 0;
    }

    /// The next whole payload, if one is buffered (possibly empty: the message decoders
    /// reject that). The slice stays valid until the next call.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, AgentError> {
        self.compact();
        let Some(head) = self.buf.first_chunk::<4>() else { return Ok(None) };
        let len = u32::from_be_bytes(*head) as usize;
        if len > self.max {
            return Err(AgentError::TooLong { len, max: self.max });
        }
        let Some(payload) = self.buf.get(4..4 + len) else { return Ok(None) };
        self.taken = 4 + len;
        Ok(Some(payload))
    }
}
