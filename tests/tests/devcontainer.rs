//! devcontainer.json end to end: a repository's config decides the image (or
//! the Dockerfile build), the workspace folder, the container's environment,
//! the remote user and the lifecycle hooks; bad configs fail with file, line
//! and column and leave nothing behind.

use nexus_e2e::{Daemon, Repo, sh};
use std::process::Command;

#[test]
fn image_config_sets_folder_env_user_and_runs_hooks_in_order() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        r#"{
            // JSON with comments and trailing commas
            "image": "nexus-test/busybox:latest",
            "workspaceFolder": "/src/${localWorkspaceFolderBasename}",
            "containerEnv": {"FROM_CONTAINER_ENV": "c1", "FOLDER": "${containerWorkspaceFolder}"},
            "remoteEnv": {"FROM_REMOTE_ENV": "r1"},
            "remoteUser": "dev",
            "onCreateCommand": "echo on-create $(id -un) >> /tmp/hooks",
            "updateContentCommand": ["sh", "-c", "echo update-content >> /tmp/hooks"],
            "postCreateCommand": {
                "a": "echo post-create-a > /tmp/post-a",
                "b": ["sh", "-c", "echo post-create-b > /tmp/post-b"],
            },
            "postStartCommand": "echo post-start $PWD >> /tmp/hooks",
            "someFutureProperty": {"kept": true},
        }"#,
    )]);
    let created = d.cli_ok(repo.path(), &["workspace", "create", "dc", "--json"]);
    let ws: serde_json::Value = serde_json::from_str(&created).expect("json");
    assert_eq!(ws["workspaceFolder"], "/src/dc", "{ws}");
    assert_eq!(ws["image"], "nexus-test/busybox:latest", "{ws}");

    assert_eq!(
        sh(&d, &repo, "dc", "cat /tmp/hooks"),
        "on-create dev\nupdate-content\npost-start /src/dc\n"
    );
    assert_eq!(
        sh(&d, &repo, "dc", "cat /tmp/post-a /tmp/post-b"),
        "post-create-a\npost-create-b\n"
    );
    assert_eq!(
        sh(
            &d,
            &repo,
            "dc",
            "echo $FROM_CONTAINER_ENV $FROM_REMOTE_ENV $FOLDER; id -un; pwd"
        ),
        "c1 r1 /src/dc\ndev\n/src/dc\n"
    );
    // the worktree is what is mounted there
    assert!(sh(&d, &repo, "dc", "ls -a").contains(".devcontainer"));

    // postStartCommand runs on every start; the create-time hooks once
    d.cli_ok(repo.path(), &["workspace", "stop", "dc"]);
    d.cli_ok(repo.path(), &["workspace", "start", "dc"]);
    assert_eq!(
        sh(&d, &repo, "dc", "cat /tmp/hooks"),
        "on-create dev\nupdate-content\npost-start /src/dc\npost-start /src/dc\n"
    );
    d.cli_ok(repo.path(), &["workspace", "rm", "dc", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "dc", false);
}

#[test]
fn dockerfile_config_is_built_once_and_reused() {
    let d = Daemon::start();
    let repo = Repo::new();
    let marker = format!("built-{}", std::process::id());
    repo.commit(&[
        (
            ".devcontainer/devcontainer.json",
            r#"{"build": {"dockerfile": "Dockerfile", "context": "..", "args": {"GREETING": "${localEnv:NEXUS_TEST_GREETING:hello}"}}}"#,
        ),
        (
            ".devcontainer/Dockerfile",
            "FROM nexus-test/busybox:latest\nARG GREETING\nCOPY marker.txt /marker.txt\nRUN echo $GREETING > /greeting\n",
        ),
        ("marker.txt", &marker),
    ]);
    let first: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "create", "b1", "--json"])).expect("json");
    let image = first["image"].as_str().expect("image").to_string();
    assert!(image.starts_with("nexus/devcontainer:"), "{image}");
    assert_eq!(
        sh(&d, &repo, "b1", "cat /greeting /marker.txt"),
        format!("hello\n{marker}")
    );
    let label = Command::new("docker")
        .args([
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"dev.nexus.build\"}}",
            &image,
        ])
        .output()
        .expect("docker");
    assert_eq!(
        String::from_utf8_lossy(&label.stdout).trim().len(),
        64,
        "a content hash label"
    );

    // the same content: the same image, not built again
    let second = d.cli(repo.path(), &["workspace", "create", "b2"]);
    let progress = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{progress}");
    assert!(progress.contains("reusing nexus/devcontainer:"), "{progress}");

    // a change in the context: a new image
    repo.commit(&[("marker.txt", "changed")]);
    let third: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "create", "b3", "--json"])).expect("json");
    assert_ne!(third["image"], first["image"]);
    assert_eq!(sh(&d, &repo, "b3", "cat /marker.txt"), "changed");

    for name in ["b1", "b2", "b3"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }
    for image in [first["image"].as_str(), third["image"].as_str()].into_iter().flatten() {
        let _ = Command::new("docker").args(["rmi", "-f", image]).output();
    }
}

