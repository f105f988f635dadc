//! The JSON-RPC 2.0 API: every method is registered here, in one place; each
//! resource has its own module. Method names come from `nexus_sdk::methods`.

mod auth;
mod error;
mod events;
mod exec;
mod fs;
mod methods;
mod ports;
mod raw_read;
mod tunnel;
mod workspace;

pub use auth::BearerAuth;
pub use error::to_rpc_error;
pub use exec::EXEC_FAILED;
pub use methods::KnownMethods;
pub use raw_read::RawRead;

use crate::workspace::Manager;
use crate::workspace::Output;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionSink};
use nexus_sdk::methods as m;
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

/// Builds the module with every method.
pub fn module(manager: Ctx) -> Result<RpcModule<Manager>, jsonrpsee::server::RegisterMethodError> {
    let mut rpc = RpcModule::from_arc(manager);
    let discovered = Arc::new(nexus_sdk::openrpc::document());
    rpc.register_method(m::RPC_DISCOVER, move |_, _, _| (*discovered).clone())?;
    rpc.register_async_method(m::TEMPLATE_LIST, |_, _, _| async move {
        guarded(workspace::template_list()).await
    })?;
    rpc.register_async_method(m::DAEMON_INFO, |_, ctx, _| async move {
        guarded(workspace::daemon_info(ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_CREATE, |p, ctx, _| async move {
        guarded(workspace::create(p, ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_LIST, |_, ctx, _| async move {
        guarded(workspace::list(ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_GET, |p, ctx, _| async move {
        guarded(workspace::get(p, ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_START, |p, ctx, _| async move {
        guarded(workspace::start(p, ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_REBUILD, |p, ctx, _| async move {
        guarded(workspace::rebuild(p, ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_STOP, |p, ctx, _| async move {
        guarded(workspace::stop(p, ctx)).await
    })?;
    rpc.register_async_method(m::WORKSPACE_REMOVE, |p, ctx, _| async move {
        guarded(workspace::remove(p, ctx)).await
    })?;
    rpc.register_subscription(
        m::WORKSPACE_LOGS,
        m::WORKSPACE_LOGS_NOTIFICATION,
        m::WORKSPACE_LOGS_UNSUBSCRIBE,
        |p, sink, ctx, _| async move { workspace::logs(p, sink, ctx).await },
    )?;
    rpc.register_async_method(m::EXEC_RUN, |p, ctx, _| async move { guarded(exec::run(p, ctx)).await })?;
    rpc.register_alias(m::EXEC, m::EXEC_RUN)?;
    rpc.register_async_method(
        m::EXEC_WRITE,
        |p, ctx, _| async move { guarded(exec::write(p, ctx)).await },
    )?;
    rpc.register_async_method(m::EXEC_CLOSE_STDIN, |p, ctx, _| async move {
        guarded(exec::close_stdin(p, ctx)).await
    })?;
    rpc.register_async_method(m::EXEC_RESIZE, |p, ctx, _| async move {
        guarded(exec::resize(p, ctx)).await
    })?;
    rpc.register_async_method(m::EXEC_SIGNAL, |p, ctx, _| async move {
        guarded(exec::send_signal(p, ctx)).await
    })?;
    rpc.register_async_method(
        m::EXEC_KILL,
        |p, ctx, _| async move { guarded(exec::kill(p, ctx)).await },
    )?;
    rpc.register_subscription(
        m::EXEC_STREAM,
        m::EXEC_STREAM_NOTIFICATION,
        m::EXEC_STREAM_UNSUBSCRIBE,
        |p, sink, ctx, _| async move { exec::stream(p, sink, ctx).await },
    )?;
    rpc.register_subscription(
        m::EVENTS_SUBSCRIBE,
        m::EVENTS_NOTIFICATION,
        m::EVENTS_UNSUBSCRIBE,
        |p, sink, ctx, _| async move { events::subscribe(p, sink, ctx).await },
    )?;
    rpc.register_async_method(m::FS_READ_FILE, |p, ctx, _| async move {
        guarded(fs::read_file(p, ctx)).await
    })?;
    rpc.register_async_method(m::FS_WRITE_FILE, |p, ctx, _| async move {
        guarded(fs::write_file(p, ctx)).await
    })?;
    rpc.register_async_method(
        m::FS_EXISTS,
        |p, ctx, _| async move { guarded(fs::exists(p, ctx)).await },
    )?;
    rpc.register_async_method(m::FS_STAT, |p, ctx, _| async move { guarded(fs::stat(p, ctx)).await })?;
    rpc.register_async_method(
        m::FS_READDIR,
        |p, ctx, _| async move { guarded(fs::readdir(p, ctx)).await },
    )?;
    rpc.register_async_method(m::FS_MKDIR, |p, ctx, _| async move { guarded(fs::mkdir(p, ctx)).await })?;
    rpc.register_async_method(m::FS_RM, |p, ctx, _| async move { guarded(fs::rm(p, ctx)).await })?;
    rpc.register_async_method(
        m::FS_RENAME,
        |p, ctx, _| async move { guarded(fs::rename(p, ctx)).await },
    )?;
    rpc.register_async_method(
        m::PORTS_LIST,
        |p, ctx, _| async move { guarded(ports::list(p, ctx)).await },
    )?;
    rpc.register_async_method(m::PORTS_FORWARD, |p, ctx, _| async move {
        guarded(ports::forward(p, ctx)).await
    })?;
    rpc.register_async_method(m::PORTS_UNFORWARD, |p, ctx, _| async move {
        guarded(ports::unforward(p, ctx)).await
    })?;
    rpc.register_subscription(
        m::FS_WATCH,
        m::FS_WATCH_NOTIFICATION,
        m::FS_WATCH_UNSUBSCRIBE,
        |p, sink, ctx, _| async move { fs::watch(p, sink, ctx).await },
    )?;
    rpc.register_subscription(
        m::TUNNEL_OPEN,
        m::TUNNEL_NOTIFICATION,
        m::TUNNEL_UNSUBSCRIBE,
        |p, sink, ctx, _| async move { tunnel::open(p, sink, ctx).await },
    )?;
    rpc.register_async_method(m::TUNNEL_WRITE, |p, ctx, _| async move {
        guarded(tunnel::write(p, ctx)).await
    })?;
    rpc.register_async_method(m::TUNNEL_CLOSE, |p, ctx, _| async move {
        guarded(tunnel::close(p, ctx)).await
    })?;
    Ok(rpc)
}
