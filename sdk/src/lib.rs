//! Nexus's wire contract: the JSON-RPC method names, parameter and result
//! types, error codes, and (feature `client`) the async WebSocket client.
//!
//! This crate is the only one IDE tooling needs. The type modules carry no
//! tokio; the client lives behind the `client` feature.

pub mod error;
pub mod local;
pub mod methods;
pub mod openrpc;
pub mod relay;
pub mod signal;
pub mod team;
pub mod trace;
pub mod types;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "mcp")]
pub mod mcp;

pub use error::{ErrorKind, RpcErrorData};
pub use signal::Signal;
pub use types::*;
