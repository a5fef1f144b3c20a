//! The static release build in a bare root: a directory holding only the
//! static svinit (svctl is a symlink to it), busybox-static for `sh` and
//! `sleep`, a two-line /etc/passwd and /etc/group, /dev/null and a /proc
//! mount point. svinit runs there as PID 1 (`unshare --pid --fork --mount
//! --mount-proc --root`), with no shared library and no NSS, runs programs
//! (one as `nobody`, a name only the root's /etc/passwd knows), and `svctl`
//! inside the root lists them.
//!
//! The static binary comes from `scripts/build-static.sh`, which the test runs
//! (a no-op when it is up to date; the first build takes 2–3 minutes on two
//! cores). `SVINIT_STATIC=/path/to/svinit` uses a prebuilt one instead.
//! Needs root and busybox-static; without them it prints `SKIPPED: …`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const CONFIG: &str = r#"# svinit in a bare root: busybox only.
[supervisor]
socket = "/run/svinit.sock"
shutdown_timeout = "5s"

[program.sleeper]
command = "sleep 1000"

[program.nobody]
command = ["sleep", "1001"]
user = "nobody"

[program.pair]
command = ["sh", "-c", "echo pair {instance} up; exec sleep 1002"]
instances = 2

# Runs inside the root once the others run: svctl, as a program would.
[program.report]
kind = "oneshot"
depends_on = ["sleeper", "nobody", "pair"]
command = ["sh", "-c", "svctl ps --json > /out/ps.json.tmp && mv /out/ps.json.tmp /out/ps.json"]
"#;

/// True when the ELF file has no program interpreter (PT_INTERP): it needs
/// no dynamic loader and so no shared library.
fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false; // not a 64-bit ELF
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        bytes
            .get(at..at + 4)
            .is_some_and(|t| u32::from_le_bytes(t.try_into().unwrap()) != 3)
    })
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/bin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file());
    found
}

/// The static svinit: `$SVINIT_STATIC`, else built by scripts/build-static.sh.
fn static_svinit() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("SVINIT_STATIC").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    eprintln!("static_root: running scripts/build-static.sh (2-3 minutes the first time)");
    let started = Instant::now();
    let out = Command::new("sh")
        .arg(repo.join("scripts/build-static.sh"))
        .current_dir(repo)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run scripts/build-static.sh: {err}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprint!("{stdout}");
    eprintln!("static_root: build-static.sh took {:?}", started.elapsed());
    if !out.status.success() {
        return Err(format!("scripts/build-static.sh failed ({})", out.status));
    }
    let path = stdout
        .lines()
        .find_map(|line| line.strip_prefix("SVINIT_STATIC="))
        .ok_or("scripts/build-static.sh printed no SVINIT_STATIC= line")?;
    Ok(repo.join(path))
}

/// A bare root with svinit as its PID 1; killed (by pid) when dropped.
struct BareRoot {
    dir: tempfile::TempDir,
    unshare: Child,
}

