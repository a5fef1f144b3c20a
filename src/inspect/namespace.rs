//! Pid namespaces: translating another namespace's pids to our view.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Owners;

/// Inode of the pid namespace of `pid` (a number or `self`), if readable.
pub fn pid_namespace(proc_root: &Path, pid: &str) -> Option<u64> {
    std::fs::metadata(proc_root.join(pid).join("ns/pid"))
        .ok()
        .map(|meta| meta.ino())
}

/// Re-key `owners` (pids as seen inside namespace `namespace`) by the pids
/// this process sees, using the `NSpid:` line of every process that lives
/// in that namespace. Owners not found are dropped.
pub fn translate_owners(proc_root: &Path, namespace: u64, owners: &Owners) -> Owners {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Owners::new();
    };
    let mut translated = Owners::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(ours) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Some(name_str) = name.to_str() else {
            continue;
        };
        if pid_namespace(proc_root, name_str) != Some(namespace) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        // The last NSpid field is the pid in the process's own namespace.
        let inner = status
            .lines()
            .find_map(|line| line.strip_prefix("NSpid:"))
            .and_then(|pids| pids.split_whitespace().last())
            .and_then(|pid| pid.parse::<i32>().ok());
        if let Some(owner) = inner.and_then(|inner| owners.get(&inner)) {
            translated.insert(ours, owner.clone());
        }
    }
    translated
}
