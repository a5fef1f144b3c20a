//! The control socket server: peer check, limits, one task per connection.
//!
//! The accept loop only admits or refuses; everything that can wait (reading
//! requests, waiting for the supervisor, streaming logs) happens in the
//! connection's own task, so a slow or hostile client only ever stalls itself.
//! See `docs/protocol.md` for the wire format.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::protocol::{Envelope, Request, Response, MAX_REQUEST_BYTES, PROTOCOL_VERSION};
use super::{ControlCall, SupervisorHandle};
use crate::logs::LogHub;

/// Connections served at once; more are refused so a flood cannot exhaust fds.
pub const MAX_CONNECTIONS: usize = 128;

/// A client must complete a request line within this long, or it is dropped
/// (so idle or trickling clients cannot hold connection slots forever).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A response write that cannot progress for this long drops the client
/// (a client that never reads must not pin its task).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// New connections that may wait for a slot when all are taken; beyond
/// this they are refused at once.
const MAX_WAITING: usize = 512;

/// How long a new connection waits for a slot before it is refused.
const ADMIT_WAIT: Duration = Duration::from_secs(3);

/// While connections wait for a slot, a connection idle this long gives its
/// slot up. Real clients send their request right after connecting, so only
/// stale or hostile connections are that slow.
const BUSY_IDLE_GRACE: Duration = Duration::from_millis(200);

/// After shutdown, how long `serve` waits for connections to finish their
/// current answer before returning.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Pause after a failed accept (EMFILE and friends) so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Largest `data` string in one `log` response; longer output is split.
const LOG_CHUNK_BYTES: usize = 32 * 1024;

/// Bind the control socket at `path` with permissions `mode`.
///
/// Creates the parent directory if missing. A leftover socket file from a
/// dead svinit is removed; if something still answers on it, binding fails
/// with `AddrInUse` ("another svinit is listening on PATH"). Must be called
/// inside a tokio runtime (the listener registers with its reactor).
pub fn bind(path: &Path, mode: u32) -> io::Result<UnixListener> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|err| context(err, "cannot create", parent))?;
    }
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(|err| context(err, "cannot bind", path))?;
    // Between bind and chmod the socket has umask permissions; the uid check
    // on every peer still applies, so that window grants nothing.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|err| context(err, "cannot chmod", path))?;
    Ok(listener)
}

/// Remove `path` if it is a socket nobody listens on any more.
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(context(err, "cannot stat", path)),
    };
    if !meta.file_type().is_socket() {
        // Never delete a file we did not make.
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another svinit is listening on {}", path.display()),
        )),
        Err(err) if err.raw_os_error() == Some(libc::ECONNREFUSED) => {
            std::fs::remove_file(path).map_err(|err| context(err, "cannot remove stale", path))
        }
        Err(err) => Err(context(err, "cannot probe existing", path)),
    }
}

/// Wrap an I/O error with what we were doing and to which path.
fn context(err: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{doing} {}: {err}", path.display()))
}

/// Everything a connection task needs; cloned once per connection.
#[derive(Clone)]
struct Shared {
    /// Where non-`logs` requests go.
    supervisor: SupervisorHandle,
    /// Where `logs` requests are served from.
    logs: LogHub,
    /// Changes (or closes) when the server shuts down; tasks then finish.
    stop: watch::Receiver<()>,
    /// How many new connections wait for a slot; while some do, idle
    /// connections give theirs up (see [`idle_deadline`]).
    waiting: watch::Receiver<usize>,
}

/// The accept loop's view: who may connect, and the slots.
struct Admission {
    /// Each connection task holds a permit; getting all of them back means
    /// every task has ended.
    slots: Arc<Semaphore>,
    /// Counts connections waiting for a slot (the sending side of `Shared::waiting`).
    waiting: watch::Sender<usize>,
    /// svinit's effective uid, allowed besides root.
    own_uid: u32,
    /// Template for each connection's `Shared`.
    shared: Shared,
}

