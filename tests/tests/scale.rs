//! Many workspaces and several daemons on one host: a published port taken
//! by another process between allocation and start, port watchers that run
//! only while someone listens.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::process::Stdio;
use std::time::Duration;

/// A workspace's state and SSH port as `workspace list --json` shows them.
fn listed(d: &Daemon, repo: &Repo, name: &str) -> Option<(String, u64)> {
    let out = d.cli_ok(repo.path(), &["workspace", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("list --json");
    list.as_array()?.iter().find(|w| w["name"] == name).map(|w| {
        (
            w["state"].as_str().unwrap_or_default().to_string(),
            w["sshPort"].as_u64().unwrap_or_default(),
        )
    })
}

#[test]
fn a_port_taken_after_allocation_moves_the_create_to_another() {
    let d = Daemon::start_env(&[("NEXUS_TEST_PAUSE_POINTS", "1")]);
    let repo = Repo::new();
    // pause the create once its container exists, before it starts
    std::fs::write(d.data_dir().join("pause-at"), "create-container").expect("arm");
    let create = d
        .nexus()
        .args(["workspace", "create", "moved", "--image", BUSYBOX, "--json"])
        .current_dir(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn create");
    let marker = d.data_dir().join("paused-at-create-container");
    nexus_e2e::wait_for("the create to pause", Duration::from_secs(60), || marker.exists());
    let (_, allocated) = listed(&d, &repo, "moved").expect("the creating workspace is listed");
    // another process takes the port meanwhile, as an outgoing connection can
    let squatter = std::net::TcpListener::bind(("127.0.0.1", allocated as u16)).expect("take the port");
    std::fs::remove_file(d.data_dir().join("pause-at")).expect("disarm");
    let o = create.wait_with_output().expect("create");
    assert!(o.status.success(), "{}\n--- daemon log\n{}", text(&o), d.log());
    let ws: serde_json::Value = serde_json::from_slice(&o.stdout).expect("create --json");
    let port = ws["sshPort"].as_u64().expect("sshPort");
    assert_ne!(port, allocated, "the workspace must move off the taken port");
    assert_eq!(listed(&d, &repo, "moved"), Some(("running".to_string(), port)));
    let o = d.ssh(&ws, "echo in");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "in\n", "{}", text(&o));
    // one container, which Docker publishes nothing of: the relay has the port
    let containers = nexus_e2e::docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=dev.nexus.daemon={}", d.daemon_id()),
        "--format",
        "{{.Ports}}",
    ]);
    let lines: Vec<&str> = containers.lines().collect();
    assert_eq!(lines.len(), 1, "one container must be left:\n{containers}");
    assert!(!lines[0].contains("->"), "nothing is published by Docker: {containers}");
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_err(),
        "the relay listens on the new port"
    );
    assert!(
        d.log().contains(&format!("port {allocated} was taken")),
        "the move must be logged:\n{}",
        d.log()
    );
    drop(squatter);

    // a stopped workspace whose port another process took: a clear error, then a start once it is free
    d.cli_ok(repo.path(), &["workspace", "stop", "moved"]);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port as u16)).expect("take the port");
    let o = d.cli(repo.path(), &["workspace", "start", "moved"]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("its SSH port {port} is taken by another process")),
        "{}",
        text(&o)
    );
    drop(squatter);
    d.cli_ok(repo.path(), &["workspace", "start", "moved"]);
    let o = d.ssh(&ws, "echo back");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "back\n", "{}", text(&o));
}

/// Whether a port watcher (`nexus-agent --ports`) runs in `ws`'s container.
fn watcher_runs(ws: &serde_json::Value) -> bool {
    let name = format!(
        "nexus-{}-{}",
        ws["name"].as_str().expect("name"),
        &ws["id"].as_str().expect("id")[..8]
    );
    nexus_e2e::docker_ok(&["top", &name, "-o", "pid,args"]).contains("--ports")
}

