//! [`serve`]: the daemon on one listener until shutdown — state, token, keys,
//! reconciliation, then the JSON-RPC server (HTTP and WebSocket on one port).

use crate::api;
use crate::config::DaemonConfig;
use crate::docker::{ContainerRuntime, Docker};
use crate::error::WorkspaceError;
use crate::keys;
use crate::store::Store;
use crate::workspace::Manager;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// Largest JSON-RPC message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: u32 = 16 * 1024 * 1024;

/// Why the daemon cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory, token or key files cannot be set up.
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The state database, keys or runtime failed.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The JSON-RPC server cannot start.
    #[error("cannot start the API server: {0}")]
    Api(String),
}

/// Reads the token file, making a random 256-bit token (0600) on first start.
pub fn load_or_create_token(path: &Path) -> Result<String, WorkspaceError> {
    if let Ok(t) = std::fs::read_to_string(path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    keys::write_private(path, token.as_bytes())?;
    Ok(token)
}

fn load_or_create_id(path: &Path) -> Result<String, WorkspaceError> {
    if let Ok(t) = std::fs::read_to_string(path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let id = format!("{:016x}", rand::random::<u64>());
    std::fs::write(path, &id)?;
    Ok(id)
}

/// Runs the daemon on `listener` until `shutdown` resolves.
///
/// Errors: [`ServeError`] when the data directory, database or server cannot
/// be set up; a Docker engine that does not answer is not an error here
/// (requests that need it say so).
pub async fn serve(
    config: DaemonConfig,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let dir = &config.data_dir;
    let dir_err = |source| ServeError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(dir_err)?;
    }
    let token = load_or_create_token(&dir.join("token"))?;
    let daemon_id = load_or_create_id(&dir.join("daemon_id"))?;
    let daemon_key = keys::load_or_create(&dir.join("daemon_ed25519"))?;
    let store = Store::open(&dir.join("state.db"))?;
    let runtime: Arc<dyn ContainerRuntime> = Arc::new(Docker::new());
    let manager = Manager::new(config.clone(), daemon_id, store, runtime, daemon_key)?;
    if let Err(e) = manager.reconcile().await {
        tracing::error!("reconciliation failed: {e}");
    }
    let module = api::module(manager).map_err(|e| ServeError::Api(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Api(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Api(e.to_string()))?;
    let server = jsonrpsee::server::Server::builder()
        .set_http_middleware(tower::ServiceBuilder::new().layer(api::BearerAuth::new(token)))
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(MAX_MESSAGE_BYTES)
                .max_response_body_size(MAX_MESSAGE_BYTES)
                .build(),
        )
        .build_from_tcp(listener)
        .map_err(|e| ServeError::Api(e.to_string()))?;
    let handle = server.start(module);
    tracing::info!("nexusd {} listening on {addr}", env!("CARGO_PKG_VERSION"));
    shutdown.await;
    let _ = handle.stop();
    handle.stopped().await;
    Ok(())
}
