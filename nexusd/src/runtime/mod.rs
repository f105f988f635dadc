//! What runs containers: the [`docker::ContainerRuntime`] seam with its
//! bollard implementation, compose projects through the Docker Compose CLI
//! ([`compose`]), the built-in templates and their images ([`templates`]),
//! and what the host has ([`host`]).

pub mod compose;
pub mod docker;
pub mod docker_proxy;
#[cfg(test)]
pub mod fake;
pub mod host;
pub mod stats;
pub mod templates;

use crate::error::WorkspaceError;

/// What running containers can fail with; it becomes the [`WorkspaceError`]
/// of the same meaning (and message) at the layer's edge.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine does not answer (what the client said).
    #[error("{0}")]
    Unavailable(String),
    /// The image is missing and cannot be pulled.
    #[error("image {image:?} could not be pulled ({reason})")]
    ImageNotFound {
        /// The image reference.
        image: String,
        /// What the pull said.
        reason: String,
    },
    /// An image build failed.
    #[error("building {dockerfile} failed: {message}")]
    BuildFailed {
        /// The Dockerfile (or the features) built.
        dockerfile: String,
        /// What the build said, with its last lines.
        message: String,
    },
    /// The engine refused or failed a request.
    #[error("docker: {0}")]
    Engine(String),
    /// A published host port is held by another process or container, so
    /// the container cannot start with it (what Docker said).
    #[error("docker: {0}")]
    PortTaken(String),
    /// A compose config that cannot be used; the message says why and what to do.
    #[error("{0}")]
    Compose(String),
    /// The compose CLI could not be run.
    #[error("cannot run {cli}: {message}")]
    ComposeCli {
        /// `docker compose` or `docker-compose`.
        cli: String,
        /// Why.
        message: String,
    },
    /// No built-in template has the name.
    #[error("no template {name:?}: the templates are {known} (`nexus template list`)")]
    NoTemplate {
        /// The name asked for.
        name: String,
        /// The templates there are, comma-separated.
        known: String,
    },
    /// A file operation failed (`what` names it and the path).
    #[error("{what}: {source}")]
    Io {
        /// What was done.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// devcontainer.json asks for what cannot be (a compose file outside the repository).
    #[error(transparent)]
    DevContainer(#[from] nexus_devcontainer::DevContainerError),
}

/// `Result` of the runtime.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl RuntimeError {
    /// A closure for `map_err` naming a failed file operation.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let what = what.into();
        move |source| RuntimeError::Io { what, source }
    }
}

impl From<RuntimeError> for WorkspaceError {
    fn from(e: RuntimeError) -> WorkspaceError {
        match e {
            RuntimeError::Unavailable(m) => WorkspaceError::DockerUnavailable(m),
            RuntimeError::ImageNotFound { image, reason } => WorkspaceError::ImageNotFound { image, reason },
            RuntimeError::BuildFailed { dockerfile, message } => WorkspaceError::BuildFailed { dockerfile, message },
            RuntimeError::Compose(m) => WorkspaceError::InvalidConfig(m),
            RuntimeError::NoTemplate { .. } => WorkspaceError::InvalidParams(e.to_string()),
            RuntimeError::Io { what, source } => WorkspaceError::Io { what, source },
            RuntimeError::DevContainer(e) => WorkspaceError::DevContainer(e),
            RuntimeError::Engine(_) | RuntimeError::PortTaken(_) | RuntimeError::ComposeCli { .. } => {
                WorkspaceError::Internal(e.to_string())
            }
        }
    }
}

/// Makes `cmd`'s process end (SIGKILL) when the daemon does, even killed:
/// a compose CLI or `initializeCommand` left running by a daemon that died
/// would work on for nobody. Linux's parent-death signal fires when the
/// thread that started the process ends; the daemon starts them from its
/// async runtime's worker threads, which live as long as it does.
pub fn end_with_daemon(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe; it touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
