//! The workspace manager: the create, start, stop, remove and exec flows of
//! DESIGN.md, each step recorded in the store before its side effect, every
//! failure rolled back, and [`Manager::reconcile`] settling what a crash left.

use crate::agent_client::{AgentPool, OpenChannel, Output, RunOptions, Target, command_line};
use crate::config::DaemonConfig;
use crate::docker::{ContainerRuntime, ContainerSpec, LABEL_DAEMON, LABEL_WORKSPACE};
use crate::error::{Result, WorkspaceError};
use crate::events::Events;
use crate::git::{self, RepoInfo};
use crate::keys;
use crate::store::{Store, WorkspaceRecord};
use nexus_devcontainer::config as devcontainer;
use nexus_devcontainer::metadata::Merged;
use nexus_sdk::{CreateParams, ExecParams, WorkspaceState};
use russh::keys::PublicKey;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Container port of the agent's SSH server.
pub const AGENT_PORT: u16 = 2222;
/// Where the agent and its files live in every container.
const AGENT_DIR: &str = ".nexus";
/// The agent's path in every workspace container.
pub const AGENT_BINARY: &str = "/.nexus/nexus-agent";

/// Checks a workspace name: `[a-z0-9][a-z0-9-]{0,62}`, both a git branch
/// component and a DNS label (RFC 1123).
pub fn validate_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidName(name.to_string()))
    }
}

/// Parses authorized_keys lines; at least one is needed.
/// Errors: `NoSshKey` when none is given; `Internal` naming a line that is no key.
pub fn authorized_keys(lines: &[String]) -> Result<String> {
    let mut out = String::new();
    for line in lines
        .iter()
        .flat_map(|l| l.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let parses = (0..fields.len()).any(|i| PublicKey::from_openssh(&fields[i..].join(" ")).is_ok());
        if !parses {
            return Err(WorkspaceError::InvalidKey(line.chars().take(40).collect()));
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        Err(WorkspaceError::NoSshKey)
    } else {
        Ok(out)
    }
}

/// Who SSH sessions run as (devcontainer.json `remoteUser` and
/// `updateRemoteUserUID`): the `configured` user (devcontainer.json's
/// `remoteUser`, else `containerUser`), else the image's user (root when it
/// names none), given the owner's UID and GID. With a root-owned repository,
/// the configured user keeps their own UID, and without one it is root.
pub fn remote_user(configured: Option<&str>, image_user: &str, owner: (u32, u32)) -> (String, Option<(u32, u32)>) {
    let user = configured.unwrap_or(image_user).split(':').next().unwrap_or("").trim();
    if user.is_empty() || user == "root" || user == "0" || (owner.0 == 0 && configured.is_none()) {
        return ("root".to_string(), None);
    }
    (user.to_string(), (owner.0 != 0).then_some(owner))
}

/// [`Manager::prepare_exec`] for the workspace of record `r`, whatever its
/// state (lifecycle hooks run while it is still being created).
pub(crate) fn prepare_exec_for(r: &WorkspaceRecord, p: &ExecParams) -> Result<PreparedExec> {
    if p.command.is_empty() {
        return Err(WorkspaceError::InvalidParams(
            "command is empty: give the program and its arguments".into(),
        ));
    }
    let env: Vec<(String, String)> = p.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some((bad, _)) = env
        .iter()
        .find(|(k, _)| k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(WorkspaceError::InvalidParams(format!(
            "{bad:?} is no environment variable name"
        )));
    }
    if let Some(user) = &p.user
        && (user.is_empty() || !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
    {
        return Err(WorkspaceError::InvalidParams(format!("{user:?} is no user name")));
    }
    let mut target = target(r);
    if let Some(user) = &p.user {
        target.user = user.clone();
    }
    Ok(PreparedExec {
        line: command_line(&p.command, Some(p.cwd.as_deref().unwrap_or(&r.workspace_folder)), &env),
        opts: RunOptions {
            pty: p.pty,
            stdin: p.stdin,
            timeout: p.timeout_secs.map(Duration::from_secs),
            dedicated: false,
        },
        target,
    })
}

/// The container's entrypoint: the agent; after the features'
/// `entrypoint`s when there are any (each a shell line, as the reference
/// runs them); beside the image's own entrypoint and command under
/// `overrideCommand: false`, which then is the container's main process.
pub(crate) fn agent_entrypoint(m: &Merged) -> Vec<String> {
    if m.entrypoints.is_empty() && m.config.override_command != Some(false) {
        return vec![AGENT_BINARY.to_string()];
    }
    let mut script: String = m.entrypoints.iter().map(|e| format!("{e}\n")).collect();
    if m.config.override_command == Some(false) {
        script.push_str(&format!(
            "{AGENT_BINARY} &\nif [ $# -gt 0 ]; then exec \"$@\"; fi\nwait\n"
        ));
    } else {
        script.push_str(&format!("exec {AGENT_BINARY}\n"));
    }
    let mut argv = vec!["/bin/sh".to_string(), "-c".to_string(), script, "-".to_string()];
    if m.config.override_command == Some(false) {
        argv.extend(m.image_command.iter().cloned());
    }
    argv
}

/// What a workspace's image and devcontainer.json decide of its record.
pub(crate) struct Settled {
    image: String,
    remote_user: String,
    remote_user_uid: Option<(u32, u32)>,
    workspace_folder: String,
    devcontainer: Option<String>,
    /// Whether it is a compose project.
    compose: bool,
}

impl Settled {
    /// Writes these fields into `r` (not into the store).
    fn apply_to(self, r: &mut WorkspaceRecord) {
        r.image = self.image;
        r.remote_user = self.remote_user;
        r.remote_user_uid = self.remote_user_uid;
        r.workspace_folder = self.workspace_folder;
        r.devcontainer = self.devcontainer;
    }
}

/// The (UID, GID) owning `dir`: whose files the worktree's are.
fn owner_of(dir: &std::path::Path) -> Result<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir)?;
    Ok((m.uid(), m.gid()))
}

