//! Readiness probes as tasks that send their verdict back to the supervisor.
//!
//! A probe task retries its check every `interval` until it passes or the
//! probe's `timeout` runs out, then sends one [`ProbeOutcome`].

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::model::{Probe, ProbeCheck};

/// Longest a single connect/request may take within a probe.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// The verdict of a readiness probe for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Instance name.
    pub program: String,
    /// The process the verdict is about (stale verdicts are ignored).
    pub pid: i32,
    /// Ready, or why not.
    pub result: Result<(), String>,
}

/// Start probing readiness of `program` (pid `pid`).
pub fn spawn_readiness(
    program: String,
    pid: i32,
    probe: Probe,
    results: mpsc::UnboundedSender<ProbeOutcome>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let result = wait_ready(&probe).await;
        let _ = results.send(ProbeOutcome {
            program,
            pid,
            result,
        });
    })
}

/// Retry the check until it passes or the probe's timeout passes.
async fn wait_ready(probe: &Probe) -> Result<(), String> {
    let give_up = tokio::time::Instant::now() + probe.timeout;
    loop {
        let attempt =
            tokio::time::timeout(ATTEMPT_TIMEOUT.min(probe.timeout), check_once(&probe.check));
        let last_error = match attempt.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => err,
            Err(_) => "attempt timed out".to_string(),
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

/// One attempt of a check.
pub async fn check_once(check: &ProbeCheck) -> Result<(), String> {
    match check {
        ProbeCheck::Tcp(address) => TcpStream::connect(address.as_str())
            .await
            .map(drop)
            .map_err(|err| format!("tcp {address}: {err}")),
        ProbeCheck::Http(url) => http_get(url).await,
        ProbeCheck::Exec(_) | ProbeCheck::Notify | ProbeCheck::Fd(_) => {
            Err("this probe kind is not supported yet".into())
        }
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
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: svinit-probe\r\nConnection: close\r\n\r\n");
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
}
