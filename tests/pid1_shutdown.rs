//! Shutdown of svinit as PID 1: reverse dependency order, stop signals
//! proven by traps, SIGKILL after stop_timeout, the shutdown_timeout bound,
//! and a second SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{read, Daemon, Mode};
use nix::sys::signal::Signal;

/// A shell loop that records `SIG NAME` in order.log when `SIG` arrives,
/// then exits 0; it touches NAME.ready once its traps are set.
fn trapper(name: &str, sig: &str) -> String {
    format!(
        r#"["sh", "-c", "trap 'echo {sig} {name} >> @DIR@/order.log; exit 0' {sig}; trap 'echo TERM {name} >> @DIR@/order.log; exit 0' TERM; touch @DIR@/{name}.ready; while :; do sleep 0.05; done"]"#
    )
}

/// Ignores TERM (and so does its `sleep`: ignored dispositions survive exec).
const IGNORES_TERM: &str =
    r#"["sh", "-c", "trap '' TERM; touch @DIR@/stubborn.ready; while :; do sleep 0.05; done"]"#;

fn wait_ready(daemon: &Daemon, names: &[&str]) {
    for name in names {
        daemon.wait_running(name);
        let ready = daemon.path(&format!("{name}.ready"));
        daemon.wait(&format!("{name} to set its traps"), || ready.exists());
    }
}

#[test]
fn sigterm_stops_in_reverse_dependency_order_and_exits_zero() {
    let mut daemon = Daemon::start(&format!(
        r#"
[program.a]
command = {a}
start_secs = "100ms"

[program.b]
command = {b}
depends_on = ["a"]
start_secs = "100ms"
"#,
        a = trapper("a", "TERM"),
        b = trapper("b", "TERM"),
    ));
    wait_ready(&daemon, &["a", "b"]);
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    let log = read(daemon.path("order.log"));
    assert_eq!(log, "TERM b\nTERM a\n", "{}", daemon.logs());
}

#[test]
fn stop_signal_is_the_one_that_arrives() {
    let mut daemon = Daemon::start(&format!(
        r#"
[program.q]
command = {q}
stop_signal = "QUIT"
start_secs = "100ms"
"#,
        q = trapper("q", "QUIT"),
    ));
    wait_ready(&daemon, &["q"]);
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(read(daemon.path("order.log")), "QUIT q\n");
}

#[test]
fn program_ignoring_term_is_killed_after_stop_timeout() {
    let mut daemon = Daemon::start_with(
        Mode::Pid1,
        r#"shutdown_timeout = "5s""#,
        &format!(
            r#"
[program.stubborn]
command = {IGNORES_TERM}
stop_timeout = "1s"
start_secs = "100ms"

[program.polite]
command = {polite}
start_secs = "100ms"
"#,
            polite = trapper("polite", "TERM"),
        ),
    );
    wait_ready(&daemon, &["stubborn", "polite"]);
    let stubborn = daemon.pid_of("stubborn").unwrap();
    let host = daemon.host_pid(stubborn).unwrap();
    let started = Instant::now();
    daemon.signal(Signal::SIGTERM);
    let code = daemon.wait_exit_code(Duration::from_secs(10));
    let took = started.elapsed();
    assert_eq!(code, 0, "{}", daemon.logs());
    assert!(
        took >= Duration::from_millis(900),
        "stopped too soon: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}\n{}",
        daemon.logs()
    );
    assert_eq!(read(daemon.path("order.log")), "TERM polite\n");
    assert!(!std::path::Path::new(&format!("/proc/{host}")).exists());
    let logs = daemon.stderr_text();
    assert!(logs.contains("stubborn") && logs.contains("KILL"), "{logs}");
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    let mut daemon = Daemon::start_with(
        Mode::Pid1,
        r#"shutdown_timeout = "2s""#,
        &format!(
            r#"
[program.stubborn]
command = {IGNORES_TERM}
stop_timeout = "60s"
start_secs = "100ms"
"#
        ),
    );
    wait_ready(&daemon, &["stubborn"]);
    let started = Instant::now();
    daemon.signal(Signal::SIGTERM);
    let code = daemon.wait_exit_code(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "shutdown took {took:?} with shutdown_timeout 2s\n{}",
        daemon.logs()
    );
    assert_eq!(code, 0, "{}", daemon.logs());
}

