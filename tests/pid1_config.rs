//! The configuration end to end: `svinit --check`, refusing a bad config,
//! and `svctl reload` applying a difference (or refusing an invalid one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{run_svinit, Daemon};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const BAD: &str = r#"[supervisor]
socket = "/nonexistent/svinit.sock"

[program.a]
command = "sleep 1"
stop_sginal = "TERM"
depends_on = ["b"]

[program.b]
command = "sleep 1"
depends_on = ["a", "nothere"]
"#;

#[test]
fn check_reports_every_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.toml", BAD);
    let (code, out, err) = run_svinit(&["--check", "--config", &bad]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    let all = format!("{out}{err}");
    let line_with = |needle: &str| {
        all.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{all}"))
            .to_owned()
    };
    let typo = line_with("stop_sginal");
    assert!(typo.contains(&format!("{bad}:6:")), "{typo}");
    assert!(
        typo.contains("did you mean") && typo.contains("stop_signal"),
        "{typo}"
    );
    let unknown = line_with("nothere");
    assert!(unknown.contains(&format!("{bad}:11:")), "{unknown}");
    let cycle = line_with("cycle");
    assert!(
        cycle.contains("a -> b -> a") || cycle.contains("b -> a -> b"),
        "{cycle}"
    );
    assert!(cycle.contains(&format!("{bad}:")), "{cycle}");
}

#[test]
fn check_of_a_good_config_lists_the_programs() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.toml",
        r#"
[program.web]
command = "sleep 1000"

[program.w]
command = "sleep {instance}"
instances = 2
"#,
    );
    let (code, out, err) = run_svinit(&["--check", "--config", &good]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    for name in ["web", "w:0", "w:1"] {
        assert!(out.contains(name), "{name} missing in:\n{out}");
    }
    assert!(out.contains("sleep 1"), "{{instance}} substituted:\n{out}");
}

#[test]
fn bad_config_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.toml", BAD);
    let (code, _, err) = run_svinit(&["--config", &bad]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stop_sginal"), "{err}");
}

const BEFORE: &str = r#"
[program.keep]
command = "sleep 1000"
start_secs = "100ms"

[program.change]
command = "sleep 1000"
start_secs = "100ms"

[program.remove]
command = "sleep 1000"
start_secs = "100ms"
"#;

const AFTER: &str = r#"
[program.keep]
command = "sleep 1000"
start_secs = "100ms"

[program.change]
command = "sleep 2000"
start_secs = "100ms"

[program.add]
command = "sleep 1000"
start_secs = "100ms"
"#;

const SUPERVISOR: &str = r#"shutdown_timeout = "5s""#;

#[test]
fn reload_applies_the_difference() {
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, BEFORE);
    let keep = daemon.wait_running("keep");
    let change = daemon.wait_running("change");
    daemon.wait_running("remove");
    daemon.write_config(SUPERVISOR, AFTER);
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 0, "svctl reload: {out}{err}\n{}", daemon.logs());
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["added: add", "changed: change", "removed: remove"],
        "svctl reload output:\n{out}"
    );

    let new = daemon.wait_running("add");
    assert!(new > 0);
    daemon.wait_restarted("change", change);
    daemon.wait("remove to disappear from status", || {
        daemon.program("remove").is_none()
    });
    assert_eq!(daemon.pid_of("keep"), Some(keep), "unchanged keeps its pid");
    let host = daemon.host_pid(daemon.pid_of("change").unwrap()).unwrap();
    assert_eq!(
        common::read(format!("/proc/{host}/cmdline")),
        "sleep\u{0}2000\u{0}"
    );
    assert_eq!(daemon.svctl(&["status"]).0, 0);
}

#[test]
fn invalid_reload_changes_nothing() {
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, BEFORE);
    for name in ["keep", "change", "remove"] {
        daemon.wait_running(name);
    }
    let before = daemon.status_json();
    daemon.write_config(
        SUPERVISOR,
        &format!("{AFTER}\n[program.broken]\ncommand = \"sleep 1\"\nstop_sginal = 3\n"),
    );
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 1, "svctl reload of a bad config: {out}{err}");
    let config = daemon.config.to_str().unwrap().to_owned();
    assert!(err.contains(&format!("{config}:")), "file:line in {err:?}");
    assert!(err.contains("stop_sginal"), "{err}");
    let pids = |status: &serde_json::Value| -> Vec<(String, i64)> {
        status
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["pid"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    assert_eq!(pids(&daemon.status_json()), pids(&before));
    assert!(daemon.program("add").is_none());
}

#[test]
fn sighup_reloads() {
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, BEFORE);
    let keep = daemon.wait_running("keep");
    daemon.write_config(SUPERVISOR, AFTER);
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    daemon.wait_running("add");
    daemon.wait("remove to disappear from status", || {
        daemon.program("remove").is_none()
    });
    assert_eq!(daemon.pid_of("keep"), Some(keep));
}

#[test]
fn reload_of_instances_touches_only_the_changed_ones() {
    let three = r#"
[program.w]
command = "sleep 1000"
instances = 3
start_secs = "100ms"
"#;
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, three);
    let w0 = daemon.wait_running("w:0");
    let w1 = daemon.wait_running("w:1");
    daemon.wait_running("w:2");
    daemon.write_config(SUPERVISOR, &three.replace("instances = 3", "instances = 2"));
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("removed: w:2"), "{out}");
    assert!(!out.contains("changed"), "{out}");
    daemon.wait("w:2 to disappear", || daemon.program("w:2").is_none());
    assert_eq!(daemon.pid_of("w:0"), Some(w0));
    assert_eq!(daemon.pid_of("w:1"), Some(w1));
}

#[test]
fn reload_growing_instances_adds_only_the_new_one() {
    let two = r#"
[program.w]
command = "sleep 1000"
instances = 2
start_secs = "100ms"
"#;
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, two);
    let w0 = daemon.wait_running("w:0");
    let w1 = daemon.wait_running("w:1");
    daemon.write_config(SUPERVISOR, &two.replace("instances = 2", "instances = 3"));
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "added: w:2", "{out}");
    daemon.wait_running("w:2");
    assert_eq!(daemon.pid_of("w:0"), Some(w0));
    assert_eq!(daemon.pid_of("w:1"), Some(w1));
}

#[test]
fn reload_of_a_program_in_backoff_applies_the_fix() {
    let broken = r#"
[program.app]
command = ["sh", "-c", "exit 1"]
backoff = "20s"
start_secs = "100ms"
"#;
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, broken);
    daemon.wait_state("app", "backoff");
    daemon.write_config(SUPERVISOR, &broken.replace("exit 1", "exec sleep 1000"));
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "changed: app", "{out}");
    // Without waiting out the 20 s backoff of the old settings.
    daemon.wait_running("app");
}

#[test]
fn reload_with_no_difference_says_so_and_touches_nothing() {
    let daemon = Daemon::start_with(common::Mode::Pid1, SUPERVISOR, BEFORE);
    let keep = daemon.wait_running("keep");
    let (code, out, err) = daemon.svctl(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains("added") && !out.contains("changed") && !out.contains("removed"),
        "{out}"
    );
    assert_eq!(daemon.pid_of("keep"), Some(keep));
}
