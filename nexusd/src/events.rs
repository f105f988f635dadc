//! The daemon's event bus: progress of creates and state changes, fanned out
//! to `events.subscribe` subscribers.

use nexus_sdk::{Event, WorkspaceState};
use tokio::sync::broadcast;

/// A cloneable sender of [`Event`]s; slow subscribers lose the oldest events.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Announces that `step` of `workspace` began.
    pub fn progress(&self, workspace: &str, step: &str, message: impl Into<String>) {
        let _ = self.tx.send(Event::Progress {
            workspace: workspace.to_string(),
            step: step.to_string(),
            message: message.into(),
        });
    }

    /// Announces a state (`None`: removed).
    pub fn state(&self, workspace: &str, state: Option<WorkspaceState>) {
        let _ = self.tx.send(Event::State {
            workspace: workspace.to_string(),
            state,
        });
    }
}