/// [`Settled`] for image `resolved` and devcontainer.json `loaded` (none:
/// the defaults) of repository `repo_name`, whose files belong to `owner`
/// (UID, GID); for a compose config, with its project and what compose says
/// of the service (whose own entrypoint and command run beside the agent
/// unless `overrideCommand` is true: compose's default is false).
pub(crate) fn settle(
    loaded: Option<&devcontainer::Loaded>,
    resolved: crate::lifecycle::ResolvedImage,
    owner: (u32, u32),
    repo_name: &str,
    compose: Option<(crate::compose::Project, crate::compose::Service)>,
) -> Result<Settled> {
    let info = &resolved.info;
    let merged = match loaded {
        Some(l) => {
            let mut m = nexus_devcontainer::metadata::merge(&l.config, &l.raw, &resolved.metadata)?;
            let (entrypoint, cmd) = match &compose {
                Some((_, service)) => {
                    m.config.override_command = Some(m.config.override_command.unwrap_or(false));
                    let cmd = match (&service.command, &service.entrypoint) {
                        (Some(c), _) => c.clone(),
                        // a compose entrypoint drops the image's command, as in Docker
                        (None, Some(_)) => Vec::new(),
                        (None, None) => info.cmd.clone(),
                    };
                    (
                        service.entrypoint.clone().unwrap_or_else(|| info.entrypoint.clone()),
                        cmd,
                    )
                }
                None => (info.entrypoint.clone(), info.cmd.clone()),
            };
            if m.config.override_command == Some(false) {
                m.image_command = entrypoint.into_iter().chain(cmd).collect();
            }
            Some(WorkspaceConfig {
                merged: m,
                config_path: Some(l.path.clone()),
                compose: compose.map(|(p, _)| p),
            })
        }
        None => None,
    };
    let config = merged.as_ref().map(|m| &m.merged.config);
    let configured = config.and_then(|c| c.remote_user.clone().or_else(|| c.container_user.clone()));
    let (remote_user, mut remote_user_uid) = remote_user(configured.as_deref(), &info.user, owner);
    if config.and_then(|c| c.update_remote_user_uid) == Some(false) {
        remote_user_uid = None;
    }
    let compose = merged.as_ref().is_some_and(|m| m.compose.is_some());
    let default_folder = match compose {
        true => "/".to_string(),
        false => format!("/workspaces/{repo_name}"),
    };
    let workspace_folder = config
        .and_then(|c| c.workspace_folder.clone())
        .unwrap_or(default_folder);
    let devcontainer = merged
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| WorkspaceError::Internal(format!("cannot keep the devcontainer.json: {e}")))?;
    Ok(Settled {
        image: resolved.tag,
        remote_user,
        remote_user_uid,
        workspace_folder,
        devcontainer,
        compose,
    })
}

