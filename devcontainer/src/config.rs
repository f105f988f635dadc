//! devcontainer.json, as the Dev Container specification (containers.dev,
//! the `devcontainers/spec` repository) defines it: finding the file in a
//! commit, parsing it as JSON with comments and trailing commas, replacing
//! its variables, and the parts a workspace is made from — the image or the
//! Dockerfile build, the container's environment and users, the workspace
//! folder and the lifecycle hooks. Property names are the spec's. Unknown
//! properties are kept (and ignored), not errors.

use crate::error::{DevContainerError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where devcontainer.json is looked for, in order (the spec's "standard locations").
pub const LOCATIONS: [&str; 2] = [".devcontainer/devcontainer.json", ".devcontainer.json"];

/// A `build` object (`build.dockerfile`, `build.context`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// The Dockerfile, relative to devcontainer.json.
    pub dockerfile: Option<String>,
    /// The build context, relative to devcontainer.json; `"."` when absent.
    pub context: Option<String>,
    /// `--build-arg`s.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// The stage to build (`--target`).
    pub target: Option<String>,
    /// `cacheFrom`: images to use as a layer cache (`--cache-from`).
    pub cache_from: Option<OneOrMany>,
    /// Extra `docker build` flags (the common ones; see
    /// `container_options::build_options`).
    #[serde(default)]
    pub options: Vec<String>,
}

/// One entry of `mounts`: Docker's `--mount` string
/// (`source=…,target=…,type=bind|volume|tmpfs[,readonly]`) or the object form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MountEntry {
    /// `"source=data,target=/data,type=volume"`.
    Text(String),
    /// `{"source": "data", "target": "/data", "type": "volume"}`.
    Object {
        /// `bind`, `volume` or `tmpfs`.
        #[serde(rename = "type")]
        kind: String,
        /// Host path or volume name (none for tmpfs).
        source: Option<String>,
        /// Path in the container.
        target: String,
        /// Whether the mount is read-only.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        readonly: bool,
    },
}

/// `hostRequirements`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRequirements {
    /// Cores.
    pub cpus: Option<u32>,
    /// Memory, e.g. `"4gb"` (a number with `tb`, `gb`, `mb` or `kb`).
    pub memory: Option<String>,
    /// Disk space, the same way.
    pub storage: Option<String>,
    /// A GPU: `true`, `"optional"`, or an object.
    pub gpu: Option<serde_json::Value>,
}

/// One entry of `forwardPorts`: a port number or `"host:port"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortEntry {
    /// `3000`.
    Number(u16),
    /// `"db:5432"` (for a compose service) or `"localhost:3000"`.
    Text(String),
}

/// `appPort`: one port or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AppPort {
    /// `3000` or `"127.0.0.1:3000:3000"`.
    One(PortEntry),
    /// `[3000, "8080:80"]`.
    Many(Vec<PortEntry>),
}

/// Where a forwarded port leads, as the container sees it: `port` of the
/// container itself, or of another host it reaches (`host`, e.g. a compose
/// service: `forwardPorts`' `"db:5432"`). Shown as `5432` or `db:5432`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortTarget {
    /// The other host's name or address; `None` for the container itself.
    pub host: Option<String>,
    /// The TCP port, 1-65535.
    pub port: u16,
}

impl PortTarget {
    /// `port` of the container itself.
    pub fn local(port: u16) -> PortTarget {
        PortTarget { host: None, port }
    }

    /// `port` of `host`; `localhost` and `127.0.0.1` are the container itself.
    pub fn new(host: Option<String>, port: u16) -> PortTarget {
        let host = host.filter(|h| h != "localhost" && h != "127.0.0.1");
        PortTarget { host, port }
    }

    /// A `forwardPorts` string: `"3000"`, `"localhost:3000"` (the
    /// container's own) or `"db:5432"`; `None` when it names no port.
    pub fn parse(text: &str) -> Option<PortTarget> {
        match text.rsplit_once(':') {
            None => text.parse().ok().map(PortTarget::local),
            Some((host, p)) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                p.parse().ok().map(|port| PortTarget::new(Some(host.to_string()), port))
            }
            Some(_) => None,
        }
    }
}

