//! `svinit import supervisord.conf`: translate a supervisord configuration
//! (with its `[include]` files) into svinit TOML, with a comment for every
//! key or section that has no equivalent. `docs/import.md` has the table.
//!
//! The INI dialect is parsed here (it is small): `[section]` headers,
//! `key = value` or `key: value`, full-line `;`/`#` comments, inline `;`/`#`
//! comments after whitespace, indented continuation lines, case-insensitive
//! keys. Nothing here panics on odd input: bad lines are `FILE:LINE` errors,
//! values that cannot be mapped become comments.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser;

/// Command line of `svinit import`.
#[derive(Parser, Debug)]
#[command(
    name = "svinit import",
    about = "Print the svinit TOML equivalent of a supervisord configuration",
    after_help = "Reads FILE and the files its [include] section names, and prints one \
[program.NAME] table per [program:NAME], with a comment for every key or section svinit \
cannot map. Check the result with `svinit --check --config OUT`. Exit codes: 0 on success, \
1 for an unreadable or malformed file, 2 for bad usage."
)]
struct Args {
    /// Write the TOML to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The supervisord configuration file (usually supervisord.conf).
    #[arg(value_name = "FILE")]
    input: PathBuf,
}

/// Entry point of `svinit import ARGS...` (ARGS without `svinit import`); returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let argv = std::iter::once(OsString::from("svinit import")).chain(args);
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => {
            // --help comes through here too, with code 0.
            let _ = err.print();
            return err.exit_code();
        }
    };
    let context = Context::from_process();
    let toml = match import_file(&args.input, &context) {
        Ok(toml) => toml,
        Err(message) => {
            eprintln!("svinit import: {message}");
            return 1;
        }
    };
    match &args.output {
        None => {
            print!("{toml}");
            0
        }
        Some(path) => match std::fs::write(path, toml) {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("svinit import: cannot write {}: {err}", path.display());
                1
            }
        },
    }
}

// ---------------------------------------------------------------------------
// INI parsing

/// One `key = value` line (with its continuation lines joined by `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, lower-cased.
    pub key: String,
    /// The value, trimmed, inline comments removed, continuations joined by newlines.
    pub value: String,
    /// Line number of the key (1-based).
    pub line: usize,
}

/// One `[name]` section with its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section name as written (case kept), e.g. `program:nginx`.
    pub name: String,
    /// The file the section was first read from.
    pub file: PathBuf,
    /// Line number of the header.
    pub line: usize,
    /// Entries in order; a later entry with the same key overrides an earlier one.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The last value given for `key` (keys are lower-case).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|entry| entry.key == key)
    }

    /// Distinct keys in order of first appearance.
    fn keys(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .filter(|entry| seen.insert(entry.key.as_str()))
            .map(|entry| entry.key.as_str())
            .collect()
    }
}

/// Remove an inline comment: `;` or `#` preceded by whitespace (as Python's configparser).
fn strip_inline_comment(text: &str) -> &str {
    let mut previous_blank = false;
    for (index, c) in text.char_indices() {
        if (c == ';' || c == '#') && previous_blank {
            return &text[..index];
        }
        previous_blank = c.is_whitespace();
    }
    text
}

/// Parse supervisord's INI dialect; sections of the same name are merged.
/// Errors read `FILE:LINE: message`.
pub fn parse_ini(text: &str, file: &Path) -> Result<Vec<Section>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<Section> = Vec::new();
    // Index of the current section and whether the last line was a key line
    // (so an indented line continues its value).
    let mut current: Option<usize> = None;
    let mut can_continue = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let error = |message: &str| format!("{}:{line_no}: {message}", file.display());
        if raw.contains('\0') {
            return Err(error("NUL byte in the line"));
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            can_continue = false;
            continue;
        }
        if trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with(|c: char| c.is_whitespace());
        let content = strip_inline_comment(trimmed).trim();
        if indented && can_continue {
            if let Some(entry) = current
                .and_then(|i| sections.get_mut(i))
                .and_then(|section| section.entries.last_mut())
            {
                if !content.is_empty() {
                    if !entry.value.is_empty() {
                        entry.value.push('\n');
                    }
                    entry.value.push_str(content);
                }
                continue;
            }
        }
        if content.starts_with('[') {
            let Some(name) = content
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::trim)
                .filter(|name| !name.is_empty())
            else {
                return Err(error(&format!("malformed section header: {content}")));
            };
            match sections.iter().position(|section| section.name == name) {
                Some(existing) => current = Some(existing),
                None => {
                    sections.push(Section {
                        name: name.to_owned(),
                        file: file.to_path_buf(),
                        line: line_no,
                        entries: Vec::new(),
                    });
                    current = Some(sections.len() - 1);
                }
            }
            can_continue = false;
            continue;
        }
        let Some(split) = content.find(['=', ':']) else {
            return Err(error(&format!(
                "expected [section], key = value or a comment, found: {content}"
            )));
        };
        let key = content[..split].trim().to_ascii_lowercase();
        let value = content[split + 1..].trim().to_owned();
        if key.is_empty() {
            return Err(error(&format!("missing key before '=': {content}")));
        }
        let Some(section) = current.and_then(|i| sections.get_mut(i)) else {
            return Err(error(&format!(
                "key outside any [section]: {content} (supervisord files start with a section header)"
            )));
        };
        section.entries.push(Entry {
            key,
            value,
            line: line_no,
        });
        can_continue = true;
    }
    Ok(sections)
}

/// Read a file (lossily as UTF-8) and parse it.
fn read_ini(path: &Path) -> Result<Vec<Section>, String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    parse_ini(&String::from_utf8_lossy(&bytes), path)
}

