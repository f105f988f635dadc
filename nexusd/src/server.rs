//! [`serve`]: the daemon on one listener until shutdown — state, token, keys,
//! reconciliation, then the JSON-RPC server (HTTP and WebSocket on one port).

use crate::api;
use crate::config::DaemonConfig;
use crate::error::WorkspaceError;
use crate::keys;
use crate::runtime::docker::{ContainerRuntime, Docker};
use crate::store::Store;
use crate::workspace::Manager;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

pub use nexus_sdk::MAX_MESSAGE_BYTES;

/// Answers and notifications queued per connection for a client that reads
/// slowly; when full, subscriptions wait (and hold their processes back).
/// A streamed exec chunk is at most 32 KiB of output (the SSH packet size),
/// so this bounds a stalled connection's queue at 512 KiB of output (3 MiB
/// of JSON for NUL bytes, which JSON spells `\u0000`).
const MESSAGE_BUFFER: u32 = 16;

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
    /// Another daemon serves the data directory.
    #[error(
        "another nexusd{pid} already serves {dir}{at}: use it, stop it first, or give this one another --data-dir",
        pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        at = address.as_ref().map(|a| format!(" on {a}")).unwrap_or_default()
    )]
    Busy {
        /// The data directory.
        dir: String,
        /// Its process id, as it wrote it.
        pid: Option<u32>,
        /// Where it listens, as it published it.
        address: Option<String>,
    },
}

/// This daemon's hold on its data directory: an exclusive lock on
/// `nexusd.lock` (which holds its pid; the kernel drops the lock when the
/// process ends, even killed) and the `address` file
/// ([`nexus_sdk::local::address_path`]) naming where it listens, removed
/// again when the claim drops.
#[derive(Debug)]
pub struct DataDirClaim {
    _lock: std::fs::File,
    address_file: std::path::PathBuf,
    published: Option<String>,
}

/// Takes data directory `dir` (made 0700 when missing) for this process.
///
/// Errors: [`ServeError::Busy`] when another live daemon holds it (a file
/// left by a killed one is taken over), [`ServeError::DataDir`] when it
/// cannot be made or locked.
pub fn claim_data_dir(dir: &Path) -> Result<DataDirClaim, ServeError> {
    use std::io::Write;
    let dir_err = |source| ServeError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(dir_err)?;
    }
    let path = dir.join("nexusd.lock");
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(dir_err)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).ok().and_then(|p| p.trim().parse().ok());
            return Err(ServeError::Busy {
                dir: dir.display().to_string(),
                pid,
                address: std::fs::read_to_string(dir.join("address"))
                    .ok()
                    .map(|a| a.trim().to_string()),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(dir_err(e)),
    }
    lock.set_len(0).map_err(dir_err)?;
    writeln!(lock, "{}", std::process::id()).map_err(dir_err)?;
    Ok(DataDirClaim {
        _lock: lock,
        address_file: dir.join("address"),
        published: None,
    })
}

impl DataDirClaim {
    /// Writes `address` (`127.0.0.1:PORT`) to the `address` file, replacing
    /// what a killed daemon left there.
    pub fn publish(&mut self, address: std::net::SocketAddr) -> Result<(), ServeError> {
        let text = address.to_string();
        let tmp = self.address_file.with_extension("tmp");
        std::fs::write(&tmp, format!("{text}\n"))
            .and_then(|()| std::fs::rename(&tmp, &self.address_file))
            .map_err(|source| ServeError::DataDir {
                path: self.address_file.display().to_string(),
                source,
            })?;
        self.published = Some(text);
        Ok(())
    }
}

impl Drop for DataDirClaim {
    fn drop(&mut self) {
        let ours =
            std::fs::read_to_string(&self.address_file).is_ok_and(|a| Some(a.trim()) == self.published.as_deref());
        if ours {
            let _ = std::fs::remove_file(&self.address_file);
        }
    }
}

