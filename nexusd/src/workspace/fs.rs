//! `fs.*` flows of the manager: the SFTP context of a running workspace
//! ([`Fs`], `agent::fs`) and the inotify watcher behind `fs.watch`.

use super::*;
use crate::agent::fs::{Fs, resolve};

impl Manager {
    /// The `fs.*` context of a running workspace.
    /// Starts the agent's inotify watcher (`nexus-agent --watch`) on a
    /// connection of its own, as the workspace user; its stdout carries
    /// `fs.watch` notifications as JSON lines.
    pub async fn open_watch(&self, p: &nexus_sdk::WatchParams) -> Result<crate::agent::client::OpenChannel> {
        let r = self.running(&p.workspace)?;
        let path = resolve(&r.workspace_folder, &p.path)?;
        let mut args = vec!["--watch", path.as_str()];
        if p.recursive {
            args.push("--recursive");
        }
        self.open_exec(&self.prepare_agent_helper(&p.workspace, &args)?.dedicated())
            .await
    }

    pub async fn fs(&self, workspace: &str) -> Result<Fs<'_>> {
        let r = self.running(workspace)?;
        let sftp = self.agents().sftp(&crate::workspace::target(&r)).await?;
        Ok(Fs {
            agents: self.agents(),
            sftp,
            workspace: r.name.clone(),
            workspace_id: r.id.clone(),
            user: r.remote_user.clone(),
            folder: r.workspace_folder.clone(),
        })
    }
}
