//! Pure parsers over the bytes of `/proc` files.
//!
//! Nothing here touches the file system, so every parser is tested from
//! fixture strings. Every parser returns `None` (or skips a line) on content
//! it does not understand instead of panicking: `/proc` formats differ between
//! kernels, and a process may change its own `comm` to anything.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `PF_KTHREAD` from `include/linux/sched.h`: the task is a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// `__SO_ACCEPTCON` in `/proc/net/unix` flags: the socket is listening.
const SO_ACCEPTCON: u64 = 0x0001_0000;

/// The fields of `/proc/PID/stat` the inspector uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Process id (field 1).
    pub pid: i32,
    /// Executable name, up to 15 bytes, may contain spaces and parentheses.
    pub comm: String,
    /// One-letter state (R, S, D, Z, T, t, X, I, …).
    pub state: char,
    /// Parent pid; 0 for the namespace's init and for pids outside it.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id: survives reparenting, so daemonized children stay attributable.
    pub session: i32,
    /// Kernel `PF_*` flags; tells kernel threads apart.
    pub flags: u64,
    /// User-mode CPU time in clock ticks.
    pub utime: u64,
    /// Kernel-mode CPU time in clock ticks.
    pub stime: u64,
    /// Number of threads.
    pub num_threads: i64,
    /// Start time in clock ticks after boot.
    pub starttime: u64,
    /// Resident set size in pages.
    pub rss_pages: i64,
}

impl Stat {
    /// Whether the task is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parses `/proc/PID/stat`.
///
/// `comm` is everything between the first `(` and the *last* `)`, because a
/// process may call itself `a) b (c`; the fixed fields follow the last `)`.
pub fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(bytes.get(..open)?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = String::from_utf8_lossy(bytes.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Indexes below are field numbers from proc(5) minus 3.
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        flags: f.get(6)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        num_threads: f.get(17)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
        rss_pages: f.get(21)?.parse().ok()?,
    })
}

/// Real, effective, saved and filesystem ids from a `Uid:` or `Gid:` line.
pub type Ids = [u32; 4];

/// The fields of `/proc/PID/status` the inspector uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `Uid:` real, effective, saved, filesystem.
    pub uid: Option<Ids>,
    /// `Gid:` real, effective, saved, filesystem.
    pub gid: Option<Ids>,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Long state text, e.g. `S (sleeping)`.
    pub state: Option<String>,
}

/// Parses `/proc/PID/status`. With `uid_only` it stops after the `Uid:` line,
/// which is all `ps` needs and saves scanning the 50 lines after it.
pub fn parse_status(bytes: &[u8], uid_only: bool) -> Status {
    let mut st = Status::default();
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Uid" => {
                st.uid = parse_ids(value);
                if uid_only {
                    break;
                }
            }
            "Gid" => st.gid = parse_ids(value),
            "Groups" => {
                st.groups = value
                    .split_ascii_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect()
            }
            "State" => st.state = Some(value.trim().to_string()),
            _ => {}
        }
    }
    st
}

fn parse_ids(value: &str) -> Option<Ids> {
    let mut ids = [0u32; 4];
    let mut it = value.split_ascii_whitespace();
    for slot in &mut ids {
        *slot = it.next()?.parse().ok()?;
    }
    Some(ids)
}

/// Splits `/proc/PID/cmdline` into arguments.
///
/// Programs that rewrite their title (nginx, postgres) leave one string with
/// spaces and no NULs; that comes back as one argument, which joins the same.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The kernel ends every argument with a NUL, which leaves one empty tail.
    while args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    args
}

/// Joins `/proc/PID/cmdline` into one display string without allocating the
/// argument vector: NULs become spaces, trailing NULs and spaces go.
pub fn cmdline_string(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0 && b != b' ')
        .map_or(0, |i| i + 1);
    let trimmed = bytes.get(..end).unwrap_or_default();
    let mut s = String::from_utf8_lossy(trimmed).into_owned();
    if s.contains('\0') {
        s = s.replace('\0', " ");
    }
    s
}

/// Transport of an inet socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `/proc/net/tcp*`.
    Tcp,
    /// `/proc/net/udp*`.
    Udp,
}

/// One line of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetLine {
    /// Local address as `ip:port` (`[ip]:port` for v6).
    pub local: String,
    /// Remote address; port 0 shows as `*` like netstat.
    pub remote: String,
    /// Kernel state number (`st` column).
    pub state: u8,
    /// Socket inode, 0 for sockets without one (TIME_WAIT).
    pub inode: u64,
}

