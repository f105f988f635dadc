//! `nexusd`: the Nexus daemon as a library. [`serve`] runs it on a listener
//! until a shutdown future resolves; `main.rs` only parses flags and calls it,
//! and tests start it in-process on port 0.
//!
//! Layers, each a folder that imports only the ones below it (checked by
//! `tests/layers.rs`):
//!
//! - `server` — start-up: the store, the runtime, the manager, the API;
//! - `api/` — JSON-RPC methods, auth and HTTP routes; calls the manager only;
//! - `workspace/` — the manager, one file per flow;
//! - `agent/` (SSH client pool, channels, SFTP, forwards) and `runtime/`
//!   (Docker, compose, templates, the host);
//! - `store/` (SQLite, ports) and `git/` (worktrees);
//! - `error`, `events`, `keys`, `config`: shared by all.

pub mod agent;
pub mod api;
pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod git;
pub mod keys;
pub mod metrics;
pub mod relay;
pub mod runtime;
pub mod server;
pub mod store;
pub mod workspace;

pub use config::DaemonConfig;
pub use server::{serve, serve_with};
