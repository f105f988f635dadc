//! The compose flows of the manager: a compose workspace's image (the
//! service's, built by compose, with features on it), its project made and
//! started, and its containers stopped, started and removed by the project's
//! label. The compose CLI itself, the project and the override file are
//! `runtime::compose`'s.

use super::image::ResolvedImage;
use super::*;
use crate::runtime::compose::{Project, cli, override_path, up_failed};
use nexus_devcontainer::compose::{Service, escape_dollars, volume_line};
use nexus_devcontainer::config::Loaded;
use nexus_devcontainer::container_options::MountKind;
use nexus_devcontainer::metadata;
use serde_json::{Map, Value, json};
use std::path::Path;

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
            Step::Compose,
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
        // team mode: what any started service (all of them without
        // runServices) does on the server
        let effects: Vec<_> = services
            .iter()
            .filter(|(s, _)| {
                project.run_services.is_empty() || project.run_services.contains(s) || **s == project.service
            })
            .flat_map(|(s, v)| nexus_devcontainer::compose::host_effects(s, v, &r.worktree))
            .collect();
        self.check_host_effects(r.owner_id, &effects)?;
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
                    Step::Image,
                    format!("building service {}'s image {tag}", project.service),
                );
                // --force-rm: a failed step's container goes too
                let args: &[&str] = if fresh {
                    &["build", "--force-rm", "--no-cache", &project.service]
                } else {
                    &["build", "--force-rm", &project.service]
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
        self.events
            .progress(&r.name, Step::Image, format!("finding image {tag}"));
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

    pub(super) fn write_override(&self, project: &Project, content: &Value) -> Result<()> {
        let mut content = content.clone();
        escape_dollars(&mut content);
        // JSON is YAML, and quotes every string (YAML 1.1 readers take a bare `yes` for true)
        let text = serde_json::to_string_pretty(&content)
            .map_err(|e| WorkspaceError::Internal(format!("cannot write the compose override: {e}")))?;
        let path = Path::new(&project.override_file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(WorkspaceError::io(format!("making {}", dir.display())))?;
        }
        std::fs::write(path, text).map_err(WorkspaceError::io(format!("writing {}", path.display())))?;
        Ok(())
    }

    /// Creates (`up --no-start`) the containers of compose workspace `r`
    /// with the override file: `service` runs the agent (beside its own
    /// command unless `overrideCommand` is true), mounts the relay socket's
    /// directory (or, for a workspace made before the relay, publishes the
    /// SSH port, on the service whose network it joins under
    /// `network_mode: service:<name>`), mounts the git common dir, and has
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
        let relay_dir = self.relay_socket_dir(r)?;
        let volumes: Vec<String> = [format!("{0}:{0}", r.git_common_dir)]
            .into_iter()
            .chain(relay_dir.map(|d| format!("{}:{}", d.display(), nexus_sdk::relay::SOCKET_DIR)))
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
        // the relay's workspaces are reached through the relay socket
        if !r.ssh_relay
            && let Some(Value::Object(p)) = services.get_mut(&project.ports_service)
        {
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
            .map_err(|tail| up_failed(project, &tail).into())
    }
}

impl Manager {
    /// Removes workspace `r`'s container and any compose project of it (a
    /// plain workspace has none): containers, networks, volumes, the images
    /// compose built for it, and the override file.
    pub(crate) async fn remove_containers(&self, r: &WorkspaceRecord) -> Result<()> {
        self.runtime.remove(&container_name(r)).await?;
        self.runtime.remove_project(&container_name(r)).await?;
        match std::fs::remove_file(override_path(&self.config.data_dir, r)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(WorkspaceError::io("removing the compose override file")(e))
            }
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
        futures::future::try_join_all(stops).await?;
        Ok(())
    }

    /// Starts the stopped containers of workspace `r`'s compose project,
    /// then its own container. Errors: `InvalidState` when its SSH port is
    /// held by another process (Docker fixes published ports when it makes
    /// a container, so a start cannot move it as a create does).
    pub(crate) async fn start_containers(&self, r: &WorkspaceRecord) -> Result<()> {
        let own = devcontainer_of(r).and_then(|m| Some(m.compose?.service));
        for (id, service) in self.runtime.project_containers(&container_name(r)).await? {
            if Some(&service) != own.as_ref() && self.runtime.running(&id).await? == Some(false) {
                self.runtime.start(&id).await?;
            }
        }
        match self.runtime.start(&container_name(r)).await {
            Err(crate::runtime::RuntimeError::PortTaken(m)) => Err(super::create::port_taken(r, &m)),
            r => Ok(r?),
        }
    }
}
