//! Idle pause and stop, and waking on use: real Docker, real OpenSSH
//! clients through the relay.

use nexus_e2e::{BUSYBOX, Daemon, Repo, docker_ok, sh, text, wait_for};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `nexus workspace create NAME --image busybox FLAGS… --json`.
fn create(d: &Daemon, repo: &Repo, name: &str, flags: &[&str]) -> serde_json::Value {
    let mut args = vec!["workspace", "create", name, "--image", BUSYBOX, "--json"];
    args.extend_from_slice(flags);
    serde_json::from_str(&d.cli_ok(repo.path(), &args)).expect("workspace json")
}

/// The workspace's state and why it is in it.
fn state(d: &Daemon, repo: &Repo, name: &str) -> (String, String) {
    let w: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", name, "--json"])).expect("json");
    (
        w["state"].as_str().unwrap_or_default().to_string(),
        w["stateReason"].as_str().unwrap_or_default().to_string(),
    )
}

fn container(ws: &serde_json::Value) -> String {
    let id = ws["id"].as_str().expect("id");
    format!("nexus-{}-{}", ws["name"].as_str().expect("name"), &id[..8])
}

#[test]
fn a_silent_ssh_session_lets_a_workspace_pause_and_one_printing_keeps_it_awake() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "napper", &["--idle-pause", "3s"]);
    assert_eq!(ws["idle"], serde_json::json!({"pauseAfterSeconds": 3}));
    // a session with keep-alives every second and no output
    let mut silent = d
        .ssh_command(&ws, &["-o", "ServerAliveInterval=1"])
        .arg("sleep 60")
        .stdin(Stdio::null())
        .spawn()
        .expect("ssh");
    wait_for("the idle pause", Duration::from_secs(30), || {
        state(&d, &repo, "napper").0 == "paused"
    });
    let (_, why) = state(&d, &repo, "napper");
    assert!(why.starts_with("idle for "), "{why}");
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Paused}}", &container(&ws)]).trim(),
        "true"
    );
    let listed = d.cli_ok(repo.path(), &["workspace", "list"]);
    assert!(listed.contains("paused (idle for "), "{listed}");
    let _ = silent.kill();
    let _ = silent.wait();

    // an exec wakes it; a session printing every second then keeps it awake
    assert_eq!(sh(&d, &repo, "napper", "echo up"), "up\n");
    assert_eq!(state(&d, &repo, "napper").0, "running");
    let mut busy = d
        .ssh_command(&ws, &[])
        .arg("while true; do echo tick; sleep 1; done")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("ssh");
    let until = Instant::now() + Duration::from_secs(9);
    while Instant::now() < until {
        assert_eq!(
            state(&d, &repo, "napper").0,
            "running",
            "a session with output counts as use"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = busy.kill();
    let _ = busy.wait();
    wait_for("the pause once the output stops", Duration::from_secs(30), || {
        state(&d, &repo, "napper").0 == "paused"
    });
}

#[test]
fn a_stopped_workspace_wakes_on_ssh_and_a_tcp_probe_leaves_it_stopped() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "sleeper", &["--idle-stop", "2s"]);
    wait_for("the idle stop", Duration::from_secs(30), || {
        state(&d, &repo, "sleeper").0 == "stopped"
    });
    let (_, why) = state(&d, &repo, "sleeper");
    assert!(why.starts_with("idle for "), "{why}");
    let port = ws["sshPort"].as_u64().expect("port");
    // a port scan's connect, and a client that is not SSH: both dropped, nothing woken
    drop(std::net::TcpStream::connect(("127.0.0.1", port as u16)).expect("connect"));
    let mut probe = std::net::TcpStream::connect(("127.0.0.1", port as u16)).expect("connect");
    probe.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    let _ = probe.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(state(&d, &repo, "sleeper").0, "stopped");
    let relay_log = std::fs::read_to_string(d.data_dir().join("relay.log")).unwrap_or_default();
    assert!(relay_log.contains("is not an SSH client"), "{relay_log}");
    // plain ssh wakes it and gets its answer
    let t = Instant::now();
    let o = d.ssh(&ws, "echo awake");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "awake\n");
    assert!(t.elapsed() < Duration::from_secs(10), "woke in {:?}", t.elapsed());
    assert_eq!(state(&d, &repo, "sleeper"), ("running".into(), String::new()));
}

