//! Converting parsed files into model values: every key checked, every error
//! located, defaults from SPEC section 2 applied.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{Loc, Sink, Source};
use super::values::{self, suggest};
use crate::model::{
    Credentials, Kind, LogFormat, Output, Probe, ProbeCheck, ProgramSpec, RestartPolicy, Rlimit,
    SignalName, SupervisorSpec,
};
use crate::users;

/// A spanned TOML value.
type Value<'i> = Spanned<DeValue<'i>>;

/// Keys of `[supervisor]`.
const SUPERVISOR_KEYS: &[&str] = &[
    "socket",
    "socket_mode",
    "shutdown_timeout",
    "log_format",
    "log_buffer",
    "include",
    "forward",
];

/// Keys of `[program.NAME]`.
const PROGRAM_KEYS: &[&str] = &[
    "command",
    "directory",
    "user",
    "group",
    "environment",
    "umask",
    "limits",
    "kind",
    "autostart",
    "restart",
    "exit_codes",
    "start_secs",
    "start_retries",
    "backoff",
    "stop_signal",
    "stop_timeout",
    "stop_group",
    "priority",
    "depends_on",
    "instances",
    "ready",
    "health",
    "critical",
    "stdout",
    "stderr",
];

/// The checks a probe may use (exactly one).
const PROBE_CHECKS: &[&str] = &["tcp", "http", "exec", "notify", "fd"];

/// Signals that cannot or must not be forwarded.
const UNFORWARDABLE: &[Signal] = &[
    Signal::SIGCHLD,
    Signal::SIGKILL,
    Signal::SIGSTOP,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// Most instances one program may have (a typo guard, not a real limit).
const MAX_INSTANCES: u32 = 10_000;

/// `limits` keys and their `RLIMIT_*` constants.
#[allow(clippy::unnecessary_cast)] // the constants are u32 on glibc, i32 on musl
fn rlimit_resources() -> [(&'static str, i32); 15] {
    [
        ("as", libc::RLIMIT_AS as i32),
        ("core", libc::RLIMIT_CORE as i32),
        ("cpu", libc::RLIMIT_CPU as i32),
        ("data", libc::RLIMIT_DATA as i32),
        ("fsize", libc::RLIMIT_FSIZE as i32),
        ("locks", libc::RLIMIT_LOCKS as i32),
        ("memlock", libc::RLIMIT_MEMLOCK as i32),
        ("msgqueue", libc::RLIMIT_MSGQUEUE as i32),
        ("nice", libc::RLIMIT_NICE as i32),
        ("nofile", libc::RLIMIT_NOFILE as i32),
        ("nproc", libc::RLIMIT_NPROC as i32),
        ("rss", libc::RLIMIT_RSS as i32),
        ("rtprio", libc::RLIMIT_RTPRIO as i32),
        ("sigpending", libc::RLIMIT_SIGPENDING as i32),
        ("stack", libc::RLIMIT_STACK as i32),
    ]
}

/// The `limits` key of an `RLIMIT_*` constant.
pub(crate) fn rlimit_name(resource: i32) -> &'static str {
    rlimit_resources()
        .iter()
        .find(|(_, constant)| *constant == resource)
        .map_or("?", |(name, _)| *name)
}

/// A program as written, before instances and dependencies are resolved.
#[derive(Debug)]
pub(crate) struct Draft {
    /// The resolved settings, with `{name}`/`{instance}` not yet substituted,
    /// `name` = the program name and `depends_on` empty.
    pub template: ProgramSpec,
    /// How many instances (1 = no instance suffix).
    pub instances: u32,
    /// `depends_on` entries as written, with their positions.
    pub depends_on: Vec<(String, Loc)>,
}

/// Everything read from all files, still to be cross-checked.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// `[supervisor]`, or the defaults.
    pub supervisor: SupervisorSpec,
    /// Program names named in `[supervisor.forward]`, with positions.
    pub forward_targets: Vec<(String, Loc)>,
    /// Every program, in no particular order.
    pub drafts: Vec<Draft>,
}

