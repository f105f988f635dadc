//! The user's side of SSH: finding their public keys, and the files Nexus owns
//! under `~/.ssh/nexus/` (an ssh_config(5) file of `Host nexus-<name>` blocks
//! and a known_hosts file pinning each workspace's host key), included once
//! from `~/.ssh/config`.

use anyhow::Context;
use nexus_sdk::Workspace;
use std::path::{Path, PathBuf};

/// The home directory, from `$HOME`.
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `~/.ssh`.
pub fn ssh_dir() -> PathBuf {
    home().join(".ssh")
}

/// The directory of the files Nexus owns.
pub fn nexus_dir() -> PathBuf {
    ssh_dir().join("nexus")
}

/// The Nexus ssh_config file.
pub fn config_path() -> PathBuf {
    nexus_dir().join("config")
}

/// The Nexus known_hosts file.
pub fn known_hosts_path() -> PathBuf {
    nexus_dir().join("known_hosts")
}

/// The ssh alias of a workspace.
pub fn alias(name: &str) -> String {
    format!("nexus-{name}")
}

/// A public key the user gave or has, with its private key when beside it.
#[derive(Debug, Clone)]
pub struct UserKey {
    /// The `.pub` line.
    pub public: String,
    /// The private key file, when it exists.
    pub private: Option<PathBuf>,
}

/// No SSH public key to authorize: none in `~/.ssh`, or the one `--ssh-key`
/// names cannot be read. Bad input: the CLI exits 64 for it.
#[derive(Debug)]
pub struct NoSshKey(pub String);

impl std::fmt::Display for NoSshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoSshKey {}

fn read_key(pub_path: &Path) -> anyhow::Result<UserKey> {
    let public = std::fs::read_to_string(pub_path)
        .map_err(|e| {
            NoSshKey(format!(
                "cannot read the public key {} ({e}): pass --ssh-key PATH to a .pub file",
                pub_path.display()
            ))
        })?
        .trim()
        .to_string();
    let private = pub_path
        .to_str()
        .and_then(|s| s.strip_suffix(".pub"))
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    Ok(UserKey { public, private })
}

/// The user's keys: `--ssh-key PATH` (the `.pub` file, or the private key with
/// its `.pub` beside it), else every `~/.ssh/*.pub`.
pub fn user_keys(explicit: Option<&Path>) -> anyhow::Result<Vec<UserKey>> {
    if let Some(p) = explicit {
        let pub_path = if p.extension().is_some_and(|e| e == "pub") {
            p.to_path_buf()
        } else {
            PathBuf::from(format!("{}.pub", p.display()))
        };
        return Ok(vec![read_key(&pub_path)?]);
    }
    let mut keys = Vec::new();
    if let Ok(entries) = std::fs::read_dir(ssh_dir()) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "pub")) {
            if let Ok(k) = read_key(&p) {
                keys.push(k);
            }
        }
    }
    if keys.is_empty() {
        return Err(NoSshKey(format!(
            "no SSH public key in {}: make one with `ssh-keygen -t ed25519`, or pass --ssh-key PATH",
            ssh_dir().display()
        ))
        .into());
    }
    Ok(keys)
}

/// The name a workspace's `Host` alias is made of: its own name, or
/// `<owner>-<name>` for another person's (team mode; `me` is who is asking).
pub fn label(w: &Workspace, me: Option<&str>) -> String {
    match (&w.owner, me) {
        (Some(owner), Some(me)) if owner != me => format!("{owner}-{}", w.name),
        _ => w.name.clone(),
    }
}

/// The known_hosts line pinning a workspace's host key under its alias.
pub fn known_hosts_line(w: &Workspace, me: Option<&str>) -> String {
    format!("{} {}", alias(&label(w, me)), w.host_public_key.trim())
}

/// The `Host nexus-<name>` block of a workspace (with `ForwardAgent yes`: the
/// agent serves forwarded agents on a stable per-user socket, `docs/ssh.md`).
/// With `proxy` (see [`proxy_line`]), ssh reaches it through the daemon's
/// API instead of its port.
fn host_block(w: &Workspace, me: Option<&str>, identities: &[PathBuf], proxy: Option<&str>) -> String {
    let label = label(w, me);
    // another person's workspace refuses agent forwarding (docs/ssh.md)
    let forward = if label == w.name { "yes" } else { "no" };
    let mut b = format!(
        "Host {alias}\n  HostName {host}\n  Port {port}\n  User {user}\n  HostKeyAlias {alias}\n  UserKnownHostsFile \"{kh}\"\n  StrictHostKeyChecking yes\n  ForwardAgent {forward}\n",
        alias = alias(&label),
        host = w.ssh_host,
        port = w.ssh_port,
        user = w.remote_user,
        kh = known_hosts_path().display(),
    );
    if let Some(prefix) = proxy {
        b.push_str(&format!("  ProxyCommand {}\n", proxy_line(prefix, &w.name)));
    }
    for id in identities {
        b.push_str(&format!("  IdentityFile \"{}\"\n", id.display()));
    }
    b
}

