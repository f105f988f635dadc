//! `workspace.checkpoint.*` and `workspace.restore`. Checkpoint rows become
//! `nexus_sdk::Checkpoint` here, at the boundary.

use super::Ctx;
use super::error::{RpcResult, parse};
use crate::workspace::CheckpointRecord;
use jsonrpsee::types::Params;
use nexus_sdk::{Checkpoint, CheckpointCreateParams, CheckpointParams, ForkParams, NameParams, Workspace};

/// The wire form of checkpoint `c` of the workspace of `repository`.
async fn to_wire(ctx: &Ctx, repository: &str, c: &CheckpointRecord) -> Checkpoint {
    Checkpoint {
        name: c.name.clone(),
        number: c.n,
        commit: ctx.checkpoint_commit(repository, c).await,
        created_at: c.created_at,
        image: c.image.clone(),
    }
}

/// `workspace.checkpoint.create`: valid when running or stopped.
pub async fn create(p: Params<'static>, ctx: Ctx) -> RpcResult<Checkpoint> {
    let params: CheckpointCreateParams = parse(&p)?;
    let c = ctx
        .checkpoint_create(&params.workspace, params.name.as_deref(), params.full)
        .await?;
    let repository = ctx.get(&params.workspace)?.repository;
    Ok(to_wire(&ctx, &repository, &c).await)
}

/// `workspace.checkpoint.list`: valid in any state.
pub async fn list(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<Checkpoint>> {
    let NameParams { workspace } = parse(&p)?;
    let repository = ctx.get(&workspace)?.repository;
    let mut out = Vec::new();
    for c in ctx.checkpoints(&workspace)? {
        out.push(to_wire(&ctx, &repository, &c).await);
    }
    Ok(out)
}

/// `workspace.checkpoint.remove`: valid in any state.
pub async fn remove(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: CheckpointParams = parse(&p)?;
    Ok(ctx.checkpoint_remove(&params.workspace, &params.checkpoint).await?)
}

/// `workspace.restore`: valid when running or stopped.
pub async fn restore(p: Params<'static>, ctx: Ctx) -> RpcResult<Checkpoint> {
    let params: CheckpointParams = parse(&p)?;
    let undo = ctx.restore(&params.workspace, &params.checkpoint).await?;
    let repository = ctx.get(&params.workspace)?.repository;
    Ok(to_wire(&ctx, &repository, &undo).await)
}

/// `workspace.fork`: valid when the source is running or stopped and the
/// new name is free.
pub async fn fork(p: Params<'static>, ctx: Ctx, caller: crate::workspace::Caller) -> RpcResult<Workspace> {
    let params: ForkParams = parse(&p)?;
    let r = ctx
        .fork(
            &params.workspace,
            params.checkpoint.as_deref(),
            &params.name,
            params.authorized_keys,
            caller.user_id(),
        )
        .await?;
    Ok(super::workspace::to_wire(&r))
}
