//! Docker inside a workspace, `--docker proxy`: a Unix socket in the
//! workspace (`/var/run/nexus-docker/docker.sock`, with `DOCKER_HOST`
//! naming it) that is a filtering proxy to the host's engine, served by the
//! daemon. The requests of the Docker Engine API go through
//! [`policy`]: containers, volumes and networks made through it carry
//! [`LABEL_PARENT`] and are the only ones it lists, inspects, execs into or
//! removes; what would reach the host (privileged mode, host namespaces,
//! capabilities, devices, binds outside the worktree, volume driver
//! options) is refused with a 403 whose message says so. Attach and exec
//! streams (HTTP `Upgrade: tcp`) are spliced through.

pub mod policy;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
pub use policy::{LABEL_PARENT, Refusal, Route, Scope};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::{UnixListener, UnixStream};

/// Where a workspace's proxy socket directory is mounted in its container.
pub const CONTAINER_DIR: &str = "/var/run/nexus-docker";
/// The proxy socket in the container (`DOCKER_HOST=unix://` this).
pub const CONTAINER_SOCKET: &str = "/var/run/nexus-docker/docker.sock";
/// The socket's file name in its directory.
const SOCKET: &str = "docker.sock";
/// The largest create body the proxy reads to check (a container create's
/// JSON is a few kB).
const MAX_CHECKED_BODY: usize = 1 << 20;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// The host directory of workspace `id`'s proxy socket, under the daemon's data directory.
pub fn socket_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("docker").join(id)
}

/// The engine's Unix socket: `DOCKER_HOST` when it is `unix://…`, else
/// `/var/run/docker.sock`. Errors: a message when `DOCKER_HOST` names
/// another transport (the proxy speaks to a local engine only).
pub fn engine_socket() -> Result<PathBuf, String> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => match h.strip_prefix("unix://") {
            Some(p) => Ok(PathBuf::from(p)),
            None => Err(format!(
                "--docker proxy needs the Docker engine on a Unix socket, and DOCKER_HOST is {h}"
            )),
        },
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

/// The running proxies, by workspace id.
#[derive(Default)]
pub struct Proxies {
    running: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxies").finish_non_exhaustive()
    }
}

