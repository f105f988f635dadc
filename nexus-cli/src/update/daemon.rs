//! The local daemon across an update: found by its data directory's lock
//! file, drained with SIGTERM (it finishes calls in flight and closes its
//! store; workspaces, their containers and SSH sessions run on, the relay
//! outlives it), then started again from the new version with the same
//! command line, environment and log. Its health: the new process holds
//! the lock, publishes its address and answers `daemon.info` with the new
//! version.

use nexus_sdk::local;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a draining daemon may take to exit, and a new one to answer.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running daemon, as the kernel describes it.
#[derive(Debug, Clone)]
pub struct Running {
    /// Its process id.
    pub pid: u32,
    /// Its executable.
    pub exe: PathBuf,
    /// Its arguments after the program name.
    pub args: Vec<OsString>,
    /// Its environment.
    pub env: Vec<(OsString, OsString)>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// The file its standard output goes to, when it is a file.
    pub log: Option<PathBuf>,
}

/// The daemon stopped by the last [`restart`], to start again if the new
/// one fails.
static STOPPED: Mutex<Option<Running>> = Mutex::new(None);

/// The daemon of this user's data directory, if one runs.
pub fn find() -> Option<Running> {
    let dir = local::data_dir();
    let lock_path = dir.join("nexusd.lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .ok()?;
    if lock.try_lock().is_ok() {
        return None; // nobody holds it: no daemon
    }
    let pid: u32 = std::fs::read_to_string(&lock_path).ok()?.trim().parse().ok()?;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let exe = std::fs::read_link(proc.join("exe")).ok()?;
    let exe = PathBuf::from(exe.to_string_lossy().trim_end_matches(" (deleted)"));
    let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
    let args = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .skip(1)
        .map(|a| OsString::from(String::from_utf8_lossy(a).into_owned()))
        .collect();
    let environ = std::fs::read(proc.join("environ")).unwrap_or_default();
    let env = environ
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=').map(|(k, v)| (OsString::from(k), OsString::from(v)))
        })
        .collect();
    let cwd = std::fs::read_link(proc.join("cwd")).unwrap_or_else(|_| PathBuf::from("/"));
    let log = std::fs::read_link(proc.join("fd/1")).ok().filter(|p| p.is_file());
    Some(Running {
        pid,
        exe,
        args,
        env,
        cwd,
        log,
    })
}

fn alive(pid: u32) -> bool {
    // a zombie child of ours counts as gone
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Drains and stops the daemon `r`.
fn stop(r: &Running) -> Result<(), String> {
    // SAFETY: kill(2) with a pid read from the daemon's own lock file and checked in /proc.
    if unsafe { libc::kill(r.pid as i32, libc::SIGTERM) } != 0 {
        return Err(format!(
            "cannot signal nexusd (pid {}): {}",
            r.pid,
            std::io::Error::last_os_error()
        ));
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while alive(r.pid) {
        if Instant::now() > deadline {
            return Err(format!(
                "nexusd (pid {}) did not stop within {} s",
                r.pid,
                STOP_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts `exe` as `r` ran: its arguments, environment, directory and log.
fn spawn(exe: &Path, r: &Running) -> Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt;
    let log_path = r.log.clone().unwrap_or_else(|| local::data_dir().join("nexusd.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    std::process::Command::new(exe)
        .args(&r.args)
        .env_clear()
        .envs(r.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&r.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))
}

/// Waits until the daemon `child` holds the data directory, publishes its
/// address and answers `daemon.info` (with `version`, when given).
async fn healthy(child: &mut std::process::Child, version: Option<&str>) -> Result<(), String> {
    let dir = local::data_dir();
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the new nexusd exited ({status})"));
        }
        let holds = std::fs::read_to_string(dir.join("nexusd.lock"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            == Some(child.id());
        if holds && let Some(address) = local::published_address() {
            match std::fs::read_to_string(local::token_path()) {
                Ok(token) => match nexus_sdk::client::Client::connect(&address, token.trim()).await {
                    Ok(c) => match c.daemon_info().await {
                        Ok(info) if version.is_none_or(|v| v == info.version) => return Ok(()),
                        Ok(info) => return Err(format!("the new nexusd reports version {}", info.version)),
                        Err(e) => last = e.to_string(),
                    },
                    Err(e) => last = e.to_string(),
                },
                // no single-user token (team mode): answering on its port is the sign of life
                Err(_) => {
                    if tokio::net::TcpStream::connect(&address).await.is_ok() {
                        return Ok(());
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the new nexusd did not answer within {} s ({last})",
        START_TIMEOUT.as_secs()
    ))
}

/// Restarts the running daemon (if any) from `exe`, expecting `version`;
/// `Ok(false)` when no daemon runs. On failure the new process is killed
/// (the old one stays stopped until [`start_previous`]).
pub async fn restart(exe: &Path, version: &str) -> Result<bool, String> {
    let Some(r) = find() else {
        return Ok(false);
    };
    stop(&r)?;
    *STOPPED.lock().unwrap_or_else(|p| p.into_inner()) = Some(r.clone());
    let mut child = spawn(exe, &r)?;
    match healthy(&mut child, Some(version)).await {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

/// Starts the daemon the last [`restart`] stopped, from its own executable.
pub async fn start_previous() -> Result<(), String> {
    let Some(r) = STOPPED.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
        return Ok(());
    };
    let mut child = spawn(&r.exe, &r)?;
    healthy(&mut child, None).await
}

/// The running daemon's version and its workspaces' agent versions
/// (name, version or `None` when not recorded), if one answers.
pub async fn running_versions() -> Option<(String, Vec<(String, Option<String>)>)> {
    find()?;
    let address = local::published_address()?;
    let token = std::fs::read_to_string(local::token_path()).ok()?;
    let c = tokio::time::timeout(
        Duration::from_secs(2),
        nexus_sdk::client::Client::connect(&address, token.trim()),
    )
    .await
    .ok()?
    .ok()?;
    let version = c.daemon_info().await.ok()?.version;
    let agents = c
        .list()
        .await
        .map(|l| l.into_iter().map(|w| (w.name, w.agent_version)).collect())
        .unwrap_or_default();
    Some((version, agents))
}
