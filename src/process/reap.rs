//! The one reaper: `waitpid(-1, WNOHANG)` drained to empty.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::ExitHow;

/// Collect every child that has ended, until none is left to collect.
///
/// Unknown pids are adopted orphans; the caller decides what they mean.
/// Stopped/continued children are not reported (no WUNTRACED).
pub fn reap_all() -> Vec<(i32, ExitHow)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => ended.push((pid.as_raw(), ExitHow::Code(code))),
            Ok(WaitStatus::Signaled(pid, signal, _core)) => {
                ended.push((pid.as_raw(), ExitHow::Signal(signal)))
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(err) => {
                tracing::warn!("waitpid failed: {err}");
                break;
            }
        }
    }
    ended
}

/// Whether any child (of ours) is still alive or unreaped.
pub fn has_children() -> bool {
    // P_ALL with WNOWAIT|WNOHANG would be exact; waitid via nix returns
    // ECHILD when there is none, StillAlive while some run.
    use nix::sys::wait::{waitid, Id};
    !matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
        ),
        Err(Errno::ECHILD)
    )
}