#[test]
fn a_paused_workspace_keeps_its_processes_across_a_wake() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "frozen", &["--idle-pause", "2s"]);
    let pid = sh(&d, &repo, "frozen", "sleep 1000 >/dev/null 2>&1 & echo $!");
    let pid = pid.trim().to_string();
    wait_for("the idle pause", Duration::from_secs(30), || {
        state(&d, &repo, "frozen").0 == "paused"
    });
    let o = d.ssh(&ws, &format!("kill -0 {pid} && echo alive"));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alive\n");
    assert_eq!(state(&d, &repo, "frozen").0, "running");
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Paused}}", &container(&ws)]).trim(),
        "false"
    );
}

#[test]
fn an_idle_time_of_zero_or_below_is_refused_and_leaves_nothing() {
    let d = Daemon::start();
    let repo = Repo::new();
    for (flag, value, says) in [
        ("--idle-pause", "0", "at least 1s"),
        ("--idle-stop", "-5m", "not an idle time"),
        ("--idle-pause", "10x", "not an idle time"),
    ] {
        let o = d.cli(
            repo.path(),
            &["workspace", "create", "lazy", "--image", BUSYBOX, flag, value],
        );
        assert!(!o.status.success(), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{}", text(&o));
        d.assert_no_leftovers(&repo, "lazy", false);
    }
    // the API refuses a zero the CLI would not send
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let e = rt
        .block_on(async {
            d.client()
                .await
                .create(&nexus_sdk::CreateParams {
                    name: "lazy".into(),
                    repository: repo.path().display().to_string(),
                    image: Some(BUSYBOX.into()),
                    authorized_keys: vec![
                        std::fs::read_to_string(d.key().with_extension("pub")).expect("the test key's .pub"),
                    ],
                    idle: Some(nexus_sdk::IdleSettings {
                        pause_after_seconds: None,
                        stop_after_seconds: Some(0),
                    }),
                    ..Default::default()
                })
                .await
        })
        .expect_err("zero");
    assert!(e.to_string().contains("at least 1 second"), "{e}");
    d.assert_no_leftovers(&repo, "lazy", false);
}

#[test]
fn a_sleeping_workspace_sleeps_on_across_a_daemon_restart_and_still_wakes_on_ssh() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "dozer", &["--idle-pause", "2s"]);
    wait_for("the idle pause", Duration::from_secs(30), || {
        state(&d, &repo, "dozer").0 == "paused"
    });
    // the relay outlives the daemon; the new daemon finds the paused container and keeps it asleep
    d.kill9();
    d.spawn();
    let (now, why) = state(&d, &repo, "dozer");
    assert_eq!(now, "paused", "{why}");
    assert!(why.starts_with("idle for "), "{why}");
    let o = d.ssh(&ws, "echo back");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "back\n");
    assert_eq!(state(&d, &repo, "dozer").0, "running");
}

#[test]
fn the_idle_times_of_a_workspace_change_after_it_is_made() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "later", &[]);
    assert!(ws.get("idle").is_none(), "{ws}");
    let o = d.cli(repo.path(), &["workspace", "idle", "later", "--pause", "0"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("at least 1s"),
        "{}",
        text(&o)
    );
    assert_eq!(state(&d, &repo, "later").0, "running");
    let said = d.cli_ok(repo.path(), &["workspace", "idle", "later", "--pause", "2s"]);
    assert_eq!(said, "workspace later pauses after 2s idle, never stops\n");
    wait_for("the idle pause", Duration::from_secs(30), || {
        state(&d, &repo, "later").0 == "paused"
    });
    // no times: it never sleeps again (and the call wakes nothing by itself)
    let said = d.cli_ok(repo.path(), &["workspace", "idle", "later"]);
    assert_eq!(said, "workspace later never pauses, never stops\n");
    let o = d.cli(repo.path(), &["workspace", "idle", "nowhere", "--stop", "1h"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nowhere"),
        "{}",
        text(&o)
    );
}
