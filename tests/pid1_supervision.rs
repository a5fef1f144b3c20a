//! Supervision end to end, svinit as PID 1: restarts, backoff to fatal,
//! restart policies, oneshots and dependencies, instances, spawn failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{read, Daemon};

/// Lines in a file (each spawn of a counting program appends one).
fn runs(daemon: &Daemon, file: &str) -> usize {
    read(daemon.path(file)).lines().count()
}

#[test]
fn killed_program_restarts_with_a_new_pid() {
    let daemon = Daemon::start(
        r#"
[program.prog]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    let old = daemon.wait_running("prog");
    let (code, _, err) = daemon.svctl(&["signal", "KILL", "prog"]);
    assert_eq!(code, 0, "svctl signal: {err}");
    daemon.wait("prog to run again with a new pid", || {
        let p = daemon.program("prog").unwrap();
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|pid| pid != i64::from(old))
    });
    let p = daemon.program("prog").unwrap();
    assert_eq!(p["restarts"], 1, "{p}");
    assert_eq!(daemon.svctl(&["status"]).0, 0);
}

#[test]
fn failing_starts_back_off_to_fatal() {
    let daemon = Daemon::start(
        r#"
[program.bad]
command = ["sh", "-c", "echo run >> @DIR@/runs; exit 3"]
start_retries = 2
backoff = "100ms"
"#,
    );
    daemon.wait_state("bad", "fatal");
    let p = daemon.program("bad").unwrap();
    let description = p["description"].as_str().unwrap();
    assert!(description.contains("exit 3"), "description: {p}");
    assert_eq!(p["exit_code"], 3, "{p}");
    assert_eq!(p["healthy"], false, "{p}");
    // 1 start + start_retries retries, and no more.
    assert_eq!(runs(&daemon, "runs"), 3, "{}", daemon.logs());
    let (code, out, _) = daemon.svctl(&["status"]);
    assert_eq!(code, 3, "status of a fatal program: {out}");
    assert!(out.contains("fatal"), "{out}");
}

/// `on-failure` and exit 0: exited for good. "For good" is proven by an
/// `always` program in the same daemon restarting several times meanwhile.
#[test]
fn on_failure_with_success_stays_exited() {
    let daemon = Daemon::start(&format!(
        r#"
[program.ok]
command = ["sh", "-c", "echo run >> @DIR@/ok.runs; sleep 0.2; exit 0"]
restart = "on-failure"
start_secs = "100ms"
{CLOCK}"#
    ));
    assert_exited_for_good(&daemon, "ok", 0);
}

/// An `always` program that runs 0.2 s at a time, to prove time has passed.
const CLOCK: &str = r#"
[program.clock]
command = ["sh", "-c", "echo run >> @DIR@/clock.runs; sleep 0.2; exit 0"]
restart = "always"
start_secs = "100ms"
"#;

/// `name` exited with `code` and, while the clock restarted 4 times, never
/// ran again. Returns its status object.
fn assert_exited_for_good(daemon: &Daemon, name: &str, code: i64) -> serde_json::Value {
    daemon.wait_state(name, "exited");
    daemon.wait("clock to run 4 times", || runs(daemon, "clock.runs") >= 4);
    let p = daemon.program(name).unwrap();
    assert_eq!(p["state"], "exited", "{p}");
    assert_eq!(p["exit_code"], code, "{p}");
    assert_eq!(runs(daemon, &format!("{name}.runs")), 1);
    p
}

#[test]
fn on_failure_restarts_a_failure() {
    let daemon = Daemon::start(
        r#"
[program.crash]
command = ["sh", "-c", "echo run >> @DIR@/runs; sleep 0.2; exit 1"]
restart = "on-failure"
start_secs = "100ms"
"#,
    );
    daemon.wait("crash to run 3 times", || runs(&daemon, "runs") >= 3);
    let p = daemon.program("crash").unwrap();
    assert!(p["restarts"].as_u64().unwrap() >= 2, "{p}");
}

#[test]
fn restart_never_stays_exited_after_a_failure() {
    let daemon = Daemon::start(&format!(
        r#"
[program.once]
command = ["sh", "-c", "echo run >> @DIR@/once.runs; sleep 0.2; exit 1"]
restart = "never"
start_secs = "100ms"
{CLOCK}"#
    ));
    let p = assert_exited_for_good(&daemon, "once", 1);
    assert!(p["description"].as_str().unwrap().contains("exit 1"), "{p}");
    // An autostarted service that exited is not as wanted.
    assert_eq!(daemon.svctl(&["status"]).0, 3);
}

