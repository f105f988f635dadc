//! The JSON-RPC 2.0 API: every method is registered here, in one place; each
//! resource has its own module. Method names come from `nexus_sdk::methods`.

mod auth;
mod authorize;
mod checkpoint;
mod dashboard;
mod error;
mod events;
mod exec;
mod fs;
mod mcp;
mod methods;
mod ports;
mod raw_read;
mod routes;
mod team;
mod tunnel;
mod workspace;

pub use auth::BearerAuth;
pub use authorize::Authorize;
pub use dashboard::Dashboard;
pub use error::to_rpc_error;
pub use exec::EXEC_FAILED;
pub use mcp::McpRoute;
pub use methods::KnownMethods;
pub use routes::Route;

use crate::workspace::Output;
use crate::workspace::{Caller, Manager};
use error::RpcResult;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionSink};
use nexus_sdk::methods as m;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Shared state of every handler (jsonrpsee hands it out in an `Arc`).
pub type Ctx = Arc<Manager>;

/// Runs a handler so a panic in it becomes an `internal` error for that one
/// request instead of taking the connection down.
pub(crate) async fn guarded<T>(fut: impl Future<Output = Result<T, ErrorObjectOwned>>) -> Result<T, ErrorObjectOwned> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!("a request handler panicked");
            Err(to_rpc_error(&crate::error::WorkspaceError::Internal(
                "the daemon hit a bug handling this request; see its log".into(),
            )))
        }
    }
}

/// Runs a subscription's checks as [`guarded`] does; when they fail, refuses
/// the subscription with the error (no notification is ever sent) and
/// returns `None`, else their value and the subscription still to accept.
pub(crate) async fn checked<T>(
    pending: PendingSubscriptionSink,
    checks: impl Future<Output = Result<T, ErrorObjectOwned>>,
) -> Option<(T, PendingSubscriptionSink)> {
    match guarded(checks).await {
        Ok(value) => Some((value, pending)),
        Err(e) => {
            pending.reject(e).await;
            None
        }
    }
}

/// What a subscription carrying a channel's output gets next.
pub(crate) enum Next {
    /// A chunk of output.
    Output(Output),
    /// The channel ended.
    Ended,
    /// The subscriber went away (unsubscribed or disconnected).
    Unsubscribed,
}

/// The next chunk of `rx`, or why there is none.
pub(crate) async fn next_output(rx: &mut mpsc::Receiver<Output>, sink: &SubscriptionSink) -> Next {
    tokio::select! {
        chunk = rx.recv() => chunk.map_or(Next::Ended, Next::Output),
        _ = sink.closed() => Next::Unsubscribed,
    }
}

/// Registers method `name` to run `handler` under [`guarded`].
fn method<T, F>(rpc: &mut RpcModule<Manager>, name: &'static str, handler: fn(Params<'static>, Ctx) -> F) -> Registered
where
    T: Serialize + Clone + Send + 'static,
    F: Future<Output = RpcResult<T>> + Send + 'static,
{
    register(rpc, name, false, move |p, ctx, _| handler(p, ctx))
}

/// Registers method `name` as [`method`] does; a call from a connection
/// that declared an agent (`trace.session`) is bracketed by snapshots of
/// the workspace it names, for Agent Trace.
fn traced<T, F>(rpc: &mut RpcModule<Manager>, name: &'static str, handler: fn(Params<'static>, Ctx) -> F) -> Registered
where
    T: Serialize + Clone + Send + 'static,
    F: Future<Output = RpcResult<T>> + Send + 'static,
{
    register(rpc, name, true, move |p, ctx, _| handler(p, ctx))
}

