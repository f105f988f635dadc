//! The container runtime seam: [`ContainerRuntime`] is what the workspace
//! manager needs of Docker; [`Docker`] implements it with bollard, negotiating
//! the API version (Docker Engine 20.10 speaks API 1.41).
//!
//! Every container made here carries `dev.nexus.workspace=<id>` and
//! `dev.nexus.daemon=<daemon id>`; nothing without them is touched, but for
//! the networks and volumes of a workspace's compose project, found by the
//! project name (which holds the workspace id).

use super::{Result, RuntimeError};
use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    ListVolumesOptions, LogsOptions, RemoveContainerOptions, RemoveVolumeOptions, StopContainerOptions,
    UploadToContainerOptions,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use nexus_devcontainer::container_options::{MountKind, MountSpec};
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// Label holding the workspace id.
pub const LABEL_WORKSPACE: &str = "dev.nexus.workspace";
/// Label holding the id of the daemon that owns the container.
pub const LABEL_DAEMON: &str = "dev.nexus.daemon";

/// What to create.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Bind mounts: (host path, container path).
    pub binds: Vec<(String, String)>,
    /// Container TCP port → host port, published on 127.0.0.1.
    pub ports: Vec<(u16, u16)>,
    /// argv of PID 1.
    pub entrypoint: Vec<String>,
    /// Hostname.
    pub hostname: String,
    /// Environment (devcontainer.json `containerEnv`), as (name, value).
    pub env: Vec<(String, String)>,
    /// More mounts (devcontainer.json `mounts`).
    pub mounts: Vec<MountSpec>,
    /// Docker options from devcontainer.json (capabilities, init, limits, …).
    pub options: nexus_devcontainer::container_options::RunOptions,
    /// No seccomp or AppArmor profile, no masked or read-only kernel
    /// paths, every device node allowed: what `--privileged` gives beside
    /// capabilities and devices, for a dind workspace on an engine that
    /// cannot grant every capability (and so cannot run a privileged container).
    pub unconfined: bool,
}

