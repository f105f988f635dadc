//! What runs containers: the [`docker::ContainerRuntime`] seam with its
//! bollard implementation, compose projects through the Docker Compose CLI
//! ([`compose`]), the built-in templates and their images ([`templates`]),
//! and what the host has ([`host`]).

pub mod compose;
pub mod docker;
#[cfg(test)]
pub mod fake;
pub mod host;
pub mod templates;
