//! The one console writer: a dedicated thread doing blocking writes to
//! svinit's stdout/stderr, fed through a byte-bounded queue.
//!
//! Why a thread and not a task: svinit's stdout may be a slow or blocked pipe
//! (`docker logs`), and a blocking write on the current-thread runtime would
//! stall supervision and the control socket. The thread may block forever;
//! the runtime never does.
//!
//! Backpressure: a relay task whose batch does not fit waits (asynchronously)
//! for room, and meanwhile does not read its pipe, so only that program blocks
//! on its own write, and nothing is lost. Batching: producers append whole
//! prefixed lines to the queue's last chunk; the writer takes the whole queue
//! at once and writes each chunk (up to [`COALESCE`] bytes) with one syscall.
//!
//! Direct path: while nothing is queued or being written, a producer writes
//! its lines itself to a separate non-blocking description of the stream
//! (`direct_fd`), saving the hop to the thread; only what the fd does
//! not take at once is queued. Ordering holds because the direct path is
//! only taken with an empty queue, under the queue lock.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Default queue budget: enough to absorb bursts, small next to the PSS goal
/// (and only touched under load).
pub const QUEUE_BYTES: usize = 2 * 1024 * 1024;

/// Producers extend the last chunk up to this size rather than queueing a new
/// one, so many small batches still become few large writes.
pub const COALESCE: usize = 64 * 1024;

/// Which of svinit's streams a chunk goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// svinit's stdout.
    Out,
    /// svinit's stderr.
    Err,
}

/// What the writer thread and the producers share.
struct Queue {
    /// Whole prefixed lines, in arrival order, per target.
    chunks: VecDeque<(Target, Vec<u8>)>,
    /// Bytes queued plus bytes taken by the writer but not yet written, so
    /// that `flush` waits for the write, not just the dequeue.
    pending: usize,
    /// The hub is gone: write what is queued, then end the thread.
    closed: bool,
    /// The writer thread is running; when it is not, output is dropped
    /// rather than queued forever.
    alive: bool,
    /// Written chunks kept for reuse, so a busy relay does not allocate (and
    /// fault in) a fresh batch buffer per read.
    spare: Vec<Vec<u8>>,
}

/// Spare buffers kept at most (memory held after a burst stays small).
const SPARE_BUFFERS: usize = 4;

/// Larger buffers are freed, not kept.
const SPARE_MAX_BYTES: usize = 256 * 1024;

impl Queue {
    /// Keep an emptied buffer for reuse if it is worth keeping.
    fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buffer.capacity() <= SPARE_MAX_BYTES {
            buffer.clear();
            self.spare.push(buffer);
        }
    }
}

/// State shared by the console handle and its writer thread.
struct Shared {
    /// The queue proper.
    queue: Mutex<Queue>,
    /// Wakes the writer when chunks arrive or the console closes.
    work: Condvar,
    /// Wakes `flush` when `pending` drops to zero.
    drained: Condvar,
    /// Wakes relay tasks waiting for room (tokio-aware, so they await).
    room: Notify,
    /// Byte budget of the queue.
    cap: usize,
}

impl Shared {
    /// Lock, surviving a poisoned mutex (a panic elsewhere must not take the
    /// console down with it).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handle to the console writer; dropping it ends the thread once the queue
/// is written.
pub struct Console {
    /// Queue shared with the writer thread.
    shared: Arc<Shared>,
    /// Non-blocking descriptions of the stdout / stderr targets, for writing
    /// straight from the relay while the queue is empty (see [`direct_fd`]).
    direct: [Option<OwnedFd>; 2],
}

impl Console {
    /// Start a writer thread writing to svinit's own fd 1 and fd 2.
    pub fn stdio(cap: usize) -> Console {
        let mut console = Console::with_writers(
            cap,
            Box::new(FdWriter(io::stdout())),
            Box::new(FdWriter(io::stderr())),
        );
        console.direct = [
            direct_fd(io::stdout().as_fd()),
            direct_fd(io::stderr().as_fd()),
        ];
        console
    }

