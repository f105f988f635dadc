//! What a workspace operation can fail with. `api::error` maps each variant to
//! one stable JSON-RPC code and `data.kind`.

use nexus_sdk::{ErrorKind, Step};

/// How many last lines of a failed command's output (a hook, a compose
/// command) its error quotes.
pub const TAIL_LINES: usize = 10;

/// A failed workspace operation. Messages are lowercase and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The name is not `[a-z0-9][a-z0-9-]{0,62}`.
    #[error(
        "invalid workspace name {0:?}: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit"
    )]
    InvalidName(String),
    /// The name is in use.
    #[error("a workspace named {0:?} exists already: pick another name or remove it with `nexus workspace rm {0}`")]
    NameTaken(String),
    /// No such workspace.
    #[error("no workspace named {0:?}: see `nexus workspace list`")]
    NotFound(String),
    /// Something is in the way at the worktree path.
    #[error("{0} exists already: move it away, or pick another workspace name")]
    WorktreeExists(String),
    /// The path is not in a git repository.
    #[error("{0} is not inside a git repository: run `git init` there, or run nexus inside a repository")]
    NotAGitRepository(String),
    /// A repository URL could not be fetched (the whole message: URL,
    /// git's words, what to check).
    #[error("{0}")]
    RepositoryUnreachable(String),
    /// `from` names nothing.
    #[error("{0:?} names no commit in the repository: check it with `git rev-parse {0}`")]
    RefNotFound(String),
    /// The image is missing and cannot be pulled.
    #[error(
        "image {image:?} is not on the Docker engine and could not be pulled ({reason}): build or pull it first, or pass another --image"
    )]
    ImageNotFound {
        /// The image reference.
        image: String,
        /// What the pull said.
        reason: String,
    },
    /// Docker does not answer.
    #[error(
        "the Docker engine does not answer ({0}): start it (`sudo systemctl start docker`, or `sudo dockerd &`) and try again"
    )]
    DockerUnavailable(String),
    /// No free port left.
    #[error(
        "no free port left in {0}-{1}: remove workspaces you no longer need, or widen the range with nexusd --port-range"
    )]
    PortsExhausted(u16, u16),
    /// The workspace is in another state than the request needs.
    #[error("workspace {name:?} is {state}: {hint}")]
    InvalidState {
        /// The workspace.
        name: String,
        /// Its state.
        state: String,
        /// What to do.
        hint: String,
    },
    /// `remove` refused.
    #[error("workspace {name:?} has {what}: commit and merge them, or pass --force to remove it anyway")]
    WorktreeDirty {
        /// The workspace.
        name: String,
        /// `uncommitted changes` or `commits on no other branch`.
        what: String,
    },
    /// A parameter is malformed.
    #[error("{0}")]
    InvalidParams(String),
    /// An authorized key line is no OpenSSH public key.
    #[error("{0:?}… is no OpenSSH public key: pass the contents of a .pub file (e.g. ~/.ssh/id_ed25519.pub)")]
    InvalidKey(String),
    /// `fs.*`: nothing at the path.
    #[error("no such file or directory in workspace {workspace:?}: {path}")]
    FileNotFound {
        /// The workspace.
        workspace: String,
        /// The path in the container.
        path: String,
    },
    /// `fs.*`: the workspace user may not.
    #[error("permission denied in workspace {workspace:?} for {path}: the workspace user ({user}) may not do this")]
    PermissionDenied {
        /// The workspace.
        workspace: String,
        /// The path in the container.
        path: String,
        /// The workspace user.
        user: String,
    },
    /// `fs.*`: another failure the agent reported.
    #[error("{op} failed for {path}: {message}")]
    FileOperation {
        /// The method, e.g. `fs.rm`.
        op: &'static str,
        /// The path in the container.
        path: String,
        /// What the agent said.
        message: String,
    },
    /// devcontainer.json is missing, does not parse, or asks for what cannot be.
    #[error("{0}")]
    InvalidConfig(String),
    /// devcontainer.json, a feature or image metadata that cannot be used
    /// (the Dev Container crate's error, passed on as it is).
    #[error(transparent)]
    DevContainer(#[from] nexus_devcontainer::DevContainerError),
    /// A lifecycle hook (devcontainer.json `postCreateCommand`, …) failed.
    #[error(
        "{hook} exited with code {exit_code}: fix the command in devcontainer.json and try again; its output ends: {tail}"
    )]
    HookFailed {
        /// The hook's property name, and the command's name in the object form.
        hook: String,
        /// Its exit code.
        exit_code: i32,
        /// Its last lines of output.
        tail: String,
    },
    /// A Dockerfile build (or a feature's install) failed.
    #[error("building {dockerfile} failed: {message}: fix it and try again")]
    BuildFailed {
        /// The Dockerfile, relative to the repository root, or the features of a devcontainer.json.
        dockerfile: String,
        /// What Docker said.
        message: String,
    },
    /// No SSH public key.
    #[error(
        "no SSH public key to authorize: make one with `ssh-keygen -t ed25519`, or pass --ssh-key PATH to a .pub file"
    )]
    NoSshKey,
    /// The agent did not answer SSH.
    #[error("the workspace's SSH agent did not answer: {0}; see `nexus workspace logs`")]
    AgentUnavailable(String),
    /// One step of a create, start or remove failed.
    #[error("{step} failed: {source}")]
    Step {
        /// The step (`worktree`, `container`, `agent`, `start`, `ssh`, …).
        step: Step,
        /// Why.
        #[source]
        source: Box<WorkspaceError>,
    },
    /// No open exec or tunnel has the id.
    #[error("no open {what} with id {id:?}: it ended, or the id is wrong")]
    SessionNotFound {
        /// `exec` or `tunnel`.
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// An answer would pass the message limit.
    #[error("{0}")]
    TooLarge(String),
    /// Team mode: the credentials are missing, malformed, unknown, revoked or
    /// expired, or their owner is suspended (the message says what to do).
    #[error("{0}")]
    Unauthorized(String),
    /// Team mode: the caller may not do this (the message names the permission).
    #[error("{0}")]
    Forbidden(String),
    /// Team mode: too many failed logins from one address.
    #[error("{0}")]
    RateLimited(String),
    /// Team mode: a quota would be passed (the message names the
    /// dimension, what is used, asked for and the limit).
    #[error("{0}")]
    QuotaExceeded(String),
    /// A file operation of the daemon failed (`what` names it and the path).
    #[error("{what}: {source}")]
    Io {
        /// What was done, with the path: `writing /home/ana/.local/share/nexus/token`.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl WorkspaceError {
    /// The stable kind of this error (a step error has its cause's kind).
    pub fn kind(&self) -> ErrorKind {
        match self {
            WorkspaceError::InvalidName(_) => ErrorKind::InvalidName,
            WorkspaceError::NameTaken(_) | WorkspaceError::WorktreeExists(_) => ErrorKind::NameTaken,
            WorkspaceError::NotFound(_) => ErrorKind::NotFound,
            WorkspaceError::NotAGitRepository(_) | WorkspaceError::RepositoryUnreachable(_) => {
                ErrorKind::NotAGitRepository
            }
            WorkspaceError::RefNotFound(_) => ErrorKind::RefNotFound,
            WorkspaceError::ImageNotFound { .. } => ErrorKind::ImageNotFound,
            WorkspaceError::DockerUnavailable(_) => ErrorKind::DockerUnavailable,
            WorkspaceError::PortsExhausted(..) => ErrorKind::PortsExhausted,
            WorkspaceError::InvalidState { .. } => ErrorKind::InvalidState,
            WorkspaceError::WorktreeDirty { .. } => ErrorKind::WorktreeDirty,
            WorkspaceError::NoSshKey => ErrorKind::NoSshKey,
            WorkspaceError::InvalidParams(_) | WorkspaceError::InvalidKey(_) => ErrorKind::InvalidParams,
            WorkspaceError::AgentUnavailable(_) => ErrorKind::AgentUnavailable,
            WorkspaceError::FileNotFound { .. } => ErrorKind::FileNotFound,
            WorkspaceError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            WorkspaceError::FileOperation { .. } => ErrorKind::FileOperationFailed,
            WorkspaceError::SessionNotFound { .. } => ErrorKind::SessionNotFound,
            WorkspaceError::TooLarge(_) => ErrorKind::MessageTooLarge,
            WorkspaceError::InvalidConfig(_) => ErrorKind::InvalidConfig,
            WorkspaceError::DevContainer(e) => match e {
                nexus_devcontainer::DevContainerError::Read { .. } => ErrorKind::Internal,
                _ => ErrorKind::InvalidConfig,
            },
            WorkspaceError::HookFailed { .. } => ErrorKind::HookFailed,
            WorkspaceError::BuildFailed { .. } => ErrorKind::BuildFailed,
            WorkspaceError::Step { source, .. } => source.kind(),
            WorkspaceError::Unauthorized(_) => ErrorKind::Unauthorized,
            WorkspaceError::Forbidden(_) => ErrorKind::Forbidden,
            WorkspaceError::RateLimited(_) => ErrorKind::RateLimited,
            WorkspaceError::QuotaExceeded(_) => ErrorKind::QuotaExceeded,
            WorkspaceError::Internal(_) | WorkspaceError::Io { .. } => ErrorKind::Internal,
        }
    }

    /// The step that failed, if any.
    pub fn step(&self) -> Option<Step> {
        match self {
            WorkspaceError::Step { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// Wraps `self` as a failure of `step` (kept as is when it names a step already).
    pub fn at(self, step: Step) -> WorkspaceError {
        match self {
            e @ WorkspaceError::Step { .. } => e,
            e => WorkspaceError::Step {
                step,
                source: Box::new(e),
            },
        }
    }
}

impl WorkspaceError {
    /// A closure for `map_err` that names what failed: `.map_err(io(format!("writing {}", path.display())))`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
        let what = what.into();
        move |source| WorkspaceError::Io { what, source }
    }
}

/// `Result` of workspace operations.
pub type Result<T, E = WorkspaceError> = std::result::Result<T, E>;