impl std::fmt::Display for PortTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(h) => write!(f, "{h}:{}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

/// One value of `portsAttributes` (and `otherPortsAttributes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortAttributes {
    /// A name for the port shown to people.
    pub label: Option<String>,
    /// `http` or `https`.
    pub protocol: Option<String>,
    /// `notify`, `openBrowser`, `openPreview`, `silent` or `ignore`.
    pub on_auto_forward: Option<String>,
    /// Every other attribute, kept as written.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// One lifecycle command in the spec's three forms: a string run by `/bin/sh
/// -c`, an array run as argv without a shell, or an object whose values (each
/// a string or an array) run in parallel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LifecycleCommand {
    /// `"npm install"`.
    Shell(String),
    /// `["npm", "install"]`.
    Exec(Vec<String>),
    /// `{"server": "npm start", "db": ["mysql", "-u", "root"]}`.
    Parallel(BTreeMap<String, LifecycleCommand>),
}

impl LifecycleCommand {
    /// The commands to run, each as (label, argv), in parallel when more than one.
    pub fn argvs(&self) -> Vec<(Option<String>, Vec<String>)> {
        match self {
            LifecycleCommand::Shell(s) => vec![(None, vec!["/bin/sh".into(), "-c".into(), s.clone()])],
            LifecycleCommand::Exec(v) => vec![(None, v.clone())],
            LifecycleCommand::Parallel(m) => m
                .iter()
                .flat_map(|(k, c)| c.argvs().into_iter().map(move |(_, argv)| (Some(k.clone()), argv)))
                .collect(),
        }
    }
}

/// The lifecycle hooks run in the container, in the order the spec runs them.
pub const CONTAINER_HOOKS: [&str; 5] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
];

