//! Starting one program instance.
//!
//! `std::process::Command` does the fork/exec and reports exec errors back
//! through its CLOEXEC pipe; our `pre_exec` hook only makes plain syscalls
//! (no allocation, no locks), as required between fork and exec.
//!
//! The caller must reap in the same task that spawns: std waits for a child
//! whose exec failed, and a concurrent `waitpid(-1)` could steal that status.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::model::{Output, ProgramSpec, Rlimit};

/// A started process and the read ends of its output pipes.
#[derive(Debug)]
pub struct Spawned {
    /// Main pid (also its session and process group id).
    pub pid: i32,
    /// Read end of the stdout pipe, for Console and File outputs.
    pub stdout: Option<OwnedFd>,
    /// Read end of the stderr pipe, for Console and File outputs.
    pub stderr: Option<OwnedFd>,
}

/// Why a spawn failed; the text goes to status and the log.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The command could not be executed (not found, not executable, …).
    #[error("cannot run `{path}`: {source}")]
    Exec {
        /// argv[0] as configured.
        path: String,
        /// The OS error from exec (or from the child's setup).
        source: io::Error,
    },
    /// The working directory is unusable.
    #[error("working directory {path}: {source}")]
    Directory {
        /// The configured directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `null` output was asked for and /dev/null cannot be opened.
    #[error("cannot open /dev/null for a `null` output: {source}")]
    DevNull {
        /// The OS error.
        source: io::Error,
    },
    /// A pipe for the output could not be created (EMFILE…).
    #[error("cannot create output pipe: {0}")]
    Pipe(nix::Error),
}

/// Extra things the caller wants in the child.
#[derive(Debug, Default)]
pub struct SpawnExtras {
    /// Additional environment variables (NOTIFY_SOCKET, …).
    pub env: Vec<(String, String)>,
    /// A pipe's write end to place at this fd number in the child (s6-style
    /// readiness: the program writes a newline to it).
    pub ready_fd: Option<(OwnedFd, i32)>,
    /// svinit's own user name and home, for programs without `user`.
    pub own_identity: Option<(String, PathBuf)>,
}

/// What one output stream of the child is connected to.
enum Wiring {
    /// A pipe; we keep the read end.
    Pipe(OwnedFd, OwnedFd),
    /// Straight through to svinit's own stream.
    Inherit,
    /// /dev/null, opened.
    Null(Stdio),
}

fn wiring_for(output: &Output) -> Result<Wiring, SpawnError> {
    match output {
        Output::Console | Output::File { .. } => {
            let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
            Ok(Wiring::Pipe(read, write))
        }
        Output::Passthrough => Ok(Wiring::Inherit),
        Output::Null => Ok(Wiring::Null(discard()?)),
        // Only meaningful for stderr; handled by the caller.
        Output::Stdout => Ok(Wiring::Inherit),
    }
}

