//! Read-only `/proc` inspector behind `svctl ps`, `svctl inspect` and `svctl net`.
//!
//! # Layout
//!
//! - [`parse`]: pure parsers over `/proc` file contents, tested from fixtures.
//! - [`process`]: one pass over `/proc/<pid>` producing [`ProcRow`]s, with
//!   program attribution from an [`Owners`] map.
//! - [`tree`]: the parent/child forest of a snapshot, flattened for drawing.
//! - [`net`]: TCP/UDP/unix sockets joined to their owning processes.
//! - [`detail`]: everything about one pid.
//! - [`users`]: uid/gid → name from `/etc/passwd` and `/etc/group` (no NSS:
//!   the binary is static).
//!
//! Every entry point takes the `/proc` root as a `&Path` and the owner map as
//! an argument; this room never talks to the supervisor itself, so tests can
//! point it anywhere and svctl works without a supervisor.
//!
//! Processes come and go while we read: a file that vanishes (`ENOENT`,
//! `ESRCH`) drops that process from the listing silently, a file we may not
//! read (`EACCES`) becomes `None` (shown as `-`), and only an unreadable
//! `/proc` root fails a whole listing.

pub mod detail;
pub mod namespace;
pub mod net;
pub mod parse;
pub mod process;
pub mod tree;
pub mod users;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use detail::{inspect_pid, Detail};
pub use namespace::{pid_namespace, translate_owners};
pub use net::{list_sockets, SocketRow};
pub use process::{list_processes, ProcRow};
pub use tree::{tree_order, TreeLine};

/// Pid or session id → program instance name, supplied by the supervisor
/// (empty without one). Main processes are started with `setsid()`, so a main
/// pid is also the session id of everything it spawns.
pub type Owners = HashMap<i32, String>;

/// The default `/proc` mount.
pub const DEFAULT_PROC: &str = "/proc";

/// Errors that stop an inspector call as a whole.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// A file every answer depends on (the `/proc` directory itself) failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The pid does not exist (or exited while being read).
    #[error("no such process: {pid}")]
    NoSuchProcess {
        /// The pid asked for.
        pid: i32,
    },
}

/// How a per-process read went wrong, in the terms the listing cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// The process (or the file) is gone: skip the process.
    Gone,
    /// Anything else, chiefly `EACCES`: show `-`.
    Denied,
}

impl From<io::Error> for Miss {
    fn from(e: io::Error) -> Self {
        // ESRCH shows up when a task dies between open() and read().
        if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
            Miss::Gone
        } else {
            Miss::Denied
        }
    }
}

/// Reads a whole file into `buf` (cleared first), reusing its allocation:
/// the listing reads thousands of small files.
pub(crate) fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<(), Miss> {
    buf.clear();
    std::fs::File::open(path)?.read_to_end(buf)?;
    Ok(())
}

/// Reads a small file as text, `None` on any error.
pub(crate) fn read_text(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Lists the numeric entries of the `/proc` root, sorted.
pub(crate) fn list_pids(proc_root: &Path) -> Result<Vec<i32>, InspectError> {
    let rd = std::fs::read_dir(proc_root).map_err(|source| InspectError::Read {
        path: proc_root.to_path_buf(),
        source,
    })?;
    let mut pids: Vec<i32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p: &i32| p > 0)
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Below this many pids one thread is faster than spawning more.
const PARALLEL_THRESHOLD: usize = 200;
/// More threads than this only contend on the kernel's proc locks.
const MAX_WORKERS: usize = 4;

/// Runs `f` over contiguous chunks of `pids` on up to [`MAX_WORKERS`]
/// threads and concatenates the results in order.
///
/// Every process costs a few open/read/close round trips into the kernel;
/// on big namespaces, splitting the pid range across cores roughly divides
/// the wall time. Chunks are contiguous, so pid order is kept.
pub(crate) fn par_map_pids<T, F>(pids: &[i32], f: F) -> Vec<T>
where
    T: Send,
    F: Fn(&[i32]) -> Vec<T> + Sync,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    if workers == 1 || pids.len() < PARALLEL_THRESHOLD {
        return f(pids);
    }
    let chunk = pids.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            // A worker only panics on a bug; its pids are then missing
            // rather than the whole listing failing.
            if let Ok(part) = h.join() {
                out.extend(part);
            }
        }
        out
    })
}

