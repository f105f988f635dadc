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
    // one container, on the new port; the first one is gone
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
    assert!(lines[0].contains(&format!("127.0.0.1:{port}->")), "{containers}");
    assert!(
        d.log().contains(&format!("port {allocated} was taken")),
        "the move must be logged:\n{}",
        d.log()
    );
    drop(squatter);
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
        // nobody listens: no watcher, nothing polled
        assert!(!watcher_runs(&ws), "an idle workspace must not be watched");
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
