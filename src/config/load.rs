//! Reading files: a file or a directory of `*.toml`, then every file's
//! `[supervisor] include` globs, each file read once.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::error::{Sink, Source};
use super::values;

/// The include globs used when a top-level file has none.
const DEFAULT_INCLUDE: &str = "conf.d/*.toml";

/// An include pattern and where it was written (`None` for the default).
type Pattern = (String, Option<Range<usize>>);

/// Reads `path` (a file or a directory) and everything it includes. Returns
/// the files that parse as TOML, in reading order; every problem goes to `sink`.
pub(crate) fn read_all(path: &Path, sink: &mut Sink) -> Vec<Source> {
    let mut reader = Reader {
        sources: Vec::new(),
        seen: HashSet::new(),
        visited: 0,
    };
    if path.is_dir() {
        match toml_files_in(path) {
            Ok(files) if files.is_empty() => {
                sink.whole_file(path, "the directory holds no *.toml file");
            }
            Ok(files) => {
                for file in files {
                    reader.visit(&file, true, None, sink);
                }
            }
            Err(error) => sink.whole_file(path, format!("cannot read the directory: {error}")),
        }
    } else {
        reader.visit(path, true, None, sink);
    }
    reader.sources.sort_by_key(|(order, _)| *order);
    reader
        .sources
        .into_iter()
        .map(|(_, source)| source)
        .collect()
}

/// The `*.toml` files of a directory, sorted by name.
fn toml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The state of one load: files read so far.
struct Reader {
    /// Parsed files with the order in which they were first visited (a
    /// file comes before the files it includes).
    sources: Vec<(usize, Source)>,
    /// Canonical paths already visited, so that no file is read twice and
    /// includes cannot recurse forever.
    seen: HashSet<PathBuf>,
    /// Files visited so far: the next file's order.
    visited: usize,
}

impl Reader {
    /// Reads one file and, recursively, what it includes. `origin` is the
    /// include entry that named it, for error positions.
    fn visit(
        &mut self,
        path: &Path,
        top_level: bool,
        origin: Option<(&Source, &Range<usize>)>,
        sink: &mut Sink,
    ) {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !self.seen.insert(canonical) {
            return;
        }
        let order = self.visited;
        self.visited += 1;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                let message = format!("cannot read {}: {error}", path.display());
                match origin {
                    Some((source, span)) => {
                        sink.at(source, span, Some("supervisor.include"), message)
                    }
                    None => sink.whole_file(path, message),
                }
                return;
            }
        };
        let source = Source {
            path: path.to_path_buf(),
            text,
        };
        let patterns = match DeTable::parse(&source.text) {
            Ok(table) => include_patterns(&source, table.get_ref(), top_level, sink),
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                sink.at(
                    &source,
                    &span,
                    None,
                    format!("TOML syntax: {}", error.message()),
                );
                return;
            }
        };
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for (pattern, span) in patterns {
            for file in expand(&base, &pattern, &source, span.as_ref(), sink) {
                let origin = span.as_ref().map(|span| (&source, span));
                self.visit(&file, false, origin, sink);
            }
        }
        self.sources.push((order, source));
    }
}

/// The include patterns of a parsed file: its `[supervisor] include`, else
/// the default for a top-level file.
fn include_patterns(
    source: &Source,
    table: &DeTable<'_>,
    top_level: bool,
    sink: &mut Sink,
) -> Vec<Pattern> {
    let include = table
        .get("supervisor")
        .and_then(|supervisor| supervisor.get_ref().as_table())
        .and_then(|supervisor| supervisor.get("include"));
    let Some(include) = include else {
        return if top_level {
            vec![(DEFAULT_INCLUDE.to_owned(), None)]
        } else {
            Vec::new()
        };
    };
    let key = Some("supervisor.include");
    match include.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .filter_map(|item| match values::string(item.get_ref()) {
                Ok(pattern) => Some((pattern, Some(item.span()))),
                Err(message) => {
                    sink.at(source, &item.span(), key, message);
                    None
                }
            })
            .collect(),
        other => {
            let message = values::expected("an array of glob patterns", other);
            sink.at(source, &include.span(), key, message);
            Vec::new()
        }
    }
}

/// The files a pattern matches, relative to `base`, sorted; a pattern that
/// matches nothing is fine.
fn expand(
    base: &Path,
    pattern: &str,
    source: &Source,
    span: Option<&Range<usize>>,
    sink: &mut Sink,
) -> Vec<PathBuf> {
    let full = base.join(pattern);
    let paths = glob::glob(&full.to_string_lossy());
    let mut files: Vec<PathBuf> = match paths {
        Ok(paths) => paths
            .filter_map(Result::ok)
            .filter(|path| path.is_file())
            .collect(),
        Err(error) => {
            let message = format!("invalid glob pattern \"{pattern}\": {error}");
            match span {
                Some(span) => sink.at(source, span, Some("supervisor.include"), message),
                None => sink.whole_file(&source.path, message),
            }
            Vec::new()
        }
    };
    files.sort();
    files
}
