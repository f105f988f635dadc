//! Docker inside a workspace (`--docker proxy|dind`): what its container
//! gets (the proxy's socket directory and `DOCKER_HOST`; or privileged mode
//! and the dind volume), what runs once it answers SSH (the
//! `/var/run/docker.sock` link; or `dockerd` on a Unix socket), and what
//! goes with it (its proxy's children; the dind volume).

use super::*;
use crate::runtime::docker_proxy::{self, CONTAINER_DIR, CONTAINER_SOCKET, LABEL_PARENT, Scope};
use nexus_devcontainer::container_options::{MountKind, MountSpec, RunOptions};
use nexus_sdk::DockerMode;

/// Where `dind` keeps the inner engine's state in the container.
const DIND_STATE: &str = "/var/lib/docker";

/// The named volume holding a `dind` workspace's inner engine state.
fn dind_volume(r: &WorkspaceRecord) -> String {
    format!("nexus-dind-{}", r.id)
}

/// Starts `dockerd` listening on its Unix socket only (no `--host tcp://`:
/// an engine on TCP 2375 without TLS is root on the host for anyone who
/// reaches it), unless one already runs (its pid file's process is a
/// dockerd: after a restart the pid may be another's); waits up to 30 s for the socket.
/// Exit 3: the image has no dockerd; 4: it did not come up (its log's end
/// on stderr).
const START_DOCKERD: &str = r#"command -v dockerd >/dev/null 2>&1 || exit 3
pid="$(cat /var/run/docker.pid 2>/dev/null)"
if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then exit 0; fi
# a restarted container keeps the last run's pid files, whose pids are now others'
rm -f /var/run/docker.pid /var/run/docker.sock /var/run/docker/containerd/containerd.pid
setsid dockerd --host=unix:///var/run/docker.sock </dev/null >/var/log/dockerd.log 2>&1 &
i=0
while [ ! -S /var/run/docker.sock ]; do
  i=$((i+1))
  if [ $i -gt 300 ] || ! kill -0 $! 2>/dev/null; then tail -n 20 /var/log/dockerd.log >&2; exit 4; fi
  sleep 0.1
done
"#;

/// Links `/var/run/docker.sock` to the proxy's socket, for tools that do
/// not read `DOCKER_HOST`, unless the image has a socket there of its own.
const LINK_PROXY_SOCKET: &str = r#"[ -S /var/run/docker.sock ] && [ ! -L /var/run/docker.sock ] && exit 0
mkdir -p /var/run && ln -sfn "$1" /var/run/docker.sock
"#;

/// Linux capabilities by number (capability(7), `CAP_` dropped), as Docker's
/// `--cap-add` names them: those up to `AUDIT_READ`, which every engine
/// since 20.10 knows (it refuses a name it does not know).
const CAPABILITIES: [&str; 38] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
];

/// The capabilities this host grants and withholds, by name, when it
/// withholds any of those the kernel has (`/proc/sys/kernel/cap_last_cap`)
/// from this process's bounding set (`CapBnd` of `/proc/self/status`);
/// `None` when it grants them all, or cannot be read.
fn withheld_capabilities() -> Option<(Vec<String>, Vec<String>)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let bounding = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?.trim();
    let bounding = u64::from_str_radix(bounding, 16).ok()?;
    let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    capabilities_split(bounding, last)
}

/// [`withheld_capabilities`] of bounding set `bounding` on a kernel whose last capability is `last`.
fn capabilities_split(bounding: u64, last: usize) -> Option<(Vec<String>, Vec<String>)> {
    let (mut granted, mut withheld) = (Vec::new(), Vec::new());
    for bit in 0..=last.min(63) {
        let name = CAPABILITIES.get(bit).map(|n| n.to_string());
        match (bounding & (1 << bit) != 0, name) {
            (true, Some(name)) => granted.push(name),
            (true, None) => {}
            (false, name) => withheld.push(name.unwrap_or_else(|| format!("capability {bit}"))),
        }
    }
    (!withheld.is_empty()).then_some((granted, withheld))
}

