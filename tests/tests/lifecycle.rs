//! The main job end to end on the default Debian image: create, ssh, git inside
//! the container seen on the host, exec, stop/start, logs, rm.

use nexus_e2e::{DEBIAN, Daemon, Repo, git, run, text};
use std::process::Command;

#[test]
fn create_ssh_git_exec_stop_start_rm() {
    let d = Daemon::start();
    let repo = Repo::new();
    // the default template image, as a plain `create` uses it
    let out = d.cli_ok(repo.path(), &["workspace", "create", "feature-auth", "--json"]);
    let ws: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(ws["state"], "running");
    assert_eq!(ws["branch"], "nexus/feature-auth");
    assert_eq!(ws["image"], DEBIAN);
    let port = ws["sshPort"].as_u64().expect("port");
    assert!(
        (d.range.0 as u64..=d.range.1 as u64).contains(&port),
        "port {port} outside {:?}",
        d.range
    );
    let repo_name = repo
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();
    assert_eq!(ws["workspaceFolder"], format!("/workspaces/{repo_name}"));

    // worktree and branch on the host; the main checkout stays clean
    assert!(repo.worktree("feature-auth").join("README.md").is_file());
    assert!(repo.has_branch("nexus/feature-auth"));
    assert_eq!(
        git(repo.path(), &["status", "--porcelain"]),
        "",
        "main checkout got dirty"
    );

    // plain OpenSSH with the user's own key: login environment, folder, git
    let o = d.ssh(
        &ws,
        "pwd; echo HOME=$HOME USER=$USER SHELL=$SHELL; git status --short --branch",
    );
    assert!(o.status.success(), "ssh:\n{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("/workspaces/{repo_name}\n")), "{stdout}");
    assert!(stdout.contains("USER=root"), "{stdout}");
    assert!(stdout.contains("## nexus/feature-auth"), "{stdout}");

    // a commit made inside the container is on the host's branch
    let o = d.ssh(
        &ws,
        "echo inside > inside.txt && git add inside.txt && git -c user.name=C -c user.email=c@c commit -qm from-container",
    );
    assert!(o.status.success(), "commit in container:\n{}", text(&o));
    assert!(git(repo.path(), &["log", "--oneline", "nexus/feature-auth"]).contains("from-container"));
    assert_eq!(
        std::fs::read_to_string(repo.worktree("feature-auth").join("inside.txt")).expect("file"),
        "inside\n"
    );

    // `nexus workspace ssh NAME -- CMD` returns the command's exit code
    let o = d.cli(repo.path(), &["workspace", "ssh", "feature-auth", "--", "exit 5"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));

    // exec through the daemon: stdout and stderr apart, exit code passed on
    let o = d.cli(
        repo.path(),
        &[
            "workspace",
            "exec",
            "feature-auth",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    // argv is passed verbatim, without a shell re-splitting it
    let out = d.cli_ok(
        repo.path(),
        &["workspace", "exec", "feature-auth", "--", "printf", "%s|", "a b", "c'd"],
    );
    assert_eq!(out, "a b|c'd|");

    // list and show
    let list = d.cli_ok(repo.path(), &["workspace", "list"]);
    assert!(list.contains("feature-auth") && list.contains("running"), "{list}");

    // stop and start: same port, files in the container kept
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "feature-auth",
            "--",
            "sh",
            "-c",
            "echo kept > /root/state.txt",
        ],
    );
    let out = d.cli_ok(repo.path(), &["workspace", "stop", "feature-auth"]);
    assert!(out.contains("stopped"), "{out}");
    let o = d.cli(repo.path(), &["workspace", "exec", "feature-auth", "--", "true"]);
    assert_eq!(o.status.code(), Some(75), "exec in a stopped workspace:\n{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nexus workspace start feature-auth"),
        "{}",
        text(&o)
    );
    d.cli_ok(repo.path(), &["workspace", "start", "feature-auth"]);
    let shown: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", "feature-auth", "--json"])).expect("json");
    assert_eq!(shown["sshPort"], ws["sshPort"]);
    assert_eq!(shown["state"], "running");
    assert_eq!(
        d.cli_ok(
            repo.path(),
            &["workspace", "exec", "feature-auth", "--", "cat", "/root/state.txt"]
        ),
        "kept\n"
    );

    // logs: the agent's own start-up lines
    let logs = d.cli(repo.path(), &["workspace", "logs", "feature-auth"]);
    assert!(logs.status.success(), "{}", text(&logs));
    assert!(
        String::from_utf8_lossy(&logs.stderr).contains("serving SSH"),
        "{}",
        text(&logs)
    );

    // rm refuses commits on no other branch, then removes with --force
    let o = d.cli(repo.path(), &["workspace", "rm", "feature-auth"]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("commits on no other branch"),
        "{}",
        text(&o)
    );
    d.cli_ok(repo.path(), &["workspace", "rm", "feature-auth", "--force"]);
    d.assert_no_leftovers(&repo, "feature-auth", true);
    assert!(repo.has_branch("nexus/feature-auth"), "rm must keep the branch");
    // the port is free again
    assert!(std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok());
}

#[test]
fn rm_refuses_uncommitted_changes_and_deletes_branch_when_asked() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "dirty", nexus_e2e::BUSYBOX);
    std::fs::write(repo.worktree("dirty").join("scratch.txt"), "x").expect("write");
    let o = d.cli(repo.path(), &["workspace", "rm", "dirty"]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("uncommitted changes"),
        "{}",
        text(&o)
    );
    assert!(repo.worktree("dirty").exists(), "a refused rm must keep the worktree");
    std::fs::remove_file(repo.worktree("dirty").join("scratch.txt")).expect("rm");
    d.cli_ok(repo.path(), &["workspace", "rm", "dirty", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "dirty", false);
}