/// Start `spec` as a new session leader with its credentials, limits and
/// outputs. Returns the pid and the pipes to relay.
pub fn spawn(spec: &ProgramSpec, extras: &SpawnExtras) -> Result<Spawned, SpawnError> {
    let (program, args) = match spec.command.split_first() {
        Some(split) => split,
        None => {
            return Err(SpawnError::Exec {
                path: String::new(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })
        }
    };
    if let Err(source) = std::fs::metadata(&spec.directory).and_then(|meta| {
        if meta.is_dir() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::ENOTDIR))
        }
    }) {
        return Err(SpawnError::Directory {
            path: spec.directory.clone(),
            source,
        });
    }

    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(&spec.directory)
        .stdin(empty_input()?)
        .envs(&spec.environment)
        .envs(extras.env.iter().map(|(k, v)| (k, v)));

    let stdout = wiring_for(&spec.stdout)?;
    let stderr = if spec.stderr == Output::Stdout {
        // Merged: the same pipe (or the same inherited/null target) as stdout.
        match &stdout {
            Wiring::Pipe(_, write) => {
                let dup = write
                    .try_clone()
                    .map_err(|e| SpawnError::Pipe(errno_of(&e)))?;
                command.stderr(Stdio::from(dup));
                None
            }
            Wiring::Inherit => {
                let dup = io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| SpawnError::Pipe(errno_of(&e)))?;
                command.stderr(Stdio::from(dup));
                None
            }
            Wiring::Null(_) => {
                command.stderr(discard()?);
                None
            }
        }
    } else {
        Some(wiring_for(&spec.stderr)?)
    };
    let stdout_read = connect(&mut command, stdout, true);
    let stderr_read = stderr.and_then(|wiring| connect(&mut command, wiring, false));

    // HOME/USER/LOGNAME for the user it runs as (svinit's own by default),
    // unless the configuration sets them.
    let identity = spec
        .user
        .as_ref()
        .map(|user| (user.user_name.as_str(), user.home.as_path()))
        .or(extras
            .own_identity
            .as_ref()
            .map(|(name, home)| (name.as_str(), home.as_path())));
    if let Some((user_name, home)) = identity {
        let has = |key: &str| spec.environment.contains_key(key);
        if !has("HOME") {
            command.env("HOME", home);
        }
        for key in ["USER", "LOGNAME"] {
            if !has(key) {
                command.env(key, user_name);
            }
        }
    }

    // Everything the child needs is computed here, before fork.
    let limits: Vec<Rlimit> = spec.limits.clone();
    let umask = spec.umask;
    let credentials = spec
        .user
        .as_ref()
        .map(|user| (user.uid, user.gid, user.groups.clone()));
    // SAFETY: the hook only calls async-signal-safe libc functions on data
    // prepared before fork; it allocates nothing and takes no lock.
    let ready_fd = extras
        .ready_fd
        .as_ref()
        .map(|(fd, target)| (fd.as_raw_fd(), *target));
    unsafe {
        command.pre_exec(move || {
            if let Some((fd, target)) = ready_fd {
                place_fd(fd, target)?;
            }
            child_setup(&limits, umask, credentials.as_ref())
        });
    }

    let child = command.spawn().map_err(|source| SpawnError::Exec {
        path: program.clone(),
        source,
    })?;
    // `command` still holds the write ends of the pipes; drop it so that
    // EOF reaches the relay when the child (and its children) close theirs.
    drop(command);
    Ok(Spawned {
        pid: child.id() as i32,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// /dev/null for writing (opened here, so a missing /dev/null is named).
fn discard() -> Result<Stdio, SpawnError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map(Stdio::from)
        .map_err(|source| SpawnError::DevNull { source })
}

/// stdin: /dev/null, or an empty pipe when the root has no /dev/null (a
/// bare image), so that programs still start.
fn empty_input() -> Result<Stdio, SpawnError> {
    match std::fs::File::open("/dev/null") {
        Ok(file) => Ok(Stdio::from(file)),
        Err(_) => {
            let (read, _write) = pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
            Ok(Stdio::from(read))
        }
    }
}

/// Attach one stream to the command; returns the read end to keep.
fn connect(command: &mut Command, wiring: Wiring, is_stdout: bool) -> Option<OwnedFd> {
    let (stdio, keep) = match wiring {
        Wiring::Pipe(read, write) => (Stdio::from(write), Some(read)),
        Wiring::Inherit => (Stdio::inherit(), None),
        Wiring::Null(stdio) => (stdio, None),
    };
    if is_stdout {
        command.stdout(stdio);
    } else {
        command.stderr(stdio);
    }
    keep
}

fn errno_of(err: &io::Error) -> nix::Error {
    nix::Error::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}

/// Runs in the child between fork and exec: new session, default signal
/// dispositions and an empty mask, limits, umask, then drop privileges.
fn child_setup(
    limits: &[Rlimit],
    umask: Option<u32>,
    credentials: Option<&(u32, u32, Vec<u32>)>,
) -> io::Result<()> {
    let check = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain syscalls on valid arguments; see the caller.
    unsafe {
        // Own session, so own process group and no controlling terminal.
        check(libc::setsid())?;
    }
    reset_signals()?;
    // SAFETY: as above.
    unsafe {
        for limit in limits {
            let value = libc::rlimit {
                rlim_cur: limit.soft as libc::rlim_t,
                rlim_max: limit.hard as libc::rlim_t,
            };
            check(libc::setrlimit(limit.resource as _, &value))?;
        }
        if let Some(mask) = umask {
            libc::umask(mask as libc::mode_t);
        }
        if let Some((uid, gid, groups)) = credentials {
            check(libc::setgroups(groups.len(), groups.as_ptr()))?;
            check(libc::setgid(*gid))?;
            check(libc::setuid(*uid))?;
        }
    }
    Ok(())
}

/// Make `fd` available as `target` in the child, without close-on-exec.
fn place_fd(fd: i32, target: i32) -> io::Result<()> {
    // SAFETY: dup2/fcntl on descriptors we own; async-signal-safe.
    let result = unsafe {
        if fd == target {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, target)
        }
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Put every signal back to its default disposition and empty the mask.
///
/// svinit ignores TTIN/TTOU/TSTP and catches others; ignored dispositions
/// survive exec, so a child must reset them. Async-signal-safe: callable
/// between fork and exec.
pub(crate) fn reset_signals() -> io::Result<()> {
    // SAFETY: raw rt_sigaction/sigprocmask on valid arguments. The raw
    // syscall is used because glibc's wrappers refuse its two reserved
    // realtime signals (32, 33), which can still arrive ignored from our parent.
    unsafe {
        let default = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for signal in 1..=libc::SIGRTMAX() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    &default as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    std::mem::size_of::<u64>(),
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The kernel's `struct sigaction` (generic layout: x86_64, aarch64, riscv64).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}
