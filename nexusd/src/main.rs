//! `nexusd`: parses flags, sets up logging to stderr, binds the listener and
//! calls [`nexusd::serve`] until SIGINT or SIGTERM.

use clap::Parser;
use std::path::PathBuf;

/// The Nexus daemon: workspaces, state and the JSON-RPC API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the JSON-RPC endpoint (HTTP and WebSocket) [default:
    /// 127.0.0.1:7737, else any free port of 127.0.0.1 when that is taken;
    /// the address is written to DATA_DIR/address for `nexus` to find].
    #[arg(long, env = "NEXUS_HOST")]
    listen: Option<String>,
    /// State directory (database, token, keys) [default: $XDG_DATA_HOME/nexus].
    #[arg(long, env = "NEXUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SSH host port range, inclusive, as FIRST-LAST.
    #[arg(long, default_value = "32800-34999", value_parser = parse_range)]
    port_range: (u16, u16),
    /// Unused images built from each repository's devcontainer.json kept by
    /// the image pass after each remove and rebuild, newest first.
    #[arg(long, default_value_t = 3)]
    keep_images: usize,
    /// Seconds of client silence after which a new workspace's SSH server
    /// asks the client for an answer; 3 unanswered asks drop the connection
    /// (OpenSSH's ClientAliveInterval).
    #[arg(long, env = "NEXUS_CLIENT_ALIVE_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    client_alive_interval: u64,
    /// Team mode: days the audit log keeps its rows (older ones are pruned
    /// at start-up and daily; the chain stays verifiable); 0 keeps all.
    #[arg(long, env = "NEXUS_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    audit_retention_days: u32,
    /// Pause new workspaces after this long idle (90s, 10m, 2h; a bare
    /// number is minutes), unless their create says otherwise.
    #[arg(long, env = "NEXUS_IDLE_PAUSE", value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    idle_pause: Option<u64>,
    /// Stop new workspaces after this long idle; they wake on `ssh`.
    #[arg(long, env = "NEXUS_IDLE_STOP", value_name = "TIME", allow_hyphen_values = true, value_parser = nexus_sdk::IdleSettings::parse_duration)]
    idle_stop: Option<u64>,
    /// Run as the SSH relay of the data directory (started by the daemon).
    #[arg(long, hide = true)]
    relay: bool,
    /// Check that this nexusd can run here (its agent binary is found and
    /// statically linked), print its version and exit: `nexus update`
    /// test-launches a new release with it before switching.
    #[arg(long)]
    self_check: bool,
    /// Image of workspaces created without --image.
    #[arg(long, env = "NEXUS_DEFAULT_IMAGE", default_value = nexusd::config::DEFAULT_IMAGE)]
    default_image: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Administration of the data directory (the daemon stopped).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Turn this daemon into team mode: accounts, sharing, the audit log.
    /// Makes the first site admin, who gets every existing workspace and the
    /// single-user token (as API token `legacy`). Run it while the daemon is
    /// stopped; people then sign in with `nexus auth login`.
    Init {
        /// The first site admin's name: 2 to 32 of a-z, 0-9 and -.
        #[arg(long)]
        admin: String,
        /// The admin's SSH public key file (e.g. ~/.ssh/id_ed25519.pub); repeatable.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
    },
}

/// Tells the daemon that started the relay that it listens (one line on
/// standard output), then points standard output at `/dev/null`: the
/// daemon's pipe must not keep the relay from writing once it is gone.
fn relay_ready() -> std::io::Result<()> {
    use std::io::Write;
    println!("ready");
    std::io::stdout().flush()?;
    let devnull = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    // SAFETY: dup2 onto our own standard output; no memory is passed.
    if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&devnull), 1) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or("expected FIRST-LAST, e.g. 32800-34999")?;
    let a: u16 = a.trim().parse().map_err(|_| format!("{a:?} is no port (1024-65535)"))?;
    let b: u16 = b.trim().parse().map_err(|_| format!("{b:?} is no port (1024-65535)"))?;
    nexusd::config::check_port_range((a, b)).map_err(|e| e.to_string())?;
    Ok((a, b))
}