/// The configuration a workspace runs with, as its record keeps it (JSON in
/// the `devcontainer` column): devcontainer.json merged with its image's
/// metadata, plus where Nexus read it and, for a compose config, its
/// project.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceConfig {
    /// devcontainer.json merged by the spec's rules.
    #[serde(flatten)]
    pub merged: Merged,
    /// Where devcontainer.json was read: its path in the repository, or
    /// `templates/<name>/devcontainer.json` for a built-in template; a
    /// rebuild reads it there again.
    #[serde(default, rename = "nexus.configPath", skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// For a compose config, the workspace's compose project.
    #[serde(default, rename = "nexus.compose", skip_serializing_if = "Option::is_none")]
    pub compose: Option<crate::compose::Project>,
}

/// The configuration a workspace was made from, if it has a devcontainer.json.
pub(crate) fn devcontainer_of(r: &WorkspaceRecord) -> Option<WorkspaceConfig> {
    serde_json::from_str(r.devcontainer.as_deref()?).ok()
}

fn new_id() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The container name of a workspace.
pub fn container_name(r: &WorkspaceRecord) -> String {
    format!("nexus-{}-{}", r.name, &r.id[..8.min(r.id.len())])
}

pub(crate) fn repo_of(r: &WorkspaceRecord) -> RepoInfo {
    let workdir = PathBuf::from(&r.repository);
    let name = workdir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("workspace")
        .to_string();
    RepoInfo {
        workdir,
        common_dir: PathBuf::from(&r.git_common_dir),
        name,
    }
}

/// How to reach a workspace's agent.
pub fn target(r: &WorkspaceRecord) -> Target {
    Target {
        id: r.id.clone(),
        port: r.ssh_port,
        user: r.remote_user.clone(),
        host_public_key: r.host_public_key.clone(),
    }
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkspaceError::Internal(format!("worker failed: {e}")))?
}

/// An exec request checked by [`Manager::prepare_exec`].
#[derive(Debug, Clone)]
pub struct PreparedExec {
    line: String,
    opts: RunOptions,
    target: Target,
}

impl PreparedExec {
    /// The same exec on a connection of its own, for `exec.stream`: a
    /// subscriber that stops reading then holds back only its own process.
    pub fn dedicated(mut self) -> PreparedExec {
        self.opts.dedicated = true;
        self
    }

    /// Opens it through `agents` (for tasks that hold the pool, not the
    /// manager). A pooled connection that fails is forgotten and the open
    /// tried once more (it may have died with a restarted container); an
    /// agent refusing the daemon's key means the user does not exist.
    pub(crate) async fn open_with(&self, agents: &AgentPool) -> Result<OpenChannel> {
        let opened = match agents.open_exec(&self.target, &self.line, &self.opts).await {
            Err(WorkspaceError::AgentUnavailable(_)) if !self.opts.dedicated => {
                agents.forget(&self.target.id).await;
                agents.open_exec(&self.target, &self.line, &self.opts).await
            }
            other => other,
        };
        opened.map_err(|err| match err {
            WorkspaceError::AgentUnavailable(m) if m.contains("refused the daemon's key") => {
                WorkspaceError::InvalidParams(format!("no user {:?} in the container", self.target.user))
            }
            err => err,
        })
    }
}

/// Most output `exec.run` collects, stdout and stderr together, in bytes.
pub const MAX_EXEC_OUTPUT: usize = 8 * 1024 * 1024;

/// The manager. One per daemon.
pub struct Manager {
    pub(crate) config: DaemonConfig,
    pub(crate) daemon_id: String,
    daemon_public_key: String,
    pub(crate) store: Store,
    pub(crate) runtime: Arc<dyn ContainerRuntime>,
    agents: Arc<AgentPool>,
    pub(crate) forwards: crate::forwards::Forwards,
    /// Open exec and tunnel channels, by id.
    pub channels: crate::channels::Channels,
    /// The event bus.
    pub events: Events,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("daemon_id", &self.daemon_id).finish()
    }
}

