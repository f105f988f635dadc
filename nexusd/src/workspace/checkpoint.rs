//! Git checkpoints of a workspace's worktree (`nexus workspace checkpoint`,
//! `nexus workspace restore`): the row first (`recording`), then the ref
//! (`git::checkpoint`), then the row `done`; `reconcile` removes what a
//! daemon killed in between left. A restore first checkpoints the state it
//! replaces, so it can be undone.

use super::*;
use crate::git::checkpoint as cp;
use crate::store::checkpoints::{CheckpointRecord, NewCheckpoint};

/// The repository of full checkpoints' images (`<it>:<workspace id>-<n>`).
pub(super) const IMAGE_REPOSITORY: &str = "nexus/checkpoint:";

/// The label of a full checkpoint's image (its checkpoint's name). The
/// image pass never removes such an image (a commit inherits the labels of
/// the image the container ran, a Nexus-built one's too): it goes with its
/// checkpoint, or with the last workspace that runs from it.
pub(super) const LABEL_CHECKPOINT: &str = "dev.nexus.checkpoint";

/// The longest checkpoint name.
const NAME_MAX: usize = 64;

/// Checks a checkpoint name: 1 to [`NAME_MAX`] of `A-Z a-z 0-9 . _ -`,
/// not starting with `.` or `-`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidParams(format!(
            "{name:?} is no checkpoint name: use 1 to {NAME_MAX} letters, digits, '.', '_' or '-', not starting with '.' or '-'"
        )))
    }
}

impl Manager {
    /// Records workspace `workspace`'s worktree as checkpoint `name` (else
    /// its number). Errors: `InvalidParams` for a bad or taken name,
    /// `InvalidState` while the workspace is created or removed.
    /// With `full`, the container's own files too: `docker commit` of it as
    /// image `nexus/checkpoint:<workspace id>-<n>`, labelled as the
    /// workspace's (not for compose configs yet).
    pub async fn checkpoint_create(&self, workspace: &str, name: Option<&str>, full: bool) -> Result<CheckpointRecord> {
        if let Some(n) = name {
            check_name(n)?;
        }
        let _guard = self.lock(workspace).await;
        let r = self.store.get(workspace)?;
        self.require_settled(&r)?;
        self.record_checkpoint(&r, name, "checkpoint", full).await
    }

    async fn record_checkpoint(
        &self,
        r: &WorkspaceRecord,
        name: Option<&str>,
        what: &str,
        full: bool,
    ) -> Result<CheckpointRecord> {
        if full && devcontainer_of(r).is_some_and(|m| m.compose.is_some()) {
            return Err(WorkspaceError::InvalidParams(format!(
                "workspace {} runs a compose config: a full checkpoint (its container's files) is not supported for compose configs yet; take a git checkpoint without --full",
                r.name
            )));
        }
        let id = r.id.clone();
        let record = match self
            .store
            .insert_checkpoint(&r.id, name, now(), |n| cp::checkpoint_ref(&id, n))?
        {
            NewCheckpoint::Added(c) => c,
            NewCheckpoint::NameTaken => {
                let name = name.unwrap_or_default();
                return Err(WorkspaceError::InvalidParams(format!(
                    "workspace {} has a checkpoint named {name:?} already: choose another name, or remove that one with `nexus workspace checkpoint rm {} {name}`",
                    r.name, r.name
                )));
            }
        };
        let (worktree, reference) = (PathBuf::from(&r.worktree), record.reference.clone());
        let message = format!("nexus {what} {} of {}", record.name, r.name);
        let recorded = blocking(move || Ok(cp::record(&worktree, &reference, &message, false)?)).await;
        if let Err(e) = recorded {
            self.store.delete_checkpoint(&r.id, record.n)?;
            return Err(e);
        }
        let mut record = record;
        if full {
            let image = format!("{IMAGE_REPOSITORY}{}-{}", r.id, record.n);
            self.store.set_checkpoint_image(&r.id, record.n, &image)?;
            record.image = Some(image.clone());
            let labels = HashMap::from([
                (LABEL_WORKSPACE.to_string(), r.id.clone()),
                (LABEL_DAEMON.to_string(), self.daemon_id.clone()),
                (LABEL_CHECKPOINT.to_string(), record.name.clone()),
            ]);
            if let Err(e) = self.runtime.commit(&container_name(r), &image, labels).await {
                if let Err(undo) = self.delete_checkpoint(r, &record).await {
                    tracing::warn!(workspace = %r.name, "cannot remove the failed checkpoint {}: {undo}", record.name);
                }
                return Err(e.into());
            }
            self.pause_point("checkpoint-committed").await;
        }
        self.store.finish_checkpoint(&r.id, record.n)?;
        Ok(CheckpointRecord { done: true, ..record })
    }

