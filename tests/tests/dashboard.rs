//! The web dashboard in a real browser (Debian's chromium driven by
//! playwright-core: `web/e2e/dashboard.test.mjs`) against a real daemon
//! and a real workspace. The browser test asks for what only this side can
//! do with a line on its stdout: `@@kill` (SIGKILL the daemon) and `@@start`
//! (start it again); each is answered with `ok` on its stdin. Screenshots
//! of every page land in `target/dashboard-screenshots/`.

use nexus_e2e::{BUSYBOX, Daemon, Repo, bin, target_dir};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn dashboard_in_a_real_browser() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "web", BUSYBOX);
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    assert!(
        web.join("node_modules/playwright-core").is_dir() && web.join("dist/index.html").is_file(),
        "build the dashboard first: scripts/setup.sh --debug (npm ci and npm run build in web/)"
    );
    let screenshots = target_dir().join("../dashboard-screenshots");
    let mut child = Command::new("node")
        .args(["--test-reporter=spec", "e2e/dashboard.test.mjs"])
        .current_dir(&web)
        .env("NEXUS_TEST_ADDRESS", &d.address)
        .env("NEXUS_TEST_TOKEN", d.token())
        .env("NEXUS_TEST_WORKSPACE", "web")
        .env("NEXUS_TEST_SCREENSHOTS", &screenshots)
        .env("NEXUS_BIN", bin("nexus"))
        .env("NEXUS_HOST", &d.address)
        .env("NEXUS_DATA_DIR", d.data_dir())
        .env("HOME", d.home())
        .env_remove("NEXUS_TOKEN")
        .env_remove("NEXUS_CONTEXT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut report = String::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        eprintln!("browser test: {line}");
        match line.trim() {
            "@@kill" => d.kill9(),
            "@@start" => d.spawn(),
            _ => {
                report.push_str(&line);
                report.push('\n');
                continue;
            }
        }
        writeln!(stdin, "ok").expect("answer the browser test");
        eprintln!("browser test: answered {line}");
    }
    let status = child.wait().expect("node");
    let errors = errors.join().unwrap_or_default();
    assert!(
        status.success(),
        "the browser test failed:\n{report}\n--- stderr\n{errors}\n--- daemon log\n{}",
        d.log()
    );
    assert!(report.contains("✔") && !report.contains("✖"), "{report}");
}
