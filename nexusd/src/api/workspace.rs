//! `workspace.*` and `daemon.info`. Records become `nexus_sdk::Workspace`
//! here, at the boundary.

use super::error::{RpcResult, parse};
use super::{Ctx, checked};
use crate::workspace::Caller;
use crate::workspace::Record as WorkspaceRecord;
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::Params;
use nexus_sdk::{
    CreateParams, DaemonInfo, ImagePruneParams, ImagePruneResult, LogChunk, LogsParams, NameParams, RemoveParams,
    Workspace,
};

/// The wire form of a record.
pub fn to_wire(r: &WorkspaceRecord) -> Workspace {
    Workspace {
        id: r.id.clone(),
        name: r.name.clone(),
        state: r.state,
        repository: r.repository.clone(),
        worktree: r.worktree.clone(),
        branch: r.branch.clone(),
        image: r.image.clone(),
        remote_user: r.remote_user.clone(),
        workspace_folder: r.workspace_folder.clone(),
        ssh_host: "127.0.0.1".into(),
        ssh_port: r.ssh_port,
        host_public_key: r.host_public_key.clone(),
        created_at: r.created_at,
        customizations: crate::workspace::devcontainer_of(r).and_then(|m| m.merged.config.customizations),
        owner: None,
        agent_version: r.agent_version.clone(),
        state_reason: r.state_reason.clone(),
        idle: r.idle(),
        docker: r.docker,
    }
}

/// `daemon.info`: always valid.
pub async fn daemon_info(ctx: Ctx) -> RpcResult<DaemonInfo> {
    Ok(DaemonInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        port_range: ctx.port_range(),
        mode: ctx.mode(),
        api_version: nexus_sdk::API_VERSION,
        api_min: nexus_sdk::API_MIN,
    })
}

/// `template.list`: always valid.
pub async fn template_list() -> RpcResult<Vec<nexus_sdk::TemplateInfo>> {
    Ok(crate::workspace::TEMPLATES
        .iter()
        .map(|t| nexus_sdk::TemplateInfo {
            name: t.name.into(),
            description: t.description.into(),
            image: t.image.into(),
            devcontainer_json: t.devcontainer_json.into(),
        })
        .collect())
}

/// `workspace.create`: valid for a name no workspace has; in team mode the
/// caller becomes its creator.
pub async fn create(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Workspace> {
    let params: CreateParams = parse(&p)?;
    Ok(ctx.create(params, caller.user_id()).await.map(|r| to_wire(&r))?)
}

/// `workspace.list`: always valid; in team mode, the workspaces the caller may see.
pub async fn list(ctx: Ctx, caller: Caller) -> RpcResult<Vec<Workspace>> {
    let records = ctx.visible(&caller, ctx.list()?)?;
    Ok(records
        .iter()
        .map(|r| Workspace {
            owner: ctx.owner_name(r),
            ..to_wire(r)
        })
        .collect())
}

/// `workspace.get`: valid in any state.
pub async fn get(p: Params<'static>, ctx: Ctx) -> RpcResult<Workspace> {
    let NameParams { workspace: name } = parse(&p)?;
    let r = ctx.get(&name)?;
    Ok(Workspace {
        owner: ctx.owner_name(&r),
        ..to_wire(&r)
    })
}

/// `workspace.start`: valid when running or stopped.
pub async fn start(p: Params<'static>, ctx: Ctx) -> RpcResult<Workspace> {
    let NameParams { workspace: name } = parse(&p)?;
    Ok(ctx.start(&name).await.map(|r| to_wire(&r))?)
}

/// `workspace.rebuild`: valid when running or stopped.
pub async fn rebuild(p: Params<'static>, ctx: Ctx) -> RpcResult<Workspace> {
    let NameParams { workspace: name } = parse(&p)?;
    let r = ctx.rebuild(&name).await?;
    ctx.prune_in_background();
    Ok(to_wire(&r))
}

/// `workspace.stop`: valid when running or stopped.
pub async fn stop(p: Params<'static>, ctx: Ctx) -> RpcResult<Workspace> {
    let NameParams { workspace: name } = parse(&p)?;
    Ok(ctx.stop(&name).await.map(|r| to_wire(&r))?)
}

/// `workspace.idle`: valid in any settled state.
pub async fn idle(p: Params<'static>, ctx: Ctx) -> RpcResult<Workspace> {
    let params: nexus_sdk::IdleParams = parse(&p)?;
    let settings = nexus_sdk::IdleSettings {
        pause_after_seconds: params.pause_after_seconds,
        stop_after_seconds: params.stop_after_seconds,
    };
    Ok(ctx.set_idle(&params.workspace, settings).map(|r| to_wire(&r))?)
}

/// `workspace.remove`: valid in any state; re-running an interrupted remove finishes it.
pub async fn remove(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: RemoveParams = parse(&p)?;
    ctx.remove(&params.workspace, params.force, params.delete_branch)
        .await?;
    ctx.prune_in_background();
    Ok(())
}

/// `image.prune`: always valid.
pub async fn image_prune(p: Params<'static>, ctx: Ctx) -> RpcResult<ImagePruneResult> {
    let params: ImagePruneParams = parse(&p)?;
    Ok(ctx.image_prune(params.all, params.dry_run).await?)
}

/// `workspace.logs`: valid while the container exists.
pub async fn logs(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    _caller: crate::workspace::Caller,
) -> SubscriptionResult {
    let checks = async {
        let params: LogsParams = parse(&p)?;
        Ok(ctx.logs(&params.workspace, params.follow).await?)
    };
    let Some((mut stream, pending)) = checked(pending, checks).await else {
        return Ok(());
    };
    let sink = pending.accept().await?;
    use futures::StreamExt;
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok((stream_name, text))) => {
                    let msg = serde_json::value::to_raw_value(&LogChunk { stream: stream_name, text, end: false })?;
                    sink.send(msg).await?;
                }
                Some(Err(e)) => {
                    tracing::warn!("log stream ended: {e}");
                    break;
                }
                None => break,
            },
            _ = sink.closed() => return Ok(()),
        }
    }
    let end = LogChunk {
        stream: nexus_sdk::LogStream::Stdout,
        text: String::new(),
        end: true,
    };
    sink.send(serde_json::value::to_raw_value(&end)?).await?;
    Ok(())
}

/// `workspace.stats`: valid while the workspace runs. The held samples
/// (the last 15 minutes with `history`), then each new one; ends when the
/// workspace stops.
pub async fn stats(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    _caller: crate::workspace::Caller,
) -> SubscriptionResult {
    let checks = async {
        let params: nexus_sdk::StatsParams = parse(&p)?;
        Ok(ctx.stats_watch(&params.workspace, params.history)?)
    };
    let Some(((held, mut rx, _watching), pending)) = checked(pending, checks).await else {
        return Ok(());
    };
    let sink = pending.accept().await?;
    for s in held {
        sink.send(serde_json::value::to_raw_value(&s)?).await?;
    }
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Ok(s) => sink.send(serde_json::value::to_raw_value(&s)?).await?,
                // a subscriber too slow for one a second: it misses some
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = sink.closed() => return Ok(()),
        }
    }
}
