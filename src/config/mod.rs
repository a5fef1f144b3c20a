//! (stub: replaced by the config room)
use std::path::{Path, PathBuf};

use crate::model::Config;

/// Where the configuration is read from by default.
pub fn default_path() -> PathBuf {
    std::env::var_os("SVINIT_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/svinit/svinit.toml"))
}

/// Every error found in the configuration.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The errors.
    pub errors: Vec<String>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.errors.join("\n"))
    }
}

/// Load and validate.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    Err(ConfigErrors {
        errors: vec![format!("{}: not implemented", path.display())],
    })
}

/// What --check prints.
pub fn describe(config: &Config) -> String {
    format!("{config:?}")
}
