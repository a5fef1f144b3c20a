//! Everything about one pid, for `svctl inspect PID`.
//!
//! Unlike the listing, this reads many files; each field that cannot be read
//! (permission, or a kernel without the file) is `None`, shown as `-`. Only a
//! pid that does not exist (or exits before its `stat` is read) is an error.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use super::net::{read_socket_tables, SocketRow};
use super::parse::{self, LimitRow};
use super::process::owner_by_ancestors;
use super::users::Names;
use super::{format_datetime, read_text, Clock, InspectError, Owners};

/// A numeric id with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdName {
    /// uid or gid.
    pub id: u32,
    /// Name from `/etc/passwd` / `/etc/group`, or the number.
    pub name: String,
}

/// Memory totals in KiB from `smaps_rollup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Resident set size.
    pub rss_kb: Option<u64>,
    /// Proportional set size.
    pub pss_kb: Option<u64>,
    /// Swapped-out memory.
    pub swap_kb: Option<u64>,
}

/// A namespace the process is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// Kind: `mnt`, `net`, `pid`, …
    pub kind: String,
    /// Link target, e.g. `net:[4026531840]`; `None` when unreadable.
    pub id: Option<String>,
}

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fd {
    /// Descriptor number.
    pub fd: i32,
    /// `file`, `pipe`, `socket`, `anon` or `other`.
    pub kind: &'static str,
    /// Raw link target (`/tmp/x`, `pipe:[123]`, `socket:[456]`).
    pub target: String,
    /// For sockets found in the process's `/proc/PID/net` tables: protocol,
    /// addresses and state.
    pub socket: Option<String>,
}

/// One process in depth.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    /// Process id.
    pub pid: i32,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Owning program, `None` without one.
    pub program: Option<String>,
    /// Short name from `stat`.
    pub comm: String,
    /// Command line joined with spaces, `[comm]` when there is none (as in `ps`).
    pub command: String,
    /// Arguments from `cmdline` (empty for kernel threads and zombies).
    pub args: Vec<String>,
    /// Path of the executable.
    pub exe: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Root directory (differs from `/` under chroot).
    pub root: Option<String>,
    /// State, e.g. `S (sleeping)`.
    pub state: String,
    /// Real user.
    pub user: Option<IdName>,
    /// Effective user.
    pub effective_user: Option<IdName>,
    /// Real group.
    pub group: Option<IdName>,
    /// Effective group.
    pub effective_group: Option<IdName>,
    /// Supplementary groups.
    pub groups: Vec<IdName>,
    /// Start time, seconds since the epoch.
    pub start_time: u64,
    /// Start time as local `YYYY-MM-DD HH:MM:SS`.
    pub start_time_local: String,
    /// CPU use averaged since start, percent of one CPU.
    pub cpu_percent: f64,
    /// Memory from `smaps_rollup` (RSS falls back to `stat` when unreadable).
    pub memory: Memory,
    /// Number of threads.
    pub threads: i64,
    /// Resource limits; `None` when unreadable.
    pub limits: Option<Vec<LimitRow>>,
    /// Lines of `/proc/PID/cgroup`; `None` when unreadable.
    pub cgroup: Option<Vec<String>>,
    /// Namespaces.
    pub namespaces: Vec<Namespace>,
    /// Open file descriptors, by number; `None` when unreadable.
    pub fds: Option<Vec<Fd>>,
    /// Environment, only when asked for (svctl asks only when run as root).
    pub environment: Option<Vec<String>>,
}

