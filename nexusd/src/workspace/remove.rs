//! The Remove flow: refuse a dirty or unmerged worktree unless forced,
//! record `removing` first, then container, worktree, ports and record;
//! a cut-off remove is finished by running it again (or by `reconcile`).

use super::*;

impl Manager {
    /// Removes a workspace (the Remove flow): refuses a dirty or unmerged
    /// worktree unless `force`; keeps the branch unless `delete_branch`.
    pub async fn remove(&self, name: &str, force: bool, delete_branch: bool) -> Result<()> {
        let _guard = self.lock(name).await;
        let r = self.store.get(name)?;
        if !force && r.state != WorkspaceState::Removing {
            let (repo, wt, branch) = (repo_of(&r), PathBuf::from(&r.worktree), r.branch.clone());
            if let Some(what) = blocking(move || Ok(git::removal_blocker(&repo, &wt, &branch)?)).await? {
                return Err(WorkspaceError::WorktreeDirty {
                    name: name.to_string(),
                    what,
                });
            }
        }
        self.runtime.ping().await?;
        // a re-run of a cut-off remove keeps a branch deletion asked for before
        let delete_branch = delete_branch || (r.state == WorkspaceState::Removing && r.delete_branch);
        self.store.set_removing(&r.id, delete_branch)?;
        self.events.state(name, Some(WorkspaceState::Removing));
        self.pause_point("remove-recorded").await;
        self.finish_remove(&r, delete_branch).await
    }

    pub(super) async fn finish_remove(&self, r: &WorkspaceRecord, delete_branch: bool) -> Result<()> {
        self.events
            .progress(&r.name, Step::Remove, "removing the container and the worktree");
        self.agents.forget(&r.id).await;
        self.trace_forget(&r.name);
        self.forget_awake(&r.id);
        self.stop_forwards(r);
        self.remove_containers(r).await.map_err(|e| e.at(Step::Container))?;
        self.docker_forget(r).await;
        self.forget_relay(r).await;
        self.delete_checkpoints(r).await;
        if r.image.starts_with(super::checkpoint::IMAGE_REPOSITORY) {
            // a full checkpoint's image it ran from (a restore, a fork): it
            // goes with the last container and checkpoint that use it
            if let Err(e) = self.runtime.remove_image(&r.image).await {
                tracing::warn!(workspace = %r.name, "cannot remove image {}: {e}", r.image);
            }
        }
        let repo = repo_of(r);
        let (name, wt, branch) = (r.name.clone(), PathBuf::from(&r.worktree), r.branch.clone());
        blocking(move || {
            git::remove_worktree(&repo, &name, &wt)?;
            if delete_branch {
                git::delete_branch(&repo, &branch)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| e.at(Step::Worktree))?;
        self.store.delete(&r.id)?;
        self.events.state(&r.name, None);
        Ok(())
    }
}
