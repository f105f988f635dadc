//! Parameter and result types of every method, in their wire shape
//! (camelCase members, as JSON-RPC APIs of IDE tooling expect).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a workspace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceState {
    /// Being created: worktree, image, container, agent.
    Creating,
    /// The container runs and its agent answers SSH.
    Running,
    /// The container exists but is stopped.
    Stopped,
    /// Being removed.
    Removing,
    /// The container is frozen (`docker pause`: memory kept) after being
    /// idle; an SSH connection, an exec or a file call wakes it.
    Paused,
}

impl std::fmt::Display for WorkspaceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WorkspaceState::Creating => "creating",
            WorkspaceState::Running => "running",
            WorkspaceState::Stopped => "stopped",
            WorkspaceState::Removing => "removing",
            WorkspaceState::Paused => "paused",
        })
    }
}

/// A workspace as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    /// Stable id (16 hex digits); the value of the `dev.nexus.workspace` label.
    pub id: String,
    /// The name: `[a-z0-9][a-z0-9-]{0,62}`, unique per daemon.
    pub name: String,
    /// Current state.
    pub state: WorkspaceState,
    /// Absolute host path of the repository's main working tree.
    pub repository: String,
    /// Absolute host path of the worktree (`<repository>/.worktree/<name>`).
    pub worktree: String,
    /// The worktree's branch (`nexus/<name>`).
    pub branch: String,
    /// The image the container runs.
    pub image: String,
    /// The user SSH sessions and execs run as (devcontainer.json `remoteUser`).
    pub remote_user: String,
    /// Where the worktree is mounted in the container (devcontainer.json
    /// `workspaceFolder`), e.g. `/workspaces/<repo-name>`.
    pub workspace_folder: String,
    /// Host address the SSH port is published on.
    pub ssh_host: String,
    /// Host TCP port of the agent's SSH server (from the daemon's range).
    pub ssh_port: u16,
    /// The workspace's SSH host public key, OpenSSH format
    /// (`ssh-ed25519 AAAA…`), for known_hosts.
    pub host_public_key: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
    /// devcontainer.json's `customizations`, as written (variables
    /// replaced), for IDEs: e.g. `{"vscode": {"extensions": [...]}}`. Absent
    /// when the workspace has no devcontainer.json or it sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customizations: Option<serde_json::Value>,
    /// Team mode: its creator's name (in `workspace.list` and
    /// `workspace.get`); absent in single-user mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The version of the agent in its container (`nexus-agent --version`),
    /// injected at create and again at a start after the daemon was
    /// updated; absent when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Why it is paused or stopped, when Nexus knows: `idle for 10m`
    /// (it wakes on an SSH connection), `stopped by request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// When it pauses and stops by itself; absent: never (the daemon's
    /// defaults, `nexusd --idle-pause/--idle-stop`, are filled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleSettings>,
    /// Docker inside the workspace, when it has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerMode>,
}

/// Docker inside a workspace (`nexus workspace create --docker MODE`, or
/// devcontainer.json `customizations.nexus.docker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DockerMode {
    /// A Docker socket in the workspace (`DOCKER_HOST`, and
    /// `/var/run/docker.sock`) that is a filtering proxy to the host's
    /// engine: the containers, volumes and networks made through it are the
    /// workspace's children, the only ones it sees, and go with it;
    /// privileged mode, host namespaces, added capabilities, devices and
    /// binds outside the workspace folder are refused. Safe for agents.
    Proxy,
    /// A privileged container running its own `dockerd` on a Unix socket
    /// only (never TCP), its state on a named volume that survives stop and
    /// start and goes with the workspace. The image must have `dockerd` (the
    /// devcontainers `docker-in-docker` feature installs it). Root on the
    /// host for whoever is in the workspace: for trusted users only.
    Dind,
}

impl DockerMode {
    /// `proxy` or `dind`, as the wire, the CLI and devcontainer.json spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DockerMode::Proxy => "proxy",
            DockerMode::Dind => "dind",
        }
    }

    /// Parses `proxy` or `dind`. Errors: a message naming the two.
    pub fn parse(text: &str) -> Result<DockerMode, String> {
        match text {
            "proxy" => Ok(DockerMode::Proxy),
            "dind" => Ok(DockerMode::Dind),
            other => Err(format!(
                "{other:?} is no Docker mode: use proxy (a filtering proxy to the host's engine, safe for agents) or dind (a privileged Docker of its own, for trusted users)"
            )),
        }
    }
}

