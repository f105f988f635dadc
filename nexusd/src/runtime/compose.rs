//! Compose configs: devcontainer.json's `dockerComposeFile`, `service` and
//! `runServices`, run through the Docker Compose CLI (`docker compose`, else
//! Debian's `docker-compose`) as `@devcontainers/cli` runs them. Each
//! workspace is a compose project of its own, named like its container
//! (`nexus-<name>-<id>`), made from the compose files of its worktree (so
//! their relative paths, e.g. a `..:/workspace` volume, mean the worktree)
//! plus an override file Nexus writes under its data directory. The override
//! gives `service` the agent as entrypoint, the SSH port, the git common dir
//! and devcontainer.json's container settings, and labels every service's
//! container with the workspace.
//!
//! Architecture invariant: the compose CLI makes the project; taking it down
//! (`rm`, a failed create) goes through the Docker API by the project's label
//! (`com.docker.compose.project`), so it needs neither the CLI nor the files.

use super::{Result, RuntimeError};
use crate::error::TAIL_LINES;
use crate::events::Events;
use crate::store::{WorkspaceRecord, container_name};
use nexus_devcontainer::config::Loaded;
use nexus_sdk::Step;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The Docker Compose CLI of this host.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The program and the arguments before compose's own: `docker compose`
    /// or `docker-compose`.
    argv: Vec<String>,
    /// What `version --short` printed (`2.24.5`, `1.29.2`).
    pub version: String,
}

static CLI: tokio::sync::OnceCell<Cli> = tokio::sync::OnceCell::const_new();

/// The Docker Compose CLI: `docker compose` when the plugin is there, else
/// `docker-compose` (the reference's order); found once per process.
/// Errors: `InvalidConfig` saying how to install one.
pub async fn cli() -> Result<&'static Cli> {
    CLI.get_or_try_init(|| async {
        for argv in [vec!["docker", "compose"], vec!["docker-compose"]] {
            let out = tokio::process::Command::new(argv[0])
                .args(&argv[1..])
                .args(["version", "--short"])
                .stdin(std::process::Stdio::null())
                .output()
                .await;
            if let Ok(out) = out
                && out.status.success()
            {
                return Ok(Cli {
                    argv: argv.iter().map(|a| a.to_string()).collect(),
                    version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
                });
            }
        }
        Err(RuntimeError::Compose(
            "compose configs (dockerComposeFile) need the Docker Compose CLI, and neither `docker compose` nor `docker-compose` runs here: install one (Debian: `apt install docker-compose`) and try again".into(),
        ))
    })
    .await
}

impl std::fmt::Display for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.argv.join(" "))
    }
}

/// A workspace's compose project, as its record keeps it (`nexus.compose`
/// of the merged devcontainer.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// `--project-name`: the workspace's container name.
    pub name: String,
    /// `dockerComposeFile`, as absolute paths in the worktree, in merge order.
    pub files: Vec<String>,
    /// The override file Nexus writes, under the daemon's data directory.
    pub override_file: String,
    /// `service`: the service SSH lands in.
    pub service: String,
    /// `runServices`; empty: every service.
    pub run_services: Vec<String>,
    /// Every service of the compose files.
    #[serde(default)]
    pub all_services: Vec<String>,
    /// The service whose container publishes the SSH port: `service`, or
    /// the one it shares a network namespace with (`network_mode:
    /// service:<name>`).
    #[serde(default)]
    pub ports_service: String,
    /// The compose file format `version` the files give, which the override
    /// repeats (`docker-compose` 1.x wants them all alike).
    #[serde(default)]
    pub version: Option<String>,
}

