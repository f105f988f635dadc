//! Reconcile: after a start or a crash, records are settled against
//! Docker and git (DESIGN.md: nothing orphaned).

use super::*;

impl Manager {
    /// Settles records against Docker and git after a start or a crash:
    /// stale forwards released, `creating` rolled back, `removing` finished,
    /// running/stopped set to what Docker says, and containers of this daemon
    /// without a record removed.
    pub async fn reconcile(&self) -> Result<()> {
        // forwards lived in the previous process: their ports are free again
        self.store.release_ports_like(crate::agent::forwards::PURPOSE)?;
        if let Err(e) = self.runtime.ping().await {
            tracing::warn!("skipping reconciliation: {e}");
            return Ok(());
        }
        let records = self.store.list()?;
        self.remove_unfinished_checkpoints(&records).await;
        for r in &records {
            match r.state {
                WorkspaceState::Creating => {
                    tracing::info!(workspace = %r.name, "rolling back an unfinished create");
                    self.rollback(r).await;
                }
                WorkspaceState::Removing => {
                    tracing::info!(workspace = %r.name, "finishing an unfinished remove");
                    if let Err(e) = self.finish_remove(r, r.delete_branch).await {
                        tracing::error!(workspace = %r.name, "cannot finish the remove: {e}");
                    }
                }
                WorkspaceState::Running | WorkspaceState::Stopped | WorkspaceState::Paused => {
                    let container = container_name(r);
                    let state = match self.runtime.running(&container).await? {
                        Some(true) if self.runtime.paused(&container).await? == Some(true) => WorkspaceState::Paused,
                        Some(true) => WorkspaceState::Running,
                        _ => WorkspaceState::Stopped,
                    };
                    if state != r.state {
                        // a reason holds only for the sleep it explains
                        let reason = r.state_reason.as_deref().filter(|_| state != WorkspaceState::Running);
                        self.store.set_state_because(&r.id, state, reason)?;
                    }
                    // asleep: its port stays with the relay, which wakes it at the SSH banner
                    let idle_stopped = state == WorkspaceState::Stopped
                        && r.state_reason.as_deref().is_some_and(|w| w.starts_with("idle"));
                    if (state == WorkspaceState::Paused || idle_stopped)
                        && let Some(relay) = self.relay.as_ref().filter(|_| r.ssh_relay)
                    {
                        let mut r = r.clone();
                        if let Err(e) = self.publish_ssh(&mut r).await {
                            tracing::error!(workspace = %r.name, "cannot relay its SSH port: {e}");
                        } else if let Err(e) = relay.sleep(r.ssh_port).await {
                            tracing::warn!(workspace = %r.name, "its port will not wake it: {e}");
                        }
                    }
                    self.trace_watch(r).await;
                    if state == WorkspaceState::Running {
                        // the relay may have ended with the machine, or be a new one
                        let mut r = r.clone();
                        if let Err(e) = self.publish_ssh(&mut r).await {
                            tracing::error!(workspace = %r.name, "cannot relay its SSH port: {e}");
                        }
                        self.watch_ports(&r);
                        self.forward_declared(&r).await;
                    }
                }
            }
        }
        let known: std::collections::HashSet<String> = self.store.list()?.into_iter().map(|r| r.id).collect();
        for c in self.runtime.list_owned(&self.daemon_id).await? {
            if !known.contains(&c.workspace_id) {
                tracing::info!("removing container {} of no workspace", c.id);
                self.runtime.remove(&c.id).await?;
            }
        }
        Ok(())
    }
}

impl Manager {
    /// Follows the engine for as long as the daemon runs: a workspace whose
    /// container stops under it (`docker stop`, a crash, an engine restart)
    /// is recorded stopped, with its forwards and agent connections
    /// dropped; one started under it is recorded running again. While the
    /// engine is away it tries again, backing off to 30 s, and once it is
    /// back syncs every record with it (events may have been missed).
    pub fn watch_engine(self: &Arc<Self>) {
        let m = self.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            let (mut backoff, mut connected_before) = (std::time::Duration::from_secs(1), false);
            loop {
                match m.runtime.container_events(&m.daemon_id).await {
                    Ok(mut events) => {
                        backoff = std::time::Duration::from_secs(1);
                        if connected_before && let Err(e) = m.sync_states().await {
                            tracing::warn!("cannot sync workspaces with the engine: {e}");
                        }
                        connected_before = true;
                        while let Some(Ok(ev)) = events.next().await {
                            m.container_event(ev).await;
                        }
                        tracing::warn!("lost the engine's events: trying again");
                    }
                    Err(e) => tracing::debug!("no engine events: {e}"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
            }
        });
    }

    /// Records what the engine says of the running/stopped workspaces.
    async fn sync_states(&self) -> Result<()> {
        for r in self.store.list()? {
            if matches!(
                r.state,
                WorkspaceState::Running | WorkspaceState::Stopped | WorkspaceState::Paused
            ) {
                let running = self.runtime.running(&container_name(&r)).await? == Some(true);
                self.container_changed(&r, running).await;
            }
        }
        Ok(())
    }

    /// A container of this daemon started or died: settles its workspace,
    /// unless a flow holds the workspace (it records the state itself).
    async fn container_event(&self, ev: crate::runtime::docker::ContainerEvent) {
        let Ok(records) = self.store.list() else { return };
        if let Some(r) = records
            .iter()
            .find(|r| r.container_id.as_deref() == Some(ev.id.as_str()))
        {
            self.container_changed(r, ev.running).await;
        }
    }

    /// Records workspace `r` running or stopped as its container now is,
    /// when no flow holds it and its record says otherwise.
    async fn container_changed(&self, r: &WorkspaceRecord, running: bool) {
        let Ok(_guard) = self.lock_of(&r.name).try_lock_owned() else {
            return;
        };
        let Ok(mut r) = self.store.get(&r.name) else { return };
        match (r.state, running) {
            (WorkspaceState::Running | WorkspaceState::Paused, false) => {
                tracing::info!(workspace = %r.name, "its container stopped under the daemon: recorded stopped");
                self.stop_forwards(&r);
                self.agents.forget(&r.id).await;
                if let Err(e) = self.store.set_state(&r.id, WorkspaceState::Stopped) {
                    tracing::warn!(workspace = %r.name, "cannot record the stop: {e}");
                    return;
                }
                self.events.state(&r.name, Some(WorkspaceState::Stopped));
            }
            (WorkspaceState::Stopped, true) => {
                tracing::info!(workspace = %r.name, "its container started under the daemon: recorded running");
                self.agents.forget(&r.id).await;
                if let Err(e) = self.publish_ssh(&mut r).await {
                    tracing::warn!(workspace = %r.name, "cannot relay its SSH port: {e}");
                }
                if let Err(e) = self.now_running(&mut r).await {
                    tracing::warn!(workspace = %r.name, "cannot record the start: {e}");
                }
            }
            _ => {}
        }
    }
}