/// Facts about the machine that turn tick counts into times.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `sysconf(_SC_CLK_TCK)`, the unit of stat's times.
    pub ticks_per_sec: u64,
    /// Page size in bytes, the unit of stat's RSS.
    pub page_size: u64,
    /// Boot time, seconds since the epoch (`btime` of `/proc/stat`).
    pub boot_time: u64,
    /// Seconds since boot (`/proc/uptime`).
    pub uptime: f64,
}

impl Clock {
    /// Reads the clock facts from `proc_root`, with Linux defaults where a
    /// value cannot be had (so a listing never fails over a missing field).
    pub fn read(proc_root: &Path) -> Clock {
        use nix::unistd::{sysconf, SysconfVar};
        let conf = |v, default: u64| {
            sysconf(v)
                .ok()
                .flatten()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .unwrap_or(default)
        };
        let uptime = read_text(&proc_root.join("uptime"))
            .and_then(|t| parse::parse_uptime(&t))
            .unwrap_or(0.0);
        let boot_time = read_text(&proc_root.join("stat"))
            .and_then(|t| parse::parse_btime(&t))
            .unwrap_or_else(|| now_secs().saturating_sub(uptime as u64));
        Clock {
            ticks_per_sec: conf(SysconfVar::CLK_TCK, 100),
            page_size: conf(SysconfVar::PAGE_SIZE, 4096),
            boot_time,
            uptime,
        }
    }

    /// Start time in seconds since the epoch from stat's `starttime` ticks.
    pub fn start_epoch(&self, starttime_ticks: u64) -> u64 {
        self.boot_time
            .saturating_add(starttime_ticks / self.ticks_per_sec)
    }

    /// Resident set size in KiB from stat's page count (negative reads as 0).
    pub fn rss_kb(&self, rss_pages: i64) -> u64 {
        u64::try_from(rss_pages)
            .unwrap_or(0)
            .saturating_mul(self.page_size)
            / 1024
    }

    /// CPU use since the process started, in percent of one CPU (as `ps`).
    pub fn cpu_percent(&self, cpu_ticks: u64, starttime_ticks: u64) -> f64 {
        let tps = self.ticks_per_sec as f64;
        let age = self.uptime - starttime_ticks as f64 / tps;
        if age <= 0.0 {
            return 0.0;
        }
        (cpu_ticks as f64 / tps) / age * 100.0
    }
}

/// Seconds since the epoch now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Broken-down local time of `epoch` seconds: (year, month 0-11, day, hour, minute, second).
pub fn local_time(epoch: u64) -> Option<(i32, i32, i32, i32, i32, i32)> {
    let t = libc::time_t::try_from(epoch).ok()?;
    // SAFETY: localtime_r only writes into the tm we pass; a zeroed tm is a
    // valid value of this plain C struct.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some((
        tm.tm_year + 1900,
        tm.tm_mon,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
    ))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `ps`-style START column: `HH:MM` when started today, else `Mon DD`.
pub fn format_start(epoch: u64, now: u64) -> String {
    match (local_time(epoch), local_time(now)) {
        (Some((y, m, d, hh, mm, _)), Some((ny, nm, nd, ..))) => {
            if (y, m, d) == (ny, nm, nd) {
                format!("{hh:02}:{mm:02}")
            } else {
                let mon = usize::try_from(m)
                    .ok()
                    .and_then(|i| MONTHS.get(i))
                    .unwrap_or(&"???");
                format!("{mon} {d:02}")
            }
        }
        _ => "-".to_string(),
    }
}

/// Full local date and time, `YYYY-MM-DD HH:MM:SS`.
pub fn format_datetime(epoch: u64) -> String {
    match local_time(epoch) {
        Some((y, m, d, hh, mm, ss)) => {
            format!("{y:04}-{:02}-{d:02} {hh:02}:{mm:02}:{ss:02}", m + 1)
        }
        None => "-".to_string(),
    }
}
