//! Readiness and health probes as tasks that report back to the supervisor.
//!
//! - Readiness: retry the check every `interval` until it passes or the
//!   probe's `timeout` runs out, then send one [`Report::Probe`].
//! - Health: once running, check every `interval`; after `retries`
//!   consecutive failures send one failing [`Report::Probe`].
//! - `notify`: a per-program datagram socket (sd_notify protocol); its
//!   messages arrive as [`Report::Notify`], the probe task only keeps time.
//! - `fd`: the program writes a newline to an inherited pipe.
//! - `exec`: a command run with the program's user, environment and
//!   directory. It is spawned here — on the supervisor's own thread, so no
//!   reap can run between spawn and registration — and its exit comes back
//!   from the one reaper through [`ExecWaits`].

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixDatagram};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::model::{Output, Probe, ProbeCheck, ProgramSpec};
use crate::process::{self, spawn::SpawnExtras, ExitHow};

/// Longest a single connect/request may take within a probe.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which question a probe answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Is the program ready (gates `running` and dependents)?
    Ready,
    /// Is the running program still alive and well?
    Health,
}

/// What probe tasks and notify sockets tell the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A probe's verdict about one process.
    Probe {
        /// Instance name.
        program: String,
        /// The process the verdict is about (stale verdicts are ignored).
        pid: i32,
        /// Readiness or health.
        kind: ProbeKind,
        /// Passed, or why not.
        result: Result<(), String>,
    },
    /// An sd_notify datagram from a program.
    Notify {
        /// Instance name.
        program: String,
        /// READY=1 was sent.
        ready: bool,
        /// STATUS=… text, when sent.
        status: Option<String>,
        /// STOPPING=1 was sent.
        stopping: bool,
    },
}

/// Exec-probe processes waiting for their exit status, by pid.
#[derive(Debug, Clone, Default)]
pub struct ExecWaits(Arc<Mutex<HashMap<i32, oneshot::Sender<ExitHow>>>>);

impl ExecWaits {
    fn register(&self, pid: i32) -> oneshot::Receiver<ExitHow> {
        let (tx, rx) = oneshot::channel();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid, tx);
        rx
    }

    /// Hand a reaped exit to its exec probe; false if `pid` is not one.
    pub fn deliver(&self, pid: i32, how: ExitHow) -> bool {
        let waiting = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
        match waiting {
            Some(tx) => {
                let _ = tx.send(how);
                true
            }
            None => false,
        }
    }
}

/// Everything a probe task needs about the program it watches.
#[derive(Debug, Clone)]
pub struct Target {
    /// The program's settings (user, environment, directory for exec).
    pub spec: ProgramSpec,
    /// The process being probed.
    pub pid: i32,
    /// Where verdicts go.
    pub reports: mpsc::UnboundedSender<Report>,
    /// Exits of exec-probe processes.
    pub exec_waits: ExecWaits,
}

impl Target {
    fn send(&self, kind: ProbeKind, result: Result<(), String>) {
        let _ = self.reports.send(Report::Probe {
            program: self.spec.name.clone(),
            pid: self.pid,
            kind,
            result,
        });
    }
}

/// Start the readiness probe; `ready_pipe` is the read end for `fd` probes.
pub fn spawn_readiness(
    target: Target,
    probe: Probe,
    ready_pipe: Option<OwnedFd>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let result = match (&probe.check, ready_pipe) {
            (ProbeCheck::Notify, _) => {
                // READY=1 arrives on the notify socket; this task only keeps time.
                tokio::time::sleep(probe.timeout).await;
                Err(format!("no READY=1 within {:?}", probe.timeout))
            }
            (ProbeCheck::Fd(fd), Some(pipe)) => wait_for_newline(pipe, *fd, probe.timeout).await,
            _ => wait_ready(&target, &probe).await,
        };
        target.send(ProbeKind::Ready, result);
    })
}

/// Start the health probe of a running program.
pub fn spawn_health(target: Target, probe: Probe) -> JoinHandle<()> {
    tokio::spawn(async move {
        if matches!(probe.check, ProbeCheck::Notify | ProbeCheck::Fd(_)) {
            tracing::warn!(
                "{}: notify and fd checks cannot be health checks; health check ignored",
                target.spec.name
            );
            return;
        }
        let mut failures = 0;
        loop {
            tokio::time::sleep(probe.interval).await;
            match attempt(&target, &probe).await {
                Ok(()) => failures = 0,
                Err(reason) => {
                    failures += 1;
                    tracing::warn!(
                        "{}: health check failed ({failures}/{}): {reason}",
                        target.spec.name,
                        probe.retries
                    );
                    if failures >= probe.retries.max(1) {
                        target.send(
                            ProbeKind::Health,
                            Err(format!("health check failed {failures} times: {reason}")),
                        );
                        return;
                    }
                }
            }
        }
    })
}

/// Retry the check until it passes or the probe's timeout passes.
async fn wait_ready(target: &Target, probe: &Probe) -> Result<(), String> {
    let give_up = tokio::time::Instant::now() + probe.timeout;
    loop {
        let last_error = match attempt(target, probe).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        let next = tokio::time::Instant::now() + probe.interval;
        if next >= give_up {
            return Err(format!(
                "not ready within {:?}: {last_error}",
                probe.timeout
            ));
        }
        tokio::time::sleep_until(next).await;
    }
}

/// One bounded attempt of a check.
async fn attempt(target: &Target, probe: &Probe) -> Result<(), String> {
    let limit = ATTEMPT_TIMEOUT.min(probe.timeout);
    match &probe.check {
        ProbeCheck::Exec(argv) => run_exec(target, argv, limit).await,
        check => match tokio::time::timeout(limit, check_network(check)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {limit:?}")),
        },
    }
}