/// Converts every file; errors go to `sink`.
pub(crate) fn convert(sources: &[Source], etc_dir: &Path, sink: &mut Sink) -> Parsed {
    let mut parsed = Parsed::default();
    let mut supervisor_at: Option<Loc> = None;
    let mut programs_at: HashMap<String, Loc> = HashMap::new();
    for source in sources {
        let table = match DeTable::parse(&source.text) {
            Ok(table) => table,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                sink.at(
                    source,
                    &span,
                    None,
                    format!("TOML syntax: {}", error.message()),
                );
                continue;
            }
        };
        let mut file = FileReader {
            source,
            sink: &mut *sink,
            etc_dir,
        };
        file.known_keys(table.get_ref(), "", &["supervisor", "program"]);
        if let Some((key, value)) = table.get_ref().get_key_value("supervisor") {
            let loc = source.loc(&key.span(), Some("supervisor"));
            match &supervisor_at {
                Some(first) => file.sink.push(loc.error(format!(
                    "[supervisor] appears more than once: first at {}",
                    first.file_line()
                ))),
                None => {
                    supervisor_at = Some(loc);
                    if let Some(table) = file.table(value, "supervisor") {
                        file.supervisor(table, &mut parsed);
                    }
                }
            }
        }
        let Some(programs) = table.get_ref().get("program") else {
            continue;
        };
        let Some(programs) = file.table(programs, "program") else {
            continue;
        };
        for (name, value) in programs.iter() {
            let path = format!("program.{}", name.get_ref());
            let loc = source.loc(&name.span(), Some(&path));
            if let Some(first) = programs_at.get(name.get_ref().as_ref()) {
                file.sink.push(loc.error(format!(
                    "program `{}` is defined twice: first at {}, again at {}",
                    name.get_ref(),
                    first.file_line(),
                    loc.file_line()
                )));
                continue;
            }
            programs_at.insert(name.get_ref().to_string(), loc.clone());
            if let Some(table) = file.table(value, &path) {
                if let Some(draft) = file.program(name.get_ref(), loc, table) {
                    parsed.drafts.push(draft);
                }
            }
        }
    }
    parsed
}

/// Reads one file's tables, reporting errors at their positions.
struct FileReader<'a> {
    /// The file being read.
    source: &'a Source,
    /// Where errors go.
    sink: &'a mut Sink,
    /// Directory holding passwd and group.
    etc_dir: &'a Path,
}

