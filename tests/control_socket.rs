//! The control socket end to end: the real server and the real svctl binary,
//! with a fake supervisor task answering the forwarded calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use svinit::control::protocol::{ActionResult, ProgramStatus, Request, Response};
use svinit::control::{server, ControlCall};
use svinit::logs::LogHub;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

/// A running server on a temp socket; stops it when dropped.
struct Daemon {
    /// Keeps the socket's directory alive.
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Daemon {
    async fn start(logs: LogHub) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        // A missing parent directory is created by bind.
        let socket = dir.path().join("run/svinit.sock");
        let listener = server::bind(&socket, 0o600).unwrap();
        let (supervisor, calls) = mpsc::channel(16);
        tokio::spawn(fake_supervisor(calls));
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(server::serve(listener, supervisor, logs, async {
            let _ = stopped.await;
        }));
        Daemon {
            dir,
            socket,
            stop: Some(stop),
            served,
        }
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    /// Stop the server and wait for `serve` to return.
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(3), &mut self.served)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.served.abort();
    }
}

fn program(name: &str, state: &str, pid: Option<i32>, healthy: bool) -> ProgramStatus {
    let (program, instance) = match name.split_once(':') {
        Some((program, instance)) => (program.to_owned(), instance.parse().ok()),
        None => (name.to_owned(), None),
    };
    ProgramStatus {
        name: name.into(),
        program,
        instance,
        state: state.into(),
        pid,
        uptime_secs: if pid.is_some() { 312 } else { 0 },
        restarts: 1,
        exit_code: if pid.is_some() { None } else { Some(127) },
        signal: None,
        description: if healthy {
            ""
        } else {
            "spawn failed: No such file"
        }
        .into(),
        healthy,
    }
}

/// Answers like a supervisor with `web` (running) and `worker:0` (fatal).
async fn fake_supervisor(mut calls: mpsc::Receiver<ControlCall>) {
    let all = [
        program("web", "running", Some(4242), true),
        program("worker:0", "fatal", None, false),
    ];
    let known: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
    while let Some(ControlCall { request, reply }) = calls.recv().await {
        let names = match &request {
            Request::Status { names }
            | Request::Start { names, .. }
            | Request::Stop { names, .. }
            | Request::Restart { names, .. }
            | Request::Signal { names, .. } => names.clone(),
            Request::Pid { name } => name.iter().cloned().collect(),
            _ => Vec::new(),
        };
        if let Some(unknown) = names.iter().find(|n| *n != "all" && !known.contains(n)) {
            let _ = reply.send(Response::Error {
                message: format!("unknown program \"{unknown}\""),
                known: known.clone(),
            });
            continue;
        }
        let selected: Vec<&ProgramStatus> = all
            .iter()
            .filter(|p| names.is_empty() || names.iter().any(|n| n == "all" || *n == p.name))
            .collect();
        let response = match request {
            Request::Status { .. } => Response::Status {
                programs: selected.into_iter().cloned().collect(),
            },
            Request::Start { .. }
            | Request::Stop { .. }
            | Request::Restart { .. }
            | Request::Signal { .. } => Response::Done {
                results: selected
                    .iter()
                    .map(|p| ActionResult {
                        name: p.name.clone(),
                        ok: p.healthy,
                        state: p.state.clone(),
                        message: p.description.clone(),
                    })
                    .collect(),
            },
            Request::Pid { name: None } => Response::Pid { pid: Some(1) },
            Request::Pid { .. } => Response::Pid {
                pid: selected.first().and_then(|p| p.pid),
            },
            Request::Reload => Response::Reloaded {
                added: vec!["cache".into()],
                changed: Vec::new(),
                removed: vec!["old".into()],
            },
            Request::Owners => Response::Owners {
                owners: BTreeMap::from([("4242".into(), "web".into())]),
                pid_namespace: None,
            },
            Request::Shutdown => Response::Ok,
            Request::Logs { .. } => Response::error("logs are not the supervisor's job"),
        };
        let _ = reply.send(response);
    }
}

