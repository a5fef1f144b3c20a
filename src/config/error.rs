//! Configuration errors: each one located at file:line:column, all collected
//! and returned together.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One configuration error, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the whole file (unreadable, missing).
    pub line: usize,
    /// 1-based column (in characters); 0 together with `line`.
    pub column: usize,
    /// Key path such as `program.nginx.stop_signal`, when one applies.
    pub key: Option<String>,
    /// What is wrong, and how to fix it where we can tell.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every error found in a configuration, in file and position order.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The errors, never empty when returned by `load`.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A position kept for an error that can only be decided later (an unknown
/// `depends_on` target, a cycle), once every file has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
}

impl Loc {
    /// The error at this position.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            key: self.key.clone(),
            message: message.into(),
        }
    }

    /// `file:line`, as shown in messages and `ProgramSpec::defined_at`.
    pub fn file_line(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// One configuration file's text, which turns byte offsets into positions.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// The position of a byte span, with an optional key path.
    pub fn loc(&self, span: &Range<usize>, key: Option<&str>) -> Loc {
        let offset = floor_char_boundary(&self.text, span.start);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        Loc {
            file: self.path.clone(),
            line,
            column,
            key: key.map(str::to_owned),
        }
    }
}

/// The largest char boundary not after `offset` (spans from the parser are
/// always on boundaries; this only guards against panics).
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Collects errors from every stage.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    errors: Vec<ConfigError>,
}

impl Sink {
    /// Records an error at a span of a source.
    pub fn at(
        &mut self,
        source: &Source,
        span: &Range<usize>,
        key: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(source.loc(span, key).error(message));
    }

    /// Records an error about a whole file.
    pub fn whole_file(&mut self, file: &Path, message: impl Into<String>) {
        self.push(ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: message.into(),
        });
    }

    /// Records a prepared error.
    pub fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// True when nothing went wrong so far.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors sorted by position and deduplicated, or `Ok` when none.
    pub fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        self.errors
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        self.errors.dedup();
        Err(ConfigErrors {
            errors: self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let source = Source {
            path: PathBuf::from("a.toml"),
            text: "x = 1\né = \"y\"\n".to_owned(),
        };
        let loc = source.loc(&(0..1), None);
        assert_eq!((loc.line, loc.column), (1, 1));
        let offset = source.text.find('"').unwrap_or(0);
        let loc = source.loc(&(offset..offset + 1), Some("é"));
        assert_eq!((loc.line, loc.column), (2, 5));
        assert_eq!(loc.error("bad").to_string(), "a.toml:2:5: é: bad");
    }

    #[test]
    fn whole_file_errors_have_no_position() {
        let mut sink = Sink::default();
        sink.whole_file(Path::new("/x.toml"), "cannot read");
        let errors = sink.finish().err().map(|e| e.to_string());
        assert_eq!(errors.as_deref(), Some("/x.toml: cannot read"));
    }
}