/// The `ProxyCommand` for workspace `name`: `prefix` (the `nexus` binary
/// and its global flags) and `workspace ssh --stdio NAME`.
pub fn proxy_line(prefix: &str, name: &str) -> String {
    format!("{prefix} workspace ssh --stdio {name}")
}

/// Writes `text` to `path` (through a temporary file, renamed), mode 0600.
pub fn write_0600(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Rewrites the Nexus-owned config and known_hosts for `workspaces`.
pub fn write_nexus_files(
    workspaces: &[Workspace],
    me: Option<&str>,
    identities: &[PathBuf],
    proxy: Option<&str>,
) -> anyhow::Result<()> {
    let dir = nexus_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = String::from("# Written by `nexus ssh-config`; changes here are overwritten.\n\n");
    let mut known = String::new();
    for w in workspaces {
        config.push_str(&host_block(w, me, identities, proxy));
        config.push('\n');
        known.push_str(&known_hosts_line(w, me));
        known.push('\n');
    }
    write_0600(&config_path(), &config)?;
    write_0600(&known_hosts_path(), &known)?;
    Ok(())
}

/// Makes `~/.ssh/config` include the Nexus file: one `Include` line put
/// first (an Include after a `Host` line would apply only to that host), the
/// user's own lines kept byte for byte, a backup made the first time.
/// Returns whether the file changed.
pub fn ensure_include() -> anyhow::Result<bool> {
    let path = ssh_dir().join("config");
    let include = format!("Include \"{}\"", config_path().display());
    let current = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if let Some(text) = &current {
        if text.lines().any(|l| l.trim() == include) {
            return Ok(false);
        }
        let backup = ssh_dir().join("config.nexus-backup");
        if !backup.exists() {
            std::fs::copy(&path, &backup).with_context(|| format!("cannot back up {}", path.display()))?;
        }
    }
    let new = format!(
        "# Added by nexus: workspaces' Host blocks\n{include}\n\n{}",
        current.unwrap_or_default()
    );
    write_0600(&path, &new)?;
    Ok(true)
}

/// Pins workspace `w`'s host key in the Nexus known_hosts file: its line
/// replaces any earlier one of the same alias; the other entries stay as
/// they are. Errors: the file cannot be written.
pub fn pin_host_key(w: &nexus_sdk::Workspace) -> std::io::Result<()> {
    let mut known = std::fs::read_to_string(known_hosts_path()).unwrap_or_default();
    let line = known_hosts_line(w, None);
    if known.lines().any(|l| l == line) {
        return Ok(());
    }
    let prefix = format!("{} ", alias(&w.name));
    known = known
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    known.push_str(&line);
    known.push('\n');
    std::fs::create_dir_all(nexus_dir())?;
    std::fs::write(known_hosts_path(), known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Workspace {
        Workspace {
            id: "0123456789abcdef".into(),
            name: "feat".into(),
            state: nexus_sdk::WorkspaceState::Running,
            repository: "/r".into(),
            worktree: "/r/.worktree/feat".into(),
            branch: "nexus/feat".into(),
            image: "img".into(),
            remote_user: "dev".into(),
            workspace_folder: "/workspaces/r".into(),
            ssh_host: "127.0.0.1".into(),
            ssh_port: 32800,
            host_public_key: "ssh-ed25519 AAAA nexus".into(),
            created_at: 0,
            customizations: None,
            owner: None,
            agent_version: None,
            state_reason: None,
            idle: None,
            docker: None,
        }
    }

    #[test]
    fn another_persons_workspace_is_named_with_its_owner_and_forwards_no_agent() {
        let theirs = Workspace {
            owner: Some("bo".into()),
            ..ws()
        };
        let b = host_block(&theirs, Some("ana"), &[], None);
        assert!(b.starts_with("Host nexus-bo-feat\n"), "{b}");
        assert!(b.contains("  ForwardAgent no\n"));
        assert_eq!(
            known_hosts_line(&theirs, Some("ana")),
            "nexus-bo-feat ssh-ed25519 AAAA nexus"
        );
        assert!(host_block(&theirs, Some("bo"), &[], None).starts_with("Host nexus-feat\n"));
    }

    #[test]
    fn host_block_pins_the_key_under_the_alias() {
        let b = host_block(&ws(), None, &[PathBuf::from("/h/.ssh/id_ed25519")], None);
        assert!(b.starts_with("Host nexus-feat\n"));
        assert!(b.contains("  Port 32800\n"));
        assert!(b.contains("  User dev\n"));
        assert!(b.contains("  HostKeyAlias nexus-feat\n"));
        assert!(b.contains("  StrictHostKeyChecking yes\n"));
        assert!(b.contains("  ForwardAgent yes\n"));
        assert!(b.contains("  IdentityFile \"/h/.ssh/id_ed25519\"\n"));
        assert_eq!(known_hosts_line(&ws(), None), "nexus-feat ssh-ed25519 AAAA nexus");
    }
}
