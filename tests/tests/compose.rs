//! Compose configs end to end (devcontainer.json's `dockerComposeFile`,
//! `service`, `runServices`) through the real Docker Compose CLI: the
//! service's image built by compose with a local feature on it, the worktree
//! mounted by the compose file's own relative volume, the agent in the
//! service's container, the other services reachable by name, stop and
//! start of the whole project, and `rm` (or a failed create) leaving no
//! container, network or volume of the project behind.

use nexus_e2e::{Daemon, Repo, sh};

/// Names of `docker KIND ls` (network or volume) of workspace `name`'s
/// compose project: those whose `com.docker.compose.project` label is
/// `nexus-<name>-<8 hex digits>` (the project Nexus names after the
/// workspace and its id).
fn project_objects(kind: &str, name: &str) -> Vec<String> {
    let out = nexus_e2e::docker_ok(&[
        kind,
        "ls",
        "--filter",
        "label=com.docker.compose.project",
        "--format",
        "{{.Label \"com.docker.compose.project\"}} {{.Name}}",
    ]);
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(project, _)| is_project_of(project, name))
        .map(|(_, object)| object.to_string())
        .collect()
}

/// Whether compose project `project` is workspace `name`'s: `nexus-<name>-<8 hex digits>`.
fn is_project_of(project: &str, name: &str) -> bool {
    project
        .strip_prefix(&format!("nexus-{name}-"))
        .is_some_and(|id| id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The running state of the containers of workspace `name`'s project, by service.
fn project_states(name: &str) -> Vec<(String, String)> {
    let out = nexus_e2e::docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "label=com.docker.compose.project",
        "--format",
        "{{.Label \"com.docker.compose.project\"}} {{.Label \"com.docker.compose.service\"}} {{.State}}",
    ]);
    let mut states: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let project = parts.next()?;
            if !is_project_of(project, name) {
                return None;
            }
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect();
    states.sort();
    states
}

/// The ids of workspace `name`'s project containers of compose service `service`.
fn project_ids(name: &str, service: &str) -> String {
    nexus_e2e::docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
        "--filter",
        &format!("label=dev.nexus.name={name}"),
    ])
}

fn assert_project_gone(d: &Daemon, repo: &Repo, name: &str) {
    d.assert_no_leftovers(repo, name, false);
    assert_eq!(project_states(name), vec![], "containers of {name}'s project are left");
    assert_eq!(project_objects("network", name), Vec::<String>::new());
    assert_eq!(project_objects("volume", name), Vec::<String>::new());
}

