//! The resource use of every running workspace: one Docker stats stream
//! per running container (compose: the main one), its samples computed as
//! `docker stats` does (`runtime/stats.rs`) and held for [`HISTORY`]
//! samples (15 minutes at one a second) for `workspace.stats` subscribers,
//! who share it. A loop keeps the streams in step with the workspaces'
//! states.

use super::{Manager, Result};
use crate::runtime::docker::ContainerRuntime;
use crate::runtime::stats::sample;
use futures::StreamExt;
use nexus_sdk::StatsSample;
use nexus_sdk::WorkspaceState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Samples kept per workspace: 15 minutes of Docker's one a second.
pub const HISTORY: usize = 15 * 60;

/// How often the streams are matched to the running workspaces.
const SYNC_EVERY: Duration = Duration::from_secs(2);

/// One workspace's samples and their subscribers.
struct Series {
    /// The container the stream reads.
    container: String,
    ring: Arc<Mutex<VecDeque<StatsSample>>>,
    tx: broadcast::Sender<StatsSample>,
    task: tokio::task::AbortHandle,
}

impl Drop for Series {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every running workspace's [`Series`], by workspace id.
#[derive(Default)]
pub struct StatsHub(Mutex<HashMap<String, Arc<Series>>>);

impl std::fmt::Debug for StatsHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatsHub")
    }
}

/// Reads `container`'s stats stream into `ring` and `tx` for as long as the
/// task lives, opening the stream again when it ends (the engine restarted).
async fn collect(
    runtime: Arc<dyn ContainerRuntime>,
    container: String,
    ring: Arc<Mutex<VecDeque<StatsSample>>>,
    tx: broadcast::Sender<StatsSample>,
) {
    loop {
        let mut stream = runtime.stats(&container);
        let mut prev = None;
        while let Some(Ok(raw)) = stream.next().await {
            let s = sample(prev.as_ref(), &raw);
            prev = Some(raw);
            let mut r = ring.lock().unwrap_or_else(|p| p.into_inner());
            if r.len() == HISTORY {
                r.pop_front();
            }
            r.push_back(s.clone());
            let _ = tx.send(s);
        }
        tokio::time::sleep(SYNC_EVERY).await;
    }
}

impl StatsHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Series>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The series of workspace `id` reading `container`, started when missing.
    fn series(&self, runtime: &Arc<dyn ContainerRuntime>, id: &str, container: &str) -> Arc<Series> {
        let mut all = self.lock();
        if let Some(s) = all.get(id).filter(|s| s.container == container) {
            return s.clone();
        }
        let ring = Arc::new(Mutex::new(VecDeque::with_capacity(HISTORY)));
        let (tx, _) = broadcast::channel(16);
        let task = tokio::spawn(collect(
            runtime.clone(),
            container.to_string(),
            ring.clone(),
            tx.clone(),
        ));
        let s = Arc::new(Series {
            container: container.to_string(),
            ring,
            tx,
            task: task.abort_handle(),
        });
        all.insert(id.to_string(), s.clone());
        s
    }
}

impl Manager {
    /// Matches the stats streams to the running workspaces, every 2 s,
    /// for as long as the daemon runs.
    pub async fn stats_loop(self: Arc<Self>) {
        loop {
            self.sync_stats();
            tokio::time::sleep(SYNC_EVERY).await;
        }
    }

    /// One stream per running workspace with a container: new ones
    /// started, those of workspaces no longer running ended.
    fn sync_stats(&self) {
        let Ok(records) = self.store.list() else { return };
        let running: HashMap<String, String> = records
            .into_iter()
            .filter(|r| r.state == WorkspaceState::Running)
            .filter_map(|r| r.container_id.clone().map(|c| (r.id, c)))
            .collect();
        self.stats.lock().retain(|id, s| running.get(id) == Some(&s.container));
        for (id, container) in &running {
            self.stats.series(&self.runtime, id, container);
        }
    }

    /// `workspace.stats`: the samples held for running workspace `name`
    /// (the last 15 minutes with `history`, else only the newest) and the
    /// next ones as they come; the receiver ends when the workspace stops.
    ///
    /// Errors: `NotFound`, or `NotRunning` (the message says to start it).
    pub fn stats_watch(
        &self,
        name: &str,
        history: bool,
    ) -> Result<(Vec<StatsSample>, broadcast::Receiver<StatsSample>)> {
        let r = self.running(name)?;
        let container = r.container_id.clone().unwrap_or_default();
        let series = self.stats.series(&self.runtime, &r.id, &container);
        let rx = series.tx.subscribe();
        let ring = series.ring.lock().unwrap_or_else(|p| p.into_inner());
        let held: Vec<StatsSample> = if history {
            ring.iter().cloned().collect()
        } else {
            ring.back().cloned().into_iter().collect()
        };
        Ok((held, rx))
    }
}
