//! `svctl ps`, `svctl inspect` and `svctl net`: arguments, calls into
//! [`crate::inspect`], and rendering as tables or JSON.
//!
//! These commands read `/proc` directly and work without a supervisor; the
//! caller passes the pid/session → program map it got from the socket
//! (empty when none answered), which fills the PROGRAM column.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::inspect::detail::Detail;
use crate::inspect::users::Names;
use crate::inspect::{
    format_start, inspect_pid, list_processes, list_sockets, now_secs, tree_order, Owners, ProcRow,
    SocketRow, DEFAULT_PROC,
};

/// Arguments of `svctl ps`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(
    after_help = "Columns: PID PPID USER STATE %CPU RSS(KiB) THREADS START PROGRAM COMMAND.\n\
%CPU is the CPU time used since the process started divided by its age (like ps), \
not a sampling window.\n\
START is HH:MM for processes started today, else \"Mon DD\". Kernel threads show as [name].\n\
PROGRAM is the svinit program whose process tree (or session) holds the process; \
it is empty when no supervisor answers."
)]
pub struct PsArgs {
    /// Draw the parent/child tree (like `pstree -p`), one process per line;
    /// with --json the rows stay flat (ppid gives the tree).
    #[arg(long)]
    pub tree: bool,
    /// Only processes of this program (`name` for all instances, or `group:instance`).
    #[arg(long, short = 'p', value_name = "NAME")]
    pub program: Option<String>,
    /// Only processes whose effective user is this name or uid.
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,
    /// Do not cut lines at the terminal width (output to a pipe is never cut).
    #[arg(long, short = 'w')]
    pub wide: bool,
}

/// Arguments of `svctl inspect`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Shows command line, exe, cwd, root, state, users and groups, start time, \
memory (RSS, PSS, swap), threads, limits, cgroup, namespaces and open file descriptors \
(sockets with their addresses). The environment is shown only when svctl runs as root."
)]
pub struct InspectArgs {
    /// The process id (as seen in svinit's pid namespace).
    pub pid: i32,
}

/// Arguments of `svctl net`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(
    after_help = "With none of --tcp/--udp/--unix, all three are shown. --listen keeps \
listening TCP sockets, bound unconnected UDP sockets and listening unix sockets."
)]
pub struct NetArgs {
    /// Only listening sockets.
    #[arg(long, short = 'l')]
    pub listen: bool,
    /// TCP sockets (v4 and v6).
    #[arg(long, short = 't')]
    pub tcp: bool,
    /// UDP sockets (v4 and v6).
    #[arg(long, short = 'u')]
    pub udp: bool,
    /// Unix sockets.
    #[arg(long, short = 'x')]
    pub unix: bool,
    /// Do not cut lines at the terminal width (output to a pipe is never cut).
    #[arg(long, short = 'w')]
    pub wide: bool,
}

/// `svctl ps`: prints the process table (or tree, or JSON); returns the exit code.
pub fn run_ps(args: &PsArgs, json: bool, owners: &Owners) -> i32 {
    run_ps_at(Path::new(DEFAULT_PROC), args, json, owners)
}