/// Accept and serve control connections until `shutdown` completes.
///
/// Returns once the listener is closed and the open connections have ended
/// (waiting at most a second for them). Does not remove the socket file.
pub async fn serve(
    listener: UnixListener,
    supervisor: SupervisorHandle,
    logs: LogHub,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop) = watch::channel(());
    let (waiting, waiting_rx) = watch::channel(0);
    let admission = Admission {
        slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        waiting,
        own_uid: nix::unistd::geteuid().as_raw(),
        shared: Shared {
            supervisor,
            logs,
            stop,
            waiting: waiting_rx,
        },
    };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => admission.admit(stream),
            Err(err) => {
                tracing::warn!("control socket: accept failed: {err}");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    drop(stop_tx);
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, admission.slots.acquire_many(all)).await;
}

impl Admission {
    /// Check the peer and start its task, or refuse it with one error line.
    /// Never waits: refusals use a non-blocking write.
    fn admit(&self, stream: UnixStream) {
        let uid = match stream.peer_cred() {
            Ok(cred) => cred.uid(),
            Err(err) => {
                tracing::warn!("control socket: cannot read peer credentials: {err}");
                return;
            }
        };
        if uid != 0 && uid != self.own_uid {
            tracing::warn!("control socket: refused uid {uid}");
            let message = format!("permission denied: uid {uid} may not control svinit");
            refuse(&stream, &message);
            return;
        }
        let shared = self.shared.clone();
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            tokio::spawn(connection(stream, shared, permit));
        } else if *self.waiting.borrow() < MAX_WAITING {
            // Counted here, not in the task, so a burst cannot overshoot.
            self.waiting.send_modify(|n| *n += 1);
            let waiter = Waiter(self.waiting.clone());
            tokio::spawn(wait_for_slot(
                stream,
                shared,
                Arc::clone(&self.slots),
                waiter,
            ));
        } else {
            tracing::warn!("control socket: {MAX_CONNECTIONS} connections open, refusing another");
            refuse(&stream, "too many connections, try again later");
        }
    }
}

/// One connection waiting for a slot; uncounts itself when dropped.
struct Waiter(watch::Sender<usize>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Serve a connection that arrived while all slots were taken, once idle
/// connections have made room, or refuse it.
async fn wait_for_slot(stream: UnixStream, shared: Shared, slots: Arc<Semaphore>, waiter: Waiter) {
    let permit = tokio::time::timeout(ADMIT_WAIT, slots.acquire_owned()).await;
    drop(waiter);
    match permit {
        Ok(Ok(permit)) => connection(stream, shared, permit).await,
        _ => refuse(&stream, "too many connections, try again later"),
    }
}

/// Completes when an idle connection (one waiting for a request line since
/// `since`) should be closed: after [`IDLE_TIMEOUT`], or after
/// [`BUSY_IDLE_GRACE`] while new connections wait for a slot.
async fn idle_deadline(waiting: &mut watch::Receiver<usize>, since: Instant) {
    let busy = async {
        // An error means the server is stopping; `stop` handles that.
        let _ = waiting.wait_for(|n| *n > 0).await;
        tokio::time::sleep_until(since + BUSY_IDLE_GRACE).await;
    };
    tokio::select! {
        () = tokio::time::sleep_until(since + IDLE_TIMEOUT) => {}
        () = busy => {}
    }
}

/// Best-effort error line to a client we will not serve, then close.
fn refuse(stream: &UnixStream, message: &str) {
    let _ = stream.try_write(&encode(&Response::error(message)));
}

/// One response as a JSON line.
fn encode(response: &Response) -> Vec<u8> {
    // Serialising our own enum cannot fail; fall back to a fixed error line
    // rather than panic if it ever does.
    let mut line = serde_json::to_vec(response)
        .unwrap_or_else(|_| br#"{"type":"error","message":"internal encoding error"}"#.to_vec());
    line.push(b'\n');
    line
}

/// How reading one request line ended.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line is in the buffer (without its newline).
    Complete,
    /// The client closed the connection (nothing pending).
    Eof,
    /// The line exceeded the limit; the rest of it was not read.
    TooLong,
}

/// Read one newline-terminated line into `line`, never buffering more than
/// `max` bytes. A final line without newline counts as complete.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    line.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(if done { take + 1 } else { take });
        if done {
            return Ok(Line::Complete);
        }
    }
}

