//! The command line: clap's types for every command, flag and argument.
//! `commands.rs` dispatches them.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `nexus workspace …`
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace: worktree .worktree/NAME on branch nexus/NAME, in a container.
    Create(CreateArgs),
    /// List workspaces.
    #[command(alias = "ls")]
    List(JsonArgs),
    /// Show one workspace.
    Show(NameJsonArgs),
    /// Open a login shell in the workspace, or run `-- CMD ARGS` there (over ssh).
    Ssh(SshArgs),
    /// Run `-- CMD ARGS` in the workspace through the daemon; prints its output, exits with its code.
    Exec(ExecArgs),
    /// Forward 127.0.0.1:LOCAL to port REMOTE in the workspace, through the daemon's API (until Ctrl-C).
    PortForward(PortForwardArgs),
    /// List the workspace's ports: listening, forwarded (host port), declared
    /// by devcontainer.json (forwardPorts, appPort) with their portsAttributes.
    Ports(NameJsonArgs),
    /// Start a stopped workspace (same container, same ports).
    Start(NameArg),
    /// Stop a workspace's container; files in it are kept.
    Stop(NameArg),
    /// Set when the workspace pauses and stops once idle, from now on
    /// (neither flag: it never sleeps); plain ssh or an exec wakes it.
    Idle(IdleArgs),
    /// Build the workspace's image again, without caches, from devcontainer.json at the tip of its
    /// branch (commit changes first), and replace its container; worktree, branch and ports stay.
    Rebuild(NameArg),
    /// Record, list or remove git checkpoints of the worktree (HEAD, index and every file).
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Bring the worktree back to a checkpoint (HEAD, index and files); the state it
    /// replaces is checkpointed first, so the restore can be undone.
    Restore(CheckpointArgs),
    /// Make a new workspace from a checkpoint of another, uncommitted changes included
    /// (SOURCE@CHECKPOINT; SOURCE alone checkpoints its state now): its own branch
    /// nexus/NEW, container and port, with the source's image and devcontainer.json.
    Fork(ForkArgs),
    /// Print the container's log.
    Logs(LogsArgs),
    /// Remove a workspace: container, worktree, ports and record (the branch stays).
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Team mode: share a workspace with a person as viewer, editor or owner.
    Share(crate::team::ShareArgs),
    /// Team mode: end a person's share.
    Unshare(crate::team::UnshareArgs),
    /// Team mode: a workspace's shares.
    Shares(NameJsonArgs),
    /// Team mode: end your own share of a workspace.
    Leave(NameArg),
    /// Team mode: who is connected over SSH, with which key, since when.
    Sessions(NameJsonArgs),
    /// Team mode: redeem a share code (`workspace share WS --code`).
    Accept(crate::team::AcceptArgs),
    /// Team mode: make another person the workspace's creator.
    Transfer(crate::team::UnshareArgs),
    /// Team mode, site and org admins: a time-limited shell with a reason,
    /// recorded in the audit log and shown to the owner.
    BreakGlass(crate::team::BreakGlassArgs),
}

