//! Configuration: files, directories and includes to a validated
//! [`Config`], or every error with file:line:column.
//!
//! # Layout
//!
//! - `load`: which files are read (a file or a directory, then includes).
//! - `convert`: each file's TOML tree to model values, every key checked.
//! - `order`: cross-file checks (depends_on, forward, cycles), instances, start order.
//! - `values`: scalar conversions (durations, sizes, signals, commands).
//! - `error`: [`ConfigError`], [`ConfigErrors`] and positions.
//! - `describe`: the text `svinit --check` prints.
//!
//! Knows nothing of processes.

mod convert;
mod describe;
mod error;
mod load;
mod order;
mod values;

use std::path::{Path, PathBuf};

pub use describe::describe;
pub use error::{ConfigError, ConfigErrors};
pub use values::parse_duration;

use crate::model::Config;

/// The configuration file used without `--config`.
const DEFAULT_PATH: &str = "/etc/svinit/svinit.toml";

/// `$SVINIT_CONFIG`, else `/etc/svinit/svinit.toml`.
pub fn default_path() -> PathBuf {
    match std::env::var_os("SVINIT_CONFIG") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

/// Loads a configuration file or directory, resolving users from `/etc`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_etc(path, Path::new("/etc"))
}

/// Loads a configuration file or directory, resolving users from
/// `etc_dir/passwd` and `etc_dir/group`.
pub fn load_with_etc(path: &Path, etc_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut sink = error::Sink::default();
    let sources = load::read_all(path, &mut sink);
    let parsed = convert::convert(&sources, etc_dir, &mut sink);
    let programs = order::resolve(parsed.drafts, &parsed.forward_targets, &mut sink);
    sink.finish()?;
    Ok(Config {
        supervisor: parsed.supervisor,
        programs,
        files: sources.into_iter().map(|source| source.path).collect(),
    })
}
