//! The workspace manager: the create, start, stop, remove and exec flows of
//! DESIGN.md, each step recorded in the store before its side effect, every
//! failure rolled back, and [`Manager::reconcile`] settling what a crash left.

use crate::agent::client::AgentError;
pub use crate::agent::client::{AgentPool, OpenChannel, Output};
use crate::agent::client::{RunOptions, Target, command_line};
use crate::agent::{AGENT_BINARY, AGENT_DIR, AGENT_PORT};
use crate::config::DaemonConfig;
use crate::error::{Result, WorkspaceError};
use crate::events::Events;
use crate::git::{self, RepoInfo};
use crate::keys;
use crate::runtime::docker::{ContainerRuntime, ContainerSpec, LABEL_DAEMON, LABEL_WORKSPACE};
pub use crate::store::container_name;
// what the API hands on from the manager: the record, the channel types,
// the built-in templates
pub use crate::agent::client::{Control, EXEC_FAILED, Lines};
pub use crate::runtime::templates::TEMPLATES;
pub use crate::store::WorkspaceRecord as Record;
pub use crate::store::checkpoints::CheckpointRecord;
use crate::store::{Store, WorkspaceRecord};
use nexus_devcontainer::config as devcontainer;
use nexus_devcontainer::config::Loaded;
use nexus_devcontainer::metadata::Merged;
use nexus_sdk::{CreateParams, ExecParams, Step, WorkspaceState};
use russh::keys::PublicKey;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub use team::{Caller, Session};
pub use trace::{Actor, Span};

