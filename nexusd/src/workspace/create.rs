//! The Create flow (DESIGN.md): validate, record `creating`, ports,
//! worktree, image, container, agent files, start, SSH, hooks, `running`;
//! any failure rolls back what was made and names the step.

use super::*;
use crate::runtime::RuntimeError;

/// Containers a create tries before giving up on finding a free SSH port
/// (see `start_on_free_port`).
const PORT_ATTEMPTS: u32 = 5;

impl Manager {
    /// Creates a workspace (the Create flow of DESIGN.md); on failure nothing
    /// is left behind and the error names the step. `owner_id` is its
    /// creator in team mode (`None` in single-user mode).
    pub async fn create(&self, p: CreateParams, owner_id: Option<i64>) -> Result<WorkspaceRecord> {
        self.create_seeded(p, None, owner_id).await
    }

    /// [`Manager::create`], the new worktree's files (and index) then
    /// taken from the checkpoint on ref `files_from` (a fork), before any
    /// container sees them.
    pub(super) async fn create_seeded(
        &self,
        p: CreateParams,
        files_from: Option<String>,
        owner_id: Option<i64>,
    ) -> Result<WorkspaceRecord> {
        validate_name(&p.name)?;
        let started = std::time::Instant::now();
        let _guard = self.lock(&p.name).await;
        let name = p.name.clone();
        let authorized = authorized_keys(&p.authorized_keys)?;
        let (idle_pause, idle_stop) = self.idle_of_new(p.idle)?;
        self.events.progress(&name, Step::Validate, "checking the repository");
        let path = PathBuf::from(&p.repository);
        let template = match (&p.template, &p.config) {
            (Some(_), Some(_)) => {
                return Err(WorkspaceError::InvalidParams(
                    "template and config both choose the devcontainer.json: give one of them".into(),
                ));
            }
            (Some(t), None) => Some(crate::runtime::templates::find(t)?),
            (None, _) => None,
        };
        let (from, config_arg) = (p.from.clone(), p.config.clone());
        let wt_name = name.clone();
        // a URL: its mirror in the data directory, fetched now (see git::mirror)
        let url = (!p.repository.starts_with('/')).then(|| p.repository.clone());
        if let Some(url) = &url {
            git::mirror::check_url(url)?;
            self.events.progress(&name, Step::Validate, format!("fetching {url}"));
        }
        let data_dir = self.config.data_dir.clone();
        let (repo, start, branch_exists, found) = blocking(move || {
            let (repo, start) = match url {
                Some(url) => {
                    let repo = git::mirror::update(&data_dir, &url, owner_id)?;
                    let start = git::mirror::resolve_from(&repo, from.as_deref())?;
                    (repo, start)
                }
                None => {
                    let repo = git::discover(&path)?;
                    let start = git::resolve_from(&repo, from.as_deref())?;
                    (repo, start)
                }
            };
            let exists = git::branch_exists(&repo, &git::branch_name(&wt_name))?;
            let wt = git::worktree_path(&repo, &wt_name);
            if wt.exists() {
                return Err(WorkspaceError::WorktreeExists(wt.display().to_string()));
            }
            // a template's devcontainer.json, else the one of the commit the workspace starts from
            let found = find_config(&repo, start, template, true, config_arg.as_deref())?;
            Ok((repo, start, exists, found))
        })
        .await?;
        if self.store.get(&name).is_ok() {
            return Err(WorkspaceError::NameTaken(name));
        }
        let worktree = git::worktree_path(&repo, &name);
        let loaded = load_config(found, &repo.name, &worktree)?;
        if let Some(l) = &loaded {
            // team mode: what acts on the server, refused before anything is made
            let options = nexus_devcontainer::container_options::run_options(&l.path, &l.config)?;
            let effects = nexus_devcontainer::container_options::host_effects(
                &options,
                l.config.initialize_command.is_some(),
                &worktree.display().to_string(),
            );
            self.check_host_effects(owner_id, &effects)?;
        }
        let docker = self.docker_of_new(p.docker, loaded.as_ref())?;
        if let Some(l) = &loaded {
            // warnings now, while the CLI is sure to be listening
            let mut warnings = Vec::new();
            if let Some(req) = &l.config.host_requirements {
                let host = crate::runtime::host::of_this_host(&self.config.data_dir);
                warnings.extend(nexus_devcontainer::container_options::host_warnings(req, host));
            }
            if l.config.docker_compose_file.is_some() && !l.config.run_args.is_empty() {
                warnings
                    .push("runArgs is not used with a compose config: set these options in the compose file".into());
            }
            for entry in l.config.declared_ports().1 {
                warnings.push(format!(
                    "forwardPorts {entry:?} names no port (a number, or \"host:port\"); not forwarded"
                ));
            }
            for warning in warnings {
                tracing::warn!(workspace = %name, "{warning}");
                self.events.progress(&name, Step::Config, format!("warning: {warning}"));
            }
        }
        self.runtime.ping().await?;
        if let Some(command) = loaded.as_ref().and_then(|l| l.config.initialize_command.as_ref()) {
            super::hooks::run_initialize(&self.events, &name, &repo.workdir, command).await?;
        }
        let compose = loaded.as_ref().is_some_and(|l| l.config.docker_compose_file.is_some());
        if compose && p.image.is_some() {
            return Err(WorkspaceError::InvalidParams(
                "--image cannot replace a compose config's service: drop --image, or set the service's image in the compose file".into(),
            ));
        }
        let owner = owner_of(&repo.workdir)?;
        // a compose project's image is made once its worktree is there
        // (provision_compose settles it then)
        let settled = if compose {
            None
        } else {
            let resolved = self
                .resolve_image(&name, &p, &repo, start, loaded.as_ref(), false)
                .await?;
            Some(settle(loaded.as_ref(), resolved, owner, &repo.name, None)?)
        };
        let host_key = keys::generate()?;
        let mut record = WorkspaceRecord {
            id: new_id(),
            name: name.clone(),
            state: WorkspaceState::Creating,
            repository: repo.workdir.display().to_string(),
            git_common_dir: repo.common_dir.display().to_string(),
            worktree: worktree.display().to_string(),
            branch: git::branch_name(&name),
            branch_created: !branch_exists,
            // not known yet for a compose project: `settled` fills them in
            image: String::new(),
            remote_user: "root".into(),
            remote_user_uid: None,
            workspace_folder: String::new(),
            ssh_port: 0,
            ssh_relay: self.relay.is_some(),
            host_key: keys::to_pem(&host_key)?,
            host_public_key: keys::public_line(&host_key)?,
            authorized_keys: format!("{authorized}{} nexusd\n", self.daemon_public_key.trim_end()),
            delete_branch: false,
            container_id: None,
            devcontainer: None,
            created_at: now(),
            owner_id,
            limit_cpus: None,
            limit_memory: None,
            org_id: self.org_of_new(owner_id)?,
            agent_version: None,
            idle_pause_secs: None,
            idle_stop_secs: None,
            state_reason: None,
            docker: None,
        };
        if let Some(s) = settled {
            s.apply_to(&mut record);
        }
        (record.limit_cpus, record.limit_memory) = self.container_limits(owner_id, record.org_id, loaded.as_ref())?;
        self.events.progress(&name, Step::Ports, "allocating the SSH port");
        record.ssh_port = self
            .store
            .insert_creating(&record, self.config.port_range, crate::store::ports::bindable)?;
        (record.idle_pause_secs, record.idle_stop_secs) = (idle_pause, idle_stop);
        if idle_pause.is_some() || idle_stop.is_some() {
            self.store.set_idle(&record.id, idle_pause, idle_stop)?;
        }
        record.docker = docker;
        if docker.is_some() {
            self.store.set_docker(&record.id, docker)?;
        }
        self.events.state(&name, Some(WorkspaceState::Creating));
        let made = match (compose, &loaded) {
            (true, Some(l)) => {
                self.provision_compose(&mut record, start, files_from.as_deref(), l, owner, &repo.name)
                    .await
            }
            _ => {
                self.provision_seeded(&mut record, Some(start), files_from.as_deref())
                    .await
            }
        };
        let made = match made {
            Ok(()) => self.run_create_hooks(&record).await,
            Err(e) => Err(e),
        };
        match made {
            Ok(()) => {
                self.now_running(&mut record).await?;
                self.trace_watch(&record).await;
                self.metrics.create_seconds.observe(started.elapsed().as_secs_f64());
                Ok(record)
            }
            Err(e) => {
                tracing::warn!(workspace = %name, "create failed, rolling back: {e}");
                self.rollback(&record).await;
                self.events.state(&name, None);
                Err(e)
            }
        }
    }

