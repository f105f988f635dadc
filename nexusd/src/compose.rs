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

use crate::docker::{LABEL_DAEMON, LABEL_WORKSPACE};
use crate::error::{Result, WorkspaceError};
use crate::events::Events;
use crate::lifecycle::ResolvedImage;
use crate::store::WorkspaceRecord;
use crate::workspace::{AGENT_PORT, Manager, container_name, devcontainer_of};
use nexus_devcontainer::config::Loaded;
use nexus_devcontainer::container_options::{MountKind, MountSpec};
use nexus_devcontainer::metadata::{self, Merged};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::Path;

// a failed compose command's error quotes as many lines as a failed hook's
use crate::lifecycle::TAIL_LINES;

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
        Err(WorkspaceError::InvalidConfig(
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
            WorkspaceError::InvalidConfig(format!(
                "{}: dockerComposeFile is set but service is not: name the compose service the workspace is",
                l.path
            ))
        })?;
        if files.is_empty() {
            return Err(WorkspaceError::InvalidConfig(format!(
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
    fn services(&self) -> Vec<String> {
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
    async fn run(
        &self,
        events: &Events,
        workspace: &str,
        with_override: bool,
        args: &[&str],
    ) -> Result<std::result::Result<String, String>> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let cli = cli().await?;
        let mut cmd = tokio::process::Command::new(&cli.argv[0]);
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
            .map_err(|e| WorkspaceError::Internal(format!("cannot run {cli}: {e}")))?;
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
                    events.progress(workspace, "compose", format!("{what}: {line}"));
                    tail.push_back(line);
                    if tail.len() > TAIL_LINES {
                        tail.pop_front();
                    }
                }
            }
            Vec::from(tail).join("\n")
        };
        let (out, tail) = tokio::join!(read_out, read_err);
        let status = child.wait().await?;
        Ok(if status.success() { Ok(out) } else { Err(tail) })
    }
}

/// Where the override file of workspace `r`'s compose project goes.
fn override_path(data_dir: &Path, r: &WorkspaceRecord) -> std::path::PathBuf {
    data_dir.join("compose").join(format!("{}.yml", container_name(r)))
}

/// What the merged compose configuration (`config`) says of `service`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Service {
    /// `image`.
    pub image: Option<String>,
    /// Whether it has a `build` section.
    pub build: bool,
    /// `user`.
    pub user: Option<String>,
    /// `entrypoint`, as argv.
    pub entrypoint: Option<Vec<String>>,
    /// `command`, as argv.
    pub command: Option<Vec<String>>,
    /// `network_mode`.
    pub network_mode: Option<String>,
}

/// A compose `command` or `entrypoint`: a list, or a string split as a
/// shell would (compose's own reading).
fn argv(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => shlex::split(s),
        Value::Array(a) => Some(a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect()),
        _ => None,
    }
}

impl Service {
    fn of(v: &Value) -> Service {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Service {
            image: text("image"),
            build: v.get("build").is_some(),
            user: text("user"),
            entrypoint: argv(v.get("entrypoint")),
            command: argv(v.get("command")),
            network_mode: text("network_mode"),
        }
    }
}

/// `$` doubled in every string of `v`, so compose's interpolation leaves it as written.
fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(s) => *s = s.replace('$', "$$"),
        Value::Array(a) => a.iter_mut().for_each(escape_dollars),
        Value::Object(m) => {
            let escaped: Map<String, Value> = std::mem::take(m)
                .into_iter()
                .map(|(k, mut v)| {
                    escape_dollars(&mut v);
                    (k.replace('$', "$$"), v)
                })
                .collect();
            *m = escaped;
        }
        _ => {}
    }
}

/// A compose short-syntax volume (`source:target[:ro]`) for a devcontainer.json mount.
fn volume_line(m: &MountSpec) -> String {
    let mut line = match &m.source {
        Some(s) => format!("{s}:{}", m.target),
        None => m.target.clone(),
    };
    if m.read_only {
        line.push_str(":ro");
    }
    line
}

