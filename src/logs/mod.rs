//! Program output: line splitting and prefixing, per-program rings, one
//! console writer, rotating files.
//!
//! # Data flow
//!
//! ```text
//! program pipe --relay task (AsyncFd, one per stream)--> LineSplitter --> segments
//!     segments --> ring (per program, both streams)  --> tail (svctl logs)
//!              --> followers (broadcast, only while someone follows) --> svctl logs -f
//!              --> console: "NAME | segment\n" batches --> bounded queue --> writer thread --> fd 1 / fd 2
//!                  (while the queue is empty: written by the relay itself, writev of
//!                   prefix + line slices of the read, to a non-blocking reopen of fd 1 / fd 2)
//!              --> file: raw segments --> FileSink (rotating)
//! ```
//!
//! - [`lines`]: pure splitting into segments (complete lines, 16 KiB pieces,
//!   flushed partials) and prefixing; how pieces join back is documented there.
//! - [`ring`]: the last N bytes of a program, whole lines.
//! - [`console`]: the single writer thread and its byte-bounded queue. A full
//!   queue makes the relay of the program that fills it wait (it stops reading,
//!   so the program blocks on its own pipe); the runtime thread never blocks.
//! - [`file`]: the rotating file sink.
//!
//! A partial line is flushed after [`QUIET`] without new bytes on that stream,
//! and at EOF.

pub mod console;
pub mod file;
pub mod lines;
pub mod ring;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::model::Output;
use console::{Console, Target};
use file::FileSink;
use lines::LineSplitter;
use ring::Ring;

/// A partial line waits at most this long without new bytes before it is
/// written as a line of its own.
pub const QUIET: Duration = Duration::from_secs(1);

/// Ring size used by `LogHub::default()` (SPEC 5: 64 KiB).
pub const DEFAULT_RING_BYTES: usize = 64 * 1024;

/// Size of one pipe read. Shared by all relays of the runtime thread (see
/// [`SCRATCH`]), so it costs memory once, not per program.
const READ_BYTES: usize = 128 * 1024;

/// Pipe capacity asked for (best effort): fewer wake-ups and context
/// switches for chatty programs. The kernel only allocates pages in use.
const PIPE_BYTES: i32 = 256 * 1024;

/// Messages a follower may lag behind before it is told it missed some.
const FOLLOW_CAPACITY: usize = 256;

/// Scratch buffers of the relays.
#[derive(Default)]
struct Scratch {
    /// Pipe reads land here.
    read: Vec<u8>,
    /// Newline-terminated segments of one read, for the ring.
    plain: Vec<u8>,
    /// Line ends of one read (fast path).
    ends: Vec<usize>,
}

thread_local! {
    /// Scratch shared by every relay task on this thread: reads and their
    /// processing never span an await, so one set serves all and idle
    /// programs hold no buffer at all.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Which stream of a program a pipe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The program's stdout (relayed to svinit's stdout).
    Stdout,
    /// The program's stderr (relayed to svinit's stderr).
    Stderr,
}

/// Shared handle to all program output. Cheap to clone.
#[derive(Clone)]
pub struct LogHub {
    /// Shared by all clones and by the relay tasks.
    inner: Arc<Inner>,
}

/// What all clones of a hub share.
struct Inner {
    /// Bytes of ring per program.
    ring_bytes: usize,
    /// The console writer (its thread ends when the last hub is dropped).
    console: Console,
    /// Known programs by full (instance) name.
    programs: Mutex<HashMap<String, Arc<Program>>>,
    /// Open log files by path, shared when two streams name the same file
    /// (so they rotate once, not twice); weak so a file closes when its last
    /// relay ends.
    files: Mutex<HashMap<PathBuf, Weak<Mutex<FileSink>>>>,
}

/// One program's memory: ring and followers, under one lock since every
/// segment goes to both.
struct Program {
    /// Ring and followers.
    state: Mutex<ProgramState>,
}

/// The locked part of a program.
struct ProgramState {
    /// Recent output, both streams in arrival order.
    ring: Ring,
    /// Live output; created on the first `follow` and dropped when nobody
    /// follows, because a broadcast channel allocates all its slots up front.
    live: Option<broadcast::Sender<Arc<[u8]>>>,
}

