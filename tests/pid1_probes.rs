//! Readiness probes with svinit as PID 1: tcp and http gate `running` and
//! dependents; a probe that never passes is a failed start, then fatal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Daemon;
use std::net::TcpListener;

/// A port that is free right now on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A python3 one-liner: wait for `gate` to exist, write the time to
/// `opened` (just before the port opens), then listen on `port` (answering HTTP with `status`).
fn slow_server(port: u16, status: u16) -> String {
    format!(
        r#"["python3", "-c", "import http.server,os,time\nwhile not os.path.exists('@DIR@/gate'): time.sleep(0.02)\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response({status}); self.end_headers()\n    def log_message(self, *a): pass\nopen('@DIR@/opened.tmp', 'w').write(str(time.time()))\nos.rename('@DIR@/opened.tmp', '@DIR@/opened')\nhttp.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()"]"#
    )
}

/// The dependent records when it started.
const DEPENDENT: &str = r#"["python3", "-c", "import time,os\nopen('@DIR@/dependent.tmp', 'w').write(str(time.time()))\nos.rename('@DIR@/dependent.tmp', '@DIR@/dependent')\nos.execvp('sleep', ['sleep', '1000'])"]"#;

fn read_time(daemon: &Daemon, name: &str) -> f64 {
    std::fs::read_to_string(daemon.path(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn check_dependent_waits(probe: &str, status: u16) {
    let port = free_port();
    let daemon = Daemon::start(&format!(
        r#"
[program.server]
command = {server}
start_secs = "0s"
ready = {{ {probe} = "{address}", interval = "50ms", timeout = "20s" }}

[program.client]
command = {DEPENDENT}
depends_on = ["server"]
start_secs = "0s"
"#,
        server = slow_server(port, status),
        address = if probe == "http" {
            format!("http://127.0.0.1:{port}/healthz")
        } else {
            format!("127.0.0.1:{port}")
        },
    ));
    daemon.wait("the server to be spawned", || {
        daemon.pid_of("server").is_some()
    });
    assert_eq!(
        daemon.state_of("server"),
        "starting",
        "not ready before its port opens"
    );
    assert_eq!(daemon.state_of("client"), "stopped");
    assert!(daemon
        .description_of("client")
        .contains("waiting for server"));
    std::fs::write(daemon.path("gate"), "").unwrap();
    daemon.wait_running("server");
    daemon.wait_running("client");
    daemon.wait("the dependent to record its start", || {
        daemon.path("dependent").exists()
    });
    let opened = read_time(&daemon, "opened");
    let started = read_time(&daemon, "dependent");
    assert!(
        started >= opened,
        "the dependent started at {started}, before the port opened at {opened}"
    );
}

#[test]
fn tcp_readiness_gates_the_dependent() {
    check_dependent_waits("tcp", 200);
}

#[test]
fn http_readiness_gates_the_dependent() {
    check_dependent_waits("http", 204);
}

#[test]
fn http_error_status_never_counts_as_ready() {
    let port = free_port();
    let daemon = Daemon::start(&format!(
        r#"
[program.broken]
command = {server}
start_secs = "0s"
start_retries = 0
stop_timeout = "1s"
ready = {{ http = "http://127.0.0.1:{port}/", interval = "50ms", timeout = "700ms" }}
"#,
        server = slow_server(port, 503),
    ));
    std::fs::write(daemon.path("gate"), "").unwrap();
    daemon.wait_state("broken", "fatal");
    let description = daemon.description_of("broken");
    assert!(description.contains("status 503"), "{description}");
    let (code, _, _) = daemon.svctl(&["status"]);
    assert_eq!(code, 3, "a fatal program makes status exit 3");
}

#[test]
fn tcp_probe_that_never_passes_is_a_failed_start_then_fatal() {
    let port = free_port();
    let daemon = Daemon::start(&format!(
        r#"
[program.deaf]
command = "sleep 1000"
start_secs = "0s"
start_retries = 1
backoff = "100ms"
ready = {{ tcp = "127.0.0.1:{port}", interval = "50ms", timeout = "300ms" }}

[program.after]
command = "sleep 1000"
depends_on = ["deaf"]
"#
    ));
    daemon.wait_state("deaf", "fatal");
    let description = daemon.description_of("deaf");
    assert!(
        description.contains("not ready") && description.contains(&port.to_string()),
        "{description}"
    );
    assert!(
        description.contains("gave up after 2 attempts"),
        "{description}"
    );
    daemon.wait("the dependent to say it is blocked", || {
        daemon
            .description_of("after")
            .contains("blocked: dependency deaf is fatal")
    });
    assert_eq!(daemon.state_of("after"), "stopped");
}
