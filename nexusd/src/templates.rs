//! The built-in workspace templates (`templates/` of the source tree),
//! embedded so the daemon can build the default image itself when it is
//! missing.

use crate::error::Result;

/// `templates/default/Dockerfile`: Debian with bash, git, sudo, curl and the
/// user `dev` (passwordless sudo).
pub const DEFAULT_DOCKERFILE: &str = include_str!("../../templates/default/Dockerfile");

/// The build context of the default template: a tar archive holding its Dockerfile.
pub fn default_context() -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(DEFAULT_DOCKERFILE.len() as u64);
    b.append_data(&mut h, "Dockerfile", DEFAULT_DOCKERFILE.as_bytes())?;
    Ok(b.into_inner()?)
}