impl Manager {
    /// A manager over `store` and `runtime`; it logs in to agents with `daemon_key`.
    pub fn new(
        config: DaemonConfig,
        daemon_id: String,
        store: Store,
        runtime: Arc<dyn ContainerRuntime>,
        daemon_key: russh::keys::PrivateKey,
    ) -> Result<Manager> {
        let daemon_public_key = keys::public_line(&daemon_key)?;
        Ok(Manager {
            config,
            daemon_id,
            daemon_public_key,
            store,
            runtime,
            agents: Arc::new(AgentPool::new(daemon_key)),
            forwards: Default::default(),
            channels: Default::default(),
            events: Events::default(),
            locks: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The configured SSH port range.
    pub fn port_range(&self) -> (u16, u16) {
        self.config.port_range
    }

    /// Serializes operations on one workspace name.
    async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(name.to_string()).or_default().clone()
        };
        m.lock_owned().await
    }

    /// All workspaces.
    pub fn list(&self) -> Result<Vec<WorkspaceRecord>> {
        self.store.list()
    }

    /// One workspace. Errors: `NotFound`.
    pub fn get(&self, name: &str) -> Result<WorkspaceRecord> {
        self.store.get(name)
    }

    /// Creates a workspace (the Create flow of DESIGN.md); on failure nothing
    /// is left behind and the error names the step.
    pub async fn create(&self, p: CreateParams) -> Result<WorkspaceRecord> {
        validate_name(&p.name)?;
        let _guard = self.lock(&p.name).await;
        let name = p.name.clone();
        let authorized = authorized_keys(&p.authorized_keys)?;
        self.events.progress(&name, "validate", "checking the repository");
        let path = PathBuf::from(&p.repository);
        let template = match (&p.template, &p.config) {
            (Some(_), Some(_)) => {
                return Err(WorkspaceError::InvalidParams(
                    "template and config both choose the devcontainer.json: give one of them".into(),
                ));
            }
            (Some(t), None) => Some(crate::templates::find(t)?),
            (None, _) => None,
        };
        let (from, config_arg) = (p.from.clone(), p.config.clone());
        let wt_name = name.clone();
        let (repo, start, branch_exists, found) = blocking(move || {
            let repo = git::discover(&path)?;
            let start = git::resolve_from(&repo, from.as_deref())?;
            let exists = git::branch_exists(&repo, &git::branch_name(&wt_name))?;
            let wt = git::worktree_path(&repo, &wt_name);
            if wt.exists() {
                return Err(WorkspaceError::WorktreeExists(wt.display().to_string()));
            }
            // a template's devcontainer.json, else the one of the commit the workspace starts from
            let found = match template {
                Some(t) => Some((
                    format!("templates/{}/devcontainer.json", t.name),
                    t.devcontainer_json.to_string(),
                )),
                None => devcontainer::find(|path| git::read_at(&repo, start, path), config_arg.as_deref())?,
            };
            Ok((repo, start, exists, found))
        })
        .await?;
        if self.store.get(&name).is_ok() {
            return Err(WorkspaceError::NameTaken(name));
        }
        let worktree = git::worktree_path(&repo, &name);
        let loaded = match found {
            Some((path, text)) => Some(devcontainer::load(&path, &text, &repo.name, &worktree)?),
            None => None,
        };
        if let Some(l) = &loaded {
            // refused now, before anything is made
            nexus_devcontainer::container_options::run_options(&l.path, &l.config)?;
            // warnings now, while the CLI is sure to be listening
            let mut warnings = Vec::new();
            if let Some(req) = &l.config.host_requirements {
                let host = crate::host::of_this_host(&self.config.data_dir);
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
                self.events.progress(&name, "config", format!("warning: {warning}"));
            }
        }
        self.runtime.ping().await?;
        if let Some(command) = loaded.as_ref().and_then(|l| l.config.initialize_command.as_ref()) {
            crate::lifecycle::run_initialize(&self.events, &name, &repo.workdir, command).await?;
        }
        let compose = loaded.as_ref().is_some_and(|l| l.config.docker_compose_file.is_some());
        if compose && p.image.is_some() {
            return Err(WorkspaceError::InvalidParams(
                "--image cannot replace a compose config's service: drop --image, or set the service's image in the compose file".into(),
            ));
        }
        let owner = owner_of(&repo.workdir)?;
        // a compose project's image is made once its worktree is there
        let settled = match compose {
            true => Settled {
                image: String::new(),
                remote_user: "root".into(),
                remote_user_uid: None,
                workspace_folder: String::new(),
                devcontainer: None,
                compose: true,
            },
            false => {
                let resolved = self
                    .resolve_image(&name, &p, &repo, start, loaded.as_ref(), false)
                    .await?;
                settle(loaded.as_ref(), resolved, owner, &repo.name, None)?
            }
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
            image: settled.image,
            remote_user: settled.remote_user,
            remote_user_uid: settled.remote_user_uid,
            workspace_folder: settled.workspace_folder,
            ssh_port: 0,
            host_key: keys::to_pem(&host_key)?,
            host_public_key: keys::public_line(&host_key)?,
            authorized_keys: format!("{authorized}{} nexusd\n", self.daemon_public_key.trim_end()),
            delete_branch: false,
            container_id: None,
            devcontainer: settled.devcontainer,
            created_at: now(),
        };
        self.events.progress(&name, "ports", "allocating the SSH port");
        record.ssh_port = self
            .store
            .insert_creating(&record, self.config.port_range, crate::ports::bindable)?;
        self.events.state(&name, Some(WorkspaceState::Creating));
        let made = match (compose, &loaded) {
            (true, Some(l)) => self.provision_compose(&mut record, start, l, owner, &repo.name).await,
            _ => self.provision(&mut record, Some(start)).await,
        };
        let made = match made {
            Ok(()) => self.run_create_hooks(&record).await,
            Err(e) => Err(e),
        };
        match made {
            Ok(()) => {
                self.now_running(&mut record).await?;
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
    async fn provision_compose(
        &self,
        record: &mut WorkspaceRecord,
        start: git2::Oid,
        l: &devcontainer::Loaded,
        owner: (u32, u32),
        repo_name: &str,
    ) -> Result<()> {
        self.add_worktree(record, start).await?;
        let (project, resolved, service) = self
            .compose_image(record, start, l, false)
            .await
            .map_err(|e| e.at("image"))?;
        let s = settle(Some(l), resolved, owner, repo_name, Some((project, service)))?;
        s.apply_to(record);
        self.store.set_image(record)?;
        self.provision(record, None).await
    }

    async fn add_worktree(&self, record: &WorkspaceRecord, start: git2::Oid) -> Result<()> {
        self.events.progress(
            &record.name,
            "worktree",
            format!("adding worktree {} on {}", record.worktree, record.branch),
        );
        let repo = repo_of(record);
        let wt_name = record.name.clone();
        blocking(move || git::add_worktree(&repo, &wt_name, start).map(|_| ()))
            .await
            .map_err(|e| e.at("worktree"))
    }

    /// Worktree (when `start` is given), container, agent files, start, SSH.
    async fn provision(&self, record: &mut WorkspaceRecord, start: Option<git2::Oid>) -> Result<()> {
        let name = record.name.clone();
        if let Some(start) = start {
            self.add_worktree(record, start).await?;
        }
        self.events.progress(
            &name,
            "container",
            format!("creating the container from {}", record.image),
        );
        let merged = devcontainer_of(record);
        let project = merged.as_ref().and_then(|m| m.compose.clone());
        let id = match (&merged, &project) {
            (Some(m), Some(p)) => self.compose_create(record, &m.merged, p).await,
            _ => self.create_container(record, merged.map(|m| m.merged)).await,
        }
        .map_err(|e| e.at("container"))?;
        self.store.set_container(&record.id, &id)?;
        record.container_id = Some(id.clone());
        self.events.progress(&name, "agent", "injecting the SSH agent");
        let tar = self.agent_archive(record).map_err(|e| e.at("agent"))?;
        self.runtime.upload(&id, tar).await.map_err(|e| e.at("agent"))?;
        match &project {
            Some(p) => {
                self.events.progress(&name, "start", "starting the compose project");
                self.compose_start(record, p).await
            }
            None => {
                self.events.progress(&name, "start", "starting the container");
                self.runtime.start(&id).await
            }
        }
        .map_err(|e| e.at("start"))?;
        self.wait_ssh(record).await
    }

    /// Creates workspace `record`'s container (not a compose one) from its
    /// image and merged devcontainer.json; returns its id.
    async fn create_container(&self, record: &WorkspaceRecord, merged: Option<Merged>) -> Result<String> {
        let options = match &merged {
            Some(m) => nexus_devcontainer::container_options::run_options("devcontainer.json", &m.config)?,
            None => Default::default(),
        };
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
        let spec = ContainerSpec {
            name: container_name(record),
            image: record.image.clone(),
            labels,
            binds: workspace_bind
                .into_iter()
                .chain([(record.git_common_dir.clone(), record.git_common_dir.clone())])
                .collect(),
            ports: vec![(AGENT_PORT, record.ssh_port)],
            entrypoint,
            hostname: options.hostname.clone().unwrap_or_else(|| record.name.clone()),
            env,
            mounts: options.workspace_mount.iter().chain(&options.mounts).cloned().collect(),
            options,
        };
        self.runtime.create(&spec).await
    }

    /// Waits until the agent answers SSH; a container that exits meanwhile
    /// fails at once, with the end of its log.
    async fn wait_ssh(&self, record: &WorkspaceRecord) -> Result<()> {
        self.events.progress(
            &record.name,
            "ssh",
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
            r = ready => r.map_err(|e| e.at("ssh")),
            e = exited => Err(e.at("ssh")),
        }
    }

    /// The error for a container that exited: the last lines of its log.
    async fn exit_report(&self, record: &WorkspaceRecord) -> WorkspaceError {
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
    /// key and authorized_keys.
    fn agent_archive(&self, r: &WorkspaceRecord) -> Result<Vec<u8>> {
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
            "remoteEnv": devcontainer_of(r)
                .map(|m| {
                    m.merged
                        .config
                        .remote_env
                        .into_iter()
                        .filter_map(|(k, v)| Some((k, v?)))
                        .collect::<std::collections::BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        });
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        dir.set_mtime(now() as u64);
        b.append_data(&mut dir, AGENT_DIR, std::io::empty())?;
        let config = config.to_string();
        let files: [(&str, &[u8], u32); 4] = [
            ("nexus-agent", agent.as_slice(), 0o755),
            ("agent.json", config.as_bytes(), 0o644),
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
            b.append_data(&mut h, format!("{AGENT_DIR}/{file}"), data)?;
        }
        Ok(b.into_inner()?)
    }

    /// Undoes a create: container, pooled connection, worktree, a branch the
    /// create made, ports and record. Faults are logged; it goes on.
    async fn rollback(&self, r: &WorkspaceRecord) {
        self.agents.forget(&r.id).await;
        if let Err(e) = self.remove_containers(r).await {
            tracing::error!(workspace = %r.name, "rollback: cannot remove the container: {e}");
        }
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

    /// Starts a stopped workspace: the same container and ports (a container
    /// that vanished is made again).
    pub async fn start(&self, name: &str) -> Result<WorkspaceRecord> {
        let _guard = self.lock(name).await;
        let mut r = self.store.get(name)?;
        self.require_settled(&r)?;
        self.runtime.ping().await?;
        match self.runtime.running(&container_name(&r)).await? {
            Some(true) => {}
            Some(false) => {
                self.events.progress(name, "start", "starting the container");
                self.agents.forget(&r.id).await;
                self.start_containers(&r).await.map_err(|e| e.at("start"))?;
            }
            None => self.provision(&mut r, None).await?,
        }
        self.wait_ssh(&r).await?;
        self.run_hooks(&r, &["postStartCommand", "postAttachCommand"]).await?;
        self.now_running(&mut r).await?;
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
            let found = match (tmpl, had_config) {
                (Some(t), _) => {
                    let t = crate::templates::find(&t)?;
                    Some((
                        format!("templates/{}/devcontainer.json", t.name),
                        t.devcontainer_json.to_string(),
                    ))
                }
                (None, true) => devcontainer::find(|path| git::read_at(&repo, start, path), config_path.as_deref())?,
                (None, false) => None,
            };
            Ok((start, found))
        })
        .await?;
        let repo = repo_of(&r);
        let loaded = match found {
            Some((path, text)) => Some(devcontainer::load(
                &path,
                &text,
                &repo.name,
                std::path::Path::new(&r.worktree),
            )?),
            None => None,
        };
        if let Some(l) = &loaded {
            nexus_devcontainer::container_options::run_options(&l.path, &l.config)?;
            if let Some(command) = &l.config.initialize_command {
                crate::lifecycle::run_initialize(&self.events, name, &repo.workdir, command).await?;
            }
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
                };
                let resolved = self
                    .resolve_image(name, &p, &repo, start, loaded.as_ref(), true)
                    .await?;
                settle(loaded.as_ref(), resolved, owner, &repo.name, None)?
            }
        };
        // the new image is there: the old container goes
        self.events.progress(name, "container", "removing the old container");
        self.agents.forget(&r.id).await;
        self.stop_forwards(&r);
        match settled.compose {
            // the project's other services, volumes and network stay
            true => self.runtime.remove(&container_name(&r)).await,
            false => self.remove_containers(&r).await,
        }
        .map_err(|e| e.at("container"))?;
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
    async fn now_running(&self, r: &mut WorkspaceRecord) -> Result<()> {
        self.store.set_state(&r.id, WorkspaceState::Running)?;
        r.state = WorkspaceState::Running;
        self.events.state(&r.name, Some(WorkspaceState::Running));
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
        self.agents.forget(&r.id).await;
        self.stop_forwards(&r);
        self.stop_containers(&r, 10).await?;
        self.store.set_state(&r.id, WorkspaceState::Stopped)?;
        r.state = WorkspaceState::Stopped;
        self.events.state(name, Some(WorkspaceState::Stopped));
        Ok(r)
    }

    fn require_settled(&self, r: &WorkspaceRecord) -> Result<()> {
        match r.state {
            WorkspaceState::Running | WorkspaceState::Stopped => Ok(()),
            s => Err(WorkspaceError::InvalidState {
                name: r.name.clone(),
                state: s.to_string(),
                hint: "wait until it settles, or remove it".into(),
            }),
        }
    }

    /// Removes a workspace (the Remove flow): refuses a dirty or unmerged
    /// worktree unless `force`; keeps the branch unless `delete_branch`.
    pub async fn remove(&self, name: &str, force: bool, delete_branch: bool) -> Result<()> {
        let _guard = self.lock(name).await;
        let r = self.store.get(name)?;
        if !force && r.state != WorkspaceState::Removing {
            let (repo, wt, branch) = (repo_of(&r), PathBuf::from(&r.worktree), r.branch.clone());
            if let Some(what) = blocking(move || git::removal_blocker(&repo, &wt, &branch)).await? {
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
        self.finish_remove(&r, delete_branch).await
    }

    async fn finish_remove(&self, r: &WorkspaceRecord, delete_branch: bool) -> Result<()> {
        self.events
            .progress(&r.name, "remove", "removing the container and the worktree");
        self.agents.forget(&r.id).await;
        self.stop_forwards(r);
        self.remove_containers(r).await.map_err(|e| e.at("container"))?;
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
        .map_err(|e| e.at("worktree"))?;
        self.store.delete(&r.id)?;
        self.events.state(&r.name, None);
        Ok(())
    }

    /// A running workspace's record. Errors: `NotFound`, or `InvalidState`
    /// saying how to start it.
    pub fn running(&self, name: &str) -> Result<WorkspaceRecord> {
        let r = self.store.get(name)?;
        if r.state != WorkspaceState::Running {
            return Err(WorkspaceError::InvalidState {
                name: r.name.clone(),
                state: r.state.to_string(),
                hint: format!("start it with `nexus workspace start {}`", r.name),
            });
        }
        Ok(r)
    }

    /// The pool of SSH connections to agents.
    pub fn agents(&self) -> &AgentPool {
        &self.agents
    }

    /// The pool, shared, for tasks that outlive a request.
    pub(crate) fn agents_handle(&self) -> Arc<AgentPool> {
        self.agents.clone()
    }

    /// Checks an exec request against the workspace: it must run, the
    /// command must not be empty, env names must be names.
    pub fn prepare_exec(&self, p: &ExecParams) -> Result<PreparedExec> {
        let r = self.running(&p.workspace)?;
        prepare_exec_for(&r, p)
    }

    /// One of the agent's own helpers (`nexus-agent --watch …`, `--ports`)
    /// in running workspace `workspace`, as its user, from `/`.
    pub(crate) fn prepare_agent_helper(&self, workspace: &str, args: &[&str]) -> Result<PreparedExec> {
        let command = std::iter::once(AGENT_BINARY)
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        self.prepare_exec(&ExecParams {
            workspace: workspace.to_string(),
            command,
            cwd: Some("/".into()),
            ..Default::default()
        })
    }

    /// Starts a prepared command through the workspace's agent.
    pub async fn open_exec(&self, e: &PreparedExec) -> Result<OpenChannel> {
        e.open_with(&self.agents).await
    }

    /// Opens a TCP connection to `port` on the container's loopback (the
    /// agent's SSH server when `None`), valid while the workspace runs.
    pub async fn open_tunnel(&self, workspace: &str, port: Option<u16>) -> Result<OpenChannel> {
        let r = self.running(workspace)?;
        if port == Some(0) {
            return Err(WorkspaceError::InvalidParams(
                "port 0 is no TCP port: use 1-65535".into(),
            ));
        }
        self.agents.open_tunnel(&target(&r), port.unwrap_or(AGENT_PORT)).await
    }

    /// Runs a prepared command to its end, collecting stdout and stderr (at
    /// most [`MAX_EXEC_OUTPUT`] bytes; past that the process is stopped and
    /// the error says to use `exec.stream`).
    pub async fn exec_to_end(&self, e: &PreparedExec) -> Result<nexus_sdk::ExecResult> {
        let mut run = self.open_exec(e).await?.spawn_unsteered(e.opts.timeout, 16);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = run.output().recv().await {
            match chunk {
                Output::Stdout(b) => stdout.extend_from_slice(&b),
                Output::Stderr(b) => stderr.extend_from_slice(&b),
            }
            if stdout.len() + stderr.len() > MAX_EXEC_OUTPUT {
                // dropping `run` ends the command
                return Err(WorkspaceError::TooLarge(format!(
                    "the command's output passed {} MiB, the most exec.run returns: use exec.stream",
                    MAX_EXEC_OUTPUT >> 20
                )));
            }
        }
        let code = run.exit().await?.ok_or_else(|| {
            WorkspaceError::AgentUnavailable("the connection closed before the command exited".into())
        })?;
        Ok(nexus_sdk::ExecResult {
            exit_code: code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// The container's output.
    pub async fn logs(
        &self,
        name: &str,
        follow: bool,
    ) -> Result<futures::stream::BoxStream<'static, Result<(String, String)>>> {
        let r = self.store.get(name)?;
        self.runtime.ping().await?;
        Ok(self.runtime.logs(&container_name(&r), follow))
    }

    /// Settles records against Docker and git after a start or a crash:
    /// stale forwards released, `creating` rolled back, `removing` finished,
    /// running/stopped set to what Docker says, and containers of this daemon
    /// without a record removed.
    pub async fn reconcile(&self) -> Result<()> {
        // forwards lived in the previous process: their ports are free again
        self.store.release_ports_like(crate::forwards::PURPOSE)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_branch_components_and_dns_labels() {
        for ok in ["a", "feature-auth", "0day", &"a".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a.b", "a/b", "ä", &"a".repeat(64), "a b"] {
            assert!(
                matches!(validate_name(bad), Err(WorkspaceError::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn remote_user_follows_the_owner() {
        assert_eq!(remote_user(None, "dev", (0, 0)), ("root".to_string(), None));
        assert_eq!(
            remote_user(None, "dev", (1001, 1002)),
            ("dev".to_string(), Some((1001, 1002)))
        );
        assert_eq!(remote_user(None, "", (1001, 1001)), ("root".to_string(), None));
        assert_eq!(
            remote_user(None, "dev:dev", (1001, 1001)),
            ("dev".to_string(), Some((1001, 1001)))
        );
        // devcontainer.json's user wins over the image's, even in a root-owned repository
        assert_eq!(remote_user(Some("dev"), "", (0, 0)), ("dev".to_string(), None));
        assert_eq!(
            remote_user(Some("dev"), "other", (1001, 1001)),
            ("dev".to_string(), Some((1001, 1001)))
        );
        assert_eq!(
            remote_user(Some("root"), "dev", (1001, 1001)),
            ("root".to_string(), None)
        );
    }

    #[test]
    fn authorized_keys_need_one_real_key() {
        assert!(matches!(authorized_keys(&[]), Err(WorkspaceError::NoSshKey)));
        assert!(matches!(
            authorized_keys(&["# only a comment".into()]),
            Err(WorkspaceError::NoSshKey)
        ));
        assert!(matches!(
            authorized_keys(&["not a key".into()]),
            Err(WorkspaceError::InvalidKey(_))
        ));
        let key = keys::public_line(&keys::generate().expect("key")).expect("line");
        assert_eq!(
            authorized_keys(std::slice::from_ref(&key)).expect("ok"),
            format!("{key}\n")
        );
    }
}
