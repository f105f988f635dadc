//! The daemon's side of the agents: one pooled SSH connection per running
//! workspace ([`client`]), the execs and tunnels open on it by id
//! ([`channels`]), file operations over SFTP ([`fs`]) and host port
//! forwards relayed over `direct-tcpip` ([`forwards`]). Knows containers
//! only as SSH targets: nothing here reads the store or Docker.

pub mod channels;
pub mod client;
pub mod forwards;
pub mod fs;

/// Container port of the agent's SSH server.
pub const AGENT_PORT: u16 = 2222;
/// Where the agent and its files live in every container (under `/`).
pub const AGENT_DIR: &str = ".nexus";
/// The agent's path in every workspace container.
pub const AGENT_BINARY: &str = "/.nexus/nexus-agent";
