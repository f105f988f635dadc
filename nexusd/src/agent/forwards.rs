//! `ports.*`: a workspace's TCP ports — those a process in the container
//! listens on (the agent's `nexus-agent --ports` reads `/proc/net/tcp` and
//! `/proc/net/tcp6`) and host ports the daemon forwards to container ports,
//! or to ports of other hosts the container reaches (a compose service's:
//! `forwardPorts`' `"db:5432"`). A forward is a listener on 127.0.0.1 at a
//! port of the Nexus range (recorded in the ports table) whose connections
//! are relayed over the agent's `direct-tcpip` channel on the daemon's
//! pooled SSH connection; the agent connects from inside the container.
//!
//! While a workspace runs, a port watcher (`nexus-agent --ports` on a
//! connection of its own) turns listeners coming and going into
//! `portOpened`/`portClosed` events; forwards opening and closing are
//! announced the same way, with `hostPort`.

use super::AGENT_PORT;
use nexus_devcontainer::config::{DevContainer, PortTarget};
use nexus_sdk::PortInfo;
use std::collections::{BTreeMap, HashMap};
use tokio::task::JoinHandle;

/// Prefix of the ports table's `purpose` for forwards (`forward:3000`,
/// `forward:db:5432`).
pub const PURPOSE: &str = "forward:";

/// (workspace id, host port) → (where it leads, listener task).
type ForwardTable = HashMap<(String, u16), (PortTarget, JoinHandle<()>)>;

/// The running forwards, the port watchers of running workspaces, and who
/// wants port events.
#[derive(Default)]
pub struct Forwards {
    tasks: std::sync::Mutex<ForwardTable>,
    /// Dropping a workspace's sender ends its watcher.
    watchers: std::sync::Mutex<HashMap<String, tokio::sync::oneshot::Sender<()>>>,
    demand: std::sync::Mutex<Demand>,
}

/// Who wants port events now: subscribers to every workspace's events, and
/// subscribers by workspace name.
#[derive(Default)]
struct Demand {
    all: usize,
    by_name: HashMap<String, usize>,
}

impl Forwards {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ForwardTable> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `stop` as the port watcher of workspace `id`, ending any earlier one.
    pub(crate) fn set_watcher(&self, id: &str, stop: tokio::sync::oneshot::Sender<()>) {
        let mut w = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        w.insert(id.to_string(), stop);
    }

    /// Whether workspace `id` has a port watcher that still runs.
    pub(crate) fn watching(&self, id: &str) -> bool {
        let w = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        w.get(id).is_some_and(|stop| !stop.is_closed())
    }

    /// Counts one more subscriber to the port events of workspace `name`
    /// (`None`: of all).
    pub(crate) fn want(&self, name: Option<&str>) {
        let mut d = self.demand.lock().unwrap_or_else(|p| p.into_inner());
        match name {
            None => d.all += 1,
            Some(n) => *d.by_name.entry(n.to_string()).or_default() += 1,
        }
    }

    /// Counts one subscriber fewer (the one [`Forwards::want`] counted).
    pub(crate) fn unwant(&self, name: Option<&str>) {
        let mut d = self.demand.lock().unwrap_or_else(|p| p.into_inner());
        match name {
            None => d.all = d.all.saturating_sub(1),
            Some(n) => {
                if let Some(c) = d.by_name.get_mut(n) {
                    *c -= 1;
                    if *c == 0 {
                        d.by_name.remove(n);
                    }
                }
            }
        }
    }

    /// Whether anyone wants the port events of workspace `name`.
    pub(crate) fn wanted(&self, name: &str) -> bool {
        let d = self.demand.lock().unwrap_or_else(|p| p.into_inner());
        d.all > 0 || d.by_name.contains_key(name)
    }

    /// Ends the port watcher of workspace `id`, if one runs.
    pub(crate) fn stop_watcher(&self, id: &str) {
        let mut w = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        w.remove(id);
    }

    /// How many forwards run, all workspaces together.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Host port → where it leads, of workspace `id`.
    pub fn of(&self, id: &str) -> BTreeMap<u16, PortTarget> {
        self.lock()
            .iter()
            .filter(|((w, _), _)| w == id)
            .map(|((_, h), (t, _))| (*h, t.clone()))
            .collect()
    }

    /// Stops every forward of workspace `id`; returns their (host port,
    /// where it led) pairs.
    pub fn stop_all(&self, id: &str) -> Vec<(u16, PortTarget)> {
        let mut tasks = self.lock();
        let hosts: Vec<u16> = tasks.keys().filter(|(w, _)| w == id).map(|(_, h)| *h).collect();
        let mut stopped = Vec::new();
        for h in hosts {
            if let Some((c, t)) = tasks.remove(&(id.to_string(), h)) {
                t.abort();
                stopped.push((h, c));
            }
        }
        stopped
    }
}

/// A line of `nexus-agent --ports`: `{"type":"opened"|"closed","port":N}`.
#[derive(serde::Deserialize)]
struct PortLine {
    #[serde(rename = "type")]
    kind: String,
    port: u16,
}

/// A line of `nexus-agent --ports` as (opened, port); `None` for the agent's
/// own SSH port and for what does not parse.
pub(crate) fn port_line(line: &str) -> Option<(bool, u16)> {
    let l = serde_json::from_str::<PortLine>(line).ok()?;
    (l.port != AGENT_PORT).then_some((l.kind == "opened", l.port))
}

/// The ports of `opened` lines in `nexus-agent --ports` output, the agent's
/// own SSH port left out.
pub(crate) fn opened_ports(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(port_line)
        .filter_map(|(opened, port)| opened.then_some(port))
        .collect()
}

/// The [`PortInfo`] of `target`, with what devcontainer.json `config` says of it.
pub(crate) fn describe(
    config: Option<&DevContainer>,
    target: &PortTarget,
    listening: bool,
    host_port: Option<u16>,
) -> PortInfo {
    let attributes = config.and_then(|c| c.port_attributes(target));
    PortInfo {
        container_port: target.port,
        host: target.host.clone(),
        // whether another host listens is not known
        listening: listening && target.host.is_none(),
        host_port,
        declared: config.is_some_and(|c| c.declared_ports().0.contains(target)),
        label: attributes.and_then(|a| a.label.clone()),
        protocol: attributes.and_then(|a| a.protocol.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_agents_port_lines() {
        let text = "{\"type\":\"opened\",\"port\":2222}\n{\"type\":\"opened\",\"port\":8080}\nnoise\n{\"type\":\"closed\",\"port\":9000}\n";
        assert_eq!(opened_ports(text), vec![8080]);
    }
}