/// A property that takes one string or a list of them (`dockerComposeFile`,
/// `build.cacheFrom`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `"docker-compose.yml"`.
    One(String),
    /// `["docker-compose.yml", "docker-compose.extend.yml"]`.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(p) => vec![p.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A devcontainer.json, as far as Nexus reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevContainer {
    /// `name`.
    pub name: Option<String>,
    /// `image`: the image to run.
    pub image: Option<String>,
    /// `build`: the Dockerfile to build instead.
    pub build: Option<Build>,
    /// The older top-level `dockerFile` (same as `build.dockerfile`).
    pub docker_file: Option<String>,
    /// The older top-level `context` (same as `build.context`).
    pub context: Option<String>,
    /// `workspaceFolder`: where the worktree is mounted; `/workspaces/<repository name>` when absent.
    pub workspace_folder: Option<String>,
    /// `containerEnv`: environment of the container.
    #[serde(default)]
    pub container_env: BTreeMap<String, String>,
    /// `remoteEnv`: environment of sessions (SSH, exec, hooks); `null` unsets.
    #[serde(default)]
    pub remote_env: BTreeMap<String, Option<String>>,
    /// `containerUser`: the user processes in the container run as; also the
    /// default of `remoteUser`.
    pub container_user: Option<String>,
    /// `remoteUser`: the user SSH sessions, exec and hooks run as.
    pub remote_user: Option<String>,
    /// `updateRemoteUserUID`: give `remoteUser` the host user's UID/GID (default true).
    #[serde(rename = "updateRemoteUserUID")]
    pub update_remote_user_uid: Option<bool>,
    /// `onCreateCommand`.
    pub on_create_command: Option<LifecycleCommand>,
    /// `updateContentCommand`.
    pub update_content_command: Option<LifecycleCommand>,
    /// `postCreateCommand`.
    pub post_create_command: Option<LifecycleCommand>,
    /// `postStartCommand`.
    pub post_start_command: Option<LifecycleCommand>,
    /// `postAttachCommand`.
    pub post_attach_command: Option<LifecycleCommand>,
    /// `customizations`: tool-specific settings, kept for IDEs.
    pub customizations: Option<serde_json::Value>,
    /// `workspaceMount`: the mount (`--mount` syntax) replacing the default
    /// bind of the worktree at `workspaceFolder`.
    pub workspace_mount: Option<String>,
    /// `mounts`: more mounts, each a `--mount` string or an object.
    #[serde(default)]
    pub mounts: Vec<MountEntry>,
    /// `runArgs`: `docker run` flags (the common ones; see `container_options`).
    #[serde(default)]
    pub run_args: Vec<String>,
    /// `init`: run an init process (Docker's `--init`) as PID 1.
    pub init: Option<bool>,
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `capAdd`: Linux capabilities to add.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `securityOpt`: `--security-opt` values.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// `hostRequirements`: what the host should have (checked; a warning when less).
    pub host_requirements: Option<HostRequirements>,
    /// `forwardPorts`: container ports to forward to host ports (a number, or
    /// `"host:port"`).
    #[serde(default)]
    pub forward_ports: Vec<PortEntry>,
    /// `appPort`: ports to publish, one or a list (a number or `"[ip:]host:container"`).
    pub app_port: Option<AppPort>,
    /// `portsAttributes`: per port (`"3000"`, a range `"40000-55000"`, or a
    /// regular expression of the spec's) its `label`, `protocol`, … .
    #[serde(default)]
    pub ports_attributes: BTreeMap<String, PortAttributes>,
    /// `otherPortsAttributes`: the attributes of ports `portsAttributes`
    /// does not name.
    pub other_ports_attributes: Option<PortAttributes>,
    /// `features`: feature id (`./local-folder`, an OCI reference or a
    /// tarball URL) to its options (an object, a `version` string, or `true`).
    #[serde(default)]
    pub features: BTreeMap<String, serde_json::Value>,
    /// `overrideFeatureInstallOrder`: feature ids (without version) installed
    /// first, in this order.
    #[serde(default)]
    pub override_feature_install_order: Vec<String>,
    /// `overrideCommand`: `false` runs the image's own entrypoint and command
    /// (beside the agent); default true.
    pub override_command: Option<bool>,
    /// `shutdownAction`: `none` keeps the container running when the tool
    /// closes; `stopContainer` (the default) stops it.
    pub shutdown_action: Option<String>,
    /// `initializeCommand`: run on the host, in the worktree, before anything is made.
    pub initialize_command: Option<LifecycleCommand>,
    /// `waitFor`: the lifecycle hook `create` waits for; the later ones go
    /// on in the background.
    pub wait_for: Option<String>,
    /// `dockerComposeFile`: the compose file, or files merged in order,
    /// relative to devcontainer.json; set, the workspace is a compose project.
    pub docker_compose_file: Option<OneOrMany>,
    /// `service`: the compose service the workspace is (SSH lands in it).
    pub service: Option<String>,
    /// `runServices`: the services started; all of them when absent.
    pub run_services: Option<Vec<String>>,
    /// Every other property, kept as written.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl DevContainer {
    /// The lifecycle command of hook `name` (one of [`CONTAINER_HOOKS`]).
    pub fn hook(&self, name: &str) -> Option<&LifecycleCommand> {
        match name {
            "onCreateCommand" => self.on_create_command.as_ref(),
            "updateContentCommand" => self.update_content_command.as_ref(),
            "postCreateCommand" => self.post_create_command.as_ref(),
            "postStartCommand" => self.post_start_command.as_ref(),
            "postAttachCommand" => self.post_attach_command.as_ref(),
            _ => None,
        }
    }

    /// What `forwardPorts` and then `appPort` name, in order and without
    /// repeats; apart from them the entries that name no port. A
    /// `forwardPorts` `"host:port"` names a port of another host the
    /// container reaches (`"db:5432"`: a compose service's); `localhost`
    /// and `127.0.0.1` are the container's own. `appPort`'s
    /// `"[ip:]host:container"` gives the container port (Nexus picks the
    /// host port from its range).
    pub fn declared_ports(&self) -> (Vec<PortTarget>, Vec<String>) {
        let (mut ports, mut not_ports) = (Vec::new(), Vec::new());
        let app: Vec<&PortEntry> = match &self.app_port {
            Some(AppPort::One(p)) => vec![p],
            Some(AppPort::Many(v)) => v.iter().collect(),
            None => vec![],
        };
        let forwarded = self.forward_ports.iter().map(|p| (p, false));
        for (entry, is_app) in forwarded.chain(app.into_iter().map(|p| (p, true))) {
            let target = match entry {
                PortEntry::Number(n) => Some(PortTarget::local(*n)),
                PortEntry::Text(t) if is_app => {
                    t.rsplit(':').next().and_then(|p| p.parse().ok()).map(PortTarget::local)
                }
                PortEntry::Text(t) => PortTarget::parse(t),
            };
            match target.filter(|t| t.port != 0) {
                Some(t) if !ports.contains(&t) => ports.push(t),
                Some(_) => {}
                None => not_ports.push(match entry {
                    PortEntry::Number(n) => n.to_string(),
                    PortEntry::Text(t) => t.clone(),
                }),
            }
        }
        (ports, not_ports)
    }

    /// The `portsAttributes` of `target`: the entry naming it (`"db:5432"`
    /// for another host's port, else `"3000"`), else the first range
    /// (`"40000-55000"`) holding its port, else `otherPortsAttributes`.
    pub fn port_attributes(&self, target: &PortTarget) -> Option<&PortAttributes> {
        let port = target.port;
        let named = |key: String| self.ports_attributes.get(&key);
        target
            .host
            .as_ref()
            .and_then(|_| named(target.to_string()))
            .or_else(|| named(port.to_string()))
            .or_else(|| {
                self.ports_attributes.iter().find_map(|(k, a)| {
                    let (lo, hi) = k.split_once('-')?;
                    let (lo, hi) = (lo.trim().parse::<u16>().ok()?, hi.trim().parse::<u16>().ok()?);
                    (lo..=hi).contains(&port).then_some(a)
                })
            })
            .or(self.other_ports_attributes.as_ref())
    }

    /// The Dockerfile build, from `build` or the older `dockerFile`/`context`.
    pub fn dockerfile_build(&self) -> Option<Build> {
        let mut b = self.build.clone().unwrap_or_default();
        b.dockerfile = b.dockerfile.or_else(|| self.docker_file.clone());
        b.context = b.context.or_else(|| self.context.clone());
        b.dockerfile.is_some().then_some(b)
    }
}