/// A second `signal` during a shutdown that waits on a program ignoring
/// TERM ends svinit at once, by exiting (not by being killed itself).
fn second_signal_kills_at_once(signal: Signal) {
    let mut daemon = Daemon::start_with(
        Mode::Pid1,
        r#"shutdown_timeout = "60s""#,
        &format!(
            r#"
[program.stubborn]
command = {IGNORES_TERM}
stop_timeout = "60s"
start_secs = "100ms"
"#
        ),
    );
    wait_ready(&daemon, &["stubborn"]);
    daemon.signal(signal);
    daemon.wait("svinit to begin its shutdown", || {
        daemon.stderr_text().contains("shutting down")
    });
    let started = Instant::now();
    daemon.signal(signal);
    let code = daemon.wait_exit_code(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "second {signal} took {took:?}\n{}",
        daemon.logs()
    );
    // It exits rather than being killed itself.
    assert!(code < 128, "exit {code}\n{}", daemon.logs());
}

#[test]
fn second_sigterm_kills_at_once() {
    second_signal_kills_at_once(Signal::SIGTERM);
}

#[test]
fn svctl_shutdown_stops_everything_and_exits_zero() {
    let mut daemon = Daemon::start(&format!(
        r#"
[program.a]
command = {a}
start_secs = "100ms"
"#,
        a = trapper("a", "TERM"),
    ));
    wait_ready(&daemon, &["a"]);
    let (code, _, err) = daemon.svctl(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(daemon.wait_exit_code(Duration::from_secs(10)), 0);
    assert_eq!(read(daemon.path("order.log")), "TERM a\n");
}

#[test]
fn leftover_processes_get_term_as_pid1() {
    // A program leaves an orphan in its own session (outside the program's
    // process group); at shutdown svinit as PID 1 TERMs what is left.
    let mut daemon = Daemon::start(
        r#"
[program.parent]
command = ["sh", "-c", "setsid sh -c 'trap \"echo TERM >> @DIR@/orphan.log; exit 0\" TERM; touch @DIR@/orphan.ready; while :; do sleep 0.05; done' & exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait_running("parent");
    let ready = daemon.path("orphan.ready");
    daemon.wait("the orphan to set its trap", || ready.exists());
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(
        read(daemon.path("orphan.log")),
        "TERM\n",
        "{}",
        daemon.logs()
    );
}

#[test]
fn leftover_ignoring_term_is_killed_and_shutdown_ends() {
    let mut daemon = Daemon::start(
        r#"
[program.parent]
command = ["sh", "-c", "setsid sh -c 'trap \"\" TERM; touch @DIR@/orphan.ready; while :; do sleep 0.05; done' & exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait_running("parent");
    let ready = daemon.path("orphan.ready");
    daemon.wait("the orphan to set its trap", || ready.exists());
    let started = Instant::now();
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn stopped_program_gets_cont_with_its_stop_signal() {
    let mut daemon = Daemon::start(&format!(
        r#"
[program.frozen]
command = {f}
start_secs = "100ms"
stop_timeout = "4s"
"#,
        f = trapper("frozen", "TERM"),
    ));
    wait_ready(&daemon, &["frozen"]);
    let pid = daemon.pid_of("frozen").unwrap();
    let host = daemon.host_pid(pid).unwrap();
    let (code, _, err) = daemon.svctl(&["signal", "STOP", "frozen"]);
    assert_eq!(code, 0, "{err}");
    daemon.wait("the program to be stopped (T)", || {
        common::status_field(host, "State").is_some_and(|s| s.starts_with('T'))
    });
    let started = Instant::now();
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(
        read(daemon.path("order.log")),
        "TERM frozen\n",
        "{}",
        daemon.logs()
    );
    // It acted on TERM rather than waiting for the KILL after stop_timeout.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{}",
        daemon.logs()
    );
}

#[test]
fn sigint_and_sigquit_also_shut_down_in_order() {
    for signal in [Signal::SIGINT, Signal::SIGQUIT] {
        let mut daemon = Daemon::start(&format!(
            r#"
[program.a]
command = {a}
start_secs = "100ms"
"#,
            a = trapper("a", "TERM"),
        ));
        wait_ready(&daemon, &["a"]);
        assert_eq!(daemon.stop(signal), 0, "{signal}: {}", daemon.logs());
        assert_eq!(read(daemon.path("order.log")), "TERM a\n", "{signal}");
    }
}

#[test]
fn higher_priority_stops_first() {
    let mut daemon = Daemon::start(&format!(
        r#"
[program.base]
command = {base}
priority = 10
start_secs = "100ms"

[program.top]
command = {top}
priority = 200
start_secs = "100ms"
"#,
        base = trapper("base", "TERM"),
        top = trapper("top", "TERM"),
    ));
    wait_ready(&daemon, &["base", "top"]);
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(read(daemon.path("order.log")), "TERM top\nTERM base\n");
}

#[test]
fn program_in_backoff_is_not_restarted_during_shutdown() {
    let mut daemon = Daemon::start(
        r#"
[program.flaky]
command = ["sh", "-c", "echo run >> @DIR@/runs; exit 1"]
backoff = "300ms"
start_retries = 10

[program.slow]
command = ["sh", "-c", "trap 'sleep 1; exit 0' TERM; touch @DIR@/slow.ready; while :; do sleep 0.05; done"]
start_secs = "100ms"
"#,
    );
    wait_ready(&daemon, &["slow"]);
    daemon.wait_state("flaky", "backoff");
    let before = read(daemon.path("runs")).lines().count();
    // slow keeps the shutdown going for a second, past flaky's backoff.
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(
        read(daemon.path("runs")).lines().count(),
        before,
        "flaky was spawned during shutdown\n{}",
        daemon.logs()
    );
}

#[test]
fn independent_programs_stop_in_parallel() {
    // Three programs each take 1 s to stop; in parallel the shutdown takes
    // about 1 s, one by one at least 3 s.
    let slow = |name: &str| {
        format!(
            r#"
[program.{name}]
command = ["sh", "-c", "trap 'sleep 1; exit 0' TERM; touch @DIR@/{name}.ready; while :; do sleep 0.05; done"]
start_secs = "100ms"
"#
        )
    };
    let mut daemon = Daemon::start(&format!("{}{}{}", slow("x"), slow("y"), slow("z")));
    wait_ready(&daemon, &["x", "y", "z"]);
    let started = Instant::now();
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2900),
        "took {took:?}\n{}",
        daemon.logs()
    );
}

#[test]
fn second_sigint_kills_at_once() {
    second_signal_kills_at_once(Signal::SIGINT);
}

#[test]
fn running_oneshot_is_stopped_at_shutdown() {
    let mut daemon = Daemon::start(
        r#"
[program.job]
kind = "oneshot"
command = ["sh", "-c", "trap 'echo TERM job >> @DIR@/order.log; exit 0' TERM; touch @DIR@/job.ready; while :; do sleep 0.05; done"]
"#,
    );
    daemon.wait("the job to run", || daemon.path("job.ready").exists());
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert_eq!(read(daemon.path("order.log")), "TERM job\n");
}

#[test]
fn shutdown_bound_holds_for_a_dependency_chain() {
    // b (ignores TERM for 60 s) must stop before a; the 2 s bound still holds.
    let mut daemon = Daemon::start_with(
        Mode::Pid1,
        r#"shutdown_timeout = "2s""#,
        &format!(
            r#"
[program.a]
command = {a}
start_secs = "100ms"

[program.stubborn]
command = {IGNORES_TERM}
depends_on = ["a"]
stop_timeout = "60s"
start_secs = "100ms"
"#,
            a = trapper("a", "TERM"),
        ),
    );
    wait_ready(&daemon, &["a", "stubborn"]);
    let started = Instant::now();
    daemon.signal(Signal::SIGTERM);
    let code = daemon.wait_exit_code(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "took {took:?}\n{}",
        daemon.logs()
    );
    assert_eq!(code, 0, "{}", daemon.logs());
}

#[test]
fn sigterm_while_starting_ends_quickly_and_starts_nothing_more() {
    let mut daemon = Daemon::start(
        r#"
[program.db]
command = "sleep 1000"
start_secs = "100ms"
ready = { exec = "false", interval = "50ms", timeout = "60s" }

[program.app]
command = ["sh", "-c", "touch @DIR@/app-started; exec sleep 1000"]
depends_on = ["db"]
start_secs = "100ms"
"#,
    );
    daemon.wait("db to be starting", || daemon.state_of("db") == "starting");
    let started = Instant::now();
    assert_eq!(daemon.stop(Signal::SIGTERM), 0, "{}", daemon.logs());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{}",
        daemon.logs()
    );
    assert!(!daemon.path("app-started").exists());
}
