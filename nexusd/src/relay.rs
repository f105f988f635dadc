//! The SSH relay: a process of its own (`nexusd --relay`, one per data
//! directory) that listens on each running workspace's SSH port on
//! 127.0.0.1 and hands every client to the workspace's agent through the
//! agent's relay socket, after a PROXY protocol v2 header naming the
//! client's address ([`header`], `nexus_sdk::relay`). So the agent's
//! `from=` options, failure delays and logs see each client's own address,
//! where Docker's userland proxy showed them all one.
//!
//! The relay outlives daemon restarts, as SSH must (`DESIGN.md`: a running
//! workspace answers SSH while the daemon is down); the daemon starts one
//! when none answers ([`Relay::add`]) and tells it which ports lead where
//! over a Unix socket, `DATA_DIR/relay.sock`: one JSON request a
//! connection, one JSON line back. The relay ends when that socket is
//! removed (its data directory deleted) or it is sent SIGTERM.
//!
//! The agent's relay socket is `DATA_DIR/run/<workspace id>/ssh.sock` on the
//! host, bound into the container at `nexus_sdk::relay::SOCKET_DIR`.

use nexus_sdk::relay::{SECRET_LEN, SECRET_TLV};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener, UnixStream};

/// The flag that makes `nexusd` the relay.
pub const RELAY_FLAG: &str = "--relay";
/// Bytes each direction of a relayed connection copies at once.
const COPY_BUFFER: usize = 256 * 1024;
/// How often the relay checks that its control socket is still there.
const ALIVE_CHECK: Duration = Duration::from_secs(5);

/// The secret of the workspace whose host key (OpenSSH private key text)
/// is `host_key`: SHA-256 of a fixed label and the key, so the daemon
/// finds it again after a restart without storing it, and no one without
/// the key can guess it.
pub fn secret_of(host_key: &str) -> [u8; SECRET_LEN] {
    let mut h = sha2::Sha256::new();
    h.update(b"nexus relay secret\0");
    h.update(host_key.as_bytes());
    h.finalize().into()
}

/// The host directory bound at `nexus_sdk::relay::SOCKET_DIR` in workspace
/// `id`'s container.
pub fn socket_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("run").join(id)
}

/// The agent's relay socket of workspace `id`, as the host sees it.
pub fn socket_path(data_dir: &Path, id: &str) -> PathBuf {
    socket_dir(data_dir, id).join("ssh.sock")
}

/// The longest path a Unix socket address holds (`sun_path`, with its NUL).
const SOCKET_PATH_MAX: usize = 107;

/// Whether the relay's sockets fit under `data_dir`: a Unix socket's path
/// holds at most 107 bytes. When they do not, the daemon logs why and has
/// Docker publish new workspaces' ports instead (clients' addresses are
/// then not seen).
pub fn usable_with(data_dir: &Path) -> bool {
    let longest = socket_path(data_dir, "0123456789abcdef");
    let fits = longest.as_os_str().len() <= SOCKET_PATH_MAX;
    if !fits {
        tracing::warn!(
            "the data directory {} is too deep for the SSH relay's sockets ({} bytes at most): new workspaces' SSH ports are published by Docker, and their clients' addresses are not seen; give a shorter --data-dir",
            data_dir.display(),
            SOCKET_PATH_MAX
        );
    }
    fits
}

/// The PROXY protocol v2 header for a client at `client` that connected to
/// `local`, carrying `secret`.
pub fn header(client: SocketAddr, local: SocketAddr, secret: &[u8]) -> Vec<u8> {
    use ppp::v2::{Builder, Command, Protocol, Version};
    // mixed families (an IPv4 client of an IPv6 listener) are given as IPv6
    let (client, local) = match (client, local) {
        (SocketAddr::V4(c), SocketAddr::V6(l)) => (SocketAddr::from((c.ip().to_ipv6_mapped(), c.port())), l.into()),
        (SocketAddr::V6(c), SocketAddr::V4(l)) => (c.into(), SocketAddr::from((l.ip().to_ipv6_mapped(), l.port()))),
        pair => pair,
    };
    Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (client, local))
        .write_tlv(SECRET_TLV, secret)
        .and_then(Builder::build)
        // only a TLV longer than 64 KiB fails, and the secret is 32 bytes
        .unwrap_or_default()
}

