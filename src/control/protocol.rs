//! The control protocol, shared by the socket server and svctl.
//!
//! Newline-delimited JSON over a unix stream socket: the client writes one
//! request object per line; the server answers each with one response object
//! per line (a `logs` request with `follow` answers with a stream of `log`
//! responses until the client leaves). Documented in `docs/protocol.md`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Protocol version spoken by this build.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest request line the server accepts, in bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A request line: the version plus the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Protocol version of the client; the server refuses other major versions.
    pub v: u32,
    /// The command.
    #[serde(flatten)]
    pub request: Request,
}

/// A command from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Status of the named programs (all when empty).
    Status {
        /// Program, `group:instance` or group names.
        #[serde(default)]
        names: Vec<String>,
    },
    /// Start programs; with `wait`, answer once they are running or failed.
    Start {
        /// Names, or `all`.
        names: Vec<String>,
        /// Wait for the target state.
        #[serde(default = "yes")]
        wait: bool,
    },
    /// Stop programs.
    Stop {
        /// Names, or `all`.
        names: Vec<String>,
        /// Wait for the target state.
        #[serde(default = "yes")]
        wait: bool,
    },
    /// Stop then start programs.
    Restart {
        /// Names, or `all`.
        names: Vec<String>,
        /// Wait for the target state.
        #[serde(default = "yes")]
        wait: bool,
    },
    /// Send a signal to programs.
    Signal {
        /// Signal name (`HUP`, `SIGHUP`) or number.
        signal: String,
        /// Names, or `all`.
        names: Vec<String>,
    },
    /// Recent output of one program.
    Logs {
        /// Program instance name.
        name: String,
        /// Last N lines (all kept when absent).
        #[serde(default)]
        lines: Option<usize>,
        /// Keep streaming new output.
        #[serde(default)]
        follow: bool,
    },
    /// The supervisor's pid, or a program's.
    Pid {
        /// Program instance name.
        #[serde(default)]
        name: Option<String>,
    },
    /// Re-read the configuration and apply the difference.
    Reload,
    /// Stop everything and exit.
    Shutdown,
    /// Session/pid → program map, for the inspector's PROGRAM column.
    Owners,
}

fn yes() -> bool {
    true
}

/// A response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// Answer to `status`.
    Status {
        /// One entry per program instance.
        programs: Vec<ProgramStatus>,
    },
    /// Answer to start/stop/restart/signal: one result per instance.
    Done {
        /// Per-instance outcome.
        results: Vec<ActionResult>,
    },
    /// Answer to `pid`.
    Pid {
        /// The pid (null when the program has no process).
        pid: Option<i32>,
    },
    /// Answer to `reload`.
    Reloaded {
        /// Instances added.
        added: Vec<String>,
        /// Instances restarted because their settings changed.
        changed: Vec<String>,
        /// Instances removed.
        removed: Vec<String>,
    },
    /// A chunk of program output (`logs`); `data` is the bytes, lossily UTF-8.
    Log {
        /// The output.
        data: String,
    },
    /// End of a non-follow `logs` answer.
    End,
    /// Answer to `owners`: pid or session id → program instance name.
    Owners {
        /// Keys are pids (as strings, JSON objects need string keys).
        owners: BTreeMap<String, String>,
        /// Inode of svinit's pid namespace, so a client in another
        /// namespace can translate the pids to its own view.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid_namespace: Option<u64>,
    },
    /// Answer to `shutdown`: accepted.
    Ok,
    /// Any failure: bad request, unknown name, invalid config on reload.
    Error {
        /// What went wrong.
        message: String,
        /// Known program names, when the error was an unknown name.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        known: Vec<String>,
    },
}

impl Response {
    /// A plain error response.
    pub fn error(message: impl Into<String>) -> Response {
        Response::Error {
            message: message.into(),
            known: Vec::new(),
        }
    }
}

/// What became of one instance after start/stop/restart/signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Instance name.
    pub name: String,
    /// Whether the target state was reached.
    pub ok: bool,
    /// State at the time of the answer.
    pub state: String,
    /// Explanation, e.g. the spawn error.
    pub message: String,
}

/// Status of one program instance (the `status --json` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramStatus {
    /// Full name, `stream:1`.
    pub name: String,
    /// Program name, `stream`.
    pub program: String,
    /// Instance number, or null.
    pub instance: Option<u32>,
    /// State name: stopped, starting, running, backoff, stopping, exited, fatal, completed.
    pub state: String,
    /// Main pid, when a process runs.
    pub pid: Option<i32>,
    /// Seconds since the process started (0 without a process).
    pub uptime_secs: u64,
    /// Restarts since svinit started.
    pub restarts: u32,
    /// Last exit code.
    pub exit_code: Option<i32>,
    /// Last terminating signal name.
    pub signal: Option<String>,
    /// Human text: last exit, spawn error, STATUS= from sd_notify, …
    pub description: String,
    /// Whether the program is in the state it should be in (for exit code 3).
    pub healthy: bool,
}
