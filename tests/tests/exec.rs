//! `exec.run` through the SDK: environment, working directory, timeout; and
//! `logs -f` following until the container stops.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn exec_run_with_env_cwd_and_timeout() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "runner", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let params = |command: &[&str]| nexus_sdk::ExecParams {
            workspace: "runner".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let r = c
            .exec_run(&nexus_sdk::ExecParams {
                env: BTreeMap::from([("GREETING".to_string(), "hello world".to_string())]),
                cwd: Some("/tmp".into()),
                ..params(&["sh", "-c", "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 4"])
            })
            .await
            .expect("exec.run");
        assert_eq!(r.exit_code, 4);
        assert_eq!(r.stdout, "hello world from /tmp\n");
        assert_eq!(r.stderr, "oops\n");

        let started = Instant::now();
        let r = c
            .exec_run(&nexus_sdk::ExecParams {
                timeout_secs: Some(1),
                ..params(&["sleep", "30"])
            })
            .await
            .expect("exec.run");
        assert_eq!(r.exit_code, 124, "a timeout reports 124");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the timeout must end the call"
        );

        // bad requests get their own kinds, and the daemon keeps serving
        let err = c.exec_run(&params(&[])).await.expect_err("empty command");
        assert_eq!(err.kind(), nexus_sdk::ErrorKind::InvalidParams, "{err}");
        let err = c
            .exec_run(&nexus_sdk::ExecParams {
                workspace: "nope".into(),
                ..params(&["true"])
            })
            .await
            .expect_err("unknown workspace");
        assert_eq!(err.kind(), nexus_sdk::ErrorKind::NotFound, "{err}");
        let r = c.exec_run(&params(&["true"])).await.expect("still serving");
        assert_eq!(r.exit_code, 0);
    });

    // the CLI's -e and -w
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "runner",
            "-e",
            "A=1",
            "-w",
            "/etc",
            "--",
            "sh",
            "-c",
            "echo $A $(pwd)",
        ],
    );
    assert_eq!(out, "1 /etc\n");
    // the CLI's -u: another user of the container
    let out = d.cli_ok(
        repo.path(),
        &["workspace", "exec", "runner", "-u", "dev", "--", "id", "-un"],
    );
    assert_eq!(out, "dev\n");
}

#[test]
fn logs_follow_ends_when_the_workspace_stops() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "follow", BUSYBOX);
    let mut child = d
        .nexus()
        .args(["workspace", "logs", "follow", "-f"])
        .current_dir(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("logs -f");
    // the container's stderr, as the follower prints it, read as it comes
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (seen, mut stderr) = (seen.clone(), child.stderr.take().expect("stderr"));
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                seen.lock().expect("lock").push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let has = |what: &str| seen.lock().expect("lock").contains(what);
    nexus_e2e::wait_for("the log so far", Duration::from_secs(20), || has("serving SSH"));
    // a line written after the follower started reaches it: it follows
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "follow",
            "--",
            "sh",
            "-c",
            "echo follow-marker > /proc/1/fd/2",
        ],
    );
    nexus_e2e::wait_for("the new line", Duration::from_secs(20), || has("follow-marker"));
    assert!(child.try_wait().expect("try_wait").is_none(), "logs -f must still run");
    d.cli_ok(repo.path(), &["workspace", "stop", "follow"]);
    let out = child.wait_with_output().expect("logs -f ends");
    reader.join().expect("reader");
    assert!(out.status.success(), "{}", text(&out));
}
