//! Text rendering of svctl answers: pure functions from responses to strings.

use std::fmt::Write as _;

use crate::control::protocol::{ActionResult, ProgramStatus};

/// Human uptime: `3s`, `5m12s`, `2h03m`, `4d01h`.
pub fn uptime(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3_599 => format!("{minutes}m{:02}s", secs % 60),
        3_600..=86_399 => format!("{}h{minutes:02}m", secs / 3_600),
        _ => format!("{days}d{hours:02}h"),
    }
}

/// The `status` table: NAME STATE PID UPTIME RESTARTS DESCRIPTION.
pub fn status_table(programs: &[ProgramStatus]) -> String {
    let header = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "DESCRIPTION"].map(String::from);
    let rows: Vec<[String; 6]> = programs
        .iter()
        .map(|p| {
            let (pid, up) = match p.pid {
                Some(pid) => (pid.to_string(), uptime(p.uptime_secs)),
                None => ("-".to_owned(), "-".to_owned()),
            };
            [
                p.name.clone(),
                p.state.clone(),
                pid,
                up,
                p.restarts.to_string(),
                printable(&p.description),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// Left-aligned columns separated by two spaces; the last column is not
/// padded, so lines carry no trailing blanks.
fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One line per start/stop/restart/signal result: `nginx: running`, or
/// `redis: fatal (spawn failed: ...)`.
pub fn action_results(results: &[ActionResult]) -> String {
    let mut out = String::new();
    for result in results {
        let _ = write!(out, "{}: {}", result.name, result.state);
        if !result.message.is_empty() {
            let _ = write!(out, " ({})", printable(&result.message));
        }
        out.push('\n');
    }
    out
}

/// What a reload did: `added: x` / `changed: y` / `removed: z` lines, or `no changes`.
pub fn reload_summary(added: &[String], changed: &[String], removed: &[String]) -> String {
    let mut out = String::new();
    for (what, names) in [("added", added), ("changed", changed), ("removed", removed)] {
        for name in names {
            let _ = writeln!(out, "{what}: {name}");
        }
    }
    if out.is_empty() {
        out.push_str("no changes\n");
    }
    out
}

/// An error answer for stderr, with the known names when there are some.
pub fn error(message: &str, known: &[String]) -> String {
    let mut out = format!("svctl: {}\n", clean(message.trim_end(), true));
    if !known.is_empty() {
        let _ = writeln!(out, "known programs: {}", known.join(", "));
    }
    out
}

/// One line for a table cell: control characters (from a program's
/// STATUS= text, say) become spaces so they cannot garble the terminal.
fn printable(text: &str) -> String {
    clean(text, false)
}

/// Replace control characters by spaces, keeping newlines if asked (a
/// reload error lists one config problem per line).
fn clean(text: &str, keep_newlines: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\n' if keep_newlines => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(name: &str, pid: Option<i32>, uptime_secs: u64, description: &str) -> ProgramStatus {
        ProgramStatus {
            name: name.into(),
            program: name.into(),
            instance: None,
            state: if pid.is_some() { "running" } else { "fatal" }.into(),
            pid,
            uptime_secs,
            restarts: 2,
            exit_code: None,
            signal: None,
            description: description.into(),
            healthy: pid.is_some(),
        }
    }

    #[test]
    fn uptime_is_short_and_human() {
        assert_eq!(uptime(0), "0s");
        assert_eq!(uptime(3), "3s");
        assert_eq!(uptime(312), "5m12s");
        assert_eq!(uptime(2 * 3600 + 3 * 60 + 59), "2h03m");
        assert_eq!(uptime(4 * 86_400 + 3600 + 5), "4d01h");
    }

    #[test]
    fn status_table_aligns_columns_and_dashes_missing_pids() {
        let text = status_table(&[
            program("nginx", Some(42), 312, ""),
            program("redis", None, 0, "spawn failed:\tENOENT"),
        ]);
        assert_eq!(
            text,
            "NAME   STATE    PID  UPTIME  RESTARTS  DESCRIPTION\n\
             nginx  running  42   5m12s   2\n\
             redis  fatal    -    -       2         spawn failed: ENOENT\n"
        );
    }

    #[test]
    fn results_reload_and_errors_render_one_line_each() {
        let result = |name: &str, ok: bool, state: &str, message: &str| ActionResult {
            name: name.into(),
            ok,
            state: state.into(),
            message: message.into(),
        };
        assert_eq!(
            action_results(&[
                result("nginx", true, "running", ""),
                result("redis", false, "fatal", "spawn failed: x"),
            ]),
            "nginx: running\nredis: fatal (spawn failed: x)\n"
        );
        assert_eq!(reload_summary(&[], &[], &[]), "no changes\n");
        assert_eq!(
            reload_summary(&["a".into()], &[], &["b".into(), "c".into()]),
            "added: a\nremoved: b\nremoved: c\n"
        );
        assert_eq!(
            error("unknown program \"x\"", &["a".into(), "b".into()]),
            "svctl: unknown program \"x\"\nknown programs: a, b\n"
        );
        assert_eq!(
            error("a.toml:1:2: bad\nb.toml:3:4: worse\x1b[2J\n", &[]),
            "svctl: a.toml:1:2: bad\nb.toml:3:4: worse [2J\n"
        );
    }
}
