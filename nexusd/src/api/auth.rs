//! Bearer-token authentication of every HTTP and WebSocket request, as a
//! tower layer in front of the JSON-RPC server (`GET /health` is answered
//! before it, by `routes.rs`).

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use nexus_sdk::{ErrorKind, RpcErrorData};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The layer: requests without `Authorization: Bearer <token>` get HTTP 401
/// with a JSON-RPC error body of kind `unauthorized`.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    token: Arc<String>,
}

impl BearerAuth {
    /// A layer accepting `token`.
    pub fn new(token: String) -> BearerAuth {
        BearerAuth { token: Arc::new(token) }
    }
}

impl<S> tower::Layer<S> for BearerAuth {
    type Service = BearerAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuthService {
            inner,
            token: self.token.clone(),
        }
    }
}

/// The service made by [`BearerAuth`].
#[derive(Debug, Clone)]
pub struct BearerAuthService<S> {
    inner: S,
    token: Arc<String>,
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(req: &HttpRequest, token: &str) -> bool {
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
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

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        if authorized(&req, &self.token) {
            return Box::pin(self.inner.call(req));
        }
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": ErrorKind::Unauthorized.code(),
                "message": "missing or wrong bearer token: send `Authorization: Bearer <token>` with the token from the daemon's token file",
                "data": RpcErrorData { kind: ErrorKind::Unauthorized, step: None },
            }
        });
        Box::pin(async move { Ok(response(401, body.to_string())) })
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