/// `svctl inspect PID`: prints one process in depth; returns the exit code.
pub fn run_inspect(args: &InspectArgs, json: bool, owners: &Owners) -> i32 {
    let names = Names::load_system();
    let with_env = nix::unistd::geteuid().is_root();
    match inspect_pid(Path::new(DEFAULT_PROC), args.pid, owners, &names, with_env) {
        Ok(d) => {
            let out = if json {
                to_json(&d)
            } else {
                render_detail(&d, with_env)
            };
            emit(&out)
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// `svctl net`: prints the socket table; returns the exit code.
pub fn run_net(args: &NetArgs, json: bool, owners: &Owners) -> i32 {
    let names = Names::load_system();
    let mut rows = match list_sockets(Path::new(DEFAULT_PROC), owners, &names, args.listen) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let all = !(args.tcp || args.udp || args.unix);
    rows.retain(|s| match s.proto {
        "tcp" | "tcp6" => all || args.tcp,
        "udp" | "udp6" => all || args.udp,
        _ => all || args.unix,
    });
    let out = if json {
        to_json(&rows)
    } else {
        fit_terminal(render_net(&rows), args.wide)
    };
    emit(&out)
}

/// `svctl ps` against any `/proc` root (tests point it elsewhere).
pub fn run_ps_at(proc_root: &Path, args: &PsArgs, json: bool, owners: &Owners) -> i32 {
    match ps_output(proc_root, args, json, owners) {
        Ok(out) => emit(&fit_terminal(out, args.wide || json)),
        Err(msg) => fail(&msg),
    }
}

/// The full text `svctl ps` prints (uncut), or the error message.
pub fn ps_output(
    proc_root: &Path,
    args: &PsArgs,
    json: bool,
    owners: &Owners,
) -> Result<String, String> {
    let names = Names::load_system();
    let rows = list_processes(proc_root, owners, &names).map_err(|e| e.to_string())?;
    if let Some(p) = &args.program {
        if !owners.values().any(|o| program_matches(o, p)) {
            let mut known: Vec<&str> = owners.values().map(String::as_str).collect();
            known.sort_unstable();
            known.dedup();
            return Err(if known.is_empty() {
                format!("unknown program {p}: no supervisor answered, so no program is known")
            } else {
                format!("unknown program {p}; known: {}", known.join(", "))
            });
        }
    }
    if let Some(u) = &args.user {
        if names.uid_of(u).is_none() {
            return Err(format!("unknown user {u} (not a uid, not in /etc/passwd)"));
        }
    }
    let rows = filter_rows(rows, args, &names);
    Ok(if json {
        to_json(&rows)
    } else if args.tree {
        render_tree(&rows)
    } else {
        render_ps(&rows, now_secs())
    })
}

/// Whether an owner name (`stream:1`, `redis`) matches a `--program` filter
/// (`stream:1`, or `stream` for every instance).
fn program_matches(owner: &str, filter: &str) -> bool {
    owner == filter || owner.split_once(':').is_some_and(|(g, _)| g == filter)
}

/// Applies `--program` and `--user`. In tree mode the ancestors of matching
/// processes stay too, so each match keeps its place in the tree.
pub fn filter_rows(rows: Vec<ProcRow>, args: &PsArgs, names: &Names) -> Vec<ProcRow> {
    if args.program.is_none() && args.user.is_none() {
        return rows;
    }
    let uid = args.user.as_deref().and_then(|u| names.uid_of(u));
    let matches = |r: &ProcRow| {
        let prog_ok = args
            .program
            .as_deref()
            .is_none_or(|p| r.program.as_deref().is_some_and(|o| program_matches(o, p)));
        let user_ok = args
            .user
            .as_deref()
            .is_none_or(|u| r.user.as_deref() == Some(u) || (uid.is_some() && r.uid == uid));
        prog_ok && user_ok
    };
    let mut keep: Vec<bool> = rows.iter().map(matches).collect();
    if args.tree {
        let by_pid: std::collections::HashMap<i32, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.pid, i)).collect();
        for i in 0..rows.len() {
            if !keep.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut cur = rows.get(i).map_or(0, |r| r.ppid);
            while let Some(&j) = by_pid.get(&cur) {
                match keep.get_mut(j) {
                    Some(k) if !*k => *k = true,
                    _ => break,
                }
                cur = rows.get(j).map_or(0, |r| r.ppid);
            }
        }
    }
    rows.into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// Renders the `ps` table.
pub fn render_ps(rows: &[ProcRow], now: u64) -> String {
    let header = [
        "PID", "PPID", "USER", "STATE", "%CPU", "RSS", "THREADS", "START", "PROGRAM", "COMMAND",
    ];
    let right = [
        true, true, false, false, true, true, true, false, false, false,
    ];
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.pid.to_string(),
                r.ppid.to_string(),
                r.user.clone().unwrap_or_else(|| "-".into()),
                r.state.clone(),
                format!("{:.1}", r.cpu_percent),
                r.rss_kb.to_string(),
                r.threads.to_string(),
                format_start(r.start_time, now),
                r.program.clone().unwrap_or_default(),
                r.command.clone(),
            ]
        })
        .collect();
    table(&header, &right, body)
}

/// Renders the tree: one process per line with box-drawing indentation, and
/// `[program]` where a supervised subtree begins.
pub fn render_tree(rows: &[ProcRow]) -> String {
    let mut out = String::new();
    for line in tree_order(rows) {
        let Some(r) = rows.get(line.index) else {
            continue;
        };
        let parent_prog = line
            .parent
            .and_then(|p| rows.get(p))
            .and_then(|p| p.program.as_deref());
        let tag = match r.program.as_deref() {
            Some(p) if Some(p) != parent_prog => format!("[{p}] "),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{}{} {}{}\n",
            line.prefix,
            r.pid,
            printable(&tag),
            printable(&r.command)
        ));
    }
    out
}

