//! Git checkpoints of a workspace (`nexus workspace checkpoint`, `restore`)
//! against real git and a real container writing into the worktree.

use nexus_e2e::{BUSYBOX, Daemon, Repo, git, sh, text, write_file};
use std::path::Path;

/// HEAD, the index, `git status` and every file but `.git` (ignored ones
/// included), sorted: what a restore must bring back exactly.
fn state(dir: &Path) -> (String, String, String, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("inside").display().to_string();
                files.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    files.sort();
    (
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["ls-files", "--stage"]),
        git(dir, &["status", "--porcelain", "--untracked-files=all"]),
        files,
    )
}

#[test]
fn checkpoint_restore_round_trip_with_undo_and_bad_input() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[
        (".gitignore", "*.log\n"),
        ("kept.txt", "kept\n"),
        ("modified.txt", "one\n"),
        ("deleted.txt", "soon gone\n"),
        ("staged.txt", "a\n"),
    ]);
    let ws = d.create(&repo, "snap", BUSYBOX);
    let wt = repo.worktree("snap");
    // a dirty tree: modified, deleted, partly staged, untracked, ignored,
    // and a file the container wrote
    write_file(&wt, "modified.txt", "two\n");
    std::fs::remove_file(wt.join("deleted.txt")).expect("rm");
    write_file(&wt, "staged.txt", "b\n");
    git(&wt, &["add", "staged.txt"]);
    write_file(&wt, "staged.txt", "c\n");
    write_file(&wt, "new/untracked.txt", "new\n");
    write_file(&wt, "build.log", "ignored\n");
    let folder = ws["workspaceFolder"].as_str().expect("folder");
    sh(&d, &repo, "snap", &format!("echo made-inside > {folder}/inside.txt"));
    let before = state(&wt);
    assert!(before.3.iter().any(|(p, t)| p == "inside.txt" && t == "made-inside\n"));

    let out = d.cli_ok(
        repo.path(),
        &["workspace", "checkpoint", "create", "snap", "before", "--json"],
    );
    let cp: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(cp["name"], "before");
    assert_eq!(cp["number"], 1);
    let commit = cp["commit"].as_str().expect("commit").to_string();
    assert_eq!(commit.len(), 40, "{cp}");
    assert_eq!(state(&wt), before, "a checkpoint changes nothing in the worktree");
    assert_eq!(
        git(&wt, &["rev-parse", &format!("{commit}^1")]).trim(),
        before.0.trim(),
        "its first parent is HEAD"
    );

    // bad input: clear errors, nothing recorded or changed
    let o = d.cli(repo.path(), &["workspace", "checkpoint", "create", "snap", "before"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("has a checkpoint named \"before\" already"),
        "{}",
        text(&o)
    );
    let o = d.cli(repo.path(), &["workspace", "checkpoint", "create", "snap", "../x"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("is no checkpoint name"), "{}", text(&o));
    let o = d.cli(repo.path(), &["workspace", "restore", "snap", "nope"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("has no checkpoint named \"nope\""), "{}", text(&o));
    let o = d.cli(repo.path(), &["workspace", "checkpoint", "create", "ghost"]);
    assert!(!o.status.success());
    assert_eq!(state(&wt), before, "bad input changes nothing");
    let list = d.cli_ok(repo.path(), &["workspace", "checkpoint", "list", "snap", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(list.as_array().expect("array").len(), 1, "{list}");

    // everything changes, git collects garbage, then the restore
    write_file(&wt, "modified.txt", "three\n");
    git(&wt, &["add", "-A"]);
    git(&wt, &["commit", "-qm", "later"]);
    write_file(&wt, "kept.txt", "changed\n");
    write_file(&wt, "other/later.txt", "later\n");
    std::fs::remove_file(wt.join("inside.txt")).expect("rm");
    git(repo.path(), &["gc", "-q", "--prune=now"]);
    let later = state(&wt);
    let out = d.cli_ok(repo.path(), &["workspace", "restore", "snap", "before"]);
    assert_eq!(state(&wt), before, "HEAD, index, status and files come back:\n{out}");
    // the container sees the restored file
    assert_eq!(
        sh(&d, &repo, "snap", &format!("cat {folder}/inside.txt")),
        "made-inside\n"
    );

    // the restore took a checkpoint first: restoring it undoes the restore
    let undo = out
        .split("nexus workspace restore snap ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("the undo checkpoint is named")
        .to_string();
    d.cli_ok(repo.path(), &["workspace", "restore", "snap", &undo]);
    assert_eq!(state(&wt), later, "the restore is undone");

    // rm: the checkpoint and its ref go; removing the workspace takes the rest
    d.cli_ok(repo.path(), &["workspace", "checkpoint", "rm", "snap", "before"]);
    let refs = git(repo.path(), &["for-each-ref", "refs/nexus/checkpoints/"]);
    assert!(!refs.contains(&commit), "the removed checkpoint's ref is gone:\n{refs}");
    assert!(!refs.is_empty(), "the other checkpoints' refs stay");
    d.cli_ok(repo.path(), &["workspace", "rm", "snap", "--force", "--delete-branch"]);
    assert_eq!(git(repo.path(), &["for-each-ref", "refs/nexus/checkpoints/"]), "");
    d.assert_no_leftovers(&repo, "snap", false);
}

#[test]
fn a_fork_starts_from_a_checkpoint_and_runs_beside_its_source() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("app.txt", "v1\n"), ("other.txt", "o\n")]);
    let src = d.create(&repo, "origin", BUSYBOX);
    let wt = repo.worktree("origin");
    // uncommitted work: a change, a deletion, a staged file, an untracked one
    write_file(&wt, "app.txt", "v2 uncommitted\n");
    std::fs::remove_file(wt.join("other.txt")).expect("rm");
    write_file(&wt, "staged.txt", "staged\n");
    git(&wt, &["add", "staged.txt"]);
    write_file(&wt, "notes/untracked.txt", "draft\n");
    d.cli_ok(repo.path(), &["workspace", "checkpoint", "create", "origin", "mid"]);
    let at_checkpoint = state(&wt);
    // the source moves on after the checkpoint
    write_file(&wt, "app.txt", "v3 later\n");

    // forking to a name that is taken changes nothing
    let o = d.cli(repo.path(), &["workspace", "fork", "origin@mid", "origin"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("exists already"), "{}", text(&o));
    let o = d.cli(repo.path(), &["workspace", "fork", "origin@nope", "copy"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("has no checkpoint named \"nope\""), "{}", text(&o));
    d.assert_no_leftovers(&repo, "copy", false);

    let out = d.cli_ok(repo.path(), &["workspace", "fork", "origin@mid", "copy", "--json"]);
    let copy: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(copy["state"], "running");
    assert_eq!(copy["branch"], "nexus/copy");
    assert_ne!(copy["sshPort"], src["sshPort"]);
    let fork_wt = repo.worktree("copy");
    let forked = state(&fork_wt);
    assert_eq!(forked.0, at_checkpoint.0, "the fork's HEAD is the checkpoint's");
    assert_eq!(forked.1, at_checkpoint.1, "the fork's index is the checkpoint's");
    assert_eq!(forked.2, at_checkpoint.2, "git status is the checkpoint's");
    assert_eq!(forked.3, at_checkpoint.3, "the files are the checkpoint's");

    // both run, each with its own files: a change in one is not in the other
    let folder = copy["workspaceFolder"].as_str().expect("folder");
    assert_eq!(
        sh(&d, &repo, "copy", &format!("cat {folder}/app.txt")),
        "v2 uncommitted\n"
    );
    assert_eq!(sh(&d, &repo, "origin", &format!("cat {folder}/app.txt")), "v3 later\n");
    sh(&d, &repo, "copy", &format!("echo fork-only > {folder}/fork.txt"));
    assert!(fork_wt.join("fork.txt").exists() && !wt.join("fork.txt").exists());
    let o = d.ssh(&copy, "cat notes/untracked.txt");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "draft\n", "{}", text(&o));

    // a fork without a checkpoint takes the source's state now
    d.cli_ok(repo.path(), &["workspace", "fork", "origin", "now"]);
    assert_eq!(
        std::fs::read_to_string(repo.worktree("now").join("app.txt")).expect("app"),
        "v3 later\n"
    );
    for name in ["now", "copy", "origin"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }
}

/// Images labelled as workspace `id`'s.
fn images_of(id: &str) -> String {
    nexus_e2e::docker_ok(&["images", "-q", "--filter", &format!("label=dev.nexus.workspace={id}")])
}

#[test]
fn a_full_checkpoint_brings_back_the_containers_own_files() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "box", BUSYBOX);
    let id = ws["id"].as_str().expect("id").to_string();
    // something installed in the container, outside the worktree
    sh(&d, &repo, "box", "mkdir -p /opt/tool && echo v1 > /opt/tool/version");
    write_file(&repo.worktree("box"), "work.txt", "w1\n");
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "checkpoint",
            "create",
            "box",
            "installed",
            "--full",
            "--json",
        ],
    );
    let cp: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(cp["image"], format!("nexus/checkpoint:{id}-1"), "{cp}");
    assert!(
        !images_of(&id).trim().is_empty(),
        "the image is labelled as the workspace's"
    );

    // the container loses the tool, the worktree changes; the restore brings both back
    sh(&d, &repo, "box", "rm -rf /opt/tool");
    write_file(&repo.worktree("box"), "work.txt", "w2\n");
    d.cli_ok(repo.path(), &["workspace", "restore", "box", "installed"]);
    assert_eq!(sh(&d, &repo, "box", "cat /opt/tool/version"), "v1\n");
    assert_eq!(
        std::fs::read_to_string(repo.worktree("box").join("work.txt")).expect("work"),
        "w1\n"
    );
    let after: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", "box", "--json"])).expect("json");
    assert_eq!(after["state"], "running");
    assert_eq!(after["sshPort"], ws["sshPort"], "the same SSH port");
    assert_eq!(after["hostPublicKey"], ws["hostPublicKey"], "the same host key");
    let o = d.ssh(&after, "cat /opt/tool/version");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "v1\n", "{}", text(&o));

    // a fork of it has the tool too
    d.cli_ok(repo.path(), &["workspace", "fork", "box@installed", "box2"]);
    assert_eq!(sh(&d, &repo, "box2", "cat /opt/tool/version"), "v1\n");

    // nothing is left once they are gone
    d.cli_ok(repo.path(), &["workspace", "checkpoint", "rm", "box", "installed"]);
    for name in ["box2", "box"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }
    assert_eq!(images_of(&id).trim(), "", "no checkpoint image is left");
}
