//! `fs.*`: files in a running workspace, as the workspace user (the names the
//! first Nexus SDK used, with a `workspace` parameter). Each is valid while
//! the workspace runs.

use super::error::{RpcResult, parse, to_rpc_error};
use super::{Ctx, Next, checked, next_output};
use crate::error::WorkspaceError;
use crate::workspace::{Lines, Output};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::Params;
use nexus_sdk::{
    FileStat, MkdirParams, PathParams, ReadFileParams, ReadFileResult, RenameParams, RmParams, WriteFileParams,
};
use nexus_sdk::{FsEvent, WatchParams};

/// `fs.readFile`.
pub async fn read_file(p: Params<'static>, ctx: Ctx) -> RpcResult<ReadFileResult> {
    let params: ReadFileParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.read_file(&params).await?)
}

/// `fs.writeFile`.
pub async fn write_file(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: WriteFileParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.write_file(&params).await?)
}

/// `fs.exists`.
pub async fn exists(p: Params<'static>, ctx: Ctx) -> RpcResult<bool> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.exists(&params).await?)
}

/// `fs.stat`.
pub async fn stat(p: Params<'static>, ctx: Ctx) -> RpcResult<FileStat> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.stat(&params).await?)
}

/// `fs.readdir`.
pub async fn readdir(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<FileStat>> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.readdir(&params).await?)
}

/// `fs.mkdir`.
pub async fn mkdir(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: MkdirParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.mkdir(&params).await?)
}

/// `fs.rm`.
pub async fn rm(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: RmParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.rm(&params).await?)
}

/// `fs.rename`.
pub async fn rename(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: RenameParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await?;
    Ok(fs.rename(&params).await?)
}

/// Exit codes of `nexus-agent --watch` (its `watch.rs`): the path does not
/// exist (`EX_NOINPUT`), the user may not watch it (`EX_NOPERM`).
const WATCH_NOT_FOUND: i32 = 66;
const WATCH_DENIED: i32 = 77;

/// The error of a watcher that failed to start, from its exit code (and
/// what it printed, for any other failure).
fn watch_error(workspace: &str, path: &str, code: Option<i32>, stderr: &[u8]) -> WorkspaceError {
    let message = String::from_utf8_lossy(stderr).trim().to_string();
    if code == Some(WATCH_NOT_FOUND) {
        WorkspaceError::FileNotFound {
            workspace: workspace.to_string(),
            path: path.to_string(),
        }
    } else if code == Some(WATCH_DENIED) {
        WorkspaceError::PermissionDenied {
            workspace: workspace.to_string(),
            path: path.to_string(),
            user: "the workspace user".into(),
        }
    } else {
        WorkspaceError::FileOperation {
            op: "fs.watch",
            path: path.to_string(),
            message: if message.is_empty() {
                "the watcher ended".into()
            } else {
                message
            },
        }
    }
}

/// `fs.watch`: `ready` once inotify watches are in place, then events; `end`
/// when the path goes or the workspace stops. Unsubscribing stops the
/// watcher. Refused (before any notification) when the path is missing.
pub async fn watch(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    _caller: crate::workspace::Caller,
) -> SubscriptionResult {
    let checks = async {
        let params = parse::<WatchParams>(&p)?;
        let opened = ctx.open_watch(&params).await?;
        Ok((params, opened))
    };
    let Some(((params, opened), pending)) = checked(pending, checks).await else {
        return Ok(());
    };
    // dropping `watcher` stops the watcher in the container
    let mut watcher = opened.spawn_unsteered(None, 4);
    let (mut lines, mut stderr) = (Lines::default(), Vec::new());
    let mut queued = Vec::new();
    // wait for `ready`: a path that cannot be watched is an error, not a subscription
    while queued.is_empty() {
        match watcher.output().recv().await {
            Some(Output::Stdout(b)) => queued = lines.push(&b),
            Some(Output::Stderr(b)) => stderr.extend_from_slice(&b),
            None => {
                let code = watcher.exit().await.ok().flatten();
                let e = watch_error(&params.workspace, &params.path, code, &stderr);
                pending.reject(to_rpc_error(&e)).await;
                return Ok(());
            }
        }
    }
    let sink = pending.accept().await?;
    loop {
        for line in queued.drain(..) {
            match serde_json::from_str::<FsEvent>(&line) {
                Ok(ev) => sink.send(serde_json::value::to_raw_value(&ev)?).await?,
                Err(e) => tracing::warn!("the watcher printed {line:?}: {e}"),
            }
        }
        match next_output(watcher.output(), &sink).await {
            Next::Output(Output::Stdout(b)) => queued = lines.push(&b),
            Next::Output(Output::Stderr(_)) => {}
            Next::Ended => break,
            Next::Unsubscribed => return Ok(()),
        }
    }
    let reason = if ctx.running(&params.workspace).is_ok() {
        "the watched path is gone"
    } else {
        "the workspace stopped"
    };
    let end = FsEvent::End { reason: reason.into() };
    sink.send(serde_json::value::to_raw_value(&end)?).await?;
    Ok(())
}
