//! uid/gid → name maps, parsed once per listing from `/etc/passwd` and
//! `/etc/group`. The binary is static, so NSS is not available; containers
//! keep their users in these files anyway.

use std::collections::HashMap;
use std::path::Path;

/// Names of users and groups by id.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// uid → user name.
    pub users: HashMap<u32, String>,
    /// gid → group name.
    pub groups: HashMap<u32, String>,
}

impl Names {
    /// Loads `/etc/passwd` and `/etc/group`; missing files give empty maps.
    pub fn load_system() -> Names {
        Names::load(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    /// Loads the given passwd and group files; missing files give empty maps.
    pub fn load(passwd: &Path, group: &Path) -> Names {
        let read = |p: &Path| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
        Names {
            users: read(passwd).map(|t| parse_id_file(&t)).unwrap_or_default(),
            groups: read(group).map(|t| parse_id_file(&t)).unwrap_or_default(),
        }
    }

    /// The user name of `uid`, or the number when the uid has no entry.
    pub fn user(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }

    /// The group name of `gid`, or the number.
    pub fn group(&self, gid: u32) -> String {
        self.groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }

    /// The uid for a user name or a numeric string.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        name.parse().ok().or_else(|| {
            self.users
                .iter()
                .find(|(_, n)| n.as_str() == name)
                .map(|(&id, _)| id)
        })
    }
}

/// Parses `name:x:id:…` lines (passwd and group share the first three
/// fields). The first entry for an id wins, as with getpwuid.
pub fn parse_id_file(text: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for record in crate::users::records(text) {
        if let (Some(name), Some(id)) = (record.first(), record.get(2)) {
            if let Ok(id) = id.trim().parse::<u32>() {
                map.entry(id).or_insert_with(|| name.to_string());
            }
        }
    }
    map
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let m = parse_id_file(
            "root:x:0:0:root:/root:/bin/sh\n# comment\nbad\nnginx:x:101:101::/:/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nx:x:notanumber:0\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[&0], "root");
        assert_eq!(m[&101], "nginx");
        let names = Names {
            users: m,
            groups: HashMap::new(),
        };
        assert_eq!(names.user(5), "5");
        assert_eq!(names.uid_of("nginx"), Some(101));
        assert_eq!(names.uid_of("7"), Some(7));
        assert_eq!(names.uid_of("nobody"), None);
    }
}
