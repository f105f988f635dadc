//! What `GET /metrics` and `GET /health` read of the manager at each
//! request: workspaces by state, connections, forwards, channels, the
//! process; Docker's and the store's health.

use super::*;
use crate::metrics::{StateLabel, WorkspaceLabel};

impl Manager {
    /// The metrics in the Prometheus text format, the gauges read now.
    pub async fn metrics_text(&self) -> String {
        let m = &self.metrics;
        m.workspaces.clear();
        if let Ok(records) = self.store.list() {
            for r in records {
                m.workspaces
                    .get_or_create(&StateLabel {
                        state: crate::store::state_str(r.state).to_string(),
                    })
                    .inc();
            }
        }
        m.agent_connections.set(self.agents.connections().await as i64);
        m.port_forwards.set(self.forwards.count() as i64);
        m.channels.clear();
        for (workspace, n) in self.channels.by_workspace() {
            m.channels.get_or_create(&WorkspaceLabel { workspace }).set(n as i64);
        }
        m.read_process();
        m.encode()
    }

    /// `GET /health`: whether Docker answers and the store reads, as JSON
    /// (`{"status":"ok"|"degraded","docker":{"ok":…,"error":…},"store":{…}}`),
    /// and whether both are fine.
    pub async fn health(&self) -> (bool, serde_json::Value) {
        let part = |r: std::result::Result<(), String>| match r {
            Ok(()) => serde_json::json!({"ok": true}),
            Err(e) => serde_json::json!({"ok": false, "error": e}),
        };
        let docker = self.runtime.ping().await.map_err(|e| e.to_string());
        let store = self.store.list().map(|_| ()).map_err(|e| e.to_string());
        let ok = docker.is_ok() && store.is_ok();
        let status = if ok { "ok" } else { "degraded" };
        (
            ok,
            serde_json::json!({"status": status, "docker": part(docker), "store": part(store)}),
        )
    }
}
