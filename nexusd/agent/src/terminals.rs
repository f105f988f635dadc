//! Terminals that outlive their SSH channel. A session channel with a pty
//! and the environment variable [`ENV`] (`NEXUS_TERMINAL=<id>`, sent as an
//! `env` request) gets a kept terminal: when its channel or connection
//! goes — a closed browser tab, a restarted daemon, a dropped network — the
//! process keeps running with its last [`RING`] bytes of output. A later
//! channel of the same user naming the same id attaches to it instead of
//! starting anything, gets those bytes first, then the live output; several
//! may watch at once. A terminal with no channel for [`LINGER`] is hung up
//! (`SIGHUP` to its process group), as a closed terminal is.

use crate::process::{PtyMaster, Started};
use crate::reaper::Exit;
use crate::stdin::StdinReceiver;
use russh::ChannelId;
use russh::server::Handle;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// The environment variable naming a kept terminal.
pub(crate) const ENV: &str = "NEXUS_TERMINAL";
/// Output a kept terminal holds for the next channel that attaches, in bytes.
pub(crate) const RING: usize = 64 * 1024;
/// How long a kept terminal stays with no channel attached.
pub(crate) const LINGER: Duration = Duration::from_secs(5 * 60);

/// What a kept terminal's watchers hear.
#[derive(Clone)]
enum Event {
    Output(Arc<[u8]>),
    Ended(Exit),
}

struct Shared {
    /// The last [`RING`] bytes of output.
    ring: VecDeque<u8>,
    /// Channels attached now.
    viewers: usize,
    /// Bumped each time the last viewer leaves, so an older linger timer
    /// knows it is stale.
    left: u64,
    ended: Option<Exit>,
    tx: broadcast::Sender<Event>,
}

/// One kept terminal.
pub(crate) struct Terminal {
    uid: u32,
    pid: i32,
    master: Arc<PtyMaster>,
    shared: Mutex<Shared>,
}

static KEPT: LazyLock<Mutex<HashMap<String, Arc<Terminal>>>> = LazyLock::new(Default::default);

fn kept() -> std::sync::MutexGuard<'static, HashMap<String, Arc<Terminal>>> {
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `id` may name a kept terminal: 1 to 64 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The live kept terminal `id` of user `uid`.
pub(crate) fn find(id: &str, uid: u32) -> Option<Arc<Terminal>> {
    kept().get(id).filter(|t| t.uid == uid).cloned()
}

/// Keeps `started` (a process on a pty, of user `uid`) as terminal `id`,
/// reading its output from now on; `None` when it is not on a pty.
pub(crate) fn keep(id: &str, uid: u32, started: Started) -> Option<Arc<Terminal>> {
    let Started { pid, exit, io } = started;
    let crate::process::Io::Pty(master) = io else {
        return None;
    };
    let (tx, _) = broadcast::channel(256);
    let t = Arc::new(Terminal {
        uid,
        pid,
        master,
        shared: Mutex::new(Shared {
            ring: VecDeque::new(),
            viewers: 0,
            left: 0,
            ended: None,
            tx,
        }),
    });
    kept().insert(id.to_string(), t.clone());
    let reader = t.clone();
    let name = id.to_string();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = reader.master.read(&mut buf).await {
            if n == 0 {
                break;
            }
            crate::activity::mark();
            let mut s = reader.lock();
            s.ring.extend(&buf[..n]);
            let over = s.ring.len().saturating_sub(RING);
            s.ring.drain(..over);
            let _ = s.tx.send(Event::Output(Arc::from(&buf[..n])));
        }
        let ended = exit.await.unwrap_or(Exit::Code(255));
        {
            let mut s = reader.lock();
            s.ended = Some(ended);
            let _ = s.tx.send(Event::Ended(ended));
        }
        let mut all = kept();
        if all.get(&name).is_some_and(|t| Arc::ptr_eq(t, &reader)) {
            all.remove(&name);
        }
    });
    Some(t)
}

impl Terminal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its process id (signals go to its process group).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Its pty's master side (for `window-change`).
    pub(crate) fn master(&self) -> Arc<PtyMaster> {
        self.master.clone()
    }

    /// Attaches `channel`: the held output, then the live output until the
    /// process ends (then its exit status, EOF and close, as any session's)
    /// or the channel goes (`closed` changes or drops), which detaches it.
    /// Input from `stdin` goes to the terminal; `size` (columns, rows) is
    /// set first, so the program redraws for the new window.
    pub(crate) fn attach(
        self: &Arc<Self>,
        handle: Handle,
        channel: ChannelId,
        stdin: StdinReceiver,
        mut closed: tokio::sync::watch::Receiver<()>,
        size: Option<(u16, u16)>,
    ) {
        let (replay, mut rx, ended) = {
            let mut s = self.lock();
            s.viewers += 1;
            (Vec::from(s.ring.clone()), s.tx.subscribe(), s.ended)
        };
        if let Some((cols, rows)) = size {
            let _ = self.master.resize(cols, rows);
        }
        self.master.clone().feed(stdin);
        let t = self.clone();
        tokio::spawn(async move {
            let mut outcome = ended;
            let sent = replay.is_empty() || handle.data(channel, replay).await.is_ok();
            if sent && outcome.is_none() {
                outcome = loop {
                    tokio::select! {
                        ev = rx.recv() => match ev {
                            Ok(Event::Output(b)) => {
                                if handle.data(channel, b.to_vec()).await.is_err() {
                                    break None;
                                }
                            }
                            Ok(Event::Ended(e)) => break Some(e),
                            // a watcher too slow for the burst: it missed some, the ring has the rest
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => break None,
                        },
                        _ = closed.changed() => break None,
                    }
                };
            }
            t.detach();
            if let Some(exit) = outcome {
                crate::reaper::report_exit(&handle, channel, Some(exit)).await;
            }
        });
    }

    /// One viewer left; the last one starts the linger timer.
    fn detach(self: &Arc<Self>) {
        let mut s = self.lock();
        s.viewers = s.viewers.saturating_sub(1);
        if s.viewers > 0 || s.ended.is_some() {
            return;
        }
        s.left += 1;
        let left = s.left;
        let t = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            let s = t.lock();
            if s.viewers == 0 && s.left == left && s.ended.is_none() {
                // SAFETY: signals the terminal's process group; no memory is touched.
                unsafe {
                    libc::kill(-t.pid, libc::SIGHUP);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_plain() {
        assert!(valid_id("a"));
        assert!(valid_id("dash-7f3a_B"));
        assert!(valid_id(&"x".repeat(64)));
        assert!(!valid_id(""));
        assert!(!valid_id(&"x".repeat(65)));
        assert!(!valid_id("a/b"));
        assert!(!valid_id("a b"));
    }
}