/// When an idle workspace pauses and stops. Idle means no channel moving
/// data on its SSH server (sessions' input and output, SFTP, forwarded
/// connections, the daemon's execs and file calls; keep-alives do not
/// count) and its container under 5% of a core. A paused or stopped
/// workspace wakes when a client sends the SSH banner to its port, or at
/// an exec, file or tunnel call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdleSettings {
    /// Seconds idle before `docker pause` (memory kept, wakes in
    /// milliseconds); at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_after_seconds: Option<u64>,
    /// Seconds idle before the container stops (wakes in about a second);
    /// at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after_seconds: Option<u64>,
}

impl IdleSettings {
    /// Reads an idle duration as people write it: `90s`, `10m`, `2h`, `1d`,
    /// or a bare number of minutes; returns seconds.
    ///
    /// Errors: zero, a negative or malformed value, named with what to write.
    pub fn parse_duration(text: &str) -> Result<u64, String> {
        let t = text.trim();
        let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => t.split_at(i),
            None => (t, "m"),
        };
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => 0,
        };
        let n: u64 = digits.parse().unwrap_or(0);
        if scale == 0 || digits.is_empty() {
            return Err(format!(
                "{text:?} is not an idle time: write a positive number with s, m, h or d (90s, 10m, 2h)"
            ));
        }
        if n == 0 {
            return Err(format!(
                "an idle time of {text} would pause or stop at once: give at least 1s"
            ));
        }
        Ok(n * scale)
    }

    /// `seconds` as [`IdleSettings::parse_duration`] reads it back (`90s`, `10m`, `2h`).
    pub fn format_duration(seconds: u64) -> String {
        match seconds {
            s if s % 86400 == 0 => format!("{}d", s / 86400),
            s if s % 3600 == 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }
}

/// Parameters of `workspace.idle`: when the workspace pauses and stops
/// once idle, from now on (an absent time: never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdleParams {
    /// The workspace's name.
    pub workspace: String,
    /// Seconds idle before `docker pause`; at least 1; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_after_seconds: Option<u64>,
    /// Seconds idle before the container stops; at least 1; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_after_seconds: Option<u64>,
}

/// Parameters of `workspace.create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateParams {
    /// Workspace name: `[a-z0-9][a-z0-9-]{0,62}` (a git branch component and a
    /// DNS label at once).
    pub name: String,
    /// Absolute host path of any directory inside the git repository; or a
    /// git URL (`https://`, `ssh://`, `git://`, `file://`, `user@host:path`;
    /// anything not starting with `/`): the daemon then keeps a bare mirror
    /// of it in its data directory (one per URL, and per creator in team
    /// mode), fetches it on each create, and adds the worktree to the
    /// mirror; `origin` is the URL, so `git push` in the workspace goes
    /// back to it. The daemon's user fetches: its SSH keys or agent and git
    /// credential helpers apply; a URL holding a password is refused.
    pub repository: String,
    /// The commit-ish the branch starts from; `HEAD` when absent (for a
    /// URL: a branch name is the URL's branch, `origin/<name>`, and absent
    /// means the URL's default branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Image to run instead of the one devcontainer.json (or the built-in
    /// default template) gives; the rest of devcontainer.json still applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// devcontainer.json to use, relative to the repository root (e.g.
    /// `.devcontainer/python/devcontainer.json`); else
    /// `.devcontainer/devcontainer.json`, then `.devcontainer.json`, read
    /// from the commit the workspace starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// A built-in template to use instead of the repository's
    /// devcontainer.json (see `template.list`); not with `config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// OpenSSH public keys (authorized_keys lines) allowed to log in.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
    /// When the workspace pauses and stops once idle; absent: the daemon's
    /// defaults. A zero is invalid_params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleSettings>,
    /// Docker inside the workspace; absent: devcontainer.json's
    /// `customizations.nexus.docker`, else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerMode>,
}

