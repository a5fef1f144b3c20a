//! Console output: two chatty programs, every line once, prefixed, whole;
//! and what a child starts with (signal mask, session, descriptors, user).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use common::{read, stat_fields, Daemon};

const LINES: usize = 5000;
/// Makes each line about 200 bytes, so 2 programs write ~2 MB together.
const PAD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn chatty(name: &str) -> String {
    format!(
        r#"
[program.{name}]
command = ["sh", "-c", "seq {LINES} | sed 's/.*/{name}-& {PAD}/'; exec sleep 1000"]
start_secs = "100ms"
"#
    )
}

#[test]
fn console_lines_are_prefixed_whole_and_each_once() {
    let daemon = Daemon::start(&format!("{}{}", chatty("a"), chatty("b")));
    daemon.wait("10,000 lines on svinit's stdout", || {
        daemon.stdout_text().lines().count() >= 2 * LINES
    });
    let text = daemon.stdout_text();
    let mut seen = [BTreeSet::new(), BTreeSet::new()];
    for line in text.lines() {
        let (prefix, payload) = line
            .split_once(" | ")
            .unwrap_or_else(|| panic!("line without a prefix: {line:?}"));
        let which = match prefix {
            "a" => 0,
            "b" => 1,
            _ => panic!("unexpected prefix in {line:?}"),
        };
        let number = payload
            .strip_prefix(&format!("{prefix}-"))
            .and_then(|rest| rest.strip_suffix(&format!(" {PAD}")))
            .unwrap_or_else(|| panic!("torn or mixed line: {line:?}"));
        let number: usize = number
            .parse()
            .unwrap_or_else(|_| panic!("torn line: {line:?}"));
        assert!(seen[which].insert(number), "line twice: {line:?}");
    }
    for (which, numbers) in seen.iter().enumerate() {
        assert_eq!(numbers.len(), LINES, "program {which}");
        assert_eq!(numbers.iter().next_back(), Some(&LINES));
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn stderr_goes_prefixed_to_svinit_stderr() {
    let daemon = Daemon::start(
        r#"
[program.err]
command = ["sh", "-c", "echo to-stderr >&2; echo to-stdout; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait("the stderr line", || {
        daemon.stderr_text().contains("err | to-stderr\n")
    });
    daemon.wait("the stdout line", || {
        daemon.stdout_text().contains("err | to-stdout\n")
    });
    assert!(!daemon.stdout_text().contains("to-stderr"));
}

#[test]
fn partial_line_is_flushed_after_quiet() {
    let daemon = Daemon::start(
        r#"
[program.p]
command = ["sh", "-c", "printf no-newline; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait("the partial line to be flushed", || {
        daemon.stdout_text().contains("p | no-newline")
    });
}

#[test]
fn children_start_clean() {
    // SigBlk/SigIgn of `grep` (inherited from the shell, from svinit); the
    // shell's own stat and descriptor table (listed from a subshell: dash
    // would otherwise save its stdout to fd 10 for the redirection).
    let daemon = Daemon::start(
        r#"
[program.clean]
command = ["sh", "-c", "grep -E 'SigBlk|SigIgn' /proc/self/status > @DIR@/sig.tmp; cat /proc/$$/stat > @DIR@/stat.tmp; echo $$ > @DIR@/pid.tmp; (ls /proc/$$/fd) > @DIR@/fd.tmp; env > @DIR@/env.tmp; pwd > @DIR@/cwd.tmp; for f in sig stat pid fd env cwd; do mv @DIR@/$f.tmp @DIR@/$f; done; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait_running("clean");
    daemon.wait("the probes to be written", || daemon.path("cwd").exists());
    // svinit itself ignores TTIN/TTOU/TSTP and blocks what it handles; the
    // child has none of it (see also inherited_ignored_realtime_signals_are_reset).
    let sig = read(daemon.path("sig"));
    assert_eq!(mask(&sig, "SigBlk"), 0, "{sig}");
    assert_eq!(mask(&sig, "SigIgn"), 0, "{sig}");

    let pid = read(daemon.path("pid")).trim().to_owned();
    let stat = stat_fields(&read(daemon.path("stat")));
    // state ppid pgrp session
    assert_eq!(stat[2], pid, "pgrp == pid: {stat:?}");
    assert_eq!(stat[3], pid, "session == pid: {stat:?}");
    assert_eq!(stat[1], "1", "parent is svinit (PID 1): {stat:?}");

    let fds: Vec<String> = read(daemon.path("fd")).lines().map(str::to_owned).collect();
    assert_eq!(fds, ["0", "1", "2"], "the shell's descriptors");

    let env = read(daemon.path("env"));
    assert!(env.lines().any(|l| l == "SVINIT_PROGRAM=clean"), "{env}");
    assert!(env.lines().any(|l| l == "SVINIT_INSTANCE="), "{env}");
    assert_eq!(read(daemon.path("cwd")), "/\n");
}

#[test]
fn children_without_user_get_user_env() {
    let daemon = Daemon::start(
        r#"
[program.env]
command = ["sh", "-c", "env > @DIR@/env.tmp; mv @DIR@/env.tmp @DIR@/env; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait("the env to be written", || daemon.path("env").exists());
    let env = read(daemon.path("env"));
    assert!(env.lines().any(|l| l == "USER=root"), "{env}");
    assert!(env.lines().any(|l| l == "LOGNAME=root"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("HOME=")), "{env}");
}

/// A hex signal set from /proc/PID/status lines.
fn mask(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

#[test]
fn inherited_ignored_realtime_signals_are_reset() {
    let rtmin = libc::SIGRTMIN();
    let daemon = common::Daemon::start_ignoring(
        common::Mode::Pid1,
        r#"shutdown_timeout = "5s""#,
        r#"
[program.rt]
command = ["sh", "-c", "grep SigIgn /proc/self/status > @DIR@/sig.tmp; mv @DIR@/sig.tmp @DIR@/sig; exec sleep 1000"]
start_secs = "100ms"
"#,
        &[rtmin, rtmin + 6],
    );
    daemon.wait("the probe to be written", || daemon.path("sig").exists());
    let sig = read(daemon.path("sig"));
    assert_eq!(mask(&sig, "SigIgn"), 0, "child of svinit: {sig}");
}

/// (uid, gid, home) of a user from /etc/passwd.
fn passwd(user: &str) -> (String, String, String) {
    let text = read("/etc/passwd");
    let fields: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .unwrap_or_else(|| panic!("no {user} in /etc/passwd"))
        .split(':')
        .collect();
    (fields[2].into(), fields[3].into(), fields[5].into())
}

#[test]
fn program_runs_as_its_user() {
    let (uid, gid, home) = passwd("nobody");
    let daemon = Daemon::start(
        r#"
[program.low]
command = ["sh", "-c", "while [ ! -d @DIR@/out ]; do sleep 0.02; done; { id -u; id -g; echo $HOME; echo $USER; echo $LOGNAME; id -G; } > @DIR@/out/id.tmp && mv @DIR@/out/id.tmp @DIR@/out/id; exec sleep 1000"]
user = "nobody"
start_secs = "100ms"
"#,
    );
    // The temp dir is 0700; open a path for nobody.
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The program waits for `out` to appear, writable by all.
    let out = daemon.path("out");
    let tmp = daemon.path("out.tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    daemon.wait("nobody's id file", || out.join("id").exists());
    let lines: Vec<String> = read(out.join("id")).lines().map(str::to_owned).collect();
    assert_eq!(lines[0], uid, "uid: {lines:?}");
    assert_eq!(lines[1], gid, "gid: {lines:?}");
    assert_eq!(lines[2], home, "HOME: {lines:?}");
    assert_eq!(lines[3], "nobody", "USER: {lines:?}");
    assert_eq!(lines[4], "nobody", "LOGNAME: {lines:?}");
    assert!(
        !lines[5].split_whitespace().any(|g| g == "0"),
        "root's group kept: {lines:?}"
    );
    assert_eq!(uid, "65534");
}

#[test]
fn long_lines_are_split_into_prefixed_pieces_that_join_back() {
    // One 40,000-byte line: over 16 KiB, so it comes in prefixed pieces.
    let daemon = Daemon::start(
        r#"
[program.long]
command = ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; echo after; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait("the line after", || {
        daemon.stdout_text().contains("long | after\n")
    });
    let text = daemon.stdout_text();
    let pieces: Vec<&str> = text
        .lines()
        .filter(|l| *l != "long | after")
        .map(|l| {
            l.strip_prefix("long | ")
                .unwrap_or_else(|| panic!("unprefixed piece: {:.80}", l))
        })
        .collect();
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    assert!(pieces.iter().all(|p| p.len() <= 16 * 1024));
    assert_eq!(pieces.concat(), "x".repeat(40000));
}

#[test]
fn non_utf8_bytes_pass_unchanged() {
    let daemon = Daemon::start(
        r#"
[program.bin]
command = ["sh", "-c", "printf 'a\\377\\376b\\n'; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    let expected: &[u8] = b"bin | a\xff\xfeb\n";
    daemon.wait("the raw line", || {
        std::fs::read(daemon.path("stdout.log"))
            .unwrap()
            .windows(expected.len())
            .any(|w| w == expected)
    });
}

#[test]
fn passthrough_and_null_outputs() {
    let daemon = Daemon::start(
        r#"
[program.raw]
command = ["sh", "-c", "echo raw-line; exec sleep 1000"]
stdout = "passthrough"
start_secs = "100ms"

[program.quiet]
command = ["sh", "-c", "echo quiet-line; echo marker >> @DIR@/quiet.done; exec sleep 1000"]
stdout = "null"
start_secs = "100ms"
"#,
    );
    daemon.wait("the passthrough line", || {
        daemon.stdout_text().lines().any(|l| l == "raw-line")
    });
    daemon.wait_running("quiet");
    daemon.wait("quiet to have written", || {
        daemon.path("quiet.done").exists()
    });
    assert!(!daemon.stdout_text().contains("quiet-line"));
    assert!(!daemon.stdout_text().contains("raw | "));
}

#[test]
fn svctl_logs_shows_recent_output() {
    let daemon = Daemon::start(
        r#"
[program.talk]
command = ["sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; done; exec sleep 1000"]
start_secs = "100ms"
"#,
    );
    daemon.wait("all lines on the console", || {
        daemon.stdout_text().contains("talk | line-5\n")
    });
    let (code, out, err) = daemon.svctl(&["logs", "-n", "2", "talk"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "line-4\nline-5\n");
    let (code, out, _) = daemon.svctl(&["logs", "talk"]);
    assert_eq!(code, 0);
    assert_eq!(out, "line-1\nline-2\nline-3\nline-4\nline-5\n");
}

#[test]
fn blocked_stdout_never_stalls_supervision() {
    // svinit's stdout is a pipe nobody reads: a chatty program fills it.
    let daemon = Daemon::start_with_blocked_stdout(
        r#"
[program.chatty]
command = ["sh", "-c", "yes 'a fairly long line of console output that fills pipes quickly'"]
start_secs = "100ms"

[program.victim]
command = "sleep 1000"
start_secs = "100ms"
"#,
    );
    daemon.wait_running("chatty");
    let old = daemon.wait_running("victim");
    // A 64 KiB pipe holding 60 KB has no room for the next batch of lines.
    daemon.wait("svinit's stdout pipe to be full", || {
        daemon.blocked_stdout_bytes() >= 60_000
    });
    let (code, _, err) = daemon.svctl(&["signal", "KILL", "victim"]);
    assert_eq!(code, 0, "{err}");
    daemon.wait_restarted("victim", old);
    // The chatty program was never disturbed (no SIGPIPE, no restart).
    let (code, out, err) = daemon.svctl(&["status"]);
    assert_eq!(code, 0, "{out}{err}\n{}", daemon.logs());
    let chatty = daemon.program("chatty").unwrap();
    assert_eq!(chatty["restarts"], 0, "{chatty}\n{}", daemon.logs());
}

#[test]
fn stderr_merged_into_stdout() {
    let daemon = Daemon::start(
        r#"
[program.m]
command = ["sh", "-c", "echo one; echo two >&2; echo three; exec sleep 1000"]
stderr = "stdout"
start_secs = "100ms"
"#,
    );
    daemon.wait("three lines on stdout", || {
        daemon.stdout_text().contains("m | three\n")
    });
    let out = daemon.stdout_text();
    assert_eq!(out, "m | one\nm | two\nm | three\n");
    assert!(!daemon.stderr_text().contains("two"));
}

#[test]
fn file_output_rotates_and_reopens_on_usr1() {
    // 100 lines of 100 bytes into files of at most 1000 bytes, 2 backups.
    let mut daemon = Daemon::start(
        r#"
[program.f]
command = ["sh", "-c", "seq 100 | sed 's/.*/&:/' | awk '{ printf \"%-99s\\n\", $0 }'; touch @DIR@/first.done; while [ ! -e @DIR@/again ]; do sleep 0.02; done; echo after-reopen; exec sleep 1000"]
stdout = { file = "@DIR@/f.log", max_bytes = 1000, backups = 2 }
start_secs = "100ms"
"#,
    );
    daemon.wait("the first batch", || daemon.path("first.done").exists());
    daemon.wait("the last line in f.log", || {
        read(daemon.path("f.log")).contains("100:")
    });
    assert!(daemon.path("f.log.1").exists());
    assert!(daemon.path("f.log.2").exists());
    assert!(!daemon.path("f.log.3").exists(), "only 2 backups");
    for file in ["f.log", "f.log.1", "f.log.2"] {
        let len = std::fs::metadata(daemon.path(file)).unwrap().len();
        assert!(len <= 1000, "{file}: {len} bytes");
    }
    // The newest lines, in order, across backups then the current file.
    let kept = format!(
        "{}{}{}",
        read(daemon.path("f.log.2")),
        read(daemon.path("f.log.1")),
        read(daemon.path("f.log"))
    );
    let numbers: Vec<u32> = kept
        .lines()
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert_eq!(numbers.last(), Some(&100));
    assert!(
        !daemon.stdout_text().contains("f | "),
        "file output is not on the console"
    );

    // Log rotation by an outside tool: move the file, USR1, new file.
    std::fs::rename(daemon.path("f.log"), daemon.path("moved.log")).unwrap();
    daemon.signal(nix::sys::signal::Signal::SIGUSR1);
    daemon.wait("svinit to reopen", || {
        daemon.stderr_text().contains("reopen")
    });
    std::fs::write(daemon.path("again"), "").unwrap();
    daemon.wait("the line in a new f.log", || {
        read(daemon.path("f.log")).contains("after-reopen")
    });
    assert!(!read(daemon.path("moved.log")).contains("after-reopen"));
    assert_eq!(daemon.stop(nix::sys::signal::Signal::SIGTERM), 0);
}

#[test]
fn no_program_inherits_another_programs_descriptors() {
    // Programs with pipes, a readiness fd and a notify socket start side by
    // side while svctl is connected; each sees only its own descriptors.
    let lister = |name: &str, extra: &str| {
        format!(
            r#"
[program.{name}]
command = ["sh", "-c", "(ls /proc/$$/fd) > @DIR@/{name}.tmp; mv @DIR@/{name}.tmp @DIR@/{name}.fds; {extra}exec sleep 1000"]
start_secs = "100ms"
"#
        )
    };
    let mut config = String::new();
    for i in 0..6 {
        config.push_str(&lister(&format!("l{i}"), ""));
    }
    config.push_str(&lister("withfd", "echo >&3; "));
    config.push_str("ready = { fd = 3 }\n");
    config.push_str(&lister("notified", "systemd-notify --ready; "));
    config.push_str("ready = { notify = true }\n");
    let daemon = Daemon::start(&config);
    let mut names: Vec<String> = (0..6).map(|i| format!("l{i}")).collect();
    names.push("withfd".into());
    names.push("notified".into());
    for name in &names {
        daemon.wait_running(name);
        let file = daemon.path(&format!("{name}.fds"));
        daemon.wait(&format!("{name}'s fd list"), || file.exists());
        let fds: Vec<String> = read(&file).lines().map(str::to_owned).collect();
        let expected: &[&str] = if name == "withfd" {
            &["0", "1", "2", "3"]
        } else {
            &["0", "1", "2"]
        };
        assert_eq!(fds, expected, "{name}'s descriptors");
    }
}
