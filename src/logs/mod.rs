//! Program output: line splitting and prefixing, per-program rings, one
//! console writer, rotating files. (Interface stub; see the logs issue.)

use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::Output;

/// Which stream of a program a pipe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The program's stdout (relayed to svinit's stdout).
    Stdout,
    /// The program's stderr (relayed to svinit's stderr).
    Stderr,
}

/// Shared handle to all program output. Cheap to clone.
#[derive(Clone, Default)]
pub struct LogHub {}

impl LogHub {
    /// Start the console writer; `ring_bytes` is kept per program.
    pub fn new(ring_bytes: usize) -> LogHub {
        let _ = ring_bytes;
        LogHub {}
    }

    /// Relay one pipe of program `name` until EOF (spawns a tokio task on the
    /// current runtime). `output` is Console or File; the task ends at EOF.
    pub fn attach(
        &self,
        name: &str,
        stream: StreamKind,
        pipe: OwnedFd,
        output: &Output,
    ) -> tokio::task::JoinHandle<()> {
        let _ = (name, stream, pipe, output);
        tokio::spawn(async {})
    }

    /// The last `lines` lines (all kept when None) of a program, or None if unknown.
    pub fn tail(&self, name: &str, lines: Option<usize>) -> Option<Vec<u8>> {
        let _ = (name, lines);
        None
    }

    /// Live output of a program from now on, or None if unknown.
    pub fn follow(&self, name: &str) -> Option<broadcast::Receiver<Arc<[u8]>>> {
        let _ = name;
        None
    }

    /// Forget a program (removed by reload).
    pub fn remove(&self, name: &str) {
        let _ = name;
    }

    /// Reopen log files (SIGUSR1).
    pub fn reopen_files(&self) {}

    /// Wait until everything queued for the console has been written, at most `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        let _ = timeout;
    }
}

impl LogHub {
    /// Make a program known before it writes anything.
    pub fn register(&self, name: &str) {
        let _ = name;
    }
}
