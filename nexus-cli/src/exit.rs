//! The one mapping from errors to exit codes (sysexits(3) values).

use nexus_sdk::ErrorKind;
use nexus_sdk::client::ClientError;

/// The process exit code for `code` (clamped to 0–255).
pub fn code(code: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}

/// Exit code of a failed command: EX_USAGE 64 for bad input, EX_NOINPUT 66 for
/// a missing workspace or file, EX_UNAVAILABLE 69 when Docker, the daemon or an agent
/// is down, EX_TEMPFAIL 75 when the request needs another state or ports ran
/// out, EX_NOPERM 77 for a refused token or a denied file operation, EX_CONFIG 78 for a
/// devcontainer.json or Dockerfile that cannot be used, EX_SOFTWARE 70 otherwise; 1 for
/// local failures, failed file operations and failed lifecycle hooks.
pub fn for_error(e: &anyhow::Error) -> i32 {
    let Some(client) = e.downcast_ref::<ClientError>() else {
        return 1;
    };
    if let ClientError::Connect { .. } = client {
        return 69;
    }
    match client.kind() {
        ErrorKind::InvalidParams
        | ErrorKind::ParseError
        | ErrorKind::InvalidRequest
        | ErrorKind::MethodNotFound
        | ErrorKind::MessageTooLarge
        | ErrorKind::InvalidName
        | ErrorKind::NotAGitRepository
        | ErrorKind::RefNotFound
        | ErrorKind::NoSshKey
        | ErrorKind::ImageNotFound
        | ErrorKind::NameTaken => 64,
        ErrorKind::NotFound | ErrorKind::FileNotFound | ErrorKind::SessionNotFound => 66,
        ErrorKind::PermissionDenied => 77,
        ErrorKind::FileOperationFailed | ErrorKind::HookFailed => 1,
        ErrorKind::InvalidConfig | ErrorKind::BuildFailed => 78,
        ErrorKind::DockerUnavailable | ErrorKind::AgentUnavailable => 69,
        ErrorKind::InvalidState | ErrorKind::PortsExhausted | ErrorKind::WorktreeDirty => 75,
        ErrorKind::Unauthorized => 77,
        ErrorKind::Internal => 70,
    }
}