    /// Workspace `workspace`'s complete checkpoints, oldest first.
    pub fn checkpoints(&self, workspace: &str) -> Result<Vec<CheckpointRecord>> {
        let r = self.store.get(workspace)?;
        Ok(self.store.checkpoints(&r.id)?.into_iter().filter(|c| c.done).collect())
    }

    /// The commit of checkpoint `c` (40 hex digits), empty when its ref is gone.
    pub async fn checkpoint_commit(&self, repository: &str, c: &CheckpointRecord) -> String {
        let (repo, reference) = (PathBuf::from(repository), c.reference.clone());
        blocking(move || Ok(cp::commit_of(&repo, &reference)?))
            .await
            .ok()
            .flatten()
            .map(|o| o.to_string())
            .unwrap_or_default()
    }

    fn find_checkpoint(&self, r: &WorkspaceRecord, checkpoint: &str) -> Result<CheckpointRecord> {
        self.store
            .checkpoints(&r.id)?
            .into_iter()
            .find(|c| c.done && c.name == checkpoint)
            .ok_or_else(|| {
                WorkspaceError::InvalidParams(format!(
                    "workspace {} has no checkpoint named {checkpoint:?}: `nexus workspace checkpoint list {}` names them",
                    r.name, r.name
                ))
            })
    }

    /// Removes checkpoint `checkpoint` of workspace `workspace` and its ref.
    pub async fn checkpoint_remove(&self, workspace: &str, checkpoint: &str) -> Result<()> {
        let _guard = self.lock(workspace).await;
        let r = self.store.get(workspace)?;
        let c = self.find_checkpoint(&r, checkpoint)?;
        self.delete_checkpoint(&r, &c).await
    }

    async fn delete_checkpoint(&self, r: &WorkspaceRecord, c: &CheckpointRecord) -> Result<()> {
        if let Some(image) = &c.image {
            // a container made from it (a restore, a fork) keeps it: it goes with the last one
            self.runtime.remove_image(image).await?;
        }
        let (repo, reference) = (PathBuf::from(&r.repository), c.reference.clone());
        blocking(move || Ok(cp::delete(&repo, &reference)?)).await?;
        self.store.delete_checkpoint(&r.id, c.n)?;
        Ok(())
    }

    /// Brings workspace `workspace`'s worktree back to checkpoint
    /// `checkpoint` (see `git::checkpoint::restore`), first recording the
    /// state it replaces as a new checkpoint, which it returns.
    pub async fn restore(&self, workspace: &str, checkpoint: &str) -> Result<CheckpointRecord> {
        let _guard = self.lock(workspace).await;
        let r = self.store.get(workspace)?;
        self.require_settled(&r)?;
        let c = self.find_checkpoint(&r, checkpoint)?;
        let full = c.image.is_some();
        let undo = self
            .record_checkpoint(&r, None, &format!("before restoring {}", c.name), full)
            .await?;
        let (worktree, reference) = (PathBuf::from(&r.worktree), c.reference.clone());
        blocking(move || Ok(cp::restore(&worktree, &reference)?)).await?;
        if let Some(image) = &c.image {
            self.replace_container(r, image).await?;
        }
        Ok(undo)
    }