/// Merge `more` into `into`, sections of the same name combined (as supervisord's parser does).
fn merge(into: &mut Vec<Section>, more: Vec<Section>) {
    for section in more {
        match into.iter_mut().find(|s| s.name == section.name) {
            Some(existing) => existing.entries.extend(section.entries),
            None => into.push(section),
        }
    }
}

// ---------------------------------------------------------------------------
// Context: the importing process's environment and host name

/// What expansions read from outside the file: environment variables and the host name.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Environment variables for `%(ENV_X)s`.
    pub env: HashMap<String, String>,
    /// Host name for `%(host_node_name)s`, if known.
    pub hostname: Option<String>,
}

impl Context {
    /// The current process's environment and host name.
    pub fn from_process() -> Context {
        let env = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        Context { env, hostname }
    }
}

// ---------------------------------------------------------------------------
// Expansions

/// Where a value goes: svinit substitutes `{name}`/`{instance}` only in some keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// command, directory, environment values, log file paths.
    Templated,
    /// Everything else: values are taken literally.
    Literal,
}

/// Per-section facts expansions need.
struct Expander<'a> {
    context: &'a Context,
    here: String,
    program: String,
    group: String,
    numprocs: u32,
    numprocs_start: u32,
}

/// A `%(name)X` reference parsed from a value.
struct Reference<'t> {
    name: &'t str,
    flags: &'t str,
    width: Option<usize>,
    kind: char,
    /// Byte length of the whole reference.
    len: usize,
}

/// Parse `%(name)[flags][width][.precision]type` at the start of `text` (which starts with `%(`).
fn parse_reference(text: &str) -> Option<Reference<'_>> {
    let rest = text.strip_prefix("%(")?;
    let close = rest.find(')')?;
    let name = &rest[..close];
    let spec = &rest[close + 1..];
    let flags_len = spec
        .find(|c: char| !matches!(c, '#' | '0' | '-' | ' ' | '+'))
        .unwrap_or(spec.len());
    let flags = &spec[..flags_len];
    let after_flags = &spec[flags_len..];
    let width_len = after_flags
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_flags.len());
    let width = after_flags[..width_len].parse::<usize>().ok();
    let mut after_width = &after_flags[width_len..];
    let mut precision_len = 0;
    if let Some(precision) = after_width.strip_prefix('.') {
        let digits = precision
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(precision.len());
        precision_len = 1 + digits;
        after_width = &precision[digits..];
    }
    let kind = after_width.chars().next()?;
    if !"diouxXeEfFgGcrsa".contains(kind) {
        return None;
    }
    let len = 2 + close + 1 + flags_len + width_len + precision_len + kind.len_utf8();
    Some(Reference {
        name,
        flags,
        width,
        kind,
        len,
    })
}

/// Format an integer the way a `%0Nd`-style reference would.
fn format_number(number: u32, reference: &Reference<'_>) -> String {
    let digits = number.to_string();
    let width = reference.width.unwrap_or(0).min(64);
    if digits.len() >= width {
        digits
    } else if reference.flags.contains('-') {
        format!("{digits:<width$}")
    } else if reference.flags.contains('0') {
        format!("{digits:0>width$}")
    } else {
        format!("{digits:>width$}")
    }
}

impl Expander<'_> {
    /// Expand supervisord's `%(...)` references in `value`; notes explain anything lossy.
    fn expand(&self, value: &str, target: Target, notes: &mut Vec<String>) -> String {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(position) = rest.find('%') {
            out.push_str(&rest[..position]);
            rest = &rest[position..];
            if let Some(after) = rest.strip_prefix("%%") {
                out.push('%');
                rest = after;
                continue;
            }
            let Some(reference) = parse_reference(rest) else {
                out.push('%');
                rest = &rest[1..];
                continue;
            };
            let literal = &rest[..reference.len];
            rest = &rest[reference.len..];
            out.push_str(&self.resolve(&reference, literal, target, notes));
        }
        out.push_str(rest);
        out
    }

    /// The replacement for one reference.
    fn resolve(
        &self,
        reference: &Reference<'_>,
        literal: &str,
        target: Target,
        notes: &mut Vec<String>,
    ) -> String {
        let name = reference.name;
        if let Some(variable) = name.strip_prefix("ENV_") {
            return match self.context.env.get(variable) {
                Some(value) => value.clone(),
                None => {
                    notes.push(format!(
                        "{literal} kept as written: ${variable} was unset at import time"
                    ));
                    literal.to_owned()
                }
            };
        }
        match name {
            "here" => self.here.clone(),
            "program_name" if target == Target::Templated => "{name}".to_owned(),
            "program_name" => self.program.clone(),
            "group_name" => self.group.clone(),
            "numprocs" => format_number(self.numprocs, reference),
            "host_node_name" => match &self.context.hostname {
                Some(host) => {
                    notes.push(format!(
                        "{literal} was replaced by the host name at import time ({host})"
                    ));
                    host.clone()
                }
                None => {
                    notes.push(format!(
                        "{literal} kept as written: the host name is unknown"
                    ));
                    literal.to_owned()
                }
            },
            "process_num" if self.numprocs <= 1 => format_number(self.numprocs_start, reference),
            "process_num" if target == Target::Templated => {
                if reference.width.is_some() && reference.kind != 's' {
                    notes.push(format!(
                        "{literal} became {{instance}}: svinit does not zero-pad instance numbers"
                    ));
                }
                if self.numprocs_start != 0 {
                    notes.push(format!(
                        "{literal}: svinit numbers instances from 0, supervisord from numprocs_start = {}",
                        self.numprocs_start
                    ));
                }
                "{instance}".to_owned()
            }
            "process_num" => {
                notes.push(format!(
                    "{literal} kept as written: svinit substitutes {{instance}} only in command, directory, environment and log paths"
                ));
                literal.to_owned()
            }
            _ => {
                notes.push(format!(
                    "{literal} kept as written: unknown supervisord expansion"
                ));
                literal.to_owned()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// TOML writing helpers

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when possible, quoted otherwise.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// One comment line: TOML comments may not hold newlines or control characters.
fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect();
    format!("# {clean}")
}

/// A raw value for a comment, on one line.
fn one_line(value: &str) -> String {
    value.replace('\n', " ")
}

// ---------------------------------------------------------------------------
// Value parsers (supervisord's datatypes)

/// supervisord's `boolean`.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// supervisord's `byte_size`: a number with an optional KB/MB/GB suffix (powers of 1024).
/// Returned as svinit writes it: a number of bytes or a string like "50MiB".
fn parse_byte_size(text: &str) -> Option<String> {
    let upper = text.trim().to_ascii_uppercase();
    for (suffix, svinit) in [("KB", "KiB"), ("MB", "MiB"), ("GB", "GiB")] {
        if let Some(number) = upper.strip_suffix(suffix) {
            let number: u64 = number.trim().parse().ok()?;
            return Some(format!("\"{number}{svinit}\""));
        }
    }
    upper.parse::<u64>().ok().map(|n| n.to_string())
}

/// supervisord's `environment`: `KEY=val,KEY2="val, with comma"` (quotes removed).
pub fn parse_environment(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut items = Vec::new();
    let mut item = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                item.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                item.push(c);
            }
            (None, ',') => items.push(std::mem::take(&mut item)),
            (_, c) => item.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_owned());
    }
    items.push(item);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("\"{item}\" is not KEY=value"));
        };
        let key = unquote(key.trim());
        if key.is_empty() {
            return Err(format!("\"{item}\" has no key"));
        }
        pairs.push((key, unquote(value.trim())));
    }
    Ok(pairs)
}

