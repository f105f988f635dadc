//! Where a local daemon keeps its token and listens, so the daemon and its
//! clients agree without configuration.
//!
//! The data directory is `$NEXUS_DATA_DIR`, else `$XDG_DATA_HOME/nexus`, else
//! `~/.local/share/nexus` (XDG Base Directory Specification).

use std::path::PathBuf;

/// Default address of a local daemon's JSON-RPC endpoint.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7737";

/// The daemon's data directory (state database, token, keys).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_DATA_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("nexus");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".local/share/nexus")
}

/// The 0600 file holding the bearer token of the local daemon.
pub fn token_path() -> PathBuf {
    data_dir().join("token")
}

/// The address a local client connects to: `$NEXUS_HOST`, else [`DEFAULT_ADDRESS`].
pub fn address() -> String {
    std::env::var("NEXUS_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_string())
}