/// Renders the `net` table.
pub fn render_net(rows: &[SocketRow]) -> String {
    let header = [
        "PROTO", "LOCAL", "REMOTE", "STATE", "PID", "PROGRAM", "COMMAND",
    ];
    let right = [false, false, false, false, true, false, false];
    let body = rows
        .iter()
        .map(|s| {
            vec![
                s.proto.to_string(),
                if s.local.is_empty() {
                    "-".into()
                } else {
                    s.local.clone()
                },
                s.remote.clone().unwrap_or_else(|| "-".into()),
                s.state.to_string(),
                s.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                s.program.clone().unwrap_or_default(),
                s.command.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&header, &right, body)
}

/// Renders `inspect` as `key: value` lines and indented sections.
pub fn render_detail(d: &Detail, env_allowed: bool) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let idn = |v: &Option<crate::inspect::detail::IdName>| {
        v.as_ref()
            .map_or_else(|| "-".into(), |i| format!("{}({})", i.name, i.id))
    };
    let kb = |v: Option<u64>| v.map_or_else(|| "-".into(), |k| format!("{k} KiB"));
    let mut o = String::new();
    let mut kv = |k: &str, v: String| o.push_str(&format!("{k:<10} {}\n", printable(&v)));
    kv("pid", d.pid.to_string());
    kv("ppid", d.ppid.to_string());
    kv("pgrp", d.pgrp.to_string());
    kv("session", d.session.to_string());
    kv("program", d.program.clone().unwrap_or_else(|| "-".into()));
    kv("comm", d.comm.clone());
    kv(
        "command",
        if d.args.is_empty() {
            format!("[{}]", d.comm)
        } else {
            shell_words::join(&d.args)
        },
    );
    kv("exe", dash(&d.exe));
    kv("cwd", dash(&d.cwd));
    kv("root", dash(&d.root));
    kv("state", d.state.clone());
    kv(
        "user",
        format!("{} (effective {})", idn(&d.user), idn(&d.effective_user)),
    );
    kv(
        "group",
        format!("{} (effective {})", idn(&d.group), idn(&d.effective_group)),
    );
    kv(
        "groups",
        d.groups
            .iter()
            .map(|g| format!("{}({})", g.name, g.id))
            .collect::<Vec<_>>()
            .join(" "),
    );
    kv("started", d.start_time_local.clone());
    kv("cpu", format!("{:.1}% since start", d.cpu_percent));
    kv(
        "memory",
        format!(
            "rss {}, pss {}, swap {}",
            kb(d.memory.rss_kb),
            kb(d.memory.pss_kb),
            kb(d.memory.swap_kb)
        ),
    );
    kv("threads", d.threads.to_string());
    match &d.cgroup {
        Some(lines) => {
            for l in lines {
                kv("cgroup", l.clone());
            }
        }
        None => kv("cgroup", "-".into()),
    }
    o.push_str("namespaces:\n");
    for n in &d.namespaces {
        o.push_str(&format!(
            "  {:<18} {}\n",
            printable(&n.kind),
            printable(&dash(&n.id))
        ));
    }
    o.push_str("limits:\n");
    match &d.limits {
        Some(rows) => {
            let body = rows
                .iter()
                .map(|l| {
                    vec![
                        format!("  {}", l.name),
                        l.soft.clone(),
                        l.hard.clone(),
                        l.units.clone(),
                    ]
                })
                .collect();
            o.push_str(&table(
                &["  LIMIT", "SOFT", "HARD", "UNITS"],
                &[false, true, true, false],
                body,
            ));
        }
        None => o.push_str("  -\n"),
    }
    o.push_str("open files:\n");
    match &d.fds {
        Some(fds) => {
            let body = fds
                .iter()
                .map(|f| {
                    vec![
                        format!("  {}", f.fd),
                        f.kind.to_string(),
                        f.socket.clone().unwrap_or_else(|| f.target.clone()),
                    ]
                })
                .collect();
            o.push_str(&table(
                &["  FD", "TYPE", "TARGET"],
                &[true, false, false],
                body,
            ));
        }
        None => o.push_str("  -\n"),
    }
    o.push_str("environment:\n");
    match &d.environment {
        Some(env) => {
            for e in env {
                o.push_str(&format!("  {}\n", printable(e)));
            }
        }
        None if env_allowed => o.push_str("  -\n"),
        None => o.push_str("  (shown to root only)\n"),
    }
    o
}

/// Lays out a table: columns padded to their widest cell, `right` ones
/// right-aligned, the last column unpadded so long commands are not cut.
fn table(header: &[&str], right: &[bool], body: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(printable(cell).chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    for row in std::iter::once(&head).chain(body.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let cell = &printable(cell);
            if i > 0 {
                line.push(' ');
            }
            let w = widths.get(i).copied().unwrap_or(0);
            if i == last {
                line.push_str(cell);
            } else if right.get(i).copied().unwrap_or(false) {
                line.push_str(&format!("{cell:>w$}"));
            } else {
                line.push_str(&format!("{cell:<w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Replaces control characters (newlines in a rewritten argv, terminal
/// escapes in a hostile comm) with `?`, as ps does, so one process stays on
/// one line and cannot drive the terminal. JSON output keeps the raw text.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Cuts lines at the terminal width when stdout is a terminal (as ps does),
/// so long command lines do not wrap; pipes and `--wide` get everything.
fn fit_terminal(text: String, wide: bool) -> String {
    use std::io::IsTerminal;
    if wide || !io::stdout().is_terminal() {
        return text;
    }
    match terminal_width() {
        Some(w) => fit_width(&text, w),
        None => text,
    }
}

/// Columns of the terminal on stdout, else `$COLUMNS`.
fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ only writes a winsize into the struct we pass.
    let ws = unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0).then_some(ws)
    };
    ws.map(|w| usize::from(w.ws_col))
        .filter(|&c| c > 0)
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
}

/// Cuts every line of `text` to at most `width` characters.
fn fit_width(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.char_indices().nth(width) {
            Some((cut, _)) => out.push_str(line.get(..cut).unwrap_or(line)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Serializes for `--json`; our types cannot fail to serialize.
fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

/// Writes to stdout. A closed pipe (`svctl ps | head`) is success, not a panic.
fn emit(s: &str) -> i32 {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => fail(&format!("cannot write output: {e}")),
    }
}

/// Prints an error to stderr and returns exit code 1.
fn fail(msg: &str) -> i32 {
    let _ = writeln!(io::stderr(), "svctl: {msg}");
    1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::{Args, Command, FromArgMatches};

    fn parse<T: Args + FromArgMatches>(argv: &[&str]) -> T {
        let cmd = T::augment_args(Command::new("x"));
        T::from_arg_matches(&cmd.try_get_matches_from(argv).unwrap()).unwrap()
    }

    #[test]
    fn args_parse() {
        let a: PsArgs = parse(&["x", "--tree", "-p", "web", "--user", "root"]);
        assert!(a.tree);
        assert_eq!(a.program.as_deref(), Some("web"));
        assert_eq!(a.user.as_deref(), Some("root"));
        let n: NetArgs = parse(&["x", "-lt"]);
        assert!(n.listen && n.tcp && !n.udp);
        let i: InspectArgs = parse(&["x", "42"]);
        assert_eq!(i.pid, 42);
        let help = PsArgs::augment_args(Command::new("ps"))
            .render_help()
            .to_string();
        assert!(help.contains("since the process started"), "{help}");
    }

    #[test]
    fn program_filter_matches_instances() {
        assert!(program_matches("stream:1", "stream"));
        assert!(program_matches("stream:1", "stream:1"));
        assert!(!program_matches("stream:1", "stream:2"));
        assert!(!program_matches("streamer", "stream"));
    }

    #[test]
    fn fit_width_cuts_by_chars() {
        assert_eq!(fit_width("abcdef\n├─12 x\nab\n", 4), "abcd\n├─12\nab\n");
    }

    #[test]
    fn table_alignment() {
        let t = table(
            &["PID", "CMD"],
            &[true, false],
            vec![
                vec!["1".into(), "init".into()],
                vec!["100".into(), "x y".into()],
            ],
        );
        assert_eq!(t, "PID CMD\n  1 init\n100 x y\n");
        let t = table(
            &["A", "B"],
            &[false, false],
            vec![vec!["a\nb".into(), "\x1b[2Jc\n".into()]],
        );
        assert_eq!(t, "A   B\na?b ?[2Jc?\n");
    }
}
