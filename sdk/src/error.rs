//! Stable error codes and kinds carried in JSON-RPC error objects.
//!
//! Every error the daemon returns is a JSON-RPC 2.0 error object whose `code`
//! is one of [`ErrorKind::code`] and whose `data` is [`RpcErrorData`]. Codes
//! never change meaning; new kinds get new codes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What failed, as the `data.kind` string of a JSON-RPC error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The parameters do not parse (JSON-RPC's own "Invalid params").
    InvalidParams,
    /// A workspace name is not `[a-z0-9][a-z0-9-]{0,62}`.
    InvalidName,
    /// A workspace of that name exists already.
    NameTaken,
    /// No workspace of that name.
    NotFound,
    /// The directory is not inside a git repository, or a repository URL
    /// could not be fetched.
    NotAGitRepository,
    /// `from` names no commit in the repository.
    RefNotFound,
    /// The image is not on the engine and could not be pulled.
    ImageNotFound,
    /// The Docker engine does not answer.
    DockerUnavailable,
    /// Every port of the configured range is taken.
    PortsExhausted,
    /// The request needs another state (e.g. exec in a stopped workspace).
    InvalidState,
    /// `remove` refused: uncommitted changes or unmerged commits.
    WorktreeDirty,
    /// No public key was given for SSH access.
    NoSshKey,
    /// The bearer token is missing or wrong.
    Unauthorized,
    /// The workspace's agent did not answer over SSH.
    AgentUnavailable,
    /// `fs.*`: no file or directory at the path.
    FileNotFound,
    /// `fs.*`: the workspace user may not do that to the path.
    PermissionDenied,
    /// `fs.*`: the operation failed in the workspace for another reason
    /// (the message says which, e.g. a directory that is not empty).
    FileOperationFailed,
    /// No exec or tunnel has that id (it ended, or never existed).
    SessionNotFound,
    /// The request is not valid JSON (JSON-RPC's "Parse error").
    ParseError,
    /// The JSON is not a JSON-RPC 2.0 request (JSON-RPC's "Invalid Request").
    InvalidRequest,
    /// No method of that name (JSON-RPC's "Method not found").
    MethodNotFound,
    /// The request or its answer is larger than the daemon's message limit
    /// (`MAX_MESSAGE_BYTES`).
    MessageTooLarge,
    /// devcontainer.json is missing, does not parse (the message gives file,
    /// line and column), or asks for what cannot be.
    InvalidConfig,
    /// A lifecycle hook of devcontainer.json exited non-zero (the message
    /// gives the hook, its exit code and its last output).
    HookFailed,
    /// Building the image from devcontainer.json's Dockerfile failed.
    BuildFailed,
    /// The caller may see the workspace (or is signed in) but may not do
    /// this: the message names the permission it needs (team mode).
    Forbidden,
    /// Too many failed logins from this address: wait the seconds the
    /// message gives.
    RateLimited,
    /// Team mode: a quota of the workspace's creator would be passed
    /// (workspaces, CPUs or memory of running workspaces); the message
    /// names the dimension, what is used, asked for and the limit.
    QuotaExceeded,
    /// Anything else: a bug or an unexpected fault of Docker, git or the disk.
    Internal,
}

impl ErrorKind {
    /// The stable JSON-RPC error code of this kind.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidParams => -32602,
            ErrorKind::Internal => -32603,
            ErrorKind::InvalidName => -32010,
            ErrorKind::NameTaken => -32011,
            ErrorKind::NotFound => -32012,
            ErrorKind::NotAGitRepository => -32013,
            ErrorKind::RefNotFound => -32014,
            ErrorKind::ImageNotFound => -32015,
            ErrorKind::DockerUnavailable => -32016,
            ErrorKind::PortsExhausted => -32017,
            ErrorKind::InvalidState => -32018,
            ErrorKind::WorktreeDirty => -32019,
            ErrorKind::NoSshKey => -32020,
            ErrorKind::Unauthorized => -32021,
            ErrorKind::AgentUnavailable => -32022,
            ErrorKind::FileNotFound => -32023,
            ErrorKind::PermissionDenied => -32024,
            ErrorKind::FileOperationFailed => -32025,
            ErrorKind::SessionNotFound => -32026,
            ErrorKind::ParseError => -32700,
            ErrorKind::InvalidRequest => -32600,
            ErrorKind::MethodNotFound => -32601,
            ErrorKind::MessageTooLarge => -32007,
            ErrorKind::InvalidConfig => -32027,
            ErrorKind::HookFailed => -32028,
            ErrorKind::BuildFailed => -32029,
            ErrorKind::Forbidden => -32030,
            ErrorKind::RateLimited => -32031,
            ErrorKind::QuotaExceeded => -32032,
        }
    }

    /// The kind with this code, if any.
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        ALL_KINDS.iter().copied().find(|k| k.code() == code)
    }
}

/// Every kind, for tables and tests.
pub const ALL_KINDS: &[ErrorKind] = &[
    ErrorKind::InvalidParams,
    ErrorKind::InvalidName,
    ErrorKind::NameTaken,
    ErrorKind::NotFound,
    ErrorKind::NotAGitRepository,
    ErrorKind::RefNotFound,
    ErrorKind::ImageNotFound,
    ErrorKind::DockerUnavailable,
    ErrorKind::PortsExhausted,
    ErrorKind::InvalidState,
    ErrorKind::WorktreeDirty,
    ErrorKind::NoSshKey,
    ErrorKind::Unauthorized,
    ErrorKind::AgentUnavailable,
    ErrorKind::FileNotFound,
    ErrorKind::PermissionDenied,
    ErrorKind::FileOperationFailed,
    ErrorKind::SessionNotFound,
    ErrorKind::ParseError,
    ErrorKind::InvalidRequest,
    ErrorKind::MethodNotFound,
    ErrorKind::MessageTooLarge,
    ErrorKind::InvalidConfig,
    ErrorKind::HookFailed,
    ErrorKind::BuildFailed,
    ErrorKind::Forbidden,
    ErrorKind::RateLimited,
    ErrorKind::QuotaExceeded,
    ErrorKind::Internal,
];

/// The `data` member of every Nexus JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RpcErrorData {
    /// What failed.
    pub kind: ErrorKind,
    /// The create or remove step that failed, when there was one
    /// (e.g. `"worktree"`, `"image"`, `"container"`, `"ssh"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<crate::types::Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for kind in ALL_KINDS {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
        }
        let mut codes: Vec<i32> = ALL_KINDS.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL_KINDS.len());
    }

    #[test]
    fn kind_serializes_as_snake_case() {
        let json = serde_json::to_string(&ErrorKind::NotAGitRepository).expect("serialize");
        assert_eq!(json, "\"not_a_git_repository\"");
    }
}
