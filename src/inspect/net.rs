//! Sockets of the network namespace: `/proc/net/{tcp,tcp6,udp,udp6,unix}`
//! joined to their owners by a scan of every process's `fd/` links
//! (`socket:[inode]`), like `netstat -p` and `ss -p`.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use super::parse::{self, Transport};
use super::process::{owner_by_ancestors, read_row, Scratch};
use super::users::Names;
use super::{list_pids, par_map_pids, read_text, Clock, InspectError, Owners};

/// One socket as `svctl net` shows it. Serializes to the `net --json` fields
/// of the spec plus `program`.
#[derive(Debug, Clone, Serialize)]
pub struct SocketRow {
    /// `tcp`, `tcp6`, `udp`, `udp6` or `unix`.
    pub proto: &'static str,
    /// Local address (`ip:port`, `[ip6]:port`) or unix path (`@name` if abstract, empty if unbound).
    pub local: String,
    /// Remote address; `None` for unix sockets, whose peer `/proc/net/unix` does not show.
    pub remote: Option<String>,
    /// State: TCP state name, `UNCONN`/`ESTABLISHED` for UDP, `LISTEN`/`CONNECTED`/… for unix.
    pub state: &'static str,
    /// Lowest pid holding the socket open; `None` when unknown (no inode, or not ours to see).
    pub pid: Option<i32>,
    /// Command line of that process.
    pub command: Option<String>,
    /// Program owning that process.
    pub program: Option<String>,
    /// Socket inode, the join key with `fd/` links.
    #[serde(skip)]
    pub inode: u64,
    /// Whether the socket counts as listening for `--listen`.
    #[serde(skip)]
    pub listening: bool,
    /// Unix socket type (stream, dgram, seqpacket); empty for inet sockets.
    #[serde(skip)]
    pub unix_type: &'static str,
}

impl SocketRow {
    /// One-line description for `inspect`'s fd list, e.g.
    /// `tcp 127.0.0.1:8080 -> 0.0.0.0:* LISTEN`.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => format!("{} {} -> {} {}", self.proto, self.local, r, self.state),
            None => {
                let local = if self.local.is_empty() {
                    "(unbound)"
                } else {
                    &self.local
                };
                format!("unix {} {} {}", self.unix_type, local, self.state)
            }
        }
    }
}

/// Reads the socket tables of a `net` directory (`<proc>/net` or
/// `<proc>/<pid>/net`). Missing tables (no IPv6, no permission) are skipped.
pub fn read_socket_tables(net_dir: &Path) -> Vec<SocketRow> {
    let mut out = Vec::new();
    let inet = [
        ("tcp", Transport::Tcp),
        ("tcp6", Transport::Tcp),
        ("udp", Transport::Udp),
        ("udp6", Transport::Udp),
    ];
    for (proto, transport) in inet {
        let Some(text) = read_text(&net_dir.join(proto)) else {
            continue;
        };
        for line in text.lines() {
            let Some(l) = parse::parse_inet_line(line) else {
                continue;
            };
            out.push(SocketRow {
                proto,
                listening: parse::inet_is_listening(transport, l.state),
                state: match transport {
                    Transport::Tcp => parse::tcp_state_name(l.state),
                    Transport::Udp => parse::udp_state_name(l.state),
                },
                local: l.local,
                remote: Some(l.remote),
                pid: None,
                command: None,
                program: None,
                inode: l.inode,
                unix_type: "",
            });
        }
    }
    if let Some(text) = read_text(&net_dir.join("unix")) {
        for line in text.lines() {
            let Some(u) = parse::parse_unix_line(line) else {
                continue;
            };
            out.push(SocketRow {
                proto: "unix",
                listening: u.is_listening(),
                state: u.state,
                local: u.path,
                remote: None,
                pid: None,
                command: None,
                program: None,
                inode: u.inode,
                unix_type: parse::unix_type_name(u.sock_type),
            });
        }
    }
    out
}

/// Socket inode → lowest pid holding it, from every `<proc>/<pid>/fd/*` link,
/// for the inodes in `wanted` only. Processes that vanish or deny us their
/// fds are skipped.
pub fn socket_owners(proc_root: &Path, pids: &[i32], wanted: &HashSet<u64>) -> HashMap<u64, i32> {
    let found = par_map_pids(pids, |part| {
        let mut out = Vec::new();
        for &pid in part {
            let dir = proc_root.join(pid.to_string()).join("fd");
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let Ok(target) = std::fs::read_link(entry.path()) else {
                    continue;
                };
                if let Some(inode) = parse::socket_inode(target.as_os_str().as_bytes()) {
                    if wanted.contains(&inode) {
                        out.push((inode, pid));
                    }
                }
            }
        }
        out
    });
    let mut map: HashMap<u64, i32> = HashMap::new();
    for (inode, pid) in found {
        // Forked servers share a listening socket; the lowest pid is usually
        // the master, which is the useful answer.
        map.entry(inode)
            .and_modify(|p| *p = (*p).min(pid))
            .or_insert(pid);
    }
    map
}

/// Lists the sockets of the reader's network namespace with their owning
/// processes, in table order: tcp, tcp6, udp, udp6, unix.
///
/// Only the few processes that hold a socket get their row read, and their
/// program is found through their ancestors, so the cost is one fd scan.
pub fn list_sockets(
    proc_root: &Path,
    owners: &Owners,
    names: &Names,
    listen_only: bool,
) -> Result<Vec<SocketRow>, InspectError> {
    let pids = list_pids(proc_root)?;
    let mut sockets = read_socket_tables(&proc_root.join("net"));
    if listen_only {
        sockets.retain(|s| s.listening);
    }
    let wanted: HashSet<u64> = sockets
        .iter()
        .map(|s| s.inode)
        .filter(|&i| i != 0)
        .collect();
    if wanted.is_empty() {
        return Ok(sockets);
    }
    let holders = socket_owners(proc_root, &pids, &wanted);
    let clock = Clock::read(proc_root);
    let mut scratch = Scratch::default();
    let mut procs: HashMap<i32, Option<(String, Option<String>)>> = HashMap::new();
    for s in &mut sockets {
        let Some(&pid) = holders.get(&s.inode) else {
            continue;
        };
        s.pid = Some(pid);
        let info = procs.entry(pid).or_insert_with(|| {
            let row = read_row(proc_root, pid, &clock, names, &mut scratch).ok()?;
            let program = owner_by_ancestors(proc_root, row.pid, row.ppid, row.session, owners);
            Some((row.command, program))
        });
        if let Some((command, program)) = info {
            s.command = Some(command.clone());
            s.program = program.clone();
        }
    }
    Ok(sockets)
}