#[test]
fn compose_project_builds_runs_stops_and_goes_away_whole() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[
        (
            ".devcontainer/devcontainer.json",
            r#"{
                "name": "compose",
                "dockerComposeFile": ["docker-compose.yml", "docker-compose.extra.yml"],
                "service": "app",
                "runServices": ["db"],
                "workspaceFolder": "/workspace",
                "containerEnv": {"FROM_CONFIG": "yes"},
                "remoteEnv": {"R": "${containerEnv:FROM_CONFIG}-r"},
                "remoteUser": "root",
                "features": {"./hello": {"greeting": "hi"}},
                "postCreateCommand": "echo post-create > /tmp/post-create",
                "postStartCommand": "echo started >> /tmp/starts",
                "forwardPorts": ["db:8080"],
                "portsAttributes": {"db:8080": {"label": "DB"}},
            }"#,
        ),
        (
            ".devcontainer/docker-compose.yml",
            r#"version: "3.8"
services:
  app:
    build:
      context: .
      dockerfile: app.Dockerfile
    volumes:
      - ..:/workspace:cached
    command: sh -c "echo app-command-ran > /tmp/app-command; exec sleep 1000000"
    environment:
      FROM_COMPOSE: "1"
  db:
    image: nexus-test/busybox:latest
    command: sh -c "mkdir -p /www && echo db-answers > /www/index.html && exec httpd -f -p 8080 -h /www"
    volumes:
      - dbdata:/data
  cache:
    image: nexus-test/busybox:latest
    command: sleep 1000000
volumes:
  dbdata:
"#,
        ),
        (
            ".devcontainer/docker-compose.extra.yml",
            "version: \"3.8\"\nservices:\n  app:\n    environment:\n      EXTRA: \"2\"\n",
        ),
        (
            ".devcontainer/app.Dockerfile",
            "FROM nexus-test/busybox:latest\nRUN echo built-by-compose > /built.txt\n",
        ),
        (
            ".devcontainer/hello/devcontainer-feature.json",
            r#"{"id": "hello", "version": "1.0.0", "options": {"greeting": {"type": "string", "default": "hello"}}}"#,
        ),
        (
            ".devcontainer/hello/install.sh",
            "#!/bin/sh\nset -e\necho \"$GREETING from the feature\" > /hello.txt\n",
        ),
        ("README.md", "compose repo\n"),
    ]);

    let out = d.cli(repo.path(), &["workspace", "create", "cmp", "--json"]);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    // compose's own output streams as progress
    assert!(progress.contains("compose"), "{progress}");
    let ws: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ws["workspaceFolder"], "/workspace", "{ws}");

    // the service's image: built by compose, the feature on it
    assert_eq!(
        sh(&d, &repo, "cmp", "cat /built.txt /hello.txt"),
        "built-by-compose\nhi from the feature\n"
    );
    // the worktree, mounted by the compose file's `..`, is the folder SSH starts in
    assert_eq!(sh(&d, &repo, "cmp", "pwd; cat README.md"), "/workspace\ncompose repo\n");
    // env from devcontainer.json and both compose files; the service's own
    // command runs beside the agent (overrideCommand is false for compose)
    assert_eq!(
        sh(
            &d,
            &repo,
            "cmp",
            "echo $FROM_CONFIG $FROM_COMPOSE $EXTRA $R; cat /tmp/app-command /tmp/post-create"
        ),
        "yes 1 2 yes-r\napp-command-ran\npost-create\n"
    );
    // the other service answers by its name; runServices left `cache` unmade
    let answer = nexus_e2e::poll(
        50,
        std::time::Duration::from_millis(200),
        || sh(&d, &repo, "cmp", "wget -qO- http://db:8080/ 2>&1 || true"),
        |a| a.contains("db-answers"),
    );
    assert_eq!(answer, "db-answers\n");
    // forwardPorts' "db:8080": a host port reaches the other service
    let db_forward = || -> u16 {
        let listed: serde_json::Value =
            serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "ports", "cmp", "--json"])).expect("json");
        let db = nexus_e2e::listed_port(&listed, Some("db"), 8080);
        assert_eq!(
            (&db["containerPort"], &db["declared"], &db["label"]),
            (&8080.into(), &true.into(), &"DB".into()),
            "{db}"
        );
        let host = db["hostPort"].as_u64().expect("db:8080 forwarded") as u16;
        assert!((d.range.0..=d.range.1).contains(&host), "{host} outside {:?}", d.range);
        let page = nexus_e2e::http_get(host, "/").expect("GET through the forward");
        assert!(page.ends_with("db-answers\n"), "{page}");
        host
    };
    let host = db_forward();
    let table = d.cli_ok(repo.path(), &["workspace", "ports", "cmp"]);
    assert!(
        table.contains(&format!("{:<14} {:<9} 127.0.0.1:{host}", "db:8080", "-")) && table.contains("DB"),
        "{table}"
    );
    assert_eq!(
        project_states("cmp"),
        vec![("app".into(), "running".into()), ("db".into(), "running".into())]
    );
    // real ssh reaches the service container
    let mut ssh = d.ssh_command(&ws, &[]);
    let o = ssh.arg("cat /built.txt").output().expect("ssh");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "built-by-compose\n");

    // stop stops the whole project; start brings it back
    d.cli_ok(repo.path(), &["workspace", "stop", "cmp"]);
    assert_eq!(
        project_states("cmp"),
        vec![("app".into(), "exited".into()), ("db".into(), "exited".into())]
    );
    d.cli_ok(repo.path(), &["workspace", "start", "cmp"]);
    assert_eq!(
        project_states("cmp"),
        vec![("app".into(), "running".into()), ("db".into(), "running".into())]
    );
    assert_eq!(sh(&d, &repo, "cmp", "cat /tmp/starts"), "started\nstarted\n");
    // the declared forward comes back with the workspace
    db_forward();

    // rebuild replaces the service's container; the other services and the volume stay
    let db_before = project_ids("cmp", "db");
    sh(&d, &repo, "cmp", "echo lost > /tmp/in-container");
    let out = d.cli(repo.path(), &["workspace", "rebuild", "cmp"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(project_ids("cmp", "db"), db_before);
    assert_eq!(
        sh(
            &d,
            &repo,
            "cmp",
            "cat /built.txt /hello.txt; ls /tmp/in-container 2>/dev/null | wc -l"
        ),
        "built-by-compose\nhi from the feature\n0\n"
    );

    // rm takes the project down: containers, network, the named volume
    assert!(!project_objects("volume", "cmp").is_empty());
    let built = format!("nexus-cmp-{}-app", &ws["id"].as_str().expect("id")[..8]);
    assert!(
        !nexus_e2e::docker_ok(&["images", "-q", &built]).trim().is_empty(),
        "compose built {built}"
    );
    d.cli_ok(repo.path(), &["workspace", "rm", "cmp", "--force", "--delete-branch"]);
    assert_project_gone(&d, &repo, "cmp");
    // the image compose built for the project goes with it
    assert_eq!(
        nexus_e2e::docker_ok(&["images", "-q", &built]).trim(),
        "",
        "{built} is left"
    );
}

#[test]
fn bad_compose_configs_leave_nothing_behind() {
    let d = Daemon::start();
    let repo = Repo::new();
    let config = ".devcontainer/devcontainer.json";
    let fails = |name: &str, wants: &[&str]| {
        let out = d.cli(repo.path(), &["workspace", "create", name]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(78), "{err}");
        for w in wants {
            assert!(err.contains(w), "{w:?} missing from:\n{err}");
        }
        assert_project_gone(&d, &repo, name);
    };
    let compose = "services:\n  app:\n    image: nexus-test/busybox:latest\n    command: sleep 1000000\n  db:\n    image: nexus-test/busybox:latest\n    command: sleep 1000000\n";

    // no service named
    repo.commit(&[(config, r#"{"dockerComposeFile": "docker-compose.yml"}"#)]);
    fails("no-service", &["service is not"]);
    // a compose file that is not there
    repo.commit(&[(config, r#"{"dockerComposeFile": "missing.yml", "service": "app"}"#)]);
    fails("no-file", &["the compose files do not load", "missing.yml"]);
    // a service the files do not define
    repo.commit(&[
        (
            config,
            r#"{"dockerComposeFile": "docker-compose.yml", "service": "web"}"#,
        ),
        (".devcontainer/docker-compose.yml", compose),
    ]);
    fails(
        "no-such-service",
        &["service \"web\" is not in the compose files", "app, db"],
    );
    // a build that fails
    repo.commit(&[
        (
            config,
            r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#,
        ),
        (
            ".devcontainer/docker-compose.yml",
            "services:\n  app:\n    build: .\n    command: sleep 1000000\n",
        ),
        (
            ".devcontainer/Dockerfile",
            "FROM nexus-test/busybox:latest\nRUN echo compose-build-broke && exit 3\n",
        ),
    ]);
    fails("bad-build", &["(service app) failed", "compose-build-broke"]);
    // a service that cannot be made after the others were: the project goes
    repo.commit(&[
        (config, r#"{"dockerComposeFile": "docker-compose.yml", "service": "app"}"#),
        (
            ".devcontainer/docker-compose.yml",
            "services:\n  app:\n    image: nexus-test/busybox:latest\n    command: sleep 1000000\n    depends_on: [db]\n  db:\n    image: nexus-test/no-such-image:latest\n",
        ),
    ]);
    let out = d.cli(repo.path(), &["workspace", "create", "bad-db"]);
    assert!(!out.status.success());
    assert_project_gone(&d, &repo, "bad-db");
}