impl BareRoot {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("svinit.log")).unwrap_or_default()
    }

    /// svinit's pid on the host: the only child of unshare.
    fn svinit_host_pid(&self) -> Option<i32> {
        let pid = self.unshare.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Run the root's own svctl inside svinit's pid and mount namespaces and
    /// its root directory.
    fn svctl(&self, args: &[&str]) -> Output {
        let pid = self.svinit_host_pid().expect("svinit runs");
        Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-p", "-m", "-r", "-w", "/bin/svctl"])
            .args(args)
            .output()
            .unwrap()
    }

    fn wait_until<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(value) = f() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- svinit's output\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for BareRoot {
    fn drop(&mut self) {
        // unshare --kill-child: svinit and its namespace go with unshare.
        if let Ok(None) = self.unshare.try_wait() {
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}

/// Lay out the bare root; Err(reason) when this machine cannot.
fn make_root(root: &Path, svinit: &Path, busybox: &Path) -> Result<(), String> {
    for dir in ["bin", "etc", "proc", "run", "out", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::copy(svinit, root.join("bin/svinit")).unwrap();
    symlink("svinit", root.join("bin/svctl")).unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "mv", "echo"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    std::fs::write(root.join("etc/svinit.toml"), CONFIG).unwrap();
    // Children's stdin is /dev/null: svinit cannot spawn anything without it
    // (every container runtime provides /dev).
    let null = root.join("dev/null");
    let made = Command::new("mknod")
        .args(["-m", "666"])
        .arg(&null)
        .args(["c", "1", "3"])
        .status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        return Err("cannot mknod dev/null in the bare root".into());
    }
    Ok(())
}

#[test]
fn static_svinit_runs_programs_in_a_bare_root() {
    let skip = |why: &str| {
        // Straight to fd 2: not captured by the test harness, so it shows.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: static_svinit_runs_programs_in_a_bare_root: {why}"
        );
    };
    let Some(busybox) = which("busybox").filter(|b| is_static_elf(b)) else {
        return skip("no static busybox (apt-get install busybox-static)");
    };
    for tool in ["unshare", "nsenter", "mknod"] {
        if which(tool).is_none() {
            return skip(&format!("{tool} is not installed"));
        }
    }
    let pidns = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status();
    if !pidns.map(|s| s.success()).unwrap_or(false) {
        return skip("cannot create a pid namespace (unshare --pid needs root)");
    }
    let svinit = static_svinit().unwrap();
    assert!(
        is_static_elf(&svinit),
        "{} has a program interpreter: not static",
        svinit.display()
    );
    let size = std::fs::metadata(&svinit).unwrap().len();
    eprintln!("static svinit: {} ({size} bytes)", svinit.display());

    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("svinit-bare")
        .tempdir()
        .unwrap();
    let root = dir.path().join("root");
    if let Err(why) = make_root(&root, &svinit, &busybox) {
        return skip(&why);
    }
    let log = std::fs::File::create(dir.path().join("svinit.log")).unwrap();
    let unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount", "--kill-child"])
        // Mounted after the chroot, so this is <root>/proc.
        .arg("--mount-proc=/proc")
        .arg(format!("--root={}", root.display()))
        .args(["/bin/svinit", "--config", "/etc/svinit.toml"])
        // Nothing from the host's environment leaks in but a PATH for the root.
        .env_clear()
        .env("PATH", "/bin")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let bare = BareRoot { dir, unshare };

    // Everything runs, the oneshot completed: status exits 0.
    bare.wait_until("svctl status (inside the root) to exit 0", || {
        bare.svinit_host_pid()?;
        (bare.svctl(&["status"]).status.code() == Some(0)).then_some(())
    });
    let status: Vec<Value> =
        serde_json::from_slice(&bare.svctl(&["status", "--json"]).stdout).unwrap();
    let state = |name: &str| {
        status
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["state"].as_str().unwrap_or("").to_owned())
    };
    for name in ["sleeper", "nobody", "pair:0", "pair:1"] {
        assert_eq!(state(name).as_deref(), Some("running"), "{status:?}");
    }
    assert_eq!(state("report").as_deref(), Some("completed"), "{status:?}");

    // `svctl ps`, run by the oneshot inside the root and now through nsenter.
    let from_program: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(bare.root().join("out/ps.json")).unwrap())
            .unwrap();
    let from_nsenter: Vec<Value> =
        serde_json::from_slice(&bare.svctl(&["ps", "--json"]).stdout).unwrap();
    for ps in [&from_program, &from_nsenter] {
        let find = |program: &str| {
            ps.iter()
                .find(|p| p["program"] == program)
                .unwrap_or_else(|| panic!("{program} not in svctl ps: {ps:?}"))
        };
        assert_eq!(find("sleeper")["command"], "sleep 1000");
        assert_eq!(find("sleeper")["ppid"], 1);
        // svinit resolved "nobody" from the root's /etc/passwd (no NSS), and
        // so did the inspector.
        assert_eq!(find("nobody")["user"], "nobody");
        assert_eq!(find("pair:0")["command"], "sleep 1002");
        assert_eq!(find("pair:1")["command"], "sleep 1002");
        let init = ps.iter().find(|p| p["pid"] == 1).expect("pid 1 in ps");
        assert_eq!(init["command"], "/bin/svinit --config /etc/svinit.toml");
    }
    let tree = bare.svctl(&["ps", "--tree"]);
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.contains("[sleeper] sleep 1000") && tree.contains("[nobody] sleep 1001"),
        "{tree}"
    );
    // The host sees the same process as uid 65534.
    let host_pid = bare.svinit_host_pid().unwrap();
    let host_children =
        std::fs::read_to_string(format!("/proc/{host_pid}/task/{host_pid}/children")).unwrap();
    let uids: Vec<String> = host_children
        .split_whitespace()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .collect();
    assert!(
        uids.iter()
            .any(|l| l.split_whitespace().nth(1) == Some("65534")),
        "no child runs as uid 65534: {uids:?}"
    );

    // SIGTERM to PID 1: clean exit 0.
    let mut bare = bare;
    kill(Pid::from_raw(host_pid), Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = bare.unshare.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "svinit did not exit:\n{}",
            bare.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code.code(), Some(0), "{}", bare.log());
    assert!(bare.log().contains("shutdown complete, exit code 0"));
    eprintln!("bare root: ran and stopped in {:?}", started.elapsed());
}