impl Project {
    /// The compose project of workspace `r` whose devcontainer.json is `l`
    /// (with `dockerComposeFile` set). Errors: `InvalidConfig` when `service`
    /// is missing or a file leaves the repository.
    pub fn new(l: &Loaded, r: &WorkspaceRecord, data_dir: &Path) -> Result<Project> {
        let files = l
            .config
            .docker_compose_file
            .as_ref()
            .map(|f| f.to_vec())
            .unwrap_or_default();
        let service = l.config.service.clone().ok_or_else(|| {
            RuntimeError::Compose(format!(
                "{}: dockerComposeFile is set but service is not: name the compose service the workspace is",
                l.path
            ))
        })?;
        if files.is_empty() {
            return Err(RuntimeError::Compose(format!(
                "{}: dockerComposeFile names no file: give the compose file's path",
                l.path
            )));
        }
        let files = files
            .iter()
            .map(|f| Ok(Path::new(&r.worktree).join(l.resolve(f)?).display().to_string()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Project {
            name: container_name(r),
            files,
            override_file: override_path(data_dir, r).display().to_string(),
            ports_service: service.clone(),
            service,
            run_services: l.config.run_services.clone().unwrap_or_default(),
            all_services: Vec::new(),
            version: None,
        })
    }

    /// The services `up` names: `runServices` and `service`, or none (all).
    pub(crate) fn services(&self) -> Vec<String> {
        let mut s = self.run_services.clone();
        if !s.is_empty() && !s.contains(&self.service) {
            s.push(self.service.clone());
        }
        s
    }

    /// Runs compose command `args` on the project's files (and the override
    /// file when `with_override`), each line it prints a `compose` progress
    /// event of workspace `workspace`. Returns its standard output, or its
    /// last lines when it fails.
    pub(crate) async fn run(
        &self,
        events: &Events,
        workspace: &str,
        with_override: bool,
        args: &[&str],
    ) -> Result<std::result::Result<String, String>> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let cli = cli().await?;
        let mut cmd = tokio::process::Command::new(&cli.argv[0]);
        super::end_with_daemon(&mut cmd);
        cmd.args(&cli.argv[1..]).args(["--project-name", &self.name]);
        for f in self.files.iter().chain(with_override.then_some(&self.override_file)) {
            cmd.args(["-f", f]);
        }
        if let Some(dir) = Path::new(&self.files[0]).parent() {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RuntimeError::ComposeCli {
                cli: cli.to_string(),
                message: e.to_string(),
            })?;
        let mut stdout = child.stdout.take();
        let read_out = async {
            let mut out = String::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_string(&mut out).await;
            }
            out
        };
        let stderr = child.stderr.take();
        let what = format!("{cli} {}", args.first().unwrap_or(&""));
        let read_err = async {
            let mut tail = std::collections::VecDeque::new();
            if let Some(e) = stderr {
                let mut lines = tokio::io::BufReader::new(e).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    events.progress(workspace, Step::Compose, format!("{what}: {line}"));
                    tail.push_back(line);
                    if tail.len() > TAIL_LINES {
                        tail.pop_front();
                    }
                }
            }
            Vec::from(tail).join("\n")
        };
        let (out, tail) = tokio::join!(read_out, read_err);
        let status = child
            .wait()
            .await
            .map_err(RuntimeError::io(format!("waiting for {cli}")))?;
        Ok(if status.success() { Ok(out) } else { Err(tail) })
    }
}

/// Where the override file of workspace `r`'s compose project goes.
pub(crate) fn override_path(data_dir: &Path, r: &WorkspaceRecord) -> std::path::PathBuf {
    data_dir.join("compose").join(format!("{}.yml", container_name(r)))
}

pub(crate) fn up_failed(project: &Project, tail: &str) -> RuntimeError {
    RuntimeError::Compose(format!(
        "compose up failed for {}: {tail}: fix the compose files (or free what they need) and try again",
        project.files.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_names_run_services_and_the_service() {
        let mut p = Project {
            name: "p".into(),
            files: vec!["/w/docker-compose.yml".into()],
            override_file: "/d/p.yml".into(),
            service: "app".into(),
            run_services: vec![],
            all_services: vec!["app".into(), "db".into()],
            ports_service: "app".into(),
            version: None,
        };
        assert!(p.services().is_empty());
        p.run_services = vec!["db".into()];
        assert_eq!(p.services(), vec!["db".to_string(), "app".into()]);
    }
}
