//! Single-program mode, `svinit -- CMD`: exit codes by shell rules and
//! signal forwarding, as a plain child and as PID 1 of a namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{children, code_of, descendants, run_svinit, wait_until, SVINIT, WAIT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// `svinit -- CMD` running in the background; killed (with what it
/// started) when dropped.
struct Single {
    child: Child,
    pid1: bool,
    dir: tempfile::TempDir,
}

impl Single {
    fn spawn(pid1: bool, script: &str) -> Single {
        let dir = tempfile::tempdir().unwrap();
        let script = common::expand(script, dir.path());
        let mut command = if pid1 {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", SVINIT]);
            c
        } else {
            Command::new(SVINIT)
        };
        command
            .args(["--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Single {
            child: command.spawn().unwrap(),
            pid1,
            dir,
        }
    }

    fn svinit_pid(&self) -> i32 {
        let pid = self.child.id() as i32;
        if !self.pid1 {
            return pid;
        }
        let mut found = None;
        assert!(wait_until(WAIT, || {
            found = children(pid).first().copied();
            found.is_some()
        }));
        found.unwrap()
    }

    fn wait_file(&self, name: &str) {
        let path = self.dir.path().join(name);
        assert!(
            wait_until(WAIT, || path.exists()),
            "{} never appeared",
            path.display()
        );
    }

    fn wait_code(&mut self) -> i32 {
        let mut status = None;
        wait_until(WAIT, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        code_of(status.expect("svinit -- CMD did not exit"))
    }
}

impl Drop for Single {
    fn drop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            let below = descendants(self.child.id() as i32);
            let _ = self.child.kill();
            let _ = self.child.wait();
            for pid in below {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

fn unshared(args: &[&str]) -> i32 {
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", SVINIT])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    code_of(status)
}

#[test]
fn exit_code_is_the_commands() {
    assert_eq!(run_svinit(&["--", "sh", "-c", "exit 7"]).0, 7);
    assert_eq!(run_svinit(&["--", "true"]).0, 0);
    assert_eq!(unshared(&["--", "sh", "-c", "exit 7"]), 7);
}

#[test]
fn missing_command_is_127() {
    let (code, _, err) = run_svinit(&["--", "/nonexistent/command"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("/nonexistent/command"), "{err}");
    assert_eq!(run_svinit(&["--", "no-such-command-svinit-test"]).0, 127);
    assert_eq!(unshared(&["--", "/nonexistent/command"]), 127);
}

#[test]
fn non_executable_file_is_126() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run_svinit(&["--", file.to_str().unwrap()]);
    assert_eq!(code, 126, "{err}");
    assert_eq!(unshared(&["--", file.to_str().unwrap()]), 126);
}

#[test]
fn killed_child_is_128_plus_signal() {
    assert_eq!(run_svinit(&["--", "sh", "-c", "kill -9 $$"]).0, 128 + 9);
    assert_eq!(unshared(&["--", "sh", "-c", "kill -9 $$"]), 128 + 9);
}

fn forwards_usr1(pid1: bool) {
    let mut single = Single::spawn(
        pid1,
        r#"trap "exit 42" USR1; touch @DIR@/ready; while :; do sleep 0.05; done"#,
    );
    single.wait_file("ready");
    kill(Pid::from_raw(single.svinit_pid()), Signal::SIGUSR1).unwrap();
    assert_eq!(single.wait_code(), 42);
}

#[test]
fn signals_are_forwarded_to_the_child() {
    forwards_usr1(false);
}

#[test]
fn signals_are_forwarded_to_the_child_as_pid1() {
    forwards_usr1(true);
}

#[test]
fn sigterm_is_forwarded_and_its_code_returned() {
    let mut single = Single::spawn(
        true,
        r#"trap "echo got-term > @DIR@/term; exit 5" TERM; touch @DIR@/ready; while :; do sleep 0.05; done"#,
    );
    single.wait_file("ready");
    kill(Pid::from_raw(single.svinit_pid()), Signal::SIGTERM).unwrap();
    assert_eq!(single.wait_code(), 5);
    let term = std::fs::read_to_string(single.dir.path().join("term")).unwrap();
    assert_eq!(term, "got-term\n");
}

#[test]
fn orphans_are_reaped_in_single_mode() {
    // As PID 1: the child orphans sleepers and keeps running; svinit must
    // leave no zombie behind.
    let single = Single::spawn(
        true,
        r#"for i in $(seq 200); do (sleep 0.0$((i % 5)) &); done; touch @DIR@/ready; exec sleep 1000"#,
    );
    single.wait_file("ready");
    let svinit = single.svinit_pid();
    let mut left = Vec::new();
    let clean = wait_until(Duration::from_secs(10), || {
        left = descendants(svinit);
        left.len() == 1
    });
    assert!(clean, "left below svinit: {left:?}");
    assert!(Path::new(&format!("/proc/{}", left[0])).exists());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run_svinit(&["--no-such-flag"]).0, 2);
}
