//! `exec.run` and `exec.stream`: commands in a running workspace, through the
//! agent's SSH server.

use super::error::{parse, to_rpc_error};
use super::{Ctx, guarded};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use nexus_sdk::{ExecEvent, ExecParams, ExecResult};
use tokio::sync::mpsc;

/// Exit code reported when the command could not be run to its end (as
/// OpenSSH's `ssh` exits 255 when the connection fails).
pub const EXEC_FAILED: i32 = 255;

/// `exec.run`: valid while the workspace runs. Collects all output.
pub async fn run(p: Params<'static>, ctx: Ctx) -> Result<ExecResult, ErrorObjectOwned> {
    let params: ExecParams = parse(&p)?;
    let prepared = ctx.prepare_exec(&params).map_err(|e| to_rpc_error(&e))?;
    ctx.exec_to_end(&prepared).await.map_err(|e| to_rpc_error(&e))
}

/// `exec.stream`: valid while the workspace runs. Output chunks in order,
/// then exactly one `exit`. A subscriber that stops reading holds the
/// process's output back (bounded buffers).
pub async fn stream(p: Params<'static>, pending: PendingSubscriptionSink, ctx: Ctx) -> SubscriptionResult {
    // refuse before accepting when the request or the workspace is wrong
    let checked = guarded(async {
        let params = parse::<ExecParams>(&p)?;
        ctx.prepare_exec(&params).map_err(|e| to_rpc_error(&e))
    })
    .await;
    let prepared = match checked {
        Ok(prepared) => prepared,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    let (tx, mut rx) = mpsc::channel::<ExecEvent>(16);
    let exec = {
        let ctx = ctx.clone();
        tokio::spawn(async move { ctx.exec(&prepared, tx).await })
    };
    while let Some(ev) = rx.recv().await {
        sink.send(serde_json::value::to_raw_value(&ev)?).await?;
    }
    let exit_code = match exec.await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let msg = format!("nexus: {e}\n");
            sink.send(serde_json::value::to_raw_value(&ExecEvent::Stderr { data: msg })?)
                .await?;
            -1
        }
        Err(_) => -1,
    };
    sink.send(serde_json::value::to_raw_value(&ExecEvent::Exit { exit_code })?)
        .await?;
    Ok(())
}
