//! The resource use of every running workspace: one collector per running
//! container (compose: the main one) reading Docker's stats, its samples
//! computed as `docker stats` does (`runtime/stats.rs`) and held for
//! [`HISTORY`] samples for `workspace.stats` subscribers, who share them.
//! A collector reads every [`WATCHED`] while someone watches the workspace
//! with history (its page is open), else every [`UNWATCHED`]: 50 idle
//! workspaces cost 10 readings a second, not 50. A loop keeps the
//! collectors in step with the workspaces' states.

use super::{Manager, Result};
use crate::runtime::docker::ContainerRuntime;
use crate::runtime::stats::sample;
use nexus_sdk::StatsSample;
use nexus_sdk::WorkspaceState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Samples kept per workspace: 15 minutes of Docker's one a second.
pub const HISTORY: usize = 15 * 60;

/// How often the collectors are matched to the running workspaces.
const SYNC_EVERY: Duration = Duration::from_secs(2);
/// A reading's interval while someone watches with history.
pub const WATCHED: Duration = Duration::from_secs(1);
/// A reading's interval otherwise.
pub const UNWATCHED: Duration = Duration::from_secs(5);

/// One workspace's samples and their subscribers.
struct Series {
    /// The container the stream reads.
    container: String,
    ring: Arc<Mutex<VecDeque<StatsSample>>>,
    tx: broadcast::Sender<StatsSample>,
    /// Subscribers with history now, and the collector's wake-up when
    /// the first comes.
    watchers: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
    task: tokio::task::AbortHandle,
}

/// A watcher with history of a [`Series`]: counted while it lives.
pub struct Watching(Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
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

/// Reads `container`'s stats into `ring` and `tx` for as long as the task
/// lives: every [`WATCHED`] while `watchers` counts someone, else every
/// [`UNWATCHED`] (a new watcher wakes it at once).
async fn collect(
    runtime: Arc<dyn ContainerRuntime>,
    container: String,
    ring: Arc<Mutex<VecDeque<StatsSample>>>,
    tx: broadcast::Sender<StatsSample>,
    watchers: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
) {
    let mut prev = None;
    loop {
        if let Ok(raw) = runtime.stats(&container).await {
            let s = sample(prev.as_ref(), &raw);
            prev = Some(raw);
            let mut r = ring.lock().unwrap_or_else(|p| p.into_inner());
            if r.len() == HISTORY {
                r.pop_front();
            }
            r.push_back(s.clone());
            drop(r);
            let _ = tx.send(s);
        }
        let watched = watchers.0.load(std::sync::atomic::Ordering::Acquire) > 0;
        let every = if watched { WATCHED } else { UNWATCHED };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = watchers.1.notified(), if !watched => {}
        }
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
        let watchers = Arc::new((std::sync::atomic::AtomicUsize::new(0), tokio::sync::Notify::new()));
        let task = tokio::spawn(collect(
            runtime.clone(),
            container.to_string(),
            ring.clone(),
            tx.clone(),
            watchers.clone(),
        ));
        let s = Arc::new(Series {
            container: container.to_string(),
            ring,
            tx,
            watchers,
            task: task.abort_handle(),
        });
        all.insert(id.to_string(), s.clone());
        s
    }
}

/// What [`Manager::stats_watch`] gives: the held samples, the receiver of
/// the next ones, and the watcher's count while it lives.
pub type StatsWatch = (Vec<StatsSample>, broadcast::Receiver<StatsSample>, Option<Watching>);

impl Manager {
    /// Matches the collectors to the running workspaces, every 2 s,
    /// for as long as the daemon runs.
    pub async fn stats_loop(self: Arc<Self>) {
        loop {
            self.sync_stats();
            tokio::time::sleep(SYNC_EVERY).await;
        }
    }

    /// One collector per running workspace with a container: new ones
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
    /// A watcher with history makes the readings come every second for as
    /// long as its [`Watching`] lives.
    ///
    /// Errors: `NotFound`, or `InvalidState` (the message says to start it).
    pub fn stats_watch(&self, name: &str, history: bool) -> Result<StatsWatch> {
        let r = self.running(name)?;
        let container = r.container_id.clone().unwrap_or_default();
        let series = self.stats.series(&self.runtime, &r.id, &container);
        let watching = history.then(|| {
            series.watchers.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            series.watchers.1.notify_one();
            Watching(series.watchers.clone())
        });
        let rx = series.tx.subscribe();
        let ring = series.ring.lock().unwrap_or_else(|p| p.into_inner());
        let held: Vec<StatsSample> = if history {
            ring.iter().cloned().collect()
        } else {
            ring.back().cloned().into_iter().collect()
        };
        Ok((held, rx, watching))
    }
}