/// Parameters naming one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameParams {
    /// The workspace's name, as every method that names an existing
    /// workspace calls it (`name`, this method's older spelling, is read too).
    #[serde(alias = "name")]
    pub workspace: String,
}

/// Parameters of `workspace.remove`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveParams {
    /// The workspace's name, as every method that names an existing
    /// workspace calls it (`name`, this method's older spelling, is read too).
    #[serde(alias = "name")]
    pub workspace: String,
    /// Remove even with uncommitted changes or commits on no other branch.
    #[serde(default)]
    pub force: bool,
    /// Also delete the branch `nexus/<name>`.
    #[serde(default)]
    pub delete_branch: bool,
}

/// A git checkpoint of a workspace's worktree: HEAD, the index and every
/// file (not those `.gitignore` names) as they were, on the hidden ref
/// `refs/nexus/checkpoints/<workspace id>/<number>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Its name, unique in the workspace (its number when none was given).
    pub name: String,
    /// Its number in the workspace, from 1.
    pub number: u32,
    /// The checkpoint commit (40 hex digits): its first parent is HEAD, its
    /// second a commit of the index.
    pub commit: String,
    /// When it was made, seconds since the Unix epoch.
    pub created_at: i64,
    /// A full checkpoint's image: the container's own files (`docker
    /// commit`), `nexus/checkpoint:<workspace id>-<number>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Parameters of `trace.session`: who the calling connection is, for the
/// Agent Trace records of the commits its changes end up in (docs/trace.md).
/// A connection that never calls it is a person (`human`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceSessionParams {
    /// The Agent Trace contributor type: `human`, `ai`, `mixed` or `unknown`.
    #[serde(rename = "type")]
    pub contributor: crate::trace::ContributorType,
    /// The model, in the models.dev convention (`anthropic/claude-sonnet-4-5`);
    /// at most 250 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Where the conversation can be read (an absolute URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_url: Option<String>,
    /// The agent or tool working through this connection (MCP's `clientInfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<crate::trace::Tool>,
}

/// Parameters of `workspace.checkpoint.create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointCreateParams {
    /// The workspace's name.
    pub workspace: String,
    /// The checkpoint's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting
    /// with `.` or `-`; its number when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Also record the container's own files (packages installed in it):
    /// a `docker commit` of it, which a restore or a fork runs from. Not
    /// for compose configs yet.
    #[serde(default)]
    pub full: bool,
}

/// Parameters naming one checkpoint of a workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointParams {
    /// The workspace's name.
    pub workspace: String,
    /// The checkpoint's name (`workspace.checkpoint.list` gives them).
    pub checkpoint: String,
}

/// Parameters of `workspace.fork`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForkParams {
    /// The workspace forked from.
    pub workspace: String,
    /// The checkpoint to fork at; a new checkpoint of the workspace's state
    /// now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The new workspace's name (as `workspace.create`'s).
    pub name: String,
    /// OpenSSH public keys (authorized_keys lines) allowed to log in to the new workspace.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
}

/// Parameters of `workspace.stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsParams {
    /// The workspace's name.
    pub workspace: String,
    /// Send the samples of the last 15 minutes first (the daemon keeps
    /// them for every running workspace); else only the newest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

/// One sample of a workspace container's resource use, computed as
/// `docker stats` does (cgroup v1 and v2): rates are per second since the
/// sample before (0 for the first one, and after a counter went back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    /// When Docker read it, milliseconds since the Unix epoch.
    pub time: u64,
    /// CPU use in percent of one CPU (up to 100 × the CPUs the container may use).
    pub cpu_percent: f64,
    /// Memory in use without the page cache (`usage - inactive_file`), bytes.
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none), bytes.
    pub memory_limit_bytes: u64,
    /// Bytes received per second, over every network of the container.
    pub network_rx_per_sec: f64,
    /// Bytes sent per second.
    pub network_tx_per_sec: f64,
    /// Bytes read from block devices per second.
    pub block_read_per_sec: f64,
    /// Bytes written to block devices per second.
    pub block_write_per_sec: f64,
}

/// Parameters of `workspace.logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsParams {
    /// The workspace's name, as every method that names an existing
    /// workspace calls it (`name`, this method's older spelling, is read too).
    #[serde(alias = "name")]
    pub workspace: String,
    /// Keep streaming new output until unsubscribed or the container stops.
    #[serde(default)]
    pub follow: bool,
}