    /// Replaces workspace `r`'s container with one of full checkpoint image
    /// `image`, with the same SSH port and host key (the second half of a
    /// rebuild); the workspace is running after.
    async fn replace_container(&self, mut r: WorkspaceRecord, image: &str) -> Result<()> {
        self.events.progress(
            &r.name,
            Step::Container,
            format!("replacing the container from {image}"),
        );
        self.agents.forget(&r.id).await;
        self.stop_forwards(&r);
        self.remove_containers(&r).await.map_err(|e| e.at(Step::Container))?;
        r.image = image.to_string();
        self.store.set_image(&r)?;
        if let Err(e) = self.provision(&mut r, None).await {
            self.store.set_state(&r.id, WorkspaceState::Stopped)?;
            self.events.state(&r.name, Some(WorkspaceState::Stopped));
            return Err(e);
        }
        self.run_hooks(&r, &["postStartCommand"]).await?;
        self.now_running(&mut r).await
    }

    /// Forks workspace `source` into a new workspace `name`: its branch
    /// `nexus/<name>` starts at the HEAD of checkpoint `checkpoint` (of the
    /// source's state now, recorded first, when `None`), its worktree's
    /// files and index are the checkpoint's (uncommitted changes included)
    /// before its container starts, and its image and devcontainer.json
    /// are the source's. Both run side by side. Errors: as a create's, and
    /// `InvalidParams` for an unknown checkpoint.
    pub async fn fork(
        &self,
        source: &str,
        checkpoint: Option<&str>,
        name: &str,
        authorized_keys: Vec<String>,
        owner_id: Option<i64>,
    ) -> Result<WorkspaceRecord> {
        validate_name(name)?;
        if self.store.get(name).is_ok() {
            return Err(WorkspaceError::NameTaken(name.to_string()));
        }
        let (r, c) = {
            let _guard = self.lock(source).await;
            let r = self.store.get(source)?;
            self.require_settled(&r)?;
            let c = match checkpoint {
                Some(cp) => self.find_checkpoint(&r, cp)?,
                None => {
                    self.record_checkpoint(&r, None, &format!("fork to {name}"), false)
                        .await?
                }
            };
            (r, c)
        };
        let (repo, reference) = (PathBuf::from(&r.repository), c.reference.clone());
        let head = blocking(move || Ok(cp::head_of(&repo, &reference)?)).await?;
        // the source's config: its devcontainer.json or template, else its image
        let config_path = devcontainer_of(&r).and_then(|m| m.config_path);
        let template = config_path
            .as_deref()
            .and_then(|p| p.strip_prefix("templates/")?.split('/').next())
            .map(str::to_string);
        let p = CreateParams {
            name: name.to_string(),
            repository: r.repository.clone(),
            from: Some(head.to_string()),
            // a full checkpoint's container files come with its image
            image: c
                .image
                .clone()
                .or_else(|| config_path.is_none().then(|| r.image.clone())),
            config: config_path.filter(|_| template.is_none()),
            template,
            authorized_keys,
            idle: None,
            // a fork has the Docker its source has
            docker: r.docker,
        };
        self.create_seeded(p, Some(c.reference), owner_id).await
    }

    /// Removes the refs of every checkpoint of `r` (a workspace being
    /// removed; its rows go with it). Faults are logged.
    pub(super) async fn delete_checkpoints(&self, r: &WorkspaceRecord) {
        for c in self.store.checkpoints(&r.id).unwrap_or_default() {
            if let Err(e) = self.delete_checkpoint(r, &c).await {
                tracing::warn!(workspace = %r.name, "cannot remove checkpoint {}: {e}", c.name);
            }
        }
    }

    /// Removes checkpoints a daemon killed while recording them left: the
    /// ref, if it was made, and the row.
    pub(super) async fn remove_unfinished_checkpoints(&self, records: &[WorkspaceRecord]) {
        for c in self.store.unfinished_checkpoints().unwrap_or_default() {
            let Some(r) = records.iter().find(|r| r.id == c.workspace_id) else {
                continue;
            };
            tracing::info!(workspace = %r.name, "removing the unfinished checkpoint {}", c.name);
            if let Err(e) = self.delete_checkpoint(r, &c).await {
                tracing::warn!(workspace = %r.name, "cannot remove checkpoint {}: {e}", c.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn checkpoint_names_are_checked() {
        for good in ["1", "before-refactor", "v1.2_b", &"a".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