/// An image build through the Docker API (`POST /build`).
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// The tag to give the image.
    pub tag: String,
    /// The build context as a tar archive.
    pub context: Vec<u8>,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// Where the Dockerfile comes from, for errors (e.g. `.devcontainer/Dockerfile`).
    pub source: String,
    /// `--build-arg`s.
    pub args: HashMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// Labels of the image.
    pub labels: HashMap<String, String>,
    /// `--no-cache`: build every layer again.
    pub no_cache: bool,
    /// `--network`: the network mode of `RUN` steps.
    pub network: Option<String>,
    /// `--add-host`s (`host:ip`): the API's `extrahosts` takes one; more
    /// are sent comma-joined, which the engine refuses.
    pub extra_hosts: Vec<String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--pull`: pull a newer base image even when one is present.
    pub pull: bool,
    /// `--cache-from`.
    pub cache_from: Vec<String>,
}

/// A container as reconciliation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Container id.
    pub id: String,
    /// `dev.nexus.workspace` label.
    pub workspace_id: String,
    /// Whether it runs.
    pub running: bool,
}

/// What an image's configuration says (Docker's image inspect `Config`).
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    /// Its id (`sha256:…`).
    pub id: String,
    /// Its configured user (`""` for root).
    pub user: String,
    /// Its labels (`devcontainer.metadata` among them).
    pub labels: HashMap<String, String>,
    /// Its entrypoint and command, as Docker's exec form.
    pub entrypoint: Vec<String>,
    /// Its command (arguments to the entrypoint).
    pub cmd: Vec<String>,
}

fn image_info(info: bollard::models::ImageInspect) -> ImageInfo {
    let c = info.config.unwrap_or_default();
    ImageInfo {
        id: info.id.unwrap_or_default(),
        user: c.user.unwrap_or_default(),
        labels: c.labels.unwrap_or_default(),
        entrypoint: c.entrypoint.unwrap_or_default(),
        cmd: c.cmd.unwrap_or_default(),
    }
}

/// An image as the engine lists it (Docker's image summary).
#[derive(Debug, Clone, Default)]
pub struct ImageSummary {
    /// Its id (`sha256:…`).
    pub id: String,
    /// Its tags (`repository:tag`); none for an image a newer build of the
    /// same tag replaced.
    pub tags: Vec<String>,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// When it was made, in seconds since the Unix epoch.
    pub created: i64,
    /// Its size in bytes.
    pub size: u64,
}

/// A container of this daemon that started or stopped, as the engine
/// announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The container's id.
    pub id: String,
    /// Whether it now runs (`start`) or not (`die`).
    pub running: bool,
}

/// What the workspace manager needs of a container engine.
#[async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// Checks that the engine answers. Errors: `DockerUnavailable`.
    async fn ping(&self) -> Result<()>;
    /// Makes sure `image` is present (pulling it if not); returns what its
    /// configuration says. Errors: `ImageNotFound`.
    async fn ensure_image(&self, image: &str) -> Result<ImageInfo>;
    /// Builds an image. Errors: `BuildFailed` with the build's own error.
    async fn build_image(&self, build: BuildSpec) -> Result<()>;
    /// Whether the engine has image `image` (no pull).
    async fn has_image(&self, image: &str) -> Result<bool>;
    /// The images carrying label `label` (any value).
    async fn images_labelled(&self, label: &str) -> Result<Vec<ImageSummary>>;
    /// The ids of the images of every container of the engine, any state,
    /// any owner.
    async fn images_in_use(&self) -> Result<std::collections::HashSet<String>>;
    /// Removes image `reference` (a tag, or an id), never forced: returns
    /// false when the engine refuses (a container uses it, or it is gone).
    async fn remove_image(&self, reference: &str) -> Result<bool>;
    /// Creates a container; returns its id.
    /// Commits container `id`'s filesystem as image `reference`
    /// (`repo:tag`) with `labels`, pausing it meanwhile; returns the image id.
    async fn commit(&self, id: &str, reference: &str, labels: HashMap<String, String>) -> Result<String>;
    async fn create(&self, spec: &ContainerSpec) -> Result<String>;
    /// Extracts a tar archive at `/` in a created container.
    async fn upload(&self, id: &str, tar: bytes::Bytes) -> Result<()>;
    /// Starts a container.
    async fn start(&self, id: &str) -> Result<()>;
    /// Stops a container (SIGTERM, then SIGKILL after `timeout_secs`).
    async fn stop(&self, id: &str, timeout_secs: i32) -> Result<()>;
    /// Removes a container by id or name, with its anonymous volumes; a missing one is fine.
    async fn remove(&self, id: &str) -> Result<()>;
    /// Whether the container runs; `None` when it does not exist.
    async fn running(&self, id: &str) -> Result<Option<bool>>;
    /// Freezes a running container's processes (`docker pause`).
    async fn pause(&self, id: &str) -> Result<()>;
    /// Thaws a paused container (`docker unpause`); one not paused is fine.
    async fn unpause(&self, id: &str) -> Result<()>;
    /// Whether the container is paused; `None` when it does not exist.
    async fn paused(&self, id: &str) -> Result<Option<bool>>;
    /// Containers with `dev.nexus.daemon=<daemon_id>`.
    async fn list_owned(&self, daemon_id: &str) -> Result<Vec<ContainerInfo>>;
    /// The containers of Docker Compose project `project` (label
    /// `com.docker.compose.project`), stopped ones too, as (id, compose service).
    async fn project_containers(&self, project: &str) -> Result<Vec<(String, String)>>;
    /// Takes Docker Compose project `project` down: its containers (with
    /// their anonymous volumes), networks and named volumes (all found by
    /// the label `com.docker.compose.project`), and the images compose built
    /// for its services (`<project>-<service>`, `<project>_<service>`) that
    /// no other container uses; nothing there is fine.
    async fn remove_project(&self, project: &str) -> Result<()>;
    /// Removes every container (with its anonymous volumes), network and
    /// volume labelled `label` (`key=value`): what a workspace's Docker
    /// proxy made; nothing there is fine.
    async fn remove_labelled(&self, label: &str) -> Result<()>;
    /// Removes named volume `name`; a missing one is fine.
    async fn remove_volume(&self, name: &str) -> Result<()>;
    /// The container's output: (stream name, text) pieces.
    fn logs(&self, id: &str, follow: bool) -> BoxStream<'static, Result<(nexus_sdk::LogStream, String)>>;
    /// The container's resource use now (Docker's stats, one reading,
    /// `one-shot`: no wait for a second reading).
    async fn stats(&self, id: &str) -> Result<super::stats::RawStats>;
    /// The `start` and `die` events of the containers labelled
    /// `dev.nexus.daemon=<daemon_id>` from now on; the stream ends (or
    /// fails) when the engine goes away.
    async fn container_events(&self, daemon_id: &str) -> Result<BoxStream<'static, Result<ContainerEvent>>>;
}

/// Docker through bollard.
#[derive(Debug, Default)]
pub struct Docker {
    client: OnceCell<bollard::Docker>,
}

fn unavailable(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Unavailable(e.to_string())
}

fn docker_err(e: bollard::errors::Error) -> RuntimeError {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => RuntimeError::Engine(message),
        bollard::errors::Error::SocketNotFoundError(_)
        | bollard::errors::Error::IOError { .. }
        | bollard::errors::Error::HyperResponseError { .. } => unavailable(e),
        other => RuntimeError::Engine(other.to_string()),
    }
}

/// Whether Docker's message says a published port could not be bound: the
/// userland proxy's `bind: address already in use`, or `port is already
/// allocated` (another container holds it).
fn port_taken(message: &str) -> bool {
    message.contains("address already in use") || message.contains("port is already allocated")
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }
    )
}

