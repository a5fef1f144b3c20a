//! One pass over `/proc/<pid>`: the rows of `svctl ps`.
//!
//! Per process we read exactly three small files — `stat` (pid, ppid,
//! session, state, times, threads, RSS, kernel-thread flag), `status` (only
//! up to the `Uid:` line, for the effective uid) and `cmdline` (skipped for
//! kernel threads) — through one reused buffer. That is what keeps 1,000
//! processes well under 100 ms.
//!
//! %CPU is the average since the process started (CPU time / age), like
//! `ps`: one pass, no sampling delay.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::parse::{self, Stat};
use super::users::Names;
use super::{list_pids, par_map_pids, read_into, Clock, InspectError, Miss, Owners};

/// One process as `svctl ps` shows it. Serializes to exactly the `ps --json`
/// fields of the spec; the skipped fields serve filtering and the tree.
#[derive(Debug, Clone, Serialize)]
pub struct ProcRow {
    /// Process id, in the reader's pid namespace.
    pub pid: i32,
    /// Parent pid (0 for the namespace's init).
    pub ppid: i32,
    /// Effective user name (or uid); `None` when `status` was unreadable.
    pub user: Option<String>,
    /// One-letter state (R, S, D, Z, T, I, …).
    pub state: String,
    /// CPU use averaged since the process started, percent of one CPU.
    pub cpu_percent: f64,
    /// Resident set size in KiB.
    pub rss_kb: u64,
    /// Number of threads.
    pub threads: i64,
    /// Start time, seconds since the epoch.
    pub start_time: u64,
    /// Program instance that owns the process; `None` without one.
    pub program: Option<String>,
    /// Full command line; `[comm]` for kernel threads and empty cmdlines.
    pub command: String,
    /// Effective uid, for `--user` filtering.
    #[serde(skip)]
    pub uid: Option<u32>,
    /// Session id, for attribution of reparented daemons.
    #[serde(skip)]
    pub session: i32,
    /// Process group id.
    #[serde(skip)]
    pub pgrp: i32,
    /// Short executable name from `stat`.
    #[serde(skip)]
    pub comm: String,
    /// Whether this is a kernel thread.
    #[serde(skip)]
    pub kernel_thread: bool,
}

/// Reusable scratch space for reading many processes.
#[derive(Default)]
pub(crate) struct Scratch {
    /// One buffer for all files: they are parsed before the next read.
    buf: Vec<u8>,
    /// Path under construction, `<root>/<pid>/<file>`.
    path: PathBuf,
}

/// Lists every process under `proc_root`, sorted by pid, with programs
/// attributed from `owners` and users named from `names`.
///
/// Processes that exit while being read are left out; only an unreadable
/// `proc_root` is an error.
pub fn list_processes(
    proc_root: &Path,
    owners: &Owners,
    names: &Names,
) -> Result<Vec<ProcRow>, InspectError> {
    let clock = Clock::read(proc_root);
    let pids = list_pids(proc_root)?;
    let mut rows = par_map_pids(&pids, |part| read_rows(proc_root, part, &clock, names));
    attribute(&mut rows, owners);
    Ok(rows)
}

/// Reads the rows of `pids`, skipping processes that vanished.
fn read_rows(proc_root: &Path, pids: &[i32], clock: &Clock, names: &Names) -> Vec<ProcRow> {
    let mut scratch = Scratch::default();
    pids.iter()
        // A process whose stat we cannot read is gone for our purposes.
        .filter_map(|&pid| read_row(proc_root, pid, clock, names, &mut scratch).ok())
        .collect()
}

/// Reads one process's row (program left empty).
pub(crate) fn read_row(
    proc_root: &Path,
    pid: i32,
    clock: &Clock,
    names: &Names,
    s: &mut Scratch,
) -> Result<ProcRow, Miss> {
    s.path.clear();
    s.path.push(proc_root);
    s.path.push(pid.to_string());

    s.path.push("stat");
    read_into(&s.path, &mut s.buf)?;
    let stat: Stat = parse::parse_stat(&s.buf).ok_or(Miss::Gone)?;
    s.path.pop();

    s.path.push("status");
    let uid = match read_into(&s.path, &mut s.buf) {
        Ok(()) => parse::parse_status(&s.buf, true).uid.map(|ids| ids[1]),
        Err(Miss::Gone) => return Err(Miss::Gone),
        Err(Miss::Denied) => None,
    };
    s.path.pop();

    // kthreadd's children are kernel threads even on kernels whose flags we
    // misread; they have no cmdline to read.
    let kernel_thread = stat.is_kernel_thread() || stat.ppid == 2 || stat.pid == 2;
    let command = if kernel_thread {
        format!("[{}]", stat.comm)
    } else {
        s.path.push("cmdline");
        let cmd = match read_into(&s.path, &mut s.buf) {
            Ok(()) => parse::cmdline_string(&s.buf),
            Err(Miss::Gone) => return Err(Miss::Gone),
            Err(Miss::Denied) => String::new(),
        };
        s.path.pop();
        if cmd.is_empty() {
            // Zombies and processes mid-exec have an empty cmdline; ps shows
            // the comm in brackets for them too.
            if stat.state == 'Z' {
                format!("[{}] <defunct>", stat.comm)
            } else {
                format!("[{}]", stat.comm)
            }
        } else {
            cmd
        }
    };

    let cpu = clock.cpu_percent(stat.utime.saturating_add(stat.stime), stat.starttime);
    Ok(ProcRow {
        pid: stat.pid,
        ppid: stat.ppid,
        user: uid.map(|u| names.user(u)),
        state: stat.state.to_string(),
        cpu_percent: (cpu * 10.0).round() / 10.0,
        rss_kb: clock.rss_kb(stat.rss_pages),
        threads: stat.num_threads,
        start_time: clock.start_epoch(stat.starttime),
        program: None,
        command,
        uid,
        session: stat.session,
        pgrp: stat.pgrp,
        comm: stat.comm,
        kernel_thread,
    })
}

