//! `ports.*` flows of the manager: listing a workspace's ports, forwarding
//! the ports devcontainer.json declares whenever it starts running, the
//! port watcher that turns listeners into events, and forwards made and
//! ended on request. The relays and the watcher table are `agent::forwards`'s.

use super::*;
use crate::agent::forwards::{PURPOSE, describe, opened_ports, port_line};
use nexus_devcontainer::config::PortTarget;
use nexus_sdk::PortInfo;
use std::collections::{BTreeMap, BTreeSet};

impl Manager {
    /// `ports.list`: listening ports (the agent's own excepted), forwards,
    /// and the ports devcontainer.json declares, with their
    /// `portsAttributes`: the container's own first, by port, then other
    /// hosts', by host and port.
    pub async fn ports_list(&self, workspace: &str) -> Result<Vec<PortInfo>> {
        let r = self.running(workspace)?;
        let text = self.exec_to_end(&self.port_lister(workspace, true)?).await?.stdout;
        let config = crate::workspace::devcontainer_of(&r).map(|m| m.merged.config);
        let listening: BTreeSet<PortTarget> = opened_ports(&text).into_iter().map(PortTarget::local).collect();
        // where it leads → host port
        let forwarded: BTreeMap<PortTarget, u16> = self.forwards.of(&r.id).into_iter().map(|(h, t)| (t, h)).collect();
        let declared = config.as_ref().map(|c| c.declared_ports().0).unwrap_or_default();
        let all: BTreeSet<&PortTarget> = listening.iter().chain(forwarded.keys()).chain(&declared).collect();
        Ok(all
            .into_iter()
            .map(|t| describe(config.as_ref(), t, listening.contains(t), forwarded.get(t).copied()))
            .collect())
    }

    /// Forwards the ports devcontainer.json declares (`forwardPorts`,
    /// `appPort`) of running workspace `r`, each on a host port of the
    /// range. A port that cannot be forwarded (no free host port) is a
    /// warning, not an error: the workspace runs without it.
    pub(crate) async fn forward_declared(&self, r: &crate::store::WorkspaceRecord) {
        let Some(config) = crate::workspace::devcontainer_of(r).map(|m| m.merged.config) else {
            return;
        };
        // what cannot be forwarded was warned of when the workspace was created
        for target in config.declared_ports().0 {
            if let Err(e) = self.ports_forward(&r.name, &target).await {
                tracing::warn!(workspace = %r.name, "cannot forward declared port {target}: {e}");
                self.events.progress(
                    &r.name,
                    Step::Ports,
                    format!("warning: port {target} is not forwarded: {e}"),
                );
            }
        }
    }

    /// `nexus-agent --ports` in workspace `workspace`: the listening ports
    /// once, or (not `once`) a watch on a connection of its own.
    pub(super) fn port_lister(&self, workspace: &str, once: bool) -> Result<crate::workspace::PreparedExec> {
        Ok(if once {
            self.prepare_agent_helper(workspace, &["--ports", "--once"])?
        } else {
            self.prepare_agent_helper(workspace, &["--ports"])?.dedicated()
        })
    }

    /// Marks the port events of workspace `workspace` (`None`: of every
    /// workspace) wanted until the returned guard drops, and starts the port
    /// watchers of the running workspaces that covers. A watcher runs only
    /// while someone wants its events: idle workspaces cost nothing.
    pub fn want_port_events(self: &Arc<Self>, workspace: Option<&str>) -> PortEventsWanted {
        self.forwards.want(workspace);
        if let Ok(records) = self.store.list() {
            for r in records.iter().filter(|r| r.state == WorkspaceState::Running) {
                if workspace.is_none_or(|w| w == r.name) {
                    self.watch_ports(r);
                }
            }
        }
        PortEventsWanted {
            manager: self.clone(),
            workspace: workspace.map(str::to_string),
        }
    }

