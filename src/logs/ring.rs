//! Per-program memory of recent output, for `svctl logs`.

use std::collections::VecDeque;

/// The last `cap` bytes of a program's output, whole lines only.
///
/// One byte buffer rather than a queue of lines: a chatty program then costs
/// a memcpy per read, not an allocation per line, and memory is bounded by
/// `cap` exactly.
#[derive(Debug)]
pub struct Ring {
    /// Newline-terminated lines, oldest first; `len() <= cap`.
    buf: VecDeque<u8>,
    /// Byte budget.
    cap: usize,
}

impl Ring {
    /// An empty ring keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Ring {
        Ring {
            buf: VecDeque::new(),
            cap,
        }
    }

    /// Append one segment as a line (a `\n` is added when it has none, as on
    /// the console); evict the oldest whole lines to stay within the budget.
    pub fn push(&mut self, segment: &[u8]) {
        let terminated = segment.last() == Some(&b'\n');
        let len = segment.len() + usize::from(!terminated);
        if len > self.cap {
            // Cannot hold it whole: keeping older lines would misrepresent
            // what came last, so keep nothing.
            self.buf.clear();
            return;
        }
        let excess = (self.buf.len() + len).saturating_sub(self.cap);
        if excess > 0 {
            let cut = self.boundary_at_or_after(excess);
            self.buf.drain(..cut);
        }
        self.buf.extend(segment.iter());
        if !terminated {
            self.buf.push_back(b'\n');
        }
    }

    /// Append a block of whole newline-terminated lines at once (one
    /// eviction per pipe read rather than per line). Of a block larger than
    /// the ring only its last whole lines that fit are kept.
    pub fn push_block(&mut self, mut block: &[u8]) {
        if block.len() > self.cap {
            let from = block.len() - self.cap;
            // Start at the first line that begins at or after `from`.
            let start = if from > 0 && block.get(from - 1) == Some(&b'\n') {
                from
            } else {
                memchr::memchr(b'\n', &block[from..]).map_or(block.len(), |i| from + i + 1)
            };
            block = &block[start..];
            self.buf.clear();
        }
        if block.is_empty() {
            return;
        }
        let excess = (self.buf.len() + block.len()).saturating_sub(self.cap);
        if excess > 0 {
            let cut = self.boundary_at_or_after(excess);
            self.buf.drain(..cut);
        }
        self.buf.extend(block.iter());
    }

    /// Bytes currently held.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The last `lines` lines (all when None).
    pub fn tail(&self, lines: Option<usize>) -> Vec<u8> {
        let (a, b) = self.buf.as_slices();
        let mut all = Vec::with_capacity(self.buf.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        if let Some(n) = lines {
            let start = start_of_last_lines(&all, n);
            all.drain(..start);
        }
        all
    }

    /// Smallest index `>= at` that starts a line (or the end).
    fn boundary_at_or_after(&self, at: usize) -> usize {
        let (a, b) = self.buf.as_slices();
        // The line holding byte at-1 ends at the first '\n' at index >= at-1.
        let from = at.saturating_sub(1);
        if from < a.len() {
            if let Some(i) = memchr::memchr(b'\n', &a[from..]) {
                return from + i + 1;
            }
            if let Some(i) = memchr::memchr(b'\n', b) {
                return a.len() + i + 1;
            }
        } else if let Some(i) = memchr::memchr(b'\n', &b[from - a.len()..]) {
            return from + i + 1;
        }
        self.buf.len()
    }
}

/// Index where the last `n` lines of `text` begin. A last line without a
/// newline counts as a line.
fn start_of_last_lines(text: &[u8], n: usize) -> usize {
    if n == 0 {
        return text.len();
    }
    // The final newline terminates the last line; it does not start one.
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    memchr::memrchr_iter(b'\n', body)
        .nth(n - 1)
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tail_counts_lines() {
        let mut ring = Ring::new(1000);
        assert!(ring.is_empty());
        assert_eq!(ring.tail(None), b"".to_vec());
        assert_eq!(ring.tail(Some(3)), b"".to_vec());
        for line in [&b"one\n"[..], b"two\n", b"three\n"] {
            ring.push(line);
        }
        assert_eq!(ring.tail(None), b"one\ntwo\nthree\n".to_vec());
        assert_eq!(ring.tail(Some(1)), b"three\n".to_vec());
        assert_eq!(ring.tail(Some(2)), b"two\nthree\n".to_vec());
        assert_eq!(ring.tail(Some(3)), b"one\ntwo\nthree\n".to_vec());
        assert_eq!(ring.tail(Some(10)), b"one\ntwo\nthree\n".to_vec());
        assert_eq!(ring.tail(Some(0)), b"".to_vec());
    }

    #[test]
    fn eviction_keeps_whole_lines_within_budget() {
        let mut ring = Ring::new(10);
        ring.push(b"aaaa\n"); // 5
        ring.push(b"bb\n"); // 8
        ring.push(b"cc\n"); // 11 > 10: "aaaa\n" goes
        assert_eq!(ring.tail(None), b"bb\ncc\n".to_vec());
        ring.push(b"ddddddd\n"); // needs 8: both old lines go
        assert_eq!(ring.tail(None), b"ddddddd\n".to_vec());
        ring.push(b"eeeeeeeeeeee\n"); // larger than the ring: nothing kept
        assert!(ring.is_empty());
        ring.push(b"f\n");
        assert_eq!(ring.tail(None), b"f\n".to_vec());
        // Pieces and partials are kept as lines, like on the console.
        ring.push(b"gg");
        assert_eq!(ring.tail(None), b"f\ngg\n".to_vec());
    }

    #[test]
    fn eviction_across_the_wrap_point() {
        // Push many lines of varied length so the deque wraps around, and
        // compare with a naive model.
        let cap = 64;
        let mut ring = Ring::new(cap);
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..500usize {
            let mut line = vec![b'a' + (i % 26) as u8; i % 13];
            line.push(b'\n');
            ring.push(&line);
            model.push(line);
            while model.iter().map(Vec::len).sum::<usize>() > cap {
                model.remove(0);
            }
            assert_eq!(ring.tail(None), model.concat(), "after line {i}");
            assert!(ring.len() <= cap);
            let last2 = model[model.len().saturating_sub(2)..].concat();
            assert_eq!(ring.tail(Some(2)), last2);
        }
    }

    #[test]
    fn blocks_match_line_by_line_pushes() {
        let lines: Vec<Vec<u8>> = (0..300usize)
            .map(|i| {
                let mut line = vec![b'a' + (i % 26) as u8; i % 17];
                line.push(b'\n');
                line
            })
            .collect();
        for cap in [0, 1, 5, 16, 40, 100, 10_000] {
            for block_lines in [1, 2, 5, 33, 300] {
                let mut by_line = Ring::new(cap);
                let mut by_block = Ring::new(cap);
                for block in lines.chunks(block_lines) {
                    for line in block {
                        by_line.push(line);
                    }
                    by_block.push_block(&block.concat());
                    assert!(by_block.len() <= cap);
                }
                // A block may keep the tail of a line-too-big-for-the-ring
                // case differently only when a single line exceeds cap.
                if cap >= 17 {
                    assert_eq!(by_line.tail(None), by_block.tail(None), "cap {cap}");
                }
            }
        }
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut ring = Ring::new(0);
        ring.push(b"x\n");
        assert!(ring.is_empty());
    }
}
