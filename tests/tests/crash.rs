//! SIGKILL of nexusd in the middle of a create and of a remove: after a
//! restart each is finished or rolled back, and running workspaces answer SSH
//! while the daemon is down.

use nexus_e2e::{BUSYBOX, Daemon, Repo, run, text};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let o = run(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.nexus.name={name}"),
        "--filter",
        &format!("label=dev.nexus.daemon={daemon_id}"),
    ]));
    !o.stdout.is_empty()
}

#[test]
fn sigkill_mid_create_and_mid_remove_settles_after_restart() {
    let mut d = Daemon::start(15);
    let repo = Repo::new();
    let survivor = d.create(&repo, "survivor", BUSYBOX);

    // kill during a create, once its container exists
    let mut create = d
        .nexus()
        .args(["workspace", "create", "victim", "--image", BUSYBOX])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    let id = d.daemon_id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !container_of("victim", &id) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    d.kill9();
    let _ = create.wait();

    // the daemon is down: the running workspace still answers SSH
    let o = d.ssh(&survivor, "echo alive");
    assert!(o.status.success(), "ssh while the daemon is down:\n{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alive\n");

    d.spawn();
    let victim_kept = settled(&d, &repo, "victim");
    assert!(settled(&d, &repo, "survivor"), "the survivor must stay");
    if victim_kept {
        d.cli_ok(repo.path(), &["workspace", "rm", "victim", "--delete-branch"]);
        d.assert_no_leftovers(&repo, "victim", false);
    }

    // kill during a remove, once it began
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut events = rt.block_on(async {
        let c = d.client().await;
        let sub = c
            .events(&nexus_sdk::EventsParams {
                workspace: Some("survivor".into()),
            })
            .await
            .expect("events");
        (c, sub)
    });
    let mut remove = d
        .nexus()
        .args(["workspace", "rm", "survivor", "--delete-branch"])
        .current_dir(repo.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rm");
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(Ok(ev)) = events.1.next().await {
                if matches!(
                    ev,
                    nexus_sdk::Event::State {
                        state: Some(nexus_sdk::WorkspaceState::Removing),
                        ..
                    }
                ) {
                    break;
                }
            }
        })
        .await;
    });
    d.kill9();
    let _ = remove.wait();
    drop(events);
    d.spawn();
    if settled(&d, &repo, "survivor") {
        d.cli_ok(repo.path(), &["workspace", "rm", "survivor", "--delete-branch"]);
    }
    // a remove cut off after it began is finished on restart, as asked
    // (with --delete-branch, so the branch goes too)
    let list = d.cli_ok(repo.path(), &["workspace", "list", "--json"]);
    assert_eq!(list.trim(), "[]", "{list}");
    d.assert_no_leftovers(&repo, "survivor", false);
    assert!(d.containers().is_empty());
}
