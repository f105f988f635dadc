//! The one mapping from errors to exit codes (sysexits(3) values).

use nexus_sdk::ErrorKind;
use nexus_sdk::client::ClientError;

/// The process exit code for `code` (clamped to 0–255).
pub fn code(code: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}

/// Exit code of a failed command: EX_USAGE 64 for bad input, EX_NOINPUT 66 for
/// a missing workspace or file, EX_UNAVAILABLE 69 when Docker, the daemon or an agent
/// is down (or a daemon the CLI started exited or did not answer), EX_TEMPFAIL 75 when the request needs another state or ports ran
/// out, EX_NOPERM 77 for a refused token or a denied file operation, EX_CONFIG 78 for a
/// devcontainer.json or Dockerfile that cannot be used, EX_SOFTWARE 70 otherwise; 1 for
/// local failures, failed file operations and failed lifecycle hooks (64 for
/// the local failure of having no SSH key, which is bad input).
pub fn for_error(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<crate::ssh::NoSshKey>().is_some() {
        return 64;
    }
    if e.downcast_ref::<crate::connect::DaemonNotStarted>().is_some() {
        return 69;
    }
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
        ErrorKind::PermissionDenied | ErrorKind::Forbidden => 77,
        ErrorKind::FileOperationFailed | ErrorKind::HookFailed => 1,
        ErrorKind::InvalidConfig | ErrorKind::BuildFailed => 78,
        ErrorKind::DockerUnavailable | ErrorKind::AgentUnavailable => 69,
        ErrorKind::InvalidState
        | ErrorKind::PortsExhausted
        | ErrorKind::WorktreeDirty
        | ErrorKind::RateLimited
        | ErrorKind::QuotaExceeded => 75,
        ErrorKind::Unauthorized => 77,
        ErrorKind::Internal => 70,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code of a daemon error of kind `kind`.
    fn of(kind: ErrorKind) -> i32 {
        for_error(&anyhow::Error::new(ClientError::Rpc {
            code: kind.code(),
            kind,
            message: "m".into(),
        }))
    }

    #[test]
    fn every_kind_has_the_code_readme_gives() {
        use ErrorKind::*;
        let table = [
            (InvalidParams, 64),
            (ParseError, 64),
            (InvalidRequest, 64),
            (MethodNotFound, 64),
            (MessageTooLarge, 64),
            (InvalidName, 64),
            (NotAGitRepository, 64),
            (RefNotFound, 64),
            (NoSshKey, 64),
            (ImageNotFound, 64),
            (NameTaken, 64),
            (NotFound, 66),
            (FileNotFound, 66),
            (SessionNotFound, 66),
            (PermissionDenied, 77),
            (FileOperationFailed, 1),
            (HookFailed, 1),
            (InvalidConfig, 78),
            (BuildFailed, 78),
            (DockerUnavailable, 69),
            (AgentUnavailable, 69),
            (InvalidState, 75),
            (PortsExhausted, 75),
            (WorktreeDirty, 75),
            (Unauthorized, 77),
            (Internal, 70),
        ];
        for (kind, code) in table {
            assert_eq!(of(kind), code, "{kind:?}");
        }
        assert_eq!(for_error(&anyhow::Error::new(crate::ssh::NoSshKey("none".into()))), 64);
        assert_eq!(for_error(&anyhow::anyhow!("a local failure")), 1);
        let down = ClientError::Connect {
            address: "127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        assert_eq!(for_error(&anyhow::Error::new(down)), 69);
        // README.md's list names exactly the codes the CLI gives
        let readme = include_str!("../../README.md");
        let sentence = readme
            .split("Exit codes:")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .expect("README.md lists the exit codes");
        let listed: std::collections::BTreeSet<i32> = sentence
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        let given: std::collections::BTreeSet<i32> = table.iter().map(|(_, c)| *c).chain([0, 64, 1]).collect();
        assert_eq!(listed, given, "README.md's exit codes: {sentence}");
    }
}
