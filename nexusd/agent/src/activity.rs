//! The workspace's activity file: `activity` beside the relay socket
//! (`/.nexus/run/activity`, `DATA_DIR/run/<id>/activity` on the host). Its
//! modification time is the last second in which a channel moved data
//! (session input or output, SFTP, a forwarded connection) or the
//! container used more than [`CPU_BUSY`] of a core; the daemon pauses and
//! stops idle workspaces by it. Keep-alives and other global requests move
//! no channel data, so a silent session leaves the workspace idle.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The share of one core above which the container counts as busy.
const CPU_BUSY: f64 = 0.05;
/// How often the container's CPU use is sampled.
const CPU_SAMPLE: Duration = Duration::from_secs(5);

static FILE: OnceLock<PathBuf> = OnceLock::new();
/// The second of the last mark (Unix time).
static LAST: AtomicU64 = AtomicU64::new(0);

/// Makes the activity file beside the relay socket `socket` and marks now.
pub fn init(socket: &std::path::Path) {
    let Some(dir) = socket.parent() else { return };
    let path = dir.join("activity");
    if let Err(e) = std::fs::write(&path, b"") {
        tracing::warn!("cannot make {}: {e}", path.display());
        return;
    }
    let _ = FILE.set(path);
    tokio::spawn(watch_cpu());
}

/// Marks this second as active (at most one file update a second).
pub fn mark() {
    let Some(path) = FILE.get() else { return };
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if LAST.swap(secs, Ordering::Relaxed) == secs {
        return;
    }
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(now);
    }
}

/// The container's CPU time so far, in microseconds, from its cgroup
/// (v2 `cpu.stat`, else v1 `cpuacct.usage`).
fn cpu_usec() -> Option<u64> {
    if let Ok(stat) = std::fs::read_to_string("/sys/fs/cgroup/cpu.stat") {
        return stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok());
    }
    std::fs::read_to_string("/sys/fs/cgroup/cpuacct/cpuacct.usage")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ns| ns / 1000)
}

/// Marks activity whenever the container used more than [`CPU_BUSY`] of a
/// core over the last sample.
async fn watch_cpu() {
    let Some(mut before) = cpu_usec() else { return };
    let mut tick = tokio::time::interval(CPU_SAMPLE);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(now) = cpu_usec() else { return };
        let used = now.saturating_sub(before) as f64 / CPU_SAMPLE.as_micros() as f64;
        if used > CPU_BUSY {
            mark();
        }
        before = now;
    }
}

/// A stream that marks activity whenever bytes go through it either way.
pub struct Marked<S>(pub S);

impl<S: AsyncRead + Unpin> AsyncRead for Marked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.0).poll_read(cx, buf);
        if buf.filled().len() > before {
            mark();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Marked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.0).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            mark();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