#[test]
fn port_watchers_run_only_while_someone_subscribes() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "quiet", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        // nobody listens (the create's own subscription has ended, or is
        // ending): no watcher, nothing polled
        nexus_e2e::wait_for("an idle workspace's watcher to end", Duration::from_secs(10), || {
            !watcher_runs(&ws)
        });
        let c = d.client().await;
        let mut events = c
            .events(&nexus_sdk::EventsParams { workspace: None })
            .await
            .expect("events.subscribe");
        nexus_e2e::wait_for("the watcher to start", Duration::from_secs(10), || watcher_runs(&ws));
        // a listener is announced within 2 s (the watcher's longest interval), and more
        let listen = nexus_sdk::ExecParams {
            workspace: "quiet".into(),
            command: vec!["sh".into(), "-c".into(), "(nc -l -p 7070 >/dev/null 2>&1 &)".into()],
            ..Default::default()
        };
        // let the watcher reach its longest interval first
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(c.exec_run(&listen).await.expect("nc").exit_code, 0);
        let started = std::time::Instant::now();
        loop {
            let e = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .expect("a port event in time")
                .expect("open")
                .expect("parses");
            if let nexus_sdk::Event::PortOpened { container_port, .. } = e {
                assert_eq!(container_port, 7070);
                break;
            }
        }
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "portOpened came {took:?} after listen()");
        drop(events);
        drop(c);
        nexus_e2e::wait_for("the watcher to end", Duration::from_secs(10), || !watcher_runs(&ws));
    });
}

/// A `nexus` of a user of its own: HOME `home`, no address, token or data
/// directory set, so it finds (or starts) that user's local daemon itself.
fn nexus_of(home: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(nexus_e2e::bin("nexus"));
    c.env("HOME", home)
        .env("NEXUS_AGENT_BINARY", nexus_e2e::agent_binary())
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_TOKEN")
        .env_remove("NEXUS_CONTEXT")
        .env_remove("NEXUS_DATA_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null());
    c
}

/// Kills the daemon a user's `nexus` started (by its pid), when it runs.
struct UserDaemon(std::path::PathBuf);

impl UserDaemon {
    fn pid(&self) -> Option<u32> {
        let o = nexus_e2e::run(nexus_of(&self.0).args(["daemon", "info", "--json"]));
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        info["pid"].as_u64().map(|p| p as u32)
    }
}

impl Drop for UserDaemon {
    fn drop(&mut self) {
        let lock = self.0.join(".local/share/nexus/nexusd.lock");
        if let Some(pid) = std::fs::read_to_string(lock)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

#[test]
fn two_users_each_get_their_own_daemon_without_configuration() {
    let root = tempfile::tempdir().expect("tempdir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&a).expect("home a");
    std::fs::create_dir_all(&b).expect("home b");
    let (user_a, user_b) = (UserDaemon(a.clone()), UserDaemon(b.clone()));
    for home in [&a, &b] {
        let started = std::time::Instant::now();
        let o = nexus_e2e::run(nexus_of(home).args(["workspace", "list"]));
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the CLI waited {:?}",
            started.elapsed()
        );
    }
    let (pa, pb) = (user_a.pid().expect("a's daemon"), user_b.pid().expect("b's daemon"));
    assert_ne!(pa, pb, "each user must reach a daemon of their own");
    let address = |home: &std::path::Path| {
        std::fs::read_to_string(home.join(".local/share/nexus/address")).expect("the published address")
    };
    assert_ne!(address(&a), address(&b));
}

#[test]
fn a_daemon_that_cannot_start_is_reported_at_once() {
    let d = Daemon::start();
    // the same data directory at another address: the daemon the CLI starts
    // finds the directory held by `d` and exits with its reason
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = free.local_addr().expect("addr").to_string();
    drop(free);
    let started = std::time::Instant::now();
    let o = nexus_e2e::run(d.nexus().env("NEXUS_HOST", &address).args(["workspace", "list"]));
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(69), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nexusd exited") && err.contains("another nexusd") && err.contains("already serves"),
        "the daemon's own error line must be shown:\n{err}"
    );
    assert!(!err.contains("stack backtrace"), "{err}");
    assert!(took < Duration::from_secs(5), "the CLI took {took:?}");

    // a daemon that refuses the token: the error names the address and whose it may be
    let o = nexus_e2e::run(
        d.nexus()
            .env("NEXUS_TOKEN", "not-the-token")
            .args(["workspace", "list"]),
    );
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("the daemon at {} refused the token", d.address))
            && err.contains("another user's nexusd"),
        "{err}"
    );
}

