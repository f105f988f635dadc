//! Where a local daemon keeps its token and listens, so the daemon and its
//! clients agree without configuration.
//!
//! The data directory is `$NEXUS_DATA_DIR`, else `$XDG_DATA_HOME/nexus`, else
//! `~/.local/share/nexus` (XDG Base Directory Specification).

use std::path::PathBuf;

/// The address a local daemon tries first for its JSON-RPC endpoint; when
/// another process (another user's daemon) holds it, the daemon takes any
/// free port of 127.0.0.1 instead and says which in [`address_path`].
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

/// The file in which a running local daemon names the address it listens
/// on (`127.0.0.1:PORT`, one line); gone when it stops.
pub fn address_path() -> PathBuf {
    data_dir().join("address")
}

/// `$NEXUS_HOST`, when set.
pub fn host_env() -> Option<String> {
    std::env::var("NEXUS_HOST").ok().filter(|v| !v.is_empty())
}

/// The address the local daemon of this user listens on, from
/// [`address_path`], when one runs (or was killed without cleaning up).
pub fn published_address() -> Option<String> {
    std::fs::read_to_string(address_path())
        .ok()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
}

/// The address a local client connects to: `$NEXUS_HOST`, else the one the
/// user's running daemon published, else [`DEFAULT_ADDRESS`].
pub fn address() -> String {
    host_env()
        .or_else(published_address)
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_string())
}
