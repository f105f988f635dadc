//! Idle pause and stop, and waking on use.
//!
//! A workspace is idle while its agent's activity file (`activity` beside
//! the relay socket, touched by the agent whenever a channel moves data or
//! the container uses CPU) stays old. After `idle.pauseAfterSeconds` the
//! container is paused (`docker pause`), after `idle.stopAfterSeconds` it
//! is stopped; either way the relay keeps its SSH port and is told the
//! workspace sleeps, so a client sending the SSH banner wakes it through
//! `DATA_DIR/wake.sock` ([`Manager::wake_port`]). An exec, file or tunnel
//! call wakes it too (the API calls [`Manager::wake`] first).

use super::*;
use nexus_sdk::IdleSettings;
use std::time::{Duration, SystemTime};

/// How often idle workspaces are looked for.
const IDLE_TICK: Duration = Duration::from_secs(1);

impl Manager {
    /// Pauses and stops idle workspaces, every [`IDLE_TICK`], for as long as
    /// the manager lives.
    pub async fn idle_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(IDLE_TICK);
        loop {
            tick.tick().await;
            self.idle_pass().await;
        }
    }

    async fn idle_pass(&self) {
        let Ok(records) = self.store.list() else { return };
        for r in records {
            let Some(IdleSettings {
                pause_after_seconds: pause,
                stop_after_seconds: stop,
            }) = r.idle()
            else {
                continue;
            };
            if !matches!(r.state, WorkspaceState::Running | WorkspaceState::Paused) {
                continue;
            }
            let idle = self.idle_for(&r);
            if stop.is_some_and(|s| idle >= s) {
                self.sleep(&r, WorkspaceState::Stopped, idle).await;
            } else if r.state == WorkspaceState::Running && pause.is_some_and(|p| idle >= p) {
                self.sleep(&r, WorkspaceState::Paused, idle).await;
            }
        }
    }

    /// Seconds since workspace `r` was last active: the newer of its
    /// activity file's time and when it last woke or started.
    fn idle_for(&self, r: &WorkspaceRecord) -> u64 {
        let now = SystemTime::now();
        let woke = *self
            .awake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(r.id.clone())
            .or_insert(now);
        let activity = std::fs::metadata(crate::relay::socket_dir(&self.config.data_dir, &r.id).join("activity"))
            .and_then(|m| m.modified())
            .unwrap_or(woke);
        now.duration_since(woke.max(activity)).map_or(0, |d| d.as_secs())
    }

    /// Marks workspace `id` awake from now (its idle time starts again).
    pub(super) fn mark_awake(&self, id: &str) {
        self.awake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), SystemTime::now());
    }

    /// Forgets when workspace `id` last woke (it is being removed).
    pub(super) fn forget_awake(&self, id: &str) {
        self.awake.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Pauses or stops idle workspace `r` (`to`), its port left with the
    /// relay asleep; skipped when a flow holds the workspace.
    async fn sleep(&self, r: &WorkspaceRecord, to: WorkspaceState, idle: u64) {
        let Ok(_guard) = self.lock_of(&r.name).try_lock_owned() else {
            return;
        };
        let Ok(r) = self.store.get(&r.name) else { return };
        if !matches!(r.state, WorkspaceState::Running | WorkspaceState::Paused) || r.state == to {
            return;
        }
        let container = container_name(&r);
        let done = match to {
            WorkspaceState::Paused => self.runtime.pause(&container).await.map_err(WorkspaceError::from),
            _ => {
                if r.state == WorkspaceState::Paused
                    && let Err(e) = self.runtime.unpause(&container).await
                {
                    tracing::warn!(workspace = %r.name, "cannot unpause to stop: {e}");
                }
                self.agents.forget(&r.id).await;
                self.stop_forwards(&r);
                self.stop_containers(&r, 10).await
            }
        };
        if let Err(e) = done {
            tracing::warn!(workspace = %r.name, "cannot {} it while idle: {e}", if to == WorkspaceState::Paused { "pause" } else { "stop" });
            return;
        }
        let reason = format!("idle for {}", IdleSettings::format_duration(idle));
        tracing::info!(workspace = %r.name, "{to}: {reason}");
        if let Err(e) = self.store.set_state_because(&r.id, to, Some(&reason)) {
            tracing::error!(workspace = %r.name, "cannot record it {to}: {e}");
        }
        if let Some(relay) = self.relay.as_ref().filter(|_| r.ssh_relay)
            && let Err(e) = relay.sleep(r.ssh_port).await
        {
            tracing::warn!(workspace = %r.name, "its port will not wake it: {e}");
        }
        self.events.state(&r.name, Some(to));
    }

    /// Wakes workspace `name` if it sleeps: unpauses a paused one, starts
    /// one stopped while idle; anything else is left as it is.
    ///
    /// Errors: those of `start`, and the engine's.
    pub async fn wake(&self, name: &str) -> Result<()> {
        let Ok(r) = self.store.get(name) else {
            return Ok(()); // the call itself reports the missing workspace
        };
        match r.state {
            WorkspaceState::Paused => {
                let _guard = self.lock(name).await;
                let mut r = self.store.get(name)?;
                if r.state != WorkspaceState::Paused {
                    return Ok(());
                }
                self.runtime.unpause(&container_name(&r)).await?;
                self.mark_awake(&r.id);
                self.publish_ssh(&mut r).await?;
                self.store.set_state(&r.id, WorkspaceState::Running)?;
                self.events.state(name, Some(WorkspaceState::Running));
                tracing::info!(workspace = %name, "awake (unpaused)");
            }
            WorkspaceState::Stopped if r.state_reason.as_deref().is_some_and(|w| w.starts_with("idle")) => {
                self.start_stopped(name).await?;
                tracing::info!(workspace = %name, "awake (started)");
            }
            _ => {}
        }
        Ok(())
    }

    /// Wakes the workspace whose SSH port is `port` (the relay asks, a
    /// client having sent the SSH banner); returns once it answers SSH.
    ///
    /// Errors: no workspace has the port, or waking failed.
    pub async fn wake_port(&self, port: u16) -> std::result::Result<(), String> {
        let records = self.store.list().map_err(|e| e.to_string())?;
        let r = records
            .iter()
            .find(|r| r.ssh_port == port)
            .ok_or_else(|| format!("no workspace has port {port}"))?;
        self.wake(&r.name).await.map_err(|e| e.to_string())
    }

    /// `workspace.idle`: workspace `name` pauses and stops after `s` (each
    /// absent: never) from now on.
    ///
    /// Errors: `NotFound`; [`WorkspaceError::InvalidParams`] for a zero.
    pub fn set_idle(&self, name: &str, s: IdleSettings) -> Result<WorkspaceRecord> {
        let (pause, stop) = checked(s)?;
        let mut r = self.store.get(name)?;
        self.store.set_idle(&r.id, pause, stop)?;
        (r.idle_pause_secs, r.idle_stop_secs) = (pause, stop);
        self.mark_awake(&r.id);
        Ok(r)
    }

    /// The idle settings of a new workspace: each of `asked`, else the daemon's default.
    ///
    /// Errors: [`WorkspaceError::InvalidParams`] for a zero.
    pub(super) fn idle_of_new(&self, asked: Option<IdleSettings>) -> Result<(Option<i64>, Option<i64>)> {
        let asked = asked.unwrap_or_default();
        checked(IdleSettings {
            pause_after_seconds: asked.pause_after_seconds.or(self.config.idle_pause_secs),
            stop_after_seconds: asked.stop_after_seconds.or(self.config.idle_stop_secs),
        })
    }
}

/// `s` as the store keeps it (seconds).
///
/// Errors: [`WorkspaceError::InvalidParams`] for a zero.
fn checked(s: IdleSettings) -> Result<(Option<i64>, Option<i64>)> {
    if s.pause_after_seconds == Some(0) || s.stop_after_seconds == Some(0) {
        return Err(WorkspaceError::InvalidParams(
            "an idle time of 0 would pause or stop the workspace at once: give at least 1 second, or leave it out"
                .into(),
        ));
    }
    let to_i64 = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    Ok((to_i64(s.pause_after_seconds), to_i64(s.stop_after_seconds)))
}
