//! The web dashboard in a real browser (Debian's chromium driven by
//! playwright-core: `web/e2e/dashboard.test.mjs`) against a real daemon
//! and a real workspace. The browser test asks for what only this side can
//! do with a line on its stdout: `@@kill` (SIGKILL the daemon) and `@@start`
//! (start it again). Screenshots of every page land in
//! `target/dashboard-screenshots/`. Team mode's pages: `team.rs`.

use nexus_e2e::{BUSYBOX, Daemon, Repo, bin, browser_test};
use std::ffi::OsStr;

#[test]
fn dashboard_in_a_real_browser() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    // a lifecycle hook whose output the workspace page shows at a start
    let config = format!(r#"{{"image": "{BUSYBOX}", "postStartCommand": "echo HOOK-$((40+2))"}}"#);
    repo.commit(&[(".devcontainer/devcontainer.json", &config)]);
    d.cli_ok(repo.path(), &["workspace", "create", "web"]);
    let (address, token, data, home) = (d.address.clone(), d.token(), d.data_dir(), d.home());
    let nexus = bin("nexus");
    let env: &[(&str, &OsStr)] = &[
        ("NEXUS_TEST_ADDRESS", address.as_ref()),
        ("NEXUS_TEST_TOKEN", token.as_ref()),
        ("NEXUS_TEST_WORKSPACE", "web".as_ref()),
        ("NEXUS_BIN", nexus.as_ref()),
        ("NEXUS_HOST", address.as_ref()),
        ("NEXUS_DATA_DIR", data.as_ref()),
        ("HOME", home.as_ref()),
    ];
    let (passed, report) = browser_test("dashboard.test.mjs", env, |what| match what {
        "kill" => d.kill9(),
        "start" => d.spawn(),
        other => panic!("the browser test asked for {other:?}"),
    });
    assert!(
        passed,
        "the browser test failed:\n{report}\n--- daemon log\n{}",
        d.log()
    );
}