#[test]
fn port_ranges_that_cannot_work_are_refused_at_start() {
    let block = nexus_e2e::PortBlock::take();
    let api = block.first;
    let data = tempfile::tempdir().expect("tempdir");
    let nexusd = |listen: &str, range: &str| {
        nexus_e2e::run(
            std::process::Command::new(nexus_e2e::bin("nexusd"))
                .args(["--listen", listen, "--port-range", range])
                .env("NEXUS_DATA_DIR", data.path())
                .stdin(Stdio::null()),
        )
    };
    let listen = format!("127.0.0.1:{api}");
    for (range, says) in [
        ("34999-32800", "is inverted"),
        ("80-90", "starts below 1024"),
        ("1024-70000", "is no port (1024-65535)"),
        (&format!("{}-{}", api - 1, api + 5), "lies in the SSH port range"),
    ] {
        let o = nexusd(&listen, range);
        assert!(!o.status.success(), "{range} must be refused");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{range}: {}",
            text(&o)
        );
    }
    assert!(
        !data.path().join("address").exists(),
        "a daemon that did not start publishes no address"
    );
}

#[test]
fn images_nexus_built_are_pruned_and_no_others() {
    let d = Daemon::start();
    let repo = Repo::new();
    // content of its own, so no other test shares the image
    let dockerfile = format!("FROM {BUSYBOX}\nRUN echo {} > /unique\n", repo.path().display());
    repo.commit(&[
        (
            ".devcontainer/devcontainer.json",
            r#"{"build": {"dockerfile": "Dockerfile"}}"#,
        ),
        (".devcontainer/Dockerfile", &dockerfile),
    ]);
    let out = d.cli_ok(repo.path(), &["workspace", "create", "built", "--json"]);
    let ws: serde_json::Value = serde_json::from_str(&out).expect("create --json");
    let image = ws["image"].as_str().expect("image").to_string();
    assert!(image.starts_with("nexus/devcontainer:"), "{image}");
    // an image Nexus did not build is never a candidate
    let foreign = format!("nexus-e2e-foreign:{}", std::process::id());
    nexus_e2e::docker_ok(&["tag", BUSYBOX, &foreign]);
    let prune = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["image", "prune", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&d.cli_ok(repo.path(), &all)).expect("prune --json")
    };
    let reason_of = |result: &serde_json::Value, tag: &str| -> Option<String> {
        result["images"]
            .as_array()
            .expect("images")
            .iter()
            .find(|i| i["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == tag)))
            .map(|i| i["reason"].as_str().unwrap_or_default().to_string())
    };
    // in use: not even --all touches it
    let dry = prune(&["--all", "--dry-run"]);
    assert_eq!(reason_of(&dry, &image), None, "{dry}");
    assert_eq!(reason_of(&dry, &foreign), None, "{dry}");
    d.cli_ok(repo.path(), &["workspace", "rm", "built", "--force", "--delete-branch"]);
    // unused now, but the newest of a repository that is still there: kept
    let dry = prune(&["--dry-run"]);
    assert_eq!(reason_of(&dry, &image), None, "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(
        reason_of(&prune(&["--all", "--dry-run"]), &image).as_deref(),
        Some("unused")
    );
    // its repository gone from disk: it goes
    std::fs::remove_dir_all(repo.path()).expect("remove the repository");
    let out = d.cli_ok(&std::env::temp_dir(), &["image", "prune", "--json"]);
    let done: serde_json::Value = serde_json::from_str(&out).expect("prune --json");
    assert_eq!(reason_of(&done, &image).as_deref(), Some("repositoryGone"), "{done}");
    assert!(
        !nexus_e2e::run(std::process::Command::new("docker").args(["image", "inspect", &image]))
            .status
            .success(),
        "{image} must be gone"
    );
    assert!(
        nexus_e2e::run(std::process::Command::new("docker").args(["image", "inspect", &foreign]))
            .status
            .success(),
        "an image Nexus did not build must stay"
    );
    nexus_e2e::docker_ok(&["rmi", &foreign]);
}

#[test]
fn completions_name_commands_and_the_daemons_workspaces() {
    for shell in ["bash", "zsh", "fish"] {
        let o = nexus_e2e::run(
            std::process::Command::new(nexus_e2e::bin("nexus"))
                .args(["completion", shell])
                .env("NEXUS_HOST", "127.0.0.1:1"),
        );
        assert!(o.status.success(), "{shell}: {}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(
            script.contains("COMPLETE=") && script.contains("nexus"),
            "{shell}:\n{script}"
        );
    }
    // bash loads it
    let o = nexus_e2e::run(std::process::Command::new("bash").arg("-c").arg(format!(
        "source <({} completion bash) && complete -p nexus",
        nexus_e2e::bin("nexus").display()
    )));
    assert!(o.status.success(), "{}", text(&o));
    // what the shell gets at a TAB: subcommands, and workspace names from the daemon
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "alpha", BUSYBOX);
    let complete = |words: &[&str]| {
        let o = nexus_e2e::run(d.nexus().env("COMPLETE", "fish").arg("--").args(words));
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let subcommands = complete(&["nexus", "workspace", ""]);
    for word in ["create", "ssh", "port-forward", "rm"] {
        assert!(
            subcommands.lines().any(|l| l.starts_with(word)),
            "{word} missing:\n{subcommands}"
        );
    }
    let names = complete(&["nexus", "workspace", "ssh", ""]);
    assert!(names.lines().any(|l| l.starts_with("alpha")), "{names}");
    // a daemon that does not answer: no names, and no daemon started
    let o = nexus_e2e::run(
        d.nexus()
            .env("COMPLETE", "fish")
            .env("NEXUS_HOST", "127.0.0.1:1")
            .args(["--", "nexus", "workspace", "ssh", ""]),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("alpha")),
        "{}",
        text(&o)
    );
}

