//! Bad input and faults: each gets one clear error saying what to do, and
//! leaves no container, worktree, branch, port or record behind.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::io::{Read, Write};

/// `nexus workspace create NAME --image busybox` fails with `code` and
/// `needle`, and leaves nothing of NAME behind (the branch included).
fn create_fails_cleanly(d: &Daemon, repo: &Repo, name: &str, code: i32, needle: &str) {
    create_with_fails_cleanly(d, repo, name, &["--image", BUSYBOX], code, needle);
}

/// The same with other flags after NAME.
fn create_with_fails_cleanly(d: &Daemon, repo: &Repo, name: &str, flags: &[&str], code: i32, needle: &str) {
    let args: Vec<&str> = ["workspace", "create", name]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    fails(d, repo, &args, code, needle);
    d.assert_no_leftovers(repo, name, false);
}

/// Runs `nexus ARGS` in the repo expecting failure with `code` and `needle` in stderr.
fn fails(d: &Daemon, repo: &Repo, args: &[&str], code: i32, needle: &str) {
    let o = d.cli(repo.path(), args);
    assert_eq!(o.status.code(), Some(code), "nexus {args:?}:\n{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(needle),
        "nexus {args:?}: expected {needle:?} in:\n{stderr}"
    );
}

#[test]
fn invalid_names_are_refused() {
    let d = Daemon::start();
    let repo = Repo::new();
    for name in ["Bad_Name", "-lead", "a.b", "with/slash", &"x".repeat(64)] {
        fails(
            &d,
            &repo,
            &["workspace", "create", "--image", BUSYBOX, "--", name],
            64,
            "invalid workspace name",
        );
    }
    d.assert_no_leftovers(&repo, "Bad_Name", false);
    assert!(
        !repo.path().join(".worktree").exists(),
        "no worktree directory may be made"
    );
    assert!(d.containers().is_empty());
}

#[test]
fn a_taken_name_is_refused_and_the_first_workspace_is_untouched() {
    let d = Daemon::start();
    let repo = Repo::new();
    let first = d.create(&repo, "taken", BUSYBOX);
    let other = Repo::new();
    fails(
        &d,
        &other,
        &["workspace", "create", "taken", "--image", BUSYBOX],
        64,
        "exists already",
    );
    assert!(!other.worktree("taken").exists());
    assert!(!other.has_branch("nexus/taken"));
    assert_eq!(d.containers().len(), 1);
    let o = d.ssh(&first, "echo still-here");
    assert!(o.status.success(), "{}", text(&o));
    d.cli_ok(repo.path(), &["workspace", "rm", "taken"]);
    d.assert_no_leftovers(&repo, "taken", true);
}

#[test]
fn a_directory_outside_git_is_refused() {
    let d = Daemon::start();
    let plain = tempfile::tempdir().expect("tempdir");
    let o = d.cli(plain.path(), &["workspace", "create", "nogit", "--image", BUSYBOX]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not inside a git repository"),
        "{}",
        text(&o)
    );
    assert!(!plain.path().join(".worktree").exists());
    assert!(d.containers().is_empty());
    let list = d.cli_ok(plain.path(), &["workspace", "list", "--json"]);
    assert_eq!(list.trim(), "[]");
}

#[test]
fn a_missing_ref_is_refused() {
    let d = Daemon::start();
    let repo = Repo::new();
    create_with_fails_cleanly(
        &d,
        &repo,
        "badref",
        &["--from", "no-such-branch", "--image", BUSYBOX],
        64,
        "no-such-branch",
    );
}

#[test]
fn a_missing_image_is_refused() {
    let d = Daemon::start();
    let repo = Repo::new();
    create_with_fails_cleanly(
        &d,
        &repo,
        "noimage",
        &["--image", "nexus-test/does-not-exist:1"],
        64,
        "could not be pulled",
    );
}

#[test]
fn docker_not_running_says_how_to_start_it() {
    let d = Daemon::start_env(&[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    let repo = Repo::new();
    create_fails_cleanly(&d, &repo, "nodocker", 69, "start it");
}

#[test]
fn an_exhausted_port_range_is_refused() {
    // a one-port range whose port another process holds
    let d = Daemon::start_ports(1);
    let held = std::net::TcpListener::bind(("127.0.0.1", d.range.0)).expect("hold the port");
    let repo = Repo::new();
    create_fails_cleanly(&d, &repo, "noport", 75, "no free port left");
    drop(held);
    // with the port free, the same create works
    d.create(&repo, "noport", BUSYBOX);
    d.cli_ok(repo.path(), &["workspace", "rm", "noport", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "noport", false);
}

#[test]
fn a_missing_or_wrong_token_is_refused() {
    let d = Daemon::start();
    let repo = Repo::new();
    let o = nexus_e2e::run(
        d.nexus()
            .args(["workspace", "list"])
            .env("NEXUS_TOKEN", "wrong")
            .current_dir(repo.path()),
    );
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refused the token"),
        "{}",
        text(&o)
    );

    // plain HTTP without a token: 401 with a JSON-RPC error of kind unauthorized
    let mut s = std::net::TcpStream::connect(&d.address).expect("connect");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"workspace.list","params":{}}"#;
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    assert!(
        resp.contains("\"kind\":\"unauthorized\"") && resp.contains("-32021"),
        "{resp}"
    );

    // with the token, the same request works
    let mut s = std::net::TcpStream::connect(&d.address).expect("connect");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        d.token(),
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.contains("\"result\":[]"),
        "{resp}"
    );
}

