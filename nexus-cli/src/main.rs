//! `nexus`: the command-line client of the Nexus daemon. It talks only to the
//! daemon (through `nexus_sdk::client`), starting a local one when none answers.

mod args;
mod commands;
mod connect;
mod context;
mod enforce;
mod exit;
mod hostgit;
mod mcp;
mod output;
mod shadow;
mod ssh;
mod streams;
mod team;
mod trace;
mod update;
mod update_cmd;

use clap::{Parser, Subcommand};

/// Isolated development workspaces: a git worktree in a container you can ssh into.
#[derive(Debug, Parser)]
#[command(name = "nexus", version)]
struct Cli {
    /// Daemon address (host:port or ws:// URL).
    #[arg(long, global = true, env = "NEXUS_HOST")]
    host: Option<String>,
    /// Bearer token [default: the local daemon's token file].
    #[arg(long, global = true, env = "NEXUS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The context (daemon) to use [default: the current one, see `nexus context`].
    #[arg(long, global = true, env = "NEXUS_CONTEXT")]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// Prints the script that registers `nexus`'s completions with `shell`:
/// the shell then asks `nexus` itself at each TAB (`COMPLETE=<shell>`),
/// so workspace names come from the daemon.
fn completion_script(shell: clap_complete::Shell) -> std::process::ExitCode {
    let exe = std::env::current_exe().unwrap_or_else(|_| "nexus".into());
    match std::process::Command::new(&exe)
        .env("COMPLETE", shell.to_string())
        .stdin(std::process::Stdio::null())
        .status()
    {
        Ok(s) if s.success() => std::process::ExitCode::SUCCESS,
        Ok(_) | Err(_) => {
            eprintln!("error: cannot write the {shell} completion script");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, use and remove workspaces.
    #[command(subcommand, alias = "ws")]
    Workspace(args::WorkspaceCommand),
    /// About the daemon.
    #[command(subcommand)]
    Daemon(args::DaemonCommand),
    /// The built-in templates (`workspace create --template NAME`).
    #[command(subcommand)]
    Template(args::TemplateCommand),
    /// Write `Host nexus-<name>` blocks and known_hosts for every workspace,
    /// included once from ~/.ssh/config.
    SshConfig(args::SshConfigArgs),
    /// Name daemons (address and token) and pick the one to use.
    #[command(subcommand)]
    Context(args::ContextCommand),
    /// The images Nexus built.
    #[command(subcommand)]
    Image(args::ImageCommand),
    /// Sign in to a team-mode daemon, out, and who you are there.
    #[command(subcommand)]
    Auth(team::AuthCommand),
    /// People of a team-mode daemon and their SSH keys.
    #[command(subcommand)]
    User(team::UserCommand),
    /// API tokens of a team-mode daemon.
    #[command(subcommand)]
    Token(team::TokenCommand),
    /// Organizations of a team-mode daemon: members, invitations, sharing policy.
    #[command(subcommand)]
    Org(team::OrgCommand),
    /// Teams of an organization (share with one as `@TEAM`).
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// The audit log of a team-mode daemon (site admins).
    #[command(subcommand)]
    Audit(team::AuditCommand),
    /// A sandboxed run: workspace NAME from a snapshot of WS (or this
    /// checkout), uncommitted changes included; runs `-- AGENT ARGS` in it
    /// and prints what it changed.
    Shadow(args::ShadowArgs),
    /// Bring a shadow run's changes into its source, only if they apply
    /// cleanly (after a checkpoint of the source, to undo).
    Hydrate(args::HydrateArgs),
    /// Remove a shadow run: its workspace, branch and record.
    Discard(args::DiscardArgs),
    /// Run the checks the repository asks of finished work
    /// (.nexus/enforce.toml); `--hook claude|cursor` answers an agent's stop
    /// hook (docs/enforce.md).
    Enforce(args::EnforceArgs),
    /// Agent Trace records of this repository's commits (docs/trace.md):
    /// who wrote which lines, a person or which model.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// A Model Context Protocol server on stdin/stdout for AI agents
    /// (docs/mcp.md); `--workspace WS` pins every tool to one workspace.
    Mcp(args::McpArgs),
    /// Print (and open, where a browser is available) a one-time sign-in
    /// link of the daemon's web dashboard; it works once, for 60 s.
    Dashboard(args::DashboardArgs),
    /// Signed self-update of nexus, nexusd and the agent: check, install,
    /// rollback, status, notes.
    #[command(subcommand)]
    Update(update_cmd::UpdateCommand),
    /// Print a completion script for a shell (workspace names from the
    /// daemon too), e.g. `source <(nexus completion bash)`.
    Completion(args::CompletionArgs),
}

fn main() -> std::process::ExitCode {
    // a shell asking for completions (COMPLETE=<shell>): answered here, then exit
    {
        use clap::CommandFactory;
        clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    }
    let cli = Cli::parse();
    if let Command::Completion(a) = &cli.command {
        return completion_script(a.shell);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Command::Update(u) = cli.command {
        return exit::code(runtime.block_on(update_cmd::run(u)));
    }
    if let Command::Enforce(a) = cli.command {
        return match runtime.block_on(enforce::command(a)) {
            Ok(code) => exit::code(code),
            Err(e) => {
                eprintln!("error: {e:#}");
                exit::code(1)
            }
        };
    }
    if let Command::Trace(c) = cli.command {
        return match trace::command(c) {
            Ok(code) => exit::code(code),
            Err(e) => {
                eprintln!("error: {e:#}");
                exit::code(1)
            }
        };
    }
    let target = connect::Target {
        host: cli.host,
        token: cli.token,
        context: cli.context,
    };
    let result = runtime.block_on(commands::run(cli.command, target));
    // after the command's own work: a notice from the last check, and a daily check in the background
    update::notice::after_command(&std::env::args().collect::<Vec<_>>());
    match result {
        Ok(code) => exit::code(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code(exit::for_error(&e))
        }
    }
}