/// A devcontainer.json found in a commit.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its path relative to the repository root (`.devcontainer/devcontainer.json`).
    pub path: String,
    /// The configuration, variables replaced.
    pub config: DevContainer,
    /// The file as written (variables not replaced): the source of its
    /// `devcontainer.metadata` entry.
    pub raw: serde_json::Value,
}

impl Loaded {
    /// The folder holding devcontainer.json, relative to the repository root
    /// (`""` for the root), which the spec's relative paths start from.
    pub fn folder(&self) -> &str {
        self.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
    }

    /// `path` (relative to devcontainer.json) relative to the repository root,
    /// `.` and `..` resolved. Errors when it leaves the repository.
    pub fn resolve(&self, path: &str) -> Result<String> {
        let mut parts: Vec<&str> = self.folder().split('/').filter(|p| !p.is_empty()).collect();
        for p in path.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(DevContainerError::invalid(
                            &self.path,
                            format!("{path:?} leads out of the repository: keep the build inside it"),
                        ));
                    }
                }
                p => parts.push(p),
            }
        }
        Ok(parts.join("/"))
    }
}

/// What `${...}` variables stand for (the spec's names).
#[derive(Debug, Clone)]
pub struct Variables {
    /// `${localWorkspaceFolder}`: the folder on the host that is mounted (the worktree).
    pub local_workspace_folder: String,
    /// `${containerWorkspaceFolder}`: where it is mounted in the container.
    pub container_workspace_folder: String,
    /// `${devcontainerId}`.
    pub devcontainer_id: String,
}

