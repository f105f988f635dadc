//! Exit statuses of the processes the agent starts, and, as PID 1, the reaping
//! of every orphan in the container.
//!
//! One task owns `waitpid(-1)`: on every SIGCHLD it reaps all exited children
//! and hands each status to whoever registered that pid. Nothing else in the
//! agent may wait for a child (so no `tokio::process`).

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tokio::sync::oneshot;

/// Reports how a session's process ended on `channel` (`exit-status`, or
/// `exit-signal` for one a signal ended; nothing when unknown), then EOF
/// and close, in that order.
pub(crate) async fn report_exit(handle: &russh::server::Handle, channel: russh::ChannelId, exit: Option<Exit>) {
    match exit {
        Some(Exit::Code(code)) => {
            let _ = handle.exit_status_request(channel, code as u32).await;
        }
        Some(Exit::Signal(sig, core)) => {
            let _ = handle
                .exit_signal_request(channel, ssh_signal(sig), core, String::new(), String::new())
                .await;
        }
        None => {}
    }
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// Signal number `sig` by its RFC 4254 section 6.10 name, for `exit-signal`.
pub(crate) fn ssh_signal(sig: i32) -> russh::Sig {
    match nexus_sdk::Signal::from_number(sig) {
        // russh names the same signal on the wire from either form
        Some(s) => russh::Sig::Custom(s.name().to_string()),
        None => russh::Sig::Custom(format!("SIG{sig}")),
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal (number) ended it; `true` when it dumped core.
    Signal(i32, bool),
}

#[derive(Default)]
struct Table {
    waiting: HashMap<i32, oneshot::Sender<Exit>>,
    /// Statuses reaped before anyone registered their pid.
    early: HashMap<i32, Exit>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// Starts the reaping task. Call once, inside the runtime, before spawning.
pub fn start() -> std::io::Result<()> {
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    tokio::spawn(async move {
        loop {
            reap_all();
            if sigchld.recv().await.is_none() {
                return;
            }
        }
    });
    Ok(())
}

/// Reaps every exited child without blocking.
fn reap_all() {
    loop {
        let (pid, exit) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, core)) => (pid.as_raw(), Exit::Signal(sig as i32, core)),
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => continue,
        };
        let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
        match t.waiting.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(exit);
            }
            None => {
                // an orphan re-parented to us as PID 1, or a child whose
                // registration is just behind: keep it for `register`
                if t.early.len() < 4096 {
                    t.early.insert(pid, exit);
                }
            }
        }
    }
}

/// Registers interest in `pid`'s exit; the receiver resolves once it is reaped.
pub fn register(pid: i32) -> oneshot::Receiver<Exit> {
    let (tx, rx) = oneshot::channel();
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    match t.early.remove(&pid) {
        Some(exit) => {
            let _ = tx.send(exit);
        }
        None => {
            t.waiting.insert(pid, tx);
        }
    }
    rx
}
