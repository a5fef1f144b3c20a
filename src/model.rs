//! The validated configuration model: immutable types produced by `config`
//! and consumed by the supervisor. No I/O happens here.
//!
//! Every type derives `PartialEq` so that a reload can tell changed programs
//! from unchanged ones by plain comparison.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

/// The whole resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Settings of svinit itself (`[supervisor]`).
    pub supervisor: SupervisorSpec,
    /// One entry per program *instance* (`stream:0`, `stream:1`, `redis`),
    /// sorted by start order: priority, then dependencies, then name.
    pub programs: Vec<ProgramSpec>,
    /// The files that were read, in order (for `--check` and reload messages).
    pub files: Vec<PathBuf>,
}

/// `[supervisor]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorSpec {
    /// Path of the control socket.
    pub socket: PathBuf,
    /// File mode of the control socket.
    pub socket_mode: u32,
    /// Hard bound on a whole shutdown.
    pub shutdown_timeout: Duration,
    /// Format of svinit's own log lines.
    pub log_format: LogFormat,
    /// Bytes of output kept in memory per program for `svctl logs`.
    pub log_buffer_bytes: usize,
    /// Signals svinit receives and forwards to the named programs.
    pub forward: BTreeMap<SignalName, Vec<String>>,
}

impl Default for SupervisorSpec {
    fn default() -> Self {
        SupervisorSpec {
            socket: PathBuf::from("/run/svinit.sock"),
            socket_mode: 0o600,
            shutdown_timeout: Duration::from_secs(9),
            log_format: LogFormat::Text,
            log_buffer_bytes: 64 * 1024,
            forward: BTreeMap::new(),
        }
    }
}

/// A signal, ordered so it can key a map (nix's `Signal` is not `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignalName(pub i32);

impl SignalName {
    /// The nix signal, when the number is a valid one.
    pub fn signal(self) -> Option<Signal> {
        Signal::try_from(self.0).ok()
    }
}

/// Format of svinit's own log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One program instance, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    /// Full name: `redis`, or `stream:1` for an instance.
    pub name: String,
    /// The program (group) name: `stream`.
    pub program: String,
    /// The instance number, when the program has `instances`.
    pub instance: Option<u32>,
    /// argv, `{name}`/`{instance}` already substituted; never empty.
    pub command: Vec<String>,
    /// Working directory.
    pub directory: PathBuf,
    /// Credentials to run as; `None` keeps svinit's.
    pub user: Option<Credentials>,
    /// Variables added to svinit's environment (SVINIT_* included).
    pub environment: BTreeMap<String, String>,
    /// umask to set in the child, if any.
    pub umask: Option<u32>,
    /// rlimits to set in the child.
    pub limits: Vec<Rlimit>,
    /// Long-running service or run-to-completion oneshot.
    pub kind: Kind,
    /// Start at boot.
    pub autostart: bool,
    /// When an exit leads to a restart.
    pub restart: RestartPolicy,
    /// Exit codes that count as success.
    pub exit_codes: Vec<i32>,
    /// How long a service must stay up to count as started.
    pub start_secs: Duration,
    /// Retries after a failed first start before FATAL.
    pub start_retries: u32,
    /// First delay after a failed start; doubles, capped at 30 s.
    pub backoff: Duration,
    /// First signal on stop.
    pub stop_signal: Signal,
    /// Time between stop_signal and SIGKILL.
    pub stop_timeout: Duration,
    /// Signals go to the whole process group.
    pub stop_group: bool,
    /// Lower starts first and stops last.
    pub priority: i32,
    /// Full instance names this one waits for (a program dependency is
    /// expanded to all its instances).
    pub depends_on: Vec<String>,
    /// Readiness probe.
    pub ready: Option<Probe>,
    /// Liveness probe.
    pub health: Option<Probe>,
    /// Its failure ends the container.
    pub critical: bool,
    /// Where stdout goes.
    pub stdout: Output,
    /// Where stderr goes.
    pub stderr: Output,
    /// Where it was defined, for messages: `file:line`.
    pub defined_at: String,
}

/// Resolved user and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (or the uid as text when it has no passwd entry).
    pub user_name: String,
    /// Numeric uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary groups (from /etc/group), root's dropped.
    pub groups: Vec<u32>,
    /// Home directory, for HOME.
    pub home: PathBuf,
}

/// One resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The libc `RLIMIT_*` constant.
    pub resource: i32,
    /// Soft limit (`u64::MAX` = unlimited).
    pub soft: u64,
    /// Hard limit (`u64::MAX` = unlimited).
    pub hard: u64,
}

/// Service or oneshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Long-running.
    Service,
    /// Runs to completion.
    Oneshot,
}

/// When a program that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Always.
    Always,
    /// When the exit code is not in exit_codes, or it was killed by a signal.
    OnFailure,
    /// Never.
    Never,
}

/// A readiness or health probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// What is checked.
    pub check: ProbeCheck,
    /// How long one attempt may take (readiness: how long until ready).
    pub timeout: Duration,
    /// Time between attempts.
    pub interval: Duration,
    /// Consecutive failures before a health probe restarts the program.
    pub retries: u32,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeCheck {
    /// A TCP connect to `host:port` succeeds.
    Tcp(String),
    /// An HTTP GET returns 2xx or 3xx.
    Http(String),
    /// A command exits 0.
    Exec(Vec<String>),
    /// sd_notify READY=1.
    Notify,
    /// The program writes a newline to this fd.
    Fd(i32),
}

/// Where one output stream goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Prefixed lines on svinit's own stream, kept in memory.
    Console,
    /// Straight to svinit's stream, no copy.
    Passthrough,
    /// Discarded.
    Null,
    /// stderr only: merged into stdout.
    Stdout,
    /// A rotating file.
    File {
        /// The log file.
        path: PathBuf,
        /// Rotate when it grows past this.
        max_bytes: u64,
        /// Old files kept.
        backups: u32,
    },
}

/// Parse a signal given as `TERM`, `SIGTERM`, `term` or a number.
pub fn parse_signal(text: &str) -> Option<Signal> {
    let text = text.trim();
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = text.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().ok()
}

/// The short name of a signal: `TERM` for SIGTERM.
pub fn signal_name(signal: Signal) -> &'static str {
    let full = signal.as_str();
    full.strip_prefix("SIG").unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_every_spelling() {
        assert_eq!(parse_signal("TERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("sigquit"), Some(Signal::SIGQUIT));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(signal_name(Signal::SIGUSR2), "USR2");
    }
}