/// Which output stream of a container's PID 1 a log chunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A step of a create, start, rebuild or remove: what `progress` events
/// and `data.step` of a failed one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// Checking the name and the parameters.
    Validate,
    /// Reading devcontainer.json (and warnings about it).
    Config,
    /// Allocating host ports.
    Ports,
    /// Adding the git worktree.
    Worktree,
    /// Finding, pulling or building the image.
    Image,
    /// Running the Docker Compose CLI.
    Compose,
    /// Creating (or replacing) the container.
    Container,
    /// Injecting the SSH agent.
    Agent,
    /// Starting the container.
    Start,
    /// Waiting for the agent's SSH server.
    Ssh,
    /// A devcontainer.json lifecycle hook; each output line is a message.
    Hook,
    /// Removing the workspace.
    Remove,
}

impl Step {
    /// The wire name: `worktree`, `hook`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Validate => "validate",
            Step::Config => "config",
            Step::Ports => "ports",
            Step::Worktree => "worktree",
            Step::Image => "image",
            Step::Compose => "compose",
            Step::Container => "container",
            Step::Agent => "agent",
            Step::Start => "start",
            Step::Ssh => "ssh",
            Step::Hook => "hook",
            Step::Remove => "remove",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of a container's log (its PID 1's stdout and stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogChunk {
    /// `stdout` or `stderr`.
    pub stream: LogStream,
    /// The text, UTF-8 (invalid bytes replaced).
    pub text: String,
    /// True on the last notification of the subscription (its `text` is
    /// empty): the log ended, or the container stopped while following.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

/// Parameters of `exec.run` and `exec.stream`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecParams {
    /// The workspace name.
    pub workspace: String,
    /// Program and arguments (argv); run directly, not through a shell.
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory in the container; the workspace folder when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Seconds after which the process is killed (exit code 124); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// The user to run as (a name in the container's `/etc/passwd`); the
    /// workspace's `remoteUser` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `exec.stream` only: keep the process's standard input open for
    /// `exec.write` until `exec.closeStdin`. When false, stdin is at its end
    /// from the start (as `exec.run` always has it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
    /// `exec.stream` only: run on a pseudo-terminal of this size (`TERM` is
    /// `xterm-256color`); stdout and stderr then arrive together as `stdout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<PtySize>,
    /// `exec.stream` only: how `stdout`/`stderr` chunks carry their bytes;
    /// `utf8` when absent (a character split between chunks is kept whole).
    #[serde(default, skip_serializing_if = "Encoding::is_utf8")]
    pub encoding: Encoding,
    /// `exec.stream` with `pty` only: a kept terminal's id (1 to 64 of
    /// `[A-Za-z0-9_-]`). The terminal outlives this subscription, a
    /// dropped connection and a daemon restart: a later `exec.stream` of the
    /// same user with the same id attaches to it (its `command` then runs
    /// nothing), gets its last 64 KiB of output first, then the live
    /// output. With no subscription for 5 minutes it is hung up. `command`
    /// may be empty here: the user's login shell. Agents older than this
    /// field run an ordinary terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
}

/// A terminal size, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PtySize {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// Result of `exec.run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    /// Exit code; 128+N when killed by signal N (as shells report it).
    pub exit_code: i32,
    /// Standard output, UTF-8 (invalid bytes replaced).
    pub stdout: String,
    /// Standard error, UTF-8 (invalid bytes replaced).
    pub stderr: String,
}

/// A notification of `exec.stream`: one `started`, then output chunks in
/// order, then exactly one `exit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ExecEvent {
    /// The process runs; `execId` names it in `exec.write`, `exec.closeStdin`,
    /// `exec.resize`, `exec.signal` and `exec.kill`. Always the first notification.
    #[serde(rename_all = "camelCase")]
    Started {
        /// The id (16 hex digits), valid until `exit`.
        exec_id: String,
    },
    /// A chunk of standard output.
    Stdout {
        /// The bytes, UTF-8 (invalid bytes replaced).
        data: String,
    },
    /// A chunk of standard error.
    Stderr {
        /// The bytes, UTF-8 (invalid bytes replaced).
        data: String,
    },
    /// The process ended; always the last notification.
    #[serde(rename_all = "camelCase")]
    Exit {
        /// Exit code; 128+N when killed by signal N.
        exit_code: i32,
    },
}

