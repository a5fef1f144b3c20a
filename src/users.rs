//! /etc/passwd and /etc/group lookups, read directly: the binary is static,
//! so NSS is not available. The directory holding both files is a parameter
//! so that tests use their own.

use std::path::{Path, PathBuf};

/// One user, as found in passwd (or made up for a bare numeric uid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// User name, or the uid as text when it has no passwd entry.
    pub name: String,
    /// Numeric uid.
    pub uid: u32,
    /// Primary gid (the uid itself when there is no passwd entry, like Docker).
    pub gid: u32,
    /// Home directory (`/` when there is no passwd entry).
    pub home: PathBuf,
}

/// Reads `etc_dir/file`, or explains why it cannot.
fn read_table(etc_dir: &Path, file: &str) -> Result<String, String> {
    let path = etc_dir.join(file);
    std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// The colon-separated records of a passwd/group file, comments and blank lines skipped.
pub fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(':').collect())
}

/// Finds a user by name or uid in `etc_dir/passwd`; a numeric uid without an
/// entry is allowed (home `/`, gid = uid).
pub fn lookup_user(etc_dir: &Path, name_or_uid: &str) -> Result<UserEntry, String> {
    let numeric = name_or_uid.parse::<u32>().ok();
    let text = match read_table(etc_dir, "passwd") {
        Ok(text) => text,
        Err(_) if numeric.is_some() => String::new(),
        Err(error) => return Err(error),
    };
    let found = records(&text).find_map(|fields| {
        let [name, _, uid, gid, _, home, ..] = fields.as_slice() else {
            return None;
        };
        let uid = uid.parse::<u32>().ok()?;
        let matches = *name == name_or_uid || numeric == Some(uid);
        matches.then(|| UserEntry {
            name: (*name).to_owned(),
            uid,
            gid: gid.parse().unwrap_or(uid),
            home: PathBuf::from(if home.is_empty() { "/" } else { home }),
        })
    });
    match (found, numeric) {
        (Some(entry), _) => Ok(entry),
        (None, Some(uid)) => Ok(UserEntry {
            name: uid.to_string(),
            uid,
            gid: uid,
            home: PathBuf::from("/"),
        }),
        (None, None) => Err(format!(
            "no such user `{name_or_uid}` in {}",
            etc_dir.join("passwd").display()
        )),
    }
}

/// Finds a group by name or gid in `etc_dir/group`; a numeric gid without an
/// entry is allowed.
pub fn lookup_group(etc_dir: &Path, name_or_gid: &str) -> Result<u32, String> {
    let numeric = name_or_gid.parse::<u32>().ok();
    if let Some(gid) = numeric {
        return Ok(gid);
    }
    let text = read_table(etc_dir, "group")?;
    let found = records(&text).find_map(|fields| match fields.as_slice() {
        [name, _, gid, ..] if *name == name_or_gid => gid.parse::<u32>().ok(),
        _ => None,
    });
    found.ok_or_else(|| {
        format!(
            "no such group `{name_or_gid}` in {}",
            etc_dir.join("group").display()
        )
    })
}

/// The groups a process of this user gets: the primary gid first, then every
/// group in `etc_dir/group` listing the user as a member; group 0 (root) is
/// dropped from the members' groups unless the user is root.
pub fn supplementary_groups(etc_dir: &Path, user_name: &str, primary_gid: u32) -> Vec<u32> {
    let is_root = user_name == "root" || user_name == "0";
    let mut groups = vec![primary_gid];
    let text = read_table(etc_dir, "group").unwrap_or_default();
    for fields in records(&text) {
        let [_, _, gid, members, ..] = fields.as_slice() else {
            continue;
        };
        let Ok(gid) = gid.parse::<u32>() else {
            continue;
        };
        let member = members.split(',').any(|member| member.trim() == user_name);
        if member && (gid != 0 || is_root) && !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    groups
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn etc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\nredis:x:999:998::/var/lib/redis:/sbin/nologin\nbroken line\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("group"),
            "root:x:0:redis,root\nredis:x:998:\ndocker:x:997:redis, other\nwheel:x:10:root\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn users_by_name_and_uid() {
        let dir = etc();
        let redis = lookup_user(dir.path(), "redis").unwrap();
        assert_eq!((redis.uid, redis.gid), (999, 998));
        assert_eq!(redis.home, PathBuf::from("/var/lib/redis"));
        assert_eq!(lookup_user(dir.path(), "999").unwrap().name, "redis");
        let bare = lookup_user(dir.path(), "1234").unwrap();
        assert_eq!(
            (bare.name.as_str(), bare.uid, bare.gid),
            ("1234", 1234, 1234)
        );
        assert_eq!(bare.home, PathBuf::from("/"));
        let error = lookup_user(dir.path(), "nobodyy").unwrap_err();
        assert!(error.starts_with("no such user `nobodyy` in "), "{error}");
    }

    #[test]
    fn numeric_uid_needs_no_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lookup_user(dir.path(), "5").unwrap().gid, 5);
        assert!(lookup_user(dir.path(), "redis")
            .unwrap_err()
            .contains("cannot read"));
    }

    #[test]
    fn groups() {
        let dir = etc();
        assert_eq!(lookup_group(dir.path(), "docker").unwrap(), 997);
        assert_eq!(lookup_group(dir.path(), "4321").unwrap(), 4321);
        assert!(lookup_group(dir.path(), "nope")
            .unwrap_err()
            .contains("no such group `nope`"));
        assert_eq!(
            supplementary_groups(dir.path(), "redis", 998),
            vec![998, 997]
        );
        assert_eq!(supplementary_groups(dir.path(), "root", 0), vec![0, 10]);
    }
}
