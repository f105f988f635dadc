//! `ports.*`: listening ports and host forwards of a running workspace.

use super::Ctx;
use super::error::{RpcResult, parse};
use jsonrpsee::types::Params;
use nexus_sdk::{ForwardParams, PortInfo, PortsParams, UnforwardParams};

/// `ports.list`: valid while the workspace runs.
pub async fn list(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<PortInfo>> {
    let params: PortsParams = parse(&p)?;
    Ok(ctx.ports_list(&params.workspace).await?)
}

/// `ports.forward`: valid while the workspace runs.
pub async fn forward(p: Params<'static>, ctx: Ctx) -> RpcResult<PortInfo> {
    let params: ForwardParams = parse(&p)?;
    let target = nexus_devcontainer::config::PortTarget::new(params.host, params.container_port);
    Ok(ctx.ports_forward(&params.workspace, &target).await?)
}

/// `ports.unforward`: valid for a forward `ports.forward` made.
pub async fn unforward(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: UnforwardParams = parse(&p)?;
    Ok(ctx.ports_unforward(&params.workspace, params.host_port).await?)
}
