//! `ports.*`: listening ports and host forwards of a running workspace.

use super::Ctx;
use super::error::{parse, to_rpc_error};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use nexus_sdk::{ForwardParams, PortInfo, PortsParams, UnforwardParams};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// `ports.list`: valid while the workspace runs.
pub async fn list(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<PortInfo>> {
    let params: PortsParams = parse(&p)?;
    ctx.ports_list(&params.workspace).await.map_err(|e| to_rpc_error(&e))
}

/// `ports.forward`: valid while the workspace runs.
pub async fn forward(p: Params<'static>, ctx: Ctx) -> RpcResult<PortInfo> {
    let params: ForwardParams = parse(&p)?;
    let target = nexus_devcontainer::config::PortTarget::new(params.host, params.container_port);
    ctx.ports_forward(&params.workspace, &target)
        .await
        .map_err(|e| to_rpc_error(&e))
}

/// `ports.unforward`: valid for a forward `ports.forward` made.
pub async fn unforward(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: UnforwardParams = parse(&p)?;
    ctx.ports_unforward(&params.workspace, params.host_port)
        .await
        .map_err(|e| to_rpc_error(&e))
}
