//! The update notice: after a command's own work, one line on stderr when
//! the last check found a newer version, and at most once a day a check in
//! a detached background process (`nexus update check --background`), so
//! that no command waits for the network. Never in CI, with `--json`, when
//! stderr is not a terminal, or with `NEXUS_NO_UPDATE_CHECK=1`.

use super::{State, install_kind, install_root, installed_version, version_lt};
use std::io::IsTerminal;

/// Seconds between background checks.
pub const CHECK_EVERY: i64 = 24 * 3600;

/// Whether this run may show a notice or start a check.
pub fn allowed(args: &[String]) -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty() && v != "0");
    !(set("NEXUS_NO_UPDATE_CHECK") || set("CI"))
        && std::io::stderr().is_terminal()
        && !args.iter().any(|a| a == "--json")
        && args.get(1).is_none_or(|c| c != "update")
}

/// The notice to print, from the saved state only (no network): `None`
/// when nothing newer is known.
pub fn line(state: &State, installed: &str, packaged: bool) -> Option<String> {
    let latest = state.latest.as_deref()?;
    if !version_lt(installed, latest) {
        return None;
    }
    Some(if packaged {
        format!("nexus {latest} is available (you have {installed}): update it with your package manager")
    } else {
        format!("nexus {latest} is available (you have {installed}): run `nexus update install`")
    })
}

/// Prints the notice when one is due, and starts a background check when
/// the last one is a day old. Costs a read of `state.json` and, once a
/// day, the spawn of a detached process.
pub fn after_command(args: &[String]) {
    if !allowed(args) {
        return;
    }
    let root = install_root();
    let state = State::load(&root);
    let packaged = install_kind(&root) == "package manager";
    if let Some(l) = line(&state, &installed_version(&root), packaged) {
        eprintln!("{l}");
    }
    let now = super::now();
    if state.last_attempt.is_some_and(|t| now - t < CHECK_EVERY) {
        return;
    }
    let mut marked = state.clone();
    marked.last_attempt = Some(now);
    if marked.save(&root).is_err() {
        return;
    }
    if let Ok(exe) = std::env::current_exe() {
        use std::os::unix::process::CommandExt;
        let _ = std::process::Command::new(exe)
            .args(["update", "check", "--background"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_only_for_a_newer_version() {
        let mut s = State::default();
        assert_eq!(line(&s, "1.0.0", false), None);
        s.latest = Some("1.0.0".into());
        assert_eq!(line(&s, "1.0.0", false), None);
        s.latest = Some("1.1.0".into());
        assert!(line(&s, "1.0.0", false).is_some_and(|l| l.contains("nexus update install")));
        assert!(line(&s, "1.0.0", true).is_some_and(|l| l.contains("package manager")));
        assert_eq!(line(&s, "2.0.0", false), None);
    }
}
