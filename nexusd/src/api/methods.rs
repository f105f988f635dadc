//! An RPC middleware that answers calls of unknown methods itself, with
//! JSON-RPC's "Method not found" code and `data.kind` `method_not_found`
//! (jsonrpsee's own answer carries no `data`).

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Request};
use nexus_sdk::{ErrorKind, RpcErrorData};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

/// Wraps the method router; `names` are every registered method.
#[derive(Clone)]
pub struct KnownMethods<S> {
    inner: S,
    names: Arc<HashSet<&'static str>>,
}

impl<S> KnownMethods<S> {
    /// `inner` behind a check of method names against `names`.
    pub fn new(inner: S, names: Arc<HashSet<&'static str>>) -> KnownMethods<S> {
        KnownMethods { inner, names }
    }
}

/// The error of a call to `method`, which does not exist.
pub fn not_found(method: &str) -> ErrorObjectOwned {
    let data = RpcErrorData {
        kind: ErrorKind::MethodNotFound,
        step: None,
    };
    ErrorObjectOwned::owned(
        ErrorKind::MethodNotFound.code(),
        format!("no method {method:?}: see rpc.discover or docs/protocol.md for the methods"),
        Some(data),
    )
}

impl<S> RpcServiceT for KnownMethods<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let known = self.names.contains(request.method_name());
        let inner = self.inner.clone();
        async move {
            if known {
                inner.call(request).await
            } else {
                MethodResponse::error(request.id().into_owned(), not_found(request.method_name()))
            }
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.batch(requests)
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}