impl Proxies {
    /// Serves `scope`'s proxy on `dir/docker.sock` (the directory made 0755,
    /// the socket 0666: the directory is what the container mounts, and
    /// the daemon's data directory keeps other host users out), replacing
    /// the one it had. Errors: the engine is not on a Unix socket; the
    /// socket cannot be made.
    pub fn serve(&self, dir: &Path, scope: Scope) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let engine = engine_socket()?;
        let made = |e: std::io::Error| format!("cannot make the Docker proxy socket in {}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(made)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(made)?;
        let path = dir.join(SOCKET);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(made(e)),
            _ => {}
        }
        let listener = UnixListener::bind(&path).map_err(made)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).map_err(made)?;
        let id = scope.workspace_id.clone();
        let proxy = Arc::new(Proxy { scope, engine });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let proxy = proxy.clone();
                        async move { Ok::<_, std::convert::Infallible>(proxy.handle(req).await) }
                    });
                    let served = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                    if let Err(e) = served {
                        tracing::debug!("docker proxy connection: {e}");
                    }
                });
            }
        });
        if let Some(old) = self.lock().insert(id, task) {
            old.abort();
        }
        Ok(())
    }

    /// Stops workspace `id`'s proxy (streams already spliced go on until
    /// they end) and removes its socket directory under `data_dir`.
    pub fn stop(&self, data_dir: &Path, id: &str) {
        if let Some(task) = self.lock().remove(id) {
            task.abort();
        }
        let dir = socket_dir(data_dir, id);
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", dir.display());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::JoinHandle<()>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why a request does not reach the engine: the status and message of the
/// response (`{"message": …}`, as the engine's errors are).
struct Deny(StatusCode, String);

impl From<Refusal> for Deny {
    fn from(r: Refusal) -> Deny {
        Deny(StatusCode::FORBIDDEN, r.0)
    }
}

/// One workspace's proxy.
struct Proxy {
    scope: Scope,
    engine: PathBuf,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

fn boxed(b: Incoming) -> Body {
    b.map_err(|e| Box::new(e) as BoxError).boxed()
}

fn message(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(full(json!({ "message": text }).to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

impl Proxy {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let route = policy::route(&method, policy::unversioned(&path));
        match self.dispatch(route, req).await {
            Ok(r) => r,
            Err(Deny(status, text)) => {
                if status == StatusCode::FORBIDDEN {
                    tracing::info!(workspace = %self.scope.workspace_id, "docker proxy refused {method} {path}: {text}");
                }
                message(status, &text)
            }
        }
    }

    async fn dispatch(&self, route: Route, mut req: Request<Incoming>) -> Result<Response<Body>, Deny> {
        let query = req.uri().query().map(str::to_string);
        let upgrade = req
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let mut held = Held {
            parts,
            body: Some(body),
            upgrade,
        };
        let label = self.scope.label();
        match route {
            Route::Pass => self.forward(held, None, None).await,
            Route::Filtered => {
                let q = policy::with_label_filter(query.as_deref(), &label);
                self.forward(held, Some(q), None).await
            }
            Route::Container(id) => {
                self.require_container(&id).await?;
                self.forward(held, None, None).await
            }
            Route::Exec(id) => {
                let (status, v) = self.engine_json(Method::GET, &format!("/exec/{id}/json"), None).await?;
                if status != StatusCode::OK {
                    return Err(Deny(status, format!("No such exec instance: {id}")));
                }
                self.require_container(v["ContainerID"].as_str().unwrap_or("")).await?;
                self.forward(held, None, None).await
            }
            Route::CreateContainer => {
                let mut body = held.json().await?;
                let needs = policy::check_container(&mut body, &self.scope)?;
                for c in &needs.containers {
                    self.require_container(c).await?;
                }
                for v in &needs.volumes {
                    self.require_volume(v, true).await?;
                }
                for n in &needs.networks {
                    self.require_labelled("networks", n, "network").await?;
                }
                self.forward(held, None, Some(body)).await
            }
            Route::CreateExec(id) => {
                self.require_container(&id).await?;
                let body = held.json().await?;
                policy::check_exec(&body)?;
                self.forward(held, None, Some(body)).await
            }
            Route::CreateVolume => {
                let mut body = held.json().await?;
                policy::check_volume(&mut body, &self.scope)?;
                self.forward(held, None, Some(body)).await
            }
            Route::Volume(name) => {
                self.require_volume(&name, false).await?;
                self.forward(held, None, None).await
            }
            Route::CreateNetwork => {
                let mut body = held.json().await?;
                policy::check_network(&mut body, &self.scope)?;
                self.forward(held, None, Some(body)).await
            }
            Route::Network(id) => {
                self.require_labelled("networks", &id, "network").await?;
                self.forward(held, None, None).await
            }
            Route::NetworkConnect(id) => {
                self.require_labelled("networks", &id, "network").await?;
                let body = held.json().await?;
                self.require_container(body["Container"].as_str().unwrap_or("")).await?;
                self.forward(held, None, Some(body)).await
            }
            Route::Build => {
                if policy::params(query.as_deref(), "networkmode")
                    .iter()
                    .any(|m| m == "host")
                {
                    return Err(Refusal::new("docker build --network=host shares the host's network").into());
                }
                for t in policy::params(query.as_deref(), "t") {
                    self.require_not_nexus_image(&t, "tagging").await?;
                }
                self.forward(held, None, None).await
            }
            Route::ImageTag => {
                let repo = policy::params(query.as_deref(), "repo").concat();
                let tag = policy::params(query.as_deref(), "tag").concat();
                let target = if tag.is_empty() { repo } else { format!("{repo}:{tag}") };
                self.require_not_nexus_image(&target, "tagging").await?;
                self.forward(held, None, None).await
            }
            Route::ImageDelete(name) => {
                self.require_not_nexus_image(&name, "removing").await?;
                // never forced: an image a container uses stays
                let q = policy::without_param(query.as_deref(), "force");
                self.forward(held, Some(q), None).await
            }
            Route::Missing(text) => Err(Deny(StatusCode::NOT_FOUND, text)),
            Route::Refuse(r) => Err(r.into()),
        }
    }

    /// A 404 unless container `id` (an id, a prefix or a name) is the workspace's.
    async fn require_container(&self, id: &str) -> Result<(), Deny> {
        let not_ours = || {
            Deny(
                StatusCode::NOT_FOUND,
                format!(
                    "No such container: {id} (the Nexus Docker proxy shows a workspace only the containers made through it)"
                ),
            )
        };
        if id.is_empty() || id.contains('/') {
            return Err(not_ours());
        }
        let (status, v) = self
            .engine_json(Method::GET, &format!("/containers/{id}/json"), None)
            .await?;
        if status == StatusCode::OK && self.is_ours(&v["Config"]["Labels"]) {
            Ok(())
        } else {
            Err(not_ours())
        }
    }

    /// A 404 unless the `kind` (`networks`) with id or name `id` carries the workspace's label.
    async fn require_labelled(&self, kind: &str, id: &str, what: &str) -> Result<(), Deny> {
        let (status, v) = self.engine_json(Method::GET, &format!("/{kind}/{id}"), None).await?;
        if status == StatusCode::OK && self.is_ours(&v["Labels"]) {
            return Ok(());
        }
        Err(Deny(
            StatusCode::NOT_FOUND,
            format!("No such {what}: {id} (the Nexus Docker proxy shows a workspace only the {kind} made through it)"),
        ))
    }

    /// Volume `name` must be the workspace's; a missing one is made
    /// (labelled) when `make` (a mount of it would make it unlabelled).
    async fn require_volume(&self, name: &str, make: bool) -> Result<(), Deny> {
        let (status, _) = self.engine_json(Method::GET, &format!("/volumes/{name}"), None).await?;
        if status == StatusCode::NOT_FOUND && make {
            let body = json!({ "Name": name, "Labels": { LABEL_PARENT: self.scope.workspace_id } });
            let (status, v) = self.engine_json(Method::POST, "/volumes/create", Some(body)).await?;
            if !status.is_success() {
                return Err(Deny(status, v["message"].as_str().unwrap_or("").to_string()));
            }
            return Ok(());
        }
        self.require_labelled("volumes", name, "volume").await
    }

    /// A 403 when image `reference` exists and is one of Nexus's (a
    /// template's, a workspace's build, a checkpoint's).
    async fn require_not_nexus_image(&self, reference: &str, doing: &str) -> Result<(), Deny> {
        if reference.is_empty() {
            return Ok(());
        }
        let (status, v) = self
            .engine_json(Method::GET, &format!("/images/{reference}/json"), None)
            .await?;
        if status == StatusCode::OK && policy::is_nexus_image(v.get("Config").and_then(|c| c.get("Labels"))) {
            return Err(Refusal::new(format!(
                "{doing} image {reference}: it is one of Nexus's own; give your image another name"
            ))
            .into());
        }
        Ok(())
    }

    fn is_ours(&self, labels: &Value) -> bool {
        labels[LABEL_PARENT].as_str() == Some(self.scope.workspace_id.as_str())
    }

    /// A request of the proxy's own to the engine, its JSON answer (`Null`
    /// when there is none).
    async fn engine_json(&self, method: Method, path: &str, body: Option<Value>) -> Result<(StatusCode, Value), Deny> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "docker");
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                full(v.to_string())
            }
            None => full(Bytes::new()),
        };
        let req = req
            .body(body)
            .map_err(|e| Deny(StatusCode::BAD_REQUEST, e.to_string()))?;
        let resp = self.send(req).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Deny(StatusCode::BAD_GATEWAY, format!("the Docker engine: {e}")))?
            .to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Sends `req` to the engine on a connection of its own (which can be upgraded).
    async fn send(&self, req: Request<Body>) -> Result<Response<Incoming>, Deny> {
        let unavailable = |e: &dyn std::fmt::Display| {
            Deny(
                StatusCode::BAD_GATEWAY,
                format!("the Nexus Docker proxy cannot reach the Docker engine: {e}"),
            )
        };
        let stream = UnixStream::connect(&self.engine).await.map_err(|e| unavailable(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unavailable(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!("docker engine connection: {e}");
            }
        });
        sender.send_request(req).await.map_err(|e| unavailable(&e))
    }

    /// Passes request `held` on (with query `query` and JSON body `body`
    /// when given), and splices the two connections together when the
    /// engine upgrades it (attach, exec start).
    async fn forward(&self, held: Held, query: Option<String>, body: Option<Value>) -> Result<Response<Body>, Deny> {
        let Held {
            mut parts,
            body: incoming,
            upgrade: client_upgrade,
        } = held;
        if let Some(q) = query {
            let path = parts.uri.path();
            let uri = if q.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{q}")
            };
            parts.uri = uri.parse().map_err(|e| Deny(StatusCode::BAD_REQUEST, format!("{e}")))?;
        }
        let body = match body {
            Some(v) => {
                let text = v.to_string();
                parts.headers.remove(header::TRANSFER_ENCODING);
                parts.headers.insert(header::CONTENT_LENGTH, text.len().into());
                full(text)
            }
            None => incoming.map_or_else(|| full(Bytes::new()), boxed),
        };
        let mut resp = self.send(Request::from_parts(parts, body)).await?;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let engine_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, engine_upgrade) {
                    Ok((client, engine)) => {
                        let (mut client, mut engine) = (TokioIo::new(client), TokioIo::new(engine));
                        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut engine).await {
                            tracing::debug!("docker proxy stream: {e}");
                        }
                    }
                    Err(e) => tracing::debug!("docker proxy upgrade: {e}"),
                }
            });
        }
        Ok(resp.map(boxed))
    }
}

/// A request on its way: its head, its body until read, and the upgrade
/// of its connection when it asks for one.
struct Held {
    parts: http::request::Parts,
    body: Option<Incoming>,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl Held {
    /// The JSON body, read; `{}` when empty.
    async fn json(&mut self) -> Result<Value, Deny> {
        match self.body.take() {
            Some(b) => read_json(b).await,
            None => Ok(json!({})),
        }
    }
}

/// A request's JSON body, read (at most [`MAX_CHECKED_BODY`] bytes); an
/// empty body is `{}`.
async fn read_json(body: Incoming) -> Result<Value, Deny> {
    let bytes = http_body_util::Limited::new(body, MAX_CHECKED_BODY)
        .collect()
        .await
        .map_err(|e| Deny(StatusCode::BAD_REQUEST, format!("reading the request: {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| Deny(StatusCode::BAD_REQUEST, format!("the body is no JSON: {e}")))
}