/// Joins a table path and a key: `program.nginx` + `user`.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl FileReader<'_> {
    /// Records an error at a value or key.
    fn error(&mut self, span: &std::ops::Range<usize>, key: &str, message: impl Into<String>) {
        self.sink.at(self.source, span, Some(key), message);
    }

    /// The table in a value, or an error.
    fn table<'t, 'i>(&mut self, value: &'t Value<'i>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(&value.span(), key, values::expected("a table", other));
                None
            }
        }
    }

    /// Reports every key of `table` not in `known`, with a suggestion when
    /// one is close.
    fn known_keys(&mut self, table: &DeTable<'_>, path: &str, known: &[&str]) {
        for key in table.keys() {
            let word = key.get_ref().as_ref();
            if known.contains(&word) {
                continue;
            }
            let message = match suggest(word, known) {
                Some(close) => format!("unknown key `{word}`, did you mean `{close}`?"),
                None => format!("unknown key `{word}` (valid keys: {})", known.join(", ")),
            };
            self.error(&key.span(), &join(path, word), message);
        }
    }

    /// Converts `table[key]` with `parse`, reporting its error; `None` when
    /// the key is absent or invalid.
    fn field<T>(
        &mut self,
        table: &DeTable<'_>,
        path: &str,
        key: &str,
        parse: impl FnOnce(&DeValue<'_>) -> Result<T, String>,
    ) -> Option<T> {
        let value = table.get(key)?;
        self.check(value, &join(path, key), parse)
    }

    /// Converts one value with `parse`, reporting its error at the value.
    fn check<T>(
        &mut self,
        value: &Value<'_>,
        key: &str,
        parse: impl FnOnce(&DeValue<'_>) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(converted) => Some(converted),
            Err(message) => {
                self.error(&value.span(), key, message);
                None
            }
        }
    }

    /// `[supervisor]`; `include` was handled when the files were read.
    fn supervisor(&mut self, table: &DeTable<'_>, parsed: &mut Parsed) {
        const PATH: &str = "supervisor";
        self.known_keys(table, PATH, SUPERVISOR_KEYS);
        let spec = &mut parsed.supervisor;
        if let Some(socket) = self.field(table, PATH, "socket", values::string) {
            spec.socket = PathBuf::from(socket);
        }
        if let Some(mode) = self.field(table, PATH, "socket_mode", |v| values::octal(v, 0o7777)) {
            spec.socket_mode = mode;
        }
        if let Some(timeout) = self.field(table, PATH, "shutdown_timeout", values::duration) {
            spec.shutdown_timeout = timeout;
        }
        let formats = [("text", LogFormat::Text), ("json", LogFormat::Json)];
        if let Some(format) = self.field(table, PATH, "log_format", |v| values::choice(v, &formats))
        {
            spec.log_format = format;
        }
        let buffer = self.field(table, PATH, "log_buffer", |v| {
            let bytes = values::size(v)?;
            usize::try_from(bytes).map_err(|_| format!("{bytes} bytes is too large"))
        });
        if let Some(bytes) = buffer {
            spec.log_buffer_bytes = bytes;
        }
        if let Some(forward) = table.get("forward") {
            self.forward(forward, parsed);
        }
    }

    /// `[supervisor.forward]`: SIGNAME = ["program", …].
    fn forward(&mut self, value: &Value<'_>, parsed: &mut Parsed) {
        const PATH: &str = "supervisor.forward";
        let Some(table) = self.table(value, PATH) else {
            return;
        };
        for (name, targets) in table.iter() {
            let key = join(PATH, name.get_ref());
            let signal = match crate::model::parse_signal(name.get_ref()) {
                None => {
                    let message = format!("invalid signal \"{}\"", name.get_ref());
                    self.error(&name.span(), &key, message);
                    None
                }
                Some(signal) if UNFORWARDABLE.contains(&signal) => {
                    let message = format!("{} cannot be forwarded", signal.as_str());
                    self.error(&name.span(), &key, message);
                    None
                }
                Some(signal) => Some(signal),
            };
            let names = self.located_names(targets, &key);
            if let Some(signal) = signal {
                let list = names.iter().map(|(name, _)| name.clone()).collect();
                parsed
                    .supervisor
                    .forward
                    .insert(SignalName(signal as i32), list);
            }
            parsed.forward_targets.extend(names);
        }
    }

    /// An array of program names, each with its position for later checks.
    fn located_names(&mut self, value: &Value<'_>, key: &str) -> Vec<(String, Loc)> {
        let Some(items) = value.get_ref().as_array() else {
            let message = values::expected("an array of program names", value.get_ref());
            self.error(&value.span(), key, message);
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let name = self.check(item, key, values::string)?;
                Some((name, self.source.loc(&item.span(), Some(key))))
            })
            .collect()
    }

    /// `[program.NAME]`.
    fn program(&mut self, name: &str, loc: Loc, table: &DeTable<'_>) -> Option<Draft> {
        let path = format!("program.{name}");
        let path = path.as_str();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_name {
            self.sink.push(loc.error(format!(
                "invalid program name \"{name}\": use letters, digits, '_', '.' and '-' (':' separates instances)"
            )));
        }
        self.known_keys(table, path, PROGRAM_KEYS);
        let command = self.field(table, path, "command", values::command);
        if command.is_none() && !table.contains_key("command") {
            self.sink
                .push(loc.error("missing required key `command`".to_owned()));
        }
        let directory = self
            .field(table, path, "directory", |v| {
                let directory = values::string(v)?;
                if directory.starts_with('/') {
                    Ok(directory)
                } else {
                    Err(format!("\"{directory}\" is not an absolute path"))
                }
            })
            .unwrap_or_else(|| "/".to_owned());
        let user = self.credentials(table, path);
        let environment = self.environment(table, path);
        let umask = self.field(table, path, "umask", |v| values::octal(v, 0o777));
        let limits = table
            .get("limits")
            .map(|value| self.limits(value, &join(path, "limits")))
            .unwrap_or_default();
        let kinds = [("service", Kind::Service), ("oneshot", Kind::Oneshot)];
        let kind = self
            .field(table, path, "kind", |v| values::choice(v, &kinds))
            .unwrap_or(Kind::Service);
        let policies = [
            ("always", RestartPolicy::Always),
            ("on-failure", RestartPolicy::OnFailure),
            ("never", RestartPolicy::Never),
        ];
        let restart = self
            .field(table, path, "restart", |v| values::choice(v, &policies))
            .unwrap_or(match kind {
                Kind::Service => RestartPolicy::Always,
                Kind::Oneshot => RestartPolicy::Never,
            });
        let exit_codes = self
            .field(table, path, "exit_codes", |v| {
                let items = v
                    .as_array()
                    .ok_or_else(|| values::expected("an array of exit codes", v))?;
                items
                    .iter()
                    .map(|item| values::number::<u8>(item.get_ref(), "an exit code (0-255)"))
                    .map(|code| code.map(i32::from))
                    .collect()
            })
            .unwrap_or_else(|| vec![0]);
        let seconds = |key: &str, default: u64, reader: &mut Self| {
            reader
                .field(table, path, key, values::duration)
                .unwrap_or(Duration::from_secs(default))
        };
        let start_secs = seconds("start_secs", 1, self);
        let backoff = seconds("backoff", 1, self);
        let stop_timeout = seconds("stop_timeout", 5, self);
        let start_retries = self
            .field(table, path, "start_retries", |v| {
                values::number(v, "a number of retries (0 or more)")
            })
            .unwrap_or(3);
        let stop_signal = self
            .field(table, path, "stop_signal", values::signal)
            .unwrap_or(Signal::SIGTERM);
        let stop_group = self
            .field(table, path, "stop_group", values::boolean)
            .unwrap_or(true);
        let priority = self
            .field(table, path, "priority", |v| values::number(v, "a priority"))
            .unwrap_or(100);
        let depends_on = table
            .get("depends_on")
            .map(|value| self.located_names(value, &join(path, "depends_on")))
            .unwrap_or_default();
        let instances = self
            .field(table, path, "instances", |v| {
                match values::number::<u32>(v, "a number of instances (1 or more)")? {
                    0 => Err("instances must be at least 1".to_owned()),
                    n if n > MAX_INSTANCES => Err(format!("at most {MAX_INSTANCES} instances")),
                    n => Ok(n),
                }
            })
            .unwrap_or(1);
        let ready = table
            .get("ready")
            .and_then(|value| self.probe(value, &join(path, "ready"), false));
        let health = table
            .get("health")
            .and_then(|value| self.probe(value, &join(path, "health"), true));
        let critical = self
            .field(table, path, "critical", values::boolean)
            .unwrap_or(false);
        let stdout = table
            .get("stdout")
            .and_then(|value| self.output(value, &join(path, "stdout"), false))
            .unwrap_or(Output::Console);
        let stderr = table
            .get("stderr")
            .and_then(|value| self.output(value, &join(path, "stderr"), true))
            .unwrap_or(Output::Console);
        let autostart = self
            .field(table, path, "autostart", values::boolean)
            .unwrap_or(true);
        let template = ProgramSpec {
            name: name.to_owned(),
            program: name.to_owned(),
            instance: None,
            command: command?,
            directory: PathBuf::from(directory),
            user,
            environment,
            umask,
            limits,
            kind,
            autostart,
            restart,
            exit_codes,
            start_secs,
            start_retries,
            backoff,
            stop_signal,
            stop_timeout,
            stop_group,
            priority,
            depends_on: Vec::new(),
            ready,
            health,
            critical,
            stdout,
            stderr,
            defined_at: loc.file_line(),
        };
        Some(Draft {
            template,
            instances,
            depends_on,
        })
    }

    /// `user` and `group` resolved against passwd/group; `None` keeps svinit's.
    fn credentials(&mut self, table: &DeTable<'_>, path: &str) -> Option<Credentials> {
        let id_text = |v: &DeValue<'_>| match (v.as_str(), v.as_integer()) {
            (Some(text), _) => Ok(text.to_owned()),
            (None, Some(_)) => values::number::<u32>(v, "a uid or gid").map(|n| n.to_string()),
            _ => Err(values::expected("a name or a number", v)),
        };
        let etc_dir = self.etc_dir;
        let user = match table.get("user") {
            Some(value) => {
                let name = self.check(value, &join(path, "user"), id_text)?;
                self.check(value, &join(path, "user"), |_| {
                    users::lookup_user(etc_dir, &name)
                })?
            }
            None if table.contains_key("group") => {
                let uid = nix::unistd::getuid().as_raw().to_string();
                users::lookup_user(etc_dir, &uid).ok()?
            }
            None => return None,
        };
        let gid = match table.get("group") {
            Some(value) => {
                let name = self.check(value, &join(path, "group"), id_text)?;
                self.check(value, &join(path, "group"), |_| {
                    users::lookup_group(etc_dir, &name)
                })?
            }
            None => user.gid,
        };
        Some(Credentials {
            groups: users::supplementary_groups(etc_dir, &user.name, gid),
            user_name: user.name,
            uid: user.uid,
            gid,
            home: user.home,
        })
    }

    /// `environment`: a table of strings (numbers and booleans are taken as text).
    fn environment(&mut self, table: &DeTable<'_>, path: &str) -> BTreeMap<String, String> {
        let path = join(path, "environment");
        let Some(value) = table.get("environment") else {
            return BTreeMap::new();
        };
        let Some(table) = self.table(value, &path) else {
            return BTreeMap::new();
        };
        let mut environment = BTreeMap::new();
        for (name, value) in table.iter() {
            let name_text = name.get_ref().to_string();
            let key = join(&path, &name_text);
            if name_text.is_empty() || name_text.contains(['=', '\0']) {
                self.error(
                    &name.span(),
                    &key,
                    "a variable name must be non-empty, without '='",
                );
                continue;
            }
            let text = self.check(value, &key, |v| match v {
                DeValue::String(text) => Ok(text.to_string()),
                DeValue::Integer(number) => Ok(number.to_string()),
                DeValue::Float(number) => Ok(number.to_string()),
                DeValue::Boolean(flag) => Ok(flag.to_string()),
                other => Err(values::expected("a string", other)),
            });
            if let Some(text) = text {
                environment.insert(name_text, text);
            }
        }
        environment
    }

    /// `limits`: NAME = number | "unlimited" | { soft = …, hard = … }.
    fn limits(&mut self, value: &Value<'_>, path: &str) -> Vec<Rlimit> {
        let Some(table) = self.table(value, path) else {
            return Vec::new();
        };
        let resources = rlimit_resources();
        let names: Vec<&str> = resources.iter().map(|(name, _)| *name).collect();
        self.known_keys(table, path, &names);
        let mut limits = Vec::new();
        for (name, resource) in resources {
            let Some(value) = table.get(name) else {
                continue;
            };
            let key = join(path, name);
            let limit = match value.get_ref() {
                DeValue::Table(pair) => {
                    self.known_keys(pair, &key, &["soft", "hard"]);
                    let soft = self.field(pair, &key, "soft", limit_value);
                    let hard = self.field(pair, &key, "hard", limit_value);
                    match (soft, hard) {
                        (Some(soft), Some(hard)) if soft > hard => {
                            self.error(
                                &value.span(),
                                &key,
                                "the soft limit exceeds the hard limit",
                            );
                            None
                        }
                        (None, None) => {
                            if !pair.contains_key("soft") && !pair.contains_key("hard") {
                                self.error(&value.span(), &key, "expected `soft` and/or `hard`");
                            }
                            None
                        }
                        (soft, hard) => soft
                            .or(hard)
                            .map(|either| (soft.unwrap_or(either), hard.unwrap_or(either))),
                    }
                }
                _ => self
                    .check(value, &key, limit_value)
                    .map(|limit| (limit, limit)),
            };
            if let Some((soft, hard)) = limit {
                limits.push(Rlimit {
                    resource,
                    soft,
                    hard,
                });
            }
        }
        limits
    }

    /// `ready` / `health`: exactly one check plus optional timing.
    fn probe(&mut self, value: &Value<'_>, path: &str, health: bool) -> Option<Probe> {
        let table = self.table(value, path)?;
        let mut known = PROBE_CHECKS.to_vec();
        known.extend(["timeout", "interval"]);
        if health {
            known.push("retries");
        }
        self.known_keys(table, path, &known);
        let mut present: Vec<_> = table
            .iter()
            .filter(|(key, _)| PROBE_CHECKS.contains(&key.get_ref().as_ref()))
            .collect();
        present.sort_by_key(|(key, _)| key.span().start);
        let (key, check_value) = match present.as_slice() {
            [] => {
                let message = "a probe needs exactly one of tcp, http, exec, notify, fd";
                self.error(&value.span(), path, message);
                return None;
            }
            [one] => *one,
            [first, second, ..] => {
                let message = format!(
                    "a probe has exactly one check: found both `{}` and `{}`",
                    first.0.get_ref(),
                    second.0.get_ref()
                );
                self.error(&second.0.span(), path, message);
                return None;
            }
        };
        let key_text = key.get_ref().to_string();
        let check = self.check(check_value, &join(path, &key_text), |v| {
            probe_check(&key_text, v)
        });
        let (timeout, interval) = if health { (5, 10) } else { (60, 1) };
        let timeout = self
            .field(table, path, "timeout", values::duration)
            .unwrap_or(Duration::from_secs(timeout));
        let interval = self
            .field(table, path, "interval", values::duration)
            .unwrap_or(Duration::from_secs(interval));
        let retries = self
            .field(table, path, "retries", |v| {
                values::number(v, "a number of retries (0 or more)")
            })
            .unwrap_or(3);
        Some(Probe {
            check: check?,
            timeout,
            interval,
            retries,
        })
    }

    /// `stdout` / `stderr`.
    fn output(&mut self, value: &Value<'_>, path: &str, stderr: bool) -> Option<Output> {
        let table = match value.get_ref() {
            DeValue::Table(table) => table,
            _ => {
                let mut choices = vec![
                    ("console", Output::Console),
                    ("passthrough", Output::Passthrough),
                    ("null", Output::Null),
                ];
                if stderr {
                    choices.push(("stdout", Output::Stdout));
                }
                let names: Vec<(&str, usize)> =
                    choices.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
                return self
                    .check(value, path, |v| {
                        if !stderr && v.as_str() == Some("stdout") {
                            return Err(
                                "\"stdout\" is only valid for stderr (to merge it into stdout)"
                                    .to_owned(),
                            );
                        }
                        values::choice(v, &names).map_err(|message| {
                            format!("{message}, or a table {{ file = \"path\" }}")
                        })
                    })
                    .and_then(|index| choices.get(index).map(|c| c.1.clone()));
            }
        };
        self.known_keys(table, path, &["file", "max_bytes", "backups"]);
        let file = self.field(table, path, "file", |v| {
            let file = values::string(v)?;
            if file.starts_with('/') {
                Ok(file)
            } else {
                Err(format!("\"{file}\" is not an absolute path"))
            }
        });
        if !table.contains_key("file") {
            self.error(&value.span(), path, "missing `file` (the log file's path)");
        }
        let max_bytes = self
            .field(table, path, "max_bytes", values::size)
            .unwrap_or(50_000_000);
        let backups = self
            .field(table, path, "backups", |v| {
                values::number(v, "a number of backups (0 or more)")
            })
            .unwrap_or(5);
        Some(Output::File {
            path: PathBuf::from(file?),
            max_bytes,
            backups,
        })
    }
}