/// Parameters of `exec.write`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecWriteParams {
    /// The id from the `started` notification.
    pub exec_id: String,
    /// The bytes for the process's stdin (or the terminal), in `encoding`.
    pub data: String,
    /// How `data` is encoded; `utf8` when absent.
    #[serde(default)]
    pub encoding: Encoding,
}

/// Parameters of `exec.closeStdin` and `exec.kill`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecIdParams {
    /// The id from the `started` notification.
    pub exec_id: String,
}

/// Parameters of `exec.resize`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResizeParams {
    /// The id from the `started` notification (of an exec with `pty`).
    pub exec_id: String,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// Parameters of `exec.signal`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecSignalParams {
    /// The id from the `started` notification.
    pub exec_id: String,
    /// The signal's name without `SIG`, as SSH's "signal" request names it
    /// (RFC 4254 section 6.9): `HUP`, `INT`, `QUIT`, `KILL`, `TERM`, `USR1`,
    /// `USR2`, … (`SIGTERM` is accepted too).
    pub signal: String,
}

/// Parameters of `events.subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsParams {
    /// Only events of this workspace; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

/// A notification of `events.subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A create, start or remove step began.
    Progress {
        /// The workspace name.
        workspace: String,
        /// The step (`hook`: devcontainer.json lifecycle hooks, each output
        /// line a message).
        step: Step,
        /// What the step does, for people.
        message: String,
    },
    /// The workspace entered a state.
    State {
        /// The workspace name.
        workspace: String,
        /// The new state; `null` once removed.
        state: Option<WorkspaceState>,
    },
    /// A process in the container began listening on a TCP port, or the
    /// daemon opened a host forward to one (then `hostPort` is set).
    #[serde(rename_all = "camelCase")]
    PortOpened {
        /// The workspace name.
        workspace: String,
        /// The port: of the container itself, or (`host` set) of another
        /// host the container reaches.
        container_port: u16,
        /// The other host a forward leads to, as the container names it
        /// (`forwardPorts`' `"db:5432"`: `db`); absent for the container's own port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The host port on 127.0.0.1 of a forward.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_port: Option<u16>,
    },
    /// The listener on a container port went away, or a host forward closed
    /// (then `hostPort` is set).
    #[serde(rename_all = "camelCase")]
    PortClosed {
        /// The workspace name.
        workspace: String,
        /// The port: of the container itself, or (`host` set) of another
        /// host the container reaches.
        container_port: u16,
        /// The other host a forward leads to, as the container names it
        /// (`forwardPorts`' `"db:5432"`: `db`); absent for the container's own port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The host port on 127.0.0.1 of a forward.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_port: Option<u16>,
    },
}

impl Event {
    /// The workspace the event is about.
    pub fn workspace(&self) -> &str {
        match self {
            Event::Progress { workspace, .. }
            | Event::State { workspace, .. }
            | Event::PortOpened { workspace, .. }
            | Event::PortClosed { workspace, .. } => workspace,
        }
    }
}

/// Result of `daemon.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaemonInfo {
    /// The daemon's version (Cargo package version).
    pub version: String,
    /// The daemon's process id.
    pub pid: u32,
    /// The SSH port range, inclusive.
    pub port_range: (u16, u16),
    /// Single-user or team mode (absent from daemons before team mode: single).
    #[serde(default)]
    pub mode: crate::team::Mode,
    /// The newest API the daemon serves ([`API_VERSION`] of its build);
    /// absent from daemons before versioning: 1.
    #[serde(default = "first_api")]
    pub api_version: u32,
    /// The oldest API whose clients it still serves.
    #[serde(default = "first_api")]
    pub api_min: u32,
}

/// The API's version: raised whenever a method or a field a client may
/// rely on is added (1: the methods up to team mode; 2: `repository` URLs,
/// `daemon.info`'s API range). A client newer than its daemon says so
/// instead of failing on an unknown method.
pub const API_VERSION: u32 = 2;

/// The oldest API version a daemon of this build still serves.
pub const API_MIN: u32 = 1;