impl Docker {
    /// A runtime that connects on first use.
    pub fn new() -> Docker {
        Docker::default()
    }

    /// Removes the networks, then the volumes, that `filters` (Docker's list filters) match.
    async fn remove_networks_and_volumes(&self, filters: HashMap<String, Vec<String>>) -> Result<()> {
        let c = self.client().await?;
        let networks = c
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters.clone()),
            }))
            .await
            .map_err(docker_err)?;
        for n in networks.into_iter().filter_map(|n| n.id) {
            match c.remove_network(&n).await {
                Err(e) if !is_not_found(&e) => return Err(docker_err(e)),
                _ => {}
            }
        }
        let volumes = c
            .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
            .await
            .map_err(docker_err)?;
        for v in volumes.volumes.unwrap_or_default() {
            self.remove_volume(&v.name).await?;
        }
        Ok(())
    }

    /// Every container (stopped ones too) that `filters` (Docker's list filters) match.
    async fn containers(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<bollard::models::ContainerSummary>> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        self.client()
            .await?
            .list_containers(Some(opts))
            .await
            .map_err(docker_err)
    }

    async fn client(&self) -> Result<&bollard::Docker> {
        self.client
            .get_or_try_init(|| async {
                let c = bollard::Docker::connect_with_local_defaults().map_err(unavailable)?;
                c.negotiate_version().await.map_err(unavailable)
            })
            .await
    }
}

#[async_trait]
impl ContainerRuntime for Docker {
    async fn ping(&self) -> Result<()> {
        self.client().await?.ping().await.map_err(unavailable)?;
        Ok(())
    }

