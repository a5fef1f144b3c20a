//! Single-program mode, `svinit -- CMD ARGS`: tini's job.
//!
//! Run one command, forward every signal to it, reap every zombie, and exit
//! with the command's exit code (128+signal if it was killed, 127 if it was
//! not found, 126 if it could not be executed).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use futures_util::StreamExt;
use nix::sys::signal::Signal;
use signal_hook_tokio::Signals;

use crate::process::reap::{block_child_signal, ChildExits};
use crate::process::{self, pid1, spawn::reset_signals};

/// Signals never caught or forwarded: SIGCHLD is ours, fault signals stay
/// fatal to svinit, KILL/STOP cannot be caught, and the terminal job-control
/// signals are ignored as by an init.
const NOT_FORWARDED: &[i32] = &[
    libc::SIGCHLD,
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGTSTP,
];

/// The exit code for a command that could not be started (shell rules).
pub fn spawn_error_code(errno: Option<i32>) -> i32 {
    match errno {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => 127,
        Some(libc::EACCES) | Some(libc::ENOEXEC) | Some(libc::EISDIR) | Some(libc::EPERM) => 126,
        _ => 1,
    }
}

/// Run `argv` as the only child; returns svinit's exit code.
pub fn run(argv: Vec<OsString>) -> i32 {
    let Some((program, args)) = argv.split_first() else {
        eprintln!("svinit: -- needs a command to run");
        return 2;
    };
    pid1::prepare();
    if let Err(err) = block_child_signal() {
        eprintln!("svinit: cannot block SIGCHLD: {err}");
        return 1;
    }
    let runtime = match crate::daemon::new_runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("svinit: cannot start the runtime: {err}");
            return 1;
        }
    };
    runtime.block_on(async {
        let forwarded: Vec<i32> = (1..=libc::SIGRTMAX())
            .filter(|s| !NOT_FORWARDED.contains(s) && !(32..libc::SIGRTMIN()).contains(s))
            .collect();
        let mut signals = match Signals::new(&forwarded) {
            Ok(signals) => signals,
            Err(err) => {
                eprintln!("svinit: cannot handle signals: {err}");
                return 1;
            }
        };
        let child_exits = match ChildExits::new() {
            Ok(child_exits) => child_exits,
            Err(err) => {
                eprintln!("svinit: cannot watch child exits (signalfd): {err}");
                return 1;
            }
        };
        let mut command = Command::new(program);
        command.args(args);
        // SAFETY: reset_signals only makes async-signal-safe calls.
        unsafe {
            command.pre_exec(reset_signals);
        }
        let child = match command.spawn() {
            Ok(child) => child.id() as i32,
            Err(err) => {
                eprintln!("svinit: cannot run `{}`: {err}", program.to_string_lossy());
                return spawn_error_code(err.raw_os_error());
            }
        };
        drop(command);
        loop {
            for (pid, how) in process::reap_all() {
                if pid == child {
                    return how.shell_code();
                }
            }
            let signal = tokio::select! {
                () = child_exits.changed() => continue,
                signal = signals.next() => match signal {
                    Some(signal) => signal,
                    None => return 1,
                },
            };
            if let Ok(sig) = Signal::try_from(signal) {
                let _ = process::send_signal(child, sig, false);
            } else {
                // Realtime signals have no nix name; forward by number.
                // SAFETY: kill with plain integers.
                unsafe { libc::kill(child, signal) };
            }
        }
    })
}