/// Remove quotes from a value: `"a b"` → `a b`, and mixed `a"b c"` → `ab c`.
fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (_, c) => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Conversion

/// Read `path` and its `[include]` files and return the svinit TOML.
pub fn import_file(path: &Path, context: &Context) -> Result<String, String> {
    let mut sections = read_ini(path)?;
    let base = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let mut included = Vec::new();
    if let Some(include) = sections.iter().find(|s| s.name == "include") {
        let Some(files) = include.get("files") else {
            return Err(format!(
                "{}:{}: [include] has no files = ... line",
                path.display(),
                include.line
            ));
        };
        let expander = Expander {
            context,
            here: base.display().to_string(),
            program: String::new(),
            group: String::new(),
            numprocs: 1,
            numprocs_start: 0,
        };
        let files = expander.expand(&files.value, Target::Literal, &mut Vec::new());
        let mut seen: HashSet<PathBuf> = HashSet::new();
        seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        for pattern in files.split_whitespace() {
            let full = base.join(pattern);
            let full = full.to_string_lossy();
            let matches = glob::glob(&full).map_err(|err| {
                format!(
                    "{}:{}: bad include pattern {pattern}: {err}",
                    path.display(),
                    include.line
                )
            })?;
            let mut matches: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
            matches.sort();
            for file in matches {
                let canonical = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                if seen.insert(canonical) {
                    included.push(file);
                }
            }
        }
    }
    for file in &included {
        merge(&mut sections, read_ini(file)?);
    }
    convert(&sections, path, &included, context)
}

/// Convert parsed sections to svinit TOML (`main` names the file in the header).
pub fn convert(
    sections: &[Section],
    main: &Path,
    included: &[PathBuf],
    context: &Context,
) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        comment(&format!(
            "Generated by svinit import from {}",
            main.display()
        ))
    );
    for file in included {
        let _ = writeln!(out, "{}", comment(&format!("included: {}", file.display())));
    }
    out.push_str("# Check it with: svinit --check --config THIS_FILE\n");

    // Groups: program -> group name, for %(group_name)s.
    let mut groups: HashMap<String, String> = HashMap::new();
    for section in sections {
        if let Some(group) = section.name.strip_prefix("group:") {
            if let Some(programs) = section.get("programs") {
                for program in programs.value.split(',') {
                    groups.insert(program.trim().to_owned(), group.trim().to_owned());
                }
            }
        }
    }
    let global_env = global_environment(sections, context);

    let mut notes = Vec::new();
    for section in sections {
        if !section.name.starts_with("program:") {
            section_notes(section, &mut notes);
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in &notes {
            let _ = writeln!(out, "{}", comment(note));
        }
    }

    // supervisord's default priority is 999, svinit's 100: when some programs
    // set one, the others get 999 written so the relative order is kept.
    let any_priority = sections
        .iter()
        .any(|s| s.name.starts_with("program:") && s.get("priority").is_some());
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut count = 0;
    for section in sections {
        let Some(name) = section.name.strip_prefix("program:") else {
            continue;
        };
        let name = name.trim();
        let (svinit_name, renamed) = program_name(name);
        let place = format!("{}:{}", section.file.display(), section.line);
        if let Some(other) = names.insert(svinit_name.clone(), place.clone()) {
            return Err(format!(
                "{place}: [program:{name}] becomes [program.{svinit_name}], which {other} already uses"
            ));
        }
        let group = groups.get(name).cloned().unwrap_or_else(|| name.to_owned());
        out.push('\n');
        if renamed {
            let _ = writeln!(
                out,
                "{}",
                comment(&format!(
                    "[program:{name}] renamed: svinit program names use letters, digits, '_', '.' and '-'"
                ))
            );
        }
        let defaults = Defaults {
            group: &group,
            environment: &global_env,
            priority: any_priority,
        };
        program(section, &svinit_name, &defaults, context, &mut out)?;
        count += 1;
    }
    if count == 0 {
        out.push_str("\n# no [program:NAME] sections found\n");
    }
    Ok(out)
}