#[test]
fn no_ssh_key_says_how_to_make_one() {
    let d = Daemon::start();
    let repo = Repo::new();
    std::fs::remove_file(d.home().join(".ssh/id_ed25519.pub")).expect("rm key");
    fails(
        &d,
        &repo,
        &["workspace", "create", "nokey", "--image", BUSYBOX],
        64,
        "ssh-keygen -t ed25519",
    );
    // through the API, an empty key list is refused by the daemon itself
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let err = rt.block_on(async {
        let c = d.client().await;
        c.create(&nexus_sdk::CreateParams {
            name: "nokey".into(),
            repository: repo.path().display().to_string(),
            image: Some(BUSYBOX.into()),
            ..Default::default()
        })
        .await
        .expect_err("no key must fail")
    });
    assert_eq!(err.kind(), nexus_sdk::ErrorKind::NoSshKey, "{err}");
    d.assert_no_leftovers(&repo, "nokey", false);
}

#[test]
fn a_failing_late_step_rolls_everything_back() {
    // an agent binary that cannot be read fails the `agent` step, after the
    // worktree, branch, port and container were made
    let d = Daemon::start_env(&[("NEXUS_AGENT_BINARY", "/nonexistent/nexus-agent")]);
    let repo = Repo::new();
    create_fails_cleanly(&d, &repo, "late", 70, "agent failed");
    assert!(d.containers().is_empty(), "the container must be removed");
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", d.range.0)).is_ok(),
        "the port must be free"
    );
}

#[test]
fn a_dynamically_linked_agent_is_refused() {
    // /bin/true on the host needs its C library, which images may lack
    let d = Daemon::start_env(&[("NEXUS_AGENT_BINARY", "/bin/true")]);
    let repo = Repo::new();
    create_fails_cleanly(&d, &repo, "dynamic", 70, "not statically linked");
}

#[test]
fn an_agent_that_exits_fails_fast_with_the_container_log() {
    // busybox-static is a static executable, but as `nexus-agent` it only
    // says "applet not found" and exits: the container stops before SSH
    let d = Daemon::start_env(&[("NEXUS_AGENT_BINARY", "/bin/busybox")]);
    let repo = Repo::new();
    let started = std::time::Instant::now();
    fails(
        &d,
        &repo,
        &["workspace", "create", "exits", "--image", BUSYBOX],
        69,
        "the container exited before SSH answered",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "must not wait for the SSH timeout"
    );
    d.assert_no_leftovers(&repo, "exits", false);
}

#[test]
fn an_occupied_worktree_path_is_refused_and_left_alone() {
    let d = Daemon::start();
    let repo = Repo::new();
    let occupied = repo.worktree("occupied");
    std::fs::create_dir_all(&occupied).expect("mkdir");
    std::fs::write(occupied.join("mine.txt"), "keep me").expect("write");
    fails(
        &d,
        &repo,
        &["workspace", "create", "occupied", "--image", BUSYBOX],
        64,
        "exists already",
    );
    assert_eq!(
        std::fs::read_to_string(occupied.join("mine.txt")).expect("kept"),
        "keep me"
    );
    assert!(!repo.has_branch("nexus/occupied"));
    assert!(d.containers().is_empty());
}

#[test]
fn an_unknown_workspace_exits_66_and_an_unreachable_daemon_69() {
    let d = Daemon::start();
    let repo = Repo::new();
    fails(
        &d,
        &repo,
        &["workspace", "show", "ghost"],
        66,
        "no workspace named \"ghost\"",
    );
    fails(&d, &repo, &["workspace", "stop", "ghost"], 66, "nexus workspace list");
    // a daemon on another machine is never started for you: nothing answers there
    let port = nexus_e2e::free_port();
    let o = nexus_e2e::run(
        d.nexus()
            .args(["workspace", "list"])
            .env("NEXUS_HOST", format!("wss://127.0.0.1:{port}"))
            .env("NEXUS_TOKEN", "some-token")
            .current_dir(repo.path()),
    );
    assert_eq!(o.status.code(), Some(69), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot reach the daemon"),
        "{}",
        text(&o)
    );
}
