//! `nexus`: the command-line client of the Nexus daemon. It talks only to the
//! daemon (through `nexus_sdk::client`), starting a local one when none answers.

mod args;
mod commands;
mod connect;
mod context;
mod exit;
mod output;
mod ssh;
mod streams;

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
    /// Print a completion script for a shell, e.g. `source <(nexus completion bash)`.
    Completion(args::CompletionArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Completion(a) = &cli.command {
        use clap::CommandFactory;
        clap_complete::generate(a.shell, &mut Cli::command(), "nexus", &mut std::io::stdout());
        return std::process::ExitCode::SUCCESS;
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
    let target = connect::Target {
        host: cli.host,
        token: cli.token,
        context: cli.context,
    };
    let result = runtime.block_on(commands::run(cli.command, target));
    match result {
        Ok(code) => exit::code(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code(exit::for_error(&e))
        }
    }
}