/// A program name valid for svinit (and whether it had to change).
fn program_name(name: &str) -> (String, bool) {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "program".to_owned()
    } else {
        clean
    };
    let renamed = clean != name;
    (clean, renamed)
}

/// `[supervisord] environment`: supervisord's children inherit it, so it is
/// merged into every program's environment.
fn global_environment(sections: &[Section], context: &Context) -> Vec<(String, String)> {
    let Some(section) = sections.iter().find(|s| s.name == "supervisord") else {
        return Vec::new();
    };
    let Some(entry) = section.get("environment") else {
        return Vec::new();
    };
    let expander = Expander {
        context,
        here: here_of(&section.file),
        program: String::new(),
        group: String::new(),
        numprocs: 1,
        numprocs_start: 0,
    };
    let value = expander.expand(&entry.value, Target::Literal, &mut Vec::new());
    parse_environment(&value).unwrap_or_default()
}

/// The absolute directory of a file, for `%(here)s`.
fn here_of(file: &Path) -> String {
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    absolute
        .parent()
        .map(|dir| dir.display().to_string())
        .unwrap_or_else(|| ".".to_owned())
}

/// Comments for a section that is not a program.
fn section_notes(section: &Section, notes: &mut Vec<String>) {
    let name = section.name.as_str();
    let (kind, label) = name.split_once(':').unwrap_or((name, ""));
    let value = |key: &str| section.get(key).map(|entry| one_line(&entry.value));
    match kind {
        "include" => {
            if let Some(files) = value("files") {
                notes.push(format!("[include] files = {files}: merged into this file"));
            }
        }
        "supervisord" => {
            notes.push(
                "[supervisord]: svinit runs in the foreground as PID 1 and logs to stdout; these keys are not needed:"
                    .to_owned(),
            );
            for key in section.keys() {
                let raw = value(key).unwrap_or_default();
                let note = match key {
                    "environment" => "merged into every program's environment".to_owned(),
                    "minfds" => format!("add limits = {{ nofile = {raw} }} to the programs that need it"),
                    "minprocs" => format!("add limits = {{ nproc = {raw} }} to the programs that need it"),
                    "umask" => format!("add umask = \"{raw}\" to the programs that need it"),
                    "user" => "run the container as that user instead".to_owned(),
                    "directory" => "set each program's directory".to_owned(),
                    "nodaemon" | "logfile" | "logfile_maxbytes" | "logfile_backups"
                    | "loglevel" | "pidfile" | "childlogdir" | "silent" | "nocleanup"
                    | "identifier" | "strip_ansi" => "not needed".to_owned(),
                    _ => "not mapped".to_owned(),
                };
                notes.push(format!("  {key} = {raw}: {note}"));
            }
        }
        "supervisorctl" => notes.push(
            "[supervisorctl]: not needed; svctl talks to svinit's control socket ([supervisor] socket)"
                .to_owned(),
        ),
        "unix_http_server" => {
            let file = value("file").unwrap_or_default();
            notes.push(format!(
                "[unix_http_server] file = {file}: svctl uses [supervisor] socket (default /run/svinit.sock); to keep this path add [supervisor] socket = \"{file}\""
            ));
            if let Some(chmod) = value("chmod") {
                notes.push(format!(
                    "  chmod = {chmod}: use [supervisor] socket_mode = \"{chmod}\""
                ));
            }
            if value("username").is_some() || value("password").is_some() {
                notes.push(
                    "  username/password: not mapped; svinit checks the peer's uid instead".to_owned(),
                );
            }
        }
        "inet_http_server" => notes.push(format!(
            "[inet_http_server] port = {}: not supported; svinit's control socket is a Unix socket only",
            value("port").unwrap_or_default()
        )),
        "rpcinterface" => notes.push(format!(
            "[rpcinterface:{label}]: not supported; svinit has no XML-RPC interface (see docs/protocol.md)"
        )),
        "group" => notes.push(format!(
            "[group:{label}] programs = {}: svinit has no groups; the programs are imported one by one",
            value("programs").unwrap_or_default()
        )),
        "eventlistener" => notes.push(format!(
            "[eventlistener:{label}] command = {}: not supported; if it existed to end the container when a program dies, use critical = true on that program",
            value("command").unwrap_or_default()
        )),
        "fcgi-program" => notes.push(format!(
            "[fcgi-program:{label}] command = {}: not supported; svinit does not open sockets for programs",
            value("command").unwrap_or_default()
        )),
        "ctlplugin" => notes.push(format!("[ctlplugin:{label}]: not supported")),
        _ => notes.push(format!("[{name}]: unknown section, ignored")),
    }
}

/// What a `*_logfile` value becomes.
enum Output {
    /// A TOML value.
    Value(String),
    /// Not mappable: the comment says why.
    Skip(String),
}