/// Flags of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Workspace name: lowercase letters, digits and hyphens.
    pub name: String,
    /// Commit-ish the branch starts from [default: HEAD].
    #[arg(long)]
    pub from: Option<String>,
    /// Image to run instead of the one devcontainer.json or the default template gives.
    #[arg(long)]
    pub image: Option<String>,
    /// devcontainer.json to use, relative to the repository root
    /// (default: .devcontainer/devcontainer.json, then .devcontainer.json).
    #[arg(long, value_name = "PATH", conflicts_with = "template")]
    pub config: Option<String>,
    /// A built-in template to use instead of the repository's
    /// devcontainer.json (`nexus template list`).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Public key to authorize [default: every ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Repository directory [default: the current directory], or a git URL
    /// (https://, ssh://, git://, file://, user@host:path): the daemon then
    /// keeps a mirror of it and `git push` in the workspace goes back to it.
    #[arg(long, short = 'C', value_name = "DIR|URL")]
    pub repo: Option<String>,
    /// Pause it (docker pause) after this long idle: 90s, 10m, 2h (a bare
    /// number is minutes) [default: the daemon's --idle-pause]. It wakes
    /// when someone connects with ssh, or at an exec.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    pub idle_pause: Option<u64>,
    /// Stop it after this long idle [default: the daemon's --idle-stop];
    /// it wakes the same way, in about a second.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    pub idle_stop: Option<u64>,
    /// Docker inside the workspace: `proxy` (a socket to the host's engine
    /// that shows and allows only the workspace's own containers, and no
    /// privileged ones: safe for agents) or `dind` (a privileged Docker of
    /// its own, for trusted users; the image needs dockerd) [default:
    /// devcontainer.json's customizations.nexus.docker, else none].
    #[arg(long, value_name = "MODE", value_parser = nexus_sdk::DockerMode::parse)]
    pub docker: Option<nexus_sdk::DockerMode>,
    /// Print the workspace as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A `--json` flag.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A name and `--json`.
#[derive(Debug, Args)]
pub struct NameJsonArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
}

/// Flags of `workspace idle`.
#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Pause it (docker pause) after this long idle: 90s, 10m, 2h (a bare number is minutes).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    pub pause: Option<u64>,
    /// Stop it after this long idle.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    pub stop: Option<u64>,
    /// Print the workspace as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Private key to use [default: ssh's own choice, plus keys beside ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Connect stdin and stdout to the workspace's SSH server through the
    /// daemon's API, for ssh's `ProxyCommand` (what `ssh-config --remote` writes).
    #[arg(long)]
    pub stdio: bool,
    /// Command to run instead of a login shell (joined with spaces, as ssh does).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Flags of `port-forward`.
#[derive(Debug, Args)]
pub struct PortForwardArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// LOCAL:REMOTE, e.g. 8080:3000 (LOCAL 0 picks a free port).
    pub ports: String,
}

/// `nexus context …`
#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Name a daemon: `nexus context add NAME ADDRESS --token TOKEN`
    /// (ADDRESS: host:port, ws://host:port or wss://host[:port]).
    Add(ContextAddArgs),
    /// Make NAME the current context (`local`: this machine's daemon).
    Use(ContextNameArg),
    /// List contexts; `*` marks the current one.
    #[command(alias = "ls")]
    List,
    /// Forget a context.
    #[command(alias = "remove")]
    Rm(ContextNameArg),
}

/// Flags of `context add`.
#[derive(Debug, Args)]
pub struct ContextAddArgs {
    /// The context's name.
    pub name: String,
    /// The daemon's address.
    pub address: String,
}

/// A context name.
#[derive(Debug, Args)]
pub struct ContextNameArg {
    /// The context's name.
    pub name: String,
}

/// Flags of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Working directory in the container [default: the workspace folder].
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    /// KEY=VALUE to add to the environment (repeatable).
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// The user to run as [default: the workspace's remoteUser].
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Pass this process's standard input to the command (as `docker exec -i`).
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Program and arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Flags of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Keep printing new output.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Flags of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Remove even with uncommitted changes or commits on no other branch.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Also delete the branch nexus/NAME.
    #[arg(long)]
    pub delete_branch: bool,
}

/// `nexus daemon …`
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Print the daemon's version, pid and port range (starting it if needed).
    Info(JsonArgs),
}

/// Flags of `nexus shadow`.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    /// The shadow workspace's name.
    pub name: String,
    /// The source: a workspace, or `.` (this checkout; the default) or another checkout's path.
    #[arg(long, value_name = "WS|.")]
    pub from: Option<String>,
    /// Image of the shadow when the source is a checkout.
    #[arg(long)]
    pub image: Option<String>,
    /// The agent's command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Flags of `nexus hydrate`.
