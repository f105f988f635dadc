//! `events.subscribe`: progress and state changes, for one workspace or all.

use super::error::parse;
use super::{Ctx, checked};
use crate::workspace::Caller;
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::Params;
use nexus_sdk::EventsParams;
use tokio::sync::broadcast::error::RecvError;

/// `events.subscribe`: always valid; in team mode it carries only events
/// of workspaces the caller may see (checked per event, so a share that
/// ends stops them).
pub async fn subscribe(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    caller: Caller,
) -> SubscriptionResult {
    let Some((params, pending)) = checked(pending, async { parse::<EventsParams>(&p) }).await else {
        return Ok(());
    };
    let mut rx = ctx.events.subscribe();
    let sink = pending.accept().await?;
    // port watchers run while someone listens
    let _wanted = ctx.want_port_events(params.workspace.as_deref());
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if params.workspace.as_deref().is_some_and(|w| w != ev.workspace()) {
                        continue;
                    }
                    // team mode: only events of workspaces the caller may see
                    if caller != Caller::Local && !ctx.may_see(&caller, ev.workspace()) {
                        continue;
                    }
                    sink.send(serde_json::value::to_raw_value(&ev)?).await?;
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
            _ = sink.closed() => break,
        }
    }
    Ok(())
}