/// One attempt of a tcp or http check.
async fn check_network(check: &ProbeCheck) -> Result<(), String> {
    match check {
        ProbeCheck::Tcp(address) => TcpStream::connect(address.as_str())
            .await
            .map(drop)
            .map_err(|err| format!("tcp {address}: {err}")),
        ProbeCheck::Http(url) => http_get(url).await,
        ProbeCheck::Exec(_) | ProbeCheck::Notify | ProbeCheck::Fd(_) => Ok(()),
    }
}

/// Run an exec check as the program's user; exit 0 passes.
async fn run_exec(target: &Target, argv: &[String], limit: Duration) -> Result<(), String> {
    let mut spec = target.spec.clone();
    spec.command = argv.to_vec();
    spec.stdout = Output::Null;
    spec.stderr = Output::Null;
    spec.limits.clear();
    let spawned = process::spawn(&spec, &SpawnExtras::default()).map_err(|err| err.to_string())?;
    let exited = target.exec_waits.register(spawned.pid);
    match tokio::time::timeout(limit, exited).await {
        Ok(Ok(ExitHow::Code(0))) => Ok(()),
        Ok(Ok(how)) => Err(format!("`{}` failed: {}", argv.join(" "), how.describe())),
        Ok(Err(_)) => Err("probe process lost".into()),
        Err(_) => {
            let _ = process::send_signal(spawned.pid, nix::sys::signal::Signal::SIGKILL, true);
            Err(format!(
                "`{}` did not finish within {limit:?}",
                argv.join(" ")
            ))
        }
    }
}

/// s6-style readiness: wait for a newline on the pipe.
async fn wait_for_newline(pipe: OwnedFd, fd: i32, timeout: Duration) -> Result<(), String> {
    let mut receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe)
        .map_err(|err| format!("readiness fd {fd}: {err}"))?;
    let read = async {
        let mut buffer = [0u8; 256];
        loop {
            match receiver.read(&mut buffer).await {
                Ok(0) => return Err(format!("fd {fd} closed before a newline was written")),
                Ok(n) if buffer[..n].contains(&b'\n') => return Ok(()),
                Ok(_) => continue,
                Err(err) => return Err(format!("readiness fd {fd}: {err}")),
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(format!("no newline on fd {fd} within {timeout:?}")),
    }
}

/// GET `url` (plain http) and accept a 2xx or 3xx status.
async fn http_get(url: &str) -> Result<(), String> {
    let (host, path) = split_http_url(url).ok_or_else(|| format!("not an http:// url: {url}"))?;
    let address = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let mut stream = TcpStream::connect(address.as_str())
        .await
        .map_err(|err| format!("http {url}: {err}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: svinit-probe\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("http {url}: {err}"))?;
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < 12 {
        let n = stream
            .read(&mut head[filled..])
            .await
            .map_err(|err| format!("http {url}: {err}"))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let status =
        parse_status(&head[..filled]).ok_or_else(|| format!("http {url}: no HTTP status line"))?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("http {url}: status {status}"))
    }
}

/// `http://host:port/path` → ("host:port", "/path").
fn split_http_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    match rest.find('/') {
        Some(slash) => Some((&rest[..slash], &rest[slash..])),
        None => Some((rest, "/")),
    }
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head.get(..12)?).ok()?;
    if !text.starts_with("HTTP/") {
        return None;
    }
    text.get(9..12)?.parse().ok()
}

/// Where a program's notify socket lives: beside the control socket.
pub fn notify_socket_path(control_socket: &Path, program: &str) -> PathBuf {
    let dir = control_socket
        .parent()
        .unwrap_or_else(|| Path::new("/run"))
        .join("svinit-notify");
    dir.join(format!("{program}.sock"))
}

/// Bind a program's notify socket (owned by its user) and relay its
/// datagrams as [`Report::Notify`] until the task is aborted.
pub fn spawn_notify_listener(
    path: PathBuf,
    spec: &ProgramSpec,
    reports: mpsc::UnboundedSender<Report>,
) -> std::io::Result<JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path)?;
    if let Some(user) = &spec.user {
        std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))?;
    }
    let program = spec.name.clone();
    Ok(tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok(n) = socket.recv(&mut buffer).await else {
                continue;
            };
            let text = String::from_utf8_lossy(&buffer[..n]);
            let report = parse_notify(&program, &text);
            if reports.send(report).is_err() {
                return;
            }
        }
    }))
}

/// Parse one sd_notify datagram (newline-separated KEY=VALUE).
fn parse_notify(program: &str, text: &str) -> Report {
    let mut ready = false;
    let mut stopping = false;
    let mut status = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("READY", "1")) => ready = true,
            Some(("STOPPING", "1")) => stopping = true,
            Some(("STATUS", value)) => status = Some(value.to_string()),
            _ => {}
        }
    }
    Report::Notify {
        program: program.to_string(),
        ready,
        status,
        stopping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_status_lines_parse() {
        assert_eq!(
            split_http_url("http://127.0.0.1:80/healthz"),
            Some(("127.0.0.1:80", "/healthz"))
        );
        assert_eq!(split_http_url("http://localhost"), Some(("localhost", "/")));
        assert_eq!(split_http_url("https://x"), None);
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"SSH-2.0-x"), None);
    }

    #[test]
    fn notify_datagrams_parse() {
        assert_eq!(
            parse_notify("r", "READY=1\nSTATUS=Ready to accept connections\n"),
            Report::Notify {
                program: "r".into(),
                ready: true,
                status: Some("Ready to accept connections".into()),
                stopping: false,
            }
        );
        assert!(matches!(
            parse_notify("r", "STOPPING=1"),
            Report::Notify {
                stopping: true,
                ready: false,
                ..
            }
        ));
    }
}