/// Connects to the agent's relay socket `socket` and sends the header for
/// `client` (connected to `local`): the stream then carries SSH.
pub async fn connect(
    socket: &Path,
    client: SocketAddr,
    local: SocketAddr,
    secret: &[u8],
) -> std::io::Result<UnixStream> {
    let mut stream = UnixStream::connect(socket).await?;
    stream.write_all(&header(client, local, secret)).await?;
    Ok(stream)
}

/// A request on the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum Request {
    /// Listen on 127.0.0.1:`port` and relay to `socket` with `secret` (hex);
    /// a port already relayed to the same socket is left as it is.
    Add { port: u16, socket: PathBuf, secret: String },
    /// Stop listening on `port`; connections in flight go on.
    Remove { port: u16 },
    /// The workspace of `port` sleeps (paused or stopped while idle): a
    /// client that sends the SSH banner is held while the daemon wakes it
    /// (over `DATA_DIR/wake.sock`); anything else is dropped. An `Add`
    /// of the port ends the sleep.
    Sleep { port: u16 },
}

/// The answer to a [`Request`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Whether the port is in use by another process.
    #[serde(default)]
    taken: bool,
}

/// What telling the relay can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Another process listens on the port.
    #[error("{0}")]
    PortTaken(String),
    /// The relay cannot be started or reached, or refused the request.
    #[error("the SSH relay: {0}")]
    Failed(String),
}

/// The daemon's handle on the relay of its data directory.
#[derive(Debug, Clone)]
pub struct Relay {
    data_dir: PathBuf,
    program: PathBuf,
}

impl Relay {
    /// The relay of `data_dir`, started as `program --relay --data-dir
    /// DIR` when none answers (`program`: this `nexusd`).
    pub fn new(data_dir: PathBuf, program: PathBuf) -> Relay {
        Relay { data_dir, program }
    }

    /// The relay's control socket.
    pub fn control_path(&self) -> PathBuf {
        self.data_dir.join("relay.sock")
    }

    /// Has the relay listen on 127.0.0.1:`port` for workspace `id`'s agent
    /// (relay socket under [`socket_dir`]) with `secret`.
    ///
    /// Errors: [`RelayError::PortTaken`] when another process has the port,
    /// [`RelayError::Failed`] when the relay cannot be started or reached.
    pub async fn add(&self, port: u16, id: &str, secret: &[u8]) -> Result<(), RelayError> {
        let stream = match UnixStream::connect(self.control_path()).await {
            Ok(s) => s,
            Err(_) => {
                self.start().await?;
                UnixStream::connect(self.control_path())
                    .await
                    .map_err(|e| RelayError::Failed(format!("cannot reach it after starting it: {e}")))?
            }
        };
        let request = Request::Add {
            port,
            socket: socket_path(&self.data_dir, id),
            secret: hex::encode(secret),
        };
        ask(stream, &request).await
    }

    /// Has the relay hold `port`'s clients until the daemon wakes its
    /// workspace ([`Request::Sleep`]).
    ///
    /// Errors: [`RelayError::Failed`] when no relay runs or it does not
    /// relay the port.
    pub async fn sleep(&self, port: u16) -> Result<(), RelayError> {
        let stream = UnixStream::connect(self.control_path())
            .await
            .map_err(|e| RelayError::Failed(format!("no relay answers: {e}")))?;
        ask(stream, &Request::Sleep { port }).await
    }

    /// Has the relay stop listening on `port` (nothing when no relay runs:
    /// then nothing listens).
    pub async fn remove(&self, port: u16) -> Result<(), RelayError> {
        match UnixStream::connect(self.control_path()).await {
            Ok(stream) => ask(stream, &Request::Remove { port }).await,
            Err(_) => Ok(()),
        }
    }