    /// Starts the port watcher of running workspace `r` when someone wants
    /// its events and none runs yet: `portOpened` and `portClosed` events (no
    /// `hostPort`) as listeners in the container come and go (the ports
    /// listening at the start first), until the workspace stops, is removed
    /// or nobody wants them any more (then the ports still open are
    /// announced closed). Faults are logged; the workspace is not affected.
    pub(crate) fn watch_ports(&self, r: &crate::store::WorkspaceRecord) {
        if !self.forwards.wanted(&r.name) || self.forwards.watching(&r.id) {
            return;
        }
        let prepared = match self.port_lister(&r.name, false) {
            Ok(p) => p,
            Err(e) => return tracing::warn!(workspace = %r.name, "no port watcher: {e}"),
        };
        let (agents, events, name) = (self.agents_handle(), self.events.clone(), r.name.clone());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            // dropping `watcher` (or the container stopping) ends the watcher
            let mut watcher = match prepared.open_with(&agents).await {
                Ok(o) => o.spawn_unsteered(None, 4),
                Err(e) => return tracing::warn!(workspace = %name, "no port watcher: {e}"),
            };
            let (mut lines, mut open) = (
                crate::agent::client::Lines::default(),
                std::collections::BTreeSet::new(),
            );
            loop {
                let bytes = tokio::select! {
                    out = watcher.output().recv() => match out {
                        Some(crate::agent::client::Output::Stdout(bytes)) => bytes,
                        Some(crate::agent::client::Output::Stderr(_)) => continue,
                        None => break,
                    },
                    _ = &mut stopped => break,
                };
                for (opened, port) in lines.push(&bytes).iter().filter_map(|l| port_line(l)) {
                    if opened {
                        open.insert(port);
                    } else {
                        open.remove(&port);
                    }
                    events.port(&name, opened, &PortTarget::local(port), None);
                }
            }
            for port in open {
                events.port(&name, false, &PortTarget::local(port), None);
            }
        });
        self.forwards.set_watcher(&r.id, stop);
    }

    /// Ends the watchers nobody wants any more.
    fn unwatch_unwanted(&self) {
        let Ok(records) = self.store.list() else { return };
        for r in records {
            if !self.forwards.wanted(&r.name) {
                self.forwards.stop_watcher(&r.id);
            }
        }
    }

    /// `ports.forward`: a host port on 127.0.0.1 relaying to `to` (the
    /// existing one when `to` is forwarded already). Connections to
    /// another host are made from inside the container, so they reach
    /// what it reaches by name (a compose service); one the container
    /// cannot make closes the host connection.
    pub async fn ports_forward(&self, workspace: &str, to: &PortTarget) -> Result<PortInfo> {
        let r = self.running(workspace)?;
        if to.port == 0 {
            return Err(WorkspaceError::InvalidParams("containerPort must be 1-65535".into()));
        }
        if to
            .host
            .as_deref()
            .is_some_and(|h| h.is_empty() || h.contains(char::is_whitespace))
        {
            return Err(WorkspaceError::InvalidParams(format!(
                "host {:?} is no host name or address: leave it out for the container's own port",
                to.host.as_deref().unwrap_or_default()
            )));
        }
        let config = crate::workspace::devcontainer_of(&r).map(|m| m.merged.config);
        if let Some((host, _)) = self.forwards.of(&r.id).into_iter().find(|(_, t)| t == to) {
            return Ok(describe(config.as_ref(), to, true, Some(host)));
        }
        let purpose = format!("{PURPOSE}{to}");
        let host = self
            .store
            .allocate_port(&r.id, &purpose, self.config.port_range, crate::store::ports::bindable)?;
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", host)).await {
            Ok(l) => l,
            Err(e) => {
                self.store.release_port(&r.id, host)?;
                return Err(WorkspaceError::Internal(format!(
                    "cannot listen on 127.0.0.1:{host}: {e}"
                )));
            }
        };
        let agents = self.agents_handle();
        let (t, dest) = (target(&r), to.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, peer)) = listener.accept().await {
                let (agents, t, to) = (agents.clone(), t.clone(), dest.clone());
                tokio::spawn(async move {
                    let to_host = to.host.as_deref().unwrap_or("127.0.0.1");
                    match agents.direct_tcpip(&t, to_host, to.port, peer.port()).await {
                        Ok(channel) => {
                            let mut stream = channel.into_stream();
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
                        }
                        Err(e) => tracing::info!("forward to port {to} failed: {e}"),
                    }
                });
            }
        });
        self.forwards.lock().insert((r.id.clone(), host), (to.clone(), task));
        let what = match &to.host {
            Some(h) => format!("{h}:{} (from the container)", to.port),
            None => format!("container port {}", to.port),
        };
        self.events
            .progress(&r.name, Step::Ports, format!("forwarding 127.0.0.1:{host} to {what}"));
        self.events.port(&r.name, true, to, Some(host));
        Ok(describe(config.as_ref(), to, true, Some(host)))
    }

    /// `ports.unforward`: closes the forward on `host_port` and releases the port.
    pub async fn ports_unforward(&self, workspace: &str, host_port: u16) -> Result<()> {
        let r = self.store.get(workspace)?;
        let removed = self.forwards.lock().remove(&(r.id.clone(), host_port));
        match removed {
            Some((to, task)) => {
                task.abort();
                self.events.port(&r.name, false, &to, Some(host_port));
            }
            None => {
                return Err(WorkspaceError::InvalidParams(format!(
                    "workspace {workspace:?} forwards no host port {host_port}: see ports.list"
                )));
            }
        }
        Ok(self.store.release_port(&r.id, host_port)?)
    }

    /// Stops a workspace's port watcher and forwards and releases their
    /// ports (stop, remove).
    pub(crate) fn stop_forwards(&self, r: &crate::store::WorkspaceRecord) {
        self.forwards.stop_watcher(&r.id);
        for (host, to) in self.forwards.stop_all(&r.id) {
            self.events.port(&r.name, false, &to, Some(host));
            if let Err(e) = self.store.release_port(&r.id, host) {
                tracing::warn!("cannot release port {host}: {e}");
            }
        }
    }
}

/// A subscriber's claim on port events (see [`Manager::want_port_events`]);
/// dropping it ends the watchers nobody else wants.
pub struct PortEventsWanted {
    manager: Arc<Manager>,
    workspace: Option<String>,
}

impl Drop for PortEventsWanted {
    fn drop(&mut self) {
        self.manager.forwards.unwant(self.workspace.as_deref());
        self.manager.unwatch_unwanted();
    }
}