#[derive(Debug, Args)]
pub struct HydrateArgs {
    /// The shadow run.
    pub name: String,
    /// Also stage the changed files in the source.
    #[arg(long)]
    pub stage: bool,
    /// Also commit them in the source.
    #[arg(long, conflicts_with = "stage")]
    pub commit: bool,
    /// Apply what does not apply cleanly with conflict markers.
    #[arg(long = "3way")]
    pub three_way: bool,
}

/// Flags of `nexus discard`.
#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The shadow run.
    pub name: String,
}

/// Flags of `nexus enforce`.
#[derive(Debug, Args)]
pub struct EnforceArgs {
    /// The worktree to check [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print `{"passed": bool, "checks": [...]}`.
    #[arg(long)]
    pub json: bool,
    /// Answer an agent's stop hook: read its JSON on stdin, print its decision.
    #[arg(long, value_name = "TOOL", value_parser = ["claude", "cursor"])]
    pub hook: Option<String>,
}

/// Flags of `nexus dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Print the link only; do not open a browser.
    #[arg(long)]
    pub no_open: bool,
}

/// Flags of `nexus mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Pin every tool to this workspace: no tool takes a workspace, none
    /// creates, lists or removes one, and paths stay in its folder.
    #[arg(long, value_name = "WS")]
    pub workspace: Option<String>,
    /// The model the agent runs (models.dev id, e.g.
    /// anthropic/claude-sonnet-4-5): the Agent Trace records name it for
    /// the lines this client's tools write.
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Where the agent's conversation can be read, for the Agent Trace records.
    #[arg(long, value_name = "URL")]
    pub conversation_url: Option<String>,
}

/// `nexus template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the built-in templates: name, image, description.
    List(JsonArgs),
}

/// `nexus image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Remove images Nexus built that no workspace uses: replaced template
    /// images, those of repositories gone from disk, and all but the newest
    /// few of each repository (`nexusd --keep-images`). Never an image
    /// Nexus did not build.
    Prune(PruneArgs),
}

/// Flags of `image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Every unused image Nexus built, the newest and the templates' too.
    #[arg(long)]
    pub all: bool,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Flags of `ssh-config`.
#[derive(Debug, Args)]
pub struct SshConfigArgs {
    /// Private key to name as IdentityFile [default: keys beside ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Reach workspaces through the daemon's API (`ProxyCommand nexus
    /// workspace ssh --stdio`) instead of their ports; the default when the
    /// daemon is not on this machine.
    #[arg(long)]
    pub remote: bool,
}

/// `nexus workspace checkpoint …`
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Record the worktree exactly (HEAD, the index, modified, deleted and untracked
    /// files; not ignored ones) on a hidden ref; the worktree, index and branch stay untouched.
    Create(CheckpointCreateArgs),
    /// List the workspace's checkpoints, oldest first.
    #[command(alias = "ls")]
    List(NameJsonArgs),
    /// Remove a checkpoint and its ref.
    #[command(alias = "remove")]
    Rm(CheckpointArgs),
}

/// Flags of `checkpoint create`.
#[derive(Debug, Args)]
pub struct CheckpointCreateArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Checkpoint name: letters, digits, '.', '_' and '-' [default: its number].
    pub checkpoint: Option<String>,
    /// Also record the container's own files (packages installed in it) as an image
    /// (docker commit); a restore or a fork then runs from it.
    #[arg(long)]
    pub full: bool,
    /// Print the checkpoint as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A workspace and one of its checkpoints.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Workspace name.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::connect::workspace_names))]
    pub name: String,
    /// Checkpoint name (`nexus workspace checkpoint list NAME`).
    pub checkpoint: String,
}

/// Flags of `fork`.
#[derive(Debug, Args)]
pub struct ForkArgs {
    /// The workspace to fork, and optionally the checkpoint: SOURCE[@CHECKPOINT].
    pub source: String,
    /// The new workspace's name.
    pub name: String,
    /// Public key to authorize [default: every ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Print the new workspace as one JSON object.
    #[arg(long)]
    pub json: bool,
}
