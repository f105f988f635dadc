//! The state of one SSH connection, shared by the request handlers of
//! `server.rs` and the session channels of `session.rs`: who logged in with
//! which key options, the channels and their processes, forwards, and the
//! failed-login count of the client's address.

use crate::authkeys::{self, Permissions};
use crate::config::AgentConfig;
use crate::forward::{AgentSockets, RemoteForwards};
use crate::process::{PtyMaster, PtyRequest};
use crate::stdin::StdinQueue;
use crate::users::{self, User};
use russh::ChannelId;
use russh::keys::PublicKey;
use russh::server::Session;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed connections (no successful login) allowed per client address and
/// [`FAILURE_WINDOW`] before logins from it are refused for the rest of it.
pub(crate) const MAX_FAILURES: u32 = 10;
/// The window of [`MAX_FAILURES`].
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Failed connections by client address: (count, window start).
pub(crate) type Failures = Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>;

/// Per-channel state: requests seen before the process starts, then its handles.
#[derive(Default)]
pub(crate) struct ChannelState {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) pty: Option<PtyRequest>,
    pub(crate) stdin: Option<StdinQueue>,
    pub(crate) master: Option<Arc<PtyMaster>>,
    pub(crate) pid: Option<i32>,
}

/// One SSH connection.
pub struct Connection {
    pub(crate) id: u64,
    pub(crate) config: Arc<AgentConfig>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) user: Option<User>,
    /// What the accepted key's authorized_keys options allow.
    pub(crate) permissions: Permissions,
    /// Whether the client tried to log in at all.
    pub(crate) attempted: bool,
    pub(crate) channels: HashMap<ChannelId, ChannelState>,
    pub(crate) remote: RemoteForwards,
    /// `SSH_AUTH_SOCK`, once the client asked for agent forwarding.
    pub(crate) agent_socket: Option<PathBuf>,
    pub(crate) agents: AgentSockets,
    pub(crate) failures: Failures,
}

impl Drop for Connection {
    /// Forgets the connection's forwarded agent, and counts and logs a
    /// connection that tried to log in and never did.
    fn drop(&mut self) {
        self.agents.unregister(self.id);
        if let (None, true, Some(peer)) = (&self.user, self.attempted, self.peer) {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let entry = f.entry(peer.ip()).or_insert((0, Instant::now()));
            if entry.1.elapsed() > FAILURE_WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            tracing::warn!("failed login from {} ({} in this minute)", peer.ip(), entry.0);
        }
    }
}

impl Connection {
    /// Whether logins from this client are refused for too many failures.
    pub(crate) fn throttled(&self) -> bool {
        let Some(peer) = self.peer else { return false };
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.get(&peer.ip())
            .is_some_and(|(n, start)| *n >= MAX_FAILURES && start.elapsed() <= FAILURE_WINDOW)
    }

    /// The user and the key's permissions, when `key` may log in as `user`
    /// from this client.
    pub(crate) fn check_key(&mut self, user: &str, key: &PublicKey) -> Option<(User, Permissions)> {
        self.attempted = true;
        if self.throttled() {
            tracing::warn!("refused login as {user} from {:?}: too many failed logins", self.peer);
            return None;
        }
        let text = std::fs::read_to_string(&self.config.authorized_keys_path).ok()?;
        let entry = authkeys::parse(&text)
            .into_iter()
            .find(|k| k.key.key_data() == key.key_data())?;
        if let (Some(list), Some(peer)) = (&entry.permissions.from, self.peer)
            && !authkeys::from_allows(list, peer.ip())
        {
            tracing::warn!("refused key for {user} from {}: not in from=\"{list}\"", peer.ip());
            return None;
        }
        match users::lookup(user) {
            Some(u) => Some((u, entry.permissions)),
            None => {
                tracing::warn!("refused login as {user} from {:?}: no such user", self.peer);
                None
            }
        }
    }

    pub(crate) fn reply(&self, ok: bool, channel: ChannelId, session: &mut Session) -> Result<(), russh::Error> {
        if ok {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }
}