/// Map `stdout_logfile`/`stderr_logfile` (with their maxbytes and backups).
fn log_output(section: &Section, stream: &str, path: &str, notes: &mut Vec<String>) -> Output {
    let trimmed = path.trim();
    match trimmed.to_ascii_uppercase().as_str() {
        "NONE" => return Output::Value("\"null\"".to_owned()),
        "AUTO" => {
            notes.push(format!(
                "{stream}_logfile = AUTO: supervisord kept a file in childlogdir; svinit sends output to its stdout, prefixed by the program name"
            ));
            return Output::Value("\"console\"".to_owned());
        }
        "SYSLOG" => return Output::Skip("syslog is not supported".to_owned()),
        _ => {}
    }
    if matches!(
        trimmed,
        "/dev/stdout"
            | "/dev/fd/1"
            | "/dev/stderr"
            | "/dev/fd/2"
            | "/proc/self/fd/1"
            | "/proc/self/fd/2"
    ) {
        notes.push(format!(
            "{stream}_logfile = {trimmed}: svinit prefixes each line with the program name; use \"passthrough\" for raw output"
        ));
        return Output::Value("\"console\"".to_owned());
    }
    if !trimmed.starts_with('/') {
        return Output::Skip("svinit needs an absolute path".to_owned());
    }
    let max_bytes = match section.get(&format!("{stream}_logfile_maxbytes")) {
        None => "\"50MiB\"".to_owned(),
        Some(entry) => match parse_byte_size(&entry.value) {
            Some(size) => size,
            None => {
                notes.push(format!(
                    "not mapped: {stream}_logfile_maxbytes = {} (not a size)",
                    one_line(&entry.value)
                ));
                "\"50MiB\"".to_owned()
            }
        },
    };
    let backups = match section.get(&format!("{stream}_logfile_backups")) {
        None => "10".to_owned(),
        Some(entry) => match entry.value.trim().parse::<u32>() {
            Ok(n) => n.to_string(),
            Err(_) => {
                notes.push(format!(
                    "not mapped: {stream}_logfile_backups = {} (not a number)",
                    one_line(&entry.value)
                ));
                "10".to_owned()
            }
        },
    };
    Output::Value(format!(
        "{{ file = {}, max_bytes = {max_bytes}, backups = {backups} }}",
        toml_string(trimmed)
    ))
}

/// Keys this module reads from a `[program:x]` section.
const HANDLED: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "environment",
    "directory",
    "umask",
];

/// Lines of one program table.
struct Table {
    lines: Vec<String>,
}

impl Table {
    /// `key = value`, preceded by its notes.
    fn set(&mut self, key: &str, value: String, notes: &mut Vec<String>) {
        self.notes(notes);
        self.lines.push(format!("{key} = {value}"));
    }

    /// Flush notes as comments.
    fn notes(&mut self, notes: &mut Vec<String>) {
        for note in notes.drain(..) {
            self.lines.push(comment(&note));
        }
    }

    /// A `# not mapped: key = value (why)` comment.
    fn unmapped(&mut self, entry: &Entry, why: &str) {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        self.lines.push(comment(&format!(
            "not mapped: {} = {}{why}",
            entry.key,
            one_line(&entry.value)
        )));
    }
}

/// What a program inherits from the rest of the file.
struct Defaults<'a> {
    /// Its `[group:x]` name (or its own name), for `%(group_name)s`.
    group: &'a str,
    /// `[supervisord] environment`.
    environment: &'a [(String, String)],
    /// Whether any program sets a priority (then 999 is written where none is set).
    priority: bool,
}

