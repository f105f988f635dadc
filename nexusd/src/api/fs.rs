//! `fs.*`: files in a running workspace, as the workspace user (the names the
//! first Nexus SDK used, with a `workspace` parameter). Each is valid while
//! the workspace runs.

use super::Ctx;
use super::error::{parse, to_rpc_error};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use nexus_sdk::{
    FileStat, MkdirParams, PathParams, ReadFileParams, ReadFileResult, RenameParams, RmParams, WriteFileParams,
};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// `fs.readFile`.
pub async fn read_file(p: Params<'static>, ctx: Ctx) -> RpcResult<ReadFileResult> {
    let params: ReadFileParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.read_file(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.writeFile`.
pub async fn write_file(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: WriteFileParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.write_file(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.exists`.
pub async fn exists(p: Params<'static>, ctx: Ctx) -> RpcResult<bool> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.exists(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.stat`.
pub async fn stat(p: Params<'static>, ctx: Ctx) -> RpcResult<FileStat> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.stat(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.readdir`.
pub async fn readdir(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<FileStat>> {
    let params: PathParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.readdir(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.mkdir`.
pub async fn mkdir(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: MkdirParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.mkdir(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.rm`.
pub async fn rm(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: RmParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.rm(&params).await.map_err(|e| to_rpc_error(&e))
}

/// `fs.rename`.
pub async fn rename(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: RenameParams = parse(&p)?;
    let fs = ctx.fs(&params.workspace).await.map_err(|e| to_rpc_error(&e))?;
    fs.rename(&params).await.map_err(|e| to_rpc_error(&e))
}
