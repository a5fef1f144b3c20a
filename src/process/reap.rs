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
    // waitid(P_ALL, WNOWAIT|WNOHANG) leaves any exited child unreaped and
    // fails with ECHILD only when no child exists at all.
    use nix::sys::wait::{waitid, Id};
    !matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
        ),
        Err(Errno::ECHILD)
    )
}

/// Child exits as a readable fd: SIGCHLD is blocked and read from a
/// signalfd, so an exit costs one read instead of a signal handler, a
/// self-pipe write and its read (this is what keeps orphan storms cheap).
pub struct ChildExits {
    /// The signalfd, registered with the runtime.
    fd: tokio::io::unix::AsyncFd<nix::sys::signalfd::SignalFd>,
}

impl ChildExits {
    /// Open the signalfd. SIGCHLD must already be blocked in every thread
    /// ([`block_child_signal`] before any thread starts).
    pub fn new() -> std::io::Result<ChildExits> {
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let mut mask = nix::sys::signal::SigSet::empty();
        mask.add(nix::sys::signal::Signal::SIGCHLD);
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        // SAFETY: the SignalFd owns its descriptor and always returns the
        // same one; it lives exactly as long as the AsyncFd that owns it.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        }?;
        Ok(ChildExits { fd })
    }

    /// Wait until a SIGCHLD arrived since the last call, and consume it (the
    /// caller then drains every exited child with [`reap_all`]).
    pub async fn changed(&self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                // The runtime is shutting down; nothing more will come.
                return std::future::pending().await;
            };
            match guard.get_inner().read_signal() {
                // SIGCHLD is a standard signal: at most one is pending, so one
                // read empties the signalfd (a later one re-arms readiness),
                // which saves a read that would only say EAGAIN.
                Ok(Some(_)) => {
                    guard.clear_ready();
                    return;
                }
                Ok(None) => guard.clear_ready(),
                Err(Errno::EINTR) => continue,
                Err(err) => {
                    tracing::warn!("reading SIGCHLD from the signalfd failed: {err}");
                    guard.clear_ready();
                    return;
                }
            }
        }
    }
}

/// Block SIGCHLD in the calling thread (and so in every thread it starts
/// later), for [`ChildExits`]. Children get an empty mask back at spawn.
pub fn block_child_signal() -> nix::Result<()> {
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(nix::sys::signal::Signal::SIGCHLD);
    mask.thread_block()
}
