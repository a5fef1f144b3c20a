//! The resolved configuration as text, for `svinit --check`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{
    signal_name, Config, Kind, LogFormat, Output, Probe, ProbeCheck, ProgramSpec, RestartPolicy,
    Rlimit,
};

/// The resolved configuration, readable: the files, `[supervisor]`, then one
/// block per program instance in start order.
pub fn describe(config: &Config) -> String {
    let mut out = String::new();
    let files: Vec<String> = config
        .files
        .iter()
        .map(|file| file.display().to_string())
        .collect();
    let supervisor = &config.supervisor;
    let forward: Vec<String> = supervisor
        .forward
        .iter()
        .map(|(signal, names)| {
            let name = signal.signal().map_or("?", signal_name);
            format!("{name} -> {}", names.join(", "))
        })
        .collect();
    let log_format = match supervisor.log_format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    let rows = [
        ("files", files.join(", ")),
        ("socket", supervisor.socket.display().to_string()),
        ("socket_mode", format!("{:04o}", supervisor.socket_mode)),
        ("shutdown_timeout", duration(supervisor.shutdown_timeout)),
        ("log_format", log_format.to_owned()),
        (
            "log_buffer",
            format!("{} bytes", supervisor.log_buffer_bytes),
        ),
        ("forward", list_or(&forward, "none")),
    ];
    block(&mut out, "supervisor", &rows);
    for program in &config.programs {
        out.push('\n');
        block(
            &mut out,
            &format!("program {}", program.name),
            &program_rows(program),
        );
    }
    out
}

/// Writes a titled block of aligned `key  value` rows.
fn block(out: &mut String, title: &str, rows: &[(&str, String)]) {
    let _ = writeln!(out, "[{title}]");
    for (key, value) in rows {
        let _ = writeln!(out, "  {key:<16} {value}");
    }
}

/// The rows of one program instance.
fn program_rows(program: &ProgramSpec) -> Vec<(&'static str, String)> {
    let user = program.user.as_ref().map_or_else(
        || "(svinit's)".to_owned(),
        |c| {
            let groups: Vec<String> = c.groups.iter().map(u32::to_string).collect();
            format!(
                "{} (uid {}, gid {}, groups [{}], home {})",
                c.user_name,
                c.uid,
                c.gid,
                groups.join(", "),
                c.home.display()
            )
        },
    );
    let environment: Vec<String> = program
        .environment
        .iter()
        .map(|(name, value)| format!("{name}={}", shell_words::quote(value)))
        .collect();
    let limits: Vec<String> = program.limits.iter().map(limit).collect();
    let exit_codes: Vec<String> = program.exit_codes.iter().map(i32::to_string).collect();
    vec![
        ("defined_at", program.defined_at.clone()),
        (
            "instance",
            program
                .instance
                .map_or_else(|| "none".to_owned(), |n| n.to_string()),
        ),
        ("command", shell_words::join(&program.command)),
        ("directory", program.directory.display().to_string()),
        ("user", user),
        ("environment", environment.join(" ")),
        (
            "umask",
            program
                .umask
                .map_or_else(|| "(inherited)".to_owned(), |m| format!("{m:04o}")),
        ),
        ("limits", list_or(&limits, "none")),
        (
            "kind",
            match program.kind {
                Kind::Service => "service",
                Kind::Oneshot => "oneshot",
            }
            .to_owned(),
        ),
        ("autostart", program.autostart.to_string()),
        (
            "restart",
            match program.restart {
                RestartPolicy::Always => "always",
                RestartPolicy::OnFailure => "on-failure",
                RestartPolicy::Never => "never",
            }
            .to_owned(),
        ),
        ("exit_codes", exit_codes.join(", ")),
        ("start_secs", duration(program.start_secs)),
        ("start_retries", program.start_retries.to_string()),
        ("backoff", duration(program.backoff)),
        ("stop_signal", signal_name(program.stop_signal).to_owned()),
        ("stop_timeout", duration(program.stop_timeout)),
        ("stop_group", program.stop_group.to_string()),
        ("priority", program.priority.to_string()),
        ("depends_on", list_or(&program.depends_on, "none")),
        ("ready", probe(program.ready.as_ref(), false)),
        ("health", probe(program.health.as_ref(), true)),
        ("critical", program.critical.to_string()),
        ("stdout", output(&program.stdout)),
        ("stderr", output(&program.stderr)),
    ]
}

/// Items joined by ", ", or `none` when empty.
fn list_or(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_owned()
    } else {
        items.join(", ")
    }
}

/// A duration the way it is written in the config: `500ms`, `10s`, `1.5s`.
fn duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else if millis < 1000 {
        format!("{millis}ms")
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// One rlimit: `nofile=65536` or `core=0/unlimited`.
fn limit(limit: &Rlimit) -> String {
    let value = |v: u64| {
        if v == u64::MAX {
            "unlimited".to_owned()
        } else {
            v.to_string()
        }
    };
    let name = super::convert::rlimit_name(limit.resource);
    if limit.soft == limit.hard {
        format!("{name}={}", value(limit.soft))
    } else {
        format!("{name}={}/{}", value(limit.soft), value(limit.hard))
    }
}

/// A probe: `tcp 127.0.0.1:6379 (timeout 60s, every 1s)`.
fn probe(probe: Option<&Probe>, health: bool) -> String {
    let Some(probe) = probe else {
        return "none".to_owned();
    };
    let check = match &probe.check {
        ProbeCheck::Tcp(address) => format!("tcp {address}"),
        ProbeCheck::Http(url) => format!("http {url}"),
        ProbeCheck::Exec(argv) => format!("exec {}", shell_words::join(argv)),
        ProbeCheck::Notify => "notify".to_owned(),
        ProbeCheck::Fd(fd) => format!("fd {fd}"),
    };
    let retries = if health {
        format!(", {} retries", probe.retries)
    } else {
        String::new()
    };
    format!(
        "{check} (timeout {}, every {}{retries})",
        duration(probe.timeout),
        duration(probe.interval)
    )
}

/// An output destination.
fn output(output: &Output) -> String {
    match output {
        Output::Console => "console".to_owned(),
        Output::Passthrough => "passthrough".to_owned(),
        Output::Null => "null".to_owned(),
        Output::Stdout => "stdout".to_owned(),
        Output::File {
            path,
            max_bytes,
            backups,
        } => format!(
            "file {} (max {max_bytes} bytes, {backups} backups)",
            path.display()
        ),
    }
}