/// Parses one data line of a `/proc/net` inet table; `None` for the header
/// and anything malformed.
pub fn parse_inet_line(line: &str) -> Option<InetLine> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if !f.first()?.ends_with(':') {
        return None;
    }
    Some(InetLine {
        local: parse_inet_addr(f.get(1)?)?,
        remote: parse_inet_addr(f.get(2)?)?,
        state: u8::from_str_radix(f.get(3)?, 16).ok()?,
        inode: f.get(9)?.parse().ok()?,
    })
}

/// Decodes `0100007F:1F90` (v4) or 32 hex digits + port (v6).
///
/// The kernel prints each 32-bit word of the address with `%08X` in host
/// byte order, so the bytes of every word come back with `to_ne_bytes`.
pub fn parse_inet_addr(s: &str) -> Option<String> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let port = if port == 0 {
        "*".to_string()
    } else {
        port.to_string()
    };
    match addr.len() {
        8 => {
            let w = u32::from_str_radix(addr, 16).ok()?;
            Some(format!("{}:{port}", Ipv4Addr::from(w.to_ne_bytes())))
        }
        32 => {
            let mut octets = [0u8; 16];
            for (i, chunk) in octets.chunks_mut(4).enumerate() {
                let word = addr.get(i * 8..i * 8 + 8)?;
                let w = u32::from_str_radix(word, 16).ok()?;
                chunk.copy_from_slice(&w.to_ne_bytes());
            }
            Some(format!("[{}]:{port}", Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// Name of a TCP state number (`include/net/tcp_states.h`).
pub fn tcp_state_name(st: u8) -> &'static str {
    match st {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// Name of a UDP socket state: bound-but-unconnected UDP sockets sit in
/// TCP_CLOSE (7), which `ss` calls UNCONN; connected ones in ESTABLISHED.
pub fn udp_state_name(st: u8) -> &'static str {
    match st {
        0x01 => "ESTABLISHED",
        0x07 => "UNCONN",
        _ => tcp_state_name(st),
    }
}

/// Whether a socket counts as listening for `--listen`: TCP in LISTEN, or a
/// bound unconnected UDP socket (what `netstat -l` and `ss -l` show).
pub fn inet_is_listening(t: Transport, st: u8) -> bool {
    match t {
        Transport::Tcp => st == 0x0A,
        Transport::Udp => st == 0x07,
    }
}

/// One line of `/proc/net/unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixLine {
    /// `SOCK_*` type: 1 stream, 2 dgram, 5 seqpacket.
    pub sock_type: u16,
    /// State name (LISTEN, CONNECTED, UNCONNECTED, …).
    pub state: &'static str,
    /// Socket inode.
    pub inode: u64,
    /// Bound path, `@name` for the abstract namespace, empty when unbound.
    pub path: String,
}

impl UnixLine {
    /// Whether the socket accepts connections.
    pub fn is_listening(&self) -> bool {
        self.state == "LISTEN"
    }
}

/// Parses one data line of `/proc/net/unix`:
/// `Num RefCount Protocol Flags Type St Inode Path`. The path is the rest of
/// the line, since it may contain spaces.
pub fn parse_unix_line(line: &str) -> Option<UnixLine> {
    let mut rest = line.trim_start();
    let mut f = [""; 7];
    for slot in &mut f {
        let end = rest.find(' ').unwrap_or(rest.len());
        *slot = rest.get(..end)?;
        rest = rest.get(end..)?.trim_start();
    }
    let [num, _refcount, _protocol, flags, ty, st, inode] = f;
    if !num.ends_with(':') {
        return None;
    }
    let flags = u64::from_str_radix(flags, 16).ok()?;
    let st = u8::from_str_radix(st, 16).ok()?;
    let state = if flags & SO_ACCEPTCON != 0 {
        "LISTEN"
    } else {
        match st {
            1 => "UNCONNECTED",
            2 => "CONNECTING",
            3 => "CONNECTED",
            4 => "DISCONNECTING",
            _ => "UNKNOWN",
        }
    };
    Some(UnixLine {
        sock_type: u16::from_str_radix(ty, 16).ok()?,
        state,
        inode: inode.parse().ok()?,
        path: rest.trim_end().to_string(),
    })
}

/// Name of a unix socket type.
pub fn unix_type_name(t: u16) -> &'static str {
    match t {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => "unknown",
    }
}

/// One row of `/proc/PID/limits`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LimitRow {
    /// Resource, e.g. `Max open files`.
    pub name: String,
    /// Soft limit, `unlimited` or a number.
    pub soft: String,
    /// Hard limit.
    pub hard: String,
    /// Units (`seconds`, `bytes`, `files`, …), empty when the kernel prints none.
    pub units: String,
}

/// Parses `/proc/PID/limits`. The kernel pads columns with spaces and
/// resource names contain single spaces, so columns split on runs of two or
/// more spaces.
pub fn parse_limits(text: &str) -> Vec<LimitRow> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            Some(LimitRow {
                name: (*cols.first()?).to_string(),
                soft: (*cols.get(1)?).to_string(),
                hard: (*cols.get(2)?).to_string(),
                units: cols.get(3).map_or(String::new(), |u| (*u).to_string()),
            })
        })
        .collect()
}