    /// Starts the relay, detached from this process (a session of its own,
    /// its log in `DATA_DIR/relay.log`), and waits until it listens; when
    /// another process started one meanwhile, that one serves.
    async fn start(&self) -> Result<(), RelayError> {
        use std::os::unix::process::CommandExt;
        let failed = |e: std::io::Error| RelayError::Failed(format!("cannot start {}: {e}", self.program.display()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("relay.log"))
            .map_err(failed)?;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.arg(RELAY_FLAG)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        // SAFETY: setsid(2) only, between fork and exec: the relay leaves our
        // session and process group, so signals meant for the daemon's
        // terminal or group do not reach it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(failed)?;
        let Some(stdout) = child.stdout.take() else {
            return Err(RelayError::Failed("no pipe to the relay".into()));
        };
        // the relay writes one line once it listens, or exits (another holds the lock)
        let ready = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(10), ready)
            .await
            .map_err(|_| RelayError::Failed("it did not start within 10 s".into()))?
            .unwrap_or_default();
        // reap it in the background should it end while we live
        std::thread::spawn(move || child.wait());
        if line.trim() == "ready" || UnixStream::connect(self.control_path()).await.is_ok() {
            Ok(())
        } else {
            Err(RelayError::Failed(format!(
                "it did not start: see {}",
                self.data_dir.join("relay.log").display()
            )))
        }
    }
}

/// Sends `request` on the control connection `stream` and reads the answer.
async fn ask(stream: UnixStream, request: &Request) -> Result<(), RelayError> {
    let failed = |e: std::io::Error| RelayError::Failed(e.to_string());
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(|e| RelayError::Failed(e.to_string()))?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(failed)?;
    let mut answer = String::new();
    BufReader::new(read).read_line(&mut answer).await.map_err(failed)?;
    let reply: Reply =
        serde_json::from_str(&answer).map_err(|e| RelayError::Failed(format!("unreadable answer {answer:?}: {e}")))?;
    match reply.error {
        None => Ok(()),
        Some(e) if reply.taken => Err(RelayError::PortTaken(e)),
        Some(e) => Err(RelayError::Failed(e)),
    }
}

/// One relayed port.
struct Listening {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
    /// Whether its workspace sleeps ([`Request::Sleep`]).
    asleep: Arc<AtomicBool>,
}

impl Listening {
    /// Stops accepting and waits until the listener is closed.
    async fn end(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// The relay process: holds `data_dir/relay.lock` (writing its pid there),
/// serves the control socket, calls `ready` once it does, and relays until
/// the control socket is gone or SIGTERM. Returns at once, successfully,
/// when another relay holds the lock.
pub async fn serve(data_dir: &Path, ready: impl FnOnce() -> std::io::Result<()>) -> anyhow::Result<()> {
    use std::io::Write;
    let lock_path = data_dir.join("relay.lock");
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)?;
    if lock.try_lock().is_err() {
        tracing::info!("another relay serves {}", data_dir.display());
        return Ok(());
    }
    lock.set_len(0)?;
    writeln!(lock, "{}", std::process::id())?;
    let control_path = data_dir.join("relay.sock");
    let _ = std::fs::remove_file(&control_path);
    let control = UnixListener::bind(&control_path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&control_path, std::fs::Permissions::from_mode(0o600))?;
    }
    ready()?;
    tracing::info!(
        pid = std::process::id(),
        "relaying SSH ports for {}",
        data_dir.display()
    );
    let ports: Arc<Mutex<HashMap<u16, Listening>>> = Arc::default();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut alive = tokio::time::interval(ALIVE_CHECK);
    loop {
        tokio::select! {
            accepted = control.accept() => {
                if let Ok((stream, _)) = accepted {
                    let ports = ports.clone();
                    let data_dir = data_dir.to_path_buf();
                    tokio::spawn(async move { control_connection(stream, ports, data_dir).await });
                }
            }
            _ = alive.tick() => {
                if !control_path.exists() {
                    tracing::info!("{} is gone: ending", control_path.display());
                    break;
                }
            }
            _ = term.recv() => break,
        }
    }
    Ok(())
}

/// Answers one control request.
async fn control_connection(stream: UnixStream, ports: Arc<Mutex<HashMap<u16, Listening>>>, data_dir: PathBuf) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).await.is_err() {
        return;
    }
    let reply = match serde_json::from_str::<Request>(&line) {
        Err(e) => Reply {
            error: Some(format!("unreadable request: {e}")),
            taken: false,
        },
        Ok(Request::Remove { port }) => {
            let listening = ports.lock().unwrap_or_else(PoisonError::into_inner).remove(&port);
            if let Some(l) = listening {
                l.end().await;
                tracing::info!(port, "stopped relaying");
            }
            Reply::default()
        }
        Ok(Request::Add { port, socket, secret }) => add(&ports, port, socket, &secret, &data_dir).await,
        Ok(Request::Sleep { port }) => match ports.lock().unwrap_or_else(PoisonError::into_inner).get(&port) {
            Some(l) => {
                l.asleep.store(true, Ordering::SeqCst);
                tracing::info!(port, "asleep: the SSH banner wakes it");
                Reply::default()
            }
            None => Reply {
                error: Some(format!("port {port} is not relayed")),
                taken: false,
            },
        },
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
}