mod checkpoint;
mod compose;
mod create;
mod dashboard;
pub use dashboard::SESSION_IDLE as DASHBOARD_SESSION_IDLE;
mod docker;
mod exec;
mod fs;
mod hooks;
mod idle;
mod image;
mod metrics;
mod orgs;
mod ports;
mod prune;
mod reconcile;
mod remove;
mod start;
mod stats;
pub mod team;
mod trace;

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
    if let Some(id) = &p.terminal {
        if p.pty.is_none() {
            return Err(WorkspaceError::InvalidParams(
                "terminal needs pty: give the terminal's size too".into(),
            ));
        }
        let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if id.is_empty() || id.len() > 64 || !id.bytes().all(plain) {
            return Err(WorkspaceError::InvalidParams(format!(
                "{id:?} is no terminal id: use 1 to 64 letters, digits, '-' or '_'"
            )));
        }
    }
    if p.command.is_empty() && p.terminal.is_none() {
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
    // a kept terminal with no command: the login shell (a `shell` request)
    let line = if p.command.is_empty() {
        String::new()
    } else {
        command_line(&p.command, Some(p.cwd.as_deref().unwrap_or(&r.workspace_folder)), &env)
    };
    Ok(PreparedExec {
        line,
        opts: RunOptions {
            pty: p.pty,
            stdin: p.stdin,
            timeout: p.timeout_secs.map(Duration::from_secs),
            dedicated: false,
            terminal: p.terminal.clone(),
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
    let m = std::fs::metadata(dir).map_err(WorkspaceError::io(format!("reading the owner of {}", dir.display())))?;
    Ok((m.uid(), m.gid()))
}

/// [`Settled`] for image `resolved` and devcontainer.json `loaded` (none:
/// the defaults) of repository `repo_name`, whose files belong to `owner`
/// (UID, GID); for a compose config, with its project and what compose says
/// of the service (whose own entrypoint and command run beside the agent
/// unless `overrideCommand` is true: compose's default is false).
pub(crate) fn settle(
    loaded: Option<&devcontainer::Loaded>,
    resolved: image::ResolvedImage,
    owner: (u32, u32),
    repo_name: &str,
    compose: Option<(crate::runtime::compose::Project, nexus_devcontainer::compose::Service)>,
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
    let default_folder = if compose {
        "/".to_string()
    } else {
        format!("/workspaces/{repo_name}")
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

/// Finds the devcontainer.json of a workspace starting at `start`: the
/// built-in `template`'s when given, else the commit's (`config`, or the
/// spec's standard locations) when `in_commit`; as (path, text). Blocking
/// (git2): call it inside [`blocking`].
fn find_config(
    repo: &RepoInfo,
    start: git2::Oid,
    template: Option<&crate::runtime::templates::Template>,
    in_commit: bool,
    config: Option<&str>,
) -> Result<Option<(String, String)>> {
    Ok(match (template, in_commit) {
        (Some(t), _) => Some((
            format!("templates/{}/devcontainer.json", t.name),
            t.devcontainer_json.to_string(),
        )),
        (None, true) => devcontainer::find(|path| Ok::<_, WorkspaceError>(git::read_at(repo, start, path)?), config)?,
        (None, false) => None,
    })
}

/// Reads `found` (from [`find_config`]) for repository `repo_name` and the
/// worktree at `worktree`, and refuses at once what no container can have
/// (bad `mounts`, `runArgs`), before anything is made.
fn load_config(found: Option<(String, String)>, repo_name: &str, worktree: &std::path::Path) -> Result<Option<Loaded>> {
    let Some((path, text)) = found else { return Ok(None) };
    let loaded = devcontainer::load(&path, &text, repo_name, worktree)?;
    nexus_devcontainer::container_options::run_options(&loaded.path, &loaded.config)?;
    Ok(Some(loaded))
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
    pub compose: Option<crate::runtime::compose::Project>,
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
        relay_secret: r.ssh_relay.then(|| crate::relay::secret_of(&r.host_key)),
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
            Err(AgentError::Unavailable(_)) if !self.opts.dedicated => {
                agents.forget(&self.target.id).await;
                agents.open_exec(&self.target, &self.line, &self.opts).await
            }
            other => other,
        };
        opened.map_err(|err| match err {
            AgentError::AuthRefused { user } => {
                WorkspaceError::InvalidParams(format!("no user {user:?} in the container"))
            }
            err => err.into(),
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
    pub(crate) forwards: crate::agent::forwards::Forwards,
    /// Open exec and tunnel channels, by id.
    pub channels: crate::agent::channels::Channels,
    /// The event bus.
    pub events: Events,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Whether an automatic image pass runs (`prune.rs`).
    pruning: std::sync::atomic::AtomicBool,
    /// What the flows count and time (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// The SSH relay of new workspaces' ports; `None` (tests of the flows
    /// on a fake runtime) publishes them with Docker.
    pub(crate) relay: Option<crate::relay::Relay>,
    /// Team mode's state; `None` in single-user mode (`team.rs`).
    pub(crate) team: Option<team::Team>,
    /// The agent binary's version, asked once (see [`Manager::agent_version`]).
    agent_version: std::sync::OnceLock<Option<String>>,
    /// Agent Trace: declared connections, snapshot timelines, the commit watcher (`trace.rs`).
    tracer: Arc<trace::Tracer>,
    /// When each workspace last woke or started (`idle.rs`), by id.
    awake: std::sync::Mutex<HashMap<String, std::time::SystemTime>>,
    /// The Docker proxies of `--docker proxy` workspaces (`docker.rs`).
    docker_proxies: crate::runtime::docker_proxy::Proxies,
    /// The web dashboard's open sign-in codes (`dashboard.rs`).
    sign_in_codes: dashboard::SignInCodes,
    /// Every running workspace's resource use (`stats.rs`).
    stats: stats::StatsHub,
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
        let team = if store.team_mode()? {
            Some(team::Team::open(&config.data_dir)?)
        } else {
            None
        };
        Ok(Manager {
            docker_proxies: Default::default(),
            sign_in_codes: Default::default(),
            stats: Default::default(),
            team,
            config: config.clone(),
            daemon_id,
            daemon_public_key,
            store,
            runtime,
            agents: Arc::new(AgentPool::new(daemon_key, config.data_dir.clone())),
            relay: config
                .relay_program
                .clone()
                .filter(|_| crate::relay::usable_with(&config.data_dir))
                .map(|program| crate::relay::Relay::new(config.data_dir.clone(), program)),
            forwards: Default::default(),
            channels: Default::default(),
            events: Events::default(),
            locks: std::sync::Mutex::new(HashMap::new()),
            pruning: Default::default(),
            metrics: Default::default(),
            agent_version: Default::default(),
            tracer: Default::default(),
            awake: Default::default(),
        })
    }

    /// The version of the agent binary this daemon injects (`nexus-agent
    /// --version`, run once); `None` when it cannot say (a missing binary
    /// fails the injection itself with its own error).
    pub(crate) fn agent_version(&self) -> Option<String> {
        self.agent_version
            .get_or_init(|| {
                let out = std::process::Command::new(&self.config.agent_binary)
                    .arg("--version")
                    .stdin(std::process::Stdio::null())
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                (out.status.success())
                    .then(|| text.split_whitespace().nth(1).map(str::to_string))
                    .flatten()
            })
            .clone()
    }

    /// Records that the agent of this daemon was just injected into `r`.
    pub(crate) fn stamp_agent(&self, r: &mut WorkspaceRecord) -> Result<()> {
        if let Some(v) = self.agent_version() {
            self.store.set_agent_version(&r.id, &v)?;
            r.agent_version = Some(v);
        }
        Ok(())
    }

    /// A test's kill point: with `NEXUS_TEST_PAUSE_POINTS` set in the
    /// daemon's environment, a flow that reaches point `name` while the
    /// data directory holds a file `pause-at` naming it writes
    /// `paused-at-<name>` there and waits until `pause-at` names it no more,
    /// so a test kills the daemon at exactly that point
    /// (`tests/tests/crash.rs`) or changes the world there and lets the flow
    /// go on (`tests/tests/scale.rs`). Without the variable it does nothing,
    /// and reads nothing.
    pub(super) async fn pause_point(&self, name: &str) {
        if std::env::var_os("NEXUS_TEST_PAUSE_POINTS").is_none() {
            return;
        }
        let dir = &self.config.data_dir;
        let armed = std::fs::read_to_string(dir.join("pause-at")).unwrap_or_default();
        if armed.trim() != name {
            return;
        }
        tracing::warn!("pausing at {name} (NEXUS_TEST_PAUSE_POINTS)");
        let marker = dir.join(format!("paused-at-{name}"));
        if let Err(e) = std::fs::write(&marker, "") {
            tracing::error!("cannot mark the pause at {name}: {e}");
        }
        // test-only: resumes once the test disarms the point (or kills us)
        while std::fs::read_to_string(dir.join("pause-at")).is_ok_and(|a| a.trim() == name) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = std::fs::remove_file(&marker);
        tracing::warn!("resuming after {name}");
    }

    /// The configured SSH port range.
    pub fn port_range(&self) -> (u16, u16) {
        self.config.port_range
    }

    /// Serializes operations on one workspace name.
    pub(super) async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.lock_of(name).lock_owned().await
    }

    /// The mutex that serializes operations on workspace `name`.
    pub(super) fn lock_of(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    /// All workspaces.
    pub fn list(&self) -> Result<Vec<WorkspaceRecord>> {
        Ok(self.store.list()?)
    }

    /// One workspace. Errors: `NotFound`.
    pub fn get(&self, name: &str) -> Result<WorkspaceRecord> {
        Ok(self.store.get(name)?)
    }
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod team_tests;

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