#[test]
fn bad_configs_and_failing_hooks_leave_nothing_behind() {
    let d = Daemon::start();
    let repo = Repo::new();
    let config = ".devcontainer/devcontainer.json";
    let fails = |name: &str, code: i32, wants: &[&str]| {
        let out = d.cli(repo.path(), &["workspace", "create", name]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{err}");
        for w in wants {
            assert!(err.contains(w), "{w:?} missing from:\n{err}");
        }
        d.assert_no_leftovers(&repo, name, false);
    };

    // invalid JSONC: file, line and column
    repo.commit(&[(config, "{\n  \"image\": \"nexus-test/busybox:latest\",\n  oops\n}\n")]);
    fails("bad-json", 78, &[".devcontainer/devcontainer.json:3:"]);

    // a property of the wrong type
    repo.commit(&[(config, "{\n  \"image\": 5\n}\n")]);
    fails("bad-type", 78, &[".devcontainer/devcontainer.json:2:"]);

    // neither image nor build (bad compose configs: tests/compose.rs)
    repo.commit(&[(config, "{\"name\": \"nothing to run\"}")]);
    fails("no-image", 78, &["neither \"image\" nor"]);

    // a Dockerfile that is not there
    repo.commit(&[(config, r#"{"build": {"dockerfile": "Missing.Dockerfile"}}"#)]);
    fails("no-dockerfile", 78, &[".devcontainer/Missing.Dockerfile"]);

    // a build that fails
    repo.commit(&[
        (config, r#"{"build": {"dockerfile": "Dockerfile"}}"#),
        (
            ".devcontainer/Dockerfile",
            "FROM nexus-test/busybox:latest\nRUN echo build-broke && exit 3\n",
        ),
    ]);
    fails("bad-build", 78, &["building .devcontainer/Dockerfile failed"]);
    // nor the container of the step that failed
    let ps = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.Command}}"])
        .output()
        .expect("docker ps");
    let commands = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !commands.contains("'echo build-broke"),
        "a build container is left:\n{commands}"
    );

    // a build.options flag Nexus does not take: named
    repo.commit(&[(
        config,
        r#"{"build": {"dockerfile": "Dockerfile", "options": ["--pull=false", "--secret", "id=x"]}}"#,
    )]);
    fails("bad-build-options", 78, &["build.options: --secret is not supported"]);

    // a failing hook: its name, exit code and output
    repo.commit(&[(
        config,
        r#"{"image": "nexus-test/busybox:latest", "postCreateCommand": "echo hook-said-this; exit 7"}"#,
    )]);
    fails(
        "bad-hook",
        1,
        &["postCreateCommand exited with code 7", "hook-said-this"],
    );

    // a runArgs flag Nexus does not take, and a mount that cannot be: named
    repo.commit(&[(
        config,
        r#"{"image": "nexus-test/busybox:latest", "runArgs": ["--init", "--device", "/dev/fuse"]}"#,
    )]);
    fails("bad-run-args", 78, &["runArgs: --device is not supported"]);
    repo.commit(&[(
        config,
        r#"{"image": "nexus-test/busybox:latest", "mounts": ["source=relative,target=/x,type=bind"]}"#,
    )]);
    fails(
        "bad-mount",
        78,
        &["bind mount source \"relative\" is not an absolute path"],
    );

    // --config naming no file
    let out = d.cli(
        repo.path(),
        &[
            "workspace",
            "create",
            "no-config",
            "--config",
            ".devcontainer/nope/devcontainer.json",
        ],
    );
    assert_eq!(out.status.code(), Some(78), "{}", String::from_utf8_lossy(&out.stderr));
    d.assert_no_leftovers(&repo, "no-config", false);
}

/// `docker inspect` of the workspace's container, as JSON.
fn inspect(d: &Daemon, repo: &Repo, name: &str) -> serde_json::Value {
    let ws: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "list", "--json"])).expect("json");
    let id = ws
        .as_array()
        .and_then(|l| l.iter().find(|w| w["name"] == name))
        .and_then(|w| w["id"].as_str())
        .expect("listed")
        .to_string();
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=dev.nexus.workspace={id}")])
        .output()
        .expect("docker ps");
    let container = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = Command::new("docker")
        .args(["inspect", &container])
        .output()
        .expect("inspect");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("inspect json")[0].clone()
}