async fn add(
    ports: &Arc<Mutex<HashMap<u16, Listening>>>,
    port: u16,
    socket: PathBuf,
    secret: &str,
    data_dir: &Path,
) -> Reply {
    let Some(secret) = hex::decode(secret).ok().filter(|s| s.len() == SECRET_LEN) else {
        return Reply {
            error: Some("the secret is not 64 hex digits".into()),
            taken: false,
        };
    };
    let old = ports.lock().unwrap_or_else(PoisonError::into_inner).remove(&port);
    if let Some(old) = old {
        if old.socket == socket && !old.task.is_finished() {
            if old.asleep.swap(false, Ordering::SeqCst) {
                tracing::info!(port, "awake");
            }
            ports.lock().unwrap_or_else(PoisonError::into_inner).insert(port, old);
            return Reply::default();
        }
        old.end().await;
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            return Reply {
                taken: e.kind() == std::io::ErrorKind::AddrInUse,
                error: Some(format!("cannot listen on 127.0.0.1:{port}: {e}")),
            };
        }
    };
    tracing::info!(port, socket = %socket.display(), "relaying");
    let target = socket.clone();
    let asleep = Arc::new(AtomicBool::new(false));
    let wake = Waking {
        asleep: asleep.clone(),
        socket: data_dir.join(WAKE_SOCKET),
        port,
    };
    let task = tokio::spawn(async move { relay_port(listener, target, Arc::from(secret), Arc::new(wake)).await });
    ports
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(port, Listening { socket, task, asleep });
    Reply::default()
}

/// The daemon's socket that wakes a sleeping workspace: a line
/// `{"port": N}` in, a line `{}` (or `{"error": "…"}`) out once it answers SSH.
pub const WAKE_SOCKET: &str = "wake.sock";

/// How long a client of a sleeping port has to send the SSH banner.
const BANNER_WAIT: Duration = Duration::from_secs(10);
/// How long waking a workspace may take.
const WAKE_WAIT: Duration = Duration::from_secs(60);

/// What a relayed port needs to wake its workspace.
struct Waking {
    asleep: Arc<AtomicBool>,
    socket: PathBuf,
    port: u16,
}

