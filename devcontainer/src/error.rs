//! What reading a Dev Container configuration can fail with. Every message
//! names the file (or feature) and says what to change.

/// A devcontainer.json, a feature or image metadata that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DevContainerError {
    /// The file is no JSON with comments; `line` and `column` count from 1.
    #[error("{path}:{line}:{column}: {message}: fix the file and try again")]
    Syntax {
        /// The file, relative to the repository root (or a feature's `… : devcontainer-feature.json`).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// A property holds what the spec does not allow, or what cannot be done.
    /// `message` says which property and what to do.
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or feature) the property is in.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A `--config` path (or a feature's file) is not in the commit read.
    #[error("{path}: no such file in the commit the workspace starts from: commit it, or fix --config")]
    NotInCommit {
        /// The path asked for, relative to the repository root.
        path: String,
    },
    /// A feature from a registry cannot be pulled, or what was pulled is no feature.
    #[error("feature {feature}: {message}: check the feature's name and that {registry} answers")]
    Pull {
        /// The feature id as written (`ghcr.io/devcontainers/features/go:1`).
        feature: String,
        /// The registry host (`ghcr.io`).
        registry: String,
        /// What failed.
        message: String,
    },
    /// The image's `devcontainer.metadata` label or a feature's metadata has a
    /// property of the wrong shape.
    #[error(
        "the image metadata ({label} label or a feature) has a bad {what}: {message}: fix the image or the feature"
    )]
    Metadata {
        /// The label's name, `devcontainer.metadata`.
        label: &'static str,
        /// The property.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a file of the configuration (from a commit, a folder) failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DevContainerError {
    /// `Invalid` for `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> DevContainerError {
        DevContainerError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// `Syntax` for `path` from a JSONC parse error.
    pub(crate) fn syntax(path: &str, e: &jsonc_parser::errors::ParseError) -> DevContainerError {
        DevContainerError::Syntax {
            path: path.to_string(),
            line: e.line_display(),
            column: e.column_display(),
            message: e.kind().to_string(),
        }
    }
}

/// `Result` of this crate.
pub type Result<T, E = DevContainerError> = std::result::Result<T, E>;
