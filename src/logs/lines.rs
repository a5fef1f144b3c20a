//! Pure line splitting and prefixing, over bytes (never `String`: program
//! output need not be UTF-8, and must pass unchanged).
//!
//! A *segment* is what the relay hands on as one console line:
//!
//! - a complete line, including its `\n` (a `\r` before it is left alone);
//! - a *piece* of a line longer than [`MAX_LINE`]: exactly `MAX_LINE` bytes of
//!   payload, no `\n`;
//! - a *partial* line flushed after a quiet period or at EOF: no `\n`.
//!
//! On the console every segment becomes `NAME | segment` and gets a `\n`
//! appended when it has none, so that lines of different programs never run
//! together. Concatenating the segments of one stream gives back the original
//! bytes exactly; on the console, strip each `NAME | ` prefix and drop the
//! `\n` after every piece/partial to join them back. The limit: a reader of
//! the console alone cannot tell a piece's added `\n` from a real one (only
//! the last piece of a long line carries the original newline).

/// Longest payload written as one console line; longer lines are split.
pub const MAX_LINE: usize = 16 * 1024;

/// Separator between a program's name and its line on the console.
pub const SEPARATOR: &[u8] = b" | ";

/// Incremental splitter for one stream: keeps the unfinished line between
/// reads.
#[derive(Debug)]
pub struct LineSplitter {
    /// The unfinished line so far; never longer than `max`.
    partial: Vec<u8>,
    /// Payload limit per segment (MAX_LINE outside tests).
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new(MAX_LINE)
    }
}

