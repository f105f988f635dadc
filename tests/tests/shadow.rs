//! Sandboxed runs (`nexus shadow`, `hydrate`, `discard`) against a real
//! daemon, workspaces and git: the source keeps its own edits, a change
//! that does not apply is refused with the source unchanged, a hydrate is
//! undone through its automatic checkpoint, and a discard leaves nothing.

use nexus_e2e::{BUSYBOX, Daemon, Repo, git, text, write_file};
use std::path::Path;

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap_or_default()
}

#[test]
fn shadow_hydrate_undo_and_discard_from_a_workspace_with_its_own_edits() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("app.txt", "one\ntwo\nthree\n"), ("notes.txt", "notes\n")]);
    d.create(&repo, "src", BUSYBOX);
    let src = repo.worktree("src");
    // the source's own uncommitted edit, before the run
    write_file(&src, "notes.txt", "notes, edited before\n");

    // the agent: edits app.txt, adds a file; the shadow starts with the source's edit
    let agent = "sed -i s/two/TWO/ app.txt && echo new > added.txt && cat notes.txt";
    let o = d.cli(
        repo.path(),
        &["shadow", "try1", "--from", "src", "--", "sh", "-c", agent],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("notes, edited before"),
        "the shadow starts from the source's state: {out}"
    );
    assert!(out.contains("-two\n+TWO"), "the diff is printed: {out}");
    assert!(out.contains("+++ b/added.txt"), "{out}");
    assert!(
        !out.contains("notes.txt\n"),
        "the source's own edit is no change of the run: {out}"
    );

    // meanwhile the source is edited again, elsewhere in the tree
    write_file(&src, "later.txt", "made while the agent ran\n");
    let o = d.cli(repo.path(), &["hydrate", "try1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(read(&src, "app.txt"), "one\nTWO\nthree\n");
    assert_eq!(read(&src, "added.txt"), "new\n");
    assert_eq!(
        read(&src, "notes.txt"),
        "notes, edited before\n",
        "its own edits are kept"
    );
    assert_eq!(read(&src, "later.txt"), "made while the agent ran\n");

    // undone through the automatic checkpoint
    let said = text(&o);
    assert!(
        said.contains("nexus workspace restore src before-hydrate-try1"),
        "{said}"
    );
    d.cli_ok(repo.path(), &["workspace", "restore", "src", "before-hydrate-try1"]);
    assert_eq!(read(&src, "app.txt"), "one\ntwo\nthree\n");
    assert!(!src.join("added.txt").exists());
    assert_eq!(read(&src, "notes.txt"), "notes, edited before\n");
    assert_eq!(read(&src, "later.txt"), "made while the agent ran\n");

    // a conflicting hydrate: refused, the source byte-identical
    write_file(&src, "app.txt", "one\ntwo, changed by the source\nthree\n");
    let before: Vec<(String, String)> = ["app.txt", "notes.txt", "later.txt"]
        .iter()
        .map(|f| (f.to_string(), read(&src, f)))
        .collect();
    let status_before = git(&src, &["status", "--porcelain"]);
    let o = d.cli(repo.path(), &["hydrate", "try1"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("do not apply cleanly"), "{}", text(&o));
    let after: Vec<(String, String)> = ["app.txt", "notes.txt", "later.txt"]
        .iter()
        .map(|f| (f.to_string(), read(&src, f)))
        .collect();
    assert_eq!(after, before);
    assert_eq!(git(&src, &["status", "--porcelain"]), status_before);
    // --3way writes conflict markers instead
    let o = d.cli(repo.path(), &["hydrate", "try1", "--3way"]);
    assert!(
        read(&src, "app.txt").contains("<<<<<<<"),
        "{}\n{}",
        text(&o),
        read(&src, "app.txt")
    );

    // discard: the shadow's workspace, branch and record are gone
    d.cli_ok(repo.path(), &["discard", "try1"]);
    d.assert_no_leftovers(&repo, "try1", false);
    assert!(git(repo.path(), &["for-each-ref", "refs/nexus/shadow/"]).is_empty());
    let config = nexus_e2e::run(
        std::process::Command::new("git")
            .args(["config", "--get-regexp", "nexus-shadow"])
            .current_dir(repo.path()),
    );
    assert!(config.stdout.is_empty(), "{}", text(&config));
}

#[test]
fn a_shadow_of_a_plain_checkout_hydrates_with_stage() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("app.txt", "one\n")]);
    write_file(repo.path(), "dirty.txt", "uncommitted\n");
    let o = d.cli(
        repo.path(),
        &[
            "shadow",
            "try2",
            "--image",
            BUSYBOX,
            "--",
            "sh",
            "-c",
            "cat dirty.txt > copy.txt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("+uncommitted"),
        "{}",
        text(&o)
    );
    d.cli_ok(repo.path(), &["hydrate", "try2", "--stage"]);
    assert_eq!(read(repo.path(), "copy.txt"), "uncommitted\n");
    let staged = git(repo.path(), &["diff", "--cached", "--name-only"]);
    assert_eq!(staged, "copy.txt\n");
    d.cli_ok(repo.path(), &["discard", "try2"]);
    d.assert_no_leftovers(&repo, "try2", false);
}