    /// Worktree, the compose service's image (built by compose, features
    /// installed), the record's image fields, then the rest of `provision`.
    pub(super) async fn provision_compose(
        &self,
        record: &mut WorkspaceRecord,
        start: git2::Oid,
        files_from: Option<&str>,
        l: &devcontainer::Loaded,
        owner: (u32, u32),
        repo_name: &str,
    ) -> Result<()> {
        self.add_worktree(record, start, files_from).await?;
        let (project, resolved, service) = self
            .compose_image(record, start, l, false)
            .await
            .map_err(|e| e.at(Step::Image))?;
        let s = settle(Some(l), resolved, owner, repo_name, Some((project, service)))?;
        s.apply_to(record);
        self.store.set_image(record)?;
        self.provision(record, None).await
    }

    /// Adds the worktree on its branch from `start`; with `files_from`, a
    /// checkpoint ref, its files and index then become the checkpoint's.
    pub(super) async fn add_worktree(
        &self,
        record: &WorkspaceRecord,
        start: git2::Oid,
        files_from: Option<&str>,
    ) -> Result<()> {
        self.events.progress(
            &record.name,
            Step::Worktree,
            format!("adding worktree {} on {}", record.worktree, record.branch),
        );
        let repo = repo_of(record);
        let (wt_name, wt) = (record.name.clone(), PathBuf::from(&record.worktree));
        let files_from = files_from.map(str::to_string);
        blocking(move || {
            git::add_worktree(&repo, &wt_name, start)?;
            if let Some(reference) = files_from {
                git::checkpoint::restore(&wt, &reference)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| e.at(Step::Worktree))
    }

    /// Worktree (when `start` is given), container, agent files, start, SSH.
    pub(super) async fn provision(&self, record: &mut WorkspaceRecord, start: Option<git2::Oid>) -> Result<()> {
        self.provision_seeded(record, start, None).await
    }

    /// [`Manager::provision`], the new worktree's files from checkpoint ref `files_from`.
    async fn provision_seeded(
        &self,
        record: &mut WorkspaceRecord,
        start: Option<git2::Oid>,
        files_from: Option<&str>,
    ) -> Result<()> {
        let name = record.name.clone();
        if let Some(start) = start {
            self.add_worktree(record, start, files_from).await?;
        }
        self.events.progress(
            &name,
            Step::Container,
            format!("creating the container from {}", record.image),
        );
        let merged = devcontainer_of(record);
        let project = merged.as_ref().and_then(|m| m.compose.clone());
        let id = match (&merged, &project) {
            (Some(m), Some(p)) => self.compose_create(record, &m.merged, p).await,
            _ => self.create_container(record, merged.map(|m| m.merged)).await,
        }
        .map_err(|e| e.at(Step::Container))?;
        self.store.set_container(&record.id, &id)?;
        self.pause_point("create-container").await;
        record.container_id = Some(id.clone());
        self.events.progress(&name, Step::Agent, "injecting the SSH agent");
        let tar = self.agent_archive(record).map_err(|e| e.at(Step::Agent))?;
        self.runtime
            .upload(&id, tar.clone())
            .await
            .map_err(|e| WorkspaceError::from(e).at(Step::Agent))?;
        self.stamp_agent(record)?;
        match &project {
            Some(p) => {
                self.events.progress(&name, Step::Start, "starting the compose project");
                self.compose_start(record, p).await
            }
            None => {
                self.events.progress(&name, Step::Start, "starting the container");
                self.start_on_free_port(record, id, tar).await
            }
        }
        .map_err(|e| e.at(Step::Start))?;
        self.publish_ssh(record).await.map_err(|e| e.at(Step::Start))?;
        self.wait_ssh(record).await?;
        self.docker_ready(record).await.map_err(|e| e.at(Step::Start))
    }

    /// The host directory of workspace `r`'s relay socket, made (0700) when
    /// missing; `None` for a workspace Docker publishes.
    pub(super) fn relay_socket_dir(&self, r: &WorkspaceRecord) -> Result<Option<PathBuf>> {
        if !r.ssh_relay {
            return Ok(None);
        }
        let dir = crate::relay::socket_dir(&self.config.data_dir, &r.id);
        std::fs::create_dir_all(&dir).map_err(WorkspaceError::io(format!("making {}", dir.display())))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(WorkspaceError::io(format!("making {} private", dir.display())))?;
        Ok(Some(dir))
    }

    /// Has the relay listen on workspace `record`'s SSH port (nothing for a
    /// workspace Docker publishes). When another process took the port
    /// after it was allocated, a create moves the workspace to another free
    /// port of the range and tries again, up to [`PORT_ATTEMPTS`] times;
    /// any other flow keeps the port users' SSH configurations name, and
    /// fails with `InvalidState` saying how to free it.
    pub(super) async fn publish_ssh(&self, record: &mut WorkspaceRecord) -> Result<()> {
        let Some(relay) = self.relay.as_ref().filter(|_| record.ssh_relay) else {
            return Ok(());
        };
        let secret = crate::relay::secret_of(&record.host_key);
        let mut attempt = 1;
        loop {
            match relay.add(record.ssh_port, &record.id, &secret).await {
                Ok(()) => return Ok(()),
                Err(crate::relay::RelayError::PortTaken(m)) if record.state != WorkspaceState::Creating => {
                    return Err(port_taken(record, &m));
                }
                Err(crate::relay::RelayError::PortTaken(m)) if attempt < PORT_ATTEMPTS => {
                    attempt += 1;
                    self.move_off_taken_port(record, &m)?;
                }
                Err(e) => return Err(WorkspaceError::Internal(e.to_string())),
            }
        }
    }

    /// Moves creating workspace `record` to another free port of the range:
    /// its port was taken (`why`) after it was allocated.
    fn move_off_taken_port(&self, record: &mut WorkspaceRecord, why: &str) -> Result<()> {
        let taken = record.ssh_port;
        record.ssh_port =
            self.store
                .move_ssh_port(&record.id, self.config.port_range, crate::store::ports::bindable)?;
        tracing::warn!(workspace = %record.name, "port {taken} was taken ({why}): trying {}", record.ssh_port);
        self.events.progress(
            &record.name,
            Step::Start,
            format!("port {taken} was taken meanwhile: moving to {}", record.ssh_port),
        );
        Ok(())
    }

    /// Has the relay stop listening on workspace `r`'s SSH port; sessions in
    /// flight go on until their container stops.
    pub(super) async fn unpublish_ssh(&self, r: &WorkspaceRecord) {
        if let Some(relay) = self.relay.as_ref().filter(|_| r.ssh_relay)
            && let Err(e) = relay.remove(r.ssh_port).await
        {
            tracing::warn!(workspace = %r.name, "cannot stop relaying port {}: {e}", r.ssh_port);
        }
    }

    /// [`Manager::unpublish_ssh`], and the relay socket's host directory goes.
    pub(super) async fn forget_relay(&self, r: &WorkspaceRecord) {
        self.unpublish_ssh(r).await;
        if r.ssh_relay {
            let dir = crate::relay::socket_dir(&self.config.data_dir, &r.id);
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(workspace = %r.name, "cannot remove {}: {e}", dir.display());
            }
        }
    }

    /// Starts `record`'s container `id` (agent files `tar` uploaded). When
    /// its published SSH port turns out to be taken (another process bound
    /// it after the allocation: the range may lie in the ephemeral range),
    /// moves the workspace to another free port of the range and tries
    /// again with a new container (Docker fixes published ports at
    /// creation), up to [`PORT_ATTEMPTS`] times.
    async fn start_on_free_port(&self, record: &mut WorkspaceRecord, mut id: String, tar: bytes::Bytes) -> Result<()> {
        let mut attempt = 1;
        loop {
            match self.runtime.start(&id).await {
                Err(RuntimeError::PortTaken(m)) if attempt < PORT_ATTEMPTS => {
                    attempt += 1;
                    self.runtime.remove(&id).await?;
                    self.move_off_taken_port(record, &m)?;
                    id = self
                        .create_container(record, devcontainer_of(record).map(|m| m.merged))
                        .await?;
                    self.store.set_container(&record.id, &id)?;
                    record.container_id = Some(id.clone());
                    self.runtime.upload(&id, tar.clone()).await?;
                }
                r => return r.map_err(Into::into),
            }
        }
    }

    /// Creates workspace `record`'s container (not a compose one) from its
    /// image and merged devcontainer.json; returns its id.
    pub(super) async fn create_container(&self, record: &WorkspaceRecord, merged: Option<Merged>) -> Result<String> {
        let mut options = match &merged {
            Some(m) => nexus_devcontainer::container_options::run_options("devcontainer.json", &m.config)?,
            None => Default::default(),
        };
        // Docker inside: before the team check, which sees dind's privileged mode
        let (mut docker_binds, mut docker_env) = (Vec::new(), Vec::new());
        let unconfined = self.docker_container_options(record, &mut options, &mut docker_binds, &mut docker_env)?;
        // team mode: features may ask for what devcontainer.json did not
        let effects = nexus_devcontainer::container_options::host_effects(&options, false, &record.worktree);
        self.check_host_effects(record.owner_id, &effects)?;
        // (runc cannot start a privileged container with it)
        // team mode with a quota: the limits counted against it
        if let Some(n) = record.limit_cpus {
            options.nano_cpus = Some(n);
        }
        if let Some(m) = record.limit_memory {
            options.memory = Some(m);
        }
        if self.team.is_some()
            && !options.privileged
            && !options.security_opt.iter().any(|o| o.starts_with("no-new-privileges"))
        {
            options.security_opt.push("no-new-privileges:true".into());
        }
        let workspace_bind = match &options.workspace_mount {
            Some(_) => vec![],
            None => vec![(record.worktree.clone(), record.workspace_folder.clone())],
        };
        let mut labels = HashMap::from([
            (LABEL_WORKSPACE.to_string(), record.id.clone()),
            (LABEL_DAEMON.to_string(), self.daemon_id.clone()),
            ("dev.nexus.name".to_string(), record.name.clone()),
        ]);
        if let Some(label) = merged
            .as_ref()
            .and_then(|m| nexus_devcontainer::metadata::label_value(&m.metadata, &Default::default()))
        {
            labels.insert(nexus_devcontainer::metadata::LABEL.to_string(), label);
        }
        // runArgs labels never replace Nexus's own
        for (k, v) in &options.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let entrypoint = merged
            .as_ref()
            .map_or_else(|| vec![AGENT_BINARY.to_string()], agent_entrypoint);
        let mut env: Vec<(String, String)> = merged
            .map(|m| m.config.container_env.into_iter().collect())
            .unwrap_or_default();
        env.extend(options.env.iter().cloned());
        env.extend(docker_env);
        let relay_dir = self.relay_socket_dir(record)?;
        let spec = ContainerSpec {
            name: container_name(record),
            image: record.image.clone(),
            labels,
            binds: workspace_bind
                .into_iter()
                .chain([(record.git_common_dir.clone(), record.git_common_dir.clone())])
                .chain(
                    relay_dir
                        .iter()
                        .map(|d| (d.display().to_string(), nexus_sdk::relay::SOCKET_DIR.to_string())),
                )
                .chain(docker_binds)
                .collect(),
            // the relay's workspaces are reached through the relay socket
            ports: if record.ssh_relay {
                Vec::new()
            } else {
                vec![(AGENT_PORT, record.ssh_port)]
            },
            entrypoint,
            hostname: options.hostname.clone().unwrap_or_else(|| record.name.clone()),
            env,
            mounts: options.workspace_mount.iter().chain(&options.mounts).cloned().collect(),
            options,
            unconfined,
        };
        Ok(self.runtime.create(&spec).await?)
    }

    /// Waits until the agent answers SSH; a container that exits meanwhile
    /// fails at once, with the end of its log.
    pub(super) async fn wait_ssh(&self, record: &WorkspaceRecord) -> Result<()> {
        self.events.progress(
            &record.name,
            Step::Ssh,
            format!("waiting for SSH on 127.0.0.1:{}", record.ssh_port),
        );
        let timeout = Duration::from_secs(self.config.ssh_ready_timeout_secs);
        let t = target(record);
        let ready = self.agents.wait_ready(&t, timeout);
        let exited = async {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Ok(Some(false)) = self.runtime.running(&container_name(record)).await {
                    return self.exit_report(record).await;
                }
            }
        };
        tokio::select! {
            r = ready => r.map_err(|e| WorkspaceError::from(e).at(Step::Ssh)),
            e = exited => Err(e.at(Step::Ssh)),
        }
    }