impl LineSplitter {
    /// A splitter emitting segments of at most `max` payload bytes (min 1).
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feed `data`; call `emit` for every complete line (with its `\n`) and
    /// every full-size piece. What remains is kept as the partial line.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while !data.is_empty() {
            // Invariant: partial.len() <= max, so `room` does not underflow.
            let room = self.max - self.partial.len();
            // A newline may follow `room` payload bytes, hence `room + 1`.
            let window = &data[..data.len().min(room + 1)];
            if let Some(i) = memchr::memchr(b'\n', window) {
                self.emit_joined(&data[..=i], &mut emit);
                data = &data[i + 1..];
            } else if data.len() > room {
                // `room + 1` bytes and no newline among them: a full piece.
                self.emit_joined(&data[..room], &mut emit);
                data = &data[room..];
            } else {
                self.partial.extend_from_slice(data);
                return;
            }
        }
    }

    /// Whether an unfinished line is waiting.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty()
    }

    /// Emit the unfinished line, if any, as its own segment (quiet timeout
    /// or EOF).
    pub fn flush(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }

    /// Emit partial + `tail` as one segment. Borrowing `data` directly when
    /// there is no partial keeps the common case copy-free.
    fn emit_joined(&mut self, tail: &[u8], emit: &mut impl FnMut(&[u8])) {
        if self.partial.is_empty() {
            emit(tail);
        } else {
            self.partial.extend_from_slice(tail);
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

/// Fill `ends` with the offset just past every `\n` of `block`; false
/// (and `ends` incomplete) as soon as a line's payload exceeds `max`.
pub fn line_ends(block: &[u8], max: usize, ends: &mut Vec<usize>) -> bool {
    ends.clear();
    let mut start = 0;
    let take = |newline: usize| {
        if newline - start > max {
            return false;
        }
        start = newline + 1;
        ends.push(start);
        true
    };
    // The AVX2 searcher straight away: for ~100-byte lines the generic
    // entry point's dispatch is a good part of each search.
    #[cfg(target_arch = "x86_64")]
    if let Some(searcher) = memchr::arch::x86_64::avx2::memchr::One::new(b'\n') {
        return searcher.iter(block).all(take);
    }
    memchr::memchr_iter(b'\n', block).all(take)
}

/// The console prefix for a program: `NAME | `.
pub fn prefix_for(name: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(name.len() + SEPARATOR.len());
    prefix.extend_from_slice(name.as_bytes());
    prefix.extend_from_slice(SEPARATOR);
    prefix
}

/// Append `segment` to `out` terminated by exactly one added-if-missing `\n`
/// (the form kept in rings and sent to followers).
pub fn push_terminated(out: &mut Vec<u8>, segment: &[u8]) {
    out.extend_from_slice(segment);
    if segment.last() != Some(&b'\n') {
        out.push(b'\n');
    }
}

/// Append one console line `prefix segment` (newline added if missing).
pub fn push_prefixed(out: &mut Vec<u8>, prefix: &[u8], segment: &[u8]) {
    out.extend_from_slice(prefix);
    push_terminated(out, segment);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split_all(max: usize, chunks: &[&[u8]], flush: bool) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |s| out.push(s.to_vec()));
        }
        if flush {
            splitter.flush(|s| out.push(s.to_vec()));
        }
        out
    }

    #[test]
    fn complete_lines_keep_their_newline() {
        let out = split_all(100, &[b"a\nbb\n"], false);
        assert_eq!(out, vec![b"a\n".to_vec(), b"bb\n".to_vec()]);
    }

    #[test]
    fn partial_lines_join_across_reads() {
        let mut splitter = LineSplitter::new(100);
        let mut out: Vec<Vec<u8>> = Vec::new();
        splitter.push(b"hel", |s| out.push(s.to_vec()));
        assert!(out.is_empty());
        assert!(splitter.has_partial());
        splitter.push(b"lo\nwor", |s| out.push(s.to_vec()));
        assert_eq!(out, vec![b"hello\n".to_vec()]);
        splitter.flush(|s| out.push(s.to_vec()));
        assert_eq!(out[1], b"wor".to_vec());
        assert!(!splitter.has_partial());
        // Flushing again emits nothing.
        splitter.flush(|s| out.push(s.to_vec()));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn empty_lines_are_lines() {
        let out = split_all(100, &[b"\n\n"], false);
        assert_eq!(out, vec![b"\n".to_vec(), b"\n".to_vec()]);
    }

    #[test]
    fn crlf_and_non_utf8_pass_unchanged() {
        let input: &[u8] = b"dos\r\n\xff\xfe\x00bin\n\xc3";
        let out = split_all(100, &[input], true);
        assert_eq!(
            out,
            vec![
                b"dos\r\n".to_vec(),
                b"\xff\xfe\x00bin\n".to_vec(),
                b"\xc3".to_vec()
            ]
        );
    }

    #[test]
    fn long_lines_split_into_pieces_that_join_back() {
        let max = 16;
        // Lines of every length around the limit, fed in awkward chunks.
        let mut input = Vec::new();
        for len in 0..60 {
            input.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            input.push(b'\n');
        }
        input.extend_from_slice(b"tail-without-newline-longer-than-16");
        for chunk_size in [1, 3, 7, 16, 17, 1000] {
            let chunks: Vec<&[u8]> = input.chunks(chunk_size).collect();
            let out = split_all(max, &chunks, true);
            for seg in &out {
                let payload = seg.strip_suffix(b"\n").unwrap_or(seg);
                assert!(payload.len() <= max, "segment too long: {seg:?}");
                assert!(!payload.contains(&b'\n'));
            }
            assert_eq!(out.concat(), input, "chunk size {chunk_size}");
        }
    }

    #[test]
    fn real_limit_splits_at_16_kib() {
        let mut input = vec![b'x'; MAX_LINE * 2 + 5];
        input.push(b'\n');
        let out = split_all(MAX_LINE, &[&input], false);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1].len(), MAX_LINE);
        assert_eq!(out[2], b"xxxxx\n".to_vec());
        // Exactly MAX_LINE payload plus newline stays one line.
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(split_all(MAX_LINE, &[&exact], false), vec![exact.clone()]);
    }

    #[test]
    fn line_ends_stop_at_a_long_line() {
        let mut ends = Vec::new();
        assert!(line_ends(b"a\n\nbcd\n", 3, &mut ends));
        assert_eq!(ends, vec![2, 3, 7]);
        assert!(!line_ends(b"a\nbcde\n", 3, &mut ends));
        assert!(line_ends(b"", 3, &mut ends));
        assert!(ends.is_empty());
        let long: Vec<u8> = (0..5000)
            .map(|i| if i % 97 == 0 { b'\n' } else { b'x' })
            .collect();
        assert!(line_ends(&long, 96, &mut ends));
        let expected: Vec<usize> = (0..5000).filter(|i| i % 97 == 0).map(|i| i + 1).collect();
        assert_eq!(ends, expected);
    }

    #[test]
    fn prefixing_adds_a_newline_only_when_missing() {
        let prefix = prefix_for("stream:1");
        let mut out = Vec::new();
        push_prefixed(&mut out, &prefix, b"hello\n");
        push_prefixed(&mut out, &prefix, b"part");
        push_prefixed(&mut out, &prefix, b"crlf\r\n");
        assert_eq!(
            out,
            b"stream:1 | hello\nstream:1 | part\nstream:1 | crlf\r\n".to_vec()
        );
    }
}
