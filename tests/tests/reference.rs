//! devcontainer.json checked against the reference implementation: each
//! fixture of `tests/fixtures/reference/` is run by `nexus workspace create`
//! and by `devcontainer up` of `@devcontainers/cli` (installed from npm by
//! this test), both on local images, and what the two containers end up
//! with must agree: the user commands run as, the workspace folder, the
//! `FX_*` environment variables, the marker files hooks and features write
//! (their order too), the labels from `runArgs` and the
//! `devcontainer.metadata` label. A compose fixture is compared on its
//! `service`'s container. Known, deliberate differences are listed in
//! docs/devcontainer.md.

use nexus_e2e::{Daemon, Repo};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version of `@devcontainers/cli` compared against.
const REFERENCE_VERSION: &str = "0.89.0";

/// Run in each container as the remote user, in the workspace folder.
const PROBE: &str = r#"echo "user=$(id -un)"; echo "pwd=$(pwd)"; env | grep '^FX_' | sort; for f in /tmp/fx-* /fx-*; do [ -f "$f" ] && echo "$f=$(tr '\n' '|' < "$f")"; done; true"#;

/// The reference CLI, installed with npm once per machine (idempotent).
fn reference_cli() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nexus-devcontainers-cli-{REFERENCE_VERSION}"));
    let bin = dir.join("node_modules/.bin/devcontainer");
    if !bin.exists() {
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .arg(format!("@devcontainers/cli@{REFERENCE_VERSION}"))
            .output()
            .expect("npm");
        assert!(
            out.status.success(),
            "npm install @devcontainers/cli: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

/// Writes the CLI's control manifest cache fresh, so it makes no network call
/// (it fetches the manifest when its cache is older than five minutes).
fn seed_control_manifest() {
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let dir = std::env::temp_dir().join(format!("devcontainercli-{user}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("control-manifest.json"),
        r#"{"disallowedFeatures": [], "featureAdvisories": []}"#,
    )
    .expect("write manifest");
}

fn copy_tree(from: &Path, to: &Path, files: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let rel = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &rel, files);
        } else {
            files.push((
                rel.display().to_string(),
                std::fs::read_to_string(&path).expect("fixture text"),
            ));
        }
    }
}

/// `docker ARGS`' output, trimmed; a failing docker CLI fails the test.
fn docker(args: &[&str]) -> String {
    nexus_e2e::docker_ok(args).trim().to_string()
}

/// `docker ARGS` for clean-up: what is already gone is fine.
fn docker_best_effort(args: &[&str]) {
    let _ = Command::new("docker").args(args).output();
}

/// `text` with each whole-word `from` (not inside a longer name of letters,
/// digits, `-` or `_`) replaced by `to`.
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().last().or_else(|| out.chars().last());
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(word) || after.is_some_and(word) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The labels worth comparing: those not of the tools themselves, and the metadata.
fn labels_of(container: &str) -> (serde_json::Value, serde_json::Value) {
    let inspect: serde_json::Value = serde_json::from_str(&docker(&["inspect", container])).expect("inspect json");
    let labels = inspect[0]["Config"]["Labels"].as_object().cloned().unwrap_or_default();
    let metadata = labels
        .get("devcontainer.metadata")
        .and_then(|v| v.as_str())
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(serde_json::Value::Null);
    let own: serde_json::Map<String, serde_json::Value> =
        labels.into_iter().filter(|(k, _)| k.starts_with("fx.")).collect();
    (serde_json::Value::Object(own), metadata)
}