    /// The error for a container that exited: the last lines of its log.
    pub(super) async fn exit_report(&self, record: &WorkspaceRecord) -> WorkspaceError {
        use futures::StreamExt;
        let mut log = String::new();
        let mut stream = self.runtime.logs(&container_name(record), false);
        while let Some(Ok((_, text))) = stream.next().await {
            log.push_str(&text);
        }
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        WorkspaceError::AgentUnavailable(format!(
            "the container exited before SSH answered; its log ends: {tail}"
        ))
    }

    /// The tar archive of `/.nexus`: agent binary, its configuration, the host
    /// key and authorized_keys. Made in one allocation of its final size: a
    /// few MiB per create, which a growing buffer would copy and the
    /// allocator keep.
    pub(super) fn agent_archive(&self, r: &WorkspaceRecord) -> Result<bytes::Bytes> {
        let path = &self.config.agent_binary;
        if path.is_file() && !crate::config::is_static_elf(path) {
            return Err(WorkspaceError::Internal(format!(
                "the agent binary {} is not statically linked, so it cannot run in every image: build the static agent with scripts/setup.sh or set NEXUS_AGENT_BINARY",
                path.display()
            )));
        }
        let agent = std::fs::read(path).map_err(|e| {
            WorkspaceError::Internal(format!(
                "cannot read the agent binary {} ({e}): build it with scripts/setup.sh or set NEXUS_AGENT_BINARY",
                self.config.agent_binary.display()
            ))
        })?;
        let config = serde_json::json!({
            "port": AGENT_PORT,
            "hostKeyPath": format!("/{AGENT_DIR}/ssh_host_ed25519_key"),
            "authorizedKeysPath": format!("/{AGENT_DIR}/authorized_keys"),
            "workspaceFolder": r.workspace_folder,
            "remoteUser": r.remote_user,
            "remoteUserUid": r.remote_user_uid,
            "clientAliveInterval": self.config.client_alive_interval,
            "relay": r.ssh_relay.then(|| serde_json::json!({
                "socket": nexus_sdk::relay::SOCKET_PATH,
                "secret": hex::encode(crate::relay::secret_of(&r.host_key)),
            })),
            "remoteEnv": devcontainer_of(r)
                .map(|m| {
                    // null stays null: the agent unsets the variable
                    m.merged.config.remote_env
                })
                .unwrap_or_default(),
        });
        // the agent, the small files, a header each and the end blocks
        let mut b = tar::Builder::new(Vec::with_capacity(agent.len() + 64 * 1024));
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        dir.set_mtime(now() as u64);
        b.append_data(&mut dir, AGENT_DIR, std::io::empty())
            .map_err(WorkspaceError::io("packing the agent's files"))?;
        let config = config.to_string();
        let files: [(&str, &[u8], u32); 4] = [
            ("nexus-agent", agent.as_slice(), 0o755),
            // 0600: it holds the relay secret, for root (the agent) alone
            ("agent.json", config.as_bytes(), 0o600),
            ("ssh_host_ed25519_key", r.host_key.as_bytes(), 0o600),
            ("authorized_keys", r.authorized_keys.as_bytes(), 0o644),
        ];
        for (file, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            h.set_mtime(now() as u64);
            h.set_uid(0);
            h.set_gid(0);
            b.append_data(&mut h, format!("{AGENT_DIR}/{file}"), data)
                .map_err(WorkspaceError::io("packing the agent's files"))?;
        }
        b.into_inner()
            .map(bytes::Bytes::from)
            .map_err(WorkspaceError::io("packing the agent's files"))
    }

