//! `GET /fs/read` ([`nexus_sdk::methods::HTTP_FS_READ`]): a file's raw bytes
//! as a plain HTTP answer beside the JSON-RPC server (routed by `routes.rs`,
//! behind [`super::BearerAuth`]). `fs.readFile` carries base64 inside JSON, which
//! both ends must build and parse whole; this streams SFTP reads straight
//! into the response body, with HTTP's own backpressure.

use super::Ctx;
use super::error::to_rpc_error;
use crate::error::WorkspaceError;
use jsonrpsee::server::{HttpBody, HttpResponse};
use jsonrpsee::types::ErrorObjectOwned;
use nexus_sdk::methods::HTTP_FILE_SIZE_HEADER;
use nexus_sdk::{ErrorKind, ReadBytesParams};

/// Bytes per body frame: SFTP reads are pipelined beneath, so this only
/// sets how much one frame holds.
const FRAME_BYTES: usize = 256 * 1024;

/// The HTTP status of an error of `kind`.
fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InvalidParams | ErrorKind::FileOperationFailed => 400,
        ErrorKind::NotFound | ErrorKind::FileNotFound => 404,
        ErrorKind::PermissionDenied | ErrorKind::Forbidden => 403,
        ErrorKind::Unauthorized => 401,
        ErrorKind::RateLimited => 429,
        ErrorKind::InvalidState => 409,
        ErrorKind::AgentUnavailable | ErrorKind::DockerUnavailable => 502,
        _ => 500,
    }
}

/// A JSON-RPC error response (`id` null) as an HTTP answer.
fn error_response(e: ErrorObjectOwned) -> HttpResponse {
    let status = status_of(ErrorKind::from_code(e.code()).unwrap_or(ErrorKind::Internal));
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": e });
    super::auth::response(status, body.to_string())
}

/// Opens the file and answers with a body that streams it.
async fn read(ctx: Ctx, query: Option<String>) -> Result<HttpResponse, WorkspaceError> {
    let p = ReadBytesParams::from_query(query.as_deref().unwrap_or("")).map_err(WorkspaceError::InvalidParams)?;
    let fs = ctx.fs(&p.workspace).await?;
    let open = fs.open_read("GET /fs/read", &p.path, p.offset, p.length, None).await?;
    let frames = tokio_util::io::ReaderStream::with_capacity(open.file, FRAME_BYTES);
    let body = http_body_util::StreamBody::new(futures::StreamExt::map(frames, |chunk| {
        chunk.map(http_body::Frame::data)
    }));
    let mut resp = HttpResponse::new(HttpBody::new(body));
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(http::header::CONTENT_LENGTH, open.length.into());
    headers.insert(HTTP_FILE_SIZE_HEADER, open.size.into());
    Ok(resp)
}

/// Answers `GET /fs/read?QUERY` (see `routes.rs`): the file's bytes, or
/// the JSON-RPC error `fs.readFile` would give, as an HTTP answer.
pub(super) async fn answer(ctx: Ctx, query: Option<String>) -> HttpResponse {
    let answer = super::guarded(async { Ok(read(ctx, query).await?) }).await;
    answer.unwrap_or_else(error_response)
}

/// The answer to a request refused with `e`.
pub(super) fn refusal(e: &WorkspaceError) -> HttpResponse {
    error_response(to_rpc_error(e))
}

/// The answer to a request on `path` with another method than GET.
pub(super) fn get_only(path: &str) -> HttpResponse {
    let e = WorkspaceError::InvalidParams(format!("{path} answers GET only"));
    error_response(to_rpc_error(&e))
}
