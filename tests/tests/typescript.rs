//! The TypeScript client (`sdk/typescript`, types generated from
//! `sdk/openrpc.json`) passes its Node test-runner suite against a live daemon.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::path::Path;
use std::process::Command;

#[test]
fn typescript_client_against_a_running_daemon() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "ts", BUSYBOX);
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/typescript");
    assert!(
        package.join("node_modules").is_dir(),
        "run `npm ci` in sdk/typescript first (scripts/setup.sh does)"
    );
    let out = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&package)
        .env("NEXUS_TEST_ADDRESS", &d.address)
        .env("NEXUS_TEST_TOKEN", d.token())
        .env("NEXUS_TEST_WORKSPACE", "ts")
        .output()
        .expect("npm");
    assert!(out.status.success(), "npm test:\n{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    // the client against the daemon (2) and the OpenCode plugin of `nexus enforce` (2)
    assert!(report.contains("# pass 4") && report.contains("# fail 0"), "{report}");
}