fn first_api() -> u32 {
    1
}

/// Largest JSON-RPC message, request or answer, in bytes; a larger request
/// gets `message_too_large` (code -32007).
pub const MAX_MESSAGE_BYTES: u32 = 16 * 1024 * 1024;

/// Largest `fs.readFile` answer, in bytes of file content: larger files are
/// read in chunks with `offset` and `length`.
pub const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;

/// How file content travels in `fs.readFile` and `fs.writeFile`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 text (reading replaces invalid bytes with U+FFFD).
    #[default]
    Utf8,
    /// Standard base64 (RFC 4648), for any bytes.
    Base64,
}

impl Encoding {
    /// Whether this is the default, `utf8`.
    pub fn is_utf8(&self) -> bool {
        *self == Encoding::Utf8
    }

    /// `bytes` in this encoding (`utf8` replaces invalid bytes with U+FFFD).
    pub fn encode(self, bytes: &[u8]) -> String {
        use base64::Engine;
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The bytes `text` carries in this encoding; `Err` says why base64 is bad.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, String> {
        use base64::Engine;
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|e| format!("not base64 (RFC 4648, with padding): {e}")),
        }
    }
}

/// Parameters naming a path in a workspace. `fs.*` paths are in the
/// container; a relative path is relative to the workspace folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathParams {
    /// The workspace name.
    pub workspace: String,
    /// The path.
    pub path: String,
}

/// Parameters of `fs.readFile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadFileParams {
    /// The workspace name.
    pub workspace: String,
    /// The file.
    pub path: String,
    /// How to return the content; `utf8` when absent.
    #[serde(default)]
    pub encoding: Encoding,
    /// Byte offset to start at; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Bytes to read at most; the rest of the file (up to [`MAX_READ_BYTES`]) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// What `GET /fs/read` ([`crate::methods::HTTP_FS_READ`]) reads: its query
/// parameters, with the names of [`ReadFileParams`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadBytesParams {
    /// The workspace name.
    pub workspace: String,
    /// The file; relative to the workspace folder unless absolute.
    pub path: String,
    /// Byte offset to start at; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Bytes to read at most; the rest of the file when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

impl ReadBytesParams {
    /// The query string (`workspace=…&path=…[&offset=…][&length=…]`), percent-encoded.
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("workspace", &self.workspace);
        q.append_pair("path", &self.path);
        if let Some(o) = self.offset {
            q.append_pair("offset", &o.to_string());
        }
        if let Some(n) = self.length {
            q.append_pair("length", &n.to_string());
        }
        q.finish()
    }

    /// Parses a query string made by [`ReadBytesParams::to_query`] (or any
    /// client); `Err` says which parameter is missing or not a number.
    pub fn from_query(query: &str) -> Result<ReadBytesParams, String> {
        let mut p = ReadBytesParams::default();
        let (mut workspace, mut path) = (false, false);
        let number = |name: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name} must be a byte count (a non-negative integer), not {v:?}"))
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "workspace" => (p.workspace, workspace) = (v.into_owned(), true),
                "path" => (p.path, path) = (v.into_owned(), true),
                "offset" => p.offset = Some(number("offset", &v)?),
                "length" => p.length = Some(number("length", &v)?),
                other => {
                    return Err(format!(
                        "unknown query parameter {other:?} (known: workspace, path, offset, length)"
                    ));
                }
            }
        }
        match (workspace, path) {
            (true, true) => Ok(p),
            (false, _) => Err("the query parameter workspace is missing".into()),
            (_, false) => Err("the query parameter path is missing".into()),
        }
    }
}

/// Result of `fs.readFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadFileResult {
    /// The bytes read, in `encoding`.
    pub content: String,
    /// The encoding of `content`.
    pub encoding: Encoding,
    /// The file's whole size, in bytes.
    pub size: u64,
    /// Whether the read reached the end of the file.
    pub eof: bool,
}

/// Parameters of `fs.writeFile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteFileParams {
    /// The workspace name.
    pub workspace: String,
    /// The file; created (mode 0644 before umask) when missing.
    pub path: String,
    /// The bytes, in `encoding`.
    pub content: String,
    /// How `content` is encoded; `utf8` when absent.
    #[serde(default)]
    pub encoding: Encoding,
    /// Write at this byte offset without truncating (for chunked writes);
    /// when absent the file is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Append to the end instead of replacing.
    #[serde(default)]
    pub append: bool,
}