/// Where a relay sends segments.
enum Sink {
    /// Prefixed lines on svinit's stream, kept in the ring.
    Console(Target),
    /// Raw bytes on svinit's stream, unsplit, not kept.
    Passthrough(Target),
    /// Discarded entirely (read only so the program never blocks).
    Null,
    /// Raw lines in a file, kept in the ring.
    File(Arc<Mutex<FileSink>>),
}

/// Lock a mutex, surviving poisoning: a panic elsewhere must not stop
/// logging.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for LogHub {
    /// A hub writing to svinit's stdout/stderr with 64 KiB rings.
    fn default() -> Self {
        LogHub::new(DEFAULT_RING_BYTES)
    }
}

impl LogHub {
    /// Start the console writer; `ring_bytes` is kept per program.
    pub fn new(ring_bytes: usize) -> LogHub {
        LogHub::with_console(ring_bytes, Console::stdio(console::QUEUE_BYTES))
    }

    /// Like [`LogHub::new`] but the console goes to `out` and `err` instead
    /// of svinit's fd 1 and 2 (for tests).
    pub fn with_writers(
        ring_bytes: usize,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> LogHub {
        LogHub::with_console(
            ring_bytes,
            Console::with_writers(console::QUEUE_BYTES, out, err),
        )
    }

    /// A hub around an existing console writer.
    fn with_console(ring_bytes: usize, console: Console) -> LogHub {
        LogHub {
            inner: Arc::new(Inner {
                ring_bytes,
                console,
                programs: Mutex::new(HashMap::new()),
                files: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Make a program known (its tail is empty until it writes).
    pub fn register(&self, name: &str) {
        self.program(name);
    }

    /// Relay one pipe of program `name` until EOF (spawns a tokio task on the
    /// current runtime). `output` is Console or File; the task ends at EOF.
    /// Registers the program.
    pub fn attach(
        &self,
        name: &str,
        stream: StreamKind,
        pipe: OwnedFd,
        output: &Output,
    ) -> tokio::task::JoinHandle<()> {
        let program = self.program(name);
        let own = match stream {
            StreamKind::Stdout => Target::Out,
            StreamKind::Stderr => Target::Err,
        };
        let sink = match output {
            Output::Console => Sink::Console(own),
            Output::Stdout => Sink::Console(Target::Out),
            Output::Passthrough => Sink::Passthrough(own),
            Output::Null => Sink::Null,
            Output::File {
                path,
                max_bytes,
                backups,
            } => Sink::File(self.file(path, *max_bytes, *backups)),
        };
        let relay = Relay {
            hub: self.clone(),
            name: name.to_string(),
            prefix: lines::prefix_for(name),
            program,
            sink,
            splitter: LineSplitter::default(),
        };
        tokio::spawn(relay.run(pipe))
    }

    /// The last `lines` lines (all kept when None) of a program, or None if unknown.
    pub fn tail(&self, name: &str, lines: Option<usize>) -> Option<Vec<u8>> {
        let program = lock(&self.inner.programs).get(name).cloned()?;
        let state = lock(&program.state);
        Some(state.ring.tail(lines))
    }

    /// Live output of a program from now on, or None if unknown.
    pub fn follow(&self, name: &str) -> Option<broadcast::Receiver<Arc<[u8]>>> {
        let program = lock(&self.inner.programs).get(name).cloned()?;
        let mut state = lock(&program.state);
        let sender = state
            .live
            .get_or_insert_with(|| broadcast::channel(FOLLOW_CAPACITY).0);
        Some(sender.subscribe())
    }

    /// Forget a program (removed by reload).
    pub fn remove(&self, name: &str) {
        lock(&self.inner.programs).remove(name);
    }

    /// Reopen log files (SIGUSR1).
    pub fn reopen_files(&self) {
        let sinks: Vec<_> = {
            let mut files = lock(&self.inner.files);
            files.retain(|_, sink| sink.strong_count() > 0);
            files.values().filter_map(Weak::upgrade).collect()
        };
        for sink in sinks {
            lock(&sink).reopen();
        }
    }

    /// Wait until everything queued for the console has been written, at most `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        self.inner.console.flush(timeout);
    }

    /// The program's entry, created if new.
    fn program(&self, name: &str) -> Arc<Program> {
        let mut programs = lock(&self.inner.programs);
        if let Some(program) = programs.get(name) {
            return Arc::clone(program);
        }
        let program = Arc::new(Program {
            state: Mutex::new(ProgramState {
                ring: Ring::new(self.inner.ring_bytes),
                live: None,
            }),
        });
        programs.insert(name.to_string(), Arc::clone(&program));
        program
    }

    /// The sink for `path`, shared with other streams writing there.
    fn file(&self, path: &std::path::Path, max_bytes: u64, backups: u32) -> Arc<Mutex<FileSink>> {
        let mut files = lock(&self.inner.files);
        if let Some(sink) = files.get(path).and_then(Weak::upgrade) {
            return sink;
        }
        let sink = Arc::new(Mutex::new(FileSink::open(path, max_bytes, backups)));
        files.insert(path.to_path_buf(), Arc::downgrade(&sink));
        sink
    }
}

/// What a read produced.
enum Read {
    /// Bytes were processed; this is the console batch (maybe empty).
    Data(Vec<u8>),
    /// The pipe is drained for now.
    WouldBlock,
    /// End of file (or an error, treated as such after a warning).
    Eof,
}

/// One pipe's relay task.
struct Relay {
    /// For the console queue (and to keep the writer alive).
    hub: LogHub,
    /// The program's full name, for messages.
    name: String,
    /// `NAME | `, computed once.
    prefix: Vec<u8>,
    /// Ring and followers (kept even if the program is removed meanwhile).
    program: Arc<Program>,
    /// Where segments go.
    sink: Sink,
    /// This stream's unfinished line.
    splitter: LineSplitter,
}

impl Relay {
    /// Relay until EOF, then flush any partial line.
    async fn run(mut self, pipe: OwnedFd) {
        let fd = match nonblocking(pipe) {
            Ok(fd) => fd,
            Err(error) => {
                tracing::warn!(program = %self.name, "cannot relay output of {}: {error}", self.name);
                return;
            }
        };
        // Set when the splitter holds a partial line: flush it then.
        let mut deadline: Option<Instant> = None;
        loop {
            let ready = match deadline {
                None => fd.readable().await,
                Some(at) => match tokio::time::timeout_at(at, fd.readable()).await {
                    Ok(ready) => ready,
                    Err(_quiet) => {
                        deadline = None;
                        let batch = self.flush_partial();
                        self.deliver(batch).await;
                        continue;
                    }
                },
            };
            if let Err(error) = ready {
                tracing::warn!(program = %self.name, "cannot poll output of {}: {error}", self.name);
                break;
            }
            let read = SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut scratch) => self.read_into(&fd, &mut scratch),
                // Unreachable (no await while borrowed), but never panic.
                Err(_) => self.read_into(&fd, &mut Scratch::default()),
            });
            match read {
                Read::Data(batch) => {
                    deadline = self.splitter.has_partial().then(|| Instant::now() + QUIET);
                    // Waiting here for console room is the backpressure: this
                    // pipe is not read meanwhile.
                    self.deliver(batch).await;
                }
                Read::WouldBlock => {}
                Read::Eof => break,
            }
        }
        let batch = self.flush_partial();
        self.deliver(batch).await;
    }

    /// One read from the pipe, processed at once.
    fn read_into(&mut self, fd: &pipe::Receiver, scratch: &mut Scratch) -> Read {
        let Scratch { read, plain, ends } = scratch;
        if read.len() < READ_BYTES {
            read.resize(READ_BYTES, 0);
        }
        match fd.try_read(read) {
            Ok(0) => Read::Eof,
            Ok(n) => {
                let data = read.get(..n).unwrap_or_default();
                match self.process_fast(data, plain, ends) {
                    Some(batch) => Read::Data(batch),
                    None => Read::Data(self.process(Some(data), plain)),
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                Read::WouldBlock
            }
            Err(error) => {
                tracing::warn!(program = %self.name, "cannot read output of {}: {error}", self.name);
                Read::Eof
            }
        }
    }

    /// The common case of a console or passthrough stream, without copying
    /// the read: complete lines go to the ring as one block and to the
    /// console as `prefix line` slices of the read buffer
    /// ([`Console::write_lines`]). Returns what is left for the console
    /// queue, or None (nothing done) when the general path must handle this
    /// read: followers, no newline at all, or a line (or trailing partial)
    /// over [`lines::MAX_LINE`].
    fn process_fast(
        &mut self,
        data: &[u8],
        plain: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Option<Vec<u8>> {
        let console = &self.hub.inner.console;
        let target = match self.sink {
            Sink::Passthrough(target) => {
                return Some(
                    console
                        .write_lines(target, data, &[], &[], &[])
                        .unwrap_or_default(),
                )
            }
            Sink::Console(target) => target,
            Sink::Null | Sink::File(_) => return None,
        };
        if self.program.live().is_some() {
            return None;
        }
        // The first line completes the partial one: general path for it.
        let head_end = if self.splitter.has_partial() {
            memchr::memchr(b'\n', data)? + 1
        } else {
            0
        };
        let last = memchr::memrchr(b'\n', data)?;
        let (head, rest) = data.split_at(head_end);
        let (block, tail) = rest.split_at(last + 1 - head_end);
        if tail.len() > lines::MAX_LINE {
            return None;
        }
        if !lines::line_ends(block, lines::MAX_LINE, ends) {
            return None;
        }
        let head_batch = if head.is_empty() {
            Vec::new()
        } else {
            self.process(Some(head), plain)
        };
        if !block.is_empty() {
            lock(&self.program.state).ring.push_block(block);
        }
        // No partial now and the tail fits: it is only kept, never emitted.
        self.splitter.push(tail, |_| {});
        let console = &self.hub.inner.console;
        Some(
            console
                .write_lines(target, &head_batch, &self.prefix, block, ends)
                .unwrap_or_default(),
        )
    }

    /// Split `data` (or flush the partial line when None), feed ring,
    /// followers and file; return the console batch.
    ///
    /// Per line this only copies bytes into two buffers; the ring, the file
    /// and the console queue are touched once per read.
    fn process(&mut self, data: Option<&[u8]>, plain: &mut Vec<u8>) -> Vec<u8> {
        let Relay {
            hub,
            prefix,
            program,
            sink,
            splitter,
            ..
        } = self;
        let console = match sink {
            Sink::Null => {
                splitter.flush(|_| {});
                return Vec::new();
            }
            Sink::Passthrough(_) => return data.map(<[u8]>::to_vec).unwrap_or_default(),
            Sink::Console(_) => true,
            Sink::File(_) => false,
        };
        let live = program.live();
        let len = data.map_or(lines::MAX_LINE, <[u8]>::len);
        // Console: prefixed lines. File: the raw segments.
        let mut batch = if console {
            hub.inner.console.buffer(len + len / 2 + 64)
        } else {
            Vec::with_capacity(len)
        };
        plain.clear();
        // While segments are just consecutive complete lines of `data` (the
        // common case), the ring can take `data[..direct]` as is; `plain` is
        // only built once a piece or a joined partial line shows up.
        let mut direct = 0;
        let mut in_plain = false;
        let mut route = |segment: &[u8]| {
            if in_plain {
                lines::push_terminated(plain, segment);
            } else {
                let next = data.and_then(|d| d.get(direct..direct + segment.len()));
                let contiguous = segment.last() == Some(&b'\n')
                    && next.is_some_and(|next| std::ptr::eq(next.as_ptr(), segment.as_ptr()));
                if contiguous {
                    direct += segment.len();
                } else {
                    in_plain = true;
                    plain.extend_from_slice(data.and_then(|d| d.get(..direct)).unwrap_or_default());
                    lines::push_terminated(plain, segment);
                }
            }
            if console {
                lines::push_prefixed(&mut batch, prefix, segment);
            } else {
                batch.extend_from_slice(segment);
            }
            if let Some(live) = &live {
                let mut line = Vec::with_capacity(segment.len() + 1);
                lines::push_terminated(&mut line, segment);
                // Err only when nobody listens any more, which is fine.
                let _ = live.send(Arc::from(line));
            }
        };
        match data {
            Some(data) => splitter.push(data, &mut route),
            None => splitter.flush(&mut route),
        }
        let kept = if in_plain {
            plain.as_slice()
        } else {
            data.and_then(|d| d.get(..direct)).unwrap_or_default()
        };
        if !kept.is_empty() {
            lock(&program.state).ring.push_block(kept);
        }
        if let Sink::File(file) = sink {
            if !batch.is_empty() {
                lock(file).write(&batch);
            }
            batch.clear();
        }
        batch
    }

    /// Flush the partial line (quiet or EOF); return the console batch.
    fn flush_partial(&mut self) -> Vec<u8> {
        self.process(None, &mut Vec::new())
    }

    /// Hand a console batch to the writer, waiting for room.
    async fn deliver(&self, batch: Vec<u8>) {
        let target = match self.sink {
            Sink::Console(target) | Sink::Passthrough(target) => target,
            Sink::Null | Sink::File(_) => return,
        };
        self.hub.inner.console.push(target, batch).await;
    }
}

impl Program {
    /// The followers' channel when someone follows; forgets it when the
    /// last follower left (it holds all its slots).
    fn live(&self) -> Option<broadcast::Sender<Arc<[u8]>>> {
        let mut state = lock(&self.state);
        match &state.live {
            Some(live) if live.receiver_count() > 0 => Some(live.clone()),
            Some(_) => {
                state.live = None;
                None
            }
            None => None,
        }
    }
}

/// Make the read end non-blocking, enlarge the pipe, and register it with
/// the runtime. Works for any readable fd epoll accepts (pipe, socket, pty),
/// which is why the pipe type is not checked.
fn nonblocking(pipe: OwnedFd) -> std::io::Result<pipe::Receiver> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let raw = pipe.as_raw_fd();
    let flags = fcntl(raw, FcntlArg::F_GETFL)?;
    fcntl(
        raw,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )?;
    // Best effort: not a pipe (a socket or pty) or over the limit is fine.
    let _ = fcntl(raw, FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
    pipe::Receiver::from_owned_fd_unchecked(pipe)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Condvar;
    use std::time::Instant as StdInstant;

    /// A console sink recording each write call separately, to prove every
    /// write unit is made of whole lines.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn bytes(&self) -> Vec<u8> {
            lock(&self.0).concat()
        }
        fn writes(&self) -> Vec<Vec<u8>> {
            lock(&self.0).clone()
        }
    }

    /// A console sink that blocks every write until released, like a
    /// stdout pipe nobody reads.
    #[derive(Clone, Default)]
    struct Blocked(Arc<(Mutex<bool>, Condvar)>, Capture);

    impl Blocked {
        fn release(&self) {
            *lock(&self.0 .0) = true;
            self.0 .1.notify_all();
        }
    }

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut open = lock(&self.0 .0);
            while !*open {
                open = self.0 .1.wait(open).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn hub_with(out: impl Write + Send + 'static, err: impl Write + Send + 'static) -> LogHub {
        LogHub::with_writers(DEFAULT_RING_BYTES, Box::new(out), Box::new(err))
    }

    /// A pipe whose write end is fed by a thread writing `chunks` one write
    /// call each; returns the read end and the writer thread.
    fn feed(chunks: Vec<Vec<u8>>) -> (OwnedFd, std::thread::JoinHandle<()>) {
        let (read, write) = nix::unistd::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut file = File::from(write);
            for chunk in chunks {
                file.write_all(&chunk).unwrap();
            }
        });
        (read, writer)
    }