#[test]
fn container_settings_mounts_run_args_and_customizations() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[
        ("shared/note.txt", "from the host\n"),
        (
            ".devcontainer/devcontainer.json",
            r#"{
                "image": "nexus-test/busybox:latest",
                "workspaceFolder": "/code",
                "workspaceMount": "source=${localWorkspaceFolder},target=/code,type=bind,consistency=cached",
                "mounts": [
                    "source=nexus-e2e-vol-${devcontainerId},target=/vol,type=volume",
                    {"type": "bind", "source": "${localWorkspaceFolder}/shared", "target": "/shared", "readonly": true},
                    "type=tmpfs,target=/scratch",
                ],
                "runArgs": ["--cap-add=NET_ADMIN", "-e", "FROM_RUN_ARGS=yes", "--label", "team=web",
                            "--memory=256m", "--cpus", "1.5", "--add-host=db.internal:10.1.2.3"],
                "capAdd": ["SYS_PTRACE"],
                "securityOpt": ["no-new-privileges"],
                "init": true,
                "hostRequirements": {"cpus": 512},
                "customizations": {"vscode": {"extensions": ["rust-lang.rust-analyzer"]}},
                "forwardPorts": [8080, "localhost:9090", "db.internal:5432", "nope"],
                "appPort": "127.0.0.1:7070:7070",
                "portsAttributes": {"8080": {"label": "Web", "protocol": "http"}, "9000-9999": {"label": "Range"}},
                "postStartCommand": "(httpd -p 8080 -h /code/shared &)",
            }"#,
        ),
    ]);
    let out = d.cli(repo.path(), &["workspace", "create", "opts", "--json"]);
    assert!(out.status.success(), "{}", nexus_e2e::text(&out));
    // hostRequirements the host falls short of: a warning, not an error
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hostRequirements.cpus is 512"), "{stderr}");
    // an entry that names no port: a warning
    assert!(stderr.contains("forwardPorts \"nope\" names no port"), "{stderr}");
    let ws: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ws["workspaceFolder"], "/code");
    // customizations come back for IDEs, from workspace.get too
    assert_eq!(
        ws["customizations"]["vscode"]["extensions"][0], "rust-lang.rust-analyzer",
        "{ws}"
    );
    let got: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "list", "--json"])).expect("json");
    assert_eq!(got[0]["customizations"], ws["customizations"]);

    let seen = sh(
        &d,
        &repo,
        "opts",
        "ls /code/shared; echo vol > /vol/x && cat /vol/x; cat /shared/note.txt; \
         (touch /shared/y 2>/dev/null && echo writable) || echo read-only; \
         grep -c ' /scratch tmpfs' /proc/mounts; echo $FROM_RUN_ARGS; grep db.internal /etc/hosts | cut -f1",
    );
    assert_eq!(
        seen, "note.txt\nvol\nfrom the host\nread-only\n1\nyes\n10.1.2.3\n",
        "{seen}"
    );
    let c = inspect(&d, &repo, "opts");
    let host = &c["HostConfig"];
    let caps: Vec<&str> = host["CapAdd"]
        .as_array()
        .expect("CapAdd")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(caps.contains(&"NET_ADMIN") && caps.contains(&"SYS_PTRACE"), "{caps:?}");
    assert_eq!(host["SecurityOpt"][0], "no-new-privileges");
    assert_eq!(host["Init"], true);
    assert_eq!(host["Memory"], 256 << 20);
    assert_eq!(host["NanoCpus"], 1_500_000_000i64);
    assert_eq!(c["Config"]["Labels"]["team"], "web");
    // the agent is not PID 1 under --init, and SSH, exec and hooks still work
    assert_eq!(sh(&d, &repo, "opts", "cat /proc/1/comm"), "docker-init\n");
    let volume = c["Mounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["Destination"] == "/vol"))
        .and_then(|m| m["Name"].as_str())
        .expect("the volume")
        .to_string();
    assert!(volume.starts_with("nexus-e2e-vol-"), "{volume}");

    // forwardPorts and appPort: forwarded on host ports of the range, with
    // their portsAttributes; again after a stop and start
    for round in 0..2 {
        let listed: serde_json::Value =
            serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "ports", "opts", "--json"])).expect("json");
        let port = |n: u16| nexus_e2e::listed_port(&listed, None, n);
        let web = port(8080);
        assert_eq!(
            (&web["listening"], &web["declared"], &web["label"], &web["protocol"]),
            (&true.into(), &true.into(), &"Web".into(), &"http".into()),
            "{web}"
        );
        assert_eq!(
            (&port(9090)["label"], &port(9090)["declared"]),
            (&"Range".into(), &true.into())
        );
        assert_eq!(port(7070)["listening"], false);
        let host = web["hostPort"].as_u64().expect("8080 forwarded") as u16;
        assert!((d.range.0..=d.range.1).contains(&host), "{host} outside {:?}", d.range);
        assert!(port(9090)["hostPort"].is_u64() && port(7070)["hostPort"].is_u64());
        // another host's port, as the container names it: forwarded too
        let other = nexus_e2e::listed_port(&listed, Some("db.internal"), 5432);
        assert_eq!(
            (&other["containerPort"], &other["declared"], &other["listening"]),
            (&5432.into(), &true.into(), &false.into()),
            "{other}"
        );
        assert!(other["hostPort"].is_u64(), "{other}");
        let page = nexus_e2e::http_get(host, "/note.txt").expect("GET through the forward");
        assert!(page.ends_with("from the host\n"), "round {round}: {page}");
        if round == 0 {
            let table = d.cli_ok(repo.path(), &["workspace", "ports", "opts"]);
            assert!(
                table.contains(&format!("{:<14} {:<9} 127.0.0.1:{host}", 8080, "yes")) && table.contains("Web"),
                "{table}"
            );
            d.cli_ok(repo.path(), &["workspace", "stop", "opts"]);
            d.cli_ok(repo.path(), &["workspace", "start", "opts"]);
        }
    }

    d.cli_ok(repo.path(), &["workspace", "rm", "opts", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "opts", false);
    // named volumes outlive the workspace, as with devcontainer up; ours goes here
    let _ = Command::new("docker").args(["volume", "rm", &volume]).output();
}

