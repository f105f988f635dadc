//! Plain HTTP routes beside the JSON-RPC server, as tower layers:
//! `GET /health` (in front of [`super::BearerAuth`]: no token), and behind
//! it (the API's token) `GET /metrics` and `GET /fs/read`
//! ([`nexus_sdk::methods::HTTP_FS_READ`], `raw_read.rs`). Another method on
//! a route's path gets a JSON-RPC `invalid_params` error.

use super::Ctx;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An answer to a route's request, given its query string.
type Answer = fn(Ctx, Option<String>) -> Pin<Box<dyn Future<Output = HttpResponse> + Send>>;

/// The layer: answers `GET <path>` with `answer`, hands everything else on.
#[derive(Clone)]
pub struct Route {
    path: &'static str,
    ctx: Ctx,
    answer: Answer,
}

impl Route {
    /// `GET /health`: `{"status":"ok"|"degraded","docker":{"ok":…},"store":{"ok":…}}`,
    /// HTTP 200 when Docker answers and the store reads, else 503.
    pub fn health(ctx: Ctx) -> Route {
        Route {
            path: "/health",
            ctx,
            answer: |ctx, _| {
                Box::pin(async move {
                    let (ok, body) = ctx.health().await;
                    super::auth::response(if ok { 200 } else { 503 }, body.to_string())
                })
            },
        }
    }

    /// `GET /metrics`: every metric in the Prometheus text format
    /// (OpenMetrics text 1.0).
    pub fn metrics(ctx: Ctx) -> Route {
        Route {
            path: "/metrics",
            ctx,
            answer: |ctx, _| {
                Box::pin(async move {
                    let mut resp = HttpResponse::new(HttpBody::from(ctx.metrics_text().await));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                    );
                    resp
                })
            },
        }
    }
}

impl Route {
    /// `GET /fs/read?workspace=W&path=P[&offset=N][&length=N]`: a file's raw
    /// bytes, streamed (`raw_read.rs`).
    pub fn raw_read(ctx: Ctx) -> Route {
        Route {
            path: nexus_sdk::methods::HTTP_FS_READ,
            ctx,
            answer: |ctx, query| Box::pin(super::raw_read::answer(ctx, query)),
        }
    }
}

impl<S> tower::Layer<S> for Route {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteService {
            inner,
            route: self.clone(),
        }
    }
}

/// The service made by [`Route`].
#[derive(Clone)]
pub struct RouteService<S> {
    inner: S,
    route: Route,
}

impl<S> tower::Service<HttpRequest> for RouteService<S>
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
        if req.uri().path() != self.route.path {
            return Box::pin(self.inner.call(req));
        }
        if req.method() != http::Method::GET {
            let refused = super::raw_read::get_only(self.route.path);
            return Box::pin(async move { Ok(refused) });
        }
        let query = req.uri().query().map(str::to_string);
        // team mode: the route's declared permission, for the workspace it reads
        if let Some(super::auth::Bearer(given)) = req.extensions().get::<super::auth::Bearer>() {
            let ctx = &self.route.ctx;
            let workspace = (self.route.path == nexus_sdk::methods::HTTP_FS_READ)
                .then(|| nexus_sdk::ReadBytesParams::from_query(query.as_deref().unwrap_or("")).ok())
                .flatten()
                .map(|p| p.workspace);
            let checked = ctx
                .authenticate(given.as_deref())
                .and_then(|caller| ctx.authorize(&caller, self.route.path, workspace.as_deref()));
            if let Err(e) = checked {
                let refused = super::raw_read::refusal(&e);
                return Box::pin(async move { Ok(refused) });
            }
        }
        let answer = (self.route.answer)(self.route.ctx.clone(), query);
        Box::pin(async move { Ok(answer.await) })
    }
}