/// Why a connection ended early; only logged at debug level, since clients
/// leaving is normal.
type Closed = io::Error;

/// Serve one client until it leaves, misbehaves, or the server stops.
async fn connection(stream: UnixStream, mut shared: Shared, _permit: OwnedSemaphorePermit) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if let Err(err) = requests(&mut reader, &mut write, &mut shared).await {
        tracing::debug!("control connection closed: {err}");
    }
}

/// The request loop of one connection.
async fn requests(
    reader: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    shared: &mut Shared,
) -> Result<(), Closed> {
    let mut line = Vec::new();
    loop {
        let since = Instant::now();
        let read = tokio::select! {
            _ = shared.stop.changed() => return Ok(()),
            () = idle_deadline(&mut shared.waiting, since) => {
                return send(write, &Response::error("idle too long, closing")).await;
            }
            read = read_line(reader, &mut line, MAX_REQUEST_BYTES) => read?,
        };
        match read {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                let message = format!("request too large (limit {MAX_REQUEST_BYTES} bytes)");
                return send(write, &Response::error(message)).await;
            }
            Line::Complete => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(&line) {
            Err(response) => send(write, &response).await?,
            Ok(Request::Logs {
                name,
                lines,
                follow,
            }) => logs(reader, write, shared, &name, lines, follow).await?,
            Ok(request) => send(write, &ask(&shared.supervisor, request).await).await?,
        }
    }
}

/// Parse a request line, or say what is wrong with it.
fn parse(line: &[u8]) -> Result<Request, Response> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|err| Response::error(format!("malformed JSON: {err}")))?;
    let version = value
        .get("v")
        .ok_or_else(|| Response::error("missing protocol version \"v\""))?;
    if version.as_u64() != Some(u64::from(PROTOCOL_VERSION)) {
        return Err(Response::error(format!(
            "unsupported protocol version {version} (this svinit speaks {PROTOCOL_VERSION})"
        )));
    }
    if value.get("cmd").is_none() {
        return Err(Response::error("missing \"cmd\""));
    }
    serde_json::from_value::<Envelope>(value)
        .map(|envelope| envelope.request)
        .map_err(|err| Response::error(format!("invalid request: {err}")))
}

/// Forward a request to the supervisor loop and wait for its answer.
async fn ask(supervisor: &SupervisorHandle, request: Request) -> Response {
    let (reply, answer) = oneshot::channel();
    if supervisor
        .send(ControlCall { request, reply })
        .await
        .is_err()
    {
        return Response::error("the supervisor is not running");
    }
    answer
        .await
        .unwrap_or_else(|_| Response::error("the supervisor ended without answering"))
}

/// Write one response, giving up on a client that does not read.
async fn send(write: &mut OwnedWriteHalf, response: &Response) -> Result<(), Closed> {
    let line = encode(response);
    match tokio::time::timeout(WRITE_TIMEOUT, write.write_all(&line)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client stopped reading",
        )),
    }
}

/// Write program output as `log` responses of bounded size.
async fn send_output(write: &mut OwnedWriteHalf, bytes: &[u8]) -> Result<(), Closed> {
    // Convert once, then split on char boundaries, so a chunk edge never
    // lands inside a UTF-8 sequence.
    let text = String::from_utf8_lossy(bytes);
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(LOG_CHUNK_BYTES);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (chunk, tail) = rest.split_at(cut);
        send(
            write,
            &Response::Log {
                data: chunk.to_owned(),
            },
        )
        .await?;
        rest = tail;
    }
    Ok(())
}

