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
                WorkspaceState::Running | WorkspaceState::Stopped => {
                    let state = match self.runtime.running(&container_name(r)).await? {
                        Some(true) => WorkspaceState::Running,
                        _ => WorkspaceState::Stopped,
                    };
                    if state != r.state {
                        self.store.set_state(&r.id, state)?;
                    }
                    if state == WorkspaceState::Running {
                        self.watch_ports(r);
                        self.forward_declared(r).await;
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
