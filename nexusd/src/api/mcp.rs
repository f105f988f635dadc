//! `/mcp`: the MCP server of `nexus_sdk::mcp` over Streamable HTTP, as a
//! tower layer behind [`super::BearerAuth`]; `/mcp/WS` is the same server
//! pinned to workspace WS (as `nexus mcp --workspace WS`). A request without a bearer
//! token is refused (401); the `Host` header must name a loopback address
//! (rmcp's check against DNS rebinding); each tool call reaches this
//! daemon's API over loopback with the request's own token, so it is
//! authorized exactly as that caller's own calls are.

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The path MCP clients post to.
pub const PATH: &str = "/mcp";

type Mcp = StreamableHttpService<nexus_sdk::mcp::Server, LocalSessionManager>;

/// The layer: `/mcp` and `/mcp/WS` to the MCP services, everything else on.
#[derive(Clone)]
pub struct McpRoute {
    /// The daemon's own address, which the tools call back.
    address: String,
    /// `/mcp`.
    mcp: Mcp,
    /// `/mcp/WS`, made at the first request for WS.
    pinned: Arc<std::sync::Mutex<std::collections::HashMap<String, Mcp>>>,
}

/// The MCP service over `address`, pinned to `workspace` when given.
fn service(address: &str, workspace: Option<String>) -> Mcp {
    let own = address.to_string();
    let mut config = StreamableHttpServerConfig::default();
    config.json_response = true;
    StreamableHttpService::new(
        move || Ok(nexus_sdk::mcp::Server::per_token(&own, workspace.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

impl McpRoute {
    /// MCP for the daemon listening on `address` (its tools call it back there).
    pub fn new(address: std::net::SocketAddr) -> McpRoute {
        let address = address.to_string();
        McpRoute {
            mcp: service(&address, None),
            address,
            pinned: Default::default(),
        }
    }

    /// The service of a request's path, if it is an MCP path: `/mcp`, or
    /// `/mcp/WS` for a well-formed workspace name.
    fn route(&self, path: &str) -> Option<Mcp> {
        if path == PATH {
            return Some(self.mcp.clone());
        }
        let ws = path.strip_prefix(PATH)?.strip_prefix('/')?;
        let named = !ws.is_empty()
            && ws.len() <= 63
            && ws
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !named {
            return None;
        }
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            pinned
                .entry(ws.to_string())
                .or_insert_with(|| service(&self.address, Some(ws.to_string())))
                .clone(),
        )
    }
}

impl<S> tower::Layer<S> for McpRoute {
    type Service = McpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpService {
            inner,
            route: self.clone(),
        }
    }
}

/// The service made by [`McpRoute`].
#[derive(Clone)]
pub struct McpService<S> {
    inner: S,
    route: McpRoute,
}

impl<S> tower::Service<HttpRequest> for McpService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let Some(mut mcp) = self.route.route(req.uri().path()) else {
            return Box::pin(self.inner.call(req));
        };
        if !req.headers().contains_key(http::header::AUTHORIZATION) {
            let refused = super::auth::response(
                401,
                serde_json::json!({"error": "a bearer token is required: Authorization: Bearer TOKEN"}).to_string(),
            );
            return Box::pin(async move { Ok(refused) });
        }
        Box::pin(async move {
            let answer = match tower::Service::call(&mut mcp, req).await {
                Ok(a) => a,
                Err(never) => match never {},
            };
            Ok(answer.map(HttpBody::new))
        })
    }
}
