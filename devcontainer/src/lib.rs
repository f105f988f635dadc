//! The Dev Container specification (containers.dev; the `devcontainers/spec`
//! repository) as data and rules, with no container engine behind it:
//!
//! - [`config`]: devcontainer.json — found in a tree of files, parsed as JSON
//!   with comments (errors give file:line:column), its `${…}` variables
//!   replaced, unknown properties kept;
//! - [`features`]: Dev Container features, local or from an OCI registry
//!   ([`oci`], behind the [`FeatureRegistry`] trait), their options, their
//!   install order and the Dockerfile that installs them;
//! - [`metadata`]: the `devcontainer.metadata` image label and the spec's
//!   merge rules;
//! - [`compose`]: compose files as compose configs use them (a service's
//!   image, user, entrypoint and command; override pieces);
//! - [`container_options`]: the container and build settings
//!   (`mounts`, `runArgs`, `build.options`, `hostRequirements`, …) as plain
//!   data a container engine client can apply.
//!
//! Nothing here talks to Docker, git or a database: files come in through
//! closures (`read`), registries through [`FeatureRegistry`]. Every error is
//! a [`DevContainerError`] whose message names the file and says what to do.
//!
//! ```
//! use nexus_devcontainer::config::{parse, Variables};
//! let vars = Variables {
//!     local_workspace_folder: "/home/ana/app".into(),
//!     container_workspace_folder: "/workspaces/app".into(),
//!     devcontainer_id: "id".into(),
//! };
//! let c = parse("devcontainer.json", r#"{
//!     // comments and trailing commas are fine
//!     "image": "debian:bookworm",
//!     "workspaceFolder": "${localWorkspaceFolderBasename}",
//! }"#, &vars).unwrap();
//! assert_eq!(c.image.as_deref(), Some("debian:bookworm"));
//! assert_eq!(c.workspace_folder.as_deref(), Some("app"));
//! ```

pub mod compose;
pub mod config;
pub mod container_options;
pub mod error;
pub mod features;
pub mod metadata;
pub mod oci;

pub use config::{DevContainer, Loaded, PortTarget};
pub use error::{DevContainerError, Result};
pub use oci::{FeatureRef, FeatureRegistry, OciRegistry};
