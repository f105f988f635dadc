//! The agent's configuration file, written by the daemon into the container
//! before it starts (`/.nexus/agent.json`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the daemon puts the configuration.
pub const DEFAULT_CONFIG_PATH: &str = "/.nexus/agent.json";

/// The agent's configuration (camelCase JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    /// TCP port the SSH server listens on, on all container addresses.
    #[serde(default = "default_port")]
    pub port: u16,
    /// OpenSSH private host key file.
    pub host_key_path: PathBuf,
    /// authorized_keys file (OpenSSH format), re-read at every login.
    pub authorized_keys_path: PathBuf,
    /// Where sessions start (devcontainer.json `workspaceFolder`).
    pub workspace_folder: PathBuf,
    /// The workspace user (devcontainer.json `remoteUser`).
    pub remote_user: String,
    /// devcontainer.json `updateRemoteUserUID`: give `remote_user` this
    /// UID and GID (the worktree owner's on the host) before serving.
    #[serde(default)]
    pub remote_user_uid: Option<(u32, u32)>,
    /// Environment of every session (devcontainer.json `remoteEnv`); `None`
    /// (JSON `null`) unsets the variable.
    #[serde(default)]
    pub remote_env: BTreeMap<String, Option<String>>,
    /// Seconds of silence from a client after which the server asks it for
    /// an answer; 3 unanswered asks drop the connection (OpenSSH sshd's
    /// `ClientAliveInterval`, with `ClientAliveCountMax` 3). Default 30.
    #[serde(default = "default_client_alive_interval")]
    pub client_alive_interval: u64,
    /// The relay socket, when the daemon relays the workspace's SSH port
    /// itself (`relay.rs`); absent for workspaces made before the relay.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
}

/// Where the daemon's relay hands over clients, and the secret it proves
/// itself with (`nexus_sdk::relay`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayConfig {
    /// The Unix socket to listen on (`/.nexus/run/ssh.sock`).
    pub socket: PathBuf,
    /// The relay secret, 64 hex digits.
    pub secret: String,
}

fn default_port() -> u16 {
    2222
}

fn default_client_alive_interval() -> u64 {
    30
}

/// What reading the configuration can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid configuration JSON.
    #[error("invalid configuration {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl AgentConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: AgentConfig = serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let container_env = |name: &str| std::env::var(name).ok();
        for value in config.remote_env.values_mut().flatten() {
            *value = container_env_substituted(value, &container_env);
        }
        Ok(config)
    }
}

/// `text` with devcontainer.json's `${containerEnv:VAR}` and
/// `${containerEnv:VAR:default}` replaced by the container's variable `VAR`
/// (`lookup`), else the default, else nothing; other text stays as written.
pub fn container_env_substituted(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    const OPEN: &str = "${containerEnv:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let (name, default) = after[..end].split_once(':').unwrap_or((&after[..end], ""));
        out.push_str(&lookup(name).unwrap_or_else(|| default.to_string()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_env_variables_are_replaced() {
        let lookup = |n: &str| (n == "PATH").then(|| "/bin".to_string());
        assert_eq!(
            container_env_substituted(
                "${containerEnv:PATH}:/x ${containerEnv:NOPE:d} ${containerEnv:NOPE}|${other}",
                &lookup
            ),
            "/bin:/x d |${other}"
        );
    }
}
