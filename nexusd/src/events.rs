//! The daemon's event bus: progress of creates, state changes and ports, fanned out
//! to `events.subscribe` subscribers.

use nexus_devcontainer::config::PortTarget;
use nexus_sdk::{Event, Step, WorkspaceState};
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
    pub fn progress(&self, workspace: &str, step: Step, message: impl Into<String>) {
        let _ = self.tx.send(Event::Progress {
            workspace: workspace.to_string(),
            step,
            message: message.into(),
        });
    }

    /// Announces a listener (no `host_port`) on a container port, or a
    /// host forward (`host_port`) to `target`, that `opened` or closed.
    pub fn port(&self, workspace: &str, opened: bool, target: &PortTarget, host_port: Option<u16>) {
        let (workspace, container_port, host) = (workspace.to_string(), target.port, target.host.clone());
        let _ = self.tx.send(if opened {
            Event::PortOpened {
                workspace,
                container_port,
                host,
                host_port,
            }
        } else {
            Event::PortClosed {
                workspace,
                container_port,
                host,
                host_port,
            }
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
