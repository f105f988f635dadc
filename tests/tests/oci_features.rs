//! Features from an OCI registry: a real registry (Debian's
//! `docker-registry`, the CNCF distribution server, started on a free port
//! of 127.0.0.1 and stopped by pid) holds a feature pushed the way
//! `devcontainer features publish` pushes one (config media type
//! `application/vnd.devcontainers`, one `application/vnd.devcontainers.layer.v1+tar`
//! layer), and `nexus workspace create` installs it beside a local one.

use nexus_e2e::{Daemon, Repo};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use std::process::{Child, Command, Stdio};

/// A registry on 127.0.0.1, stopped (by pid) on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tmp");
        let port = nexus_e2e::free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/setup.sh --debug installs it)");
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "the registry answers on port {port}");
        Registry { child, port, _dir: dir }
    }

    /// Pushes a feature of `files` (path, content, mode) as `reference`.
    fn push_feature(&self, reference: &str, files: &[(&str, &str, u32)]) {
        let mut b = tar::Builder::new(Vec::new());
        for (path, text, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(*mode);
            b.append_data(&mut h, format!("./{path}"), text.as_bytes())
                .expect("tar");
        }
        let layer = ImageLayer::new(
            b.into_inner().expect("tar"),
            "application/vnd.devcontainers.layer.v1+tar".into(),
            None,
        );
        let config = Config::new(b"{}".to_vec(), "application/vnd.devcontainers".into(), None);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = oci_client::Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..Default::default()
        });
        let reference: oci_client::Reference = reference.parse().expect("reference");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(client.push(&reference, &[layer], config, &RegistryAuth::Anonymous, None))
            .expect("push");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn features_from_a_registry_install_beside_local_ones() {
    let registry = Registry::start();
    let d = Daemon::start();
    let at = format!("localhost:{}/features", registry.port);
    registry.push_feature(
        &format!("{at}/hello:1"),
        &[
            (
                "devcontainer-feature.json",
                r#"{"id": "hello", "version": "1.0.0",
                    "options": {"greeting": {"type": "string", "default": "hello"}},
                    "containerEnv": {"HELLO_FEATURE": "on"},
                    "postCreateCommand": "echo hello-hook >> /tmp/hooks"}"#,
                0o644,
            ),
            (
                "install.sh",
                "#!/bin/sh\nset -e\n./helper.sh \"$GREETING\" > /hello.txt\ncat /tmp/local.txt >> /hello.txt\n",
                0o755,
            ),
            // a script the feature runs itself: its mode travels with it
            ("helper.sh", "#!/bin/sh\necho \"$1 from the registry\"\n", 0o755),
        ],
    );
    registry.push_feature(
        &format!("{at}/not-a-feature:1"),
        &[("README.md", "nothing to install\n", 0o644)],
    );

    let repo = Repo::new();
    let config = format!(
        r#"{{"image": "nexus-test/busybox:latest", "remoteUser": "root",
            "features": {{"{at}/hello:1": {{"greeting": "hi"}}, "./local": {{}}}},
            "overrideFeatureInstallOrder": ["./local"],
            "postCreateCommand": "echo config-hook >> /tmp/hooks"}}"#
    );
    repo.commit(&[
        (".devcontainer/devcontainer.json", &config),
        (
            ".devcontainer/local/devcontainer-feature.json",
            r#"{"id": "local", "version": "1.0.0"}"#,
        ),
        (
            ".devcontainer/local/install.sh",
            "#!/bin/sh\necho local-first > /tmp/local.txt\n",
        ),
    ]);
    let out = d.cli(repo.path(), &["workspace", "create", "oci"]);
    assert!(out.status.success(), "{}", nexus_e2e::text(&out));
    let probe = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "oci",
            "--",
            "sh",
            "-c",
            "cat /hello.txt /tmp/hooks; echo $HELLO_FEATURE",
        ],
    );
    // options, the install order, the feature's hook before the config's, its containerEnv
    assert_eq!(
        probe,
        "hi from the registry\nlocal-first\nhello-hook\nconfig-hook\non\n"
    );
    d.cli_ok(repo.path(), &["workspace", "rm", "oci", "--force", "--delete-branch"]);
    d.assert_no_leftovers(&repo, "oci", false);

    // what cannot be pulled, or is no feature: an error naming it, nothing left behind
    for (name, feature, says) in [
        ("oci-missing", format!("{at}/nope:1"), "cannot pull it"),
        (
            "oci-not-feature",
            format!("{at}/not-a-feature:1"),
            "it is no Dev Container feature",
        ),
    ] {
        repo.commit(&[(
            ".devcontainer/devcontainer.json",
            &format!(r#"{{"image": "nexus-test/busybox:latest", "features": {{"{feature}": {{}}}}}}"#),
        )]);
        let out = d.cli(repo.path(), &["workspace", "create", name]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(err.contains(&feature) && err.contains(says), "{err}");
        d.assert_no_leftovers(&repo, name, false);
    }
}
