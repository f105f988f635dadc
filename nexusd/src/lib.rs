//! `nexusd`: the Nexus daemon as a library. [`serve`] runs it on a listener
//! until a shutdown future resolves; `main.rs` only parses flags and calls it,
//! and tests start it in-process on port 0.

pub mod agent_client;
pub mod api;
pub mod channels;
pub mod compose;
pub mod config;
pub mod docker;
pub mod error;
pub mod events;
pub mod forwards;
pub mod fs;
pub mod git;
pub mod host;
pub mod keys;
pub mod lifecycle;
pub mod ports;
pub mod server;
pub mod store;
pub mod templates;
pub mod workspace;

pub use config::DaemonConfig;
pub use server::serve;
