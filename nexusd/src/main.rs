//! `nexusd`: parses flags, sets up logging to stderr, binds the listener and
//! calls [`nexusd::serve`] until SIGINT or SIGTERM.

use clap::Parser;
use std::path::PathBuf;

/// The Nexus daemon: workspaces, state and the JSON-RPC API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the JSON-RPC endpoint (HTTP and WebSocket).
    #[arg(long, env = "NEXUS_HOST", default_value = nexus_sdk::local::DEFAULT_ADDRESS)]
    listen: String,
    /// State directory (database, token, keys) [default: $XDG_DATA_HOME/nexus].
    #[arg(long, env = "NEXUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SSH host port range, inclusive, as FIRST-LAST.
    #[arg(long, default_value = "32800-34999", value_parser = parse_range)]
    port_range: (u16, u16),
    /// Image of workspaces created without --image.
    #[arg(long, env = "NEXUS_DEFAULT_IMAGE", default_value = nexusd::config::DEFAULT_IMAGE)]
    default_image: String,
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or("expected FIRST-LAST, e.g. 32800-34999")?;
    let a: u16 = a.trim().parse().map_err(|_| format!("{a:?} is no port"))?;
    let b: u16 = b.trim().parse().map_err(|_| format!("{b:?} is no port"))?;
    if a == 0 || a > b {
        return Err("the range must be FIRST-LAST with 0 < FIRST <= LAST".into());
    }
    Ok((a, b))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
    config.port_range = args.port_range;
    config.default_image = args.default_image;
    let listen = args.listen.trim_start_matches("ws://").to_string();
    let listener = std::net::TcpListener::bind(&listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e} (is another nexusd running?)"))?;
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
    Ok(())
}