/// Reads everything about `pid`. `with_environment` decides whether the
/// environment (which may hold secrets) is read at all.
pub fn inspect_pid(
    proc_root: &Path,
    pid: i32,
    owners: &Owners,
    names: &Names,
    with_environment: bool,
) -> Result<Detail, InspectError> {
    let dir = proc_root.join(pid.to_string());
    let gone = || InspectError::NoSuchProcess { pid };
    if pid <= 0 {
        return Err(gone());
    }
    let stat_bytes = std::fs::read(dir.join("stat")).map_err(|_| gone())?;
    let stat = parse::parse_stat(&stat_bytes).ok_or_else(gone)?;
    let clock = Clock::read(proc_root);
    let status = std::fs::read(dir.join("status"))
        .map(|b| parse::parse_status(&b, false))
        .unwrap_or_default();
    let args = std::fs::read(dir.join("cmdline"))
        .map(|b| parse::parse_cmdline(&b))
        .unwrap_or_default();
    let link = |name: &str| {
        std::fs::read_link(dir.join(name))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    };
    let id = |ids: Option<[u32; 4]>, which: usize, user: bool| {
        ids.and_then(|a| a.get(which).copied()).map(|id| IdName {
            id,
            name: if user {
                names.user(id)
            } else {
                names.group(id)
            },
        })
    };

    let rollup = read_text(&dir.join("smaps_rollup"))
        .map(|t| parse::parse_smaps_rollup(&t))
        .unwrap_or_default();
    let stat_rss = clock.rss_kb(stat.rss_pages);
    let memory = Memory {
        rss_kb: rollup.rss_kb.or(Some(stat_rss)),
        pss_kb: rollup.pss_kb,
        swap_kb: rollup.swap_kb,
    };

    let mut namespaces: Vec<Namespace> = std::fs::read_dir(dir.join("ns"))
        .map(|rd| {
            rd.flatten()
                .map(|e| Namespace {
                    kind: e.file_name().to_string_lossy().into_owned(),
                    id: std::fs::read_link(e.path())
                        .ok()
                        .map(|p| p.to_string_lossy().into_owned()),
                })
                .collect()
        })
        .unwrap_or_default();
    namespaces.sort_by(|a, b| a.kind.cmp(&b.kind));

    let environment = if with_environment {
        std::fs::read(dir.join("environ"))
            .ok()
            .map(|b| parse::parse_cmdline(&b))
    } else {
        None
    };

    let start = clock.start_epoch(stat.starttime);
    Ok(Detail {
        pid: stat.pid,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        session: stat.session,
        program: owner_by_ancestors(proc_root, stat.pid, stat.ppid, stat.session, owners),
        command: if args.is_empty() {
            format!("[{}]", stat.comm)
        } else {
            args.join(" ")
        },
        args,
        exe: link("exe"),
        cwd: link("cwd"),
        root: link("root"),
        state: status
            .state
            .clone()
            .unwrap_or_else(|| stat.state.to_string()),
        user: id(status.uid, 0, true),
        effective_user: id(status.uid, 1, true),
        group: id(status.gid, 0, false),
        effective_group: id(status.gid, 1, false),
        groups: status
            .groups
            .iter()
            .map(|&g| IdName {
                id: g,
                name: names.group(g),
            })
            .collect(),
        start_time: start,
        start_time_local: format_datetime(start),
        cpu_percent: (clock.cpu_percent(stat.utime.saturating_add(stat.stime), stat.starttime)
            * 10.0)
            .round()
            / 10.0,
        memory,
        threads: stat.num_threads,
        limits: read_text(&dir.join("limits")).map(|t| parse::parse_limits(&t)),
        cgroup: read_text(&dir.join("cgroup")).map(|t| t.lines().map(str::to_string).collect()),
        namespaces,
        fds: read_fds(proc_root, &dir),
        environment,
        comm: stat.comm,
    })
}

/// The descriptors of the process in `dir`, sockets resolved against the
/// tables of its own network namespace.
fn read_fds(proc_root: &Path, dir: &Path) -> Option<Vec<Fd>> {
    let rd = std::fs::read_dir(dir.join("fd")).ok()?;
    let mut fds: Vec<Fd> = rd
        .flatten()
        .filter_map(|e| {
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let bytes = target.as_os_str().as_bytes();
            let kind = if bytes.starts_with(b"/") {
                "file"
            } else if bytes.starts_with(b"pipe:") {
                "pipe"
            } else if bytes.starts_with(b"socket:") {
                "socket"
            } else if bytes.starts_with(b"anon_inode:") {
                "anon"
            } else {
                "other"
            };
            Some(Fd {
                fd,
                kind,
                target: target.to_string_lossy().into_owned(),
                socket: None,
            })
        })
        .collect();
    fds.sort_by_key(|f| f.fd);

    if fds.iter().any(|f| f.kind == "socket") {
        let mut table = read_socket_tables(&dir.join("net"));
        if table.is_empty() {
            table = read_socket_tables(&proc_root.join("net"));
        }
        let by_inode: HashMap<u64, &SocketRow> = table.iter().map(|s| (s.inode, s)).collect();
        for f in &mut fds {
            if let Some(s) = parse::socket_inode(f.target.as_bytes()).and_then(|i| by_inode.get(&i))
            {
                f.socket = Some(s.describe());
            }
        }
    }
    Some(fds)
}
