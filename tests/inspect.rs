//! End-to-end tests of the /proc inspector against live processes.
//!
//! Run as root (the pid-namespace test uses `unshare --pid --fork
//! --mount-proc`). Every process a test starts is killed by a guard on drop,
//! and tests wait on conditions, never on fixed sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use svinit::ctl::inspect_cmd::{filter_rows, ps_output, render_detail, render_tree, PsArgs};
use svinit::inspect::users::Names;
use svinit::inspect::{inspect_pid, list_processes, list_sockets, tree_order, Owners};

const PROC: &str = "/proc";

/// Kills, on drop, every child's process group and every extra pid recorded.
#[derive(Default)]
struct Guard {
    /// Children started in their own process group.
    children: Vec<Child>,
    /// Processes outside those groups (orphans, other sessions).
    pids: Vec<i32>,
}

impl Guard {
    /// Starts `cmd` in a new process group and keeps it for killing.
    fn spawn(&mut self, cmd: &mut Command) -> i32 {
        let child = cmd.process_group(0).spawn().expect("spawn");
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &p in &self.pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        for c in &mut self.children {
            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn proc_pids(root: &Path) -> BTreeSet<i32> {
    std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Children of `pid` from its `task/*/children` files.
fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

const INNER: &str = "SVINIT_INSPECT_INNER_NS";

/// In a fresh pid namespace the listing must equal the numeric dirs of
/// /proc exactly: the test binary re-runs itself there as PID 1.
#[test]
fn ps_lists_exactly_the_pid_namespace() {
    if std::env::var_os(INNER).is_some() {
        inner_namespace_check();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(exe)
        .args([
            "--exact",
            "ps_lists_exactly_the_pid_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .expect("run unshare");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inner run failed:\n{text}");
    assert!(
        text.contains("INNER OK"),
        "inner check did not run:\n{text}"
    );
}

fn inner_namespace_check() {
    assert_eq!(
        std::process::id(),
        1,
        "expected to be PID 1 of a new namespace"
    );
    let mut g = Guard::default();
    // Enough processes to take the multi-threaded listing path.
    let sleeps: Vec<i32> = (0..250)
        .map(|_| g.spawn(Command::new("sleep").arg("1000")))
        .collect();
    // A vfork-style spawn returns while exec still sets up the new argv.
    for &s in &sleeps {
        wait_until("sleep exec", || {
            cmdline(s).starts_with("sleep").then_some(())
        });
    }
    let root = Path::new(PROC);
    let rows = list_processes(root, &Owners::new(), &Names::load_system()).unwrap();
    let listed: BTreeSet<i32> = rows.iter().map(|r| r.pid).collect();
    assert_eq!(listed, proc_pids(root));
    assert_eq!(listed.len(), sleeps.len() + 1, "{rows:?}");
    for s in &sleeps {
        let r = rows.iter().find(|r| r.pid == *s).unwrap();
        assert_eq!(r.ppid, 1);
        assert_eq!(r.command, "sleep 1000");
        assert_eq!(r.user.as_deref(), Some("root"));
        assert!(r.rss_kb > 0);
    }
    let init = rows.iter().find(|r| r.pid == 1).unwrap();
    assert_eq!(init.ppid, 0);
    // pid-sorted
    assert!(rows.windows(2).all(|w| w[0].pid < w[1].pid));
    println!("INNER OK");
}

/// Against the live host /proc: every pid that exists both before and after
/// the listing is in it, and nothing listed is invented.
#[test]
fn ps_matches_live_proc_with_tolerance() {
    let root = Path::new(PROC);
    let before = proc_pids(root);
    let rows = list_processes(root, &Owners::new(), &Names::load_system()).unwrap();
    let after = proc_pids(root);
    let listed: BTreeSet<i32> = rows.iter().map(|r| r.pid).collect();
    for p in before.intersection(&after) {
        assert!(listed.contains(p), "pid {p} missing");
    }
    // Kernel threads show as [name], everything has a command.
    for r in &rows {
        assert!(!r.command.is_empty(), "{r:?}");
        if r.kernel_thread {
            assert!(r.command.starts_with('['), "{r:?}");
        }
    }
    let json = serde_json::to_value(&rows).unwrap();
    let first = json
        .as_array()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap();
    let keys: BTreeSet<&str> = first.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = [
        "pid",
        "ppid",
        "user",
        "state",
        "cpu_percent",
        "rss_kb",
        "threads",
        "start_time",
        "program",
        "command",
    ]
    .into();
    assert_eq!(keys, want);
    assert!(first["program"].is_null());
}

/// A shell that starts a sleep shows as parent/child in the tree.
#[test]
fn tree_shows_shell_and_its_sleep() {
    let mut g = Guard::default();
    let sh = g.spawn(Command::new("sh").args(["-c", "sleep 1001 & wait"]));
    let sleep = wait_until("sleep child", || {
        children_of(sh)
            .into_iter()
            .find(|&c| cmdline(c).starts_with("sleep 1001"))
    });
    let rows = list_processes(Path::new(PROC), &Owners::new(), &Names::load_system()).unwrap();
    let lines = tree_order(&rows);
    let sleep_line = lines.iter().find(|l| rows[l.index].pid == sleep).unwrap();
    let parent = sleep_line.parent.map(|p| rows[p].pid);
    assert_eq!(parent, Some(sh));
    let text = render_tree(&rows);
    let sh_pos = text.find(&format!("{sh} sh -c sleep 1001 & wait")).unwrap();
    let sleep_pos = text.find(&format!("└─{sleep} sleep 1001")).unwrap();
    assert!(sh_pos < sleep_pos, "{text}");
}

/// Attribution: a child of the owner pid by tree, and an orphaned grandchild
/// (double fork, reparented away) by its session.
#[test]
fn owners_attribute_by_tree_and_session() {
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("child.pid");
    let f2 = dir.path().join("orphan.pid");
    let mut g = Guard::default();
    // `setsid` without a fork (we are not a group leader in the child) makes
    // the shell a session leader, as svinit does for a program's main process.
    let script = format!(
        "sleep 1002 & echo $! > {}; (sleep 1003 & echo $! > {}); wait",
        f1.display(),
        f2.display()
    );
    let mut cmd = Command::new("setsid");
    cmd.args(["sh", "-c", &script]);
    let child = cmd.spawn().unwrap();
    let main = child.id() as i32;
    g.children.push(child);
    let read_pid = |p: &PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
    };
    let kid = wait_until("child pid", || read_pid(&f1));
    let orphan = wait_until("orphan pid", || read_pid(&f2));
    g.pids.extend([kid, orphan]);
    wait_until("orphan exec", || {
        cmdline(orphan).starts_with("sleep 1003").then_some(())
    });

    let owners: Owners = [(main, "web:0".to_string())].into();
    let names = Names::load_system();
    let rows = list_processes(Path::new(PROC), &owners, &names).unwrap();
    let row = |pid: i32| rows.iter().find(|r| r.pid == pid).unwrap();
    assert_eq!(row(main).program.as_deref(), Some("web:0"));
    assert_eq!(row(kid).program.as_deref(), Some("web:0"));
    assert_eq!(row(kid).ppid, main);
    let o = row(orphan);
    assert_ne!(o.ppid, main, "orphan should have been reparented");
    assert_eq!(o.program.as_deref(), Some("web:0"));
    let me = row(std::process::id() as i32);
    assert_eq!(me.program, None);

    // --program web keeps the three (and, with --tree, their ancestors).
    let args = PsArgs {
        program: Some("web".into()),
        ..PsArgs::default()
    };
    let picked: BTreeSet<i32> = filter_rows(rows.clone(), &args, &names)
        .iter()
        .map(|r| r.pid)
        .collect();
    assert_eq!(picked, [main, kid, orphan].into());
    let tree_args = PsArgs { tree: true, ..args };
    let with_ancestors = filter_rows(rows.clone(), &tree_args, &names);
    assert!(with_ancestors
        .iter()
        .any(|r| r.pid == std::process::id() as i32));
    // The tree tags the subtree with its program where it begins.
    let text = render_tree(&with_ancestors);
    assert!(text.contains(&format!("{main} [web:0] sh -c")), "{text}");
    assert!(!text.contains(&format!("{kid} [web:0]")), "{text}");
    // --user root keeps them too.
    let user_args = PsArgs {
        user: Some("root".into()),
        ..PsArgs::default()
    };
    assert!(filter_rows(rows, &user_args, &names)
        .iter()
        .any(|r| r.pid == kid));
}

/// inspect shows an fd the process holds open, its cwd, and (when asked)
/// its environment.
#[test]
fn inspect_shows_open_file_and_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let file = dir_path.join("held open.txt");
    std::fs::write(&file, "x").unwrap();
    let mut g = Guard::default();
    let pid = g.spawn(
        Command::new("sh")
            .args([
                "-c",
                "exec 3<\"$0\"; exec sleep 1004",
                file.to_str().unwrap(),
            ])
            .current_dir(&dir_path)
            .env("SVINIT_TEST_MARK", "42"),
    );
    wait_until("exec sleep", || {
        cmdline(pid).starts_with("sleep 1004").then_some(())
    });
    let names = Names::load_system();
    let d = inspect_pid(Path::new(PROC), pid, &Owners::new(), &names, true).unwrap();
    assert_eq!(d.args, ["sleep", "1004"]);
    assert_eq!(d.cwd.as_deref(), Some(dir_path.to_str().unwrap()));
    assert_eq!(d.root.as_deref(), Some("/"));
    assert!(d.exe.as_deref().unwrap().ends_with("sleep"));
    let fds = d.fds.as_ref().unwrap();
    let f3 = fds.iter().find(|f| f.fd == 3).unwrap();
    assert_eq!(f3.kind, "file");
    assert_eq!(f3.target, file.to_str().unwrap());
    assert!(d
        .environment
        .as_ref()
        .unwrap()
        .iter()
        .any(|e| e == "SVINIT_TEST_MARK=42"));
    assert!(d.memory.rss_kb.unwrap() > 0);
    assert!(d.memory.pss_kb.is_some());
    assert!(d
        .limits
        .as_ref()
        .unwrap()
        .iter()
        .any(|l| l.name == "Max open files"));
    assert!(d.namespaces.iter().any(|n| n.kind == "pid"));
    assert_eq!(d.effective_user.as_ref().unwrap().name, "root");
    let text = render_detail(&d, true);
    assert!(text.contains(file.to_str().unwrap()), "{text}");
    assert!(text.contains(dir_path.to_str().unwrap()), "{text}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["pid"], pid);
    assert!(json["fds"].is_array());

    let no_env = inspect_pid(Path::new(PROC), pid, &Owners::new(), &names, false).unwrap();
    assert!(no_env.environment.is_none());
    assert!(render_detail(&no_env, false).contains("root only"));
}

#[test]
fn inspect_of_missing_pid_is_an_error() {
    let names = Names::load_system();
    for pid in [0, -1, i32::MAX] {
        let e = inspect_pid(Path::new(PROC), pid, &Owners::new(), &names, false).unwrap_err();
        assert!(e.to_string().contains("no such process"), "{e}");
    }
}

/// net shows a listening TCP port with the pid that listens on it, and
/// inspect resolves that socket fd to its address.
#[test]
fn net_shows_listening_port_with_owner() {
    let mut g = Guard::default();
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id() as i32;
    g.children.push(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().expect("port from python");
    let local = format!("127.0.0.1:{port}");

    let names = Names::load_system();
    let owners: Owners = [(pid, "api".to_string())].into();
    let socks = list_sockets(Path::new(PROC), &owners, &names, true).unwrap();
    let s = socks
        .iter()
        .find(|s| s.local == local)
        .unwrap_or_else(|| panic!("{local} not in {socks:?}"));
    assert_eq!(s.proto, "tcp");
    assert_eq!(s.state, "LISTEN");
    assert_eq!(s.pid, Some(pid));
    assert!(s.command.as_deref().unwrap().contains("python"));
    assert_eq!(s.program.as_deref(), Some("api"));
    assert!(socks
        .iter()
        .all(|s| s.state == "LISTEN" || s.state == "UNCONN"));
    let json = serde_json::to_value(s).unwrap();
    for k in ["proto", "local", "remote", "state", "pid", "command"] {
        assert!(json.get(k).is_some(), "{k} missing in {json}");
    }

    let d = inspect_pid(Path::new(PROC), pid, &Owners::new(), &names, false).unwrap();
    assert!(
        d.fds
            .unwrap()
            .iter()
            .any(|f| f.socket.as_deref() == Some(&format!("tcp {local} -> 0.0.0.0:* LISTEN"))),
        "socket fd not resolved"
    );
}

/// Processes exiting while we read must never fail a listing.
#[test]
fn vanishing_processes_do_not_error() {
    let mut g = Guard::default();
    g.spawn(Command::new("sh").args([
        "-c",
        "i=0; while [ $i -lt 400 ]; do /bin/true & i=$((i+1)); done; wait",
    ]));
    let names = Names::load_system();
    for _ in 0..20 {
        list_processes(Path::new(PROC), &Owners::new(), &names).unwrap();
        list_sockets(Path::new(PROC), &Owners::new(), &names, false).unwrap();
    }
}

/// A synthetic /proc root: odd comms, a kernel thread, a zombie, a pid whose
/// files vanished, garbage, and a non-pid entry.
#[test]
fn fake_proc_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    w("uptime", "1000.00 1500.00\n");
    w("stat", "cpu 1 2 3\nbtime 1700000000\n");
    let stat = |pid: i32, comm: &str, state: char, ppid: i32, flags: u64| {
        format!("{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 50 50 0 0 20 0 3 0 10000 0 25 0 0")
    };
    w("1/stat", &stat(1, "init", 'S', 0, 0));
    w("1/status", "Name:\tinit\nUid:\t0\t0\t0\t0\n");
    w("1/cmdline", "/sbin/init\0--flag\0");
    w("2/stat", &stat(2, "kthreadd", 'S', 0, 0x0020_0040));
    w("2/status", "Uid:\t0\t0\t0\t0\n");
    w("7/stat", &stat(7, "a) b (c", 'R', 1, 0));
    w("7/status", "Uid:\t4242\t4242\t4242\t4242\n");
    w("7/cmdline", "weird\0");
    w("8/stat", &stat(8, "dead", 'Z', 7, 0));
    w("8/status", "Uid:\t0\t0\t0\t0\n");
    w("8/cmdline", "");
    w("9/stat", &stat(9, "gone", 'S', 1, 0)); // no status: vanished mid-read
    w("10/stat", "garbage");
    // Absurd numbers must not overflow anything.
    w(
        "12/stat",
        "12 (big) S 1 12 12 0 -1 0 0 0 0 0 18446744073709551615 18446744073709551615 0 0 20 0 9223372036854775807 0 18446744073709551615 0 9223372036854775807 0 0",
    );
    w("12/status", "Uid:\t4294967295\t4294967295\t0\t0\n");
    w("12/cmdline", "big\0");
    w("self/stat", &stat(1, "init", 'S', 0, 0));
    std::fs::create_dir_all(root.join("11")).unwrap(); // empty dir: gone

    let rows = list_processes(root, &Owners::new(), &Names::default()).unwrap();
    let got: Vec<(i32, &str)> = rows.iter().map(|r| (r.pid, r.command.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "/sbin/init --flag"),
            (2, "[kthreadd]"),
            (7, "weird"),
            (8, "[dead] <defunct>"),
            (12, "big")
        ]
    );
    let r7 = &rows[2];
    assert_eq!(r7.comm, "a) b (c");
    assert_eq!(r7.user.as_deref(), Some("4242"));
    assert_eq!(r7.threads, 3);
    // 100 ticks of CPU over (1000 - 100) seconds of life, at 100 ticks/s.
    assert!((r7.cpu_percent - 0.1).abs() < 0.051, "{}", r7.cpu_percent);
    assert_eq!(r7.start_time, 1_700_000_000 + 100);
    assert!(r7.rss_kb > 0);
    let none = Owners::new();
    let table = ps_output(root, &PsArgs::default(), false, &none).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("PID PPID USER"), "{table}");
    assert!(lines[1].contains("/sbin/init --flag"), "{table}");
    assert_eq!(lines.len(), 6, "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ps_output(root, &PsArgs::default(), true, &none).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    assert_eq!(json[2]["command"], "weird");
    assert!(json[2]["program"].is_null());
    let tree = PsArgs {
        tree: true,
        ..PsArgs::default()
    };
    let drawn = ps_output(root, &tree, false, &none).unwrap();
    assert!(
        drawn.contains(
            "1 /sbin/init --flag\n├─7 weird\n│ └─8 [dead] <defunct>\n└─12 big\n2 [kthreadd]\n"
        ),
        "{drawn}"
    );
    let names = Names::default();
    for pid in [1, 2, 7, 8, 12] {
        let d = inspect_pid(root, pid, &none, &names, true).unwrap();
        let _ = render_detail(&d, true);
    }
    assert!(inspect_pid(root, 9, &none, &names, true).is_ok());
    assert!(inspect_pid(root, 10, &none, &names, true).is_err());
    assert!(list_sockets(root, &none, &names, false).unwrap().is_empty());
    let unknown = PsArgs {
        program: Some("nope".into()),
        ..PsArgs::default()
    };
    let e = ps_output(root, &unknown, false, &none).unwrap_err();
    assert!(e.contains("no supervisor"), "{e}");
    let known: Owners = [(7, "web:0".to_string())].into();
    let e = ps_output(root, &unknown, false, &known).unwrap_err();
    assert!(e.contains("known: web:0"), "{e}");
    let web = PsArgs {
        program: Some("web".into()),
        ..PsArgs::default()
    };
    let only = ps_output(root, &web, true, &known).unwrap();
    let only: serde_json::Value = serde_json::from_str(&only).unwrap();
    let pids: Vec<i64> = only
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [7, 8]);
    let nobody = PsArgs {
        user: Some("no-such-user-here".into()),
        ..PsArgs::default()
    };
    assert!(ps_output(root, &nobody, false, &none).is_err());
    let by_uid = PsArgs {
        user: Some("4242".into()),
        ..PsArgs::default()
    };
    let mine = ps_output(root, &by_uid, false, &none).unwrap();
    assert_eq!(mine.lines().count(), 2, "{mine}");

    assert!(list_processes(&root.join("missing"), &none, &names).is_err());
    assert!(ps_output(&root.join("missing"), &PsArgs::default(), false, &none).is_err());
}

/// IPv6, UDP, unix and established sockets, with and without `--listen`.
#[test]
fn net_shows_v6_udp_unix_and_established() {
    let dir = tempfile::tempdir().unwrap();
    let upath = dir.path().join("svc.sock");
    let script = r#"
import socket, sys
out = []
try:
    t6 = socket.socket(socket.AF_INET6); t6.bind(('::1', 0)); t6.listen(); out.append(str(t6.getsockname()[1]))
except OSError:
    out.append('none')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0)); out.append(str(u.getsockname()[1]))
x = socket.socket(socket.AF_UNIX); x.bind(sys.argv[1]); x.listen()
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); acc, _ = srv.accept()
out.append(str(cli.getsockname()[1])); out.append(str(srv.getsockname()[1]))
print(' '.join(out), flush=True)
sys.stdin.read()
"#;
    let mut g = Guard::default();
    let mut child = Command::new("python3")
        .args(["-c", script, upath.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id() as i32;
    g.children.push(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 4, "{line}");

    let names = Names::load_system();
    let all = list_sockets(Path::new(PROC), &Owners::new(), &names, false).unwrap();
    let mine: Vec<_> = all.iter().filter(|s| s.pid == Some(pid)).collect();
    let find = |proto: &str, local: &str| {
        mine.iter()
            .find(|s| s.proto == proto && s.local == local)
            .unwrap_or_else(|| panic!("{proto} {local} not in {mine:?}"))
    };
    if f[0] != "none" {
        assert_eq!(find("tcp6", &format!("[::1]:{}", f[0])).state, "LISTEN");
    }
    let udp = find("udp", &format!("127.0.0.1:{}", f[1]));
    assert_eq!(udp.state, "UNCONN");
    assert_eq!(udp.remote.as_deref(), Some("0.0.0.0:*"));
    let unix = find("unix", upath.to_str().unwrap());
    assert_eq!(unix.state, "LISTEN");
    assert_eq!(unix.remote, None);
    let est = find("tcp", &format!("127.0.0.1:{}", f[2]));
    assert_eq!(est.state, "ESTABLISHED");
    assert_eq!(est.remote.as_deref(), Some(&*format!("127.0.0.1:{}", f[3])));

    let listening = list_sockets(Path::new(PROC), &Owners::new(), &names, true).unwrap();
    assert!(listening.iter().any(|s| s.local == upath.to_str().unwrap()));
    assert!(!listening
        .iter()
        .any(|s| s.local == format!("127.0.0.1:{}", f[2])));
}