/// Run the svctl binary (blocking, so off the runtime thread).
async fn svctl(args: &[&str]) -> Output {
    svctl_as(None, args).await
}

/// Run svctl, optionally as another uid through setpriv.
async fn svctl_as(uid: Option<u32>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let binary = env!("CARGO_BIN_EXE_svctl");
        let mut command = match uid {
            Some(uid) => {
                let mut command = Command::new("setpriv");
                command.args([
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".into(),
                    binary.into(),
                ]);
                command
            }
            None => Command::new(binary),
        };
        command.args(&args).env_remove("SVINIT_SOCKET");
        command.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A raw protocol client.
struct Raw {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Raw {
    async fn connect(socket: &Path) -> Raw {
        let (read, writer) = UnixStream::connect(socket).await.unwrap().into_split();
        Raw {
            reader: BufReader::new(read),
            writer,
        }
    }

    async fn send(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).await.unwrap();
    }

    /// The next response, or None at EOF.
    async fn receive(&mut self) -> Option<Response> {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), self.reader.read_line(&mut line))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        (read > 0).then(|| serde_json::from_str(&line).unwrap())
    }

    async fn error(&mut self) -> String {
        match self.receive().await {
            Some(Response::Error { message, .. }) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn status_prints_a_table_and_exits_3_when_a_program_is_unwell() {
    let daemon = Daemon::start(LogHub::default()).await;
    let out = svctl(&["--socket", daemon.socket(), "status"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "NAME      STATE    PID   UPTIME  RESTARTS  DESCRIPTION"
    );
    assert_eq!(lines[1], "web       running  4242  5m12s   1");
    assert_eq!(
        lines[2],
        "worker:0  fatal    -     -       1         spawn failed: No such file"
    );

    // Only the healthy one: exit 0. --socket also works after the subcommand.
    let out = svctl(&["status", "web", "--socket", daemon.socket()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn status_json_has_the_spec_fields() {
    let daemon = Daemon::start(LogHub::default()).await;
    let out = svctl(&["status", "--json", "--socket", daemon.socket()]).await;
    assert_eq!(out.status.code(), Some(3));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let programs = value.as_array().unwrap();
    assert_eq!(programs.len(), 2);
    for field in [
        "name",
        "program",
        "instance",
        "state",
        "pid",
        "uptime_secs",
        "restarts",
        "exit_code",
        "signal",
        "description",
    ] {
        assert!(programs[1].get(field).is_some(), "missing {field}");
    }
    assert_eq!(programs[1]["name"], "worker:0");
    assert_eq!(programs[1]["program"], "worker");
    assert_eq!(programs[1]["instance"], 0);
    assert_eq!(programs[1]["pid"], serde_json::Value::Null);
    assert_eq!(programs[0]["pid"], 4242);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn commands_render_results_and_exit_codes() {
    let daemon = Daemon::start(LogHub::default()).await;
    let socket = daemon.socket();

    let out = svctl(&["--socket", socket, "start", "web", "worker:0"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "web: running\nworker:0: fatal (spawn failed: No such file)\n"
    );
    let out = svctl(&["--socket", socket, "--json", "restart", "--no-wait", "web"]).await;
    assert_eq!(out.status.code(), Some(0));
    let results: Vec<ActionResult> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results[0].name, "web");

    let out = svctl(&["--socket", socket, "signal", "hup", "web"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "web: running\n")
    );
    let out = svctl(&["--socket", socket, "signal", "NOPE", "web"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad signal is a usage error");

    let out = svctl(&["--socket", socket, "pid", "web"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "4242\n")
    );
    let out = svctl(&["--socket", socket, "pid", "worker:0"]).await;
    assert_eq!(out.status.code(), Some(1));

    let out = svctl(&["--socket", socket, "reload"]).await;
    assert_eq!(text(&out.stdout), "added: cache\nremoved: old\n");
    let out = svctl(&["--socket", socket, "shutdown"]).await;
    assert_eq!(out.status.code(), Some(0));

    let out = svctl(&["--socket", socket, "status", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown program \"nope\""), "{stderr}");
    assert!(stderr.contains("known programs: web, worker:0"), "{stderr}");

    let out = svctl(&["--socket", socket, "start"]).await;
    assert_eq!(out.status.code(), Some(2), "start needs a name");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn no_supervisor_is_exit_4_naming_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let socket = socket.to_str().unwrap();
    let out = svctl(&["--socket", socket, "status"]).await;
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(socket), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");

    // $SVINIT_SOCKET is used when there is no --socket.
    let out = tokio::task::spawn_blocking({
        let socket = socket.to_owned();
        move || {
            Command::new(env!("CARGO_BIN_EXE_svctl"))
                .arg("status")
                .env("SVINIT_SOCKET", &socket)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains(socket));
}

#[tokio::test(flavor = "current_thread")]
async fn bad_requests_get_errors_and_the_connection_stays_usable() {
    // Each bad line, and the start of the error it must get.
    const BAD: &[(&str, &str)] = &[
        ("this is not json", "malformed JSON"),
        ("[1,2,3", "malformed JSON"),
        ("\u{1}\u{ff}", "malformed JSON"),
        ("{\"cmd\":\"status\"}", "missing protocol version"),
        (
            "{\"v\":99,\"cmd\":\"status\"}",
            "unsupported protocol version 99",
        ),
        (
            "{\"v\":\"1\",\"cmd\":\"status\"}",
            "unsupported protocol version",
        ),
        ("{\"v\":1}", "missing \"cmd\""),
        (
            "{\"v\":1,\"cmd\":\"frobnicate\"}",
            "invalid request: unknown variant `frobnicate`",
        ),
        (
            "{\"v\":1,\"cmd\":\"status\",\"names\":3}",
            "invalid request: invalid type",
        ),
        (
            "{\"v\":1,\"cmd\":\"start\"}",
            "invalid request: missing field `names`",
        ),
        (
            "{\"v\":1,\"cmd\":\"logs\",\"name\":\"x\",\"lines\":-1}",
            "invalid request",
        ),
        ("\"status\"", "missing protocol version"),
    ];
    let daemon = Daemon::start(LogHub::default()).await;
    let mut raw = Raw::connect(&daemon.socket).await;
    for (line, expected) in BAD {
        raw.send(&format!("{line}\n")).await;
        let message = raw.error().await;
        assert!(message.starts_with(expected), "{line:?} -> {message:?}");
    }
    // Blank lines are skipped; the connection still answers.
    raw.send("\n  \n{\"v\":1,\"cmd\":\"status\"}\n").await;
    assert!(matches!(raw.receive().await, Some(Response::Status { .. })));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn inspector_commands_do_not_need_a_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let started = std::time::Instant::now();
    let out = svctl(&["--socket", socket.to_str().unwrap(), "ps"]).await;
    assert_ne!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("no supervisor answers"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "current_thread")]
async fn an_oversized_request_is_refused_and_closed() {
    let daemon = Daemon::start(LogHub::default()).await;
    let (read, mut writer) = UnixStream::connect(&daemon.socket)
        .await
        .unwrap()
        .into_split();
    let mut huge = vec![b'x'; 100 * 1024];
    huge.push(b'\n');
    // The server stops reading at the limit, so the write may fail; the
    // answer is still there to read.
    let writer = tokio::spawn(async move {
        let _ = writer.write_all(&huge).await;
        writer
    });
    let mut lines = BufReader::new(read).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    assert!(line.contains("request too large"), "{line}");
    // Closed: EOF, or a reset because the server dropped unread input.
    assert!(
        !matches!(lines.next_line().await, Ok(Some(_))),
        "connection closed"
    );
    drop(writer.await);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_idle_connections_does_not_deny_service() {
    let daemon = Daemon::start(LogHub::default()).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(UnixStream::connect(&daemon.socket).await.unwrap());
    }
    let out = svctl(&["--socket", daemon.socket(), "status"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    drop(held);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn other_users_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run a client as another uid");
        return;
    }
    let daemon = Daemon::start(LogHub::default()).await;
    // Let uid 65534 reach the socket, so the refusal comes from the peer check.
    for path in [daemon.dir.path(), daemon.socket.parent().unwrap()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = svctl_as(Some(65534), &["--socket", daemon.socket(), "status"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("permission denied: uid 65534 may not control svinit"),
        "{}",
        text(&out.stderr)
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn bind_replaces_a_stale_socket_but_not_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("svinit.sock");
    // A socket file nobody listens on (svinit died without cleaning up).
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let listener = server::bind(&socket, 0o600).unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let err = server::bind(&socket, 0o600).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().contains("another svinit is listening on"),
        "{err}"
    );
    drop(listener);

    let file = dir.path().join("plain");
    std::fs::write(&file, "keep me").unwrap();
    assert!(server::bind(&file, 0o600).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[tokio::test(flavor = "current_thread")]
async fn logs_of_an_unknown_program_list_the_known_ones() {
    let daemon = Daemon::start(LogHub::default()).await;
    let out = svctl(&["--socket", daemon.socket(), "logs", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown program \"nope\""), "{stderr}");
    assert!(stderr.contains("known programs: web, worker:0"), "{stderr}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_follower_leaving_mid_stream_does_not_disturb_others() {
    use svinit::logs::StreamKind;
    use svinit::model::Output as Sink;

    let hub = LogHub::new(64 * 1024);
    let (read, write) = nix::unistd::pipe().unwrap();
    let mut write = std::fs::File::from(write);
    let _relay = hub.attach("web", StreamKind::Stdout, read, &Sink::Console);
    // Ignore failures: the interface stub closes the pipe at once.
    let _ = std::io::Write::write_all(&mut write, b"first\n");
    if !wait_until(|| hub.tail("web", None).is_some_and(|t| !t.is_empty())).await {
        eprintln!("skipped: the LogHub in this tree keeps no output (interface stub)");
        return;
    }
    let daemon = Daemon::start(hub.clone()).await;
    let follow = "{\"v\":1,\"cmd\":\"logs\",\"name\":\"web\",\"follow\":true}\n";
    let mut leaver = Raw::connect(&daemon.socket).await;
    let mut stayer = Raw::connect(&daemon.socket).await;
    for client in [&mut leaver, &mut stayer] {
        client.send(follow).await;
        assert_eq!(
            client.receive().await,
            Some(Response::Log {
                data: "first\n".into()
            })
        );
    }
    // A real `svctl logs -f`, killed mid-stream like a Ctrl-C.
    let mut child = Command::new(env!("CARGO_BIN_EXE_svctl"))
        .args(["--socket", daemon.socket(), "logs", "-f", "web"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (first, child) = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        (first, child)
    })
    .await
    .unwrap();
    assert_eq!(first, "first\n");
    drop((leaver, child));

    std::io::Write::write_all(&mut write, b"second\n").unwrap();
    let Some(Response::Log { data }) = stayer.receive().await else {
        panic!("the remaining follower gets new output");
    };
    assert!(data.contains("second"), "{data}");

    let out = svctl(&["--socket", daemon.socket(), "logs", "-n", "1", "web"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "second\n")
    );
    daemon.shutdown().await;
}

/// Poll a condition for up to two seconds.
async fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "current_thread")]
async fn serve_returns_promptly_on_shutdown_with_clients_connected() {
    let daemon = Daemon::start(LogHub::default()).await;
    let mut raw = Raw::connect(&daemon.socket).await;
    raw.send("{\"v\":1,\"cmd\":\"pid\"}\n").await;
    assert_eq!(raw.receive().await, Some(Response::Pid { pid: Some(1) }));
    daemon.shutdown().await;
    assert_eq!(
        raw.receive().await,
        None,
        "idle connection closed at shutdown"
    );
}
