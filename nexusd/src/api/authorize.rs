//! An RPC middleware that, in team mode, checks every call before its
//! method runs: the token again (revocation, expiry, the person's status),
//! then `Manager::authorize` with the permission the method declares and
//! the workspace its parameters name. It hands the handler the [`Caller`]
//! (request extensions) and writes the audit row of every refusal and of
//! every call that changes something, with its outcome. In single-user mode
//! it passes calls on untouched.

use super::Ctx;
use super::auth::Bearer;
use crate::workspace::Caller;
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::Request;
use nexus_sdk::methods as m;
use nexus_sdk::team::Mode;
use std::future::Future;

/// Wraps the method router.
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    ctx: Ctx,
}

impl<S> Authorize<S> {
    /// `inner` behind the checks of `ctx`'s mode.
    pub fn new(inner: S, ctx: Ctx) -> Authorize<S> {
        Authorize { inner, ctx }
    }
}

/// The caller a handler serves: [`Caller::Local`] in single-user mode.
pub fn caller_of(ext: &http::Extensions) -> Caller {
    ext.get::<Caller>().cloned().unwrap_or(Caller::Local)
}

/// What the parameters name: the workspace acted on, and the audit row's
/// detail (a few named fields, never a secret).
fn target(ctx: &Ctx, method: &str, params: Option<&serde_json::Value>) -> (Option<String>, String) {
    let field = |k: &str| {
        params
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let workspace = match method {
        m::WORKSPACE_CREATE => None,
        m::EXEC_WRITE | m::EXEC_CLOSE_STDIN | m::EXEC_RESIZE | m::EXEC_SIGNAL | m::EXEC_KILL => {
            field("execId").and_then(|id| ctx.channels.workspace_of(&id))
        }
        m::TUNNEL_WRITE | m::TUNNEL_CLOSE => field("tunnelId").and_then(|id| ctx.channels.workspace_of(&id)),
        _ => field("workspace").or_else(|| field("name")).or_else(|| field("org")),
    };
    let mut detail = Vec::new();
    for k in [
        "name",
        "user",
        "permission",
        "expires",
        "checkpoint",
        "key",
        "reason",
        "minutes",
    ] {
        if let Some(v) = field(k)
            && !(k == "name" && method != m::WORKSPACE_CREATE && method != m::WORKSPACE_FORK)
        {
            detail.push(format!("{k}={v}"));
        }
    }
    (workspace, detail.join(" "))
}

/// The outcome an audit row gives a response.
fn outcome(resp: &MethodResponse) -> String {
    match resp.as_error_code() {
        None => "ok".into(),
        Some(code) => nexus_sdk::ErrorKind::from_code(code)
            .and_then(|k| serde_json::to_value(k).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("error {code}")),
    }
}

impl<S> RpcServiceT for Authorize<S>
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

    fn call<'a>(&self, mut request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let ctx = self.ctx.clone();
        async move {
            if ctx.mode() == Mode::Single {
                return inner.call(request).await;
            }
            let method = request.method_name().to_string();
            let bearer = request.extensions().get::<Bearer>().and_then(|b| b.0.clone());
            let params: Option<serde_json::Value> = request.params().parse().ok();
            let (workspace, detail) = target(&ctx, &method, params.as_ref());
            let checked = ctx
                .authenticate(bearer.as_deref())
                .and_then(|caller| ctx.authorize(&caller, &method, workspace.as_deref()).map(|()| caller));
            let audited = !nexus_sdk::team::read_only(&method) && method != m::AUTH_LOGIN;
            let target = workspace
                .clone()
                .or_else(|| {
                    (method == m::WORKSPACE_CREATE)
                        .then(|| {
                            params
                                .as_ref()
                                .and_then(|p| p.get("name"))
                                .and_then(|v| v.as_str())
                                .map(str::to_string)
                        })
                        .flatten()
                })
                .unwrap_or_default();
            let caller = match checked {
                Ok(c) => c,
                Err(e) => {
                    let actor = ctx
                        .authenticate(bearer.as_deref())
                        .map(|c| c.actor().to_string())
                        .unwrap_or_else(|_| "-".into());
                    let why = serde_json::to_value(e.kind())
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    ctx.audit(&actor, &method, &target, &format!("denied: {why}"), &detail);
                    return MethodResponse::error(request.id().into_owned(), super::to_rpc_error(&e));
                }
            };
            request.extensions_mut().insert(caller.clone());
            let resp = inner.call(request).await;
            if audited {
                ctx.audit(caller.actor(), &method, &target, &outcome(&resp), &detail);
            }
            resp
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let team = self.ctx.mode() == Mode::Team;
        async move {
            if team {
                // the router runs a batch's calls itself, past these checks
                let e = jsonrpsee::types::ErrorObjectOwned::owned(
                    nexus_sdk::ErrorKind::InvalidRequest.code(),
                    "batches are not served in team mode: send the calls one by one",
                    Some(nexus_sdk::RpcErrorData {
                        kind: nexus_sdk::ErrorKind::InvalidRequest,
                        step: None,
                    }),
                );
                return MethodResponse::error(jsonrpsee::types::Id::Null, e);
            }
            inner.batch(requests).await
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let team = self.ctx.mode() == Mode::Team;
        async move {
            if team {
                // notifications carry no answer to refuse with: none runs in team mode
                return MethodResponse::notification();
            }
            inner.notification(n).await
        }
    }
}
