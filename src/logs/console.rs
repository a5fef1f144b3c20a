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

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsFd;
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
}

impl Console {
    /// Start a writer thread writing to svinit's own fd 1 and fd 2.
    pub fn stdio(cap: usize) -> Console {
        Console::with_writers(
            cap,
            Box::new(FdWriter(io::stdout())),
            Box::new(FdWriter(io::stderr())),
        )
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
        Console { shared }
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
