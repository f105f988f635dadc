//! `/mcp`: the MCP server of `nexus_sdk::mcp` over Streamable HTTP, as a
//! tower layer behind [`super::BearerAuth`]. A request without a bearer
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

/// The layer: `/mcp` to the MCP service, everything else on.
#[derive(Clone)]
pub struct McpRoute {
    mcp: Mcp,
}

impl McpRoute {
    /// MCP for the daemon listening on `address` (its tools call it back there).
    pub fn new(address: std::net::SocketAddr) -> McpRoute {
        let own = address.to_string();
        let mut config = StreamableHttpServerConfig::default();
        config.json_response = true;
        let mcp = StreamableHttpService::new(
            move || Ok(nexus_sdk::mcp::Server::per_token(&own)),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        McpRoute { mcp }
    }
}

impl<S> tower::Layer<S> for McpRoute {
    type Service = McpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpService {
            inner,
            mcp: self.mcp.clone(),
        }
    }
}

/// The service made by [`McpRoute`].
#[derive(Clone)]
pub struct McpService<S> {
    inner: S,
    mcp: Mcp,
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
        if req.uri().path() != PATH {
            return Box::pin(self.inner.call(req));
        }
        if !req.headers().contains_key(http::header::AUTHORIZATION) {
            let refused = super::auth::response(
                401,
                serde_json::json!({"error": "a bearer token is required: Authorization: Bearer TOKEN"}).to_string(),
            );
            return Box::pin(async move { Ok(refused) });
        }
        let mut mcp = self.mcp.clone();
        Box::pin(async move {
            let answer = match tower::Service::call(&mut mcp, req).await {
                Ok(a) => a,
                Err(never) => match never {},
            };
            Ok(answer.map(HttpBody::new))
        })
    }
}