/// Builds `tag` from `dockerfile` (context: nothing else) with the docker CLI.
fn docker_build(tag: &str, dockerfile: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write");
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .output()
        .expect("docker build");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn local_features_image_metadata_and_the_other_hooks() {
    let d = Daemon::start();
    let repo = Repo::new();
    // a base image whose devcontainer.metadata label adds an env, a hook and a capability
    let base = format!("nexus-test/with-metadata:{}", std::process::id());
    docker_build(
        &base,
        r#"FROM nexus-test/busybox:latest
LABEL devcontainer.metadata='[{"remoteEnv":{"FROM_IMAGE":"i"},"postCreateCommand":"echo image-post-create >> /tmp/order","capAdd":["SYS_PTRACE"]}]'
"#,
    );
    repo.commit(&[
        (
            ".devcontainer/devcontainer.json",
            &format!(
                r#"{{
                "image": "{base}",
                "remoteUser": "dev",
                "features": {{"./greeter": {{"greeting": "hi"}}, "./base": {{}}}},
                "initializeCommand": "echo initialized > initialized.txt",
                "postCreateCommand": "echo config-post-create >> /tmp/order",
                "remoteEnv": {{"P": "${{containerEnv:PATH}}:/extra"}},
                "runArgs": ["--label", "from.run.args=yes"],
            }}"#
            ),
        ),
        (
            ".devcontainer/base/devcontainer-feature.json",
            r#"{"id": "base", "version": "1.0.0", "name": "Base",
                "options": {"flavor": {"type": "string", "default": "plain"}},
                "containerEnv": {"BASE_HOME": "/opt/base"},
                "postCreateCommand": "echo base-post-create >> /tmp/order"}"#,
        ),
        (
            ".devcontainer/base/install.sh",
            "#!/bin/sh\nset -e\necho \"base $FLAVOR $_REMOTE_USER $(id -u)\" >> /feature-order\n",
        ),
        (
            ".devcontainer/greeter/devcontainer-feature.json",
            r#"{"id": "greeter", "version": "1.0.0", "name": "Greeter",
                "options": {"greeting": {"type": "string", "default": "hello"}, "loud": {"type": "boolean", "default": false}},
                "installsAfter": ["./base"],
                "onCreateCommand": "echo greeter-on-create >> /tmp/order",
                "entrypoint": "/usr/local/bin/greeter-entry"}"#,
        ),
        (
            ".devcontainer/greeter/install.sh",
            "#!/bin/sh\nset -e\necho \"greeter $GREETING $LOUD $BASE_HOME\" >> /feature-order\nmkdir -p /usr/local/bin\nprintf '#!/bin/sh\\necho entry-ran > /tmp/entry\\n' > /usr/local/bin/greeter-entry\nchmod +x /usr/local/bin/greeter-entry\n",
        ),
    ]);
    let out = d.cli(repo.path(), &["workspace", "create", "feat", "--json"]);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(progress.contains("2 features (./base, ./greeter)"), "{progress}");
    let ws: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let image = ws["image"].as_str().expect("image").to_string();
    assert!(image.starts_with("nexus/devcontainer:"), "{image}");

    // features installed in order (installsAfter), as root, with options and users
    assert_eq!(
        sh(&d, &repo, "feat", "cat /feature-order"),
        "base plain dev 0\ngreeter hi false /opt/base\n"
    );
    // hooks: each hook's commands image → features (install order) → devcontainer.json
    assert_eq!(
        sh(&d, &repo, "feat", "cat /tmp/order"),
        "greeter-on-create\nimage-post-create\nbase-post-create\nconfig-post-create\n"
    );
    assert_eq!(
        sh(&d, &repo, "feat", "cat /tmp/entry"),
        "entry-ran\n",
        "the feature's entrypoint ran"
    );
    let env = sh(&d, &repo, "feat", "echo $FROM_IMAGE $BASE_HOME; echo $P");
    let mut lines = env.lines();
    assert_eq!(lines.next(), Some("i /opt/base"));
    let p = lines.next().expect("P");
    assert!(p.starts_with('/') && p.ends_with(":/extra") && !p.contains("${"), "{p}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("initialized.txt")).expect("initializeCommand ran on the host"),
        "initialized\n"
    );
    // merged settings reach the container; the merged metadata labels image and container
    let c = inspect(&d, &repo, "feat");
    assert_eq!(
        c["HostConfig"]["CapAdd"],
        serde_json::json!(["SYS_PTRACE"]),
        "{}",
        c["HostConfig"]
    );
    assert_eq!(c["Config"]["Labels"]["from.run.args"], "yes");
    let container_meta: serde_json::Value =
        serde_json::from_str(c["Config"]["Labels"]["devcontainer.metadata"].as_str().expect("label")).expect("json");
    let ids: Vec<&str> = container_meta
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(ids, vec!["-", "./base", "./greeter", "-"], "{container_meta}");
    let label = Command::new("docker")
        .args([
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"devcontainer.metadata\"}}",
            &image,
        ])
        .output()
        .expect("docker");
    let image_meta: serde_json::Value = serde_json::from_slice(&label.stdout).expect("image label json");
    assert_eq!(image_meta.as_array().map(Vec::len), Some(4), "{image_meta}");

    // the same content again: the features image is reused
    let again = d.cli(repo.path(), &["workspace", "create", "feat2"]);
    let progress = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{progress}");
    assert!(progress.contains("reusing nexus/devcontainer:"), "{progress}");
    for name in ["feat", "feat2"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }

    // overrideCommand false: the image's command runs beside the agent;
    // waitFor: create returns after onCreateCommand, postCreateCommand follows
    let with_cmd = format!("nexus-test/with-cmd:{}", std::process::id());
    docker_build(
        &with_cmd,
        "FROM nexus-test/busybox:latest\nCMD [\"sh\", \"-c\", \"echo image-cmd > /tmp/cmd-ran; exec sleep 1000000\"]\n",
    );
    // postCreateCommand waits for a file only the test makes (at most ~30 s):
    // a create that waited for it would find post-create-timeout in /tmp/w
    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        &format!(
            r#"{{"image": "{with_cmd}", "overrideCommand": false, "waitFor": "onCreateCommand",
                "onCreateCommand": "echo on-create > /tmp/w",
                "postCreateCommand": "i=0; while [ ! -f /tmp/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; if [ -f /tmp/go ]; then echo post-create; else echo post-create-timeout; fi >> /tmp/w"}}"#
        ),
    )]);
    d.cli_ok(repo.path(), &["workspace", "create", "cmd"]);
    assert_eq!(sh(&d, &repo, "cmd", "cat /tmp/cmd-ran"), "image-cmd\n");
    assert_eq!(
        sh(&d, &repo, "cmd", "cat /tmp/w"),
        "on-create\n",
        "create did not wait for postCreateCommand"
    );
    sh(&d, &repo, "cmd", "touch /tmp/go");
    nexus_e2e::wait_for(
        "postCreateCommand in the background",
        std::time::Duration::from_secs(30),
        || sh(&d, &repo, "cmd", "cat /tmp/w").contains("post-create"),
    );
    assert_eq!(
        sh(&d, &repo, "cmd", "cat /tmp/w"),
        "on-create\npost-create\n",
        "postCreateCommand ran in the background"
    );
    d.cli_ok(repo.path(), &["workspace", "rm", "cmd", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "cmd", false);

    // a hook after waitFor that fails: the create succeeds, and the failure
    // is a `hook` progress event (and a line of the daemon's log)
    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        r#"{"image": "nexus-test/busybox:latest", "waitFor": "onCreateCommand",
            "onCreateCommand": "true", "postCreateCommand": "echo bg-broke; exit 7"}"#,
    )]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (client, mut events) = rt.block_on(async {
        let c = d.client().await;
        let sub = c
            .events(&nexus_sdk::EventsParams {
                workspace: Some("bgfail".into()),
            })
            .await
            .expect("events");
        (c, sub)
    });
    d.cli_ok(repo.path(), &["workspace", "create", "bgfail"]);
    let failed = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(Ok(ev)) = events.next().await {
                if let nexus_sdk::Event::Progress {
                    step: nexus_sdk::Step::Hook,
                    message,
                    ..
                } = ev
                    && message.starts_with("failed:")
                {
                    return message;
                }
            }
            String::new()
        })
        .await
        .unwrap_or_default()
    });
    assert!(
        failed.contains("postCreateCommand") && failed.contains("exited with code 7"),
        "{failed:?}"
    );
    assert!(d.log().contains("a lifecycle hook after waitFor failed"), "{}", d.log());
    drop((client, events));
    d.cli_ok(
        repo.path(),
        &["workspace", "rm", "bgfail", "--force", "--delete-branch"],
    );
    d.assert_no_leftovers(&repo, "bgfail", false);

    // bad features and a failing initializeCommand leave nothing behind
    let fails = |name: &str, code: i32, config: &str, wants: &[&str]| {
        repo.commit(&[(".devcontainer/devcontainer.json", config)]);
        let out = d.cli(repo.path(), &["workspace", "create", name]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{err}");
        for w in wants {
            assert!(err.contains(w), "{w:?} missing from:\n{err}");
        }
        d.assert_no_leftovers(&repo, name, false);
    };
    let img = r#""image": "nexus-test/busybox:latest""#;
    fails(
        "f-option",
        78,
        &format!(r#"{{{img}, "features": {{"./base": {{"flavour": "x"}}}}}}"#),
        &["feature \"./base\" has no option \"flavour\"; its options are: flavor"],
    );
    fails(
        "f-registry",
        78,
        &format!(r#"{{{img}, "features": {{"ghcr.io/devcontainers/features/go:1": {{}}}}}}"#),
        // no registry answers here (tests/oci_features.rs runs one)
        &[
            "feature ghcr.io/devcontainers/features/go:1: cannot pull it",
            "that ghcr.io answers",
        ],
    );
    fails(
        "f-missing",
        78,
        &format!(r#"{{{img}, "features": {{"./nope": {{}}}}}}"#),
        &[".devcontainer/nope/devcontainer-feature.json"],
    );
    repo.commit(&[
        (
            ".devcontainer/broken/devcontainer-feature.json",
            r#"{"id": "broken", "version": "1.0.0", "dependsOn": {"./loop": {}}}"#,
        ),
        (
            ".devcontainer/broken/install.sh",
            "#!/bin/sh\necho install-broke; exit 4\n",
        ),
        (
            ".devcontainer/loop/devcontainer-feature.json",
            r#"{"id": "loop", "version": "1.0.0", "installsAfter": ["./broken"]}"#,
        ),
        (".devcontainer/loop/install.sh", "#!/bin/sh\n"),
    ]);
    fails(
        "f-cycle",
        78,
        &format!(r#"{{{img}, "features": {{"./broken": {{}}}}}}"#),
        &["depend on each other in a cycle"],
    );
    repo.commit(&[(
        ".devcontainer/broken/devcontainer-feature.json",
        r#"{"id": "broken", "version": "1.0.0"}"#,
    )]);
    fails(
        "f-install",
        78,
        &format!(r#"{{{img}, "name": "install fails", "features": {{"./broken": {{}}}}}}"#),
        &["install-broke"],
    );
    fails(
        "f-init",
        1,
        &format!(r#"{{{img}, "initializeCommand": "echo init-said-this; exit 5"}}"#),
        &["initializeCommand exited with code 5", "init-said-this"],
    );
    for tag in [&base, &with_cmd] {
        let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
    }
}

#[test]
fn built_in_templates() {
    let d = Daemon::start();
    let repo = Repo::new();
    let listed = d.cli_ok(repo.path(), &["template", "list"]);
    for name in ["default", "python", "node"] {
        assert!(
            listed.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{listed}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["template", "list", "--json"])).expect("json");
    assert_eq!(json[1]["image"], "nexus/python:bookworm", "{json}");

    // a language template: its image (built when missing), user and environment
    let out = d.cli(
        repo.path(),
        &["workspace", "create", "py", "--template", "python", "--json"],
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(
        progress.contains("finding image nexus/python:bookworm"),
        "the image step reaches the workspace's progress: {progress}"
    );
    let ws: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ws["image"], "nexus/python:bookworm");
    assert_eq!(ws["remoteUser"], "dev");
    let said = sh(
        &d,
        &repo,
        "py",
        "python3 -c 'print(6 * 7)'; echo $PYTHONUNBUFFERED; id -un",
    );
    assert_eq!(said, "42\n1\ndev\n");
    d.cli_ok(repo.path(), &["workspace", "rm", "py", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "py", false);

    // an unknown template, and a template with --config: refused, nothing left
    let out = d.cli(repo.path(), &["workspace", "create", "nope", "--template", "cobol"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no template \"cobol\""), "{err}");
    d.assert_no_leftovers(&repo, "nope", false);
    let out = d.cli(
        repo.path(),
        &[
            "workspace",
            "create",
            "nope",
            "--template",
            "node",
            "--config",
            "x.json",
        ],
    );
    assert!(!out.status.success(), "--template with --config");
    d.assert_no_leftovers(&repo, "nope", false);
}

#[test]
fn rebuild_builds_again_from_the_branch_and_replaces_the_container() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[
        (
            ".devcontainer/devcontainer.json",
            r#"{"build": {"dockerfile": "Dockerfile"}, "onCreateCommand": "echo on-create >> /tmp/made"}"#,
        ),
        (
            ".devcontainer/Dockerfile",
            // a fresh id at each build that is not cached
            "FROM nexus-test/busybox:latest\nRUN cat /proc/sys/kernel/random/uuid > /build-id\n",
        ),
    ]);
    let ws: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "create", "rb", "--json"])).expect("json");
    let first_build = sh(&d, &repo, "rb", "cat /build-id");
    sh(&d, &repo, "rb", "echo lost > /tmp/in-container; echo kept > kept.txt");

    // a change committed on the workspace's branch is what the rebuild reads
    let wt = repo.worktree("rb");
    let config = r#"{"build": {"dockerfile": "Dockerfile"}, "containerEnv": {"AFTER": "rebuilt"}, "onCreateCommand": "echo on-create >> /tmp/made"}"#;
    std::fs::write(wt.join(".devcontainer/devcontainer.json"), config).expect("write");
    nexus_e2e::git(&wt, &["commit", "-qam", "env"]);
    let out = d.cli(repo.path(), &["workspace", "rebuild", "rb"]);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(progress.contains("building nexus/devcontainer:"), "{progress}");
    let after: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", "rb", "--json"])).expect("json");
    assert_eq!(after["state"], "running");
    assert_eq!(after["sshPort"], ws["sshPort"], "the SSH port stays");
    // built again without the layer cache, a new container (create hooks ran
    // once in it), the worktree's files kept, the new env there
    assert_ne!(sh(&d, &repo, "rb", "cat /build-id"), first_build);
    assert_eq!(
        sh(
            &d,
            &repo,
            "rb",
            "cat /tmp/made; ls /tmp/in-container 2>&1 >/dev/null | wc -l; cat kept.txt; echo $AFTER"
        ),
        "on-create\n1\nkept\nrebuilt\n"
    );
    // real ssh, checking strictly against the key the workspace had before
    // the rebuild, still trusts the host key
    let known = d.root.path().join("known_hosts_before_rebuild");
    let before = format!(
        "[127.0.0.1]:{} {}\n",
        ws["sshPort"],
        ws["hostPublicKey"].as_str().expect("hostPublicKey")
    );
    std::fs::write(&known, before).expect("known_hosts");
    let strict = format!("UserKnownHostsFile={}", known.display());
    let mut ssh = d.ssh_command(&after, &["-o", "StrictHostKeyChecking=yes", "-o", &strict]);
    let o = ssh.arg("echo ok").output().expect("ssh");
    assert!(o.status.success(), "the host key changed:\n{}", nexus_e2e::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");

    // a build that fails leaves the running container as it was
    std::fs::write(
        wt.join(".devcontainer/Dockerfile"),
        "FROM nexus-test/busybox:latest\nRUN echo rebuild-broke && exit 4\n",
    )
    .expect("write");
    nexus_e2e::git(&wt, &["commit", "-qam", "broken"]);
    let out = d.cli(repo.path(), &["workspace", "rebuild", "rb"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("rebuild-broke"), "{err}");
    assert_eq!(sh(&d, &repo, "rb", "echo $AFTER; cat kept.txt"), "rebuilt\nkept\n");

    // a failure after the build (a create hook of the new container) leaves
    // the workspace stopped, and `start` brings it back
    std::fs::write(
        wt.join(".devcontainer/Dockerfile"),
        "FROM nexus-test/busybox:latest\nRUN cat /proc/sys/kernel/random/uuid > /build-id\n",
    )
    .expect("write");
    let failing = r#"{"build": {"dockerfile": "Dockerfile"}, "onCreateCommand": "echo hook-broke; exit 3"}"#;
    std::fs::write(wt.join(".devcontainer/devcontainer.json"), failing).expect("write");
    nexus_e2e::git(&wt, &["commit", "-qam", "failing hook"]);
    let out = d.cli(repo.path(), &["workspace", "rebuild", "rb"]);
    assert_eq!(out.status.code(), Some(1), "{}", nexus_e2e::text(&out));
    let state = |d: &Daemon| {
        let w: serde_json::Value =
            serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", "rb", "--json"])).expect("json");
        w["state"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(state(&d), "stopped");
    d.cli_ok(repo.path(), &["workspace", "start", "rb"]);
    assert_eq!(state(&d), "running");
    assert_eq!(sh(&d, &repo, "rb", "cat kept.txt"), "kept\n");

    // a stopped workspace rebuilds too, and comes back running
    d.cli_ok(repo.path(), &["workspace", "stop", "rb"]);
    std::fs::write(wt.join(".devcontainer/devcontainer.json"), config).expect("write");
    nexus_e2e::git(&wt, &["commit", "-qam", "fixed"]);
    d.cli_ok(repo.path(), &["workspace", "rebuild", "rb"]);
    assert_eq!(state(&d), "running");
    assert_eq!(sh(&d, &repo, "rb", "echo $AFTER; cat kept.txt"), "rebuilt\nkept\n");

    d.cli_ok(repo.path(), &["workspace", "rm", "rb", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "rb", false);
    for image in [ws["image"].as_str(), after["image"].as_str()].into_iter().flatten() {
        let _ = Command::new("docker").args(["rmi", "-f", image]).output();
    }
}

#[test]
fn devcontainer_json_comes_from_the_start_commit_a_root_file_from_and_config() {
    let d = Daemon::start();
    let repo = Repo::new();
    let config =
        |where_: &str| format!(r#"{{"image": "nexus-test/busybox:latest", "containerEnv": {{"WHERE": "{where_}"}}}}"#);
    // the root .devcontainer.json of the commit; an uncommitted edit is not read
    repo.commit(&[(".devcontainer.json", config("root-file").as_str())]);
    std::fs::write(repo.path().join(".devcontainer.json"), config("uncommitted")).expect("edit");
    d.cli_ok(repo.path(), &["workspace", "create", "root"]);
    assert_eq!(sh(&d, &repo, "root", "echo $WHERE"), "root-file\n");
    nexus_e2e::git(repo.path(), &["checkout", "-q", "--", ".devcontainer.json"]);

    // --from a branch whose devcontainer.json differs: its config and its commit
    nexus_e2e::git(repo.path(), &["checkout", "-q", "-b", "other"]);
    repo.commit(&[(".devcontainer.json", config("other-branch").as_str())]);
    let other_head = nexus_e2e::git(repo.path(), &["rev-parse", "HEAD"]);
    nexus_e2e::git(repo.path(), &["checkout", "-q", "main"]);
    d.cli_ok(repo.path(), &["workspace", "create", "fromref", "--from", "other"]);
    assert_eq!(sh(&d, &repo, "fromref", "echo $WHERE"), "other-branch\n");
    let head = nexus_e2e::git(&repo.worktree("fromref"), &["rev-parse", "HEAD"]);
    assert_eq!(head, other_head, "the worktree starts at --from");

    // --config PATH: another file of the commit
    repo.commit(&[("configs/alt.json", config("alt").as_str())]);
    d.cli_ok(
        repo.path(),
        &["workspace", "create", "alt", "--config", "configs/alt.json"],
    );
    assert_eq!(sh(&d, &repo, "alt", "echo $WHERE"), "alt\n");

    for name in ["root", "fromref", "alt"] {
        d.cli_ok(repo.path(), &["workspace", "rm", name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, name, false);
    }
}

#[test]
fn remote_env_null_env_precedence_and_post_attach_at_each_start() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        r#"{
            "image": "nexus-test/busybox:latest",
            "remoteUser": "dev",
            "containerEnv": {"BOTH": "container-env", "DROPPED": "d"},
            "runArgs": ["-e", "BOTH=run-args"],
            "remoteEnv": {"DROPPED": null, "ADDED": "a"},
            "postAttachCommand": "echo attach >> /tmp/attaches"
        }"#,
    )]);
    d.cli_ok(repo.path(), &["workspace", "create", "envs"]);
    // runArgs' -e comes after containerEnv, as in `docker run`; remoteEnv's
    // null unsets a variable in sessions (exec, ssh and hooks alike)
    assert_eq!(
        sh(&d, &repo, "envs", "echo \"$BOTH [${DROPPED-unset}] $ADDED\""),
        "run-args [unset] a\n"
    );
    let ws: serde_json::Value =
        serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "show", "envs", "--json"])).expect("json");
    let o = d.ssh(&ws, "echo \"[${DROPPED-unset}]\"");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[unset]\n",
        "{}",
        nexus_e2e::text(&o)
    );
    assert_eq!(sh(&d, &repo, "envs", "id -un"), "dev\n");
    // postAttachCommand at create and again at each start
    assert_eq!(sh(&d, &repo, "envs", "cat /tmp/attaches"), "attach\n");
    d.cli_ok(repo.path(), &["workspace", "stop", "envs"]);
    d.cli_ok(repo.path(), &["workspace", "start", "envs"]);
    assert_eq!(sh(&d, &repo, "envs", "cat /tmp/attaches"), "attach\nattach\n");
    d.cli_ok(repo.path(), &["workspace", "rm", "envs", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "envs", false);
}