/// Fills in `program` for every row: the owner of the nearest ancestor
/// (itself included) that is in `owners`, else the owner of its session
/// (daemons that double-forked and were reparented to PID 1 keep it).
pub fn attribute(rows: &mut [ProcRow], owners: &Owners) {
    if owners.is_empty() {
        return;
    }
    let ppid: HashMap<i32, i32> = rows.iter().map(|r| (r.pid, r.ppid)).collect();
    for row in rows.iter_mut() {
        row.program = owner_of(row.pid, row.session, &ppid, owners).cloned();
    }
}

/// The owner of one process found by reading its ancestors' `stat` files:
/// cheaper than listing every process when only a few need an answer.
pub fn owner_by_ancestors(
    proc_root: &Path,
    pid: i32,
    ppid: i32,
    session: i32,
    owners: &Owners,
) -> Option<String> {
    if owners.is_empty() {
        return None;
    }
    let mut chain = HashMap::new();
    let mut cur = (pid, ppid);
    // Bounded: pid chains are short, and a cycle must not hang us.
    for _ in 0..4096 {
        chain.insert(cur.0, cur.1);
        if owners.contains_key(&cur.0) || cur.1 <= 0 || chain.contains_key(&cur.1) {
            break;
        }
        let parent = std::fs::read(proc_root.join(cur.1.to_string()).join("stat"))
            .ok()
            .and_then(|b| parse::parse_stat(&b));
        match parent {
            Some(p) => cur = (p.pid, p.ppid),
            None => break,
        }
    }
    owner_of(pid, session, &chain, owners).cloned()
}

/// The owner of one pid given the (pid → ppid) map.
pub fn owner_of<'a>(
    pid: i32,
    session: i32,
    ppid: &HashMap<i32, i32>,
    owners: &'a Owners,
) -> Option<&'a String> {
    let mut cur = pid;
    // Bounded walk: a corrupt snapshot with a ppid cycle must not hang us.
    for _ in 0..=ppid.len() {
        if let Some(name) = owners.get(&cur) {
            return Some(name);
        }
        match ppid.get(&cur) {
            Some(&p) if p > 0 && p != cur => cur = p,
            _ => break,
        }
    }
    owners.get(&session)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// A minimal row for tests of attribution and the tree.
    pub(crate) fn row(pid: i32, ppid: i32, session: i32) -> ProcRow {
        ProcRow {
            pid,
            ppid,
            user: None,
            state: "S".into(),
            cpu_percent: 0.0,
            rss_kb: 0,
            threads: 1,
            start_time: 0,
            program: None,
            command: String::new(),
            uid: None,
            session,
            pgrp: session,
            comm: String::new(),
            kernel_thread: false,
        }
    }

    #[test]
    fn attribution_by_tree_then_session() {
        let mut rows = vec![
            row(1, 0, 1),
            row(10, 1, 10),  // main of web
            row(11, 10, 10), // worker
            row(12, 11, 12), // grandchild in its own session: still web by tree
            row(20, 1, 10),  // daemonized, reparented to 1, kept web's session
            row(30, 1, 30),  // unrelated
            row(40, 41, 40), // ppid cycle
            row(41, 40, 40),
        ];
        let owners: Owners = [(10, "web".to_string())].into();
        attribute(&mut rows, &owners);
        let got: Vec<_> = rows.iter().map(|r| r.program.as_deref()).collect();
        assert_eq!(
            got,
            [
                None,
                Some("web"),
                Some("web"),
                Some("web"),
                Some("web"),
                None,
                None,
                None
            ]
        );
    }
}