/// Parameters of `fs.mkdir`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MkdirParams {
    /// The workspace name.
    pub workspace: String,
    /// The directory.
    pub path: String,
    /// Make missing parents too, and accept an existing directory.
    #[serde(default)]
    pub recursive: bool,
}

/// Parameters of `fs.rm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RmParams {
    /// The workspace name.
    pub workspace: String,
    /// The file or directory.
    pub path: String,
    /// Remove a directory with everything in it.
    #[serde(default)]
    pub recursive: bool,
    /// A missing path is no error.
    #[serde(default)]
    pub force: bool,
}

/// Parameters of `fs.rename`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameParams {
    /// The workspace name.
    pub workspace: String,
    /// The current path.
    pub from: String,
    /// The new path; must not exist.
    pub to: String,
}

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (as `lstat` sees it).
    Symlink,
    /// Anything else (socket, device, fifo).
    Other,
}

/// A file's metadata, as `fs.stat` and `fs.readdir` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileStat {
    /// The file name (last path component).
    pub name: String,
    /// Its kind (`fs.stat` follows symlinks; `fs.readdir` does not).
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Last modification, seconds since the Unix epoch.
    pub mtime: u64,
}

/// Parameters of `ports.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortsParams {
    /// The workspace name.
    pub workspace: String,
}

/// A built-in workspace template (`template.list`): a devcontainer.json
/// and the Dockerfile of its image, embedded in the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// Its name, for `workspace.create`'s `template`.
    pub name: String,
    /// One line on what it holds.
    pub description: String,
    /// The image it runs (built by the daemon when missing).
    pub image: String,
    /// Its devcontainer.json, as written.
    pub devcontainer_json: String,
}

/// A TCP port of a workspace: listening in the container, forwarded to the
/// host, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortInfo {
    /// The port: of the container itself, or (`host` set) of another host
    /// the container reaches.
    pub container_port: u16,
    /// The other host the port is on, as the container names it (a compose
    /// service: `forwardPorts`' `"db:5432"` gives `db`); absent for the
    /// container's own ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Whether a process in the container listens on it now (always false
    /// for another host's port: that is not known).
    pub listening: bool,
    /// The host port on 127.0.0.1 that forwards to it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// Whether devcontainer.json declares it (`forwardPorts`, `appPort`);
    /// declared ports are forwarded while the workspace runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declared: bool,
    /// devcontainer.json `portsAttributes` `label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// devcontainer.json `portsAttributes` `protocol` (`http` or `https`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Parameters of `ports.forward`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardParams {
    /// The workspace name.
    pub workspace: String,
    /// The port to reach: of the container itself, or (`host` set) of
    /// another host the container reaches.
    pub container_port: u16,
    /// Another host the container reaches (a compose service's name, an
    /// address); absent for the container itself. The daemon's connections
    /// go to it from inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Parameters of `ports.unforward`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnforwardParams {
    /// The workspace name.
    pub workspace: String,
    /// The host port `ports.forward` returned.
    pub host_port: u16,
}

/// Parameters of `fs.watch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchParams {
    /// The workspace name.
    pub workspace: String,
    /// The file or directory to watch (in the container; relative to the
    /// workspace folder).
    pub path: String,
    /// Watch every directory below `path` too, including ones made later.
    #[serde(default)]
    pub recursive: bool,
}

/// A notification of `fs.watch` (from inotify in the agent). The
/// subscription ends when unsubscribed or when the workspace stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum FsEvent {
    /// The watches are in place: changes from now on are reported. Always
    /// the first notification.
    Ready,
    /// A file or directory appeared (made, or moved in).
    Create {
        /// Its absolute path in the container.
        path: String,
    },
    /// A file's content changed (written and closed, or truncated).
    Modify {
        /// Its absolute path in the container.
        path: String,
    },
    /// A file or directory disappeared (removed, or moved out).
    Delete {
        /// Its absolute path in the container.
        path: String,
    },
    /// The watch ended (the watched path was removed, or the workspace
    /// stopped); always the last notification.
    End {
        /// Why, for people.
        reason: String,
    },
}

