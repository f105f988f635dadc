//! Docker inside workspaces (`--docker proxy|dind`): real Docker, a real
//! Docker CLI in the workspace (Debian's docker.io, image
//! `nexus-test/docker:bookworm` from scripts/images.sh), real OpenSSH.

use nexus_e2e::{BUSYBOX, Daemon, Repo, docker_ok, run, text};
use std::process::Command;

/// The image with Debian's docker.io (CLI and dockerd).
const DOCKER_IMAGE: &str = "nexus-test/docker:bookworm";

/// Creates workspace `name` from [`DOCKER_IMAGE`] with `--docker MODE`.
fn create(d: &Daemon, repo: &Repo, name: &str, mode: &str) -> serde_json::Value {
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "create",
            name,
            "--image",
            DOCKER_IMAGE,
            "--docker",
            mode,
            "--json",
        ],
    );
    serde_json::from_str(&out).expect("workspace json")
}

/// `sh -c SCRIPT` in the workspace over real ssh, in its folder: (success, stdout + stderr).
fn ssh_sh(d: &Daemon, ws: &serde_json::Value, script: &str) -> (bool, String) {
    let folder = ws["workspaceFolder"].as_str().expect("workspaceFolder");
    let o = d.ssh(ws, &format!("cd {folder} && {script}"));
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), both)
}

fn ssh_ok(d: &Daemon, ws: &serde_json::Value, script: &str) -> String {
    let (ok, out) = ssh_sh(d, ws, script);
    assert!(ok, "{script}:\n{out}\n--- daemon log\n{}", d.log());
    out
}

/// The busybox test image saved into the workspace's worktree, to load there.
fn save_busybox(repo: &Repo, name: &str) {
    let tar = repo.worktree(name).join("busybox.tar");
    docker_ok(&["save", "-o", tar.to_str().expect("utf-8 path"), BUSYBOX]);
}

/// What the host's engine has labelled as workspace `id`'s children, by kind.
fn children(id: &str) -> (String, String, String) {
    let label = format!("label=dev.nexus.parent={id}");
    (
        docker_ok(&["ps", "-aq", "--filter", &label]),
        docker_ok(&["volume", "ls", "-q", "--filter", &label]),
        docker_ok(&["network", "ls", "-q", "--filter", &label]),
    )
}

#[test]
fn the_proxy_gives_a_workspace_its_own_containers_and_refuses_each_escape() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("marker.txt", "from the worktree\n")]);
    let ws = create(&d, &repo, "dood", "proxy");
    let id = ws["id"].as_str().expect("id").to_string();
    assert_eq!(ws["docker"], "proxy");
    save_busybox(&repo, "dood");

    // an image loaded through the proxy; $PWD is the worktree on the host
    let loaded = ssh_ok(&d, &ws, "docker load -i busybox.tar");
    assert!(loaded.contains("Loaded image"), "{loaded}");
    let read = ssh_ok(
        &d,
        &ws,
        &format!("docker run --rm -v $PWD:/src {BUSYBOX} cat /src/marker.txt"),
    );
    assert_eq!(read, "from the worktree\n");
    // the well-known socket path works too, for tools that ignore DOCKER_HOST
    ssh_ok(&d, &ws, "DOCKER_HOST= docker version --format '{{.Server.Version}}'");

    // a child: labelled, listed, exec-able; the workspace's own container is not there
    // (container names are the host engine's: one another test's workspace has is taken)
    let kid = format!("kid-{}", &id[..8]);
    ssh_ok(&d, &ws, &format!("docker run -d --name {kid} {BUSYBOX} sleep 600"));
    let kid_id = docker_ok(&["ps", "-q", "--filter", &format!("label=dev.nexus.parent={id}")]);
    assert_eq!(kid_id.lines().count(), 1, "{kid_id}");
    assert_eq!(
        ssh_ok(&d, &ws, "docker ps -a --format '{{.Names}}'"),
        format!("{kid}\n")
    );
    assert_eq!(ssh_ok(&d, &ws, &format!("docker exec {kid} echo inside")), "inside\n");
    ssh_ok(
        &d,
        &ws,
        &format!("docker volume create cache-{kid} && docker network create net-{kid}"),
    );
    let own = format!("nexus-dood-{}", &id[..8]);
    for script in [
        format!("docker inspect {own}"),
        format!("docker exec {own} true"),
        format!("docker stop {own}"),
        format!("docker rm {own}"),
    ] {
        let (ok, out) = ssh_sh(&d, &ws, &script);
        assert!(!ok && out.contains("No such"), "{script}:\n{out}");
    }
    assert_eq!(docker_ok(&["inspect", "-f", "{{.State.Running}}", &own]).trim(), "true");

    // each escape, refused with what it was
    ssh_ok(&d, &ws, "ln -s / escape");
    let cases = [
        ("--privileged", "--privileged"),
        ("--network host", "--network=host"),
        ("--pid host", "--pid=host"),
        ("--ipc host", "--ipc=host"),
        ("--userns host", "--userns=host"),
        ("--cap-add SYS_ADMIN", "--cap-add"),
        ("--device /dev/kmsg", "--device"),
        ("--security-opt seccomp=unconfined", "seccomp=unconfined"),
        ("-v /:/host", "mounting / "),
        ("-v /etc:/host-etc", "mounting /etc"),
        ("-v /var/run/docker.sock:/docker.sock", "mounting /var/run/docker.sock"),
        ("-v $PWD/escape:/host", "symbolic link"),
        ("-v $PWD/../..:/up", "mounting"),
        (
            "--mount type=volume,src=evil,dst=/host,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/",
            "driver options",
        ),
        ("--label dev.nexus.workspace=x", "dev.nexus.workspace"),
    ];
    for (flags, says) in cases {
        let (ok, out) = ssh_sh(&d, &ws, &format!("docker run --rm {flags} {BUSYBOX} true"));
        assert!(!ok, "docker run {flags} passed:\n{out}");
        assert!(
            out.contains("refused by the Nexus Docker proxy") && out.contains(says),
            "docker run {flags}:\n{out}"
        );
    }
    let privileged_exec = format!("docker exec --privileged {kid} true");
    for (script, says) in [
        (
            "docker volume create --opt type=none --opt o=bind --opt device=/ evil",
            "driver options",
        ),
        (privileged_exec.as_str(), "docker exec --privileged"),
        ("docker network create -d macvlan mac", "only bridge"),
        ("docker image prune -af", "pruning images"),
        ("docker tag busybox:latest nexus/default:bookworm", "one of Nexus's own"),
    ] {
        let (ok, out) = ssh_sh(&d, &ws, script);
        assert!(
            !ok && out.contains("refused by the Nexus Docker proxy") && out.contains(says),
            "{script}:\n{out}"
        );
    }
    // the refused made nothing: one container, the volume and network asked for
    let (containers, volumes, networks) = children(&id);
    assert_eq!(containers.lines().count(), 1, "{containers}");
    assert_eq!(volumes.trim(), format!("cache-{kid}"));
    assert_eq!(networks.lines().count(), 1, "{networks}");

    // a daemon killed and started again serves the proxy again on the same socket
    let mut d = d;
    d.kill9();
    d.spawn();
    assert_eq!(ssh_ok(&d, &ws, "docker ps --format '{{.Names}}'"), format!("{kid}\n"));

    // the children go with the workspace, and so does the proxy's socket
    d.cli_ok(repo.path(), &["workspace", "rm", "dood", "--force"]);
    assert_eq!(children(&id), (String::new(), String::new(), String::new()));
    assert!(!d.data_dir().join("docker").join(&id).exists());
    d.assert_no_leftovers(&repo, "dood", true);
}

