//! The end-to-end harness: svinit as PID 1 of a fresh pid namespace (or as a
//! plain child of the test), a config in a temp dir, svctl against its
//! socket, and waits that poll a condition with a hard timeout.
//!
//! Every test file includes this with `mod common;`; not every file uses
//! every helper.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub const SVINIT: &str = env!("CARGO_BIN_EXE_svinit");
pub const SVCTL: &str = env!("CARGO_BIN_EXE_svctl");

/// The default bound of every wait: generous for a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(10);

/// Poll `cond` every 15 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// How svinit runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `unshare --pid --fork --mount-proc --kill-child svinit …`: PID 1.
    Pid1,
    /// A plain child of the test (so it registers as child subreaper).
    Plain,
}

/// A running svinit with its own temp dir, config, socket and captured
/// output. Dropping it kills what it started.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub mode: Mode,
    pub config: PathBuf,
    pub socket: PathBuf,
    /// `unshare` in [`Mode::Pid1`], svinit itself in [`Mode::Plain`].
    child: Child,
    exit: Option<ExitStatus>,
    svinit_pid: std::cell::Cell<Option<i32>>,
    /// The unread end of a blocked stdout, kept open so writes block.
    _blocked: Option<std::os::fd::OwnedFd>,
}

/// `@DIR@` in config text stands for the daemon's temp dir.
pub fn expand(text: &str, dir: &Path) -> String {
    text.replace("@DIR@", dir.to_str().unwrap())
}

impl Daemon {
    /// Start svinit as PID 1 with these `[program.*]` tables and a 5 s
    /// shutdown_timeout; wait until it answers on its socket.
    pub fn start(programs: &str) -> Daemon {
        Daemon::start_with(Mode::Pid1, "shutdown_timeout = \"5s\"", programs)
    }

    /// Start svinit with extra `[supervisor]` lines (these must include
    /// `shutdown_timeout`) and program tables. `@DIR@` is the temp dir.
    pub fn start_with(mode: Mode, supervisor: &str, programs: &str) -> Daemon {
        Daemon::start_ignoring(mode, supervisor, programs, &[])
    }

    /// Like [`Daemon::start_with`], with these signals ignored when svinit
    /// (or unshare) is executed, as a careless parent might leave them.
    pub fn start_ignoring(mode: Mode, supervisor: &str, programs: &str, ignored: &[i32]) -> Daemon {
        Daemon::launch(mode, supervisor, programs, ignored, false)
    }

    /// svinit as PID 1 whose stdout is a pipe nobody reads (it fills up and
    /// blocks every write); stderr is still captured.
    pub fn start_with_blocked_stdout(programs: &str) -> Daemon {
        Daemon::launch(Mode::Pid1, "shutdown_timeout = \"5s\"", programs, &[], true)
    }

