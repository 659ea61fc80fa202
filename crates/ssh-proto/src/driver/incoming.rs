//! The receive buffer of one stream of a channel, and the window credit it owes the peer.

use std::collections::VecDeque;

use bytes::Bytes;

/// Received bytes of one stream of a channel (data or extended data), as the connection
/// handed them over, and how much of them the peer's window has not been credited for yet.
///
/// Flow control: a stream may hold up to its read-ahead of bytes that are already credited;
/// beyond that the window opens only as the application reads. A driver gives standard
/// output no read-ahead, so a slow reader holds back its own channel and nothing else, and
/// standard error a large one, so a command flooding both streams cannot stall standard
/// output while nobody reads its standard error (Paramiko #1778): the window is one per
/// channel, shared by both streams.
///
/// Every method that changes the buffer returns how many bytes to credit to the peer now
/// (pass them to the connection's `channel_consumed`). Over the life of a stream the
/// credits add up to exactly the bytes pushed, once everything has been read or dropped.
///
/// ```
/// use bytes::Bytes;
/// use ssh_proto::driver::Incoming;
///
/// let mut stdout = Incoming::new(0);
/// assert_eq!(stdout.push(Bytes::from_static(b"hello")), 0); // no read-ahead: owed
/// let mut buf = [0u8; 3];
/// assert_eq!(stdout.take(&mut buf), (3, 3)); // read 3, credit 3
/// assert_eq!(&buf, b"hel");
/// assert_eq!(stdout.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Incoming {
    chunks: VecDeque<Bytes>,
    len: usize,
    uncredited: usize,
    read_ahead: usize,
}

impl Incoming {
    /// An empty stream that may hold `read_ahead` credited bytes.
    pub fn new(read_ahead: usize) -> Self {
        Self { chunks: VecDeque::new(), len: 0, uncredited: 0, read_ahead }
    }

    /// Credits what may be credited now; returns that many bytes.
    fn settle(&mut self) -> usize {
        let keep = self.uncredited.min(self.len.saturating_sub(self.read_ahead));
        std::mem::replace(&mut self.uncredited, keep) - keep
    }

    /// Changes the read-ahead; returns how many bytes to credit now.
    pub fn set_read_ahead(&mut self, bytes: usize) -> usize {
        self.read_ahead = bytes;
        self.settle()
    }

    /// Adds received bytes; returns how many to credit now.
    pub fn push(&mut self, b: Bytes) -> usize {
        self.len += b.len();
        self.uncredited += b.len();
        if !b.is_empty() {
            self.chunks.push_back(b);
        }
        self.settle()
    }

    /// Moves everything of `other` behind these bytes (standard error joining standard
    /// output); returns how many to credit now.
    pub fn append(&mut self, other: &mut Incoming) -> usize {
        self.len += std::mem::take(&mut other.len);
        self.uncredited += std::mem::take(&mut other.uncredited);
        self.chunks.append(&mut other.chunks);
        self.settle()
    }

    /// Drops every buffered byte; returns how many to credit now.
    pub fn clear(&mut self) -> usize {
        self.chunks.clear();
        self.len = 0;
        std::mem::take(&mut self.uncredited)
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies up to `out.len()` bytes out; returns how many, and how many to credit.
    pub fn take(&mut self, out: &mut [u8]) -> (usize, usize) {
        let mut n = 0;
        for chunk in &self.chunks {
            let k = chunk.len().min(out.len() - n);
            if let (Some(dst), Some(src)) = (out.get_mut(n..n + k), chunk.get(..k)) {
                dst.copy_from_slice(src);
            }
            n += k;
            if n == out.len() {
                break;
            }
        }
        (n, self.consume(n))
    }

    /// The buffered bytes as received, oldest first: a driver writes them out from here
    /// without copying them, then [`Incoming::consume`]s what was written.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use ssh_proto::driver::Incoming;
    ///
    /// let mut s = Incoming::new(0);
    /// s.push(Bytes::from_static(b"ab"));
    /// s.push(Bytes::from_static(b"cde"));
    /// let written: usize = s.chunks().take(1).map(|c| c.len()).sum();
    /// assert_eq!(s.consume(written + 1), 3); // "ab" and "c" are gone and credited
    /// assert_eq!(s.chunks().next().map(|c| &c[..]), Some(&b"de"[..]));
    /// ```
    pub fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.chunks.iter()
    }