fn basename(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

/// `text` with the spec's variables replaced: `${localEnv:VAR}` and
/// `${localEnv:VAR:default}` (the daemon's environment; empty when unset and
/// no default), `${localWorkspaceFolder}`, `${localWorkspaceFolderBasename}`,
/// `${containerWorkspaceFolder}`, `${containerWorkspaceFolderBasename}`,
/// `${devcontainerId}`. `${containerEnv:VAR}` and unknown variables stay as
/// written (the former is only known inside the container).
pub fn substitute(text: &str, v: &Variables) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let value = match name {
            "localWorkspaceFolder" => Some(v.local_workspace_folder.clone()),
            "localWorkspaceFolderBasename" => Some(basename(&v.local_workspace_folder).to_string()),
            "containerWorkspaceFolder" => Some(v.container_workspace_folder.clone()),
            "containerWorkspaceFolderBasename" => Some(basename(&v.container_workspace_folder).to_string()),
            "devcontainerId" => Some(v.devcontainer_id.clone()),
            n => n
                .strip_prefix("localEnv:")
                .or_else(|| n.strip_prefix("env:"))
                .map(|spec| {
                    let (var, default) = spec.split_once(':').unwrap_or((spec, ""));
                    std::env::var(var).unwrap_or_else(|_| default.to_string())
                }),
        };
        match value {
            Some(val) => out.push_str(&val),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn substitute_all(value: &mut serde_json::Value, v: &Variables) {
    match value {
        serde_json::Value::String(s) => *s = substitute(s, v),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| substitute_all(x, v)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| substitute_all(x, v)),
        _ => {}
    }
}

/// `${devcontainerId}` as the spec's label-based computation gives it (and
/// `@devcontainers/cli` with its labels `devcontainer.local_folder` and
/// `devcontainer.config_file`): the SHA-256 of the labels as compact JSON
/// with sorted keys, as a base-32 number (digits `0-9a-v`) left-padded with
/// `0` to 52 characters.
pub fn devcontainer_id(labels: &BTreeMap<String, String>) -> String {
    use sha2::Digest;
    let json = serde_json::to_string(labels).unwrap_or_default();
    let hash = sha2::Sha256::digest(json.as_bytes());
    // 256 bits, five at a time from the least significant end
    let mut digits = Vec::with_capacity(52);
    for i in 0..52 {
        let mut d = 0u8;
        for b in 0..5 {
            let bit = i * 5 + b;
            if bit < 256 {
                let byte = hash[31 - bit / 8];
                d |= ((byte >> (bit % 8)) & 1) << b;
            }
        }
        digits.push(b"0123456789abcdefghijklmnopqrstuv"[d as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// JSON with comments and trailing commas, as VS Code reads it; nothing looser.
fn jsonc_options() -> jsonc_parser::ParseOptions {
    jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        ..Default::default()
    }
}

/// Parses devcontainer.json text found at `path`, variables replaced.
/// Errors: [`DevContainerError::Syntax`] with file, line and column; `Invalid` for a value of the wrong type.
pub fn parse(path: &str, text: &str, vars: &Variables) -> Result<DevContainer> {
    let opts = jsonc_options();
    // typed first, for the position of a wrong type; then as a value for the variables
    jsonc_parser::parse_to_serde_value::<DevContainer>(text, &opts).map_err(|e| DevContainerError::syntax(path, &e))?;
    let mut value: serde_json::Value =
        jsonc_parser::parse_to_serde_value(text, &opts).map_err(|e| DevContainerError::syntax(path, &e))?;
    if !value.is_object() {
        return Err(DevContainerError::invalid(
            path,
            "devcontainer.json must hold one JSON object",
        ));
    }
    substitute_all(&mut value, vars);
    serde_json::from_value(value).map_err(|e| DevContainerError::invalid(path, e.to_string()))
}

/// Parses devcontainer.json at `path` of a repository named `repo_name` for a
/// workspace whose worktree is `worktree`: `${localWorkspaceFolder}` is the worktree,
/// `${devcontainerId}` comes from the labels `@devcontainers/cli` uses
/// (`devcontainer.local_folder`, `devcontainer.config_file`), and
/// `${containerWorkspaceFolder}` is the file's own `workspaceFolder` when it
/// has one (`/` for a compose config, as the reference has it).
pub fn load(path: &str, text: &str, repo_name: &str, worktree: &std::path::Path) -> Result<Loaded> {
    let local = worktree.display().to_string();
    let labels = std::collections::BTreeMap::from([
        ("devcontainer.local_folder".to_string(), local.clone()),
        ("devcontainer.config_file".to_string(), format!("{local}/{path}")),
    ]);
    let mut vars = Variables {
        local_workspace_folder: local,
        container_workspace_folder: format!("/workspaces/{repo_name}"),
        devcontainer_id: devcontainer_id(&labels),
    };
    let mut config = parse(path, text, &vars)?;
    // a compose config's workspace folder is `/` unless it says otherwise
    let folder = match (&config.workspace_folder, &config.docker_compose_file) {
        (Some(folder), _) => Some(folder.clone()),
        (None, Some(_)) => Some("/".to_string()),
        (None, None) => None,
    };
    if let Some(folder) = folder {
        vars.container_workspace_folder = folder;
        config = parse(path, text, &vars)?;
    }
    let raw =
        jsonc_parser::parse_to_serde_value(text, &jsonc_options()).map_err(|e| DevContainerError::syntax(path, &e))?;
    Ok(Loaded {
        path: path.to_string(),
        config,
        raw,
    })
}

/// Finds devcontainer.json in a commit whose files `read` returns (by path
/// relative to the repository root; `None` when absent): `config` when
/// given, else the first of [`LOCATIONS`]. Gives (path, text); `None` when
/// there is none and none was asked for. Errors: `read`'s own, and
/// [`DevContainerError::NotInCommit`] for a `config` that is missing.
pub fn find<E: From<DevContainerError>>(
    read: impl Fn(&str) -> Result<Option<Vec<u8>>, E>,
    config: Option<&str>,
) -> Result<Option<(String, String)>, E> {
    let read =
        |path: &str| -> Result<Option<String>, E> { Ok(read(path)?.map(|b| String::from_utf8_lossy(&b).into_owned())) };
    if let Some(path) = config {
        let path = path.trim_start_matches("./").to_string();
        return match read(&path)? {
            Some(text) => Ok(Some((path, text))),
            None => Err(DevContainerError::NotInCommit { path }.into()),
        };
    }
    for path in LOCATIONS {
        if let Some(text) = read(path)? {
            return Ok(Some((path.to_string(), text)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        Variables {
            local_workspace_folder: "/home/u/repo/.worktree/feat".into(),
            container_workspace_folder: "/workspaces/repo".into(),
            devcontainer_id: "abc".into(),
        }
    }

    #[test]
    fn parses_jsonc_and_keeps_unknown_properties() {
        let text = r#"{
            // a comment
            "image": "debian:bookworm", /* another */
            "containerEnv": {"A": "1",},
            "postCreateCommand": {"one": "echo 1", "two": ["echo", "2"]},
            "onCreateCommand": ["touch", "x"],
            "someFutureProperty": {"x": 1},
        }"#;
        let c = parse("devcontainer.json", text, &vars()).expect("parses");
        assert_eq!(c.image.as_deref(), Some("debian:bookworm"));
        assert_eq!(c.container_env["A"], "1");
        assert_eq!(c.other["someFutureProperty"], serde_json::json!({"x": 1}));
        let post = c.post_create_command.expect("post");
        assert_eq!(
            post.argvs(),
            vec![
                (Some("one".into()), vec!["/bin/sh".into(), "-c".into(), "echo 1".into()]),
                (Some("two".into()), vec!["echo".into(), "2".into()]),
            ]
        );
        assert_eq!(c.on_create_command.expect("on").argvs()[0].1, vec!["touch", "x"]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse(
            ".devcontainer/devcontainer.json",
            "{\n  \"image\": \"x\",\n  oops\n}",
            &vars(),
        )
        .expect_err("bad");
        let m = e.to_string();
        assert!(m.starts_with(".devcontainer/devcontainer.json:3:"), "{m}");
        let e = parse("d.json", "{\n\"image\": 5}", &vars()).expect_err("wrong type");
        assert!(e.to_string().starts_with("d.json:2:"), "{e}");
    }

    #[test]
    fn replaces_variables() {
        // SAFETY: tests of this module read only this variable
        unsafe { std::env::set_var("NEXUS_DC_TEST_VAR", "val") };
        let v = vars();
        assert_eq!(
            substitute(
                "${localEnv:NEXUS_DC_TEST_VAR}-${localEnv:NEXUS_DC_UNSET:dflt}-${localEnv:NEXUS_DC_UNSET}-${localWorkspaceFolderBasename}-${containerWorkspaceFolder}-${devcontainerId}-${containerEnv:PATH}-${unknown}",
                &v
            ),
            "val-dflt--feat-/workspaces/repo-abc-${containerEnv:PATH}-${unknown}"
        );
    }

    #[test]
    fn devcontainer_id_matches_the_spec_computation() {
        // BigInt(sha256('{"devcontainer.config_file":"/r/.devcontainer/devcontainer.json","devcontainer.local_folder":"/r"}')).toString(32).padStart(52, '0'),
        // computed with Node for this test
        let labels = BTreeMap::from([
            ("devcontainer.local_folder".to_string(), "/r".to_string()),
            (
                "devcontainer.config_file".to_string(),
                "/r/.devcontainer/devcontainer.json".to_string(),
            ),
        ]);
        let id = devcontainer_id(&labels);
        assert_eq!(id.len(), 52);
        assert_eq!(id, "0ii9okkcpnbu6r670dbe0iqun2rgsp9chokkpu5l6r2su82uoiop");
    }

    #[test]
    fn declared_ports_and_their_attributes() {
        let c: DevContainer = serde_json::from_value(serde_json::json!({
            "forwardPorts": [3000, "localhost:5000", "db:5432", 3000, "x:y"],
            "appPort": ["127.0.0.1:8080:80", 9000],
            "portsAttributes": {"3000": {"label": "App", "protocol": "https"}, "5000-5999": {"label": "Range"},
                                "db:5432": {"label": "Database"}},
            "otherPortsAttributes": {"label": "Other"}
        }))
        .expect("config");
        let db = PortTarget {
            host: Some("db".into()),
            port: 5432,
        };
        let local = PortTarget::local;
        assert_eq!(
            c.declared_ports(),
            (
                vec![local(3000), local(5000), db.clone(), local(80), local(9000)],
                vec!["x:y".to_string()]
            )
        );
        assert_eq!(db.to_string(), "db:5432");
        let label = |t: &PortTarget| c.port_attributes(t).and_then(|a| a.label.clone());
        assert_eq!(label(&local(3000)).as_deref(), Some("App"));
        assert_eq!(label(&local(5001)).as_deref(), Some("Range"));
        assert_eq!(label(&db).as_deref(), Some("Database"));
        assert_eq!(label(&local(80)).as_deref(), Some("Other"));
        let one: DevContainer = serde_json::from_value(serde_json::json!({"appPort": 4000})).expect("config");
        assert_eq!(one.declared_ports().0, vec![local(4000)]);
        assert!(one.port_attributes(&local(4000)).is_none());
    }

    #[test]
    fn paths_resolve_against_the_config_folder() {
        let l = Loaded {
            path: ".devcontainer/devcontainer.json".into(),
            config: DevContainer::default(),
            raw: serde_json::json!({}),
        };
        assert_eq!(l.resolve("Dockerfile").expect("ok"), ".devcontainer/Dockerfile");
        assert_eq!(l.resolve("..").expect("ok"), "");
        assert_eq!(l.resolve("../docker/./Dockerfile").expect("ok"), "docker/Dockerfile");
        assert!(l.resolve("../..").is_err());
    }
}