/// Convert one `[program:x]` section, appending to `out`.
fn program(
    section: &Section,
    name: &str,
    defaults: &Defaults<'_>,
    context: &Context,
    out: &mut String,
) -> Result<(), String> {
    let group = defaults.group;
    let global_env = defaults.environment;
    let mut table = Table { lines: Vec::new() };
    let mut notes = Vec::new();
    let raw = |key: &str| section.get(key);

    // numprocs first: expansions depend on it.
    let mut numprocs = 1u32;
    if let Some(entry) = raw("numprocs") {
        match entry.value.trim().parse::<u32>() {
            Ok(n) if (1..=10_000).contains(&n) => numprocs = n,
            _ => table.unmapped(entry, "expected a number from 1 to 10000"),
        }
    }
    let mut numprocs_start = 0u32;
    if let Some(entry) = raw("numprocs_start") {
        match entry.value.trim().parse::<u32>() {
            Ok(n) => numprocs_start = n,
            Err(_) => table.unmapped(entry, "not a number"),
        }
    }
    let expander = Expander {
        context,
        here: here_of(&section.file),
        program: name.to_owned(),
        group: group.to_owned(),
        numprocs,
        numprocs_start,
    };
    let value = |key: &str, target: Target, notes: &mut Vec<String>| {
        raw(key).map(|entry| (entry, expander.expand(&entry.value, target, notes)))
    };

    // command
    let Some((_, command)) = value("command", Target::Templated, &mut notes) else {
        return Err(format!(
            "{}:{}: [{}] has no command (supervisord requires one too)",
            section.file.display(),
            section.line,
            section.name
        ));
    };
    // Continuation lines are joined by spaces (a shell-like split treats both alike).
    let command = command.trim().replace(['\n', '\r'], " ");
    if command.is_empty() {
        return Err(format!(
            "{}:{}: [{}] has an empty command",
            section.file.display(),
            section.line,
            section.name
        ));
    }
    if let Err(err) = shell_words::split(&command) {
        let line = raw("command").map_or(section.line, |entry| entry.line);
        return Err(format!(
            "{}:{line}: [{}] command cannot be split ({err}); supervisord refuses it too",
            section.file.display(),
            section.name
        ));
    }
    table.set("command", toml_string(&command), &mut notes);

    if let Some((entry, directory)) = value("directory", Target::Templated, &mut notes) {
        if directory.starts_with('/') {
            table.set("directory", toml_string(&directory), &mut notes);
        } else {
            table.notes(&mut notes);
            table.unmapped(entry, "svinit needs an absolute directory");
        }
    }
    if let Some((entry, user)) = value("user", Target::Literal, &mut notes) {
        if user.trim().is_empty() {
            table.notes(&mut notes);
            table.unmapped(entry, "empty");
        } else {
            table.set("user", toml_string(user.trim()), &mut notes);
        }
    }

    // environment: [supervisord] environment, then the program's own.
    let mut environment: Vec<(String, String)> = global_env.to_vec();
    if !global_env.is_empty() {
        notes.push("environment includes [supervisord] environment".to_owned());
    }
    if let Some((entry, text)) = value("environment", Target::Templated, &mut notes) {
        match parse_environment(&text) {
            Ok(pairs) => {
                for (key, val) in pairs {
                    environment.retain(|(k, _)| *k != key);
                    environment.push((key, val));
                }
            }
            Err(why) => {
                table.notes(&mut notes);
                table.unmapped(entry, &why);
            }
        }
    }
    if !environment.is_empty() {
        let items: Vec<String> = environment
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v)))
            .collect();
        table.set(
            "environment",
            format!("{{ {} }}", items.join(", ")),
            &mut notes,
        );
    }
    table.notes(&mut notes);

    if let Some((entry, umask)) = value("umask", Target::Literal, &mut notes) {
        let umask = umask.trim();
        match u32::from_str_radix(umask, 8) {
            Ok(mode) if mode <= 0o777 => table.set("umask", toml_string(umask), &mut notes),
            _ => table.unmapped(entry, "not an octal umask"),
        }
    }
    match value("priority", Target::Literal, &mut notes) {
        Some((entry, priority)) => match priority.trim().parse::<i32>() {
            Ok(n) => table.set("priority", n.to_string(), &mut notes),
            Err(_) => table.unmapped(entry, "not a number"),
        },
        None if defaults.priority => table.lines.push(
            "priority = 999  # supervisord's default, kept relative to the others".to_owned(),
        ),
        None => {}
    }
    if let Some((entry, autostart)) = value("autostart", Target::Literal, &mut notes) {
        match parse_bool(&autostart) {
            Some(b) => table.set("autostart", b.to_string(), &mut notes),
            None => table.unmapped(entry, "not a boolean"),
        }
    }
    match value("autorestart", Target::Literal, &mut notes) {
        None => table.lines.push(
            "restart = \"on-failure\"  # supervisord's default (autorestart = unexpected)"
                .to_owned(),
        ),
        Some((entry, text)) => {
            let policy = match text.trim().to_ascii_lowercase().as_str() {
                "unexpected" => Some("on-failure"),
                other => parse_bool(other).map(|b| if b { "always" } else { "never" }),
            };
            match policy {
                Some(policy) => table.set("restart", toml_string(policy), &mut notes),
                None => table.unmapped(entry, "expected true, false or unexpected"),
            }
        }
    }
    if let Some((entry, codes)) = value("exitcodes", Target::Literal, &mut notes) {
        let parsed: Result<Vec<u8>, _> = codes
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(str::parse::<u8>)
            .collect();
        match parsed {
            Ok(codes) if !codes.is_empty() => {
                let codes: Vec<String> = codes.iter().map(u8::to_string).collect();
                table.set("exit_codes", format!("[{}]", codes.join(", ")), &mut notes);
            }
            _ => table.unmapped(entry, "expected exit codes 0-255 separated by commas"),
        }
    }
    if let Some((entry, secs)) = value("startsecs", Target::Literal, &mut notes) {
        match secs.trim().parse::<u64>() {
            Ok(n) => table.set("start_secs", toml_string(&format!("{n}s")), &mut notes),
            Err(_) => table.unmapped(entry, "not a number of seconds"),
        }
    }
    if let Some((entry, retries)) = value("startretries", Target::Literal, &mut notes) {
        match retries.trim().parse::<u32>() {
            Ok(n) => table.set("start_retries", n.to_string(), &mut notes),
            Err(_) => table.unmapped(entry, "not a number"),
        }
    }
    if let Some((entry, signal)) = value("stopsignal", Target::Literal, &mut notes) {
        let signal = signal.trim();
        match crate::model::parse_signal(signal) {
            Some(_) if signal.parse::<i32>().is_ok() => {
                table.set("stop_signal", signal.to_owned(), &mut notes)
            }
            Some(_) => {
                let upper = signal.to_ascii_uppercase();
                let short = upper.strip_prefix("SIG").unwrap_or(&upper);
                table.set("stop_signal", toml_string(short), &mut notes);
            }
            None => table.unmapped(entry, "unknown signal"),
        }
    }
    match value("stopwaitsecs", Target::Literal, &mut notes) {
        None => table
            .lines
            .push("stop_timeout = \"10s\"  # supervisord's default (svinit's is 5s)".to_owned()),
        Some((entry, secs)) => match secs.trim().parse::<u64>() {
            Ok(n) => table.set("stop_timeout", toml_string(&format!("{n}s")), &mut notes),
            Err(_) => table.unmapped(entry, "not a number of seconds"),
        },
    }
    let as_group = |key: &str, table: &mut Table, notes: &mut Vec<String>| {
        value(key, Target::Literal, notes).and_then(|(entry, text)| {
            let parsed = parse_bool(&text);
            if parsed.is_none() {
                table.unmapped(entry, "not a boolean");
            }
            parsed
        })
    };
    let stop = as_group("stopasgroup", &mut table, &mut notes);
    let kill = as_group("killasgroup", &mut table, &mut notes);
    match (stop, kill) {
        (Some(true), _) | (_, Some(true)) => table.set("stop_group", "true".to_owned(), &mut notes),
        _ => table.lines.push(
            "stop_group = false  # supervisord's default; true (svinit's default) is usually what you want in a container"
                .to_owned(),
        ),
    }

    if numprocs > 1 {
        if let Some(entry) = raw("process_name") {
            notes.push(format!(
                "process_name = {}: svinit names the instances {name}:0 … {name}:{}",
                one_line(&entry.value),
                numprocs - 1
            ));
        }
        if numprocs_start != 0 {
            notes.push(format!(
                "numprocs_start = {numprocs_start}: svinit numbers instances from 0"
            ));
        }
        table.set("instances", numprocs.to_string(), &mut notes);
    } else {
        if let Some((entry, process_name)) = value("process_name", Target::Literal, &mut notes) {
            notes.clear();
            if process_name.trim() != name {
                table.unmapped(entry, "svinit names the program after its section");
            }
        }
        if let Some(entry) = raw("numprocs_start") {
            if numprocs_start != 0 {
                table.unmapped(entry, "only matters with numprocs > 1");
            }
        }
    }

    // Output.
    if let Some((entry, path)) = value("stdout_logfile", Target::Templated, &mut notes) {
        match log_output(section, "stdout", &path, &mut notes) {
            Output::Value(v) => table.set("stdout", v, &mut notes),
            Output::Skip(why) => {
                table.notes(&mut notes);
                table.unmapped(entry, &why);
            }
        }
    }
    let redirect = match raw("redirect_stderr") {
        None => false,
        Some(entry) => match parse_bool(&entry.value) {
            Some(b) => b,
            None => {
                table.unmapped(entry, "not a boolean");
                false
            }
        },
    };
    if redirect {
        if let Some(entry) = raw("stderr_logfile") {
            table.unmapped(entry, "redirect_stderr = true wins, as in supervisord");
        }
        table.set("stderr", "\"stdout\"".to_owned(), &mut notes);
    } else if let Some((entry, path)) = value("stderr_logfile", Target::Templated, &mut notes) {
        match log_output(section, "stderr", &path, &mut notes) {
            Output::Value(v) => table.set("stderr", v, &mut notes),
            Output::Skip(why) => {
                table.notes(&mut notes);
                table.unmapped(entry, &why);
            }
        }
    }
    table.notes(&mut notes);

    for key in section.keys() {
        if HANDLED.contains(&key) {
            continue;
        }
        if let Some(entry) = raw(key) {
            table.unmapped(entry, "");
        }
    }

    let _ = writeln!(out, "[program.{}]", toml_key(name));
    for line in table.lines {
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Section> {
        parse_ini(text, Path::new("/etc/supervisord.conf")).unwrap()
    }

    fn context() -> Context {
        let mut env = HashMap::new();
        env.insert("HOME".to_owned(), "/root".to_owned());
        Context {
            env,
            hostname: Some("box".to_owned()),
        }
    }

    fn import(text: &str) -> String {
        let sections = parse(text);
        convert(
            &sections,
            Path::new("/etc/supervisord.conf"),
            &[],
            &context(),
        )
        .unwrap()
    }

    #[test]
    fn ini_continuations_and_comments() {
        let sections = parse(
            "; top comment\n# another\n[program:a]\nCommand = /bin/a\n  --flag ; inline\nenvironment=A=1 ;c\n\turl=http://x/#frag\n[program:b]\ncommand: b\n",
        );
        assert_eq!(sections.len(), 2);
        let a = &sections[0];
        assert_eq!(a.get("command").unwrap().value, "/bin/a\n--flag");
        assert_eq!(
            a.get("environment").unwrap().value,
            "A=1\nurl=http://x/#frag"
        );
        assert_eq!(sections[1].get("command").unwrap().value, "b");
    }

    #[test]
    fn ini_errors_name_the_line() {
        let err = parse_ini("[program:a]\ncommand=x\nnonsense\n", Path::new("f.conf")).unwrap_err();
        assert!(err.starts_with("f.conf:3:"), "{err}");
        let err = parse_ini("command=x\n", Path::new("f.conf")).unwrap_err();
        assert!(err.starts_with("f.conf:1:"), "{err}");
        let err = parse_ini("[program:a]\ncommand=a\0b\n", Path::new("f.conf")).unwrap_err();
        assert!(err.starts_with("f.conf:2:"), "{err}");
        let err = parse_ini("[program:a\n", Path::new("f.conf")).unwrap_err();
        assert!(err.starts_with("f.conf:1:"), "{err}");
    }

    #[test]
    fn ini_merges_duplicate_sections() {
        let sections = parse("[program:a]\ncommand=x\n[program:a]\ncommand=y\n");
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].get("command").unwrap().value, "y");
    }

    #[test]
    fn environment_quoting() {
        let pairs = parse_environment(r#"A="one, two",B=plain, C='single' ,D="x=y""#).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("A".to_owned(), "one, two".to_owned()),
                ("B".to_owned(), "plain".to_owned()),
                ("C".to_owned(), "single".to_owned()),
                ("D".to_owned(), "x=y".to_owned()),
            ]
        );
        assert!(parse_environment("A=\"open").is_err());
        assert!(parse_environment("novalue").is_err());
        assert_eq!(parse_environment("A=1,\nB=2").unwrap().len(), 2);
    }

    #[test]
    fn expansions() {
        let ctx = context();
        let expander = Expander {
            context: &ctx,
            here: "/etc".to_owned(),
            program: "stream".to_owned(),
            group: "g".to_owned(),
            numprocs: 2,
            numprocs_start: 0,
        };
        let mut notes = Vec::new();
        let out = expander.expand(
            "%(ENV_HOME)s %(here)s %(program_name)s_%(process_num)02d %(group_name)s 100%% %(host_node_name)s",
            Target::Templated,
            &mut notes,
        );
        assert_eq!(out, "/root /etc {name}_{instance} g 100% box");
        assert!(notes.iter().any(|n| n.contains("zero-pad")));
        assert!(notes.iter().any(|n| n.contains("host name")));
        let mut notes = Vec::new();
        let out = expander.expand("%(ENV_NOPE)s %(bogus)s %( 5%", Target::Literal, &mut notes);
        assert_eq!(out, "%(ENV_NOPE)s %(bogus)s %( 5%");
        assert_eq!(notes.len(), 2);
        let single = Expander {
            numprocs: 1,
            numprocs_start: 3,
            ..expander
        };
        assert_eq!(
            single.expand("w%(process_num)02d", Target::Templated, &mut Vec::new()),
            "w03"
        );
    }

    #[test]
    fn key_mapping() {
        let out = import(
            "[program:web]\ncommand=nginx -g 'daemon off;'\nautorestart=true\nexitcodes=0,2\nstartsecs=5\nstartretries=7\nstopsignal=quit\nstopwaitsecs=20\nstopasgroup=true\nredirect_stderr=true\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\nuser=root\ndirectory=/srv\numask=022\npriority=5\nstdout_events_enabled=true\n",
        );
        for line in [
            "[program.web]",
            "command = \"nginx -g 'daemon off;'\"",
            "restart = \"always\"",
            "exit_codes = [0, 2]",
            "start_secs = \"5s\"",
            "start_retries = 7",
            "stop_signal = \"QUIT\"",
            "stop_timeout = \"20s\"",
            "stop_group = true",
            "stderr = \"stdout\"",
            "stdout = \"console\"",
            "user = \"root\"",
            "directory = \"/srv\"",
            "umask = \"022\"",
            "priority = 5",
            "# not mapped: stdout_events_enabled = true",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }

    #[test]
    fn supervisord_defaults_are_written() {
        let out = import("[program:a]\ncommand=a\n");
        assert!(out.contains("restart = \"on-failure\""), "{out}");
        assert!(out.contains("stop_timeout = \"10s\""), "{out}");
        assert!(out.contains("stop_group = false"), "{out}");
        assert!(!out.contains("priority"), "{out}");
        let out = import("[program:a]\ncommand=a\npriority=5\n[program:b]\ncommand=b\n");
        assert!(out.contains("priority = 5"), "{out}");
        assert!(out.contains("priority = 999"), "{out}");
        let out = import("[program:a]\ncommand=a\nautorestart=unexpected\nautorestart=false\n");
        assert!(out.contains("restart = \"never\""), "{out}");
    }

    #[test]
    fn log_files_and_instances() {
        let out = import(
            "[program:s]\ncommand=s %(process_num)d\nnumprocs=3\nprocess_name=%(program_name)s_%(process_num)02d\nstdout_logfile=/var/log/s.log\nstdout_logfile_maxbytes=1MB\nstderr_logfile=NONE\n",
        );
        assert!(out.contains("instances = 3"), "{out}");
        assert!(out.contains("command = \"s {instance}\""), "{out}");
        assert!(
            out.contains(
                "stdout = { file = \"/var/log/s.log\", max_bytes = \"1MiB\", backups = 10 }"
            ),
            "{out}"
        );
        assert!(out.contains("stderr = \"null\""), "{out}");
        assert!(out.contains("svinit names the instances s:0"), "{out}");
    }

    #[test]
    fn odd_values_become_comments_and_output_parses() {
        let inputs = [
            "[program:a]\ncommand=a\nautorestart=maybe\nexitcodes=x\nstartsecs=-1\nstopsignal=NOPE\numask=999\npriority=high\nnumprocs=0\ndirectory=rel\nstdout_logfile=rel.log\nenvironment=\"oops\n",
            "[program:we ird\"name]\ncommand=\"a\\b\" \u{1}\n[group:g]\nprograms=we ird\"name\n[eventlistener:x]\ncommand=y\n[supervisord]\nnodaemon=true\nenvironment=G=1\n[unix_http_server]\nfile=/tmp/s.sock\n[mystery]\n",
            "[program:x.y]\ncommand=%(\nstdout_logfile=/dev/stdout\nredirect_stderr=yes\nstderr_logfile=/x\n",
        ];
        for input in inputs {
            let out = import(input);
            let parsed: Result<toml::Table, _> = out.parse();
            assert!(parsed.is_ok(), "{out}\n{parsed:?}");
        }
    }

    #[test]
    fn unsplittable_command_is_an_error() {
        let sections = parse("[program:a]\n\ncommand=echo \"open\n");
        let err = convert(&sections, Path::new("s.conf"), &[], &context()).unwrap_err();
        assert!(err.contains("/etc/supervisord.conf:3:"), "{err}");
    }

    #[test]
    fn missing_command_is_an_error() {
        let sections = parse("[program:a]\nuser=root\n");
        let err = convert(&sections, Path::new("s.conf"), &[], &context()).unwrap_err();
        assert!(err.contains("no command"), "{err}");
    }
}
