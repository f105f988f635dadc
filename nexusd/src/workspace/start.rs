//! Start, stop and rebuild of an existing workspace: the same container
//! and ports on start; a rebuild makes the image and container again and
//! keeps worktree, branch, port and host key.

use super::*;

impl Manager {
    /// Starts a stopped workspace: the same container and ports (a container
    /// that vanished is made again).
    pub async fn start(&self, name: &str) -> Result<WorkspaceRecord> {
        if self.store.get(name)?.state == WorkspaceState::Paused {
            self.wake(name).await?;
            return Ok(self.store.get(name)?);
        }
        self.start_stopped(name).await
    }

    /// [`Manager::start`] of a workspace that is not paused.
    pub(super) async fn start_stopped(&self, name: &str) -> Result<WorkspaceRecord> {
        let started = std::time::Instant::now();
        let _guard = self.lock(name).await;
        let mut r = self.store.get(name)?;
        self.require_settled(&r)?;
        if r.state != nexus_sdk::WorkspaceState::Running {
            // team mode: its CPU and memory count against its creator's quota again
            self.store.check_start_quota(&r)?;
        }
        self.runtime.ping().await?;
        // the port first: one taken by another process fails the start before anything runs
        self.publish_ssh(&mut r).await.map_err(|e| e.at(Step::Start))?;
        match self.runtime.running(&container_name(&r)).await? {
            Some(true) => {}
            Some(false) => {
                if r.agent_version.is_none() || r.agent_version != self.agent_version() {
                    // a daemon updated since the last start brings its own agent
                    self.events
                        .progress(name, Step::Agent, "injecting the SSH agent of this daemon");
                    let tar = self.agent_archive(&r).map_err(|e| e.at(Step::Agent))?;
                    self.runtime
                        .upload(&container_name(&r), tar)
                        .await
                        .map_err(|e| WorkspaceError::from(e).at(Step::Agent))?;
                    self.stamp_agent(&mut r)?;
                }
                self.events.progress(name, Step::Start, "starting the container");
                self.agents.forget(&r.id).await;
                self.serve_docker_proxy(&r)?;
                self.start_containers(&r).await.map_err(|e| e.at(Step::Start))?;
            }
            None => self.provision(&mut r, None).await?,
        }
        self.wait_ssh(&r).await?;
        self.docker_ready(&r).await.map_err(|e| e.at(Step::Start))?;
        self.run_hooks(&r, &["postStartCommand", "postAttachCommand"]).await?;
        self.now_running(&mut r).await?;
        self.metrics.start_seconds.observe(started.elapsed().as_secs_f64());
        Ok(r)
    }

