//! Per-program settings seen from inside the program: directory, umask,
//! limits, environment substitution, autostart, readiness fd, health.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{read, Daemon};

#[test]
fn directory_umask_limits_and_environment_apply() {
    let daemon = Daemon::start(
        r#"
[program.set]
command = ["sh", "-c", "{ pwd; umask; ulimit -n; echo $GREETING; echo $SVINIT_PROGRAM; } > @DIR@/set.tmp; mv @DIR@/set.tmp @DIR@/set; exec sleep 1000"]
directory = "@DIR@"
umask = "027"
limits = { nofile = 1234 }
environment = { GREETING = "hello {name}" }
start_secs = "100ms"
"#,
    );
    daemon.wait("the settings file", || daemon.path("set").exists());
    let lines: Vec<String> = read(daemon.path("set"))
        .lines()
        .map(str::to_owned)
        .collect();
    let dir = daemon.dir.path().canonicalize().unwrap();
    assert_eq!(lines[0], dir.to_str().unwrap(), "pwd: {lines:?}");
    assert_eq!(lines[1], "0027", "umask: {lines:?}");
    assert_eq!(lines[2], "1234", "nofile: {lines:?}");
    assert_eq!(lines[3], "hello set", "environment: {lines:?}");
    assert_eq!(lines[4], "set", "SVINIT_PROGRAM: {lines:?}");
}

#[test]
fn svinit_itself_runs_in_root_dir() {
    let daemon = Daemon::start(
        r#"
[program.p]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("p");
    let svinit = daemon.svinit_host_pid();
    let cwd = std::fs::read_link(format!("/proc/{svinit}/cwd")).unwrap();
    assert_eq!(cwd, std::path::Path::new("/"));
}

#[test]
fn autostart_false_stays_stopped_and_is_healthy() {
    let daemon = Daemon::start(
        r#"
[program.manual]
command = "sleep 1000"
autostart = false
start_secs = "100ms"

[program.auto]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("auto");
    assert_eq!(daemon.state_of("manual"), "stopped");
    assert_eq!(daemon.pid_of("manual"), None);
    assert_eq!(daemon.svctl(&["status"]).0, 0);
    let (code, out, err) = daemon.svctl(&["start", "manual"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(daemon.state_of("manual"), "running");
}

#[test]
fn readiness_fd_gates_running() {
    let daemon = Daemon::start(
        r#"
[program.slowpoke]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; echo >&3; exec sleep 1000"]
ready = { fd = 3 }
start_secs = "100ms"
"#,
    );
    daemon.wait("slowpoke to have a pid", || {
        daemon.pid_of("slowpoke").is_some()
    });
    assert_eq!(daemon.state_of("slowpoke"), "starting");
    std::fs::write(daemon.path("go"), "").unwrap();
    daemon.wait_running("slowpoke");
}

#[test]
fn failing_health_check_restarts_the_program() {
    let daemon = Daemon::start(
        r#"
[program.sick]
command = "sleep 1000"
start_secs = "100ms"
health = { exec = "test ! -e @DIR@/sick", interval = "100ms", retries = 2 }
"#,
    );
    let old = daemon.wait_running("sick");
    std::fs::write(daemon.path("sick"), "").unwrap();
    daemon.wait("a restart for failed health", || {
        daemon.pid_of("sick").is_some_and(|p| p != old)
    });
    std::fs::remove_file(daemon.path("sick")).unwrap();
    daemon.wait_running("sick");
}

#[test]
fn last_words_at_shutdown_reach_the_console() {
    let mut daemon = Daemon::start(
        r#"
[program.bye]
command = ["sh", "-c", "trap 'echo goodbye; printf no-newline; exit 0' TERM; touch @DIR@/ready; while :; do sleep 0.05; done"]
start_secs = "100ms"
"#,
    );
    daemon.wait_running("bye");
    daemon.wait("traps set", || daemon.path("ready").exists());
    assert_eq!(daemon.stop(nix::sys::signal::Signal::SIGTERM), 0);
    let out = daemon.stdout_text();
    assert!(out.contains("bye | goodbye\n"), "{out:?}");
    assert!(out.contains("bye | no-newline"), "{out:?}");
}

#[test]
fn json_log_format_makes_every_log_line_json() {
    let mut daemon = Daemon::start_with(
        common::Mode::Pid1,
        "shutdown_timeout = \"5s\"\nlog_format = \"json\"",
        r#"
[program.p]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("p");
    assert_eq!(daemon.stop(nix::sys::signal::Signal::SIGTERM), 0);
    let err = daemon.stderr_text();
    assert!(err.lines().count() >= 3, "{err}");
    for line in err.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.is_object(), "{line}");
    }
}

#[test]
fn config_directory_and_includes_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let confd = dir.path().join("conf.d");
    std::fs::create_dir(&confd).unwrap();
    let socket = dir.path().join("svinit.sock");
    std::fs::write(
        dir.path().join("10-main.toml"),
        format!(
            "[supervisor]\nsocket = \"{}\"\n\n[program.one]\ncommand = \"sleep 1000\"\n",
            socket.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20-more.toml"),
        "[program.two]\ncommand = \"sleep 1000\"\n",
    )
    .unwrap();
    std::fs::write(
        confd.join("x.toml"),
        "[program.three]\ncommand = \"sleep 1000\"\n",
    )
    .unwrap();
    std::fs::write(
        confd.join("y.toml"),
        "[program.one]\ncommand = \"sleep 1\"\n",
    )
    .unwrap();
    let (code, out, err) =
        common::run_svinit(&["--check", "--config", dir.path().to_str().unwrap()]);
    // `one` is defined twice: in 10-main.toml and conf.d/y.toml.
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("10-main.toml") && err.contains("y.toml"),
        "{err}"
    );
    std::fs::remove_file(confd.join("y.toml")).unwrap();
    let (code, out, err) =
        common::run_svinit(&["--check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    for name in ["one", "two", "three"] {
        assert!(out.contains(&format!("[program {name}]")), "{name}: {out}");
    }
}

#[test]
fn notify_readiness_and_status_text() {
    let daemon = Daemon::start(
        r#"
[program.n]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.02; done; systemd-notify --ready --status='warmed up'; exec sleep 1000"]
ready = { notify = true }
start_secs = "100ms"
"#,
    );
    daemon.wait("n to have a pid", || daemon.pid_of("n").is_some());
    assert_eq!(daemon.state_of("n"), "starting");
    std::fs::write(daemon.path("go"), "").unwrap();
    daemon.wait_running("n");
    daemon.wait("STATUS= in the description", || {
        daemon.description_of("n").contains("warmed up")
    });
}