    /// Undoes a create: container, pooled connection, relay listener and
    /// socket directory, worktree, a branch the create made, ports and record. Faults are logged; it goes on.
    pub(super) async fn rollback(&self, r: &WorkspaceRecord) {
        self.agents.forget(&r.id).await;
        if let Err(e) = self.remove_containers(r).await {
            tracing::error!(workspace = %r.name, "rollback: cannot remove the container: {e}");
        }
        self.docker_forget(r).await;
        self.forget_relay(r).await;
        let repo = repo_of(r);
        let (name, wt, branch, created) = (
            r.name.clone(),
            PathBuf::from(&r.worktree),
            r.branch.clone(),
            r.branch_created,
        );
        let undone = blocking(move || {
            git::remove_worktree(&repo, &name, &wt)?;
            if created {
                git::delete_branch(&repo, &branch)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = undone {
            tracing::error!(workspace = %r.name, "rollback: cannot remove the worktree: {e}");
        }
        if let Err(e) = self.store.delete(&r.id) {
            tracing::error!(workspace = %r.name, "rollback: cannot delete the record: {e}");
        }
    }
}

/// The error of a start whose SSH port another process holds: the port
/// stays (users' SSH configurations name it), so the user frees it.
pub(super) fn port_taken(r: &WorkspaceRecord, why: &str) -> WorkspaceError {
    WorkspaceError::InvalidState {
        name: r.name.clone(),
        state: "stopped".into(),
        hint: format!(
            "its SSH port {} is taken by another process ({why}): end that process (`ss -ltnp 'sport = :{}'` names it) and start again; reserving the port range keeps this from happening (README)",
            r.ssh_port, r.ssh_port
        ),
    }
}
