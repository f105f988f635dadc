//! devcontainer.json's container settings as Docker create options:
//! `workspaceMount`, `mounts` (Docker's `--mount` syntax or the object form),
//! `runArgs` (the common `docker run` flags; any other is an error that
//! names it), `init`, `privileged`, `capAdd`, `securityOpt`, and the
//! `hostRequirements` check (a warning, never an error, as the spec says);
//! and `build.options` (the common `docker build` flags) as image build
//! options.

use crate::config::{DevContainer, HostRequirements, MountEntry};
use crate::error::{DevContainerError, Result};
use std::collections::BTreeMap;

/// The `runArgs` flags Nexus understands, for the error naming another.
pub const RUN_ARGS: &str = "--cap-add, --security-opt, --privileged, --init, -e/--env, --network/--net, --add-host, -l/--label, -m/--memory, --cpus, -h/--hostname";

/// What devcontainer.json adds to a workspace's container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// `workspaceMount`, replacing the bind of the worktree when set.
    pub workspace_mount: Option<MountSpec>,
    /// `mounts`.
    pub mounts: Vec<MountSpec>,
    /// `capAdd` and `--cap-add`.
    pub cap_add: Vec<String>,
    /// `securityOpt` and `--security-opt`.
    pub security_opt: Vec<String>,
    /// `privileged` or `--privileged`.
    pub privileged: bool,
    /// `init` or `--init`.
    pub init: bool,
    /// `--network`.
    pub network: Option<String>,
    /// `--add-host` (`host:ip`).
    pub extra_hosts: Vec<String>,
    /// `--label`, as (name, value).
    pub labels: BTreeMap<String, String>,
    /// `-e`, as (name, value); applied after `containerEnv`.
    pub env: Vec<(String, String)>,
    /// `--memory`, in bytes.
    pub memory: Option<i64>,
    /// `--cpus`, in billionths of a CPU (Docker's `NanoCpus`).
    pub nano_cpus: Option<i64>,
    /// `--hostname`.
    pub hostname: Option<String>,
}

/// What kind of mount a [`MountSpec`] is (Docker's `type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named volume (made by Docker when missing).
    Volume,
    /// Memory.
    Tmpfs,
}

/// One mount of a container (Docker's `--mount`, devcontainer.json's `mounts` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Bind, volume or tmpfs.
    pub kind: MountKind,
    /// Host path (bind) or volume name; none for tmpfs (and anonymous volumes).
    pub source: Option<String>,
    /// Path in the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A size in bytes from Docker's notation (`512m`, `4g`, `1024`; `b`, `k`,
/// `m`, `g`, `t`, with an optional trailing `b`, any case) or the spec's
/// `hostRequirements` one (`4gb`).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty()).unwrap_or(&t);
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let n: f64 = digits.parse().ok()?;
    let scale = match unit {
        "" => 1u64,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    Some((n * scale as f64) as u64)
}

/// A `--mount` string (`type=…,source=…,target=…[,readonly]`).
pub fn parse_mount(path: &str, text: &str) -> Result<MountSpec> {
    let (mut kind, mut source, mut target, mut read_only) = (MountKind::Volume, None, None, false);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "type" => kind = mount_kind(path, value)?,
            "source" | "src" => source = Some(value.to_string()),
            "target" | "destination" | "dst" | "dest" => target = Some(value.to_string()),
            "readonly" | "ro" => read_only = !matches!(value, "false" | "0"),
            // a macOS-only hint Docker on Linux ignores
            "consistency" => {}
            other => {
                return Err(DevContainerError::invalid(
                    path,
                    format!("mount {text:?}: unknown option {other:?} (known: type, source, target, readonly)"),
                ));
            }
        }
    }
    let target = target.ok_or_else(|| DevContainerError::invalid(path, format!("mount {text:?} has no target=")))?;
    mount(path, kind, source, target, read_only)
}

fn mount_kind(path: &str, kind: &str) -> Result<MountKind> {
    match kind {
        "bind" => Ok(MountKind::Bind),
        "volume" => Ok(MountKind::Volume),
        "tmpfs" => Ok(MountKind::Tmpfs),
        other => Err(DevContainerError::invalid(
            path,
            format!("mount type {other:?} is not bind, volume or tmpfs"),
        )),
    }
}