/// Memory totals from `/proc/PID/smaps_rollup`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Resident set size.
    pub rss_kb: Option<u64>,
    /// Proportional set size: shared pages divided among their users.
    pub pss_kb: Option<u64>,
    /// Swapped-out anonymous memory.
    pub swap_kb: Option<u64>,
}

/// Parses `/proc/PID/smaps_rollup`.
pub fn parse_smaps_rollup(text: &str) -> Rollup {
    let mut r = Rollup::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kb = || {
            value
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
        };
        match key {
            "Rss" => r.rss_kb = kb(),
            "Pss" => r.pss_kb = kb(),
            "Swap" => r.swap_kb = kb(),
            _ => {}
        }
    }
    r
}

/// Finds `btime` (boot time, seconds since the epoch) in `/proc/stat`.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// First field of `/proc/uptime`: seconds since boot.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// Extracts the inode from an fd link target `socket:[12345]`.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let s = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (a) b)) S 1 1234 1234 0 -1 4194560 120 0 0 0 7 3 0 0 20 0 2 0 9876 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

    #[test]
    fn stat_with_parentheses_and_spaces_in_comm() {
        let s = parse_stat(STAT.as_bytes()).unwrap();
        assert_eq!(s.pid, 1234);
        assert_eq!(s.comm, "a) b)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 1234);
        assert_eq!(s.session, 1234);
        assert_eq!(s.utime, 7);
        assert_eq!(s.stime, 3);
        assert_eq!(s.num_threads, 2);
        assert_eq!(s.starttime, 9876);
        assert_eq!(s.rss_pages, 250);
        assert!(!s.is_kernel_thread());
    }

    #[test]
    fn stat_kernel_thread_flag() {
        let line = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 1 0 0 0";
        assert!(parse_stat(line.as_bytes()).unwrap().is_kernel_thread());
    }

    #[test]
    fn stat_garbage_is_none() {
        for bad in [
            "",
            "12",
            "12 (x",
            "x) 12 (",
            "12 (x) S",
            "abc (x) S 1 2 3 4 5 6",
        ] {
            assert_eq!(parse_stat(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_stat(&[0xff, b'(', b')', 0xfe]), None);
    }

    #[test]
    fn status_ids_and_groups() {
        let text = "Name:\tsleep\nState:\tS (sleeping)\nUid:\t1000\t1001\t1002\t1003\nGid:\t10\t11\t12\t13\nGroups:\t4 24 27 \n";
        let st = parse_status(text.as_bytes(), false);
        assert_eq!(st.uid, Some([1000, 1001, 1002, 1003]));
        assert_eq!(st.gid, Some([10, 11, 12, 13]));
        assert_eq!(st.groups, vec![4, 24, 27]);
        assert_eq!(st.state.as_deref(), Some("S (sleeping)"));
        let st = parse_status(text.as_bytes(), true);
        assert_eq!(st.gid, None);
        assert_eq!(parse_status(b"Uid:\tx\n", false).uid, None);
    }

    #[test]
    fn cmdline_forms() {
        assert_eq!(cmdline_string(b"sleep\x001000\x00"), "sleep 1000");
        assert_eq!(
            cmdline_string(b"nginx: master process /usr/sbin/nginx   "),
            "nginx: master process /usr/sbin/nginx"
        );
        assert_eq!(cmdline_string(b""), "");
        assert_eq!(cmdline_string(b"\x00\x00"), "");
        assert_eq!(
            parse_cmdline(b"sh\x00-c\x00\x00echo\x00"),
            ["sh", "-c", "", "echo"]
        );
        assert!(parse_cmdline(b"").is_empty());
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn tcp_v4_lines() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
        assert_eq!(parse_inet_line(header), None);
        let l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0";
        let p = parse_inet_line(l).unwrap();
        assert_eq!(p.local, "127.0.0.1:8080");
        assert_eq!(p.remote, "0.0.0.0:*");
        assert_eq!(tcp_state_name(p.state), "LISTEN");
        assert_eq!(p.inode, 31337);
        assert!(inet_is_listening(Transport::Tcp, p.state));
        let l = "   1: 0F02000A:0016 0102A8C0:C350 01 00000000:00000000 02:0006C3B2 00000000     0        0 4242 2 0000000000000000 20 4 30 10 -1";
        let p = parse_inet_line(l).unwrap();
        assert_eq!(p.local, "10.0.2.15:22");
        assert_eq!(p.remote, "192.168.2.1:50000");
        assert_eq!(tcp_state_name(p.state), "ESTABLISHED");
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn tcp_v6_lines() {
        let l = "   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0";
        let p = parse_inet_line(l).unwrap();
        assert_eq!(p.local, "[::1]:80");
        assert_eq!(p.remote, "[::]:*");
        let l = "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 777 1 0 20 4 30 10 -1";
        let p = parse_inet_line(l).unwrap();
        assert_eq!(p.local, "[::ffff:127.0.0.1]:8080");
        assert_eq!(p.remote, "[::ffff:127.0.0.1]:54321");
        let l = "   2: 000080FE00000000FF005450B6AD1DFE:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9 2 0 0";
        let p = parse_inet_line(l).unwrap();
        assert_eq!(p.local, "[fe80::5054:ff:fe1d:adb6]:546");
        assert_eq!(udp_state_name(p.state), "UNCONN");
        assert!(inet_is_listening(Transport::Udp, p.state));
    }

    #[test]
    fn inet_garbage() {
        assert_eq!(parse_inet_addr("0100007F"), None);
        assert_eq!(parse_inet_addr("0100007:0050"), None);
        assert_eq!(parse_inet_addr("ZZ00007F:0050"), None);
        assert_eq!(parse_inet_addr("0100007F:FFFFF"), None);
        assert_eq!(parse_inet_line("0: a b c"), None);
        assert_eq!(parse_inet_line(""), None);
    }

    #[test]
    fn unix_lines() {
        let header = "Num       RefCount Protocol Flags    Type St Inode Path";
        assert_eq!(parse_unix_line(header), None);
        let l = "0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/svinit.sock";
        let u = parse_unix_line(l).unwrap();
        assert_eq!(u.state, "LISTEN");
        assert!(u.is_listening());
        assert_eq!(u.inode, 23456);
        assert_eq!(u.path, "/run/svinit.sock");
        assert_eq!(unix_type_name(u.sock_type), "stream");
        let l = "0000000000000000: 00000003 00000000 00000000 0001 03 23457";
        let u = parse_unix_line(l).unwrap();
        assert_eq!(u.state, "CONNECTED");
        assert_eq!(u.path, "");
        let l =
            "0000000000000000: 00000002 00000000 00000000 0002 01 99 @abstract name with spaces";
        let u = parse_unix_line(l).unwrap();
        assert_eq!(u.path, "@abstract name with spaces");
        assert_eq!(unix_type_name(u.sock_type), "dgram");
        assert_eq!(u.state, "UNCONNECTED");
        assert_eq!(parse_unix_line("0000: 1 2"), None);
    }

    #[test]
    fn limits_table() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 1048576              files     \nMax realtime timeout      unlimited            unlimited            us        \nMax nice priority         0                    0                    \n";
        let rows = parse_limits(text);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].name, "Max open files");
        assert_eq!(rows[1].soft, "1024");
        assert_eq!(rows[1].hard, "1048576");
        assert_eq!(rows[1].units, "files");
        assert_eq!(rows[3].units, "");
    }

    #[test]
    fn rollup_and_misc() {
        let text = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0 [rollup]\nRss:                1234 kB\nPss:                 567 kB\nPss_Anon:  1 kB\nSwap:                  8 kB\n";
        let r = parse_smaps_rollup(text);
        assert_eq!(
            (r.rss_kb, r.pss_kb, r.swap_kb),
            (Some(1234), Some(567), Some(8))
        );
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_uptime("123.45 678.9\n"), Some(123.45));
        assert_eq!(socket_inode(b"socket:[42]"), Some(42));
        assert_eq!(socket_inode(b"pipe:[42]"), None);
    }
}
