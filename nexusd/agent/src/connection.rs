//! The state of one SSH connection, shared by the request handlers of
//! `server.rs` and the session channels of `session.rs`: who logged in with
//! which key options, the channels and their processes, forwards, and the
//! limits shared with every other connection (`limits.rs`).

use crate::authkeys::{self, Permissions};
use crate::config::AgentConfig;
use crate::forward::{AgentSockets, RemoteForwards};
use crate::limits::{Failures, Unauthenticated};
use crate::process::{PtyMaster, PtyRequest};
use crate::stdin::StdinQueue;
use crate::users::{self, User};
use russh::ChannelId;
use russh::keys::PublicKey;
use russh::server::Session;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Per-channel state: requests seen before the process starts, then its handles.
#[derive(Default)]
pub(crate) struct ChannelState {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) pty: Option<PtyRequest>,
    pub(crate) stdin: Option<StdinQueue>,
    pub(crate) master: Option<Arc<PtyMaster>>,
    pub(crate) pid: Option<i32>,
    /// Dropped with the channel's state (the channel closed, or its
    /// connection ended): the pump then stops reading the process's output,
    /// so its next write fails, as sshd closes a session's pipes.
    pub(crate) open: Option<tokio::sync::watch::Sender<()>>,
    /// Attached to a kept terminal (`terminals.rs`): its going detaches,
    /// never hangs up.
    pub(crate) kept: bool,
}

/// One SSH connection.
pub struct Connection {
    pub(crate) id: u64,
    pub(crate) config: Arc<AgentConfig>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) user: Option<User>,
    /// What the accepted key's authorized_keys options allow.
    pub(crate) permissions: Permissions,
    pub(crate) channels: HashMap<ChannelId, ChannelState>,
    pub(crate) remote: RemoteForwards,
    /// `SSH_AUTH_SOCK`, once the client asked for agent forwarding.
    pub(crate) agent_socket: Option<PathBuf>,
    pub(crate) agents: AgentSockets,
    pub(crate) failures: Failures,
    pub(crate) unauthenticated: Unauthenticated,
    /// Team mode's access list and the people's live connections.
    pub(crate) access: crate::access::Registry,
    /// Who logged in, when their key is on the access list.
    pub(crate) person: Option<crate::access::Person>,
}

impl ChannelState {
    /// A terminal session whose channel or connection is gone is hung up,
    /// as a real terminal's: `SIGHUP` to its process group. Pipes are left
    /// to see end-of-file and a broken pipe.
    pub(crate) fn hang_up(&self) {
        if let (Some(pid), Some(_), false) = (self.pid, &self.master, self.kept) {
            // SAFETY: signals the session's process group; no memory is touched.
            unsafe {
                libc::kill(-pid, libc::SIGHUP);
            }
        }
    }
}

impl Drop for Connection {
    /// Hangs up its terminal sessions (the client went away: a dropped
    /// connection, keep-alives unanswered), and forgets its forwarded agent
    /// and its place among the connections that have not logged in.
    fn drop(&mut self) {
        for state in self.channels.values() {
            state.hang_up();
        }
        self.agents.unregister(self.id);
        self.unauthenticated.forget(self.id);
        self.access.unregister(self.id);
    }
}

impl Connection {
    /// The user and the key's permissions, when `key` may log in as `user`
    /// from this client.
    pub(crate) async fn check_key(
        &self,
        user: &str,
        key: &PublicKey,
    ) -> Option<(User, Permissions, Option<crate::access::Person>)> {
        let found = self.authorized(user, key);
        if found.is_none()
            && let Some(peer) = self.peer
        {
            let fingerprint = key.fingerprint(Default::default()).to_string();
            let r = self.failures.refused(peer.ip(), &fingerprint);
            tracing::warn!(
                "failed login as {user} from {} port {} with key {fingerprint} ({} failures from this address and {} with this key in the last minute; answered after {} ms)",
                peer.ip(),
                peer.port(),
                r.from_source,
                r.of_key,
                r.delay.as_millis()
            );
            tokio::time::sleep(r.delay).await;
        }
        found
    }

    /// [`Connection::check_key`] without the bookkeeping of a refusal: an
    /// authorized key is accepted whatever others did before.
    fn authorized(&self, user: &str, key: &PublicKey) -> Option<(User, Permissions, Option<crate::access::Person>)> {
        // team mode: the access list names the person behind the key
        if let Some(person) = self.access.path().and_then(|p| crate::access::lookup(p, key)) {
            let permissions = Permissions {
                agent_forwarding: person.may_forward_agent(),
                ..Permissions::default()
            };
            return match users::lookup(user) {
                Some(u) => Some((u, permissions, Some(person))),
                None => {
                    tracing::warn!("refused login as {user} from {:?}: no such user", self.peer);
                    None
                }
            };
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
            Some(u) => Some((u, entry.permissions, None)),
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