/// Reads a one-line file, writing `make()` to it (0600) first when it is
/// missing or empty: the token (a random 256-bit hex string) and the daemon id.
fn read_or_init(path: &Path, make: impl FnOnce() -> String) -> Result<String, WorkspaceError> {
    if let Ok(t) = std::fs::read_to_string(path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let value = make();
    keys::write_private(path, value.as_bytes())?;
    Ok(value)
}

/// `nexusd admin init`: turns the stopped daemon of `dir` into team mode
/// with first site admin `admin` holding the SSH public keys `keys`
/// (OpenSSH lines); every existing workspace becomes the admin's, and the
/// single-user token the admin's API token `legacy`.
///
/// Errors: a daemon of `dir` runs (`Busy`: stop it first); a bad name or
/// key, or team mode on already (the message says which).
pub fn admin_init(dir: &Path, admin: &str, keys: &[String]) -> Result<(), ServeError> {
    let claim = claim_data_dir(dir)?;
    let token = read_or_init(&dir.join("token"), || keys::random_hex(32))?;
    let store = Store::open(&dir.join("state.db")).map_err(WorkspaceError::from)?;
    crate::workspace::team::init(&store, dir, admin, keys, &token)?;
    drop(claim);
    Ok(())
}

/// Runs the daemon on `listener` until `shutdown` resolves, with the local
/// Docker engine as its runtime ([`serve_with`] takes another).
///
/// Errors: [`ServeError`] when the data directory, database or server cannot
/// be set up; a Docker engine that does not answer is not an error here
/// (requests that need it say so).
pub async fn serve(
    config: DaemonConfig,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with(config, listener, shutdown, Arc::new(Docker::new())).await
}

/// [`serve`] over `runtime`: the container engine seam, so the daemon can
/// run on a fake in tests of its flows, or on another engine.
pub async fn serve_with(
    config: DaemonConfig,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    runtime: Arc<dyn ContainerRuntime>,
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
    let token = read_or_init(&dir.join("token"), || keys::random_hex(32))?;
    let daemon_id = read_or_init(&dir.join("daemon_id"), || keys::random_hex(8))?;
    let daemon_key = keys::load_or_create(&dir.join("daemon_ed25519"))?;
    let store = Store::open(&dir.join("state.db")).map_err(WorkspaceError::from)?;
    let manager = Manager::new(config.clone(), daemon_id, store, runtime, daemon_key)?;
    if let Err(e) = manager.reconcile().await {
        tracing::error!("reconciliation failed: {e}");
    }
    manager.serve_docker_proxies();
    let manager = Arc::new(manager);
    manager.watch_engine();
    // idle workspaces pause and stop; the relay asks here to wake one at the SSH banner
    tokio::spawn(manager.clone().idle_loop());
    tokio::spawn(manager.clone().stats_loop());
    let waking = manager.clone();
    let wake_dir = dir.clone();
    tokio::spawn(async move {
        let wake = move |port: u16| {
            let m = waking.clone();
            async move { m.wake_port(port).await }
        };
        if let Err(e) = crate::relay::serve_wakes(&wake_dir, wake).await {
            tracing::error!(
                "cannot serve {}: sleeping workspaces will not wake on ssh",
                crate::relay::WAKE_SOCKET
            );
            tracing::debug!("{e}");
        }
    });
    if manager.mode() == nexus_sdk::team::Mode::Team {
        manager.audit("nexusd", "daemon.start", "", "ok", env!("CARGO_PKG_VERSION"));
        let team = manager.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            let mut pruned: Option<std::time::Instant> = None;
            loop {
                tick.tick().await;
                team.audit_ssh_events();
                let days = team.config.audit_retention_days;
                if days > 0 && pruned.is_none_or(|p| p.elapsed() >= std::time::Duration::from_secs(86_400)) {
                    pruned = Some(std::time::Instant::now());
                    match team.audit_prune(i64::from(days)) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!("pruned {n} audit rows older than {days} days"),
                        Err(e) => tracing::error!("cannot prune the audit log: {e}"),
                    }
                }
            }
        });
    }
    let module = api::module(manager.clone()).map_err(|e| ServeError::Api(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Api(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| ServeError::Api(e.to_string()))?;
    let names: std::collections::HashSet<&'static str> = module.method_names().collect();
    let names = Arc::new(names);
    let authorizing = manager.clone();
    let audited = manager.clone();
    let rpc_middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(move |service| api::KnownMethods::new(service, names.clone()))
        .layer_fn(move |service| api::Authorize::new(service, authorizing.clone()));
    let server = jsonrpsee::server::Server::builder()
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(api::Route::health(manager.clone()))
                .layer(api::Dashboard::new(manager.clone()))
                .layer(api::BearerAuth::new(token, manager.clone()))
                .layer(api::Route::metrics(manager.clone()))
                .layer(api::McpRoute::new(addr))
                .layer(api::Route::raw_read(manager)),
        )
        .set_rpc_middleware(rpc_middleware)
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(MAX_MESSAGE_BYTES)
                .max_response_body_size(MAX_MESSAGE_BYTES)
                .set_message_buffer_capacity(MESSAGE_BUFFER)
                .build(),
        )
        .build_from_tcp(listener)
        .map_err(|e| ServeError::Api(e.to_string()))?;
    let handle = server.start(module);
    tracing::info!("nexusd {} listening on {addr}", env!("CARGO_PKG_VERSION"));
    shutdown.await;
    if audited.mode() == nexus_sdk::team::Mode::Team {
        audited.audit_ssh_events();
        audited.audit("nexusd", "daemon.stop", "", "ok", "");
    }
    let _ = handle.stop();
    handle.stopped().await;
    Ok(())
}
