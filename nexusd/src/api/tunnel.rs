//! `tunnel.*`: one TCP connection to a port on a workspace's container
//! loopback (the agent's SSH server by default), carried over the API's
//! WebSocket, so a client reaches workspaces with only the daemon's port open.

use super::error::{parse, to_rpc_error};
use super::{Ctx, Next, checked, next_output};
use crate::error::WorkspaceError;
use crate::workspace::{Control, Output};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use nexus_sdk::{Encoding, TunnelEvent, TunnelIdParams, TunnelParams, TunnelWriteParams};
use tokio::sync::mpsc;

/// `tunnel.open`: `opened`, `data` in order, then exactly one `closed`.
pub async fn open(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    _caller: crate::workspace::Caller,
) -> SubscriptionResult {
    let checks = async {
        let params = parse::<TunnelParams>(&p)?;
        Ok((
            params.workspace.clone(),
            ctx.open_tunnel(&params.workspace, params.port).await?,
        ))
    };
    let Some(((workspace, opened), pending)) = checked(pending, checks).await else {
        return Ok(());
    };
    let sink = pending.accept().await?;
    let (registration, controls) = ctx.channels.register(&workspace);
    let send = |ev: &TunnelEvent| serde_json::value::to_raw_value(ev);
    sink.send(send(&TunnelEvent::Opened {
        tunnel_id: registration.id.clone(),
    })?)
    .await?;
    let (tx, mut rx) = mpsc::channel::<Output>(4);
    let run = tokio::spawn(async move { opened.drive(None, tx, controls).await });
    loop {
        let bytes = match next_output(&mut rx, &sink).await {
            Next::Output(Output::Stdout(bytes) | Output::Stderr(bytes)) => bytes,
            Next::Ended => break,
            // dropping the registration's sender closes the connection
            Next::Unsubscribed => return Ok(()),
        };
        let data = Encoding::Base64.encode(&bytes);
        sink.send(send(&TunnelEvent::Data { data })?).await?;
    }
    drop(registration);
    if let Ok(Err(e)) = run.await {
        tracing::info!("tunnel ended: {e}");
    }
    sink.send(send(&TunnelEvent::Closed)?).await?;
    Ok(())
}

/// `tunnel.write`: returns once the bytes are sent.
pub async fn write(p: Params<'static>, ctx: Ctx) -> Result<(), ErrorObjectOwned> {
    let params: TunnelWriteParams = parse(&p)?;
    let bytes = Encoding::Base64
        .decode(&params.data)
        .map_err(|e| to_rpc_error(&WorkspaceError::InvalidParams(format!("data is {e}"))))?;
    Ok(ctx.channels.write("tunnel", &params.tunnel_id, bytes).await?)
}

/// `tunnel.close`: end of input for the remote end.
pub async fn close(p: Params<'static>, ctx: Ctx) -> Result<(), ErrorObjectOwned> {
    let params: TunnelIdParams = parse(&p)?;
    Ok(ctx.channels.send("tunnel", &params.tunnel_id, Control::Eof).await?)
}
