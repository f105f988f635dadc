//! The daemon's SSH client to workspace agents (russh): one pooled connection
//! per running workspace, authenticated with the daemon's key and pinned to
//! the workspace's host key; each exec is a channel on it, not a `docker exec`.

use crate::error::WorkspaceError;
use russh::ChannelMsg;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// Exit code reported when a command could not be run to its end (as
/// OpenSSH's `ssh` exits 255 when the connection fails).
pub const EXEC_FAILED: i32 = 255;

/// Verifies the server against the pinned host key.
struct Pinned {
    host_key: PublicKey,
}

impl russh::client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data() == self.host_key.key_data(),
            _ => false,
        })
    }
}

type Conn = Arc<russh::client::Handle<Pinned>>;

/// Where and how to reach one workspace's agent.
#[derive(Debug, Clone)]
pub struct Target {
    /// Workspace id (the pool key).
    pub id: String,
    /// Host port of its SSH server on 127.0.0.1.
    pub port: u16,
    /// Its relay secret (`crate::relay::secret_of`) when its agent has a
    /// relay socket: the daemon then connects there, not to `port`, so it
    /// needs neither the relay nor Docker's proxy.
    pub relay_secret: Option<[u8; nexus_sdk::relay::SECRET_LEN]>,
    /// User to log in as.
    pub user: String,
    /// Its host public key (OpenSSH line).
    pub host_public_key: String,
}

/// The connection pool, with one SFTP session per workspace beside it.
pub struct AgentPool {
    key: Arc<PrivateKey>,
    /// The data directory, under which agents' relay sockets are.
    data_dir: std::path::PathBuf,
    /// Keyed by workspace id and user.
    conns: Mutex<HashMap<(String, String), Conn>>,
    sftp: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<russh_sftp::client::SftpSession>>>>>,
}

impl AgentPool {
    /// Pooled connections now (a workspace may have one per user).
    pub async fn connections(&self) -> usize {
        self.conns.lock().await.len()
    }
}

impl std::fmt::Debug for AgentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentPool")
    }
}

/// What talking to a workspace's agent can fail with. Callers match it
/// (`open_with` turns `AuthRefused` into "no such user"); at the layer's
/// edge it becomes a [`WorkspaceError`] (`AgentUnavailable`,
/// `InvalidParams` or `Internal`).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent does not answer, or the connection broke.
    #[error("{0}")]
    Unavailable(String),
    /// The agent refused the daemon's key for `user`: the container has no
    /// such user (the agent authorizes the daemon's key for every user).
    #[error("the agent refused the daemon's key for user {user}")]
    AuthRefused {
        /// The user the daemon tried to log in as.
        user: String,
    },
    /// Nothing in the container accepts connections on `port`.
    #[error("nothing in the workspace accepts connections on port {port}: start the server first")]
    NothingListening {
        /// The container port.
        port: u16,
    },
    /// The task driving a channel ended without an answer (a daemon bug).
    #[error("channel task failed: {0}")]
    TaskFailed(String),
}

/// `Result` of the agent client.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;