#[test]
fn dind_runs_a_docker_of_its_own_on_a_unix_socket_only_kept_across_stop() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = create(&d, &repo, "dind", "dind");
    let id = ws["id"].as_str().expect("id").to_string();
    save_busybox(&repo, "dind");
    ssh_ok(&d, &ws, "docker load -i busybox.tar");
    assert_eq!(
        ssh_ok(&d, &ws, &format!("docker run --rm {BUSYBOX} echo inner")),
        "inner\n"
    );
    // no engine on TCP: nothing listens on 2375 or 2376 (hex 0947, 0948)
    let listening = ssh_ok(&d, &ws, "cat /proc/net/tcp /proc/net/tcp6");
    for line in listening.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(3) == Some(&"0A") {
            let local = fields.get(1).copied().unwrap_or("");
            assert!(
                !local.ends_with(":0947") && !local.ends_with(":0948"),
                "a listener on a Docker TCP port: {line}"
            );
        }
    }
    // the inner engine is not the host's: the host does not see its containers
    let inner = format!("inner-{}", &id[..8]);
    ssh_ok(&d, &ws, &format!("docker run -d --name {inner} {BUSYBOX} sleep 600"));
    assert!(
        docker_ok(&["ps", "-aq", "--filter", &format!("name={inner}")])
            .trim()
            .is_empty()
    );

    // its state is on a volume: the image is still there after stop and start
    let volume = format!("nexus-dind-{id}");
    d.cli_ok(repo.path(), &["workspace", "stop", "dind"]);
    d.cli_ok(repo.path(), &["workspace", "start", "dind"]);
    let images = ssh_ok(&d, &ws, &format!("docker image inspect -f '{{{{.Id}}}}' {BUSYBOX}"));
    assert!(images.starts_with("sha256:"), "{images}");
    docker_ok(&["volume", "inspect", &volume]);

    d.cli_ok(repo.path(), &["workspace", "rm", "dind", "--force"]);
    let o = run(Command::new("docker").args(["volume", "inspect", &volume]));
    assert!(!o.status.success(), "volume {volume} is left:\n{}", text(&o));
    d.assert_no_leftovers(&repo, "dind", true);
}

#[test]
fn bad_docker_modes_are_refused_and_leave_nothing() {
    let d = Daemon::start();
    let repo = Repo::new();
    let o = d.cli(
        repo.path(),
        &["workspace", "create", "bogus", "--image", BUSYBOX, "--docker", "podman"],
    );
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("proxy") && out.contains("dind"),
        "{out}"
    );
    d.assert_no_leftovers(&repo, "bogus", false);

    // dind needs dockerd in the image: busybox has none
    let o = d.cli(
        repo.path(),
        &[
            "workspace",
            "create",
            "nodockerd",
            "--image",
            BUSYBOX,
            "--docker",
            "dind",
        ],
    );
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("has none") && out.contains("docker-in-docker"),
        "{out}"
    );
    d.assert_no_leftovers(&repo, "nodockerd", false);

    repo.commit(&[(
        ".devcontainer/devcontainer.json",
        &format!(r#"{{"image": "{BUSYBOX}", "customizations": {{"nexus": {{"docker": "sideways"}}}}}}"#),
    )]);
    let o = d.cli(repo.path(), &["workspace", "create", "sideways"]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("customizations.nexus.docker") && out.contains("\"sideways\""),
        "{out}"
    );
    d.assert_no_leftovers(&repo, "sideways", false);
    // the volumes this daemon's containers made: the dind one went with the rollback
    let volumes = docker_ok(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=dev.nexus.daemon={}", d.daemon_id()),
    ]);
    assert!(volumes.trim().is_empty(), "volumes are left: {volumes}");
}
