//! Users and groups from the container's own `/etc/passwd` and `/etc/group`.
//!
//! Parsed by hand rather than through NSS: the agent is a static binary that
//! runs in any image, including musl-based ones and images without NSS modules.

use std::path::Path;

/// One `/etc/passwd` entry (passwd(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell; `/bin/sh` when the entry leaves it empty.
    pub shell: String,
}

/// Parses passwd(5) text; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: if f[5].is_empty() {
                    "/".to_string()
                } else {
                    f[5].to_string()
                },
                shell: if f[6].is_empty() {
                    "/bin/sh".to_string()
                } else {
                    f[6].to_string()
                },
            })
        })
        .collect()
}

/// Looks `name` up in `/etc/passwd`.
pub fn lookup(name: &str) -> Option<User> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    parse_passwd(&text).into_iter().find(|u| u.name == name)
}

/// The supplementary group ids of `user` from group(5) text, with its primary group.
pub fn groups_of(group_text: &str, user: &User) -> Vec<u32> {
    let mut gids = vec![user.gid];
    for line in group_text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        if f[3].split(',').any(|m| m == user.name)
            && let Ok(gid) = f[2].parse::<u32>()
            && !gids.contains(&gid)
        {
            gids.push(gid);
        }
    }
    gids
}

/// Rewrites passwd(5) text so `name` has `uid` and `gid`, and group(5) text so
/// its own group (same name, its primary gid) has `gid`. Returns the new passwd and
/// group texts, or `None` when `name` has no entry.
pub fn remap(passwd: &str, group: &str, name: &str, uid: u32, gid: u32) -> Option<(String, String, u32, u32)> {
    let user = parse_passwd(passwd).into_iter().find(|u| u.name == name)?;
    // passwd: name:pw:uid:gid:...; group: name:pw:gid:members
    let new_passwd = rewrite_fields(passwd, |f| f[0] == name, &[(2, uid), (3, gid)]);
    let new_group = rewrite_fields(
        group,
        |f| f[2].parse::<u32>().ok() == Some(user.gid) && f[0] == name,
        &[(2, gid)],
    );
    Some((new_passwd, new_group, user.uid, user.gid))
}

/// Sets numeric `fields` on the colon-separated lines that `select` picks.
fn rewrite_fields(text: &str, select: impl Fn(&[&str]) -> bool, fields: &[(usize, u32)]) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && select(&f) {
            let mut owned: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            for &(i, v) in fields {
                owned[i] = v.to_string();
            }
            out.push_str(&owned.join(":"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Gives `name` the UID and GID of the worktree's owner (devcontainer.json
/// `updateRemoteUserUID`), and hands it back its home directory. A no-op when
/// they match already or when the target is root.
pub fn update_remote_user_uid(name: &str, uid: u32, gid: u32) -> std::io::Result<()> {
    if uid == 0 {
        return Ok(());
    }
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let Some((new_passwd, new_group, old_uid, old_gid)) = remap(&passwd, &group, name, uid, gid) else {
        return Ok(());
    };
    if old_uid == uid && old_gid == gid {
        return Ok(());
    }
    std::fs::write("/etc/passwd", new_passwd)?;
    if !group.is_empty() {
        std::fs::write("/etc/group", new_group)?;
    }
    if let Some(user) = lookup(name) {
        chown_tree(Path::new(&user.home), old_uid, old_gid, uid, gid);
    }
    Ok(())
}

/// Re-owns everything under `dir` owned by `old_uid`/`old_gid`; never follows
/// symlinks or crosses into mounts' contents that are not so owned.
fn chown_tree(dir: &Path, old_uid: u32, old_gid: u32, uid: u32, gid: u32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    let new_uid = if meta.uid() == old_uid { Some(uid) } else { None };
    let new_gid = if meta.gid() == old_gid { Some(gid) } else { None };
    if new_uid.is_some() || new_gid.is_some() {
        let _ = std::os::unix::fs::lchown(dir, new_uid, new_gid);
    }
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for entry in entries.flatten() {
            chown_tree(&entry.path(), old_uid, old_gid, uid, gid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        dev:x:1000:1000:dev:/home/dev:/bin/bash\n\
        bad line\n\
        svc:x:999:999::/srv:\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:dev\ndev:x:1000:\n";

    #[test]
    fn parses_passwd() {
        let users = parse_passwd(PASSWD);
        assert_eq!(users.len(), 3);
        assert_eq!(users[1].name, "dev");
        assert_eq!(users[1].uid, 1000);
        assert_eq!(users[2].shell, "/bin/sh");
    }

    #[test]
    fn finds_supplementary_groups() {
        let dev = parse_passwd(PASSWD).remove(1);
        assert_eq!(groups_of(GROUP, &dev), vec![1000, 27]);
    }

    #[test]
    fn remaps_uid_and_group() {
        let (p, g, old_uid, old_gid) = remap(PASSWD, GROUP, "dev", 1234, 1234).expect("dev exists");
        assert_eq!((old_uid, old_gid), (1000, 1000));
        assert!(p.contains("dev:x:1234:1234:dev:/home/dev:/bin/bash"));
        assert!(p.contains("root:x:0:0:root:/root:/bin/bash"));
        assert!(g.contains("dev:x:1234:"));
        assert!(g.contains("sudo:x:27:dev"));
        assert!(remap(PASSWD, GROUP, "nobody", 1, 1).is_none());
    }
}
