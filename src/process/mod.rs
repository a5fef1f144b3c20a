//! The only room that forks, execs, waits and kills.
//!
//! - [`spawn`]: start one program instance with its credentials, limits,
//!   session and output pipes.
//! - [`reap`]: collect every exited child, adopted orphans included.
//! - [`pid1`]: the chores of an init: subreaper, signal dispositions, the
//!   final sweep of leftovers.

pub mod pid1;
pub mod reap;
pub mod spawn;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::model::signal_name;

pub use reap::reap_all;
pub use spawn::{spawn, SpawnError, Spawned};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitHow {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(Signal),
}

impl ExitHow {
    /// The shell's view: the code, or 128 + signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitHow::Code(code) => code,
            ExitHow::Signal(signal) => 128 + signal as i32,
        }
    }

    /// Human text: `exit 3` or `killed by KILL`.
    pub fn describe(self) -> String {
        match self {
            ExitHow::Code(code) => format!("exit {code}"),
            ExitHow::Signal(signal) => format!("killed by {}", signal_name(signal)),
        }
    }
}

/// Send `signal` to a process, or to its whole process group when `group`.
/// A process that is already gone is not an error.
pub fn send_signal(pid: i32, signal: Signal, group: bool) -> nix::Result<()> {
    let target = if group {
        Pid::from_raw(-pid)
    } else {
        Pid::from_raw(pid)
    };
    match kill(target, signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        // The group may be gone while the leader is a zombie: try the leader.
        Err(err) if group => match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(_) => Err(err),
        },
        Err(err) => Err(err),
    }
}