/// Binds the API listener: `listen` when given, else
/// [`nexus_sdk::local::DEFAULT_ADDRESS`], else (that taken, by another
/// user's daemon say) a free port of 127.0.0.1 the kernel picks outside the
/// SSH port range `range`.
fn bind(listen: Option<&str>, range: (u16, u16)) -> anyhow::Result<std::net::TcpListener> {
    if let Some(listen) = listen {
        let listen = listen.trim_start_matches("ws://");
        return std::net::TcpListener::bind(listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}: choose another address with --listen"));
    }
    let default = nexus_sdk::local::DEFAULT_ADDRESS;
    match std::net::TcpListener::bind(default) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            // the kernel's pick comes from the ephemeral range, which the SSH range may share
            let mut held = Vec::new();
            for _ in 0..64 {
                let l = std::net::TcpListener::bind("127.0.0.1:0")
                    .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1: {e}"))?;
                let port = l.local_addr()?.port();
                if (range.0..=range.1).contains(&port) {
                    held.push(l);
                    continue;
                }
                tracing::info!(
                    "{default} is taken (another user's nexusd?): listening on 127.0.0.1:{port} instead; `nexus` finds it in {}",
                    nexus_sdk::local::address_path().display()
                );
                return Ok(l);
            }
            Err(anyhow::anyhow!(
                "{default} is taken and no free port of 127.0.0.1 outside the SSH port range {}-{} was found: give one with --listen",
                range.0,
                range.1
            ))
        }
        Err(e) => Err(anyhow::anyhow!("cannot listen on {default}: {e}")),
    }
}

/// Runs the daemon; a failure is one line on stderr (`Error: …`, the last
/// line of the log, which `nexus` shows when the daemon it started exits)
/// and exit status 1.
fn main() -> std::process::ExitCode {
    // glibc raises its mmap threshold past every large block freed, after
    // which blocks of a few MiB (each create's agent archive) come from the
    // heap and stay with the process; a fixed threshold hands them back
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,russh=warn,jsonrpsee=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = nexusd::DaemonConfig::local();
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if args.relay {
        return nexusd::relay::serve(&config.data_dir, relay_ready).await;
    }
    if args.self_check {
        let agent = nexusd::config::find_agent_binary();
        if !nexusd::config::is_static_elf(&agent) {
            anyhow::bail!(
                "self-check: the agent binary {} is missing or not statically linked",
                agent.display()
            );
        }
        println!("nexusd {}: ok (agent {})", env!("CARGO_PKG_VERSION"), agent.display());
        return Ok(());
    }
    if let Some(Command::Admin(AdminCommand::Init { admin, keys })) = args.command {
        let mut lines = Vec::new();
        for path in &keys {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--key {}: cannot read it: {e}", path.display()))?;
            lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
        }
        return match nexusd::server::admin_init(&config.data_dir, &admin, &lines) {
            Ok(()) => {
                println!(
                    "team mode is on for {}: {admin} is site admin and creator of every existing workspace.\n\
                     Start nexusd, then sign in with `nexus auth login` (your SSH key through ssh-agent).",
                    config.data_dir.display()
                );
                Ok(())
            }
            Err(e @ nexusd::server::ServeError::Busy { .. }) => Err(anyhow::anyhow!(
                "{e}: stop it first, then run `nexusd admin init` again"
            )),
            Err(e) => Err(e.into()),
        };
    }
    config.port_range = args.port_range;
    config.default_image = args.default_image;
    config.keep_images = args.keep_images;
    config.client_alive_interval = args.client_alive_interval;
    config.audit_retention_days = args.audit_retention_days;
    config.idle_pause_secs = args.idle_pause;
    config.idle_stop_secs = args.idle_stop;
    config.relay_program = Some(std::env::current_exe()?);
    let mut claim = nexusd::server::claim_data_dir(&config.data_dir)?;
    let listener = bind(args.listen.as_deref(), config.port_range)?;
    let address = listener.local_addr()?;
    if (config.port_range.0..=config.port_range.1).contains(&address.port()) {
        anyhow::bail!(
            "the API port {} lies in the SSH port range {}-{}: choose another --listen or --port-range",
            address.port(),
            config.port_range.0,
            config.port_range.1
        );
    }
    if let Some(warning) = nexusd::config::ephemeral_overlap(config.port_range) {
        tracing::warn!("{warning}");
    }
    claim.publish(address)?;
    let shutdown = async {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    nexusd::serve(config, listener, shutdown).await?;
    drop(claim);
    Ok(())
}
