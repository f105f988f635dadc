//! Forwarding (RFC 4254 section 7 and OpenSSH's PROTOCOL): local
//! (`direct-tcpip`, `direct-streamlocal@openssh.com`), remote
//! (`tcpip-forward`), and agent forwarding (`auth-agent-req@openssh.com`)
//! through one socket per user at a path that stays the same across sessions.

use crate::users::User;
use russh::Channel;
use russh::server::{Handle, Msg};
use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;

/// Copies both ways between a channel and a stream until both sides end,
/// marking the workspace active while bytes move.
pub async fn pipe(channel: Channel<Msg>, stream: impl AsyncRead + AsyncWrite + Unpin) {
    let mut ch = channel.into_stream();
    let mut stream = crate::activity::Marked(stream);
    let _ = tokio::io::copy_bidirectional(&mut ch, &mut stream).await;
}

/// Whether `user` may connect to the Unix socket at `path` (write permission
/// on the socket, as connect(2) checks it), for `direct-streamlocal`: the
/// agent itself runs as root.
pub fn may_connect(user: &User, groups: &[u32], path: &Path) -> bool {
    if user.uid == 0 {
        return true;
    }
    let Ok(m) = std::fs::metadata(path) else { return false };
    let mode = m.permissions().mode();
    if m.uid() == user.uid {
        mode & 0o200 != 0
    } else if groups.contains(&m.gid()) {
        mode & 0o020 != 0
    } else {
        mode & 0o002 != 0
    }
}

/// The address a `tcpip-forward` binds: the loopback for `""` and
/// `localhost` (OpenSSH's default `GatewayPorts no`), else as given.
pub fn bind_address(address: &str) -> String {
    match address {
        "" | "localhost" => "127.0.0.1".to_string(),
        "*" => "0.0.0.0".to_string(),
        other => other.to_string(),
    }
}

/// One connection's remote forwards; dropping it stops them all.
#[derive(Default)]
pub struct RemoteForwards {
    listeners: HashMap<(String, u32), JoinHandle<()>>,
}

impl RemoteForwards {
    /// Listens on `address:port` (0: any free port, written back) and opens
    /// a `forwarded-tcpip` channel to the client for every connection.
    pub async fn add(&mut self, handle: Handle, address: &str, port: &mut u32) -> std::io::Result<()> {
        let requested = address.to_string();
        let listener = tokio::net::TcpListener::bind((bind_address(address), *port as u16)).await?;
        let bound = listener.local_addr()?.port() as u32;
        *port = bound;
        let task = tokio::spawn(async move {
            while let Ok((socket, peer)) = listener.accept().await {
                let handle = handle.clone();
                let requested = requested.clone();
                tokio::spawn(async move {
                    let opened = handle
                        .channel_open_forwarded_tcpip(requested, bound, peer.ip().to_string(), peer.port() as u32)
                        .await;
                    if let Ok(channel) = opened {
                        pipe(channel, socket).await;
                    }
                });
            }
        });
        self.listeners.insert((address.to_string(), bound), task);
        Ok(())
    }

    /// Stops the forward of `address:port`; whether there was one.
    pub fn cancel(&mut self, address: &str, port: u32) -> bool {
        self.listeners
            .remove(&(address.to_string(), port))
            .map(|t| t.abort())
            .is_some()
    }
}

impl Drop for RemoteForwards {
    fn drop(&mut self) {
        for (_, t) in self.listeners.drain() {
            t.abort();
        }
    }
}

/// The directory of a user's forwarded agent socket.
pub fn agent_dir(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/nexus-ssh-agent-{uid}"))
}

struct UserAgent {
    /// Connections that forward an agent, newest last: (connection id, handle).
    handles: Vec<(u64, Handle)>,
    _listener: JoinHandle<()>,
}

/// Forwarded agents, one socket per user at `/tmp/nexus-ssh-agent-<uid>/agent.sock`
/// (directory 0700, socket 0600, both the user's). A client of the socket
/// reaches the newest live connection of that user that forwards an agent.
#[derive(Clone, Default)]
pub struct AgentSockets {
    users: Arc<Mutex<HashMap<u32, UserAgent>>>,
}

impl AgentSockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, UserAgent>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers connection `conn` of `user` as forwarding its agent; returns
    /// the socket path for `SSH_AUTH_SOCK`.
    pub fn register(&self, user: &User, conn: u64, handle: Handle) -> std::io::Result<PathBuf> {
        let dir = agent_dir(user.uid);
        let path = dir.join("agent.sock");
        let mut users = self.lock();
        if let Some(entry) = users.get_mut(&user.uid)
            && path.exists()
        {
            entry.handles.push((conn, handle));
            return Ok(path);
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))?;
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))?;
        let sockets = self.clone();
        let uid = user.uid;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sockets = sockets.clone();
                tokio::spawn(async move { sockets.serve(uid, stream).await });
            }
        });
        let mut handles = users.remove(&user.uid).map(|u| u.handles).unwrap_or_default();
        handles.push((conn, handle));
        users.insert(
            user.uid,
            UserAgent {
                handles,
                _listener: task,
            },
        );
        Ok(path)
    }

    /// Forgets connection `conn` (it closed).
    pub fn unregister(&self, conn: u64) {
        for entry in self.lock().values_mut() {
            entry.handles.retain(|(c, _)| *c != conn);
        }
    }

    /// Relays one client of the socket to the newest connection that answers.
    async fn serve(&self, uid: u32, stream: tokio::net::UnixStream) {
        loop {
            let newest = self.lock().get(&uid).and_then(|u| u.handles.last().cloned());
            let Some((conn, handle)) = newest else { return };
            match handle.channel_open_agent().await {
                Ok(channel) => return pipe(channel, stream).await,
                Err(_) => self.unregister(conn),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_loopback_by_default() {
        assert_eq!(bind_address(""), "127.0.0.1");
        assert_eq!(bind_address("localhost"), "127.0.0.1");
        assert_eq!(bind_address("*"), "0.0.0.0");
        assert_eq!(bind_address("0.0.0.0"), "0.0.0.0");
    }

    #[test]
    fn socket_access_follows_mode_bits() {
        let user = User {
            name: "u".into(),
            uid: 4242,
            gid: 4242,
            home: "/".into(),
            shell: "/bin/sh".into(),
        };
        let dir = tempfile_dir();
        let path = dir.join("s");
        std::fs::write(&path, "").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // owned by root (the test runs as root or as another user): not ours
        assert!(!may_connect(&user, &[4242], &path));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(may_connect(&user, &[4242], &path));
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nexus-agent-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }
}
