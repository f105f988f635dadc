//! Plain HTTP routes beside the JSON-RPC server, as tower layers:
//! `GET /health` (in front of [`super::BearerAuth`]: no token) and
//! `GET /metrics` (behind it: the API's token).

use super::Ctx;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An answer to a route's request.
type Answer = fn(Ctx) -> Pin<Box<dyn Future<Output = HttpResponse> + Send>>;

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
            answer: |ctx| {
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
            answer: |ctx| {
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
        if req.method() == http::Method::GET && req.uri().path() == self.route.path {
            let answer = (self.route.answer)(self.route.ctx.clone());
            return Box::pin(async move { Ok(answer.await) });
        }
        Box::pin(self.inner.call(req))
    }
}