impl Waking {
    /// When the workspace sleeps: reads the client's first bytes, which
    /// must begin the SSH banner (`SSH-`), and has the daemon wake the
    /// workspace. Returns the bytes read (to pass on), or `None` to drop
    /// the client (silent, not SSH, or the wake failed).
    async fn first(&self, client: &mut tokio::net::TcpStream, peer: SocketAddr) -> Option<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        if !self.asleep.load(Ordering::SeqCst) {
            return Some(Vec::new());
        }
        let mut got = Vec::new();
        let read = async {
            let mut buf = [0u8; 256];
            while got.len() < 4 {
                let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
                got.extend_from_slice(&buf[..n]);
            }
            Some(())
        };
        tokio::time::timeout(BANNER_WAIT, read).await.ok().flatten()?;
        if !got.starts_with(b"SSH-") {
            tracing::info!(port = self.port, "{peer} is not an SSH client: the workspace sleeps on");
            return None;
        }
        tracing::info!(port = self.port, "{peer} wakes the workspace");
        match tokio::time::timeout(WAKE_WAIT, self.ask()).await {
            Ok(Ok(())) => Some(got),
            Ok(Err(e)) => {
                tracing::warn!(port = self.port, "cannot wake the workspace: {e}");
                None
            }
            Err(_) => {
                tracing::warn!(port = self.port, "the workspace did not wake within {WAKE_WAIT:?}");
                None
            }
        }
    }

    /// Asks the daemon to wake the port's workspace.
    async fn ask(&self) -> std::io::Result<()> {
        let stream = UnixStream::connect(&self.socket).await?;
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{{\"port\":{}}}\n", self.port).as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await?;
        let reply: Reply = serde_json::from_str(&line).unwrap_or(Reply {
            error: Some("no answer".into()),
            taken: false,
        });
        match reply.error {
            None => Ok(()),
            Some(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// The daemon's side of [`WAKE_SOCKET`]: answers each line `{"port": N}`
/// with `wake(N)`'s outcome.
pub async fn serve_wakes<F, Fut>(data_dir: &Path, wake: F) -> std::io::Result<()>
where
    F: Fn(u16) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let path = data_dir.join(WAKE_SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let wake = wake.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(read).read_line(&mut line).await.is_err() {
                return;
            }
            let port = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v.get("port").and_then(|p| p.as_u64()))
                .and_then(|p| u16::try_from(p).ok());
            let reply = match port {
                Some(port) => wake(port).await.err(),
                None => Some("unreadable request".to_string()),
            };
            let mut text = serde_json::to_string(&Reply {
                error: reply,
                taken: false,
            })
            .unwrap_or_default();
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}

/// Accepts on `listener` for as long as the port is relayed, each client
/// in a task of its own.
async fn relay_port(listener: TcpListener, socket: PathBuf, secret: Arc<[u8]>, wake: Arc<Waking>) {
    let socket: Arc<Path> = Arc::from(socket);
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("cannot accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (socket, secret, wake) = (socket.clone(), secret.clone(), wake.clone());
        tokio::spawn(async move {
            let mut client = client;
            let Some(first) = wake.first(&mut client, peer).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let local = client
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
            let mut agent = match connect(&socket, peer, local, &secret).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!("{peer}: the agent at {} does not answer: {e}", socket.display());
                    return;
                }
            };
            if !first.is_empty() && agent.write_all(&first).await.is_err() {
                return;
            }
            let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut agent, COPY_BUFFER, COPY_BUFFER).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_too_deep_for_sockets_is_refused() {
        assert!(usable_with(Path::new("/home/ana/.local/share/nexus")));
        assert!(!usable_with(&Path::new("/").join("d".repeat(80))));
    }

    #[test]
    fn the_secret_is_fixed_by_the_host_key() {
        assert_eq!(secret_of("key one"), secret_of("key one"));
        assert_ne!(secret_of("key one"), secret_of("key two"));
    }

    #[test]
    fn the_header_names_the_client_and_carries_the_secret() {
        let client: SocketAddr = "127.0.0.2:40000".parse().expect("address");
        let local: SocketAddr = "127.0.0.1:32800".parse().expect("address");
        let h = header(client, local, &[9u8; SECRET_LEN]);
        let parsed = ppp::v2::Header::try_from(h.as_slice()).expect("a v2 header");
        assert_eq!(parsed.command, ppp::v2::Command::Proxy);
        match parsed.addresses {
            ppp::v2::Addresses::IPv4(a) => {
                assert_eq!(SocketAddr::from((a.source_address, a.source_port)), client)
            }
            other => panic!("IPv4 addresses expected: {other:?}"),
        }
        let tlv = parsed
            .tlvs()
            .filter_map(Result::ok)
            .find(|t| t.kind == SECRET_TLV)
            .expect("secret");
        assert_eq!(&tlv.value[..], &[9u8; SECRET_LEN]);
    }

    #[tokio::test]
    async fn the_relay_answers_adds_and_removes_and_reports_a_taken_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        let served = data.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let relay_task = tokio::spawn(async move {
            serve(&served, move || {
                let _ = tx.send(());
                Ok(())
            })
            .await
        });
        rx.await.expect("the relay listens");
        let relay = Relay::new(data.clone(), PathBuf::from("/nonexistent"));
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken = held.local_addr().expect("address").port();
        let e = relay.add(taken, "abc", &[1u8; SECRET_LEN]).await.expect_err("taken");
        assert!(matches!(e, RelayError::PortTaken(_)), "{e}");
        drop(held);
        relay.add(taken, "abc", &[1u8; SECRET_LEN]).await.expect("added");
        relay.add(taken, "abc", &[1u8; SECRET_LEN]).await.expect("added again");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", taken)).is_err(),
            "the relay listens"
        );
        relay.remove(taken).await.expect("removed");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", taken)).is_ok(),
            "the port is free again after remove"
        );
        relay_task.abort();
    }
}
