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
    /// `--context` / `NEXUS_CONTEXT`.
    pub context: Option<String>,
}

/// A resolved daemon: address and token, and how to name it again.
#[derive(Debug, Clone)]
struct Resolved {
    address: String,
    token: Option<String>,
    /// Set when it came from a context.
    context: Option<String>,
}

impl Target {
    /// `--host`/`--token` first, then the named or current context, then the
    /// local daemon.
    fn resolve(&self) -> anyhow::Result<Resolved> {
        if let Some(host) = &self.host {
            return Ok(Resolved {
                address: host.clone(),
                token: self.token.clone(),
                context: None,
            });
        }
        let contexts = crate::context::Contexts::load()?;
        Ok(match contexts.resolve(self.context.as_deref())? {
            Some((name, entry)) => Resolved {
                address: entry.host,
                token: Some(self.token.clone().unwrap_or(entry.token)),
                context: Some(name),
            },
            None => Resolved {
                address: local::address(),
                token: self.token.clone(),
                context: None,
            },
        })
    }

    /// The daemon's address.
    pub fn address(&self) -> anyhow::Result<String> {
        Ok(self.resolve()?.address)
    }

    /// Whether the daemon is this machine's (so its SSH ports are reachable
    /// directly, without a tunnel through the API).
    pub fn is_local(&self) -> anyhow::Result<bool> {
        Ok(is_local(&self.resolve()?.address))
    }

    /// The global flags that reach the same daemon from another `nexus`
    /// (for an SSH `ProxyCommand`): the context's name, or `--host` (the
    /// token then comes from `NEXUS_TOKEN` at the time).
    pub fn flags(&self) -> anyhow::Result<Vec<String>> {
        let r = self.resolve()?;
        Ok(match (r.context, &self.host) {
            (Some(name), _) => vec!["--context".into(), name],
            (None, Some(host)) => vec!["--host".into(), host.clone()],
            (None, None) => vec![],
        })
    }
}

fn is_local(address: &str) -> bool {
    if address.starts_with("wss://") {
        return false;
    }
    let a = address.trim_start_matches("ws://");
    a.starts_with("127.0.0.1:") || a.starts_with("localhost:") || a.starts_with("[::1]:")
}

fn read_token() -> Option<String> {
    std::fs::read_to_string(local::token_path())
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The local daemon the CLI started did not come up: it exited (`message`
/// then holds its own last log line) or did not answer in time.
#[derive(Debug)]
pub struct DaemonNotStarted {
    /// What happened, with the daemon's own last log line.
    pub message: String,
}

impl std::fmt::Display for DaemonNotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DaemonNotStarted {}

/// How long the CLI waits for a daemon it started to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Connects, starting a local daemon first when none answers.
///
/// The local daemon of this user is found at the address it published in
/// its data directory (`nexus_sdk::local::address_path`), else at
/// `127.0.0.1:7737`; when that one refuses this user's token (another
/// user's daemon) or nothing answers, this user's own daemon is started and
/// picks an address of its own.
pub async fn connect(target: &Target) -> anyhow::Result<Client> {
    let resolved = target.resolve()?;
    // an address the user chose, rather than the local default
    let chosen = resolved.context.is_some() || target.host.is_some() || local::host_env().is_some();
    let address = resolved.address;
    // a team-mode session of this daemon (`nexus auth login`) before the
    // local daemon's own token file
    let saved = match &resolved.token {
        Some(_) => None,
        None => crate::team::saved_token(&address)?,
    };
    let token = resolved
        .token
        .or(saved)
        .or_else(|| is_local(&address).then(read_token).flatten());
    match &token {
        Some(token) => match Client::connect(&address, token).await {
            Ok(c) => return Ok(c),
            Err(ClientError::Connect { .. }) if is_local(&address) => {}
            // the default address answered with another user's daemon: start ours
            Err(ClientError::Unauthorized { .. }) if !chosen && local::published_address().is_none() => {}
            Err(e) => return Err(e.into()),
        },
        // a team-mode daemon answers callers without a token (they may sign in)
        None => match Client::connect(&address, "").await {
            Ok(c) => return Ok(c),
            Err(_) if !is_local(&address) => anyhow::bail!(
                "no token for {address}: sign in with `nexus auth login`, set NEXUS_TOKEN, pass --token, or add a context with `nexus context add`"
            ),
            Err(_) => {}
        },
    }
    let listen = chosen.then_some(address);
    let mut child = start_daemon(listen.as_deref())?;
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(DaemonNotStarted {
                message: format!(
                    "nexusd exited ({status}) before answering: {} (log: {})",
                    last_log_line().unwrap_or_else(|| "it wrote nothing".into()),
                    log_path().display()
                ),
            }
            .into());
        }
        let address = listen.clone().or_else(local::published_address);
        let token = target.token.clone().or_else(read_token);
        if let (Some(address), Some(token)) = (&address, &token) {
            match Client::connect(address, token).await {
                Ok(c) => return Ok(c),
                Err(e @ ClientError::Unauthorized { .. }) => return Err(e.into()),
                Err(_) => {}
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(DaemonNotStarted {
                message: format!(
                    "nexusd (pid {}) started but did not answer within {} s{}: see {}",
                    child.id(),
                    START_TIMEOUT.as_secs(),
                    address.map(|a| format!(" on {a}")).unwrap_or_default(),
                    log_path().display()
                ),
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The workspaces' names, for shell completion: the daemon that would be
/// used, asked within 1 s, never started; none when it does not answer.
pub fn workspace_names() -> Vec<clap_complete::CompletionCandidate> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let target = Target {
        host: env("NEXUS_HOST"),
        token: env("NEXUS_TOKEN"),
        context: env("NEXUS_CONTEXT"),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let names = runtime.block_on(async {
        let ask = async {
            let resolved = target.resolve().ok()?;
            let token = resolved
                .token
                .or_else(|| is_local(&resolved.address).then(read_token).flatten())?;
            let client = Client::connect(&resolved.address, &token).await.ok()?;
            client.list().await.ok()
        };
        tokio::time::timeout(Duration::from_secs(1), ask).await.ok().flatten()
    });
    names
        .unwrap_or_default()
        .into_iter()
        .map(|w| {
            clap_complete::CompletionCandidate::new(w.name).help(Some(format!("{:?}", w.state).to_lowercase().into()))
        })
        .collect()
}

fn log_path() -> std::path::PathBuf {
    local::data_dir().join("nexusd.log")
}

/// The last line the daemon logged: for a daemon that could not start, its
/// own error (`Error: …`).
fn last_log_line() -> Option<String> {
    let text = std::fs::read_to_string(log_path()).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

/// Starts `nexusd` detached (with `--listen ADDRESS` when given; else it
/// picks its own), logging to the data directory.
fn start_daemon(listen: Option<&str>) -> anyhow::Result<std::process::Child> {
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
    let mut cmd = std::process::Command::new(&exe);
    if let Some(address) = listen {
        cmd.arg("--listen").arg(address.trim_start_matches("ws://"));
    }
    cmd.env_remove("NEXUS_HOST")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}: install nexusd beside nexus or on PATH", exe.display()))
}
