//! Flow control of client input: the queue between a session channel and
//! its process's stdin (see [`StdinQueue`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc};

/// Bytes of client input waiting for a process beyond which the session
/// loop waits for the process to read (unless its output is waiting).
const STDIN_HIGH_WATER: usize = 64 * 1024 * 1024;
/// The most queued input one write to the process carries.
const STDIN_BATCH: usize = 1024 * 1024;

/// Client input on its way to a process's stdin.
///
/// russh gives no window-based flow control (it re-opens the window as data
/// arrives), so the only backpressure is to hold the session loop — which
/// also carries the process's output. Holding it while that output waits
/// would deadlock a process that writes before it reads (`cat` of a large
/// stream). So input is queued, and the loop is held only past
/// [`STDIN_HIGH_WATER`] bytes *and* while no output of the process waits.
#[derive(Clone)]
pub(crate) struct StdinQueue {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    counts: Arc<FlowCounts>,
}

/// Shared counts of one session's data flow.
#[derive(Default)]
pub(crate) struct FlowCounts {
    /// Input bytes queued but not yet written to the process.
    queued: AtomicUsize,
    /// Output sends waiting on the session loop right now.
    output_waiting: AtomicUsize,
    /// Told when input was written, an output send began, or the process's
    /// side of the queue closed: what a held session loop waits for.
    changed: Notify,
}

/// Marks an output send in flight for as long as it lives.
pub(crate) struct OutputWaiting<'a>(&'a FlowCounts);

impl<'a> OutputWaiting<'a> {
    pub(crate) fn new(c: &'a FlowCounts) -> Self {
        c.output_waiting.fetch_add(1, Ordering::AcqRel);
        c.changed.notify_waiters();
        OutputWaiting(c)
    }
}

impl Drop for OutputWaiting<'_> {
    fn drop(&mut self) {
        self.0.output_waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The receiving end of a [`StdinQueue`].
pub(crate) struct StdinReceiver {
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    /// The session's flow counts, shared with the output pumps.
    pub(crate) counts: Arc<FlowCounts>,
}

/// A connected queue.
pub(crate) fn stdin_queue() -> (StdinQueue, StdinReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let counts = Arc::new(FlowCounts::default());
    (
        StdinQueue {
            tx,
            counts: counts.clone(),
        },
        StdinReceiver { rx, counts },
    )
}

impl StdinQueue {
    /// Queues `data` for the process, first waiting while more than
    /// [`STDIN_HIGH_WATER`] bytes wait and none of its output does.
    pub(crate) async fn push(&self, data: &[u8]) {
        let c = &self.counts;
        loop {
            let changed = c.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if c.queued.load(Ordering::Acquire) <= STDIN_HIGH_WATER
                || c.output_waiting.load(Ordering::Acquire) > 0
                || self.tx.is_closed()
            {
                break;
            }
            changed.await;
        }
        c.queued.fetch_add(data.len(), Ordering::AcqRel);
        let _ = self.tx.send(data.to_vec());
    }
}

impl StdinReceiver {
    /// The input queued now, at least one piece and up to about
    /// [`STDIN_BATCH`] bytes joined, so the process is written to (and
    /// woken) once for many SSH packets; `None` once the queue is closed
    /// and empty.
    pub(crate) async fn recv(&mut self) -> Option<Vec<u8>> {
        let mut batch = self.rx.recv().await?;
        while batch.len() < STDIN_BATCH {
            match self.rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    /// Marks `len` bytes as written to the process.
    pub(crate) fn written(&self, len: usize) {
        self.counts.queued.fetch_sub(len, Ordering::AcqRel);
        self.counts.changed.notify_waiters();
    }
}

impl Drop for StdinReceiver {
    fn drop(&mut self) {
        // a session loop held for this process must not wait on it any more
        self.rx.close();
        self.counts.changed.notify_waiters();
    }
}