fn mount(path: &str, kind: MountKind, source: Option<String>, target: String, read_only: bool) -> Result<MountSpec> {
    if !target.starts_with('/') {
        return Err(DevContainerError::invalid(
            path,
            format!("mount target {target:?} is not an absolute path"),
        ));
    }
    match (&kind, &source) {
        (MountKind::Bind, Some(s)) if !s.starts_with('/') => {
            return Err(DevContainerError::invalid(
                path,
                format!(
                    "bind mount source {s:?} is not an absolute path: use ${{localWorkspaceFolder}}/… or a full path"
                ),
            ));
        }
        (MountKind::Bind, None) => {
            return Err(DevContainerError::invalid(
                path,
                format!("bind mount of {target} has no source="),
            ));
        }
        _ => {}
    }
    Ok(MountSpec {
        kind,
        source,
        target,
        read_only,
    })
}

/// The flags of a devcontainer.json property that holds command-line
/// flags (`runArgs`, `build.options`), read one at a time.
struct Flags<'a> {
    path: &'a str,
    property: &'a str,
    args: &'a [String],
    i: usize,
}

impl<'a> Flags<'a> {
    fn new(path: &'a str, property: &'a str, args: &'a [String]) -> Self {
        Flags {
            path,
            property,
            args,
            i: 0,
        }
    }

    /// The next flag, split from an inline `=value` when it is a long one.
    fn next_flag(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let arg = self.args.get(self.i)?.as_str();
        self.i += 1;
        Some(match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        })
    }

    /// The value of `flag` (`--flag=value` or `--flag value`).
    fn value(&mut self, flag: &str, inline: Option<&str>) -> Result<String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        let v = self.args.get(self.i).cloned();
        self.i += 1;
        v.ok_or_else(|| self.invalid(format!("{flag} needs a value")))
    }

    /// A boolean flag: `--flag`, `--flag=true`, `--flag=false`.
    fn switch(&self, flag: &str, inline: Option<&str>) -> Result<bool> {
        match inline {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(self.invalid(format!("{flag}={v}: the value is not true or false"))),
        }
    }

    /// `NAME=value`, or `NAME` alone for the host's value of NAME (none
    /// when the host has no NAME), as docker's `-e` and `--build-arg` take it.
    fn assignment(&mut self, flag: &str, inline: Option<&str>) -> Result<Option<(String, String)>> {
        let v = self.value(flag, inline)?;
        Ok(match v.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(&v).ok().map(|host| (v, host)),
        })
    }

    /// A `label=value` (the value may be absent).
    fn label(&mut self, flag: &str, inline: Option<&str>) -> Result<(String, String)> {
        let v = self.value(flag, inline)?;
        let (k, v) = v.split_once('=').unwrap_or((v.as_str(), ""));
        Ok((k.to_string(), v.to_string()))
    }

    fn invalid(&self, what: String) -> DevContainerError {
        DevContainerError::invalid(self.path, format!("{}: {what}", self.property))
    }

    /// The error for a flag Nexus does not take; `supported` lists those it does.
    fn unsupported(&self, flag: &str, supported: &str) -> DevContainerError {
        self.invalid(format!(
            "{flag} is not supported by Nexus (supported: {supported}); remove it or use the devcontainer.json property instead"
        ))
    }
}

