//! The one mapping from daemon errors to JSON-RPC error objects: the code is
//! `ErrorKind::code`, `data` is `nexus_sdk::RpcErrorData`.

use crate::error::WorkspaceError;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use nexus_sdk::{ErrorKind, RpcErrorData};
use serde::de::DeserializeOwned;

/// What every method returns: its result, or the JSON-RPC error object.
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

impl From<WorkspaceError> for ErrorObjectOwned {
    /// The one conversion at the boundary, so handlers use `?` on the
    /// manager's results.
    fn from(e: WorkspaceError) -> ErrorObjectOwned {
        to_rpc_error(&e)
    }
}

/// The JSON-RPC error object of `e`.
pub fn to_rpc_error(e: &WorkspaceError) -> ErrorObjectOwned {
    let data = RpcErrorData {
        kind: e.kind(),
        step: e.step(),
    };
    ErrorObjectOwned::owned(e.kind().code(), e.to_string(), Some(data))
}

/// Parses by-name params, mapping failures to `invalid_params`.
pub fn parse<T: DeserializeOwned>(p: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    p.parse::<T>().map_err(|e| {
        let data = RpcErrorData {
            kind: ErrorKind::InvalidParams,
            step: None,
        };
        ErrorObjectOwned::owned(
            ErrorKind::InvalidParams.code(),
            format!("invalid params: {}", e.message()),
            Some(data),
        )
    })
}