/// `GET path` of daemon `d` over HTTP/1.0, with `token` as bearer when given:
/// (status, body).
fn http(d: &Daemon, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&d.address).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    s.write_all(format!("GET {path} HTTP/1.0\r\n{auth}\r\n").as_bytes())
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn metrics_and_health_tell_what_runs() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "measured", BUSYBOX);
    d.cli_ok(repo.path(), &["workspace", "exec", "measured", "--", "true"]);
    let o = d.cli(repo.path(), &["workspace", "show", "nobody-here"]);
    assert!(!o.status.success());
    // the API's token rules
    assert_eq!(http(&d, "/metrics", None).0, 401);
    let (status, text) = http(&d, "/metrics", Some(&d.token()));
    assert_eq!(status, 200, "{text}");
    for line in [
        "nexus_workspaces{state=\"running\"} 1",
        "nexus_create_duration_seconds_count 1",
        "nexus_exec_duration_seconds_count 1",
        "nexus_api_requests_total{method=\"workspace.create\"} 1",
        "nexus_api_errors_total{method=\"workspace.get\",kind=\"not_found\"} 1",
        "nexus_agent_connections 1",
        "nexus_port_forwards 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    }
    for name in [
        "nexus_process_resident_memory_bytes ",
        "nexus_process_open_fds ",
        "nexus_process_cpu_seconds ",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "no {name} in:\n{text}");
    }
    // health: no token, Docker and the store
    let (status, body) = http(&d, "/health", None);
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["docker"]["ok"], true);
    assert_eq!(health["store"]["ok"], true);

    // a daemon whose Docker does not answer says so
    let blind = Daemon::start_env(&[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    let (status, body) = http(&blind, "/health", None);
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["docker"]["ok"], false);
    assert!(
        health["docker"]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(health["store"]["ok"], true);
}

#[test]
fn a_container_restarted_under_the_daemon_serves_again() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "bounce", BUSYBOX);
    let name = format!("nexus-bounce-{}", &ws["id"].as_str().expect("id")[..8]);
    // the daemon's pooled connection is in use before the restart
    d.cli_ok(repo.path(), &["workspace", "exec", "bounce", "--", "true"]);
    // as a Docker restart does to every container
    nexus_e2e::docker_ok(&["restart", "-t", "1", &name]);
    let out = d.cli_ok(repo.path(), &["workspace", "exec", "bounce", "--", "echo", "again"]);
    assert_eq!(out, "again\n");
    let o = d.ssh(&ws, "echo in");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "in\n", "{}", text(&o));
    // stopped under the daemon: the list says so, and a start brings it back
    nexus_e2e::docker_ok(&["stop", "-t", "1", &name]);
    nexus_e2e::wait_for("the stop to be seen", Duration::from_secs(20), || {
        listed(&d, &repo, "bounce").is_some_and(|(state, _)| state == "stopped")
    });
    d.cli_ok(repo.path(), &["workspace", "start", "bounce"]);
    let out = d.cli_ok(repo.path(), &["workspace", "exec", "bounce", "--", "echo", "back"]);
    assert_eq!(out, "back\n");
}
