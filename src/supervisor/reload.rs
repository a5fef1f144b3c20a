//! The difference between the running configuration and a new one.

use crate::model::ProgramSpec;

/// What a reload changes, by instance name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// In the new configuration only.
    pub added: Vec<String>,
    /// In both, with different settings.
    pub changed: Vec<String>,
    /// In the old configuration only.
    pub removed: Vec<String>,
}

/// Compare two resolved program lists instance by instance.
pub fn diff(old: &[ProgramSpec], new: &[ProgramSpec]) -> Diff {
    let mut result = Diff::default();
    for spec in new {
        match old.iter().find(|o| o.name == spec.name) {
            None => result.added.push(spec.name.clone()),
            Some(before) if !same_settings(before, spec) => result.changed.push(spec.name.clone()),
            Some(_) => {}
        }
    }
    for spec in old {
        if !new.iter().any(|n| n.name == spec.name) {
            result.removed.push(spec.name.clone());
        }
    }
    result
}

/// Equal apart from where they were written (moving a section between
/// files, or adding a line above it, changes nothing that runs).
fn same_settings(a: &ProgramSpec, b: &ProgramSpec) -> bool {
    let mut b = b.clone();
    b.defined_at.clone_from(&a.defined_at);
    *a == b
}