/// One rlimit value: a number or "unlimited".
fn limit_value(value: &DeValue<'_>) -> Result<u64, String> {
    match value.as_str() {
        Some("unlimited" | "infinity") => Ok(u64::MAX),
        Some(text) => Err(format!(
            "invalid limit \"{text}\": expected a number or \"unlimited\""
        )),
        None => values::number(value, "a limit (a number or \"unlimited\")"),
    }
}

/// The value of a probe's check key.
fn probe_check(key: &str, value: &DeValue<'_>) -> Result<ProbeCheck, String> {
    match key {
        "tcp" => {
            let address = values::string(value)?;
            match address.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(ProbeCheck::Tcp(address))
                }
                _ => Err(format!(
                    "invalid address \"{address}\": expected \"host:port\""
                )),
            }
        }
        "http" => {
            let url = values::string(value)?;
            if url.starts_with("http://") && url.len() > "http://".len() {
                Ok(ProbeCheck::Http(url))
            } else {
                Err(format!(
                    "invalid URL \"{url}\": expected \"http://host:port/path\""
                ))
            }
        }
        "exec" => values::command(value).map(ProbeCheck::Exec),
        "notify" => match values::boolean(value)? {
            true => Ok(ProbeCheck::Notify),
            false => Err("notify must be true (remove the probe to disable it)".to_owned()),
        },
        _ => values::number::<i32>(value, "a file descriptor").and_then(|fd| match fd {
            3.. => Ok(ProbeCheck::Fd(fd)),
            _ => Err(format!("fd {fd} is stdin/stdout/stderr: use 3 or more")),
        }),
    }
}

