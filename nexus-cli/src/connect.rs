//! Reaching the daemon: address and token from flags, environment or the
//! local token file; a local daemon is started in the background when none
//! answers.

use anyhow::Context;
use nexus_sdk::client::{Client, ClientError};
use nexus_sdk::local;
use std::time::Duration;

/// Where to connect, from the flags.
#[derive(Debug, Clone)]
pub struct Target {
    /// `--host` / `NEXUS_HOST`.
    pub host: Option<String>,
    /// `--token` / `NEXUS_TOKEN`.
    pub token: Option<String>,
}

fn is_local(address: &str) -> bool {
    let a = address.trim_start_matches("ws://");
    a.starts_with("127.0.0.1:") || a.starts_with("localhost:") || a.starts_with("[::1]:")
}

fn read_token() -> Option<String> {
    std::fs::read_to_string(local::token_path())
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Connects, starting a local daemon first when none answers.
pub async fn connect(target: &Target) -> anyhow::Result<Client> {
    let address = target.host.clone().unwrap_or_else(local::address);
    let token = target.token.clone().or_else(read_token);
    if let Some(token) = &token {
        match Client::connect(&address, token).await {
            Ok(c) => return Ok(c),
            Err(ClientError::Connect { .. }) if is_local(&address) => {}
            Err(e) => return Err(e.into()),
        }
    } else if !is_local(&address) {
        anyhow::bail!("no token for {address}: set NEXUS_TOKEN or pass --token");
    }
    start_daemon(&address)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let token = target.token.clone().or_else(read_token);
        if let Some(token) = token {
            match Client::connect(&address, &token).await {
                Ok(c) => return Ok(c),
                Err(e @ ClientError::Unauthorized(_)) => return Err(e.into()),
                Err(e) if std::time::Instant::now() > deadline => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "started nexusd, but it does not answer; see {}",
                        log_path().display()
                    )));
                }
                Err(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn log_path() -> std::path::PathBuf {
    local::data_dir().join("nexusd.log")
}

/// Starts `nexusd --listen ADDRESS` detached, logging to the data directory.
fn start_daemon(address: &str) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("nexusd")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "nexusd".into());
    let dir = local::data_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path())
        .with_context(|| format!("cannot open {}", log_path().display()))?;
    eprintln!("starting nexusd in the background (log: {})", log_path().display());
    std::process::Command::new(&exe)
        .arg("--listen")
        .arg(address.trim_start_matches("ws://"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}: install nexusd beside nexus or on PATH", exe.display()))?;
    Ok(())
}