    /// Rebuilds a running or stopped workspace (`nexus workspace rebuild`):
    /// reads its devcontainer.json (or template) again from the tip of its
    /// branch, runs `initializeCommand`, builds the image again without
    /// cached images or layers, replaces the container (for a compose
    /// config, `service`'s container; the other services keep theirs) and
    /// runs the create-time hooks in the new one. Worktree, branch, SSH port
    /// and host key stay. A failed build leaves the old container as it
    /// was; a failure after that leaves the workspace stopped, and `start`
    /// makes its container again.
    pub async fn rebuild(&self, name: &str) -> Result<WorkspaceRecord> {
        let _guard = self.lock(name).await;
        let mut r = self.store.get(name)?;
        self.require_settled(&r)?;
        self.runtime.ping().await?;
        let before = devcontainer_of(&r);
        let config_path = before.as_ref().and_then(|m| m.config_path.clone());
        let template = config_path
            .as_deref()
            .and_then(|p| p.strip_prefix("templates/")?.split('/').next())
            .map(str::to_string);
        let repo = repo_of(&r);
        let (branch, had_config, tmpl) = (r.branch.clone(), before.is_some(), template.clone());
        let (start, found) = blocking(move || {
            let start = git::resolve_from(&repo, Some(&branch))?;
            let tmpl = tmpl.as_deref().map(crate::runtime::templates::find).transpose()?;
            let found = find_config(&repo, start, tmpl, had_config, config_path.as_deref())?;
            Ok((start, found))
        })
        .await?;
        let repo = repo_of(&r);
        let loaded = load_config(found, &repo.name, std::path::Path::new(&r.worktree))?;
        if let Some(command) = loaded.as_ref().and_then(|l| l.config.initialize_command.as_ref()) {
            let effect = nexus_devcontainer::container_options::host_effects(&Default::default(), true, &r.worktree);
            self.check_host_effects(r.owner_id, &effect)?;
            super::hooks::run_initialize(&self.events, name, &repo.workdir, command).await?;
        }
        let owner = owner_of(&repo.workdir)?;
        let settled = match loaded.as_ref().filter(|l| l.config.docker_compose_file.is_some()) {
            Some(l) => {
                let (project, resolved, service) = self.compose_image(&r, start, l, true).await?;
                settle(Some(l), resolved, owner, &repo.name, Some((project, service)))?
            }
            None => {
                let p = CreateParams {
                    name: name.to_string(),
                    repository: r.repository.clone(),
                    from: None,
                    // no devcontainer.json: the image it was made from (`--image`, or the default)
                    image: (!had_config).then(|| r.image.clone()),
                    config: None,
                    template,
                    authorized_keys: Vec::new(),
                    idle: None,
                    docker: None,
                };
                let resolved = self
                    .resolve_image(name, &p, &repo, start, loaded.as_ref(), true)
                    .await?;
                settle(loaded.as_ref(), resolved, owner, &repo.name, None)?
            }
        };
        // the new image is there: the old container goes
        self.events
            .progress(name, Step::Container, "removing the old container");
        self.agents.forget(&r.id).await;
        self.stop_forwards(&r);
        if settled.compose {
            // the project's other services, volumes and network stay
            self.runtime.remove(&container_name(&r)).await.map_err(Into::into)
        } else {
            self.remove_containers(&r).await
        }
        .map_err(|e| e.at(Step::Container))?;
        settled.apply_to(&mut r);
        self.store.set_image(&r)?;
        let made = match self.provision(&mut r, None).await {
            Ok(()) => self.run_create_hooks(&r).await,
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            tracing::warn!(workspace = %name, "rebuild failed, the workspace stays stopped: {e}");
            self.agents.forget(&r.id).await;
            if let Err(stop) = self.stop_containers(&r, 10).await {
                tracing::warn!(workspace = %name, "cannot stop the rebuilt container: {stop}");
            }
            self.store.set_state(&r.id, WorkspaceState::Stopped)?;
            self.events.state(name, Some(WorkspaceState::Stopped));
            return Err(e);
        }
        self.now_running(&mut r).await?;
        Ok(r)
    }

    /// Records workspace `r` running, announces it, and starts its port
    /// watcher and the forwards of its declared ports.
    pub(super) async fn now_running(&self, r: &mut WorkspaceRecord) -> Result<()> {
        self.store.set_state(&r.id, WorkspaceState::Running)?;
        r.state = WorkspaceState::Running;
        r.state_reason = None;
        self.mark_awake(&r.id);
        self.events.state(&r.name, Some(WorkspaceState::Running));
        if let Err(e) = self.write_access(r) {
            tracing::error!(workspace = %r.name, "cannot write the access list: {e}");
        }
        self.measure_storage(r).await;
        self.watch_ports(r);
        self.forward_declared(r).await;
        Ok(())
    }

    /// Stops a workspace's container; files in it are kept.
    pub async fn stop(&self, name: &str) -> Result<WorkspaceRecord> {
        let _guard = self.lock(name).await;
        let mut r = self.store.get(name)?;
        self.require_settled(&r)?;
        self.runtime.ping().await?;
        if r.state == WorkspaceState::Paused {
            self.runtime.unpause(&container_name(&r)).await?;
        }
        self.agents.forget(&r.id).await;
        self.stop_forwards(&r);
        self.stop_containers(&r, 10).await?;
        self.unpublish_ssh(&r).await;
        let reason = "stopped by request";
        self.store
            .set_state_because(&r.id, WorkspaceState::Stopped, Some(reason))?;
        r.state = WorkspaceState::Stopped;
        r.state_reason = Some(reason.into());
        self.events.state(name, Some(WorkspaceState::Stopped));
        self.measure_storage(&r).await;
        Ok(r)
    }

    pub(super) fn require_settled(&self, r: &WorkspaceRecord) -> Result<()> {
        match r.state {
            WorkspaceState::Running | WorkspaceState::Stopped | WorkspaceState::Paused => Ok(()),
            s => Err(WorkspaceError::InvalidState {
                name: r.name.clone(),
                state: s.to_string(),
                hint: "wait until it settles, or remove it".into(),
            }),
        }
    }
}