    /// Lines of varied length, some not UTF-8, some longer than MAX_LINE.
    fn chatty_lines(tag: u8, count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                let len = match i % 50 {
                    0 => lines::MAX_LINE * 2 + 17,
                    7 => 0,
                    _ => i % 300,
                };
                let mut line = vec![tag; len];
                if i % 11 == 0 {
                    line.extend_from_slice(b"\xff\xfe\r");
                }
                line.extend_from_slice(format!(" #{i}\n").as_bytes());
                line
            })
            .collect()
    }

    /// Strip `name | ` from the console lines of `name` and join them back,
    /// undoing the newline added after each 16 KiB piece.
    fn join_back(console: &[u8], name: &str) -> Vec<u8> {
        let prefix = lines::prefix_for(name);
        let mut joined = Vec::new();
        for line in console.split_inclusive(|&b| b == b'\n') {
            if let Some(payload) = line.strip_prefix(prefix.as_slice()) {
                // A piece is exactly MAX_LINE payload plus the added newline.
                if payload.len() == lines::MAX_LINE + 1 {
                    joined.extend_from_slice(&payload[..lines::MAX_LINE]);
                } else {
                    joined.extend_from_slice(payload);
                }
            }
        }
        joined
    }

    #[tokio::test]
    async fn two_chatty_writers_never_tear_lines() {
        let out = Capture::default();
        let err = Capture::default();
        let hub = hub_with(out.clone(), err.clone());
        let a_lines = chatty_lines(b'a', 2000);
        let b_lines = chatty_lines(b'b', 2000);
        let (a_fd, a_writer) = feed(a_lines.clone());
        let (b_fd, b_writer) = feed(b_lines.clone());
        let a = hub.attach("alpha", StreamKind::Stdout, a_fd, &Output::Console);
        let b = hub.attach("beta:1", StreamKind::Stdout, b_fd, &Output::Console);
        a.await.unwrap();
        b.await.unwrap();
        a_writer.join().unwrap();
        b_writer.join().unwrap();
        hub.flush(Duration::from_secs(5));

        let console = out.bytes();
        for write in out.writes() {
            assert_eq!(write.last(), Some(&b'\n'), "a write ends mid-line");
        }
        for line in console.split_inclusive(|&b| b == b'\n') {
            assert!(
                line.starts_with(b"alpha | ") || line.starts_with(b"beta:1 | "),
                "torn line: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(40)])
            );
        }
        assert_eq!(join_back(&console, "alpha"), a_lines.concat());
        assert_eq!(join_back(&console, "beta:1"), b_lines.concat());
        assert!(err.bytes().is_empty());

        // The ring holds the last whole lines within its budget.
        let tail = hub.tail("alpha", None).unwrap();
        assert!(tail.len() <= DEFAULT_RING_BYTES);
        assert!(tail.ends_with(b" #1999\n"));
        assert_eq!(hub.tail("alpha", Some(1)).as_ref(), a_lines.last());
    }

    #[tokio::test]
    async fn a_blocked_console_stalls_only_the_program() {
        let sink = Blocked::default();
        let console = Console::with_writers(4096, Box::new(sink.clone()), Box::new(sink.clone()));
        let hub = LogHub::with_console(1024, console);
        let line = b"0123456789012345678901234567890123456789\n".to_vec();
        let total = 64 * 1024;
        let (read, write) = nix::unistd::pipe().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (line, done) = (line.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut file = File::from(write);
                for _ in 0..total {
                    file.write_all(&line).unwrap();
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        let relay = hub.attach("busy", StreamKind::Stdout, read, &Output::Console);

        // The runtime goes on: timers fire, the ring answers.
        let start = StdInstant::now();
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(hub.tail("busy", Some(1)).is_some());
        // Backpressure: the program is blocked on its pipe (2.6 MB written
        // into a 4 KiB queue plus pipe and read buffer cannot have finished).
        assert!(!done.load(Ordering::SeqCst));
        assert!(!relay.is_finished());
        // flush gives up after its timeout instead of hanging.
        let before = StdInstant::now();
        hub.flush(Duration::from_millis(50));
        assert!(before.elapsed() < Duration::from_secs(1));

        // Unblock: everything arrives, nothing lost.
        sink.release();
        relay.await.unwrap();
        writer.join().unwrap();
        hub.flush(Duration::from_secs(5));
        let mut expected = Vec::new();
        for _ in 0..total {
            lines::push_prefixed(&mut expected, b"busy | ", &line);
        }
        assert_eq!(sink.1.bytes(), expected);
    }

    #[tokio::test]
    async fn partial_lines_flush_after_quiet_and_at_eof() {
        let out = Capture::default();
        let hub = hub_with(out.clone(), Capture::default());
        let (read, write) = nix::unistd::pipe().unwrap();
        let relay = hub.attach("p", StreamKind::Stdout, read, &Output::Console);
        let mut file = File::from(write);
        file.write_all(b"full\nhalf").unwrap();
        let start = StdInstant::now();
        while out.bytes() != b"p | full\np | half\n" {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "partial not flushed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(900));
        file.write_all(b"end").unwrap();
        drop(file);
        relay.await.unwrap();
        hub.flush(Duration::from_secs(1));
        assert_eq!(out.bytes(), b"p | full\np | half\np | end\n");
        assert_eq!(hub.tail("p", None).unwrap(), b"full\nhalf\nend\n");
    }

    #[tokio::test]
    async fn streams_registration_follow_and_remove() {
        let out = Capture::default();
        let err = Capture::default();
        let hub = hub_with(out.clone(), err.clone());
        assert!(hub.tail("x", None).is_none());
        assert!(hub.follow("x").is_none());
        hub.register("x");
        assert_eq!(hub.tail("x", None), Some(Vec::new()));
        let mut live = hub.follow("x").unwrap();

        let (fd, w1) = feed(vec![b"to err\n".to_vec()]);
        hub.attach("x", StreamKind::Stderr, fd, &Output::Console)
            .await
            .unwrap();
        let (fd, w2) = feed(vec![b"merged\n".to_vec()]);
        hub.attach("x", StreamKind::Stderr, fd, &Output::Stdout)
            .await
            .unwrap();
        let (fd, w3) = feed(vec![b"gone\n".to_vec()]);
        hub.attach("x", StreamKind::Stdout, fd, &Output::Null)
            .await
            .unwrap();
        let (fd, w4) = feed(vec![b"raw".to_vec()]);
        hub.attach("x", StreamKind::Stdout, fd, &Output::Passthrough)
            .await
            .unwrap();
        for w in [w1, w2, w3, w4] {
            w.join().unwrap();
        }
        hub.flush(Duration::from_secs(1));
        assert_eq!(err.bytes(), b"x | to err\n");
        assert_eq!(out.bytes(), b"x | merged\nraw");
        assert_eq!(hub.tail("x", None).unwrap(), b"to err\nmerged\n");
        assert_eq!(&*live.recv().await.unwrap(), b"to err\n");
        assert_eq!(&*live.recv().await.unwrap(), b"merged\n");

        hub.remove("x");
        assert!(hub.tail("x", None).is_none());
        // A clone sees the same programs.
        hub.clone().register("y");
        assert!(hub.tail("y", Some(5)).is_some());
    }

    #[tokio::test]
    async fn file_output_is_raw_rotated_reopened_and_kept_in_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let out = Capture::default();
        let hub = hub_with(out.clone(), Capture::default());
        let output = Output::File {
            path: path.clone(),
            max_bytes: 12,
            backups: 1,
        };
        let (fd, w) = feed(vec![b"one\ntwo\nthree\n".to_vec()]);
        hub.attach("f", StreamKind::Stdout, fd, &output)
            .await
            .unwrap();
        w.join().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three\n");
        assert_eq!(
            std::fs::read(dir.path().join("app.log.1")).unwrap(),
            b"one\ntwo\n"
        );
        assert_eq!(hub.tail("f", Some(2)).unwrap(), b"two\nthree\n");
        hub.flush(Duration::from_secs(1));
        assert!(out.bytes().is_empty());

        // reopen_files with the relay still attached.
        let (read, write) = nix::unistd::pipe().unwrap();
        let relay = hub.attach("f", StreamKind::Stdout, read, &output);
        let mut file = File::from(write);
        file.write_all(b"a\n").unwrap();
        let start = StdInstant::now();
        while std::fs::read(&path).unwrap() != b"three\na\n" {
            assert!(start.elapsed() < Duration::from_secs(3));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        hub.reopen_files();
        assert!(path.exists());
        file.write_all(b"b\n").unwrap();
        drop(file);
        relay.await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"b\n");
    }

    #[test]
    fn default_hub_is_usable() {
        let hub = LogHub::default();
        hub.register("d");
        assert_eq!(hub.tail("d", None), Some(Vec::new()));
        hub.flush(Duration::from_millis(10));
    }
}