impl From<AgentError> for WorkspaceError {
    fn from(e: AgentError) -> WorkspaceError {
        match e {
            AgentError::Unavailable(_) | AgentError::AuthRefused { .. } => {
                WorkspaceError::AgentUnavailable(e.to_string())
            }
            AgentError::NothingListening { .. } => WorkspaceError::InvalidParams(e.to_string()),
            AgentError::TaskFailed(_) => WorkspaceError::Internal(e.to_string()),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> AgentError {
    AgentError::Unavailable(e.to_string())
}

/// Quotes `arg` for a POSIX shell.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// The shell command line that runs `argv` in `cwd` with `env` added, in any
/// POSIX shell (no `env` binary needed).
pub fn command_line(argv: &[String], cwd: Option<&str>, env: &[(String, String)]) -> String {
    let mut line = String::new();
    if let Some(dir) = cwd {
        line.push_str(&format!("cd -- {} && ", shell_quote(dir)));
    }
    for (k, v) in env {
        line.push_str(&format!("{k}={} ", shell_quote(v)));
    }
    line.push_str("exec");
    for a in argv {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line
}

impl AgentPool {
    /// A pool that logs in with `key`.
    pub fn new(key: PrivateKey, data_dir: std::path::PathBuf) -> AgentPool {
        AgentPool {
            key: Arc::new(key),
            data_dir,
            conns: Mutex::new(HashMap::new()),
            sftp: Mutex::new(HashMap::new()),
        }
    }

    async fn connect(&self, t: &Target) -> Result<Conn> {
        let host_key = PublicKey::from_openssh(&t.host_public_key).map_err(unavailable)?;
        let config = Arc::new(russh::client::Config {
            nodelay: true,
            keepalive_interval: Some(Duration::from_secs(30)),
            inactivity_timeout: None,
            // messages queued per channel for a reader that lags: with the
            // API's own queue, what a stalled `exec.stream` holds
            channel_buffer_size: 16,
            // the connection never leaves the host: AES-GCM runs on the CPU's
            // AES instructions, several times faster than ChaCha20 in software
            preferred: russh::Preferred {
                cipher: std::borrow::Cow::Borrowed(&[russh::cipher::AES_256_GCM, russh::cipher::CHACHA20_POLY1305]),
                ..Default::default()
            },
            ..Default::default()
        });
        let handler = Pinned { host_key };
        let connecting = async {
            match &t.relay_secret {
                Some(secret) => {
                    let socket = crate::relay::socket_path(&self.data_dir, &t.id);
                    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                    let local = std::net::SocketAddr::from(([127, 0, 0, 1], t.port));
                    let stream = crate::relay::connect(&socket, loopback, local, secret)
                        .await
                        .map_err(|e| unavailable(format!("{}: {e}", socket.display())))?;
                    russh::client::connect_stream(config, stream, handler)
                        .await
                        .map_err(unavailable)
                }
                None => russh::client::connect(config, ("127.0.0.1", t.port), handler)
                    .await
                    .map_err(unavailable),
            }
        };
        let mut handle = tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .map_err(|_| unavailable("timed out connecting"))??;
        let auth = handle
            .authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(self.key.clone(), None))
            .await
            .map_err(unavailable)?;
        if !auth.success() {
            return Err(AgentError::AuthRefused { user: t.user.clone() });
        }
        Ok(Arc::new(handle))
    }

    /// A live connection to `t`, reusing the pooled one.
    /// The pooled connection to `t`, connecting when there is none. The pool
    /// is locked only to look up and to insert, never while connecting, so a
    /// slow agent holds up no other workspace; of two racing connects to one
    /// workspace the later one is kept.
    async fn get(&self, t: &Target) -> Result<Conn> {
        let key = (t.id.clone(), t.user.clone());
        if let Some(c) = self.conns.lock().await.get(&key)
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let c = self.connect(t).await?;
        self.conns.lock().await.insert(key, c.clone());
        Ok(c)
    }

    /// Connects, retrying until `timeout`: how a new container's readiness is
    /// awaited (the SSH handshake proves the agent serves).
    pub async fn wait_ready(&self, t: &Target, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(5);
        loop {
            match self.get(t).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() + delay >= deadline => return Err(e),
                Err(_) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    /// The workspace's SFTP session (the agent's `sftp` subsystem, as the
    /// workspace user), opened on the pooled connection on first use.
    /// Concurrent first calls share one opening (a session each had left
    /// extra channels behind and stalled reads into timeouts); the pool's
    /// lock is not held while it opens, so other workspaces wait for nothing.
    pub async fn sftp(&self, t: &Target) -> Result<Arc<russh_sftp::client::SftpSession>> {
        let cell = self.sftp.lock().await.entry(t.id.clone()).or_default().clone();
        let session = cell
            .get_or_try_init(|| async {
                let conn = self.get(t).await?;
                let channel = conn.channel_open_session().await.map_err(unavailable)?;
                channel.request_subsystem(true, "sftp").await.map_err(unavailable)?;
                let session = russh_sftp::client::SftpSession::new(channel.into_stream())
                    .await
                    .map_err(unavailable)?;
                Ok::<_, AgentError>(Arc::new(session))
            })
            .await?;
        Ok(session.clone())
    }

    /// A `direct-tcpip` channel to `port` of `host` as the container
    /// resolves it (`127.0.0.1`: the container's loopback), for a host-side
    /// forward (`originator_port`: the local client's port).
    pub async fn direct_tcpip(
        &self,
        t: &Target,
        host: &str,
        port: u16,
        originator_port: u16,
    ) -> Result<russh::Channel<russh::client::Msg>> {
        let conn = self.get(t).await?;
        conn.channel_open_direct_tcpip(host, port as u32, "127.0.0.1", originator_port as u32)
            .await
            .map_err(unavailable)
    }

    /// Drops the SFTP session of workspace `id` (after a transport error).
    pub async fn forget_sftp(&self, id: &str) {
        self.sftp.lock().await.remove(id);
    }

    /// Drops the pooled connection of workspace `id`.
    pub async fn forget(&self, id: &str) {
        self.forget_sftp(id).await;
        let gone: Vec<Conn> = {
            let mut conns = self.conns.lock().await;
            let keys: Vec<_> = conns.keys().filter(|k| k.0 == id).cloned().collect();
            keys.iter().filter_map(|k| conns.remove(k)).collect()
        };
        for c in gone {
            let _ = c.disconnect(russh::Disconnect::ByApplication, "", "").await;
        }
    }

    /// Opens a session channel running `command` (a shell command line),
    /// on the pooled connection or, with `opts.dedicated`, on a connection of
    /// its own (so a reader that stalls the channel stalls nothing else).
    pub async fn open_exec(&self, t: &Target, command: &str, opts: &RunOptions) -> Result<OpenChannel> {
        let conn = if opts.dedicated {
            self.connect(t).await?
        } else {
            self.get(t).await?
        };
        let channel = conn.channel_open_session().await.map_err(unavailable)?;
        if let Some(size) = opts.pty {
            channel
                .request_pty(true, "xterm-256color", size.cols, size.rows, 0, 0, &[])
                .await
                .map_err(unavailable)?;
        }
        if let Some(id) = &opts.terminal {
            channel
                .set_env(false, "NEXUS_TERMINAL", id.as_str())
                .await
                .map_err(unavailable)?;
        }
        if command.is_empty() {
            channel.request_shell(true).await.map_err(unavailable)?;
        } else {
            channel.exec(true, command).await.map_err(unavailable)?;
        }
        if !opts.stdin {
            channel.eof().await.map_err(unavailable)?;
        }
        Ok(OpenChannel {
            channel,
            conn,
            dedicated: opts.dedicated,
            close_on_eof: false,
            kept: opts.terminal.is_some(),
        })
    }

    /// Opens a `direct-tcpip` channel to `port` on the container's loopback
    /// on a connection of its own, for a `tunnel.open`.
    pub async fn open_tunnel(&self, t: &Target, port: u16) -> Result<OpenChannel> {
        let conn = self.connect(t).await?;
        let channel = conn
            .channel_open_direct_tcpip("127.0.0.1", port as u32, "127.0.0.1", 0)
            .await
            .map_err(|e| match e {
                russh::Error::ChannelOpenFailure(_) => AgentError::NothingListening { port },
                e => unavailable(e),
            })?;
        Ok(OpenChannel {
            channel,
            conn,
            dedicated: true,
            close_on_eof: true,
            kept: false,
        })
    }
}

/// How [`AgentPool::open_exec`] runs a command.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run on a pseudo-terminal of this size.
    pub pty: Option<nexus_sdk::PtySize>,
    /// Keep stdin open for [`Control::Write`]; otherwise it is at its end at once.
    pub stdin: bool,
    /// SIGKILL after this long, and exit code 124.
    pub timeout: Option<Duration>,
    /// Use a connection of its own instead of the pooled one.
    pub dedicated: bool,
    /// A kept terminal's id, sent as `NEXUS_TERMINAL` (the agent's
    /// `terminals.rs`); with an empty command line, the login shell.
    pub terminal: Option<String>,
}

/// What a channel's controller asks of it (`exec.write`, `tunnel.close`, …).
#[derive(Debug)]
pub enum Control {
    /// Bytes for the remote end; `done` is told once they are sent (which
    /// waits for the SSH window: backpressure for writers).
    Write(Vec<u8>, tokio::sync::oneshot::Sender<()>),
    /// End of input.
    Eof,
    /// The pty's new size.
    Resize(nexus_sdk::PtySize),
    /// A signal for the process.
    Signal(russh::Sig),
}

/// A chunk of a channel's output.
#[derive(Debug)]
pub enum Output {
    /// Standard output (or a tunnel's bytes, or a pty's output).
    Stdout(Vec<u8>),
    /// Standard error.
    Stderr(Vec<u8>),
}

/// Splits a channel's output into lines (a helper's JSON lines).
#[derive(Default)]
pub struct Lines(Vec<u8>);

impl Lines {
    /// Adds `bytes`; returns the lines they complete, without their `\n`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.0.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(i) = self.0.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.0.drain(..=i).collect();
            out.push(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        out
    }
}

/// A channel carried to its end on a task of its own with nobody steering it
/// (`exec.run`, a hook, a watcher): its output waits in a bounded queue.
/// Dropping it closes the channel, which ends the remote process.
pub struct Unsteered {
    output: mpsc::Receiver<Output>,
    exit: tokio::task::JoinHandle<Result<Option<i32>>>,
    // `drive` closes a channel once every controller is gone, so this one
    // lives exactly as long as the channel should
    _control: mpsc::Sender<Control>,
}

impl Unsteered {
    /// The output, in order; `None` once the channel ended.
    pub fn output(&mut self) -> &mut mpsc::Receiver<Output> {
        &mut self.output
    }

    /// The exit status, as [`OpenChannel::drive`] returns it; await after the output ended.
    pub async fn exit(self) -> Result<Option<i32>> {
        self.exit.await.map_err(|e| AgentError::TaskFailed(e.to_string()))?
    }
}

/// An open channel and the connection it lives on.
pub struct OpenChannel {
    channel: russh::Channel<russh::client::Msg>,
    conn: Conn,
    dedicated: bool,
    /// End at the remote end's EOF (a tunnel: the server closed its socket)
    /// instead of waiting for an exit status and the channel's close.
    close_on_eof: bool,
    /// A kept terminal's channel: a caller that gives up closes it (the
    /// agent detaches), never hangs its process up.
    kept: bool,
}

impl OpenChannel {
    /// [`OpenChannel::drive`] on a task of its own with no controller (but a
    /// `timeout`), its output queued `buffer` chunks deep.
    pub fn spawn_unsteered(self, timeout: Option<Duration>, buffer: usize) -> Unsteered {
        let (tx, output) = mpsc::channel(buffer);
        let (control, controls) = mpsc::channel(1);
        Unsteered {
            output,
            exit: tokio::spawn(self.drive(timeout, tx, controls)),
            _control: control,
        }
    }

    /// Carries the channel to its end: output to `out` in order (awaiting
    /// room there, which holds the remote process back when the reader
    /// stalls), requests from `control` to the remote end. Returns the exit
    /// status (128+N for signal N; 124 after `timeout`; `None` when the
    /// channel closed without one, as tunnels do). When `out` is gone the
    /// channel is closed and [`EXEC_FAILED`] returned; when every
    /// sender of `control` is gone, the channel is closed too.
    pub async fn drive(
        self,
        timeout: Option<Duration>,
        out: mpsc::Sender<Output>,
        mut control: mpsc::Receiver<Control>,
    ) -> Result<Option<i32>> {
        let OpenChannel {
            channel,
            conn,
            dedicated,
            close_on_eof,
            kept,
        } = self;
        let (mut rd, wr) = channel.split();
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        let expired = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        let mut code: Option<i32> = None;
        let result = loop {
            tokio::select! {
                _ = &mut expired => {
                    let _ = wr.signal(russh::Sig::KILL).await;
                    let _ = wr.close().await;
                    break Ok(Some(124));
                }
                c = control.recv() => match c {
                    Some(Control::Write(bytes, done)) => {
                        if let Err(e) = wr.data(&bytes[..]).await {
                            break Err(unavailable(e));
                        }
                        let _ = done.send(());
                    }
                    Some(Control::Eof) => { let _ = wr.eof().await; }
                    Some(Control::Resize(size)) => { let _ = wr.window_change(size.cols, size.rows, 0, 0).await; }
                    Some(Control::Signal(sig)) => { let _ = wr.signal(sig).await; }
                    None => {
                        // every controller is gone: the caller gave up on the
                        // channel; hang up its process as a closed terminal
                        // would (a kept terminal only detaches)
                        if !kept {
                            let _ = wr.signal(russh::Sig::HUP).await;
                        }
                        let _ = wr.close().await;
                        break Ok(code);
                    }
                },
                msg = rd.wait() => {
                    let chunk = match msg {
                        None | Some(ChannelMsg::Close) => break Ok(code),
                        Some(ChannelMsg::Eof) if close_on_eof => {
                            let _ = wr.close().await;
                            break Ok(code);
                        }
                        Some(ChannelMsg::Data { data }) => Output::Stdout(data.to_vec()),
                        Some(ChannelMsg::ExtendedData { data, ext: 1 }) => Output::Stderr(data.to_vec()),
                        Some(ChannelMsg::ExitStatus { exit_status }) => { code = Some(exit_status as i32); continue; }
                        Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                            code = Some(128 + signal_number(&signal_name));
                            continue;
                        }
                        Some(_) => continue,
                    };
                    if out.send(chunk).await.is_err() {
                        if !kept {
                            let _ = wr.signal(russh::Sig::HUP).await;
                        }
                        let _ = wr.close().await;
                        break Ok(Some(code.unwrap_or(EXEC_FAILED)));
                    }
                }
            }
        };
        if dedicated {
            let _ = conn.disconnect(russh::Disconnect::ByApplication, "", "").await;
        }
        result
    }
}

/// The Linux number of exit signal `sig` (0 for one of no RFC 4254 name),
/// from the table all Nexus crates share ([`nexus_sdk::Signal`]).
fn signal_number(sig: &russh::Sig) -> i32 {
    use russh::Sig::*;
    let name = match sig {
        ABRT => "ABRT",
        ALRM => "ALRM",
        FPE => "FPE",
        HUP => "HUP",
        ILL => "ILL",
        INT => "INT",
        KILL => "KILL",
        PIPE => "PIPE",
        QUIT => "QUIT",
        SEGV => "SEGV",
        TERM => "TERM",
        USR1 => "USR1",
        Custom(name) => name,
    };
    nexus_sdk::Signal::from_name(name).map_or(0, nexus_sdk::Signal::number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_posix_shells() {
        assert_eq!(shell_quote("plain-arg_1.txt"), "plain-arg_1.txt");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a b;rm"), "'a b;rm'");
    }

    #[test]
    fn builds_command_lines() {
        let argv = vec!["echo".to_string(), "a b".to_string()];
        let env = vec![("X".to_string(), "1 2".to_string())];
        assert_eq!(
            command_line(&argv, Some("/w s"), &env),
            "cd -- '/w s' && X='1 2' exec echo 'a b'"
        );
        assert_eq!(command_line(&argv, None, &[]), "exec echo 'a b'");
    }
}