/// One instance of a drafted program: name, SVINIT_* variables, and
/// `{name}`/`{instance}` substituted.
pub(crate) fn instantiate(template: &ProgramSpec, instance: Option<u32>) -> ProgramSpec {
    let program = template.program.as_str();
    let sub = |text: &str| values::substitute(text, program, instance);
    let sub_path = |path: &Path| PathBuf::from(sub(&path.to_string_lossy()));
    let sub_output = |output: &Output| match output {
        Output::File {
            path,
            max_bytes,
            backups,
        } => Output::File {
            path: sub_path(path),
            max_bytes: *max_bytes,
            backups: *backups,
        },
        other => other.clone(),
    };
    let sub_probe = |probe: &Probe| Probe {
        check: match &probe.check {
            ProbeCheck::Exec(argv) => ProbeCheck::Exec(argv.iter().map(|arg| sub(arg)).collect()),
            other => other.clone(),
        },
        ..probe.clone()
    };
    let mut environment: BTreeMap<String, String> = template
        .environment
        .iter()
        .map(|(name, value)| (name.clone(), sub(value)))
        .collect();
    environment.insert("SVINIT_PROGRAM".to_owned(), program.to_owned());
    let instance_text = instance.map(|n| n.to_string()).unwrap_or_default();
    environment.insert("SVINIT_INSTANCE".to_owned(), instance_text);
    ProgramSpec {
        name: match instance {
            Some(number) => format!("{program}:{number}"),
            None => program.to_owned(),
        },
        instance,
        command: template.command.iter().map(|arg| sub(arg)).collect(),
        directory: sub_path(&template.directory),
        environment,
        ready: template.ready.as_ref().map(sub_probe),
        health: template.health.as_ref().map(sub_probe),
        stdout: sub_output(&template.stdout),
        stderr: sub_output(&template.stderr),
        ..template.clone()
    }
}
