//! The chores of an init process.

use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{kill, signal, SigHandler, Signal};
use nix::unistd::{getpid, Pid};

use super::send_signal;
use crate::inspect::parse::parse_stat;

/// Whether svinit is PID 1 of its pid namespace.
pub fn is_pid1() -> bool {
    getpid().as_raw() == 1
}

/// Prepare the process for supervision: run in `/` so no mount is pinned,
/// ignore terminal job-control signals, and when not PID 1 become the child
/// subreaper so orphans still come to us.
pub fn prepare() {
    if let Err(err) = std::env::set_current_dir("/") {
        tracing::warn!("cannot chdir to /: {err}");
    }
    for ignored in [Signal::SIGTTIN, Signal::SIGTTOU, Signal::SIGTSTP] {
        // SAFETY: SIG_IGN installs no handler code.
        if let Err(err) = unsafe { signal(ignored, SigHandler::SigIgn) } {
            tracing::warn!("cannot ignore {ignored}: {err}");
        }
    }
    if !is_pid1() {
        become_subreaper();
    }
}

/// Register as child subreaper (PR_SET_CHILD_SUBREAPER), saying so once.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    let result = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if result == 0 {
        tracing::info!(
            "not running as PID 1 (pid {}): registered as child subreaper, orphans will be reaped here",
            getpid()
        );
    } else {
        tracing::warn!(
            "not PID 1 and cannot become child subreaper: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Signal every process that is left: as PID 1 that is everything in the
/// namespace (`kill(-1)` spares ourselves); otherwise only our own children
/// (adopted orphans included), found in `/proc`.
pub fn signal_leftovers(sig: Signal) {
    if is_pid1() {
        match kill(Pid::from_raw(-1), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(err) => tracing::warn!("cannot send {sig} to leftovers: {err}"),
        }
        return;
    }
    for pid in children_of(getpid().as_raw(), Path::new("/proc")) {
        let _ = send_signal(pid, sig, false);
    }
}

/// Pids whose parent is `parent`, from `/proc/*/stat` (the inspector's parser).
fn children_of(parent: i32, proc_root: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(proc_root.join(pid.to_string()).join("stat"))
                .ok()
                .and_then(|stat| parse_stat(&stat))
                .is_some_and(|stat| stat.ppid == parent)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_found_under_proc() {
        let me = std::process::id() as i32;
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap_or_else(|err| panic!("cannot spawn sleep: {err}"));
        let found = children_of(me, Path::new("/proc"));
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&(child.id() as i32)), "{found:?}");
        assert!(children_of(me, Path::new("/nonexistent")).is_empty());
    }
}