/// Parameters of `tunnel.open`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelParams {
    /// The workspace name.
    pub workspace: String,
    /// The TCP port on the container's loopback to reach; the workspace's
    /// SSH server when absent (what `nexus workspace ssh --stdio` uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// A notification of `tunnel.open`: one `opened`, then `data` in order,
/// then exactly one `closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TunnelEvent {
    /// The connection is made; `tunnelId` names it in `tunnel.write` and
    /// `tunnel.close`.
    #[serde(rename_all = "camelCase")]
    Opened {
        /// The id (16 hex digits), valid until `closed`.
        tunnel_id: String,
    },
    /// Bytes from the remote end.
    Data {
        /// The bytes, standard base64 (RFC 4648).
        data: String,
    },
    /// The remote end closed the connection; always the last notification.
    Closed,
}

/// Parameters of `tunnel.write`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelWriteParams {
    /// The id from the `opened` notification.
    pub tunnel_id: String,
    /// The bytes, standard base64 (RFC 4648).
    pub data: String,
}

/// Parameters of `tunnel.close`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TunnelIdParams {
    /// The id from the `opened` notification.
    pub tunnel_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_event_wire_shape() {
        let json = serde_json::to_value(ExecEvent::Exit { exit_code: 3 }).expect("serialize");
        assert_eq!(json, serde_json::json!({"type": "exit", "exitCode": 3}));
        let json = serde_json::to_value(ExecEvent::Stdout { data: "hi".into() }).expect("serialize");
        assert_eq!(json, serde_json::json!({"type": "stdout", "data": "hi"}));
    }

    #[test]
    fn create_params_defaults() {
        let p: CreateParams =
            serde_json::from_value(serde_json::json!({"name": "a", "repository": "/r"})).expect("parse");
        assert_eq!(p.from, None);
        assert!(p.authorized_keys.is_empty());
    }

    #[test]
    fn read_bytes_query_round_trips_and_names_what_is_wrong() {
        let p = ReadBytesParams {
            workspace: "feat-x".into(),
            path: "a b/&c=d%.txt".into(),
            offset: Some(7),
            length: None,
        };
        let q = p.to_query();
        assert_eq!(q, "workspace=feat-x&path=a+b%2F%26c%3Dd%25.txt&offset=7");
        assert_eq!(ReadBytesParams::from_query(&q), Ok(p));
        let err = |q: &str| ReadBytesParams::from_query(q).expect_err(q);
        assert!(err("path=x").contains("workspace"));
        assert!(err("workspace=w").contains("path"));
        assert!(err("workspace=w&path=x&length=ten").contains("length"));
        assert!(err("workspace=w&path=x&encoding=utf8").contains("encoding"));
    }
}

/// Parameters of `image.prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePruneParams {
    /// Every image Nexus built that no container uses and no workspace
    /// names, not only the old ones (default false).
    #[serde(default)]
    pub all: bool,
    /// Say what would be removed, and remove nothing (default false).
    #[serde(default)]
    pub dry_run: bool,
}

/// Why `image.prune` removes an image. Only images Nexus built (labelled
/// `dev.nexus.build` or `dev.nexus.template`) that no container uses and no
/// workspace names are ever candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PruneReason {
    /// A template image that a newer build of its tag replaced.
    Replaced,
    /// A devcontainer.json image whose repository is gone from disk.
    RepositoryGone,
    /// Older than the newest images its repository keeps (`nexusd --keep-images`).
    Old,
    /// Unused, and `all` was asked.
    Unused,
}

/// One image `image.prune` removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrunedImage {
    /// Its id (`sha256:…`).
    pub id: String,
    /// Its tags (none for a replaced one).
    pub tags: Vec<String>,
    /// Its size, in bytes.
    pub size_bytes: u64,
    /// Why it goes.
    pub reason: PruneReason,
}

/// Result of `image.prune`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePruneResult {
    /// The images removed (in a dry run: that would be).
    pub images: Vec<PrunedImage>,
    /// Their sizes added up, in bytes (layers shared with kept images count
    /// too, so the disk may gain less).
    pub reclaimed_bytes: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}
