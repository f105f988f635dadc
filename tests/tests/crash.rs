//! SIGKILL of nexusd in the middle of a create, of a remove and of a full
//! checkpoint: after a restart each is finished or rolled back, and running
//! workspaces answer SSH while the daemon is down.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::process::Stdio;
use std::time::Duration;

/// Whether workspace `name` is consistently there (record, container,
/// worktree, SSH) or consistently gone; panics on anything in between.
fn settled(d: &Daemon, repo: &Repo, name: &str) -> bool {
    let list: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "list", "--json"])).expect("json");
    let record = list
        .as_array()
        .expect("array")
        .iter()
        .find(|w| w["name"] == name)
        .cloned();
    match record {
        Some(ws) => {
            assert_eq!(ws["state"], "running", "{name} must be running or gone: {ws}");
            assert!(repo.worktree(name).exists(), "{name} has a record but no worktree");
            let o = d.ssh(&ws, "true");
            assert!(o.status.success(), "{name} has a record but no SSH: {}", text(&o));
            true
        }
        None => {
            d.assert_no_leftovers(repo, name, false);
            false
        }
    }
}

fn container_of(name: &str, daemon_id: &str) -> bool {
    !nexus_e2e::docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.nexus.name={name}"),
        "--filter",
        &format!("label=dev.nexus.daemon={daemon_id}"),
    ])
    .trim()
    .is_empty()
}

#[test]
fn sigkill_mid_create_and_mid_remove_settles_after_restart() {
    // the daemon pauses where a test arms it (`Manager::pause_point`), so the
    // kills land at exactly the step they are meant for
    let mut d = Daemon::start_env(&[("NEXUS_TEST_PAUSE_POINTS", "1")]);
    let repo = Repo::new();
    let survivor = d.create(&repo, "survivor", BUSYBOX);
    let arm = |d: &Daemon, point: &str| std::fs::write(d.data_dir().join("pause-at"), point).expect("arm");
    let paused = |d: &Daemon, point: &str| {
        let marker = d.data_dir().join(format!("paused-at-{point}"));
        nexus_e2e::wait_for(
            &format!("the daemon to pause at {point}"),
            Duration::from_secs(60),
            || marker.exists(),
        );
    };

    // kill during a create, once its container exists
    arm(&d, "create-container");
    let mut create = d
        .nexus()
        .args(["workspace", "create", "victim", "--image", BUSYBOX])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    paused(&d, "create-container");
    assert!(container_of("victim", &d.daemon_id()), "the victim's container exists");
    d.kill9();
    let _ = create.wait();
    std::fs::remove_file(d.data_dir().join("pause-at")).expect("disarm");

    // the daemon is down: the running workspace still answers SSH
    let o = d.ssh(&survivor, "echo alive");
    assert!(o.status.success(), "ssh while the daemon is down:\n{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alive\n");

    // the cut-off create is rolled back on restart: nothing of it is left
    d.spawn();
    assert!(!settled(&d, &repo, "victim"), "a cut-off create must be rolled back");
    d.assert_no_leftovers(&repo, "victim", false);
    assert!(settled(&d, &repo, "survivor"), "the survivor must stay");

    // kill during a remove, once `removing` is recorded and before anything goes
    arm(&d, "remove-recorded");
    let mut remove = d
        .nexus()
        .args(["workspace", "rm", "survivor", "--delete-branch"])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rm");
    paused(&d, "remove-recorded");
    d.kill9();
    let _ = remove.wait();
    std::fs::remove_file(d.data_dir().join("pause-at")).expect("disarm");
    d.spawn();
    // a remove cut off after it began is finished on restart, as asked
    // (with --delete-branch, so the branch goes too), with no command of ours
    let finished = || d.cli_ok(repo.path(), &["workspace", "list", "--json"]).trim() == "[]";
    nexus_e2e::wait_for(
        "the restarted daemon to finish the remove",
        Duration::from_secs(60),
        finished,
    );
    d.assert_no_leftovers(&repo, "survivor", false);
    assert!(d.containers().is_empty());
}

#[test]
fn a_killed_daemon_ends_the_host_processes_it_started() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    // an initializeCommand (run on the host) that outlives the daemon unless ended with it
    let seconds = (40_000 + std::process::id() % 10_000).to_string();
    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        &format!(r#"{{"image": "{BUSYBOX}", "initializeCommand": ["sleep", "{seconds}"]}}"#),
    )]);
    let mut create = d
        .nexus()
        .args(["workspace", "create", "slow"])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    let pattern = format!("^sleep {seconds}$");
    let running = || {
        nexus_e2e::run(std::process::Command::new("pgrep").args(["-f", &pattern]))
            .status
            .success()
    };
    nexus_e2e::wait_for("initializeCommand to run", Duration::from_secs(60), running);
    d.kill9();
    nexus_e2e::wait_for(
        "initializeCommand to end with the daemon",
        Duration::from_secs(10),
        || !running(),
    );
    let _ = create.wait();
    // the cut-off create is rolled back on restart
    d.spawn();
    assert!(!settled(&d, &repo, "slow"), "a cut-off create must be rolled back");
    d.assert_no_leftovers(&repo, "slow", false);
}

#[test]
fn sigkill_mid_full_checkpoint_leaves_no_half_of_it() {
    let mut d = Daemon::start_env(&[("NEXUS_TEST_PAUSE_POINTS", "1")]);
    let repo = Repo::new();
    let ws = d.create(&repo, "snap", BUSYBOX);
    let id = ws["id"].as_str().expect("id").to_string();
    // pause once the ref and the image exist, before the checkpoint is recorded done
    std::fs::write(d.data_dir().join("pause-at"), "checkpoint-committed").expect("arm");
    let mut create = d
        .nexus()
        .args(["workspace", "checkpoint", "create", "snap", "half", "--full"])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn checkpoint");
    let marker = d.data_dir().join("paused-at-checkpoint-committed");
    nexus_e2e::wait_for("the checkpoint to pause", Duration::from_secs(60), || marker.exists());
    let images = || nexus_e2e::docker_ok(&["images", "-q", "--filter", &format!("label=dev.nexus.workspace={id}")]);
    assert!(!images().trim().is_empty(), "the image exists at the pause");
    assert!(!nexus_e2e::git(repo.path(), &["for-each-ref", "refs/nexus/checkpoints/"]).is_empty());
    d.kill9();
    let _ = create.wait();
    std::fs::remove_file(d.data_dir().join("pause-at")).expect("disarm");
    d.spawn();
    let list = d.cli_ok(repo.path(), &["workspace", "checkpoint", "list", "snap", "--json"]);
    assert_eq!(list.trim(), "[]", "no half-recorded checkpoint is listed");
    assert_eq!(
        nexus_e2e::git(repo.path(), &["for-each-ref", "refs/nexus/checkpoints/"]),
        ""
    );
    assert_eq!(images().trim(), "", "no orphan image");
    // and the name is free again
    d.cli_ok(repo.path(), &["workspace", "checkpoint", "create", "snap", "half"]);
}