    async fn ensure_image(&self, image: &str) -> Result<ImageInfo> {
        let c = self.client().await?;
        match c.inspect_image(image).await {
            Ok(info) => return Ok(image_info(info)),
            Err(e) if !is_not_found(&e) => return Err(docker_err(e)),
            Err(_) => {}
        }
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        let mut pull = c.create_image(Some(opts), None, None);
        while let Some(step) = pull.next().await {
            if let Err(e) = step {
                let reason = match e {
                    bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(RuntimeError::ImageNotFound {
                    image: image.to_string(),
                    reason,
                });
            }
        }
        let info = c.inspect_image(image).await.map_err(|e| RuntimeError::ImageNotFound {
            image: image.to_string(),
            reason: e.to_string(),
        })?;
        Ok(image_info(info))
    }

    async fn images_labelled(&self, label: &str) -> Result<Vec<ImageSummary>> {
        let opts = bollard::query_parameters::ListImagesOptions {
            filters: Some(HashMap::from([("label".to_string(), vec![label.to_string()])])),
            ..Default::default()
        };
        let list = self.client().await?.list_images(Some(opts)).await.map_err(docker_err)?;
        Ok(list
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                tags: i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect(),
                labels: i.labels,
                created: i.created,
                size: i.size.max(0) as u64,
            })
            .collect())
    }

    async fn images_in_use(&self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .containers(HashMap::new())
            .await?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect())
    }

    async fn remove_image(&self, reference: &str) -> Result<bool> {
        let opts = bollard::query_parameters::RemoveImageOptions {
            force: false,
            noprune: false,
            ..Default::default()
        };
        match self.client().await?.remove_image(reference, Some(opts), None).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409, ..
            }) => Ok(false),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn has_image(&self, image: &str) -> Result<bool> {
        match self.client().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn build_image(&self, b: BuildSpec) -> Result<()> {
        let c = self.client().await?;
        let opts = BuildImageOptions {
            dockerfile: b.dockerfile.clone(),
            t: Some(b.tag.clone()),
            rm: true,
            // a failed step's container goes too (the classic builder keeps it otherwise)
            forcerm: true,
            labels: Some(b.labels.clone()),
            buildargs: Some(b.args.clone()),
            target: b.target.clone().unwrap_or_default(),
            nocache: b.no_cache,
            networkmode: b.network.clone(),
            extrahosts: (!b.extra_hosts.is_empty()).then(|| b.extra_hosts.join(",")),
            platform: b.platform.clone().unwrap_or_default(),
            pull: b.pull.then(|| "1".to_string()),
            cachefrom: (!b.cache_from.is_empty()).then(|| b.cache_from.clone()),
            ..Default::default()
        };
        // the build's last lines of output go with its error
        let mut tail: std::collections::VecDeque<String> = Default::default();
        let failed = |message: String, tail: &std::collections::VecDeque<String>| RuntimeError::BuildFailed {
            dockerfile: b.source.clone(),
            message: match tail.is_empty() {
                true => message.trim().to_string(),
                false => format!(
                    "{}; its output ends:\n{}",
                    message.trim(),
                    Vec::from(tail.clone()).join("\n")
                ),
            },
        };
        let mut build = c.build_image(opts, None, Some(bollard::body_full(b.context.into())));
        while let Some(step) = build.next().await {
            match step {
                Ok(info) => {
                    if let Some(detail) = info.error_detail {
                        return Err(failed(detail.message.unwrap_or_default(), &tail));
                    }
                    for line in info.stream.iter().flat_map(|s| s.lines()) {
                        let line = line.trim_end();
                        if !line.is_empty() && !line.starts_with(" ---> ") && !line.starts_with("Step ") {
                            tail.push_back(line.to_string());
                            if tail.len() > 10 {
                                tail.pop_front();
                            }
                        }
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => return Err(failed(error, &tail)),
                Err(e) => return Err(docker_err(e)),
            }
        }
        Ok(())
    }

    async fn commit(&self, id: &str, reference: &str, labels: HashMap<String, String>) -> Result<String> {
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let opts = bollard::query_parameters::CommitContainerOptions {
            container: Some(id.to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            pause: true,
            ..Default::default()
        };
        let config = bollard::models::ContainerConfig {
            labels: Some(labels),
            ..Default::default()
        };
        let made = self
            .client()
            .await?
            .commit_container(opts, config)
            .await
            .map_err(docker_err)?;
        Ok(made.id)
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String> {
        let c = self.client().await?;
        let mut exposed = Vec::new();
        let mut bindings = HashMap::new();
        for (container, host) in &spec.ports {
            exposed.push(format!("{container}/tcp"));
            bindings.insert(
                format!("{container}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(host.to_string()),
                }]),
            );
        }
        let binds = spec.binds.iter().map(|(src, dst)| MountSpec {
            kind: MountKind::Bind,
            source: Some(src.clone()),
            target: dst.clone(),
            read_only: false,
        });
        // a named volume the engine makes for a mount says whose it was
        let volume_labels: HashMap<String, String> = spec
            .labels
            .iter()
            .filter(|(k, _)| *k == LABEL_WORKSPACE || *k == LABEL_DAEMON)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mounts = binds
            .chain(spec.mounts.iter().cloned())
            .map(|m| Mount {
                typ: Some(match m.kind {
                    MountKind::Bind => MountType::BIND,
                    MountKind::Volume => MountType::VOLUME,
                    MountKind::Tmpfs => MountType::TMPFS,
                }),
                volume_options: (m.kind == MountKind::Volume && m.source.is_some()).then(|| {
                    bollard::models::MountVolumeOptions {
                        labels: Some(volume_labels.clone()),
                        ..Default::default()
                    }
                }),
                source: m.source,
                target: Some(m.target),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            .collect();
        let o = &spec.options;
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: Some(spec.entrypoint.clone()),
            cmd: Some(Vec::new()),
            user: Some("0:0".into()),
            hostname: Some(spec.hostname.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone()),
            exposed_ports: Some(exposed),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                port_bindings: Some(bindings),
                cap_add: nonempty(&o.cap_add),
                security_opt: if spec.unconfined {
                    Some(
                        o.security_opt
                            .iter()
                            .cloned()
                            .chain(["seccomp=unconfined".into(), "apparmor=unconfined".into()])
                            .collect(),
                    )
                } else {
                    nonempty(&o.security_opt)
                },
                masked_paths: spec.unconfined.then(Vec::new),
                readonly_paths: spec.unconfined.then(Vec::new),
                device_cgroup_rules: spec.unconfined.then(|| vec!["a *:* rwm".to_string()]),
                privileged: Some(o.privileged),
                init: o.init.then_some(true),
                network_mode: o.network.clone(),
                extra_hosts: nonempty(&o.extra_hosts),
                memory: o.memory,
                nano_cpus: o.nano_cpus,
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = c.create_container(Some(opts), body).await.map_err(docker_err)?;
        Ok(created.id)
    }

    async fn upload(&self, id: &str, tar: bytes::Bytes) -> Result<()> {
        let c = self.client().await?;
        let opts = UploadToContainerOptions {
            path: "/".into(),
            ..Default::default()
        };
        c.upload_to_container(id, Some(opts), bollard::body_full(tar))
            .await
            .map_err(docker_err)
    }

    async fn start(&self, id: &str) -> Result<()> {
        self.client()
            .await?
            .start_container(id, None)
            .await
            .map_err(|e| match docker_err(e) {
                RuntimeError::Engine(m) if port_taken(&m) => RuntimeError::PortTaken(m),
                other => other,
            })
    }

    async fn stop(&self, id: &str, timeout_secs: i32) -> Result<()> {
        let opts = StopContainerOptions {
            t: Some(timeout_secs),
            ..Default::default()
        };
        match self.client().await?.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn pause(&self, id: &str) -> Result<()> {
        self.client().await?.pause_container(id).await.map_err(docker_err)
    }

    async fn unpause(&self, id: &str) -> Result<()> {
        match self.client().await?.unpause_container(id).await {
            Ok(()) => Ok(()),
            // 409: not paused
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn paused(&self, id: &str) -> Result<Option<bool>> {
        match self.client().await?.inspect_container(id, None).await {
            Ok(info) => Ok(Some(info.state.and_then(|s| s.paused).unwrap_or(false))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.client().await?.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // "removal already in progress"
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn running(&self, id: &str) -> Result<Option<bool>> {
        match self.client().await?.inspect_container(id, None).await {
            Ok(info) => Ok(Some(info.state.and_then(|s| s.running).unwrap_or(false))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(docker_err(e)),
        }
    }

    async fn list_owned(&self, daemon_id: &str) -> Result<Vec<ContainerInfo>> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_DAEMON}={daemon_id}")])]);
        Ok(self
            .containers(filters)
            .await?
            .into_iter()
            .filter_map(|c| {
                let workspace_id = c.labels.as_ref()?.get(LABEL_WORKSPACE)?.clone();
                Some(ContainerInfo {
                    id: c.id?,
                    workspace_id,
                    running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
                })
            })
            .collect())
    }

    async fn project_containers(&self, project: &str) -> Result<Vec<(String, String)>> {
        Ok(self
            .containers(project_filter(project))
            .await?
            .into_iter()
            .filter_map(|c| {
                let service = c.labels.as_ref()?.get(LABEL_COMPOSE_SERVICE)?.clone();
                Some((c.id?, service))
            })
            .collect())
    }

    async fn remove_project(&self, project: &str) -> Result<()> {
        for (id, _) in self.project_containers(project).await? {
            self.remove(&id).await?;
        }
        self.remove_networks_and_volumes(project_filter(project)).await?;
        let c = self.client().await?;
        // the images compose built for the project's services: compose names
        // them <project>-<service> (v2) or <project>_<service> (v1) and labels
        // them with nothing of ours; the project name holds the workspace id
        let opts = bollard::query_parameters::ListImagesOptions {
            filters: Some(HashMap::from([(
                "reference".to_string(),
                vec![format!("{project}-*"), format!("{project}_*")],
            )])),
            ..Default::default()
        };
        for image in c.list_images(Some(opts)).await.map_err(docker_err)? {
            for tag in image.repo_tags.iter().filter(|t| t.starts_with(project)) {
                self.remove_image(tag).await?;
            }
        }
        Ok(())
    }

    async fn remove_labelled(&self, label: &str) -> Result<()> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        for c in self.containers(filters.clone()).await? {
            if let Some(id) = c.id {
                self.remove(&id).await?;
            }
        }
        self.remove_networks_and_volumes(filters).await
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        match self
            .client()
            .await?
            .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
            .await
        {
            Err(e) if !is_not_found(&e) => Err(docker_err(e)),
            _ => Ok(()),
        }
    }

    async fn container_events(&self, daemon_id: &str) -> Result<BoxStream<'static, Result<ContainerEvent>>> {
        let c = self.client().await?.clone();
        let opts = bollard::query_parameters::EventsOptions {
            filters: Some(HashMap::from([
                ("type".to_string(), vec!["container".to_string()]),
                ("label".to_string(), vec![format!("{LABEL_DAEMON}={daemon_id}")]),
                ("event".to_string(), vec!["start".to_string(), "die".to_string()]),
            ])),
            ..Default::default()
        };
        Ok(c.events(Some(opts))
            .filter_map(|item| async move {
                match item {
                    Err(e) => Some(Err(docker_err(e))),
                    Ok(m) => {
                        let id = m.actor.and_then(|a| a.id)?;
                        let running = match m.action.as_deref() {
                            Some("start") => true,
                            Some("die") => false,
                            _ => return None,
                        };
                        Some(Ok(ContainerEvent { id, running }))
                    }
                }
            })
            .boxed())
    }

    async fn stats(&self, id: &str) -> Result<super::stats::RawStats> {
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut readings = self.client().await?.stats(id, Some(opts));
        match readings.next().await {
            Some(r) => r.map(|s| super::stats::RawStats::from_docker(&s)).map_err(docker_err),
            None => Err(unavailable("the engine sent no stats")),
        }
    }

    fn logs(&self, id: &str, follow: bool) -> BoxStream<'static, Result<(nexus_sdk::LogStream, String)>> {
        let id = id.to_string();
        let client = self.client.get().cloned();
        let stream = async_stream_logs(client, id, follow);
        Box::pin(stream)
    }
}

/// Docker Compose's label naming the project of a container, network or volume.
pub const LABEL_COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// Docker Compose's label naming the service of a container.
pub const LABEL_COMPOSE_SERVICE: &str = "com.docker.compose.service";

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{LABEL_COMPOSE_PROJECT}={project}")])])
}

fn async_stream_logs(
    client: Option<bollard::Docker>,
    id: String,
    follow: bool,
) -> impl futures::Stream<Item = Result<(nexus_sdk::LogStream, String)>> + Send + 'static {
    let Some(c) = client else {
        return futures::stream::once(async { Err(unavailable("not connected")) }).boxed();
    };
    let opts = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        tail: "all".into(),
        ..Default::default()
    };
    c.logs(&id, Some(opts))
        .map(|item| {
            item.map_err(docker_err).map(|out| {
                let stream = match &out {
                    bollard::container::LogOutput::StdErr { .. } => nexus_sdk::LogStream::Stderr,
                    _ => nexus_sdk::LogStream::Stdout,
                };
                (stream, String::from_utf8_lossy(&out.into_bytes()).into_owned())
            })
        })
        .boxed()
}