#[test]
fn restart_always_restarts_a_clean_exit() {
    let daemon = Daemon::start(
        r#"
[program.loop]
command = ["sh", "-c", "echo run >> @DIR@/runs; sleep 0.2; exit 0"]
restart = "always"
start_secs = "100ms"
"#,
    );
    daemon.wait("loop to run 3 times", || runs(&daemon, "runs") >= 3);
    let p = daemon.program("loop").unwrap();
    assert_ne!(p["state"], "exited", "{p}");
    assert_ne!(p["state"], "fatal", "{p}");
}

#[test]
fn dependent_starts_after_its_oneshot_completed() {
    let daemon = Daemon::start(
        r#"
[program.init]
kind = "oneshot"
command = ["sh", "-c", "sleep 0.3; touch @DIR@/inited"]

[program.app]
command = ["sh", "-c", "test -f @DIR@/inited && exec sleep 1000"]
depends_on = ["init"]
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait_state("init", "completed");
    daemon.wait_running("app");
    let p = daemon.program("app").unwrap();
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(daemon.svctl(&["status"]).0, 0);
}

#[test]
fn failed_oneshot_blocks_its_dependent() {
    let daemon = Daemon::start(
        r#"
[program.init]
kind = "oneshot"
command = ["sh", "-c", "exit 1"]

[program.app]
command = ["sh", "-c", "touch @DIR@/app-started; exec sleep 1000"]
depends_on = ["init"]
start_secs = "100ms"
"#,
    );
    daemon.wait("app to be reported blocked on init", || {
        let d = daemon.description_of("app");
        (d.contains("blocked") || d.contains("dependency")) && d.contains("init")
    });
    assert!(!daemon.path("app-started").exists());
    assert_eq!(daemon.pid_of("app"), None);
    let (code, out, _) = daemon.svctl(&["status"]);
    assert_eq!(code, 3, "{out}");
}

#[test]
fn instances_run_with_their_number() {
    let daemon = Daemon::start(
        r#"
[program.w]
command = ["sh", "-c", "echo \"$SVINIT_PROGRAM $SVINIT_INSTANCE\" > @DIR@/w-{instance}; exec sleep 1000"]
instances = 3
start_secs = "100ms"
"#,
    );
    for i in 0..3 {
        let name = format!("w:{i}");
        daemon.wait_running(&name);
        let p = daemon.program(&name).unwrap();
        assert_eq!(p["program"], "w", "{p}");
        assert_eq!(p["instance"], i, "{p}");
        let file = daemon.path(&format!("w-{i}"));
        daemon.wait(&format!("{} to be written", file.display()), || {
            read(&file).ends_with('\n')
        });
        assert_eq!(read(&file), format!("w {i}\n"));
    }
    let all = daemon.status_json();
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
}

#[test]
fn spawn_failure_is_a_state_not_a_crash() {
    let daemon = Daemon::start(
        r#"
[program.other]
command = "sleep 1000"
start_secs = "100ms"

[program.missing]
command = "/nonexistent/bin --flag"
start_retries = 0
backoff = "100ms"
"#,
    );
    let other = daemon.wait_running("other");
    daemon.wait_state("missing", "fatal");
    let description = daemon.description_of("missing");
    assert!(
        description.contains("No such file") && description.contains("/nonexistent/bin"),
        "description: {description}"
    );
    let (code, out, _) = daemon.svctl(&["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("No such file"), "{out}");
    assert_eq!(daemon.pid_of("other"), Some(other));
    assert_eq!(daemon.state_of("other"), "running");
}

#[test]
fn user_stop_is_wanted_and_start_brings_it_back() {
    let daemon = Daemon::start(
        r#"
[program.prog]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    let old = daemon.wait_running("prog");
    let (code, out, err) = daemon.svctl(&["stop", "prog"]);
    assert_eq!(code, 0, "svctl stop: {out}{err}");
    assert_eq!(daemon.state_of("prog"), "stopped");
    assert_eq!(daemon.pid_of("prog"), None);
    // A program a user stopped is in its wanted state.
    assert_eq!(daemon.svctl(&["status"]).0, 0);
    let (code, out, err) = daemon.svctl(&["start", "prog"]);
    assert_eq!(code, 0, "svctl start: {out}{err}");
    assert_eq!(daemon.state_of("prog"), "running");
    assert_ne!(daemon.pid_of("prog"), Some(old));
    // A user's stop never counts as a failure.
    assert_eq!(daemon.program("prog").unwrap()["restarts"], 0);
}

#[test]
fn stop_signals_the_whole_process_group() {
    // The program's background child records its pid and must die with it.
    let daemon = Daemon::start(
        r#"
[program.family]
command = ["sh", "-c", "sleep 1000 & echo $! > @DIR@/child.pid; wait"]
start_secs = "100ms"
"#,
    );
    let family = daemon.wait_running("family");
    daemon.wait("the child's pid", || {
        read(daemon.path("child.pid")).ends_with('\n')
    });
    let child: i32 = read(daemon.path("child.pid")).trim().parse().unwrap();
    let host = daemon.host_pid(child).unwrap();
    assert_ne!(child, family);
    let (code, _, err) = daemon.svctl(&["stop", "family"]);
    assert_eq!(code, 0, "{err}");
    daemon.wait("the program's child to be gone", || {
        !std::path::Path::new(&format!("/proc/{host}")).exists()
    });
}

#[test]
fn critical_fatal_program_ends_svinit_with_its_code() {
    let mut daemon = Daemon::start(
        r#"
[program.other]
command = ["sh", "-c", "trap 'echo TERM >> @DIR@/other.log; exit 0' TERM; while :; do sleep 0.05; done"]
start_secs = "100ms"

[program.vital]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; exit 4"]
critical = true
start_retries = 0
start_secs = "10s"
"#,
    );
    daemon.wait_running("other");
    std::fs::write(daemon.path("go"), "").unwrap();
    let code = daemon.wait_exit_code(common::WAIT);
    assert_eq!(code, 4, "{}", daemon.logs());
    assert_eq!(
        read(daemon.path("other.log")),
        "TERM\n",
        "others stopped in order"
    );
}

#[test]
fn oneshot_on_failure_retries_until_success() {
    // Fails twice, then succeeds; its dependent runs once it completed.
    let daemon = Daemon::start(
        r#"
[program.migrate]
kind = "oneshot"
command = ["sh", "-c", "echo run >> @DIR@/runs; [ $(wc -l < @DIR@/runs) -ge 3 ]"]
restart = "on-failure"
start_retries = 5
backoff = "50ms"

[program.app]
command = "sleep 1000"
depends_on = ["migrate"]
start_secs = "100ms"
"#,
    );
    daemon.wait_state("migrate", "completed");
    daemon.wait_running("app");
    assert_eq!(runs(&daemon, "runs"), 3);
}

#[test]
fn forwarded_signal_reaches_only_its_programs() {
    let daemon = Daemon::start_with(
        common::Mode::Pid1,
        "shutdown_timeout = \"5s\"\nforward = { USR2 = [\"hears\"] }",
        r#"
[program.hears]
command = ["sh", "-c", "trap 'echo USR2 >> @DIR@/hears.log' USR2; touch @DIR@/hears.ready; while :; do sleep 0.05; done"]
start_secs = "100ms"

[program.deaf]
command = ["sh", "-c", "trap 'echo USR2 >> @DIR@/deaf.log' USR2; touch @DIR@/deaf.ready; while :; do sleep 0.05; done"]
start_secs = "100ms"
"#,
    );
    for name in ["hears", "deaf"] {
        daemon.wait_running(name);
        let ready = daemon.path(&format!("{name}.ready"));
        daemon.wait("traps set", || ready.exists());
    }
    daemon.signal(nix::sys::signal::Signal::SIGUSR2);
    daemon.wait("hears to get USR2", || {
        read(daemon.path("hears.log")) == "USR2\n"
    });
    // svinit handled the signal (and logged it) before forwarding; deaf's
    // trap would have run by the time hears' did.
    assert_eq!(read(daemon.path("deaf.log")), "");
    assert_eq!(daemon.state_of("hears"), "running");
    assert_eq!(daemon.state_of("deaf"), "running");
}

#[test]
fn crash_after_start_secs_restarts_without_backoff() {
    // With a 20 s backoff, only an immediate restart passes the 10 s wait.
    let daemon = Daemon::start(
        r#"
[program.prog]
command = "sleep 1000"
start_secs = "100ms"
backoff = "20s"
"#,
    );
    let old = daemon.wait_running("prog");
    daemon.wait("prog to have been up past start_secs", || {
        daemon.program("prog").unwrap()["uptime_secs"].as_u64() >= Some(1)
    });
    daemon.svctl(&["signal", "KILL", "prog"]);
    daemon.wait_restarted("prog", old);
}

#[test]
fn dependent_waits_for_the_ready_probe() {
    let daemon = Daemon::start(
        r#"
[program.db]
command = "sleep 1000"
start_secs = "100ms"
ready = { exec = "test -f @DIR@/db-ready", interval = "50ms" }

[program.app]
command = ["sh", "-c", "test -f @DIR@/db-ready && exec sleep 1000"]
depends_on = ["db"]
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait("db to have a pid", || daemon.pid_of("db").is_some());
    assert_eq!(daemon.state_of("db"), "starting");
    assert_eq!(daemon.pid_of("app"), None, "app must wait for db's probe");
    std::fs::write(daemon.path("db-ready"), "").unwrap();
    daemon.wait_running("db");
    daemon.wait_running("app");
    assert_eq!(daemon.program("app").unwrap()["restarts"], 0);
}

#[test]
fn svctl_without_a_supervisor_exits_4_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let output = std::process::Command::new(common::SVCTL)
        .arg("--socket")
        .arg(&socket)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains(socket.to_str().unwrap()), "{err}");
}

#[test]
fn unknown_program_name_lists_the_known_ones() {
    let daemon = Daemon::start(
        r#"
[program.web]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("web");
    let (code, _, err) = daemon.svctl(&["stop", "wbe"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("wbe") && err.contains("web"), "{err}");
    assert_eq!(daemon.state_of("web"), "running");
}

#[test]
fn exit_with_a_background_child_holding_the_pipe_still_restarts() {
    // The background sleep keeps stdout open after the shell exits; the
    // exit must be seen anyway.
    let daemon = Daemon::start(
        r#"
[program.leaky]
command = ["sh", "-c", "echo run >> @DIR@/runs; setsid sleep 1000 & sleep 0.3; exit 0"]
start_secs = "100ms"
"#,
    );
    daemon.wait("leaky to run twice", || runs(&daemon, "runs") >= 2);
}

#[test]
fn exit_codes_list_counts_as_success() {
    let daemon = Daemon::start(
        r#"
[program.two]
command = ["sh", "-c", "sleep 0.2; exit 2"]
restart = "on-failure"
exit_codes = [0, 2]
start_secs = "100ms"
"#,
    );
    daemon.wait_state("two", "exited");
    assert_eq!(daemon.program("two").unwrap()["exit_code"], 2);
}

#[test]
fn critical_program_killed_by_signal_ends_svinit() {
    let mut daemon = Daemon::start(
        r#"
[program.vital]
command = "sleep 1000"
critical = true
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("vital");
    daemon.svctl(&["signal", "KILL", "vital"]);
    let code = daemon.wait_exit_code(common::WAIT);
    assert_ne!(code, 0, "{}", daemon.logs());
    assert_eq!(code, 128 + 9, "{}", daemon.logs());
}

#[test]
fn stop_of_a_program_in_backoff_and_start_of_a_fatal_one() {
    let daemon = Daemon::start(
        r#"
[program.flaky]
command = ["sh", "-c", "echo run >> @DIR@/runs; test -e @DIR@/fixed && exec sleep 1000; exit 1"]
backoff = "5s"
start_retries = 1
start_secs = "100ms"
"#,
    );
    daemon.wait_state("flaky", "backoff");
    let (code, out, err) = daemon.svctl(&["stop", "flaky"]);
    assert_eq!(code, 0, "stop in backoff: {out}{err}");
    assert_eq!(daemon.state_of("flaky"), "stopped");
    let before = runs(&daemon, "runs");
    // Starting it again gets a fresh set of retries; fixed, it runs.
    std::fs::write(daemon.path("fixed"), "").unwrap();
    let (code, out, err) = daemon.svctl(&["start", "flaky"]);
    assert_eq!(code, 0, "{out}{err}\n{}", daemon.logs());
    assert_eq!(daemon.state_of("flaky"), "running");
    assert_eq!(runs(&daemon, "runs"), before + 1);
}

#[test]
fn start_of_a_fatal_program_tries_again() {
    let daemon = Daemon::start(
        r#"
[program.broken]
command = ["sh", "-c", "test -e @DIR@/fixed && exec sleep 1000; exit 1"]
backoff = "50ms"
start_retries = 1
start_secs = "100ms"
"#,
    );
    daemon.wait_state("broken", "fatal");
    std::fs::write(daemon.path("fixed"), "").unwrap();
    let (code, out, err) = daemon.svctl(&["start", "broken"]);
    assert_eq!(code, 0, "{out}{err}\n{}", daemon.logs());
    assert_eq!(daemon.state_of("broken"), "running");
    assert_eq!(daemon.svctl(&["status"]).0, 0);
}

#[test]
fn hundred_programs_all_run_and_restart_all_works() {
    let mut config = String::new();
    for i in 0..100 {
        config.push_str(&format!(
            "[program.p{i:03}]\ncommand = \"sleep 1000\"\nstart_secs = \"100ms\"\n\n"
        ));
    }
    let daemon = Daemon::start(&config);
    daemon.wait("all 100 running", || {
        let all = daemon.status_json();
        let all = all.as_array().unwrap();
        all.len() == 100 && all.iter().all(|p| p["state"] == "running")
    });
    let before: Vec<i64> = daemon
        .status_json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    let (code, out, err) = daemon.svctl(&["restart", "all"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = daemon.status_json();
    for (p, old) in after.as_array().unwrap().iter().zip(before) {
        assert_eq!(p["state"], "running", "{p}");
        assert_ne!(p["pid"].as_i64().unwrap(), old, "{p}");
    }
}

#[test]
fn instance_prefixes_and_instance_dependencies() {
    let daemon = Daemon::start(
        r#"
[program.w]
command = ["sh", "-c", "echo hi from {instance}; touch @DIR@/w{instance}; exec sleep 1000"]
instances = 2
start_secs = "100ms"

[program.after1]
command = ["sh", "-c", "test -e @DIR@/w1 && exec sleep 1000"]
depends_on = ["w:1"]
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("after1");
    daemon.wait("both prefixed lines", || {
        let out = daemon.stdout_text();
        out.contains("w:0 | hi from 0\n") && out.contains("w:1 | hi from 1\n")
    });
    // A name of the whole group addresses every instance.
    let (code, out, err) = daemon.svctl(&["status", "w"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("w:0") && out.contains("w:1"), "{out}");
    assert!(!out.contains("after1"), "{out}");
}

#[test]
fn critical_exit_for_good_with_unexpected_code_ends_svinit() {
    let mut daemon = Daemon::start(
        r#"
[program.vital]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; exit 5"]
critical = true
restart = "never"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("vital");
    std::fs::write(daemon.path("go"), "").unwrap();
    assert_eq!(daemon.wait_exit_code(common::WAIT), 5, "{}", daemon.logs());
}

#[test]
fn critical_oneshot_failure_ends_svinit() {
    let mut daemon = Daemon::start(
        r#"
[program.setup]
kind = "oneshot"
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; exit 6"]
critical = true
"#,
    );
    std::fs::write(daemon.path("go"), "").unwrap();
    assert_eq!(daemon.wait_exit_code(common::WAIT), 6, "{}", daemon.logs());
}

#[test]
fn svctl_pid_gives_namespace_pids() {
    let daemon = Daemon::start(
        r#"
[program.p]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    let pid = daemon.wait_running("p");
    let (code, out, _) = daemon.svctl(&["pid"]);
    assert_eq!((code, out.trim()), (0, "1"));
    let (code, out, _) = daemon.svctl(&["pid", "p"]);
    assert_eq!((code, out.trim()), (0, pid.to_string().as_str()));
}

#[test]
fn non_executable_command_is_a_spawn_failure_with_the_os_error() {
    let daemon = Daemon::start(
        r#"
[program.noexec]
command = "@DIR@/script.sh"
start_retries = 0
backoff = "100ms"
"#,
    );
    daemon.wait_state("noexec", "fatal");
    // A mode-0644 file, then `svctl start` tries again.
    let script = daemon.path("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    let (code, _, _) = daemon.svctl(&["start", "noexec"]);
    assert_ne!(code, 0);
    daemon.wait_state("noexec", "fatal");
    let description = daemon.description_of("noexec");
    assert!(
        description.contains("Permission denied") && description.contains("script.sh"),
        "{description}"
    );
    // Made executable, it runs.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = daemon.svctl(&["start", "noexec"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(daemon.state_of("noexec"), "running");
}
