//! Framing: `uint32 length ‖ payload`, decoded incrementally from arbitrary fragments.

use zeroize::{Zeroize, Zeroizing};

use super::AgentError;

/// The default largest message (OpenSSH's agent uses 256 KiB, `AGENT_MAX_LEN`).
pub const DEFAULT_MAX_MESSAGE: usize = 256 * 1024;

/// Collects bytes until whole frames are there. The buffer is zeroized as frames leave it
/// and when it grows or drops, because requests can carry private keys.
///
/// Frames are read in place from a moving offset; the consumed front is only cut off once
/// it is at least half the buffer (or the buffer must grow anyway), so decoding `n` frames
/// costs time linear in their bytes however many arrive in one piece.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Zeroizing<Vec<u8>>,
    max: usize,
    /// Where the unread bytes begin; everything before it has been handed out and wiped.
    start: usize,
    /// Length of the frame handed out by the last `next_frame`, wiped on the next call.
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
        Self { buf: Zeroizing::new(Vec::new()), max, start: 0, taken: 0 }
    }

    /// The payload size limit.
    pub fn max_message(&self) -> usize {
        self.max
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start.saturating_add(self.taken))
    }

    /// Whether a whole frame (or an oversized length, which [`next_frame`](Self::next_frame)
    /// reports as an error) is waiting.
    pub fn has_frame(&self) -> bool {
        let unread = self.buf.get(self.start.saturating_add(self.taken)..).unwrap_or_default();
        match unread.first_chunk::<4>() {
            None => false,
            Some(head) => {
                let len = u32::from_be_bytes(*head) as usize;
                len > self.max || unread.len() - 4 >= len
            }
        }
    }

    /// Appends received bytes. Never holds more than one maximum-size frame plus the input
    /// being appended beyond what the caller leaves unread: [`next_frame`](Self::next_frame)
    /// rejects an oversized length as soon as its four bytes are in.
    pub fn push(&mut self, data: &[u8]) {
        self.release();
        let unread = self.buf.len() - self.start;
        let needed = unread + data.len();
        if needed > self.buf.capacity() {
            // Grow by hand so the old allocation is zeroized, not just freed; only the unread
            // bytes move.
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(self.buf.capacity() * 2)));
            grown.extend_from_slice(self.buf.get(self.start..).unwrap_or_default());
            self.buf = grown;
            self.start = 0;
        } else if self.start > 0 && (self.start >= unread || self.buf.len() + data.len() > self.buf.capacity()) {
            // The bytes moved are at most the bytes consumed since the last cut: amortised
            // linear.
            self.compact();
        }
        self.buf.extend_from_slice(data);
    }

    /// Wipes the frame returned last and moves the read offset past it.
    fn release(&mut self) {
        let end = self.start.saturating_add(self.taken).min(self.buf.len());
        if let Some(frame) = self.buf.get_mut(self.start..end) {
            frame.zeroize();
        }
        self.start = end;
        self.taken = 0;
    }

    /// Drops the consumed front, wiping the bytes left behind by the move.
    fn compact(&mut self) {
        let len = self.buf.len();
        let start = self.start.min(len);
        self.buf.copy_within(start.., 0);
        let keep = len - start;
        if let Some(tail) = self.buf.get_mut(keep..) {
            tail.zeroize();
        }
        self.buf.truncate(keep);
        self.start = 0;
    }

    /// The next whole payload, if one is buffered (possibly empty: the message decoders
    /// reject that). The slice stays valid until the next call.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, AgentError> {
        self.release();
        let unread = self.buf.get(self.start..).unwrap_or_default();
        let Some(head) = unread.first_chunk::<4>() else { return Ok(None) };
        let len = u32::from_be_bytes(*head) as usize;
        if len > self.max {
            return Err(AgentError::TooLong { len, max: self.max });
        }
        let Some(payload) = unread.get(4..4 + len) else { return Ok(None) };
        self.taken = 4 + len;
        Ok(Some(payload))
    }
}
