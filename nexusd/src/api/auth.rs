//! Bearer-token authentication of every HTTP and WebSocket request, as a
//! tower layer in front of the JSON-RPC server (`GET /health` is answered
//! before it, by `routes.rs`).
//!
//! Single-user mode: the daemon's one token, compared in constant time.
//! Browsers: the dashboard's session cookie (`dashboard.rs`) instead of a
//! token; a WebSocket upgrade or any request but a plain `GET` carrying it
//! must come from the daemon's own `Origin`, else it gets 403.
//! Team mode: a request may come without a token (anonymous methods only);
//! one with a token that is malformed, unknown, revoked or expired gets 401
//! here, and the token is kept in the request ([`Bearer`]) so every call
//! over the connection is checked again (`authorize.rs`).

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use nexus_sdk::{ErrorKind, RpcErrorData};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The bearer token a request came with (team mode), for the checks of each call.
#[derive(Debug, Clone, Default)]
pub struct Bearer(pub Option<String>);

/// The layer: requests without `Authorization: Bearer <token>` get HTTP 401
/// with a JSON-RPC error body of kind `unauthorized`.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    token: Arc<String>,
    ctx: super::Ctx,
}

impl BearerAuth {
    /// A layer accepting `token` in single-user mode, and people's tokens
    /// through `ctx` in team mode.
    pub fn new(token: String, ctx: super::Ctx) -> BearerAuth {
        BearerAuth {
            token: Arc::new(token),
            ctx,
        }
    }
}

impl<S> tower::Layer<S> for BearerAuth {
    type Service = BearerAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuthService {
            inner,
            token: self.token.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

/// The service made by [`BearerAuth`].
#[derive(Debug, Clone)]
pub struct BearerAuthService<S> {
    inner: S,
    token: Arc<String>,
    ctx: super::Ctx,
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request's bearer token, if any.
fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn authorized(req: &HttpRequest, token: &str) -> bool {
    bearer(req).is_some_and(|given| same(given.as_bytes(), token.as_bytes()))
}

/// An HTTP `status` answer with a JSON-RPC error body of `kind` and `message`.
fn refusal(status: u16, kind: ErrorKind, message: &str) -> HttpResponse {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": kind.code(),
            "message": message,
            "data": RpcErrorData { kind, step: None },
        }
    });
    response(status, body.to_string())
}

/// The 401 answer with `message`.
fn unauthorized(message: &str) -> HttpResponse {
    refusal(401, ErrorKind::Unauthorized, message)
}

/// Whether a request authenticated by the session cookie may go on: a
/// plain `GET` (what a page's links and images send), or anything else
/// (a WebSocket upgrade, a `POST`) from the daemon's own `Origin`.
fn cookie_allowed(req: &HttpRequest) -> bool {
    let plain_get = req.method() == http::Method::GET && !req.headers().contains_key(http::header::UPGRADE);
    plain_get || super::dashboard::same_origin(req)
}

/// The 403 answer to a cookie sent from a foreign `Origin`.
fn forbidden_origin() -> HttpResponse {
    refusal(
        403,
        ErrorKind::Forbidden,
        "the dashboard's session cookie is accepted from the dashboard's own origin only",
    )
}

/// An HTTP answer with a JSON `body`.
pub(super) fn response(status: u16, body: String) -> HttpResponse {
    let mut resp = HttpResponse::new(HttpBody::from(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

impl<S> tower::Service<HttpRequest> for BearerAuthService<S>
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

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        // a browser's session cookie stands in for the token, from the daemon's own pages only
        let cookie = bearer(&req)
            .is_none()
            .then(|| super::dashboard::cookie(&req, super::dashboard::SESSION_COOKIE))
            .flatten();
        if cookie.is_some() && !cookie_allowed(&req) {
            let refused = forbidden_origin();
            return Box::pin(async move { Ok(refused) });
        }
        if self.ctx.mode() == nexus_sdk::team::Mode::Team {
            let given = bearer(&req).or(cookie);
            if let Err(e) = self.ctx.authenticate(given.as_deref()) {
                // a refused token is a denial too (never the token itself)
                self.ctx
                    .audit("-", "connect", req.uri().path(), "denied: unauthorized", "");
                let refused = unauthorized(&e.to_string());
                return Box::pin(async move { Ok(refused) });
            }
            req.extensions_mut().insert(Bearer(given));
            return Box::pin(self.inner.call(req));
        }
        if authorized(&req, &self.token) || cookie.is_some_and(|c| self.ctx.dashboard_session(&c)) {
            return Box::pin(self.inner.call(req));
        }
        let refused = unauthorized(
            "missing or wrong bearer token: send `Authorization: Bearer <token>` with the token from the daemon's token file",
        );
        Box::pin(async move { Ok(refused) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens_exactly() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
