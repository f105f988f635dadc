//! The daemon's configuration: where it keeps state, which ports it hands out,
//! where the agent binary and the default image are.

use std::path::PathBuf;

/// Image of the built-in default template (`templates/default`).
pub const DEFAULT_IMAGE: &str = "nexus/default:bookworm";

/// Default SSH port range, inclusive.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (32800, 34999);

/// Everything [`crate::serve`] needs to know.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// State database, token, keys (`nexus_sdk::local::data_dir()` by default).
    pub data_dir: PathBuf,
    /// Host ports handed to workspaces, inclusive.
    pub port_range: (u16, u16),
    /// The static `nexus-agent` binary copied into every container.
    pub agent_binary: PathBuf,
    /// Image used when a create names none.
    pub default_image: String,
    /// Seconds to wait for a new container's agent to answer SSH.
    pub ssh_ready_timeout_secs: u64,
}

impl DaemonConfig {
    /// Defaults: the local data directory, [`DEFAULT_PORT_RANGE`],
    /// [`find_agent_binary`], [`DEFAULT_IMAGE`].
    pub fn local() -> DaemonConfig {
        DaemonConfig {
            data_dir: nexus_sdk::local::data_dir(),
            port_range: DEFAULT_PORT_RANGE,
            agent_binary: find_agent_binary(),
            default_image: DEFAULT_IMAGE.to_string(),
            ssh_ready_timeout_secs: 30,
        }
    }
}

/// The agent binary: `$NEXUS_AGENT_BINARY`, else `nexus-agent` beside this
/// executable, else the static build of a source checkout
/// (`target/x86_64-unknown-linux-gnu/agent/nexus-agent`), else
/// `/usr/local/lib/nexus/nexus-agent`.
pub fn find_agent_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXUS_AGENT_BINARY").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let candidates = [
            dir.join("nexus-agent"),
            dir.join("../x86_64-unknown-linux-gnu/agent/nexus-agent"),
            dir.join("../../x86_64-unknown-linux-gnu/agent/nexus-agent"),
        ];
        if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
            return found;
        }
    }
    PathBuf::from("/usr/local/lib/nexus/nexus-agent")
}
