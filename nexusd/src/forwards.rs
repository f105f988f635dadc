//! `ports.*`: a workspace's TCP ports — those a process in the container
//! listens on (read from its `/proc/net/tcp` and `/proc/net/tcp6` through the
//! agent) and host ports the daemon forwards to container ports. A forward is
//! a listener on 127.0.0.1 at a port of the Nexus range (recorded in the
//! ports table) whose connections are relayed over the agent's `direct-tcpip`
//! channel on the daemon's pooled SSH connection.

use crate::error::{Result, WorkspaceError};
use crate::workspace::{AGENT_PORT, Manager, target};
use nexus_sdk::PortInfo;
use std::collections::{BTreeMap, HashMap};
use tokio::task::JoinHandle;

/// Prefix of the ports table's `purpose` for forwards (`forward:<container port>`).
pub const PURPOSE: &str = "forward:";

/// (workspace id, host port) → (container port, listener task).
type ForwardTable = HashMap<(String, u16), (u16, JoinHandle<()>)>;

/// The running forwards.
#[derive(Default)]
pub struct Forwards {
    tasks: std::sync::Mutex<ForwardTable>,
}

impl Forwards {
    fn lock(&self) -> std::sync::MutexGuard<'_, ForwardTable> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Host port → container port of workspace `id`.
    pub fn of(&self, id: &str) -> BTreeMap<u16, u16> {
        self.lock()
            .iter()
            .filter(|((w, _), _)| w == id)
            .map(|((_, h), (c, _))| (*h, *c))
            .collect()
    }

    /// Stops every forward of workspace `id`; returns their host ports.
    pub fn stop_all(&self, id: &str) -> Vec<u16> {
        let mut tasks = self.lock();
        let ports: Vec<u16> = tasks.keys().filter(|(w, _)| w == id).map(|(_, h)| *h).collect();
        for h in &ports {
            if let Some((_, t)) = tasks.remove(&(id.to_string(), *h)) {
                t.abort();
            }
        }
        ports
    }
}

/// Listening TCP ports in `/proc/net/tcp` text (state `0A`), any address.
pub fn listening_ports(proc_net_tcp: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = proc_net_tcp
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                return None;
            }
            u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

impl Manager {
    /// `ports.list`: listening ports (the agent's own excepted) and forwards.
    pub async fn ports_list(&self, workspace: &str) -> Result<Vec<PortInfo>> {
        let r = self.running(workspace)?;
        let listing = nexus_sdk::ExecParams {
            workspace: workspace.to_string(),
            command: ["cat", "/proc/net/tcp", "/proc/net/tcp6"].map(String::from).to_vec(),
            ..Default::default()
        };
        let text = self.exec_to_end(&self.prepare_exec(&listing)?).await?.stdout;
        let mut ports: BTreeMap<u16, PortInfo> = listening_ports(&text)
            .into_iter()
            .filter(|p| *p != AGENT_PORT)
            .map(|p| {
                (
                    p,
                    PortInfo {
                        container_port: p,
                        listening: true,
                        host_port: None,
                    },
                )
            })
            .collect();
        for (host, container) in self.forwards.of(&r.id) {
            ports
                .entry(container)
                .or_insert(PortInfo {
                    container_port: container,
                    listening: false,
                    host_port: None,
                })
                .host_port = Some(host);
        }
        Ok(ports.into_values().collect())
    }

    /// `ports.forward`: a host port on 127.0.0.1 relaying to `container_port`
    /// (the existing one when that port is forwarded already).
    pub async fn ports_forward(&self, workspace: &str, container_port: u16) -> Result<PortInfo> {
        let r = self.running(workspace)?;
        if container_port == 0 {
            return Err(WorkspaceError::InvalidParams("containerPort must be 1-65535".into()));
        }
        if let Some((host, _)) = self.forwards.of(&r.id).into_iter().find(|(_, c)| *c == container_port) {
            return Ok(PortInfo {
                container_port,
                listening: true,
                host_port: Some(host),
            });
        }
        let purpose = format!("{PURPOSE}{container_port}");
        let host = self
            .store
            .allocate_port(&r.id, &purpose, self.config.port_range, crate::ports::bindable)?;
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
        let t = target(&r);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, peer)) = listener.accept().await {
                let (agents, t) = (agents.clone(), t.clone());
                tokio::spawn(async move {
                    match agents.direct_tcpip(&t, container_port, peer.port()).await {
                        Ok(channel) => {
                            let mut stream = channel.into_stream();
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
                        }
                        Err(e) => tracing::info!("forward to container port {container_port} failed: {e}"),
                    }
                });
            }
        });
        self.forwards
            .lock()
            .insert((r.id.clone(), host), (container_port, task));
        self.events.progress(
            &r.name,
            "ports",
            format!("forwarding 127.0.0.1:{host} to container port {container_port}"),
        );
        Ok(PortInfo {
            container_port,
            listening: true,
            host_port: Some(host),
        })
    }

    /// `ports.unforward`: closes the forward on `host_port` and releases the port.
    pub async fn ports_unforward(&self, workspace: &str, host_port: u16) -> Result<()> {
        let r = self.store.get(workspace)?;
        match self.forwards.lock().remove(&(r.id.clone(), host_port)) {
            Some((_, task)) => task.abort(),
            None => {
                return Err(WorkspaceError::InvalidParams(format!(
                    "workspace {workspace:?} forwards no host port {host_port}: see ports.list"
                )));
            }
        }
        self.store.release_port(&r.id, host_port)
    }

    /// Stops a workspace's forwards and releases their ports (stop, remove).
    pub(crate) fn stop_forwards(&self, id: &str) {
        for host in self.forwards.stop_all(id) {
            if let Err(e) = self.store.release_port(id, host) {
                tracing::warn!("cannot release port {host}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_ports() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
   2: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 0 1\n\
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0\n";
        assert_eq!(listening_ports(text), vec![2222, 8080]);
    }
}
