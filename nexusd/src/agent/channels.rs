//! Open exec and tunnel channels by id, so the requests that steer one
//! (`exec.write`, `exec.resize`, `tunnel.close`, …) reach it from any
//! connection. An id lives as long as its [`Registration`].

use crate::agent::client::Control;
use crate::error::{Result, WorkspaceError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Id → (where its requests go, its workspace).
type Map = Arc<Mutex<HashMap<String, (mpsc::Sender<Control>, String)>>>;

/// The registry; one per daemon.
#[derive(Default)]
pub struct Channels {
    map: Map,
}

/// An id in the registry; dropping it removes the id.
pub struct Registration {
    /// The id (16 hex digits).
    pub id: String,
    map: Map,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&self.id);
        }
    }
}

impl Channels {
    /// A new id for a channel of workspace `workspace`, and the receiving
    /// end of its requests (a few at a time: a sender waits while the
    /// channel catches up).
    pub fn register(&self, workspace: &str) -> (Registration, mpsc::Receiver<Control>) {
        let (tx, rx) = mpsc::channel(4);
        let id = crate::keys::random_hex(8);
        if let Ok(mut map) = self.map.lock() {
            map.insert(id.clone(), (tx, workspace.to_string()));
        }
        let registration = Registration {
            id,
            map: self.map.clone(),
        };
        (registration, rx)
    }

    /// The workspace of channel `id`, while it is open.
    pub fn workspace_of(&self, id: &str) -> Option<String> {
        self.map.lock().ok().and_then(|m| m.get(id).map(|(_, w)| w.clone()))
    }

    /// Open channels by workspace.
    pub fn by_workspace(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        if let Ok(map) = self.map.lock() {
            for (_, w) in map.values() {
                *counts.entry(w.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// Hands `control` to the channel `id` (`what`: `exec` or `tunnel`, for the error).
    pub async fn send(&self, what: &'static str, id: &str, control: Control) -> Result<()> {
        let tx = self.map.lock().ok().and_then(|m| m.get(id).map(|(tx, _)| tx.clone()));
        let gone = || WorkspaceError::SessionNotFound {
            what,
            id: id.to_string(),
        };
        tx.ok_or_else(gone)?.send(control).await.map_err(|_| gone())
    }

    /// Writes `bytes` and waits until they are sent.
    pub async fn write(&self, what: &'static str, id: &str, bytes: Vec<u8>) -> Result<()> {
        let (done, sent) = tokio::sync::oneshot::channel();
        self.send(what, id, Control::Write(bytes, done)).await?;
        sent.await.map_err(|_| WorkspaceError::SessionNotFound {
            what,
            id: id.to_string(),
        })
    }
}