    /// Start a writer thread writing to `out` and `err` (tests inject
    /// captures or blocked sinks here).
    pub fn with_writers(
        cap: usize,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Console {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                chunks: VecDeque::new(),
                pending: 0,
                closed: false,
                alive: true,
                spare: Vec::new(),
            }),
            work: Condvar::new(),
            drained: Condvar::new(),
            room: Notify::new(),
            cap: cap.max(1),
        });
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("svinit-console".into())
            .spawn(move || writer_loop(&thread_shared, out, err));
        if let Err(err) = spawned {
            tracing::warn!("cannot start the console writer thread: {err}; program output to the console is dropped");
            shared.lock().alive = false;
        }
        Console {
            shared,
            direct: [None, None],
        }
    }

    /// An empty buffer for a batch, reused when possible.
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        let mut buffer = self.shared.lock().spare.pop().unwrap_or_default();
        buffer.reserve(capacity);
        buffer
    }

    /// Queue whole prefixed lines for `target`, waiting (asynchronously) for
    /// room when the queue is full. A batch larger than the whole budget is
    /// accepted once the queue is empty, so it cannot wait forever.
    pub async fn push(&self, target: Target, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let mut bytes = Some(bytes);
        loop {
            // Register interest before looking, so a wake-up between the look
            // and the await is not lost.
            let mut notified = pin!(self.shared.room.notified());
            notified.as_mut().enable();
            if self.try_push(target, &mut bytes) {
                return;
            }
            notified.await;
        }
    }

    /// Queue `bytes` if there is room (or drop them when no writer runs);
    /// true when the batch was taken.
    fn try_push(&self, target: Target, bytes: &mut Option<Vec<u8>>) -> bool {
        let mut queue = self.shared.lock();
        let Some(batch) = bytes.take() else {
            return true;
        };
        if !queue.alive {
            return true;
        }
        // Nothing queued or being written: the batch may go straight out
        // (ordering holds, and the lock keeps other producers out meanwhile).
        // Whatever the fd does not take now is queued for the thread.
        let mut batch = batch;
        if queue.pending == 0 {
            if let Some(fd) = &self.direct[target.index()] {
                let written = write_nonblocking(fd.as_fd(), &batch);
                if written == batch.len() {
                    queue.recycle(batch);
                    return true;
                }
                batch.drain(..written);
            }
        }
        let len = batch.len();
        if queue.pending != 0 && queue.pending + len > self.shared.cap {
            *bytes = Some(batch);
            return false;
        }
        queue.pending += len;
        match queue.chunks.back_mut() {
            Some((last, chunk)) if *last == target && chunk.len() + len <= COALESCE => {
                chunk.extend_from_slice(&batch);
                queue.recycle(batch);
            }
            _ => queue.chunks.push_back((target, batch)),
        }
        drop(queue);
        self.shared.work.notify_one();
        true
    }

    /// Write `head`, then `prefix line` for every line of `block` (`ends`:
    /// the offset just past each line's `\n`, in order), without copying
    /// when the direct path is open: straight from the caller's buffers with
    /// `writev`. What the fd does not take is queued at once (whole lines
    /// follow, so nothing may come between). When the direct path is not
    /// open everything is gathered into one batch and returned, for
    /// [`Console::push`] (which waits for room).
    pub fn write_lines(
        &self,
        target: Target,
        head: &[u8],
        prefix: &[u8],
        block: &[u8],
        ends: &[usize],
    ) -> Option<Vec<u8>> {
        let pieces = || {
            let mut start = 0;
            std::iter::once(head).chain(ends.iter().flat_map(move |&end| {
                let line = block.get(start..end).unwrap_or_default();
                start = end;
                [prefix, line]
            }))
        };
        let total = head.len() + block.len() + prefix.len() * ends.len();
        if total == 0 {
            return None;
        }
        let mut queue = self.shared.lock();
        if !queue.alive {
            return None;
        }
        let mut skip = 0;
        let direct = self.direct[target.index()].as_ref();
        if let (0, Some(fd)) = (queue.pending, direct) {
            skip = writev_lines(fd.as_fd(), head, prefix, block, ends);
            if skip == total {
                return None;
            }
        }
        let mut rest = queue.spare.pop().unwrap_or_default();
        rest.reserve(total - skip);
        for piece in pieces() {
            let taken = skip.min(piece.len());
            skip -= taken;
            rest.extend_from_slice(piece.get(taken..).unwrap_or_default());
        }
        if queue.pending != 0 || direct.is_none() {
            return Some(rest);
        }
        queue.pending += rest.len();
        queue.chunks.push_back((target, rest));
        drop(queue);
        self.shared.work.notify_one();
        None
    }

    /// Block the calling thread until everything queued so far is written,
    /// or `timeout` passes; true when drained.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut queue = self.shared.lock();
        while queue.pending > 0 && queue.alive {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            queue = match self.shared.drained.wait_timeout(queue, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Bytes queued or being written.
    pub fn pending(&self) -> usize {
        self.shared.lock().pending
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
    }
}

impl Target {
    /// 0 for stdout, 1 for stderr.
    fn index(self) -> usize {
        match self {
            Target::Out => 0,
            Target::Err => 1,
        }
    }
}

/// A separate, non-blocking open file description of `fd` for the direct
/// path, or None when there can be none.
///
/// O_NONBLOCK must not be set on fd 1/2 themselves: their description is
/// shared with `passthrough` children (and whoever started svinit). Pipes,
/// FIFOs and character devices (ttys, /dev/null) are reopened through
/// `/proc/self/fd`; sockets cannot be, and a regular file would get its own
/// offset, so those keep using the writer thread only.
fn direct_fd(fd: BorrowedFd<'_>) -> Option<OwnedFd> {
    use nix::sys::stat::{fstat, SFlag};
    use std::os::unix::fs::OpenOptionsExt;
    let before = fstat(fd.as_raw_fd()).ok()?;
    let kind = SFlag::from_bits_truncate(before.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFIFO && kind != SFlag::S_IFCHR {
        return None;
    }
    let reopened: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()?
        .into();
    let after = fstat(reopened.as_raw_fd()).ok()?;
    (after.st_dev == before.st_dev
        && after.st_ino == before.st_ino
        && after.st_rdev == before.st_rdev)
        .then_some(reopened)
}

/// Write as much of `bytes` as `fd` takes without blocking; the count
/// written (a short count on EAGAIN, or on an error, which the writer thread
/// then meets and reports itself).
fn write_nonblocking(fd: BorrowedFd<'_>, bytes: &[u8]) -> usize {
    let mut written = 0;
    while let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) {
        match nix::unistd::write(fd, rest) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    written
}

/// Like [`write_nonblocking`] for `head` then `prefix line` for every line
/// of `block` (see [`Console::write_lines`]), with `writev` calls of at most
/// [`IOV_MAX`] slices.
fn writev_lines(
    fd: BorrowedFd<'_>,
    head: &[u8],
    prefix: &[u8],
    block: &[u8],
    ends: &[usize],
) -> usize {
    // A Vec, not an array: zeroing 1024 slots per call costs more than
    // the allocation.
    let mut iov = Vec::with_capacity((2 * ends.len() + 1).min(IOV_MAX));
    let mut want = 0;
    let mut written = 0;
    // Write the slices gathered so far; false when the fd took less.
    let mut send = |iov: &[io::IoSlice<'_>], want: usize| {
        let n = loop {
            match nix::sys::uio::writev(fd, iov) {
                Err(nix::errno::Errno::EINTR) => {}
                Ok(n) => break n,
                // The writer thread meets the error again and reports it.
                Err(_) => break 0,
            }
        };
        written += n;
        n == want
    };
    if !head.is_empty() {
        iov.push(io::IoSlice::new(head));
        want = head.len();
    }
    let mut start = 0;
    for &end in ends {
        let line = block.get(start..end).unwrap_or_default();
        start = end;
        if iov.len() + 2 > IOV_MAX {
            if !send(&iov, want) {
                return written;
            }
            iov.clear();
            want = 0;
        }
        iov.push(io::IoSlice::new(prefix));
        iov.push(io::IoSlice::new(line));
        want += prefix.len() + line.len();
    }
    if !iov.is_empty() {
        send(&iov, want);
    }
    written
}

/// Slices per `writev` call (the kernel's UIO_MAXIOV).
const IOV_MAX: usize = 1024;

/// The writer thread: take everything queued, write it, repeat.
fn writer_loop(shared: &Shared, mut out: Box<dyn Write + Send>, mut err: Box<dyn Write + Send>) {
    // Warn once per stream: a closed stdout would otherwise warn per line.
    let mut warned = [false; 2];
    loop {
        let batch = {
            let mut queue = shared.lock();
            while queue.chunks.is_empty() {
                if queue.closed {
                    queue.alive = false;
                    drop(queue);
                    shared.drained.notify_all();
                    return;
                }
                queue = shared.work.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            std::mem::take(&mut queue.chunks)
        };
        for (target, chunk) in batch {
            let (sink, index) = match target {
                Target::Out => (&mut out, 0),
                Target::Err => (&mut err, 1),
            };
            // A failed write drops this chunk (there is nowhere better to put
            // it) and the writer carries on with the next.
            if let Err(error) = sink.write_all(&chunk).and_then(|()| sink.flush()) {
                if !warned[index] {
                    warned[index] = true;
                    let name = ["stdout", "stderr"][index];
                    tracing::warn!("cannot write program output to {name}: {error}");
                }
            }
            let mut queue = shared.lock();
            queue.pending = queue.pending.saturating_sub(chunk.len());
            queue.recycle(chunk);
            let empty = queue.pending == 0;
            drop(queue);
            if empty {
                shared.drained.notify_all();
            }
            shared.room.notify_waiters();
        }
    }
}

/// Unbuffered writer on one of svinit's std streams, straight to the fd (no
/// std line buffering, and no std lock shared with other writers).
struct FdWriter<F: AsFd>(F);

impl<F: AsFd> Write for FdWriter<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::write(self.0.as_fd(), buf) {
                Ok(n) => return Ok(n),
                Err(nix::errno::Errno::EINTR) => {}
                // An inherited O_NONBLOCK stdout: wait until writable, since
                // this thread is allowed to block.
                Err(nix::errno::Errno::EAGAIN) => {
                    let mut fds = [nix::poll::PollFd::new(
                        self.0.as_fd(),
                        nix::poll::PollFlags::POLLOUT,
                    )];
                    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(errno) => return Err(errno.into()),
                    }
                }
                Err(errno) => return Err(errno.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The direct path writes while the queue is empty; when the fd would
    /// block, the rest of the batch and every later one go through the
    /// thread, in order, none lost.
    #[tokio::test]
    async fn direct_writes_fall_back_to_the_queue_in_order() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let thread_side = std::fs::File::from(write.try_clone().unwrap());
        let mut console =
            Console::with_writers(64 * 1024, Box::new(thread_side), Box::new(io::sink()));
        console.direct[0] = direct_fd(write.as_fd());
        assert!(console.direct[0].is_some());
        drop(write);
        // Nobody reads yet: the 64 KiB pipe fills, the rest is queued.
        let line = |i: usize| format!("line {i:06} {}\n", "x".repeat(i % 200)).into_bytes();
        let mut expected = Vec::new();
        let mut pushed = 0;
        while expected.len() < 96 * 1024 {
            let mut batch = Vec::new();
            for _ in 0..10 {
                batch.extend_from_slice(&line(pushed));
                pushed += 1;
            }
            expected.extend_from_slice(&batch);
            console.push(Target::Out, batch).await;
        }
        assert!(console.pending() > 0);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            std::fs::File::from(read).read_to_end(&mut got).unwrap();
            got
        });
        // Drain, then the direct path is taken again.
        assert!(console.flush(Duration::from_secs(5)));
        let last = line(pushed);
        expected.extend_from_slice(&last);
        console.push(Target::Out, last).await;
        assert_eq!(console.pending(), 0);
        drop(console);
        assert_eq!(reader.join().unwrap(), expected);
    }

    /// `write_lines` gives the same bytes as prefixing by hand, directly,
    /// partly queued when the pipe fills, or all returned when not direct.
    #[tokio::test]
    async fn write_lines_prefixes_without_copying_and_queues_the_rest() {
        let mut block = Vec::new();
        let mut ends = Vec::new();
        for i in 0..3000 {
            block.extend_from_slice(format!("{i} {}\n", "y".repeat(i % 70)).as_bytes());
            ends.push(block.len());
        }
        let mut expected = b"head | joined\n".to_vec();
        let mut start = 0;
        for &end in &ends {
            expected.extend_from_slice(b"p | ");
            expected.extend_from_slice(&block[start..end]);
            start = end;
        }

        // No direct path: all of it comes back as one batch.
        let console = Console::with_writers(1 << 20, Box::new(io::sink()), Box::new(io::sink()));
        let got = console.write_lines(Target::Out, b"head | joined\n", b"p | ", &block, &ends);
        assert_eq!(got.as_deref(), Some(expected.as_slice()));

        // Direct into a pipe nobody reads yet (~170 KB > 64 KiB pipe).
        let (read, write) = nix::unistd::pipe().unwrap();
        let thread_side = std::fs::File::from(write.try_clone().unwrap());
        let mut console =
            Console::with_writers(64 * 1024, Box::new(thread_side), Box::new(io::sink()));
        console.direct[0] = direct_fd(write.as_fd());
        drop(write);
        let got = console.write_lines(Target::Out, b"head | joined\n", b"p | ", &block, &ends);
        assert!(got.is_none());
        assert!(console.pending() > 0);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            std::fs::File::from(read).read_to_end(&mut got).unwrap();
            got
        });
        assert!(console.flush(Duration::from_secs(5)));
        drop(console);
        assert_eq!(reader.join().unwrap(), expected);
    }
}