    fn launch(
        mode: Mode,
        supervisor: &str,
        programs: &str,
        ignored: &[i32],
        blocked_stdout: bool,
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("svinit.toml");
        let socket = dir.path().join("svinit.sock");
        let daemon_config = Daemon::config_text(dir.path(), supervisor, programs);
        fs::write(&config, daemon_config).unwrap();
        let (stdout, blocked) = if blocked_stdout {
            let (read, write) = nix::unistd::pipe().unwrap();
            (Stdio::from(write), Some(read))
        } else {
            let file = fs::File::create(dir.path().join("stdout.log")).unwrap();
            (Stdio::from(file), None)
        };
        let stderr = fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = match mode {
            Mode::Pid1 => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc", "--kill-child", SVINIT]);
                c
            }
            Mode::Plain => Command::new(SVINIT),
        };
        command
            .arg("--config")
            .arg(&config)
            .env_remove("SVINIT_SOCKET")
            .env_remove("SVINIT_CONFIG")
            // As in a container: Docker sets HOME but not USER/LOGNAME.
            .env_remove("USER")
            .env_remove("LOGNAME")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let ignored = ignored.to_vec();
        // SAFETY: plain syscalls only, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Whatever the test runner leaked stays out of svinit, so
                // descriptors a program sees can only come from svinit
                // (CLOSE_RANGE_CLOEXEC keeps std's exec-error pipe working).
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 4u32);
                for &signal in &ignored {
                    libc::signal(signal, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        let mut daemon = Daemon {
            dir,
            mode,
            config,
            socket,
            child,
            exit: None,
            svinit_pid: std::cell::Cell::new(None),
            _blocked: blocked,
        };
        let up = wait_until(WAIT, || {
            daemon.socket.exists() && daemon.svctl(&["pid"]).0 == 0 || daemon.exited()
        });
        assert!(
            up && !daemon.exited(),
            "svinit did not come up (exit {:?})\n{}",
            daemon.exit,
            daemon.logs()
        );
        daemon
    }

    pub fn config_text(dir: &Path, supervisor: &str, programs: &str) -> String {
        let socket = dir.join("svinit.sock");
        expand(
            &format!(
                "[supervisor]\nsocket = \"{}\"\n{supervisor}\n\n{programs}\n",
                socket.display()
            ),
            dir,
        )
    }

    /// Replace the config file (for reload tests); `@DIR@` is expanded.
    pub fn write_config(&self, supervisor: &str, programs: &str) {
        fs::write(
            &self.config,
            Daemon::config_text(self.dir.path(), supervisor, programs),
        )
        .unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Bytes waiting unread in a blocked stdout pipe (0 without one).
    pub fn blocked_stdout_bytes(&self) -> usize {
        use std::os::fd::AsRawFd;
        let Some(fd) = &self._blocked else { return 0 };
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Whether the launched child (unshare or svinit) has exited.
    pub fn exited(&mut self) -> bool {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().unwrap();
        }
        self.exit.is_some()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.path("stdout.log")).unwrap_or_default()).into()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.path("stderr.log")).unwrap_or_default()).into()
    }

    /// svinit's stderr (its own log), for failure messages.
    pub fn logs(&self) -> String {
        format!("--- svinit stderr ---\n{}---", self.stderr_text())
    }

    /// Wait for `cond`, panicking with `what` and svinit's log on timeout.
    pub fn wait(&self, what: &str, cond: impl FnMut() -> bool) {
        self.wait_for(WAIT, what, cond);
    }

    pub fn wait_for(&self, timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
        if !wait_until(timeout, cond) {
            panic!(
                "timed out after {timeout:?} waiting for: {what}\nstatus: {}\n{}",
                self.svctl(&["status"]).1,
                self.logs()
            );
        }
    }

    /// Run svctl against this daemon: (exit code, stdout, stderr).
    pub fn svctl(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(SVCTL)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .env_remove("SVINIT_SOCKET")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into(),
            String::from_utf8_lossy(&output.stderr).into(),
        )
    }

    /// `svctl status --json`: the programs array.
    pub fn status_json(&self) -> serde_json::Value {
        let (code, out, err) = self.svctl(&["status", "--json"]);
        assert!(
            code == 0 || code == 3,
            "svctl status --json exited {code}: {err}\n{}",
            self.logs()
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad status JSON {e}: {out}"))
    }

    /// One program's status object, if it exists.
    pub fn program(&self, name: &str) -> Option<serde_json::Value> {
        self.status_json()
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    }

    pub fn state_of(&self, name: &str) -> String {
        self.program(name)
            .map(|p| p["state"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    }

    /// A program's pid in svinit's namespace.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.program(name)
            .and_then(|p| p["pid"].as_i64())
            .map(|p| p as i32)
    }

    pub fn description_of(&self, name: &str) -> String {
        self.program(name)
            .map(|p| p["description"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    }

    /// Wait until `name` is in `state`.
    pub fn wait_state(&self, name: &str, state: &str) {
        self.wait(&format!("{name} to be {state}"), || {
            self.state_of(name) == state
        });
    }

    /// Wait until `name` is running and return its (namespace) pid.
    pub fn wait_running(&self, name: &str) -> i32 {
        self.wait_state(name, "running");
        self.pid_of(name).unwrap()
    }

    /// Wait until `name` runs again under a pid other than `old` (one
    /// status snapshot per check, so state and pid agree); the new pid.
    pub fn wait_restarted(&self, name: &str, old: i32) -> i32 {
        let mut new = None;
        self.wait(
            &format!("{name} to run again with a pid other than {old}"),
            || {
                new = self.program(name).and_then(|p| {
                    let pid = p["pid"].as_i64()? as i32;
                    (p["state"] == "running" && pid != old).then_some(pid)
                });
                new.is_some()
            },
        );
        new.unwrap()
    }

    /// svinit's pid as the host sees it.
    pub fn svinit_host_pid(&self) -> i32 {
        if let Some(pid) = self.svinit_pid.get() {
            return pid;
        }
        let pid = match self.mode {
            Mode::Plain => self.child.id() as i32,
            Mode::Pid1 => {
                let unshare = self.child.id() as i32;
                let mut found = None;
                wait_until(WAIT, || {
                    found = children(unshare).into_iter().next();
                    found.is_some()
                });
                found.unwrap_or_else(|| panic!("unshare has no child\n{}", self.logs()))
            }
        };
        self.svinit_pid.set(Some(pid));
        pid
    }

    /// Every process below svinit (host pids).
    pub fn descendants(&self) -> Vec<i32> {
        descendants(self.svinit_host_pid())
    }

    /// The host pid of a process that svinit's namespace calls `ns_pid`.
    pub fn host_pid(&self, ns_pid: i32) -> Option<i32> {
        if self.mode == Mode::Plain {
            return Some(ns_pid);
        }
        self.descendants()
            .into_iter()
            .find(|&host| ns_pid_of(host) == Some(ns_pid))
    }

    /// Send `signal` to svinit.
    pub fn signal(&self, signal: Signal) {
        let pid = self.svinit_host_pid();
        kill(Pid::from_raw(pid), signal).unwrap();
    }

    /// Wait (bounded by `timeout`) for the launched child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until(timeout, || self.exited());
        self.exit
    }

    /// Send `signal` to svinit and wait for it to exit; its exit code
    /// (128+N when killed by signal N).
    pub fn stop(&mut self, signal: Signal) -> i32 {
        self.signal(signal);
        self.wait_exit_code(WAIT)
    }

    /// Wait for svinit to exit and return its code, panicking on timeout.
    pub fn wait_exit_code(&mut self, timeout: Duration) -> i32 {
        match self.wait_exit(timeout) {
            Some(status) => code_of(status),
            None => panic!("svinit did not exit within {timeout:?}\n{}", self.logs()),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited() {
            return;
        }
        match self.mode {
            // unshare's --kill-child takes svinit, and with PID 1 the whole
            // namespace, along.
            Mode::Pid1 => {
                let _ = self.child.kill();
            }
            // A plain svinit leaves its programs (own sessions) behind if
            // killed: remember them, kill svinit, then them.
            Mode::Plain => {
                let below = descendants(self.child.id() as i32);
                let _ = self.child.kill();
                let _ = self.child.wait();
                for pid in below {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        let _ = self.child.wait();
    }
}

/// Exit code of a status: the code, or 128+signal.
pub fn code_of(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap()
}

/// Children of a host pid, from every thread's `children` file.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = BTreeSet::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    for task in tasks.flatten() {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out.into_iter().collect()
}

/// Every process below a host pid (not including it).
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = children(pid);
    while let Some(p) = todo.pop() {
        out.push(p);
        todo.extend(children(p));
    }
    out
}

/// A `/proc/PID/status` field's value.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// The innermost namespace pid of a host pid (last NSpid field).
pub fn ns_pid_of(host: i32) -> Option<i32> {
    status_field(host, "NSpid")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Whether a host pid is a zombie.
pub fn is_zombie(pid: i32) -> bool {
    status_field(pid, "State").is_some_and(|s| s.starts_with('Z'))
}

/// The fields after `(comm)` in /proc/PID/stat: state, ppid, pgrp, session…
pub fn stat_fields(stat: &str) -> Vec<String> {
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().map(str::to_owned).collect()
}

/// Run svinit (not as a daemon) with args; (code, stdout, stderr).
pub fn run_svinit(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(SVINIT)
        .args(args)
        .env_remove("SVINIT_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        code_of(output.status),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

/// Read a file's text, empty when it does not exist (yet).
pub fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap_or_default()
}
