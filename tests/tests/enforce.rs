//! `nexus enforce` on a real git repository, and its agent hooks fed the
//! JSON their tools send (Claude Code's `Stop`, Cursor's `stop`).

use nexus_e2e::{Repo, git, text, write_file};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `nexus enforce ARGS` in `dir`, with `stdin`; no daemon is reachable.
fn enforce(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new(nexus_e2e::bin("nexus"))
        .arg("enforce")
        .args(args)
        .current_dir(dir)
        .env("HOME", home.path())
        .env("NEXUS_DATA_DIR", home.path().join("no-daemon"))
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_CONTEXT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nexus enforce");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

/// What Claude Code sends a `Stop` hook.
const CLAUDE_STOP: &str = r#"{"session_id":"8f2c1a","transcript_path":"/home/ana/.claude/projects/app/8f2c1a.jsonl","cwd":"/home/ana/app","permission_mode":"default","hook_event_name":"Stop","stop_hook_active":false}"#;
/// What Cursor sends a `stop` hook.
const CURSOR_STOP: &str = r#"{"conversation_id":"c-1","generation_id":"g-1","hook_event_name":"stop","status":"completed","loop_count":0,"workspace_roots":["/home/ana/app"]}"#;

#[test]
fn checks_fail_until_the_work_meets_the_config_and_hooks_answer_each_tool() {
    let repo = Repo::new();
    let dir = repo.path();
    git(dir, &["checkout", "-q", "-b", "work"]);
    write_file(
        dir,
        ".nexus/enforce.toml",
        "base = \"main\"\n[checks]\nconventional_commits = true\ndocs = { code = [\"src/**\"], docs = [\"docs/**\"] }\nagents_md = true\nci = \"test -f ci-ok\"\nclean = true\n",
    );
    write_file(dir, "src/a.rs", "fn a() {}\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "added stuff"]);
    write_file(dir, "scratch.txt", "left over\n");

    let o = enforce(dir, &["--json"], "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(r["passed"], false);
    let failed: Vec<&str> = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["check"].as_str().expect("name"))
        .collect();
    assert_eq!(failed, ["conventional_commits", "docs", "agents_md", "ci", "clean"]);
    let o = enforce(dir, &[], "");
    assert!(text(&o).contains("\"added stuff\""), "{}", text(&o));
    assert!(text(&o).contains("5 of 5 checks fail"), "{}", text(&o));

    // the hooks, fed their tools' JSON: keep the agent going, saying what fails
    let o = enforce(dir, &["--hook", "claude"], CLAUDE_STOP);
    assert!(o.status.success(), "{}", text(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(a["decision"], "block");
    assert!(
        a["reason"]
            .as_str()
            .expect("reason")
            .contains("- clean: uncommitted changes"),
        "{a}"
    );
    let o = enforce(dir, &["--hook", "cursor"], CURSOR_STOP);
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        a["followup_message"]
            .as_str()
            .expect("message")
            .contains("- ci: `test -f ci-ok` failed"),
        "{a}"
    );
    let aborted = CURSOR_STOP.replace("completed", "aborted");
    let o = enforce(dir, &["--hook", "cursor"], &aborted);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "{}",
        "an aborted run may stop"
    );
    let o = enforce(dir, &["--hook", "claude"], "not json");
    assert!(!o.status.success() && text(&o).contains("not JSON"), "{}", text(&o));

    // the work done properly: every check passes and the hooks let the agent stop
    std::fs::remove_file(dir.join("scratch.txt")).expect("rm");
    write_file(dir, "docs/a.md", "# a\n");
    write_file(dir, "AGENTS.md", "# For agents\n");
    write_file(dir, "README.md", "See AGENTS.md.\n");
    write_file(dir, "ci-ok", "");
    git(dir, &["add", "."]);
    git(
        dir,
        &["commit", "-q", "--amend", "-m", "feat(src): add a, with its docs"],
    );
    let o = enforce(dir, &[], "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("all 5 checks pass"), "{}", text(&o));
    let o = enforce(dir, &["--hook", "claude"], CLAUDE_STOP);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    let o = enforce(dir, &["--hook", "cursor"], CURSOR_STOP);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
}

#[test]
fn a_config_it_cannot_use_is_named_and_changes_nothing() {
    let repo = Repo::new();
    let dir = repo.path();
    let o = enforce(dir, &[], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no .nexus/enforce.toml"), "{}", text(&o));
    write_file(
        dir,
        ".nexus/enforce.toml",
        "[checks]\nclean = true\nlint = \"eslint .\"\n",
    );
    let before = git(dir, &["status", "--porcelain"]);
    let o = enforce(dir, &[], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("lint"), "the unknown check is named: {}", text(&o));
    assert_eq!(git(dir, &["status", "--porcelain"]), before, "nothing changed");
}

#[test]
fn the_shipped_hook_configurations_call_nexus_enforce() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/enforce");
    let claude: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("claude-code.settings.json")).expect("read"))
            .expect("json");
    assert_eq!(
        claude["hooks"]["Stop"][0]["hooks"][0]["command"],
        "nexus enforce --hook claude"
    );
    let cursor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("cursor.hooks.json")).expect("read")).expect("json");
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["hooks"]["stop"][0]["command"], "nexus enforce --hook cursor");
}