/// `runArgs` into `o`.
fn apply_run_args(path: &str, args: &[String], o: &mut RunOptions) -> Result<()> {
    let mut f = Flags::new(path, "runArgs", args);
    while let Some((flag, inline)) = f.next_flag() {
        match flag {
            "--cap-add" => o.cap_add.push(f.value(flag, inline)?),
            "--security-opt" => o.security_opt.push(f.value(flag, inline)?),
            "--privileged" => o.privileged = true,
            "--init" => o.init = true,
            "-e" | "--env" => o.env.extend(f.assignment(flag, inline)?),
            "--network" | "--net" => {
                let v = f.value(flag, inline)?;
                if v == "host" || v == "none" {
                    return Err(f.invalid(format!(
                        "--network {v} leaves no port for the workspace's SSH server to be published on: use a bridge network"
                    )));
                }
                o.network = Some(v);
            }
            "--add-host" => o.extra_hosts.push(f.value(flag, inline)?),
            "-l" | "--label" => {
                let (k, v) = f.label(flag, inline)?;
                o.labels.insert(k, v);
            }
            "-m" | "--memory" => {
                let v = f.value(flag, inline)?;
                let bytes = parse_bytes(&v)
                    .ok_or_else(|| f.invalid(format!("--memory {v:?} is not a size such as 512m or 4g")))?;
                o.memory = Some(bytes as i64);
            }
            "--cpus" => {
                let v = f.value(flag, inline)?;
                let cpus: f64 = v
                    .parse()
                    .ok()
                    .filter(|c: &f64| *c > 0.0)
                    .ok_or_else(|| f.invalid(format!("--cpus {v:?} is not a positive number")))?;
                o.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "-h" | "--hostname" => o.hostname = Some(f.value(flag, inline)?),
            other => return Err(f.unsupported(other, RUN_ARGS)),
        }
    }
    Ok(())
}

/// The `build.options` flags Nexus understands, for the error naming another.
pub const BUILD_OPTIONS: &str = "--build-arg, --target, -l/--label, --network, --add-host, --platform, --pull, --no-cache, --cache-from, --progress";

/// What `build.options` (`docker build` flags) asks of an image build.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildOptions {
    /// `--build-arg`, as (name, value), in order; applied after `build.args`.
    pub args: Vec<(String, String)>,
    /// `--target`; it replaces `build.target`.
    pub target: Option<String>,
    /// `--label`, as (name, value).
    pub labels: BTreeMap<String, String>,
    /// `--network`: the network mode of `RUN` steps (`host`, `none`, a network).
    pub network: Option<String>,
    /// `--add-host` (`host:ip`); one at most, as the Docker API's build
    /// call takes one.
    pub extra_hosts: Vec<String>,
    /// `--platform` (`os[/arch[/variant]]`).
    pub platform: Option<String>,
    /// `--pull`: pull a newer base image even when one is present.
    pub pull: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--cache-from`: images to use as a layer cache.
    pub cache_from: Vec<String>,
}

/// `build.options` of devcontainer.json at `path`: the `docker build`
/// flags the reference implementation passes on, as the Docker API takes
/// them. `--progress` only shapes the CLI's output and is accepted without
/// effect.
///
/// Errors: [`DevContainerError::Invalid`] naming a flag Nexus does not take, or one
/// without its value.
pub fn build_options(path: &str, options: &[String]) -> Result<BuildOptions> {
    let mut o = BuildOptions::default();
    let mut f = Flags::new(path, "build.options", options);
    while let Some((flag, inline)) = f.next_flag() {
        match flag {
            "--build-arg" => o.args.extend(f.assignment(flag, inline)?),
            "--target" => o.target = Some(f.value(flag, inline)?),
            "-l" | "--label" => {
                let (k, v) = f.label(flag, inline)?;
                o.labels.insert(k, v);
            }
            "--network" => o.network = Some(f.value(flag, inline)?),
            "--add-host" => {
                let v = f.value(flag, inline)?;
                if let Some(first) = o.extra_hosts.first() {
                    return Err(f.invalid(format!(
                        "--add-host {v} after --add-host {first}: the Docker API's build call takes one host; keep one, and add the others in the Dockerfile or with runArgs' --add-host"
                    )));
                }
                o.extra_hosts.push(v);
            }
            "--platform" => o.platform = Some(f.value(flag, inline)?),
            "--pull" => o.pull = f.switch(flag, inline)?,
            "--no-cache" => o.no_cache = f.switch(flag, inline)?,
            "--cache-from" => o.cache_from.push(f.value(flag, inline)?),
            "--progress" => {
                f.value(flag, inline)?;
            }
            other => return Err(f.unsupported(other, BUILD_OPTIONS)),
        }
    }
    Ok(o)
}

/// The container options of devcontainer.json `c` at `path`.
///
/// Errors: [`DevContainerError::Invalid`] naming the mount or `runArgs` flag that cannot be.
pub fn run_options(path: &str, c: &DevContainer) -> Result<RunOptions> {
    let mut o = RunOptions {
        workspace_mount: c.workspace_mount.as_deref().map(|m| parse_mount(path, m)).transpose()?,
        cap_add: c.cap_add.clone(),
        security_opt: c.security_opt.clone(),
        privileged: c.privileged.unwrap_or(false),
        init: c.init.unwrap_or(false),
        ..Default::default()
    };
    if o.workspace_mount.is_some() && c.workspace_folder.is_none() {
        return Err(DevContainerError::invalid(
            path,
            "workspaceMount is set without workspaceFolder: set workspaceFolder to where it mounts the source",
        ));
    }
    for m in &c.mounts {
        o.mounts.push(match m {
            MountEntry::Text(t) => parse_mount(path, t)?,
            MountEntry::Object {
                kind,
                source,
                target,
                readonly,
            } => mount(path, mount_kind(path, kind)?, source.clone(), target.clone(), *readonly)?,
        });
    }
    apply_run_args(path, &c.run_args, &mut o)?;
    Ok(o)
}

/// What the host has, for [`host_warnings`].
#[derive(Debug, Clone, Copy)]
pub struct HostResources {
    /// Cores.
    pub cpus: u64,
    /// Memory, in bytes.
    pub memory: u64,
    /// Free disk space where Docker keeps its data, in bytes.
    pub storage: u64,
}

/// The spec's `hostRequirements` the host falls short of, one sentence
/// each (the spec makes them a warning, not an error).
pub fn host_warnings(req: &HostRequirements, host: HostResources) -> Vec<String> {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let mut out = Vec::new();
    if let Some(cpus) = req.cpus
        && u64::from(cpus) > host.cpus
    {
        out.push(format!("hostRequirements.cpus is {cpus}, this host has {}", host.cpus));
    }
    if let Some(want) = req.memory.as_deref().and_then(parse_bytes)
        && want > host.memory
    {
        out.push(format!(
            "hostRequirements.memory is {:.1} GiB, this host has {:.1} GiB",
            gib(want),
            gib(host.memory)
        ));
    }
    if let Some(want) = req.storage.as_deref().and_then(parse_bytes)
        && want > host.storage
    {
        out.push(format!(
            "hostRequirements.storage is {:.1} GiB, {:.1} GiB are free",
            gib(want),
            gib(host.storage)
        ));
    }
    if matches!(req.gpu, Some(serde_json::Value::Bool(true))) {
        out.push("hostRequirements.gpu is required, and Nexus passes no GPU to workspaces".into());
    }
    out
}

/// A setting of a container configuration that acts on the host running
/// the container (or reaches past its own container): what a shared
/// server's owner may refuse. `property` is the devcontainer.json property
/// (or compose key) that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEffect {
    /// `initializeCommand`, `mounts`, `workspaceMount`, `privileged`,
    /// `capAdd`, `securityOpt`, `runArgs`; for compose files the service's
    /// key (`privileged`, `cap_add`, `security_opt`, `volumes`, `devices`,
    /// `pid`, `ipc`, `network_mode`, `userns_mode`, `cgroup_parent`).
    pub property: &'static str,
    /// What exactly, e.g. the host path of a bind mount.
    pub detail: String,
}

/// Whether host path `path` is `root` or inside it (both absolute, compared
/// as written after `..` is resolved).
pub fn within(path: &str, root: &str) -> bool {
    fn clean(p: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for part in p.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                x => out.push(x),
            }
        }
        out
    }
    let (p, r) = (clean(path), clean(root));
    path.starts_with('/') && p.len() >= r.len() && p[..r.len()] == r[..]
}

/// What of `o` (a devcontainer.json's run options, features merged) and of
/// `initialize_command` acts on the host, for a workspace whose worktree is
/// `worktree`: `initializeCommand` (it runs on the host), bind mounts and a
/// `workspaceMount` of host paths outside the worktree, `privileged`,
/// `capAdd`, `securityOpt` and a `runArgs` network (joining another Docker
/// network). Named volumes, tmpfs and binds inside the worktree act on
/// nothing else.
pub fn host_effects(o: &RunOptions, initialize_command: bool, worktree: &str) -> Vec<HostEffect> {
    let mut out = Vec::new();
    let effect = |property, detail: String| HostEffect { property, detail };
    if initialize_command {
        out.push(effect("initializeCommand", "runs a command on the host".into()));
    }
    let outside = |m: &MountSpec| m.kind == MountKind::Bind && m.source.as_deref().is_none_or(|s| !within(s, worktree));
    if let Some(m) = o.workspace_mount.as_ref().filter(|m| outside(m)) {
        out.push(effect(
            "workspaceMount",
            format!("binds host path {}", m.source.as_deref().unwrap_or("?")),
        ));
    }
    for m in o.mounts.iter().filter(|m| outside(m)) {
        out.push(effect(
            "mounts",
            format!("binds host path {}", m.source.as_deref().unwrap_or("?")),
        ));
    }
    if o.privileged {
        out.push(effect("privileged", "a privileged container".into()));
    }
    if !o.cap_add.is_empty() {
        out.push(effect("capAdd", o.cap_add.join(", ")));
    }
    if !o.security_opt.is_empty() {
        out.push(effect("securityOpt", o.security_opt.join(", ")));
    }
    if let Some(n) = &o.network {
        out.push(effect("runArgs", format!("--network {n}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> DevContainer {
        serde_json::from_value(json).expect("config")
    }

    #[test]
    fn sizes_in_docker_and_spec_notation() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("4gb"), Some(4 << 30));
        assert_eq!(parse_bytes("4G"), Some(4 << 30));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("4x"), None);
    }

    #[test]
    fn mounts_in_both_forms() {
        let c = config(serde_json::json!({
            "workspaceFolder": "/src",
            "workspaceMount": "source=/home/ana/app,target=/src,type=bind,consistency=cached",
            "mounts": [
                "source=cache,target=/cache,type=volume",
                {"type": "bind", "source": "/etc/hosts", "target": "/host-hosts", "readonly": true},
                "type=tmpfs,target=/scratch"
            ]
        }));
        let o = run_options("d.json", &c).expect("options");
        let ws = o.workspace_mount.expect("workspaceMount");
        assert_eq!(
            (ws.kind, ws.source.as_deref(), ws.target.as_str()),
            (MountKind::Bind, Some("/home/ana/app"), "/src")
        );
        assert_eq!(o.mounts.len(), 3);
        assert_eq!(
            (o.mounts[0].kind, o.mounts[0].source.as_deref()),
            (MountKind::Volume, Some("cache"))
        );
        assert!(o.mounts[1].read_only);
        assert_eq!(
            (o.mounts[2].kind, o.mounts[2].target.as_str()),
            (MountKind::Tmpfs, "/scratch")
        );
        for (bad, says) in [
            (serde_json::json!({"mounts": ["source=x,type=volume"]}), "no target"),
            (
                serde_json::json!({"mounts": ["source=rel,target=/x,type=bind"]}),
                "not an absolute path",
            ),
            (serde_json::json!({"mounts": ["target=/x,type=nfs"]}), "nfs"),
            (serde_json::json!({"mounts": ["target=/x,bogus=1"]}), "bogus"),
            (
                serde_json::json!({"workspaceMount": "source=/a,target=/b,type=bind"}),
                "workspaceFolder",
            ),
        ] {
            let e = run_options("d.json", &config(bad.clone()))
                .expect_err(&bad.to_string())
                .to_string();
            assert!(e.starts_with("d.json: ") && e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn run_args_in_both_spellings_and_unknown_ones_named() {
        let c = config(serde_json::json!({
            "capAdd": ["SYS_PTRACE"],
            "runArgs": ["--cap-add=NET_ADMIN", "--security-opt", "seccomp=unconfined", "-e", "A=1",
                        "--env=B=2=3", "--label", "team=web", "--memory=512m", "--cpus", "1.5",
                        "--add-host=db:10.0.0.2", "--network", "devnet", "--privileged", "--init"]
        }));
        let o = run_options("d.json", &c).expect("options");
        assert_eq!(o.cap_add, ["SYS_PTRACE", "NET_ADMIN"]);
        assert_eq!(o.security_opt, ["seccomp=unconfined"]);
        assert_eq!(o.env, [("A".into(), "1".into()), ("B".into(), "2=3".into())]);
        assert_eq!(o.labels.get("team").map(String::as_str), Some("web"));
        assert_eq!((o.memory, o.nano_cpus), (Some(512 << 20), Some(1_500_000_000)));
        assert_eq!(o.extra_hosts, ["db:10.0.0.2"]);
        assert_eq!(o.network.as_deref(), Some("devnet"));
        assert!(o.privileged && o.init);
        for (args, says) in [
            (vec!["--device", "/dev/fuse"], "--device is not supported"),
            (vec!["--cap-add"], "--cap-add needs a value"),
            (vec!["--network=host"], "--network host"),
            (vec!["--memory", "lots"], "--memory \"lots\""),
        ] {
            let e = run_options("d.json", &config(serde_json::json!({"runArgs": args})))
                .expect_err(says)
                .to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn build_options_in_both_spellings_and_unknown_ones_named() {
        let opts: Vec<String> = [
            "--build-arg=A=1",
            "--build-arg",
            "B=2=3",
            "--target",
            "dev",
            "-l",
            "team=web",
            "--network=none",
            "--add-host",
            "db:10.0.0.2",
            "--platform=linux/amd64",
            "--pull",
            "--no-cache=false",
            "--cache-from",
            "cache:1",
            "--progress=plain",
        ]
        .map(String::from)
        .to_vec();
        let o = build_options("d.json", &opts).expect("options");
        assert_eq!(o.args, [("A".into(), "1".into()), ("B".into(), "2=3".into())]);
        assert_eq!(o.target.as_deref(), Some("dev"));
        assert_eq!(o.labels.get("team").map(String::as_str), Some("web"));
        assert_eq!(o.network.as_deref(), Some("none"));
        assert_eq!(o.extra_hosts, ["db:10.0.0.2"]);
        assert_eq!(o.platform.as_deref(), Some("linux/amd64"));
        assert!(o.pull && !o.no_cache);
        assert_eq!(o.cache_from, ["cache:1"]);
        for (args, says) in [
            (vec!["--secret", "id=x"], "build.options: --secret is not supported"),
            (vec!["--target"], "build.options: --target needs a value"),
            (vec!["--pull=maybe"], "--pull=maybe"),
            (vec!["--add-host=a:1.1.1.1", "--add-host=b:2.2.2.2"], "takes one host"),
        ] {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let e = build_options("d.json", &args).expect_err(says).to_string();
            assert!(e.starts_with("d.json: ") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn host_requirements_warn_when_the_host_has_less() {
        let host = HostResources {
            cpus: 2,
            memory: 8 << 30,
            storage: 100 << 30,
        };
        let req: HostRequirements =
            serde_json::from_value(serde_json::json!({"cpus": 4, "memory": "16gb", "storage": "32gb"})).expect("req");
        let w = host_warnings(&req, host);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("cpus is 4, this host has 2"), "{w:?}");
        assert!(w[1].contains("memory is 16.0 GiB, this host has 8.0 GiB"), "{w:?}");
        let enough: HostRequirements =
            serde_json::from_value(serde_json::json!({"cpus": 2, "memory": "4gb"})).expect("req");
        assert!(host_warnings(&enough, host).is_empty());
    }
}

#[cfg(test)]
mod host_effect_tests {
    use super::*;

    fn options(json: &str) -> RunOptions {
        let c: DevContainer = serde_json::from_str(json).expect("config");
        run_options("devcontainer.json", &c).expect("options")
    }

    #[test]
    fn host_effects_name_each_property_and_spare_the_worktree() {
        let wt = "/src/app/.worktree/a";
        let o = options(
            r#"{"image": "x", "workspaceFolder": "/w", "workspaceMount": "type=bind,source=/etc,target=/w",
                "mounts": ["type=bind,source=/var/run/docker.sock,target=/s", "type=bind,source=/src/app/.worktree/a/sub,target=/t",
                           "type=volume,source=cache,target=/c"],
                "privileged": true, "capAdd": ["SYS_PTRACE"], "securityOpt": ["seccomp=unconfined"],
                "runArgs": ["--network", "other"]}"#,
        );
        let got: Vec<&str> = host_effects(&o, true, wt).iter().map(|e| e.property).collect();
        assert_eq!(
            got,
            [
                "initializeCommand",
                "workspaceMount",
                "mounts",
                "privileged",
                "capAdd",
                "securityOpt",
                "runArgs"
            ]
        );
        assert!(host_effects(&options(r#"{"image": "x"}"#), false, wt).is_empty());
        assert!(!within("/src/app/.worktree/a/../../../etc", wt));
        assert!(within("/src/app/.worktree/a/./x", wt));
    }
}
