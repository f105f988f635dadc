//! Team mode's access list: `access.json` beside the relay socket
//! (`/.nexus/run/`), which the daemon rewrites whenever who may reach the
//! workspace changes (a share made, ended or expired, a person suspended, a
//! key added or removed). Each entry names a key's person, their role and
//! when their access ends.
//!
//! A login's identity is the entry of the key that signed (russh calls
//! `auth_publickey` only after verifying the signature, with that key), so
//! a client that offers one key and signs with another gets the second's
//! identity. A watcher re-reads the file every second and disconnects the
//! connections of people no longer on it, or whose access expired; it keeps
//! `sessions.json` beside it (who is connected, with which key, since
//! when) for `workspace.sessions`, and appends each person's connection
//! opening and closing to `ssh-events.jsonl` for the daemon's audit log.

use russh::keys::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One entry of `access.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    /// The public key, OpenSSH one-line format.
    key: String,
    /// The person's name.
    user: String,
    /// `creator`, `owner` or `editor`.
    role: String,
    /// Seconds since the Unix epoch when the access ends.
    #[serde(default)]
    expires_at: Option<u64>,
    /// The person's e-mail address for git.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AccessFile {
    #[serde(default)]
    entries: Vec<Entry>,
}

/// Who a login is, from the access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their name (`NEXUS_USER`).
    pub user: String,
    /// `creator`, `owner` or `editor`.
    pub role: String,
    /// For git's author and committer.
    pub email: String,
    /// The SHA-256 fingerprint of the key they signed with.
    pub fingerprint: String,
}

impl Person {
    /// Whether they may forward their ssh-agent (everyone shares one
    /// container user, so only the creator may).
    pub fn may_forward_agent(&self) -> bool {
        self.role == "creator"
    }

    /// The session environment naming them: `NEXUS_USER` and git's author
    /// and committer.
    pub fn environment(&self) -> Vec<(String, String)> {
        vec![
            ("NEXUS_USER".into(), self.user.clone()),
            ("GIT_AUTHOR_NAME".into(), self.user.clone()),
            ("GIT_AUTHOR_EMAIL".into(), self.email.clone()),
            ("GIT_COMMITTER_NAME".into(), self.user.clone()),
            ("GIT_COMMITTER_EMAIL".into(), self.email.clone()),
        ]
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read(path: &Path) -> AccessFile {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The person whose entry holds `key`, with access now; `None` when the
/// file is missing, has no such key, or it expired.
pub fn lookup(path: &Path, key: &PublicKey) -> Option<Person> {
    let now = now();
    read(path).entries.into_iter().find_map(|e| {
        let k = PublicKey::from_openssh(e.key.trim()).ok()?;
        (k.key_data() == key.key_data() && e.expires_at.is_none_or(|t| t > now)).then(|| Person {
            email: e.email.clone().unwrap_or_else(|| format!("{}@nexus", e.user)),
            user: e.user,
            role: e.role,
            fingerprint: key.fingerprint(Default::default()).to_string(),
        })
    })
}

/// A logged-in connection of a person.
struct Live {
    person: Person,
    peer: String,
    since: u64,
    handle: russh::server::Handle,
}

/// One row of `sessions.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionRow<'a> {
    user: &'a str,
    fingerprint: &'a str,
    peer: &'a str,
    since: u64,
}

/// The connections of people from the access list, by connection id.
#[derive(Clone, Default)]
pub struct Registry {
    live: Arc<Mutex<HashMap<u64, Live>>>,
    /// `access.json` (`sessions.json` beside it); none without a relay socket.
    path: Option<PathBuf>,
}

impl Registry {
    /// The registry of the access list at `path`.
    pub fn new(path: Option<PathBuf>) -> Registry {
        Registry {
            live: Arc::default(),
            path,
        }
    }

    /// The access list's path.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records connection `id` of `person` (once).
    pub fn register(&self, id: u64, person: &Person, peer: String, handle: russh::server::Handle) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.contains_key(&id) {
            return;
        }
        self.append_event("open", person, &peer);
        live.insert(
            id,
            Live {
                person: person.clone(),
                peer,
                since: now(),
                handle,
            },
        );
        self.write_sessions(&live);
    }

    /// Appends one line to `ssh-events.jsonl` beside the access list, which
    /// the daemon turns into audit rows: `{"at", "event": "open"|"close",
    /// "user", "fingerprint", "peer"}`.
    fn append_event(&self, event: &str, person: &Person, peer: &str) {
        let Some(dir) = self.path.as_deref().and_then(Path::parent) else {
            return;
        };
        let line = serde_json::json!({
            "at": now(),
            "event": event,
            "user": person.user,
            "fingerprint": person.fingerprint,
            "peer": peer,
        });
        use std::io::Write;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ssh-events.jsonl"))
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            tracing::warn!("cannot record the SSH session event: {e}");
        }
    }

    /// Forgets connection `id`.
    pub fn unregister(&self, id: u64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(gone) = live.remove(&id) {
            self.append_event("close", &gone.person, &gone.peer);
            self.write_sessions(&live);
        }
    }

    fn write_sessions(&self, live: &HashMap<u64, Live>) {
        let Some(dir) = self.path.as_deref().and_then(Path::parent) else {
            return;
        };
        let mut rows: Vec<SessionRow<'_>> = live
            .values()
            .map(|l| SessionRow {
                user: &l.person.user,
                fingerprint: &l.person.fingerprint,
                peer: &l.peer,
                since: l.since,
            })
            .collect();
        rows.sort_by_key(|r| r.since);
        let tmp = dir.join("sessions.json.tmp");
        let text = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join("sessions.json")))
            .is_err()
        {
            tracing::warn!("cannot write {}", dir.join("sessions.json").display());
        }
    }

    /// Every second: the connections whose person is no longer on the
    /// access list with the key they used (or whose access expired) are
    /// disconnected.
    pub async fn watch(self) {
        let Some(path) = self.path.clone() else { return };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let revoked: Vec<(u64, russh::server::Handle, String)> = {
                let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                if live.is_empty() {
                    continue;
                }
                let now = now();
                let list = read(&path);
                live.iter()
                    .filter(|(_, l)| {
                        !list.entries.iter().any(|e| {
                            e.user == l.person.user
                                && e.expires_at.is_none_or(|t| t > now)
                                && PublicKey::from_openssh(e.key.trim()).is_ok_and(|k| {
                                    k.fingerprint(Default::default()).to_string() == l.person.fingerprint
                                })
                        })
                    })
                    .map(|(id, l)| (*id, l.handle.clone(), l.person.user.clone()))
                    .collect()
            };
            for (id, handle, user) in revoked {
                tracing::warn!("closing {user}'s connection {id}: their access ended");
                let _ = handle
                    .disconnect(
                        russh::Disconnect::ByApplication,
                        "your access to this workspace ended".into(),
                        "en".into(),
                    )
                    .await;
                self.unregister(id);
            }
        }
    }
}