/// Serve `logs`: the kept tail, then (with `follow`) live output until the
/// client leaves.
async fn logs(
    reader: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    shared: &mut Shared,
    name: &str,
    lines: Option<usize>,
    follow: bool,
) -> Result<(), Closed> {
    // Subscribe before taking the tail: a line may then show twice, but
    // none written in between is lost.
    let live = if follow {
        shared.logs.follow(name)
    } else {
        None
    };
    let Some(tail) = shared.logs.tail(name, lines) else {
        return send(write, &unknown_log(&shared.supervisor, name).await).await;
    };
    send_output(write, &tail).await?;
    let Some(mut live) = live else {
        return send(write, &Response::End).await;
    };
    let mut scratch = [0u8; 512];
    loop {
        tokio::select! {
            _ = shared.stop.changed() => return send(write, &Response::End).await,
            // A follower sends nothing more; reading only detects it leaving.
            read = reader.read(&mut scratch) => match read {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            },
            chunk = live.recv() => match chunk {
                Ok(bytes) => send_output(write, &bytes).await?,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let note = format!("[svinit: {missed} chunks of output skipped, reading too slowly]\n");
                    send_output(write, note.as_bytes()).await?;
                }
                // The program was removed (reload): its output has ended.
                Err(broadcast::error::RecvError::Closed) => return send(write, &Response::End).await,
            },
        }
    }
}

/// The error for a `logs` name the LogHub does not know: either no such
/// program (with the known names), or one whose output is not kept.
async fn unknown_log(supervisor: &SupervisorHandle, name: &str) -> Response {
    let known = match ask(supervisor, Request::Status { names: Vec::new() }).await {
        Response::Status { programs } => programs.into_iter().map(|p| p.name).collect(),
        _ => Vec::new(),
    };
    if known.iter().any(|k| k == name) {
        return Response::error(format!(
            "no output of {name} is kept in memory (its stdout/stderr is not \"console\")"
        ));
    }
    Response::Error {
        message: format!("unknown program \"{name}\""),
        known,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let got = read_line(&mut reader, &mut line, max).await.unwrap();
            let stop = got != Line::Complete;
            out.push((got, line.clone()));
            if stop {
                return out;
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lines_split_on_newlines_and_keep_a_final_partial_line() {
        let got = lines_of(b"ab\n\ncdefgh\nij", 100).await;
        let texts: Vec<_> = got.iter().map(|(_, l)| l.as_slice()).collect();
        assert_eq!(texts, [&b"ab"[..], b"", b"cdefgh", b"ij", b""]);
        assert_eq!(got.last().unwrap().0, Line::Eof);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_line_over_the_limit_is_refused_without_reading_it_all() {
        let got = lines_of(b"12345\n123456789\n", 5).await;
        assert_eq!(got[0], (Line::Complete, b"12345".to_vec()));
        assert_eq!(got[1].0, Line::TooLong);
    }

    #[test]
    fn parse_reports_each_kind_of_bad_request() {
        let message = |line: &str| match parse(line.as_bytes()) {
            Err(Response::Error { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert!(message("nope").starts_with("malformed JSON"));
        assert!(message(r#"{"cmd":"status"}"#).contains("missing protocol version"));
        assert!(message(r#"{"v":2,"cmd":"status"}"#).contains("unsupported protocol version 2"));
        assert!(message(r#"{"v":1}"#).contains("missing \"cmd\""));
        assert!(message(r#"{"v":1,"cmd":"frobnicate"}"#).contains("frobnicate"));
        assert_eq!(
            parse(br#"{"v":1,"cmd":"status"}"#),
            Ok(Request::Status { names: Vec::new() })
        );
    }
}