impl Manager {
    /// The Docker of a new workspace: `asked`, else devcontainer.json's
    /// `customizations.nexus.docker`. Errors: `InvalidConfig` for a value
    /// there that is no mode; `InvalidParams` with a compose config, or a
    /// proxy when the engine is not on a Unix socket.
    pub(super) fn docker_of_new(
        &self,
        asked: Option<DockerMode>,
        loaded: Option<&Loaded>,
    ) -> Result<Option<DockerMode>> {
        let configured = loaded
            .and_then(|l| l.config.customizations.as_ref())
            .and_then(|c| c.get("nexus")?.get("docker"))
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("{v} is no Docker mode: use \"proxy\" or \"dind\""))
                    .and_then(DockerMode::parse)
                    .map_err(|m| WorkspaceError::InvalidConfig(format!("customizations.nexus.docker: {m}")))
            })
            .transpose()?;
        let mode = asked.or(configured);
        if mode.is_some() && loaded.is_some_and(|l| l.config.docker_compose_file.is_some()) {
            return Err(WorkspaceError::InvalidParams(
                "--docker is not available with a compose config yet: add a docker service to the compose file".into(),
            ));
        }
        if mode == Some(DockerMode::Proxy) {
            docker_proxy::engine_socket().map_err(WorkspaceError::InvalidParams)?;
        }
        Ok(mode)
    }

    /// Serves workspace `r`'s Docker proxy (when it has one) on the socket
    /// its container mounts.
    pub(super) fn serve_docker_proxy(&self, r: &WorkspaceRecord) -> Result<()> {
        if r.docker != Some(DockerMode::Proxy) {
            return Ok(());
        }
        let worktree = std::path::Path::new(&r.worktree);
        let scope = Scope {
            workspace_id: r.id.clone(),
            worktree: worktree
                .canonicalize()
                .map_err(WorkspaceError::io(format!("reading {}", worktree.display())))?,
            workspace_folder: r.workspace_folder.clone(),
        };
        let dir = docker_proxy::socket_dir(&self.config.data_dir, &r.id);
        self.docker_proxies.serve(&dir, scope).map_err(WorkspaceError::Internal)
    }

    /// Serves the Docker proxies of every workspace that has one (at the daemon's start).
    pub fn serve_docker_proxies(&self) {
        for r in self.store.list().unwrap_or_default() {
            if r.state != WorkspaceState::Removing
                && let Err(e) = self.serve_docker_proxy(&r)
            {
                tracing::error!(workspace = %r.name, "cannot serve its Docker proxy: {e}");
            }
        }
    }

    /// What workspace `r`'s container gets for its Docker: for a proxy, its
    /// socket directory (served now) and `DOCKER_HOST`; for dind,
    /// privileged mode and the state volume. Where the engine cannot grant
    /// every capability (its bounding set, which this daemon shares, lacks
    /// some: a sandboxed host), privileged mode cannot start, and dind gets
    /// the capabilities there are, the cgroup tree writable, and returns
    /// true: the container is to be unconfined
    /// ([`crate::runtime::docker::ContainerSpec::unconfined`]).
    pub(super) fn docker_container_options(
        &self,
        r: &WorkspaceRecord,
        options: &mut RunOptions,
        binds: &mut Vec<(String, String)>,
        env: &mut Vec<(String, String)>,
    ) -> Result<bool> {
        match r.docker {
            None => {}
            Some(DockerMode::Proxy) => {
                self.serve_docker_proxy(r)?;
                let dir = docker_proxy::socket_dir(&self.config.data_dir, &r.id);
                binds.push((dir.display().to_string(), CONTAINER_DIR.to_string()));
                env.push(("DOCKER_HOST".into(), format!("unix://{CONTAINER_SOCKET}")));
            }
            Some(DockerMode::Dind) => {
                options.mounts.push(MountSpec {
                    kind: MountKind::Volume,
                    source: Some(dind_volume(r)),
                    target: DIND_STATE.into(),
                    read_only: false,
                });
                match withheld_capabilities() {
                    None => options.privileged = true,
                    Some((granted, withheld)) => {
                        tracing::warn!(
                            workspace = %r.name,
                            "this host withholds capabilities {withheld:?}: dind runs unconfined with the others instead of --privileged"
                        );
                        options.cap_add = granted;
                        binds.push(("/sys/fs/cgroup".into(), "/sys/fs/cgroup".into()));
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Once workspace `r` answers SSH: links `/var/run/docker.sock` to its
    /// proxy, or starts its `dockerd`. Errors: `InvalidConfig` when a dind
    /// image has no dockerd; `Internal` with dockerd's log when it does not
    /// come up.
    pub(super) async fn docker_ready(&self, r: &WorkspaceRecord) -> Result<()> {
        let Some(mode) = r.docker else { return Ok(()) };
        let (script, step) = match mode {
            DockerMode::Proxy => (LINK_PROXY_SOCKET, "linking /var/run/docker.sock to the Docker proxy"),
            DockerMode::Dind => (START_DOCKERD, "starting dockerd (on /var/run/docker.sock only)"),
        };
        self.events.progress(&r.name, Step::Start, step);
        let p = ExecParams {
            workspace: r.name.clone(),
            command: ["/bin/sh", "-c", script, "-", CONTAINER_SOCKET]
                .map(String::from)
                .to_vec(),
            cwd: Some("/".into()),
            user: Some("root".into()),
            ..Default::default()
        };
        let out = self.exec_to_end(&prepare_exec_for(r, &p)?).await?;
        match (mode, out.exit_code) {
            (_, 0) => Ok(()),
            (DockerMode::Proxy, code) => {
                // DOCKER_HOST still names the proxy
                tracing::warn!(workspace = %r.name, "cannot link /var/run/docker.sock (exit {code}): {}", out.stderr.trim());
                Ok(())
            }
            (DockerMode::Dind, 3) => Err(WorkspaceError::InvalidConfig(format!(
                "--docker dind runs the image's own dockerd, and image {} has none: add the feature ghcr.io/devcontainers/features/docker-in-docker:2 to devcontainer.json (or install docker.io in the image), or use --docker proxy",
                r.image
            ))),
            (DockerMode::Dind, code) => Err(WorkspaceError::Internal(format!(
                "dockerd did not start (exit {code}); the end of /var/log/dockerd.log:\n{}",
                out.stderr.trim_end()
            ))),
        }
    }

    /// What workspace `r`'s Docker leaves (it is being removed): its
    /// proxy, the containers, networks and volumes made through it, the
    /// dind volume. Faults are logged.
    pub(super) async fn docker_forget(&self, r: &WorkspaceRecord) {
        match r.docker {
            None => {}
            Some(DockerMode::Proxy) => {
                self.docker_proxies.stop(&self.config.data_dir, &r.id);
                if let Err(e) = self.runtime.remove_labelled(&format!("{LABEL_PARENT}={}", r.id)).await {
                    tracing::warn!(workspace = %r.name, "cannot remove what its Docker proxy made: {e}");
                }
            }
            Some(DockerMode::Dind) => {
                if let Err(e) = self.runtime.remove_volume(&dind_volume(r)).await {
                    tracing::warn!(workspace = %r.name, "cannot remove volume {}: {e}", dind_volume(r));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::capabilities_split;

    #[test]
    fn a_full_bounding_set_withholds_nothing_and_a_missing_bit_is_named() {
        assert_eq!(capabilities_split(0x1ff_ffff_ffff, 40), None);
        // bit 24 missing (a sandbox without CAP_SYS_RESOURCE)
        let (granted, withheld) = capabilities_split(0x1ff_feff_ffff, 40).unwrap_or_default();
        assert_eq!(withheld, ["SYS_RESOURCE"]);
        assert_eq!(granted.len(), 37);
        assert!(granted.contains(&"SYS_ADMIN".to_string()));
        // an older kernel: capabilities past its last one are not asked for
        assert_eq!(capabilities_split(0x3f_ffff_ffff, 37), None);
        assert_eq!(capabilities_split(0x1f_ffff_ffff, 36), None);
        let (_, withheld) = capabilities_split(0x0ff_ffff_ffff, 40).unwrap_or_default();
        assert_eq!(withheld, ["capability 40"]);
    }
}