#[test]
fn fixtures_match_devcontainer_up() {
    let d = Daemon::start();
    let cli = reference_cli();
    // the base image of the metadata fixture
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("Dockerfile"),
        r#"FROM nexus-test/busybox:latest
LABEL devcontainer.metadata='[{"remoteUser":"dev","containerEnv":{"FX_FROM_IMAGE":"image","FX_OVERRIDDEN":"by-image"},"remoteEnv":{"FX_IMAGE_REMOTE":"yes"},"postCreateCommand":"echo image-postCreate >> /tmp/fx-hooks"}]'
"#,
    )
    .expect("write");
    let built = Command::new("docker")
        .args(["build", "-q", "-t", "nexus-test/with-metadata-ref:latest"])
        .arg(dir.path())
        .output()
        .expect("docker build");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    fixtures.sort();
    // every fixture runs, and docs/devcontainer.md says how many agree
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/devcontainer.md"))
        .expect("docs/devcontainer.md");
    let claimed = docs
        .split("`tests/tests/reference.rs` runs the ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("docs/devcontainer.md says how many fixtures it runs");
    assert_eq!(
        fixtures.len(),
        claimed,
        "docs/devcontainer.md says {claimed} fixtures run and agree: keep it true"
    );
    let run = std::process::id();
    let mut failures = Vec::new();
    for (i, fixture) in fixtures.iter().enumerate() {
        let fixture_name = fixture.file_name().expect("name").to_string_lossy().to_string();
        let repo = Repo::new();
        let mut files = Vec::new();
        copy_tree(fixture, Path::new(""), &mut files);
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        repo.commit(&files);
        let name = format!("ref{i}");

        // Nexus
        let out = d.cli(repo.path(), &["workspace", "create", &name, "--json"]);
        assert!(
            out.status.success(),
            "{fixture_name}: nexus workspace create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let worktree = repo.worktree(&name).display().to_string();
        let ours = d
            .cli_ok(repo.path(), &["workspace", "exec", &name, "--", "sh", "-c", PROBE])
            .replace(&worktree, &repo.path().display().to_string());
        let ws: serde_json::Value =
            serde_json::from_str(&d.cli_ok(repo.path(), &["workspace", "list", "--json"])).expect("json");
        let id = ws
            .as_array()
            .and_then(|l| l.iter().find(|w| w["name"] == name.as_str()))
            .and_then(|w| w["id"].as_str())
            .expect("listed")
            .to_string();
        // the workspace's own container (a compose project has more of them)
        let our_container = docker(&["ps", "-aq", "--filter", &format!("name=^nexus-{name}-{}$", &id[..8])]);
        let our_labels = labels_of(&our_container);

        // the reference, on the repository itself
        seed_control_manifest();
        let id_label = format!("nexus.reference={run}-{i}");
        let up = Command::new(&cli)
            .args(["up", "--workspace-folder"])
            .arg(repo.path())
            .args(["--id-label", &id_label])
            .output()
            .expect("devcontainer up");
        let up_out = String::from_utf8_lossy(&up.stdout).to_string();
        assert!(
            up.status.success() && up_out.contains("\"outcome\":\"success\""),
            "{fixture_name}: devcontainer up: {up_out}\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let exec = Command::new(&cli)
            .args(["exec", "--workspace-folder"])
            .arg(repo.path())
            .args(["--id-label", &id_label, "sh", "-c", PROBE])
            .output()
            .expect("devcontainer exec");
        let theirs = String::from_utf8_lossy(&exec.stdout).to_string();
        let their_container = docker(&["ps", "-aq", "--filter", &format!("label={id_label}")]);
        let their_labels = labels_of(&their_container);

        assert!(
            ours.starts_with("user=") && ours.contains("\npwd=/"),
            "{fixture_name}: the probe ran: {ours}"
        );
        eprintln!("{fixture_name}:\n{ours}");
        // lines Nexus's own output must hold, before the names are evened out
        if let Ok(expect) = std::fs::read_to_string(fixture.join("nexus-expect")) {
            for line in expect.lines().filter(|l| !l.trim().is_empty()) {
                let line = line.replace("{name}", &name);
                if !ours.lines().any(|l| l == line) {
                    failures.push(format!("{fixture_name}: nexus's output lacks {line:?}:\n{ours}"));
                }
            }
        }
        // the local folder is the worktree, named after the workspace; the
        // reference's is the repository (docs/devcontainer.md): its name is
        // the one difference by design
        let repo_name = repo
            .path()
            .file_name()
            .expect("repo name")
            .to_string_lossy()
            .to_string();
        let ours = replace_word(&ours, &name, &repo_name);
        if ours != theirs {
            failures.push(format!(
                "{fixture_name}: the containers differ\n--- nexus\n{ours}--- devcontainer up\n{theirs}"
            ));
        }
        if our_labels != their_labels {
            failures.push(format!(
                "{fixture_name}: the labels differ\n--- nexus\n{}\n--- devcontainer up\n{}",
                serde_json::to_string_pretty(&our_labels).unwrap_or_default(),
                serde_json::to_string_pretty(&their_labels).unwrap_or_default()
            ));
        }

        d.cli_ok(repo.path(), &["workspace", "rm", &name, "--force", "--delete-branch"]);
        d.assert_no_leftovers(&repo, &name, false);
        let their_image = docker(&["inspect", "-f", "{{.Config.Image}}", &their_container]);
        let their_project = docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"com.docker.compose.project\"}}",
            &their_container,
        ]);
        docker_best_effort(&["rm", "-f", "-v", &their_container]);
        if !their_project.is_empty() {
            // the rest of the reference's compose project
            let filter = format!("label=com.docker.compose.project={their_project}");
            for c in docker(&["ps", "-aq", "--filter", &filter]).lines() {
                docker_best_effort(&["rm", "-f", "-v", c]);
            }
            for n in docker(&["network", "ls", "-q", "--filter", &filter]).lines() {
                docker_best_effort(&["network", "rm", n]);
            }
        }
        if their_image.starts_with("vsc-") {
            docker_best_effort(&["rmi", "-f", &their_image]);
        }
    }
    for volume in docker(&["volume", "ls", "-q", "--filter", "name=fx-ref-vol-"]).lines() {
        docker_best_effort(&["volume", "rm", "-f", volume]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
