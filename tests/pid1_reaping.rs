//! Reaping: an orphan storm under svinit as PID 1, and orphans reaped by
//! svinit as child subreaper when it is not PID 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{is_zombie, read, status_field, Daemon, Mode};

/// Zombies among svinit's descendants (host pids).
fn zombies(daemon: &Daemon) -> Vec<i32> {
    daemon
        .descendants()
        .into_iter()
        .filter(|&p| is_zombie(p))
        .collect()
}

#[test]
fn orphan_storm_leaves_no_zombie() {
    // 2,000 grandchildren orphaned at once (the subshell exits right after
    // forking), each exiting within 80 ms; then the program execs a sleep.
    let daemon = Daemon::start(
        r#"
[program.storm]
command = ["sh", "-c", "for i in $(seq 2000); do (sleep 0.0$((i % 9)) &); done; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    let storm = daemon.wait_running("storm");
    // The loop is over once the program's own process is the sleep.
    let host = daemon.host_pid(storm).unwrap();
    daemon.wait("the storm's loop to end", || {
        read(format!("/proc/{host}/cmdline")).starts_with("sleep\0")
    });
    let mut last = Vec::new();
    let settled = common::wait_until(Duration::from_secs(20), || {
        last = daemon.descendants();
        last == [host]
    });
    let zombies_left = zombies(&daemon);
    assert!(
        settled,
        "orphans left below svinit: {} ({} zombies)\n{}",
        last.len(),
        zombies_left.len(),
        daemon.logs()
    );
    assert!(zombies_left.is_empty());
    // Supervision went on: the program was never restarted, svctl answers.
    let p = daemon.program("storm").unwrap();
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(p["pid"], storm, "{p}");
    assert_eq!(daemon.svctl(&["status"]).0, 0);
    // Adopted orphans are normal: nothing to warn about.
    let log = daemon.stderr_text();
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "orphans made svinit complain:\n{log}"
    );
}

#[test]
fn orphans_of_an_exited_program_are_reaped() {
    // The program leaves orphans that outlive it; its exit and theirs are
    // both reaped, and the program is restarted only for its own exit.
    let daemon = Daemon::start(
        r#"
[program.leaver]
command = ["sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.3 &); done; echo run >> @DIR@/runs; sleep 0.2"]
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait_state("leaver", "exited");
    daemon.wait("every orphan to be gone", || {
        daemon.descendants().is_empty()
    });
    assert_eq!(read(daemon.path("runs")), "run\n");
}

#[test]
fn not_pid1_registers_as_subreaper_and_reaps_orphans() {
    // The orphan writes its pid, then waits for `go` so the test can see
    // who adopted it before it exits.
    let daemon = Daemon::start_with(
        Mode::Plain,
        r#"shutdown_timeout = "5s""#,
        r#"
[program.parent]
command = ["sh", "-c", "(sh -c 'echo $$ > @DIR@/orphan.pid; while [ ! -e @DIR@/go ]; do sleep 0.02; done' &); exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    let svinit = daemon.svinit_host_pid();
    assert_ne!(svinit, 1);
    daemon.wait_running("parent");
    daemon.wait("svinit to say it is a subreaper", || {
        daemon.stderr_text().contains("subreaper")
    });
    assert_eq!(
        daemon.stderr_text().matches("subreaper").count(),
        1,
        "said once\n{}",
        daemon.logs()
    );
    let pid_file = daemon.path("orphan.pid");
    daemon.wait("the orphan to write its pid", || {
        read(&pid_file).ends_with('\n')
    });
    let orphan: i32 = read(&pid_file).trim().parse().unwrap();
    daemon.wait("svinit to adopt the orphan", || {
        status_field(orphan, "PPid") == Some(svinit.to_string())
    });
    std::fs::write(daemon.path("go"), "").unwrap();
    daemon.wait("the orphan to be reaped (gone from /proc)", || {
        !Path::new(&format!("/proc/{orphan}")).exists()
    });
    assert!(
        !daemon
            .descendants()
            .into_iter()
            .any(|p| status_field(p, "PPid") == Some(svinit.to_string()) && is_zombie(p)),
        "a zombie child of svinit is left"
    );
    assert_eq!(daemon.state_of("parent"), "running");
}

#[test]
fn not_pid1_ignores_job_control_and_unforwarded_signals() {
    use nix::sys::signal::Signal;
    // As a plain process, default dispositions would stop or kill svinit.
    let daemon = Daemon::start_with(
        Mode::Plain,
        r#"shutdown_timeout = "5s""#,
        r#"
[program.p]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    let pid = daemon.wait_running("p");
    let svinit = daemon.svinit_host_pid();
    for signal in [
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGUSR2,
        Signal::SIGALRM,
        Signal::SIGPIPE,
        Signal::SIGWINCH,
    ] {
        daemon.signal(signal);
        let (code, _, err) = daemon.svctl(&["status"]);
        assert_eq!(code, 0, "after {signal}: {err}\n{}", daemon.logs());
        let state = status_field(svinit, "State").unwrap_or_default();
        assert!(!state.starts_with('T'), "stopped by {signal}: {state}");
    }
    assert_eq!(daemon.pid_of("p"), Some(pid), "nothing restarted");
}

#[test]
fn exec_health_probes_survive_an_orphan_storm() {
    // Probe children and 2,000 orphans exit side by side; each probe's exit
    // must reach its probe (no false failure), none may stay a zombie.
    let daemon = Daemon::start(
        r#"
[program.storm]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; for i in $(seq 2000); do (true &); done; touch @DIR@/done; exec sleep 1000"]
start_secs = "100ms"
health = { exec = "true", interval = "20ms", retries = 1, timeout = "5s" }

[program.bystander]
command = "sleep 1000"
start_secs = "100ms"
health = { exec = "true", interval = "20ms", retries = 1, timeout = "5s" }
"#,
    );
    let storm = daemon.wait_running("storm");
    let bystander = daemon.wait_running("bystander");
    std::fs::write(daemon.path("go"), "").unwrap();
    daemon.wait("the storm to end", || daemon.path("done").exists());
    let host = daemon.host_pid(storm).unwrap();
    let bystander_host = daemon.host_pid(bystander).unwrap();
    daemon.wait("only the programs (and probes) left, no zombie", || {
        daemon.descendants().into_iter().all(|p| {
            !is_zombie(p)
                && (p == host
                    || p == bystander_host
                    || read(format!("/proc/{p}/comm")).trim() == "true")
        })
    });
    for (name, pid) in [("storm", storm), ("bystander", bystander)] {
        let p = daemon.program(name).unwrap();
        assert_eq!(p["pid"], pid, "{p}\n{}", daemon.logs());
        assert_eq!(p["restarts"], 0, "{p}\n{}", daemon.logs());
    }
}