/// Registers method `name` to run `handler` with the [`Caller`], as [`method`] does.
fn method_as<T, F>(
    rpc: &mut RpcModule<Manager>,
    name: &'static str,
    handler: fn(Params<'static>, Ctx, Caller) -> F,
) -> Registered
where
    T: Serialize + Clone + Send + 'static,
    F: Future<Output = RpcResult<T>> + Send + 'static,
{
    register(rpc, name, false, move |p, ctx, ext| {
        handler(p, ctx, authorize::caller_of(&ext))
    })
}

/// What every method's registration shares: the handler under [`guarded`]
/// (with the request's extensions), `traced` calls bracketed for Agent
/// Trace, and the call counted.
fn register<T, F>(
    rpc: &mut RpcModule<Manager>,
    name: &'static str,
    traced: bool,
    handler: impl Fn(Params<'static>, Ctx, http::Extensions) -> F + Clone + Send + Sync + 'static,
) -> Registered
where
    T: Serialize + Clone + Send + 'static,
    F: Future<Output = RpcResult<T>> + Send + 'static,
{
    rpc.register_async_method(name, move |p, ctx, ext| {
        let handler = handler.clone();
        async move {
            let counted = ctx.clone();
            wake(&ctx, name, &p).await;
            let span = match traced {
                true => trace_begin(&ctx, &p, &ext).await,
                false => None,
            };
            let result = guarded(handler(p, ctx, ext)).await;
            if let Some(span) = span {
                counted.trace_end(span).await;
            }
            let kind = result
                .as_ref()
                .err()
                .map(|e| nexus_sdk::ErrorKind::from_code(e.code()).unwrap_or(nexus_sdk::ErrorKind::Internal));
            counted.metrics.request(name, kind);
            result
        }
    })?;
    Ok(())
}

/// The methods that need a running workspace and wake a sleeping one first
/// (paused or stopped while idle, `workspace/idle.rs`).
const WAKES: &[&str] = &[
    m::EXEC,
    m::EXEC_RUN,
    m::EXEC_STREAM,
    m::FS_READ_FILE,
    m::FS_WRITE_FILE,
    m::FS_EXISTS,
    m::FS_STAT,
    m::FS_READDIR,
    m::FS_MKDIR,
    m::FS_RM,
    m::FS_RENAME,
    m::FS_WATCH,
    m::TUNNEL_OPEN,
    m::PORTS_FORWARD,
];

/// Wakes the workspace a [`WAKES`] method names; a failure is left to the
/// handler to report (it finds the workspace not running).
async fn wake(ctx: &Ctx, method: &str, p: &Params<'_>) {
    if !WAKES.contains(&method) {
        return;
    }
    if let Some(ws) = workspace_param(p)
        && let Err(e) = ctx.wake(&ws).await
    {
        tracing::warn!(workspace = %ws, "cannot wake it for {method}: {e}");
    }
}

/// The JSON-RPC connection a request came on.
fn connection(ext: &http::Extensions) -> usize {
    ext.get::<jsonrpsee::ConnectionId>().map_or(usize::MAX, |c| c.0)
}

/// The `workspace` parameter of a request, if it has one.
fn workspace_param(p: &Params<'_>) -> Option<String> {
    // only the one field: the rest (an `fs.writeFile`'s content) is skipped, not built
    #[derive(serde::Deserialize)]
    struct Named {
        workspace: Option<String>,
    }
    p.parse::<Named>().ok().and_then(|n| n.workspace)
}

/// Begins an Agent Trace span for a call whose connection declared an agent.
async fn trace_begin(ctx: &Ctx, p: &Params<'_>, ext: &http::Extensions) -> Option<crate::workspace::Span> {
    let actor = ctx.trace_actor(connection(ext))?;
    ctx.trace_begin(&workspace_param(p)?, actor).await
}

/// Registers subscription `name` (its notifications `notification`, ended
/// by `unsubscribe`) to run `handler`. A panic in the handler ends that
/// subscription (logged), never the connection or the daemon.
fn subscription<F>(
    rpc: &mut RpcModule<Manager>,
    [name, notification, unsubscribe]: [&'static str; 3],
    traced: bool,
    handler: fn(Params<'static>, PendingSubscriptionSink, Ctx, Caller) -> F,
) -> Registered
where
    F: Future<Output = SubscriptionResult> + Send + 'static,
{
    rpc.register_subscription(name, notification, unsubscribe, move |p, sink, ctx, ext| async move {
        use futures::FutureExt;
        ctx.metrics.request(name, None);
        let caller = authorize::caller_of(&ext);
        let workspace = workspace_param(&p);
        wake(&ctx, name, &p).await;
        let span = match traced {
            true => trace_begin(&ctx, &p, &ext).await,
            false => None,
        };
        let served = std::panic::AssertUnwindSafe(handler(p, sink, ctx.clone(), caller.clone())).catch_unwind();
        let traced_ctx = ctx.clone();
        let ended = tokio::select! {
            r = served => match r {
                Ok(r) => r,
                Err(_) => {
                    tracing::error!("the handler of subscription {name} panicked");
                    Ok(())
                }
            },
            // team mode: the subscription ends within a second of its caller's access
            () = revoked(ctx, caller, name, workspace) => {
                tracing::info!("ended a subscription to {name}: the caller's access ended");
                // sent to the client as the subscription's closing error
                Err("your access ended (share ended, token revoked or expired, or account suspended)".into())
            }
        };
        if let Some(span) = span {
            traced_ctx.trace_end(span).await;
        }
        ended
    })?;
    Ok(())
}

/// Resolves once `caller` may no longer call `method` on `workspace`
/// (checked every second); never for a single-user caller.
async fn revoked(ctx: Ctx, caller: Caller, method: &'static str, workspace: Option<String>) {
    if !matches!(caller, Caller::Person(_)) {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        if !ctx.still_allowed(&caller, method, workspace.as_deref()) {
            return;
        }
    }
}

/// What a registration gives.
type Registered = Result<(), jsonrpsee::server::RegisterMethodError>;

/// Builds the module with every method.
pub fn module(manager: Ctx) -> Result<RpcModule<Manager>, jsonrpsee::server::RegisterMethodError> {
    let mut rpc = RpcModule::from_arc(manager);
    let discovered = Arc::new(nexus_sdk::openrpc::document());
    rpc.register_method(m::RPC_DISCOVER, move |_, _, _| (*discovered).clone())?;
    method(&mut rpc, m::TEMPLATE_LIST, |_, _| workspace::template_list())?;
    register(&mut rpc, m::TRACE_SESSION, false, |p, ctx, ext| async move {
        let params: nexus_sdk::TraceSessionParams = error::parse(&p)?;
        Ok(ctx.trace_session(connection(&ext), params)?)
    })?;
    method(&mut rpc, m::DAEMON_INFO, |_, ctx| workspace::daemon_info(ctx))?;
    method(&mut rpc, m::IMAGE_PRUNE, workspace::image_prune)?;
    method_as(&mut rpc, m::WORKSPACE_CREATE, workspace::create)?;
    method_as(&mut rpc, m::WORKSPACE_LIST, |_, ctx, caller| {
        workspace::list(ctx, caller)
    })?;
    method(&mut rpc, m::WORKSPACE_GET, workspace::get)?;
    method(&mut rpc, m::WORKSPACE_START, workspace::start)?;
    method(&mut rpc, m::WORKSPACE_REBUILD, workspace::rebuild)?;
    method(&mut rpc, m::WORKSPACE_STOP, workspace::stop)?;
    method(&mut rpc, m::WORKSPACE_IDLE, workspace::idle)?;
    method(&mut rpc, m::WORKSPACE_REMOVE, workspace::remove)?;
    method(&mut rpc, m::WORKSPACE_CHECKPOINT_CREATE, checkpoint::create)?;
    method(&mut rpc, m::WORKSPACE_CHECKPOINT_LIST, checkpoint::list)?;
    method(&mut rpc, m::WORKSPACE_CHECKPOINT_REMOVE, checkpoint::remove)?;
    method(&mut rpc, m::WORKSPACE_RESTORE, checkpoint::restore)?;
    method_as(&mut rpc, m::WORKSPACE_FORK, checkpoint::fork)?;
    let logs = [
        m::WORKSPACE_LOGS,
        m::WORKSPACE_LOGS_NOTIFICATION,
        m::WORKSPACE_LOGS_UNSUBSCRIBE,
    ];
    subscription(&mut rpc, logs, false, workspace::logs)?;
    let stats = [
        m::WORKSPACE_STATS,
        m::WORKSPACE_STATS_NOTIFICATION,
        m::WORKSPACE_STATS_UNSUBSCRIBE,
    ];
    subscription(&mut rpc, stats, false, workspace::stats)?;
    traced(&mut rpc, m::EXEC_RUN, exec::run)?;
    rpc.register_alias(m::EXEC, m::EXEC_RUN)?;
    method(&mut rpc, m::EXEC_WRITE, exec::write)?;
    method(&mut rpc, m::EXEC_CLOSE_STDIN, exec::close_stdin)?;
    method(&mut rpc, m::EXEC_RESIZE, exec::resize)?;
    method(&mut rpc, m::EXEC_SIGNAL, exec::send_signal)?;
    method(&mut rpc, m::EXEC_KILL, exec::kill)?;
    let stream = [m::EXEC_STREAM, m::EXEC_STREAM_NOTIFICATION, m::EXEC_STREAM_UNSUBSCRIBE];
    subscription(&mut rpc, stream, true, exec::stream)?;
    let events = [m::EVENTS_SUBSCRIBE, m::EVENTS_NOTIFICATION, m::EVENTS_UNSUBSCRIBE];
    subscription(&mut rpc, events, false, events::subscribe)?;
    method(&mut rpc, m::FS_READ_FILE, fs::read_file)?;
    traced(&mut rpc, m::FS_WRITE_FILE, fs::write_file)?;
    method(&mut rpc, m::FS_EXISTS, fs::exists)?;
    method(&mut rpc, m::FS_STAT, fs::stat)?;
    method(&mut rpc, m::FS_READDIR, fs::readdir)?;
    method(&mut rpc, m::FS_MKDIR, fs::mkdir)?;
    traced(&mut rpc, m::FS_RM, fs::rm)?;
    traced(&mut rpc, m::FS_RENAME, fs::rename)?;
    method(&mut rpc, m::PORTS_LIST, ports::list)?;
    method(&mut rpc, m::PORTS_FORWARD, ports::forward)?;
    method(&mut rpc, m::PORTS_UNFORWARD, ports::unforward)?;
    let watch = [m::FS_WATCH, m::FS_WATCH_NOTIFICATION, m::FS_WATCH_UNSUBSCRIBE];
    subscription(&mut rpc, watch, false, fs::watch)?;
    let tunnel = [m::TUNNEL_OPEN, m::TUNNEL_NOTIFICATION, m::TUNNEL_UNSUBSCRIBE];
    subscription(&mut rpc, tunnel, false, tunnel::open)?;
    method(&mut rpc, m::TUNNEL_WRITE, tunnel::write)?;
    method(&mut rpc, m::TUNNEL_CLOSE, tunnel::close)?;
    method(&mut rpc, m::AUTH_CHALLENGE, |_, ctx| team::challenge(ctx))?;
    method(&mut rpc, m::AUTH_LOGIN, team::login)?;
    method_as(&mut rpc, m::AUTH_LOGOUT, |_, ctx, caller| team::logout(ctx, caller))?;
    method_as(&mut rpc, m::AUTH_WHOAMI, |_, ctx, caller| team::whoami(ctx, caller))?;
    method_as(&mut rpc, m::AUTH_DASHBOARD_LINK, |_, ctx, caller| {
        team::dashboard_link(ctx, caller)
    })?;
    method(&mut rpc, m::USER_ADD, team::user_add)?;
    method(&mut rpc, m::USER_LIST, |_, ctx| team::user_list(ctx))?;
    method_as(&mut rpc, m::USER_SUSPEND, team::user_suspend)?;
    method_as(&mut rpc, m::USER_RESUME, team::user_resume)?;
    method_as(&mut rpc, m::USER_REMOVE, team::user_remove)?;
    method(&mut rpc, m::USER_POLICY, team::user_policy)?;
    method(&mut rpc, m::USER_QUOTA, team::user_quota)?;
    method_as(&mut rpc, m::USER_KEY_ADD, team::key_add)?;
    method_as(&mut rpc, m::USER_KEY_REMOVE, team::key_remove)?;
    method_as(&mut rpc, m::TOKEN_CREATE, team::token_create)?;
    method_as(&mut rpc, m::TOKEN_LIST, |_, ctx, caller| team::token_list(ctx, caller))?;
    method_as(&mut rpc, m::TOKEN_REVOKE, team::token_revoke)?;
    method_as(&mut rpc, m::WORKSPACE_SHARE, team::share)?;
    method(&mut rpc, m::WORKSPACE_UNSHARE, team::unshare)?;
    method(&mut rpc, m::WORKSPACE_SHARES, team::shares)?;
    method_as(&mut rpc, m::WORKSPACE_LEAVE, team::leave)?;
    method(&mut rpc, m::WORKSPACE_SESSIONS, team::sessions)?;
    method_as(&mut rpc, m::WORKSPACE_SHARE_CODE, team::share_code)?;
    method_as(&mut rpc, m::WORKSPACE_ACCEPT, team::accept)?;
    method(&mut rpc, m::WORKSPACE_TRANSFER, team::transfer)?;
    method_as(&mut rpc, m::WORKSPACE_BREAK_GLASS, team::break_glass)?;
    method_as(&mut rpc, m::ORG_CREATE, team::org_create)?;
    method_as(&mut rpc, m::ORG_LIST, |_, ctx, caller| team::org_list(ctx, caller))?;
    method_as(&mut rpc, m::ORG_SHOW, team::org_show)?;
    method_as(&mut rpc, m::ORG_DELETE, team::org_delete)?;
    method_as(&mut rpc, m::ORG_SWITCH, team::org_switch)?;
    method_as(&mut rpc, m::ORG_INVITE, team::org_invite)?;
    method_as(&mut rpc, m::ORG_JOIN, team::org_join)?;
    method_as(&mut rpc, m::ORG_MEMBERS_UPDATE, team::org_member_update)?;
    method_as(&mut rpc, m::ORG_MEMBERS_REMOVE, team::org_member_remove)?;
    method_as(&mut rpc, m::ORG_LEAVE, team::org_leave)?;
    method_as(&mut rpc, m::ORG_POLICY, team::org_policy)?;
    method_as(&mut rpc, m::ORG_QUOTA, team::org_quota)?;
    method_as(&mut rpc, m::ORG_USAGE, team::org_usage)?;
    method_as(&mut rpc, m::TEAM_CREATE, team::team_create)?;
    method_as(&mut rpc, m::TEAM_LIST, team::team_list)?;
    method_as(&mut rpc, m::TEAM_ADD_MEMBER, team::team_add)?;
    method_as(&mut rpc, m::TEAM_REMOVE_MEMBER, team::team_remove)?;
    method(&mut rpc, m::AUDIT_LIST, team::audit_list)?;
    method(&mut rpc, m::AUDIT_VERIFY, |_, ctx| team::audit_verify(ctx))?;
    Ok(rpc)
}
