//! The CLI starts a local daemon when none answers.

use nexus_e2e::{bin, free_port, run, text};
use std::process::Command;

/// Stops the daemon the CLI started (by its pid) when the test ends, passed or not.
struct StopOnDrop(i32);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).output();
    }
}

#[test]
fn the_cli_starts_a_daemon_when_none_answers() {
    let root = tempfile::tempdir().expect("tempdir");
    let address = format!("127.0.0.1:{}", free_port());
    let o = run(Command::new(bin("nexus"))
        .args(["daemon", "info", "--json"])
        .env("HOME", root.path())
        .env("NEXUS_DATA_DIR", root.path().join("data"))
        .env("NEXUS_HOST", &address)
        .env_remove("NEXUS_TOKEN"));
    let log = std::fs::read_to_string(root.path().join("data/nexusd.log")).unwrap_or_default();
    assert!(o.status.success(), "{}\n--- nexusd.log\n{log}", text(&o));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let pid = info["pid"].as_u64().expect("pid") as i32;
    let _stop = StopOnDrop(pid);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("starting nexusd"),
        "{}",
        text(&o)
    );
    // the token file is private
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.path().join("data/token"))
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // a second call reuses the running daemon
    let again = run(Command::new(bin("nexus"))
        .args(["daemon", "info", "--json"])
        .env("HOME", root.path())
        .env("NEXUS_DATA_DIR", root.path().join("data"))
        .env("NEXUS_HOST", &address));
    let info2: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(info2["pid"], info["pid"]);
}