#[test]
fn ssh_config_pins_host_keys_for_strict_checking() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "pinned", nexus_e2e::BUSYBOX);
    let home = d.home();
    let user_config = home.join(".ssh/config");
    std::fs::write(&user_config, "Host example\n  User someone\n").expect("write");
    d.cli_ok(repo.path(), &["ssh-config"]);
    let config = std::fs::read_to_string(&user_config).expect("config");
    assert!(
        config.ends_with("Host example\n  User someone\n"),
        "the user's lines must stay:\n{config}"
    );
    assert_eq!(config.matches("Include").count(), 1);
    assert!(home.join(".ssh/config.nexus-backup").is_file());
    // a second run does not include twice
    d.cli_ok(repo.path(), &["ssh-config"]);
    assert_eq!(
        std::fs::read_to_string(&user_config)
            .expect("config")
            .matches("Include")
            .count(),
        1
    );

    // `ssh nexus-pinned` with strict checking and no prompt (BatchMode fails on any prompt)
    let ssh = |config: &std::path::Path| {
        run(Command::new("ssh").arg("-F").arg(config).args([
            "-o",
            "BatchMode=yes",
            "nexus-pinned",
            "echo",
            "strict-ok",
        ]))
    };
    let o = ssh(&user_config);
    assert!(o.status.success(), "ssh nexus-pinned:\n{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "strict-ok\n");

    // the generated block forwards the user's agent (ForwardAgent yes)
    let agent_sock = d.root.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&agent_sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent");
    while !agent_sock.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = run(Command::new("ssh")
        .arg("-F")
        .arg(&user_config)
        .args(["-o", "BatchMode=yes", "nexus-pinned", "echo \"[$SSH_AUTH_SOCK]\""])
        .env("SSH_AUTH_SOCK", &agent_sock));
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[/tmp/nexus-ssh-agent-0/agent.sock]\n",
        "{}",
        text(&o)
    );

    // a changed host key is refused
    let kh = home.join(".ssh/nexus/known_hosts");
    nexus_e2e::keygen(&d.root.path().join("other"));
    let other_pub = std::fs::read_to_string(d.root.path().join("other.pub")).expect("pub");
    std::fs::write(&kh, format!("nexus-pinned {}", other_pub)).expect("write");
    let o = ssh(&user_config);
    assert!(!o.status.success(), "a changed host key must be refused:\n{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        text(&o)
    );
    let _ = ws;
}

#[test]
fn a_non_root_owner_gets_the_template_user_with_their_uid() {
    // the daemon runs as the repository's owner, as a user's own daemon does
    let d = Daemon::start_as_user();
    let repo = Repo::new();
    nexus_e2e::chown_to_test_user(repo.path());
    let uid = nexus_e2e::TEST_USER.1;
    let ws = d.create(&repo, "mine", DEBIAN);
    assert_eq!(ws["remoteUser"], "dev", "{ws}");

    // devcontainer.json updateRemoteUserUID: dev has the owner's UID and GID, and its home
    let o = d.ssh(&ws, "id -u; id -g; stat -c %u ~; sudo -n true && echo sudo-ok; pwd");
    assert!(o.status.success(), "ssh as dev:\n{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let folder = ws["workspaceFolder"].as_str().expect("folder");
    assert_eq!(out, format!("{uid}\n{uid}\n{uid}\nsudo-ok\n{folder}\n"));

    // what dev makes in the worktree belongs to the owner on the host, and git works
    let o = d.ssh(
        &ws,
        "echo x > made.txt && git add made.txt && git -c user.name=D -c user.email=d@d commit -qm by-dev",
    );
    assert!(o.status.success(), "commit as dev:\n{}", text(&o));
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(repo.worktree("mine").join("made.txt")).expect("made.txt");
    assert_eq!((meta.uid(), meta.gid()), (uid, uid));
    assert!(git(repo.path(), &["log", "--oneline", "nexus/mine"]).contains("by-dev"));

    // updateRemoteUserUID false: the same owner, and dev keeps the image's UID
    repo.commit(&[(
        ".devcontainer.json",
        r#"{"image": "nexus-test/busybox:latest", "remoteUser": "dev", "updateRemoteUserUID": false}"#,
    )]);
    nexus_e2e::chown_to_test_user(repo.path());
    d.cli_ok(repo.path(), &["workspace", "create", "theirs"]);
    let ids = d.cli_ok(
        repo.path(),
        &["workspace", "exec", "theirs", "--", "sh", "-c", "id -un; id -u"],
    );
    assert_eq!(ids, "dev\n1000\n");

    for name in ["mine", "theirs"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }
}

#[test]
fn the_default_template_image_is_built_when_missing() {
    // a default image name no engine has yet: the daemon builds it from the
    // embedded templates/default (on the local debian:bookworm)
    let tag = format!("nexus-test/template-{}:latest", std::process::id());
    let d = Daemon::start_env(&[("NEXUS_DEFAULT_IMAGE", &tag)]);
    let repo = Repo::new();
    let out = d.cli_ok(repo.path(), &["workspace", "create", "templated", "--json"]);
    let ws: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(ws["image"], tag.as_str());
    let o = d.ssh(
        &ws,
        "for c in bash git sudo curl ssh rsync; do command -v $c >/dev/null || exit 1; done; id dev && echo ok",
    );
    let removed = d.cli(
        repo.path(),
        &["workspace", "rm", "templated", "--force", "--delete-branch"],
    );
    let _ = run(Command::new("docker").args(["rmi", "-f", &tag]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("ok\n"), "{}", text(&o));
    assert!(removed.status.success(), "{}", text(&removed));
    d.assert_no_leftovers(&repo, "templated", false);
}
