//! The client side of the control socket: blocking, no runtime, so that a
//! whole `svctl status` takes a few milliseconds.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::control::protocol::{Envelope, Request, Response, PROTOCOL_VERSION};

/// Longest response line accepted (a `log` chunk is far smaller); guards
/// against an endless line from something that is not svinit.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Longest wait for connect and for writing a request, even when the answer
/// may take long: a wedged svinit must not hang a health check.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why talking to svinit failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nothing accepts connections on the socket.
    #[error("no supervisor answers on {}: {source}", socket.display())]
    Unreachable {
        /// The socket tried.
        socket: PathBuf,
        /// The OS error of connect().
        source: io::Error,
    },
    /// Connected, but no answer came in time.
    #[error("svinit on {} did not answer within {}s", socket.display(), timeout.as_secs_f32())]
    Timeout {
        /// The socket tried.
        socket: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
    /// The connection broke or closed before an answer.
    #[error("connection to svinit on {} failed: {source}", socket.display())]
    Io {
        /// The socket tried.
        socket: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The answer was not a response this svctl understands.
    #[error("unreadable answer from {}: {detail}", socket.display())]
    BadResponse {
        /// The socket tried.
        socket: PathBuf,
        /// The parse error.
        detail: String,
    },
}

impl CtlError {
    /// The svctl exit code for this error: 4 when no supervisor answers, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            CtlError::Unreachable { .. } | CtlError::Timeout { .. } => super::exit::UNREACHABLE,
            CtlError::Io { .. } | CtlError::BadResponse { .. } => super::exit::ERROR,
        }
    }
}

/// One open connection to svinit.
pub struct Client {
    /// For error messages.
    socket: PathBuf,
    /// The connection; writes go through `get_mut()`.
    reader: BufReader<UnixStream>,
    /// The read timeout (None: wait for ever), for the Timeout error message.
    timeout: Option<Duration>,
    /// An answer read early because our write failed (the server refused
    /// us and closed); `receive` returns it first.
    pending: Option<Response>,
}

impl Client {
    /// Connect to `socket`; `timeout` bounds every read (None: reads wait
    /// for ever, for `start` and `logs -f`). Connect and writes are bounded
    /// by the shorter of `timeout` and 10 s.
    pub fn connect(socket: &Path, timeout: Option<Duration>) -> Result<Client, CtlError> {
        let stream = connect(socket, timeout).map_err(|source| CtlError::Unreachable {
            socket: socket.to_path_buf(),
            source,
        })?;
        Ok(Client {
            socket: socket.to_path_buf(),
            reader: BufReader::new(stream),
            timeout,
            pending: None,
        })
    }

    /// Send one request line.
    pub fn send(&mut self, request: Request) -> Result<(), CtlError> {
        let envelope = Envelope {
            v: PROTOCOL_VERSION,
            request,
        };
        let mut line = serde_json::to_vec(&envelope).map_err(|err| self.bad(err.to_string()))?;
        line.push(b'\n');
        let Err(err) = self.reader.get_mut().write_all(&line) else {
            return Ok(());
        };
        // A refused client (wrong uid, server full) gets one error line and
        // is closed, possibly before our request went out: show that line
        // rather than a bare "broken pipe".
        match self.read_response() {
            Ok(response) => {
                self.pending = Some(response);
                Ok(())
            }
            Err(_) => Err(self.io(err)),
        }
    }

    /// Read the next response line.
    pub fn receive(&mut self) -> Result<Response, CtlError> {
        match self.pending.take() {
            Some(response) => Ok(response),
            None => self.read_response(),
        }
    }

    /// Read one response line from the socket.
    fn read_response(&mut self) -> Result<Response, CtlError> {
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_RESPONSE_BYTES)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) => Err(self.io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed without answering",
            ))),
            Ok(_) => serde_json::from_slice(&line).map_err(|err| self.bad(err.to_string())),
            Err(err) => Err(self.io(err)),
        }
    }

    /// Classify a read/write error: a timeout means svinit is not answering.
    fn io(&self, source: io::Error) -> CtlError {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => CtlError::Timeout {
                socket: self.socket.clone(),
                timeout: write_timeout(self.timeout),
            },
            _ => CtlError::Io {
                socket: self.socket.clone(),
                source,
            },
        }
    }

    /// A protocol-level error.
    fn bad(&self, detail: String) -> CtlError {
        CtlError::BadResponse {
            socket: self.socket.clone(),
            detail,
        }
    }
}

/// Connect with a bounded wait: a unix connect blocks when the server's
/// backlog is full, and SO_SNDTIMEO is what bounds it on Linux.
fn connect(path: &Path, read_timeout: Option<Duration>) -> io::Result<UnixStream> {
    let timeout = write_timeout(read_timeout);
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let millis = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    socket::setsockopt(&fd, sockopt::SendTimeout, &TimeVal::milliseconds(millis))?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    let stream = UnixStream::from(fd);
    stream.set_read_timeout(read_timeout)?;
    Ok(stream)
}

/// The bound on connect and writes for a given read timeout.
fn write_timeout(read_timeout: Option<Duration>) -> Duration {
    read_timeout.map_or(WRITE_TIMEOUT, |read| read.min(WRITE_TIMEOUT))
}

/// Send one request and return its single response (error responses included).
pub fn request(
    socket: &Path,
    request: Request,
    timeout: Option<Duration>,
) -> Result<Response, CtlError> {
    let mut client = Client::connect(socket, timeout)?;
    client.send(request)?;
    client.receive()
}
