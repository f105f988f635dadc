//! Workspaces from a repository URL (`nexus workspace create NAME --repo
//! URL`): a mirror in the daemon's data directory, fetched on each create,
//! worktrees added to it, and `git push` in a workspace going back to the
//! URL. Against `file://` and a repository served over SSH by another
//! workspace, with real git and ssh.

use nexus_e2e::{BUSYBOX, DEBIAN, Daemon, Repo, docker_ok, git, keygen, run, ssh_agent, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The mirrors under the data directory (`repos/<key>`).
fn mirrors(d: &Daemon) -> Vec<PathBuf> {
    match std::fs::read_dir(d.data_dir().join("repos")) {
        Ok(dirs) => dirs.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// `nexus workspace create NAME --repo URL ARGS… --json`, run from `dir`
/// (no repository there); the workspace's JSON.
fn create_from(d: &Daemon, dir: &Path, name: &str, url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["workspace", "create", name, "--repo", url, "--json"];
    all.extend_from_slice(args);
    let out = d.cli_ok(dir, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("create --json printed no JSON ({e}):\n{out}"))
}

#[test]
fn a_file_url_makes_one_mirror_that_follows_the_url_and_takes_pushes_back() {
    let d = Daemon::start();
    let upstream = Repo::new();
    upstream.commit(&[("app.txt", "one\n")]);
    let url = format!("file://{}", upstream.path().display());
    let elsewhere = d.home(); // no repository here: the URL is all there is

    let ws = create_from(&d, &elsewhere, "web", &url, &["--image", BUSYBOX]);
    let data = d.data_dir().canonicalize().expect("data dir");
    let worktree = PathBuf::from(ws["worktree"].as_str().expect("worktree"));
    assert!(worktree.starts_with(data.join("repos")), "{ws}");
    assert_eq!(ws["branch"], "nexus/web");
    let folder = ws["workspaceFolder"].as_str().expect("folder");
    let name = upstream.path().file_name().and_then(|n| n.to_str()).expect("name");
    assert_eq!(
        folder,
        format!("/workspaces/{name}"),
        "named after the URL's repository"
    );
    let cat = d.cli_ok(
        &elsewhere,
        &["workspace", "exec", "web", "--", "cat", &format!("{folder}/app.txt")],
    );
    assert_eq!(cat, "one\n");

    // a commit in the workspace and a bare `git push` reach the URL
    std::fs::write(worktree.join("web.txt"), "from the workspace\n").expect("write");
    git(&worktree, &["add", "."]);
    git(&worktree, &["commit", "-qm", "from web"]);
    git(&worktree, &["push", "-q"]);
    assert_eq!(
        git(upstream.path(), &["rev-parse", "nexus/web"]),
        git(&worktree, &["rev-parse", "HEAD"])
    );

    // the URL moves on; the next create fetches it, into the same mirror
    upstream.commit(&[("app.txt", "two\n")]);
    let api = create_from(&d, &elsewhere, "api", &url, &["--image", BUSYBOX, "--from", "main"]);
    let cat = d.cli_ok(
        &elsewhere,
        &["workspace", "exec", "api", "--", "cat", &format!("{folder}/app.txt")],
    );
    assert_eq!(cat, "two\n", "the second create saw the URL's new commit");
    assert_eq!(api["repository"], ws["repository"]);
    assert_eq!(mirrors(&d).len(), 1, "one mirror per URL: {:?}", mirrors(&d));

    // bad URLs: the field named, nothing made
    for (url, words) in [
        ("ftp://example.com/app.git", "ftp:// is not supported"),
        ("https://me:secret@example.com/app.git", "password"),
        (
            "file:///nonexistent/app.git",
            "cannot fetch file:///nonexistent/app.git",
        ),
    ] {
        let o = d.cli(
            &elsewhere,
            &["workspace", "create", "bad", "--repo", url, "--image", BUSYBOX],
        );
        assert!(!o.status.success(), "{url} was accepted");
        assert!(text(&o).contains(words), "{url}: {}", text(&o));
        let list = d.cli_ok(&elsewhere, &["workspace", "list", "--json"]);
        assert!(!list.contains("\"bad\""), "{url} left a record: {list}");
    }
    assert_eq!(mirrors(&d).len(), 1, "a failed fetch left a mirror: {:?}", mirrors(&d));
    assert_eq!(d.containers().len(), 2, "a failed create left a container");

    // pushed work does not block removal; the workspaces leave no worktree
    d.cli_ok(&elsewhere, &["workspace", "rm", "web"]);
    d.cli_ok(&elsewhere, &["workspace", "rm", "api", "--force"]);
    assert!(!worktree.exists());
    assert!(d.containers().is_empty());
    let branches = git(upstream.path(), &["branch", "--list", "nexus/*"]);
    assert!(branches.contains("nexus/web"), "the push stays upstream: {branches}");
}

#[test]
fn a_repository_served_over_ssh_by_another_workspace_is_cloned_and_pushed_to_from_inside() {
    // the daemon's own SSH identity (as a server's would be): a key given to git by GIT_SSH_COMMAND
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("daemon_key");
    keygen(&key);
    let ssh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR",
        key.display()
    );
    let d = Daemon::start_env(&[("GIT_SSH_COMMAND", &ssh)]);
    // the server workspace authorizes that key beside the user's (every ~/.ssh/*.pub)
    std::fs::copy(key.with_extension("pub"), d.home().join(".ssh/daemon_key.pub")).expect("copy key");
    let repo = Repo::new();
    repo.commit(&[("README", "server\n")]);
    let server = d.create(&repo, "gitserver", DEBIAN);
    let serve = "set -e; git init -q --bare -b main /tmp/app.git; cd /tmp; git clone -q /tmp/app.git w 2>/dev/null; \
                 cd w; echo hello > hello.txt; git add .; \
                 git -c user.name=t -c user.email=t@t commit -qm one; git push -q origin HEAD:main";
    let o = d.ssh(&server, serve);
    assert!(o.status.success(), "{}", text(&o));
    let user = server["remoteUser"].as_str().expect("user");
    let port = server["sshPort"].as_u64().expect("port");
    let url = format!("ssh://{user}@127.0.0.1:{port}/tmp/app.git");

    let client = create_from(&d, repo.path(), "client", &url, &["--image", DEBIAN]);
    let folder = client["workspaceFolder"].as_str().expect("folder");
    assert_eq!(folder, "/workspaces/app");
    let o = d.ssh(
        &client,
        &format!("cat {folder}/hello.txt && cd {folder} && git config branch.nexus/client.remote && git config branch.nexus/client.merge"),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello\norigin\nrefs/heads/nexus/client\n",
        "the branch tracks the URL's branch of the same name"
    );

    // a commit and `git push` inside the client, with the user's agent
    // forwarded: the client's container cannot reach the host's 127.0.0.1,
    // so the push goes to the server container's own address on Docker's
    // network (insteadOf), the same repository the URL names
    let container = docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=dev.nexus.daemon={}", d.daemon_id()),
        "--filter",
        "label=dev.nexus.name=gitserver",
    ]);
    let ip = docker_ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container.trim(),
    ]);
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let (sock, _agent) = ssh_agent(agent_dir.path());
    let added = run(Command::new("ssh-add").arg(&key).env("SSH_AUTH_SOCK", &sock));
    assert!(added.status.success(), "{}", text(&added));
    let push = format!(
        "set -e; cd {folder}; echo pushed > client.txt; git add client.txt; \
         git -c user.name=t -c user.email=t@t commit -qm 'from client'; \
         GIT_SSH_COMMAND='ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR' \
         git -c 'url.ssh://{user}@{ip}:2222/.insteadOf=ssh://{user}@127.0.0.1:{port}/' push -q",
        ip = ip.trim()
    );
    let o = run(d
        .ssh_command(&client, &["-A"])
        .arg(&push)
        .env("SSH_AUTH_SOCK", &sock)
        .stdin(Stdio::null()));
    assert!(o.status.success(), "push from inside the client: {}", text(&o));
    let o = d.ssh(&server, "git -C /tmp/app.git show nexus/client:client.txt");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "pushed\n",
        "the push reached the URL"
    );
}