impl Manager {
    /// The image of compose workspace `r`: `service`'s, built by compose
    /// when it has a `build` section (tagged with the service's `image`, else
    /// `<project>-<service>`), with devcontainer.json's features installed on
    /// it (`fresh`: built again without caches). Returns the project as the
    /// record keeps it and what `config` says
    /// of the service. Errors: `InvalidConfig` when compose rejects the
    /// files or `service`/`runServices` name no service of them,
    /// `BuildFailed` when the service's build fails.
    pub(crate) async fn compose_image(
        &self,
        r: &WorkspaceRecord,
        start: git2::Oid,
        l: &Loaded,
        fresh: bool,
    ) -> Result<(Project, ResolvedImage, Service)> {
        let mut project = Project::new(l, r, &self.config.data_dir)?;
        let cli = cli().await?;
        self.events.progress(
            &r.name,
            "compose",
            format!("reading the compose files with {cli} {}", cli.version),
        );
        let text = project
            .run(&self.events, &r.name, false, &["config"])
            .await?
            .map_err(|tail| {
                WorkspaceError::InvalidConfig(format!(
                    "{}: the compose files do not load ({}): {tail}: fix them and try again",
                    l.path,
                    project.files.join(", ")
                ))
            })?;
        let config: Value = serde_norway::from_str(&text)
            .map_err(|e| WorkspaceError::Internal(format!("cannot read what `{cli} config` printed: {e}")))?;
        let services = config
            .get("services")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for s in project.run_services.iter().chain([&project.service]) {
            if !services.contains_key(s) {
                return Err(WorkspaceError::InvalidConfig(format!(
                    "{}: service {s:?} is not in the compose files, which define {}: fix service or runServices",
                    l.path,
                    services.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let service = Service::of(&services[&project.service]);
        project.all_services = services.keys().cloned().collect();
        project.version = config.get("version").and_then(Value::as_str).map(str::to_string);
        match service.network_mode.as_deref() {
            None | Some("" | "bridge") => {}
            Some(mode) if mode.starts_with("service:") => {
                project.ports_service = mode["service:".len()..].to_string();
            }
            Some(mode) => {
                return Err(WorkspaceError::InvalidConfig(format!(
                    "{}: service {:?} has network_mode {mode:?}, where Nexus cannot publish its SSH port: use a network of the project, or network_mode \"service:<other service>\"",
                    l.path, project.service
                )));
            }
        }
        let tag = match (&service.image, service.build) {
            (image, true) => {
                let tag = image
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}", project.name, project.service));
                self.write_override(&project, &json!({"services": {&project.service: {"image": &tag}}}))?;
                self.events.progress(
                    &r.name,
                    "image",
                    format!("building service {}'s image {tag}", project.service),
                );
                // --force-rm: a failed step's container goes too
                let args: &[&str] = match fresh {
                    true => &["build", "--force-rm", "--no-cache", &project.service],
                    false => &["build", "--force-rm", &project.service],
                };
                project
                    .run(&self.events, &r.name, true, args)
                    .await?
                    .map_err(|tail| WorkspaceError::BuildFailed {
                        dockerfile: format!("{} (service {})", project.files[0], project.service),
                        message: tail,
                    })?;
                tag
            }
            (Some(image), false) => image.clone(),
            (None, false) => {
                return Err(WorkspaceError::InvalidConfig(format!(
                    "{}: service {:?} has neither image nor build: give it one",
                    l.path, project.service
                )));
            }
        };
        self.events.progress(&r.name, "image", format!("finding image {tag}"));
        let mut info = self.runtime.ensure_image(&tag).await?;
        if let Some(user) = &service.user {
            info.user = user.clone();
        }
        let entries = metadata::entries_of_label(info.labels.get(metadata::LABEL).map(String::as_str));
        let resolved = if l.config.features.is_empty() {
            ResolvedImage {
                tag,
                info,
                metadata: entries,
            }
        } else {
            let repo = crate::workspace::repo_of(r);
            self.extend_image(&r.name, &repo, start, l, (tag, info, entries), fresh)
                .await?
        };
        Ok((project, resolved, service))
    }

    fn write_override(&self, project: &Project, content: &Value) -> Result<()> {
        let mut content = content.clone();
        escape_dollars(&mut content);
        // JSON is YAML, and quotes every string (YAML 1.1 readers take a bare `yes` for true)
        let text = serde_json::to_string_pretty(&content)
            .map_err(|e| WorkspaceError::Internal(format!("cannot write the compose override: {e}")))?;
        let path = Path::new(&project.override_file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    /// Creates (`up --no-start`) the containers of compose workspace `r`
    /// with the override file: `service` runs the agent (beside its own
    /// command unless `overrideCommand` is true), publishes the SSH port (on
    /// the service whose network it joins, under `network_mode:
    /// service:<name>`), mounts the git common dir, and has
    /// devcontainer.json's `containerEnv`, `mounts`, `init`, `privileged`,
    /// `capAdd`, `securityOpt` and the merged `devcontainer.metadata`
    /// label; every service is labelled with the workspace. Returns the
    /// service container's id. Errors: `InvalidConfig` with compose's last
    /// lines when it fails.
    pub(crate) async fn compose_create(&self, r: &WorkspaceRecord, m: &Merged, project: &Project) -> Result<String> {
        let mut compose_config = m.config.clone();
        compose_config.run_args.clear();
        compose_config.workspace_mount = None;
        let options = nexus_devcontainer::container_options::run_options("devcontainer.json", &compose_config)?;
        let mut labels = Map::from_iter([
            (LABEL_WORKSPACE.to_string(), json!(r.id)),
            (LABEL_DAEMON.to_string(), json!(self.daemon_id)),
            ("dev.nexus.name".to_string(), json!(r.name)),
        ]);
        let ours = Value::Object(labels.clone());
        if let Some(label) = metadata::label_value(&m.metadata, &Default::default()) {
            labels.insert(metadata::LABEL.into(), json!(label));
        }
        let volumes: Vec<String> = [format!("{0}:{0}", r.git_common_dir)]
            .into_iter()
            .chain(options.mounts.iter().map(volume_line))
            .collect();
        let mut service = json!({
            "image": r.image,
            "container_name": container_name(r),
            "user": "0:0",
            "entrypoint": crate::workspace::agent_entrypoint(m),
            "command": [],
            "labels": labels,
            "volumes": volumes,
        });
        let s = service
            .as_object_mut()
            .ok_or_else(|| WorkspaceError::Internal("override".into()))?;
        if !m.config.container_env.is_empty() {
            s.insert("environment".into(), json!(m.config.container_env));
        }
        for (key, on) in [("init", options.init), ("privileged", options.privileged)] {
            if on {
                s.insert(key.into(), json!(true));
            }
        }
        for (key, list) in [("cap_add", &options.cap_add), ("security_opt", &options.security_opt)] {
            if !list.is_empty() {
                s.insert(key.into(), json!(list));
            }
        }
        let ssh = json!([format!("127.0.0.1:{}:{AGENT_PORT}", r.ssh_port)]);
        let mut services = Map::new();
        for other in &project.all_services {
            services.insert(other.clone(), json!({ "labels": ours }));
        }
        services.insert(project.service.clone(), service);
        if let Some(Value::Object(p)) = services.get_mut(&project.ports_service) {
            p.insert("ports".into(), ssh);
        }
        let mut content = json!({ "services": services });
        let named: Map<String, Value> = options
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .filter_map(|m| Some((m.source.clone()?, json!({}))))
            .collect();
        if !named.is_empty() {
            content["volumes"] = Value::Object(named);
        }
        if let Some(v) = &project.version {
            content["version"] = json!(v);
        }
        self.write_override(project, &content)?;
        let services = project.services();
        let mut args = vec!["up", "--no-start"];
        args.extend(services.iter().map(String::as_str));
        project
            .run(&self.events, &r.name, true, &args)
            .await?
            .map_err(|tail| up_failed(project, &tail))?;
        self.runtime
            .project_containers(&project.name)
            .await?
            .into_iter()
            .find(|(_, s)| *s == project.service)
            .map(|(id, _)| id)
            .ok_or_else(|| {
                WorkspaceError::Internal(format!("compose made no container for service {:?}", project.service))
            })
    }

    /// Starts the containers `compose_create` made (`up -d --no-recreate`).
    pub(crate) async fn compose_start(&self, r: &WorkspaceRecord, project: &Project) -> Result<()> {
        let services = project.services();
        let mut args = vec!["up", "-d", "--no-recreate"];
        args.extend(services.iter().map(String::as_str));
        project
            .run(&self.events, &r.name, true, &args)
            .await?
            .map(|_| ())
            .map_err(|tail| up_failed(project, &tail))
    }
}

impl Manager {
    /// Removes workspace `r`'s container and any compose project of it (a
    /// plain workspace has none): containers, networks, volumes and the
    /// override file.
    pub(crate) async fn remove_containers(&self, r: &WorkspaceRecord) -> Result<()> {
        self.runtime.remove(&container_name(r)).await?;
        self.runtime.remove_project(&container_name(r)).await?;
        match std::fs::remove_file(override_path(&self.config.data_dir, r)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Stops workspace `r`'s container, then the other containers of its
    /// compose project (shutdownAction's `stopCompose`) together, waiting
    /// `timeout_secs` for each before killing it.
    pub(crate) async fn stop_containers(&self, r: &WorkspaceRecord, timeout_secs: i32) -> Result<()> {
        self.runtime.stop(&container_name(r), timeout_secs).await?;
        let others = self.runtime.project_containers(&container_name(r)).await?;
        let stops = others.iter().map(|(id, _)| self.runtime.stop(id, timeout_secs));
        futures::future::try_join_all(stops).await.map(|_| ())
    }

    /// Starts the stopped containers of workspace `r`'s compose project,
    /// then its own container.
    pub(crate) async fn start_containers(&self, r: &WorkspaceRecord) -> Result<()> {
        let own = devcontainer_of(r).and_then(|m| Some(m.compose?.service));
        for (id, service) in self.runtime.project_containers(&container_name(r)).await? {
            if Some(&service) != own.as_ref() && self.runtime.running(&id).await? == Some(false) {
                self.runtime.start(&id).await?;
            }
        }
        self.runtime.start(&container_name(r)).await
    }
}

fn up_failed(project: &Project, tail: &str) -> WorkspaceError {
    WorkspaceError::InvalidConfig(format!(
        "compose up failed for {}: {tail}: fix the compose files (or free what they need) and try again",
        project.files.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_escaped_for_compose_interpolation() {
        let mut v = json!({"a": ["$HOME", "x"], "$k": "${V}"});
        escape_dollars(&mut v);
        assert_eq!(v, json!({"a": ["$$HOME", "x"], "$$k": "$${V}"}));
    }

    #[test]
    fn services_read_from_compose_config() {
        let v: Value = serde_norway::from_str(
            "image: app\nbuild:\n  context: .\nuser: node\nentrypoint: /bin/sh -c 'echo hi'\ncommand: [sleep, infinity]\nnetwork_mode: service:db\n",
        )
        .unwrap_or_default();
        let s = Service::of(&v);
        assert_eq!(s.image.as_deref(), Some("app"));
        assert!(s.build);
        assert_eq!(s.user.as_deref(), Some("node"));
        assert_eq!(
            s.entrypoint,
            Some(vec!["/bin/sh".to_string(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(s.command, Some(vec!["sleep".to_string(), "infinity".into()]));
        assert_eq!(s.network_mode.as_deref(), Some("service:db"));
    }

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