    /// Drops the first `n` buffered bytes (all of them, if fewer are buffered) as read;
    /// returns how many bytes to credit now.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        let mut left = n;
        while left > 0 {
            let Some(front) = self.chunks.front_mut() else { break };
            let k = front.len().min(left);
            bytes::Buf::advance(front, k);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            left -= k;
        }
        self.len -= n;
        self.settle()
    }
}

#[cfg(test)]
mod tests {
    use super::Incoming;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn chunk(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn without_read_ahead_credit_follows_reads() {
        let mut s = Incoming::new(0);
        assert_eq!(s.push(chunk(100)), 0);
        assert_eq!(s.push(chunk(50)), 0);
        let mut out = [0u8; 120];
        assert_eq!(s.take(&mut out), (120, 120));
        assert_eq!(s.take(&mut out), (30, 30));
        assert!(s.is_empty());
    }

    #[test]
    fn read_ahead_is_credited_on_arrival_up_to_its_limit() {
        let mut s = Incoming::new(100);
        assert_eq!(s.push(chunk(60)), 60);
        // 40 more fit; the other 20 wait for a read.
        assert_eq!(s.push(chunk(60)), 40);
        assert_eq!(s.len(), 120);
        let mut out = [0u8; 10];
        assert_eq!(s.take(&mut out), (10, 10));
        assert_eq!(s.take(&mut out), (10, 10));
        // Nothing uncredited is left: reads below the limit credit nothing.
        assert_eq!(s.take(&mut out), (10, 0));
        // 90 buffered: 10 of the next 30 fit; raising the limit credits the rest at once.
        assert_eq!(s.push(chunk(30)), 10);
        assert_eq!(s.set_read_ahead(1000), 20);
    }

    #[test]
    fn moving_and_dropping_keep_the_window_whole() {
        let mut err = Incoming::new(10);
        assert_eq!(err.push(chunk(25)), 10);
        let mut out = Incoming::new(0);
        assert_eq!(out.push(chunk(5)), 0);
        // Moved into a stream without read-ahead, the credited part stays credited.
        assert_eq!(out.append(&mut err), 0);
        assert_eq!((out.len(), err.len()), (30, 0));
        assert_eq!(out.clear(), 20);
        assert!(out.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Take(usize),
        /// Writes out up to this many bytes from `chunks`, then consumes them.
        Write(usize),
        ReadAhead(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..5000).prop_map(Op::Push),
            (0usize..5000).prop_map(Op::Take),
            (0usize..5000).prop_map(Op::Write),
            (0usize..8000).prop_map(Op::ReadAhead),
        ]
    }

    proptest! {
        /// Whatever the order of arrivals, reads and read-ahead changes: bytes come out in
        /// order, credit never runs ahead of arrivals, only bytes beyond the read-ahead are
        /// owed, and once everything is read the credits equal the bytes.
        #[test]
        fn credit_adds_up_to_what_arrived(read_ahead in 0usize..8000, ops in proptest::collection::vec(op(), 0..64)) {
            let mut s = Incoming::new(read_ahead);
            let mut limit = read_ahead;
            let (mut pushed, mut credited, mut read) = (0usize, 0usize, 0usize);
            let mut next = 0u8;
            let mut expect = 0u8;
            let mut buf = vec![0u8; 5000];
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let data: Vec<u8> = (0..n).map(|_| { next = next.wrapping_add(1); next }).collect();
                        pushed += n;
                        credited += s.push(Bytes::from(data));
                    }
                    Op::Take(n) => {
                        let (got, c) = s.take(&mut buf[..n]);
                        for &b in &buf[..got] {
                            expect = expect.wrapping_add(1);
                            prop_assert_eq!(b, expect);
                        }
                        read += got;
                        credited += c;
                    }
                    Op::Write(n) => {
                        let written: Vec<u8> = s.chunks().flat_map(|c| c.iter().copied()).take(n).collect();
                        for &b in &written {
                            expect = expect.wrapping_add(1);
                            prop_assert_eq!(b, expect);
                        }
                        read += written.len();
                        credited += s.consume(written.len());
                    }
                    Op::ReadAhead(n) => {
                        limit = n;
                        credited += s.set_read_ahead(n);
                    }
                }
                prop_assert!(credited <= pushed);
                prop_assert_eq!(s.len(), pushed - read);
                // What is still owed is buffered beyond the read-ahead: read bytes are
                // credited, and the read-ahead is used in full.
                prop_assert!(pushed - credited <= s.len().saturating_sub(limit));
            }
            let (got, c) = s.take(&mut vec![0u8; s.len()]);
            read += got;
            credited += c;
            prop_assert_eq!(read, pushed);
            prop_assert_eq!(credited, pushed);
        }
    }
}
