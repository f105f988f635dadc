//! The SSH server (russh): public-key authentication against the workspace's
//! authorized_keys, session channels with exec, shell, pty, env and
//! window-change (RFC 4254 section 6), exit-status and exit-signal.

use crate::config::AgentConfig;
use crate::process::{self, Io, PtyMaster, PtyRequest, Spec};
use crate::reaper::{self, Exit};
use crate::users::{self, User};
use russh::keys::PublicKey;
use russh::server::{Auth, ChannelOpenHandle, Handle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Sig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// What stops the agent from serving.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration file is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The host key cannot be read or parsed.
    #[error("cannot load the host key {path}: {reason}")]
    HostKey {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Listening or signal set-up failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Serves SSH until SIGTERM; as PID 1, passes SIGTERM on to every process first.
pub async fn run(config_path: &Path) -> Result<(), AgentError> {
    let config = Arc::new(AgentConfig::load(config_path)?);
    reaper::start()?;
    if let Some((uid, gid)) = config.remote_user_uid
        && let Err(e) = users::update_remote_user_uid(&config.remote_user, uid, gid)
    {
        tracing::warn!("cannot give {} uid {uid}: {e}", config.remote_user);
    }
    let key_text = std::fs::read_to_string(&config.host_key_path).map_err(|e| AgentError::HostKey {
        path: config.host_key_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let host_key = russh::keys::PrivateKey::from_openssh(&key_text).map_err(|e| AgentError::HostKey {
        path: config.host_key_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let ssh_config = russh::server::Config {
        server_id: russh::SshId::Standard(format!("SSH-2.0-NexusAgent_{}", env!("CARGO_PKG_VERSION")).into()),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(50),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await?;
    tracing::info!("serving SSH on port {}", config.port);
    let mut server = Server { config };
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    use russh::server::Server as _;
    let running = server.run_on_socket(Arc::new(ssh_config), &listener);
    tokio::select! {
        r = running => r?,
        _ = sigterm.recv() => shut_down().await,
        _ = sigint.recv() => shut_down().await,
    }
    Ok(())
}

/// As PID 1: SIGTERM to every process in the container, then wait up to 5 s
/// until none is left (orphans included), then SIGKILL what remains.
async fn shut_down() {
    if std::process::id() != 1 {
        return;
    }
    // SAFETY: kill(-1, SIGTERM) signals every process we may signal; no memory is touched.
    unsafe {
        libc::kill(-1, libc::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while others_alive() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: as above, with SIGKILL.
    unsafe {
        libc::kill(-1, libc::SIGKILL);
    }
}

/// Whether any process other than this one is in our PID namespace (as PID 1,
/// every other process is a descendant; zombies are reaped by `reaper`).
fn others_alive() -> bool {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.bytes().all(|b| b.is_ascii_digit()) && name != me
            })
        })
        .unwrap_or(false)
}

struct Server {
    config: Arc<AgentConfig>,
}

impl russh::server::Server for Server {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            config: self.config.clone(),
            peer,
            user: None,
            channels: HashMap::new(),
        }
    }
}

/// Per-channel state: requests seen before the process starts, then its handles.
#[derive(Default)]
struct ChannelState {
    env: Vec<(String, String)>,
    pty: Option<PtyRequest>,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    master: Option<Arc<PtyMaster>>,
    pid: Option<i32>,
}

/// One SSH connection.
pub struct Connection {
    config: Arc<AgentConfig>,
    peer: Option<SocketAddr>,
    user: Option<User>,
    channels: HashMap<ChannelId, ChannelState>,
}

/// Whether `key` is in the authorized_keys text (options are not yet honoured).
fn authorized(text: &str, key: &PublicKey) -> bool {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .any(|line| {
            // a line may start with options; the key is the first field that parses
            let fields: Vec<&str> = line.split_whitespace().collect();
            (0..fields.len()).any(|i| {
                let candidate = fields[i..].join(" ");
                PublicKey::from_openssh(&candidate)
                    .map(|k| k.key_data() == key.key_data())
                    .unwrap_or(false)
            })
        })
}

/// Environment variables a client may set (OpenSSH's default `AcceptEnv`).
fn accepted_env(name: &str) -> bool {
    name == "LANG" || name == "TERM" || name.starts_with("LC_")
}

/// Parses `/etc/environment` (pam_env's `KEY=value` lines, optionally quoted).
fn etc_environment() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/etc/environment") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("export ").unwrap_or(l);
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim_matches('"').trim_matches('\'');
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

impl Connection {
    fn check_key(&self, user: &str, key: &PublicKey) -> Option<User> {
        let text = std::fs::read_to_string(&self.config.authorized_keys_path).ok()?;
        if !authorized(&text, key) {
            tracing::warn!("refused key for {user} from {:?}", self.peer);
            return None;
        }
        let found = users::lookup(user);
        if found.is_none() {
            tracing::warn!("refused login as {user} from {:?}: no such user", self.peer);
        }
        found
    }

    /// The login environment of a session (HOME, USER, SHELL, PATH, the SSH_*
    /// variables; a terminal adds TERM and SSH_TTY), then `/etc/environment`, `remoteEnv` and the client's `env`.
    fn environment(&self, user: &User, state: &ChannelState) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), user.home.clone()),
            ("USER".into(), user.name.clone()),
            ("LOGNAME".into(), user.name.clone()),
            ("SHELL".into(), user.shell.clone()),
            ("PATH".into(), DEFAULT_PATH.into()),
        ];
        if let Some(peer) = self.peer {
            env.push((
                "SSH_CLIENT".into(),
                format!("{} {} {}", peer.ip(), peer.port(), self.config.port),
            ));
            env.push((
                "SSH_CONNECTION".into(),
                format!("{} {} 0.0.0.0 {}", peer.ip(), peer.port(), self.config.port),
            ));
        }
        env.extend(etc_environment());
        env.extend(self.config.remote_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(state.env.iter().cloned());
        // last wins
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<(String, String)> = env.into_iter().rev().filter(|(k, _)| seen.insert(k.clone())).collect();
        out.reverse();
        out
    }

    /// Starts the user's shell (`-c command`, or a login shell) on `channel`.
    fn start(&mut self, channel: ChannelId, command: Option<String>, session: &mut Session) -> bool {
        let Some(user) = self.user.clone() else {
            return false;
        };
        let handle = session.handle();
        let mut state = self.channels.remove(&channel).unwrap_or_default();
        let shell_name = Path::new(&user.shell)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sh")
            .to_string();
        let (args, arg0) = match &command {
            Some(c) => (vec!["-c".to_string(), c.clone()], None),
            None => (Vec::new(), Some(format!("-{shell_name}"))),
        };
        let groups = std::fs::read_to_string("/etc/group")
            .map(|g| users::groups_of(&g, &user))
            .unwrap_or_else(|_| vec![user.gid]);
        let mut spec = Spec {
            program: user.shell.clone(),
            args,
            arg0,
            env: Vec::new(),
            cwd: self.config.workspace_folder.display().to_string(),
            user: user.clone(),
            groups,
        };
        spec.env = self.environment(&user, &state);
        let started = match &state.pty {
            Some(pty) => process::spawn_pty(&mut spec, pty),
            None => process::spawn_pipes(&spec),
        };
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot start {} for {}: {e}", user.shell, user.name);
                let msg = format!("nexus-agent: cannot start {}: {e}\r\n", user.shell);
                tokio::spawn(async move {
                    let _ = handle.extended_data(channel, 1, msg.into_bytes()).await;
                    let _ = handle.exit_status_request(channel, 127).await;
                    let _ = handle.eof(channel).await;
                    let _ = handle.close(channel).await;
                });
                return true;
            }
        };
        let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
        state.stdin = Some(tx);
        state.pid = Some(started.pid);
        if let Io::Pty(master) = &started.io {
            state.master = Some(master.clone());
        }
        self.channels.insert(channel, state);
        tokio::spawn(pump(handle, channel, started, rx));
        true
    }
}

/// Moves bytes between the channel and the process, then reports its exit
/// (`exit-status` or `exit-signal`), EOF and close, in that order.
async fn pump(handle: Handle, channel: ChannelId, started: process::Started, mut stdin_rx: mpsc::Receiver<Vec<u8>>) {
    let process::Started { exit, io, .. } = started;
    match io {
        Io::Pipes {
            mut stdin,
            mut stdout,
            mut stderr,
        } => {
            tokio::spawn(async move {
                while let Some(data) = stdin_rx.recv().await {
                    if stdin.write_all(&data).await.is_err() {
                        break;
                    }
                }
                // dropping `stdin` closes the process's standard input
            });
            let h1 = handle.clone();
            let out = async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = stdout.read(&mut buf).await {
                    if n == 0 || h1.data(channel, buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            };
            let h2 = handle.clone();
            let err = async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = stderr.read(&mut buf).await {
                    if n == 0 || h2.extended_data(channel, 1, buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            };
            tokio::join!(out, err);
        }
        Io::Pty(master) => {
            let writer = master.clone();
            tokio::spawn(async move {
                while let Some(data) = stdin_rx.recv().await {
                    if writer.write_all(&data).await.is_err() {
                        break;
                    }
                }
            });
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = master.read(&mut buf).await {
                if n == 0 || handle.data(channel, buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
        }
    }
    match exit.await {
        Ok(Exit::Code(code)) => {
            let _ = handle.exit_status_request(channel, code as u32).await;
        }
        Ok(Exit::Signal(sig, core)) => {
            let _ = handle
                .exit_signal_request(channel, signal_name(sig), core, String::new(), String::new())
                .await;
        }
        Err(_) => {}
    }
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// RFC 4254 section 6.10 signal names.
fn signal_name(sig: i32) -> Sig {
    match sig {
        libc::SIGABRT => Sig::ABRT,
        libc::SIGALRM => Sig::ALRM,
        libc::SIGFPE => Sig::FPE,
        libc::SIGHUP => Sig::HUP,
        libc::SIGILL => Sig::ILL,
        libc::SIGINT => Sig::INT,
        libc::SIGKILL => Sig::KILL,
        libc::SIGPIPE => Sig::PIPE,
        libc::SIGQUIT => Sig::QUIT,
        libc::SIGSEGV => Sig::SEGV,
        libc::SIGTERM => Sig::TERM,
        libc::SIGUSR1 => Sig::USR1,
        other => Sig::Custom(format!("SIG{other}")),
    }
}

fn signal_number(sig: &Sig) -> Option<i32> {
    Some(match sig {
        Sig::ABRT => libc::SIGABRT,
        Sig::ALRM => libc::SIGALRM,
        Sig::FPE => libc::SIGFPE,
        Sig::HUP => libc::SIGHUP,
        Sig::ILL => libc::SIGILL,
        Sig::INT => libc::SIGINT,
        Sig::KILL => libc::SIGKILL,
        Sig::PIPE => libc::SIGPIPE,
        Sig::QUIT => libc::SIGQUIT,
        Sig::SEGV => libc::SIGSEGV,
        Sig::TERM => libc::SIGTERM,
        Sig::USR1 => libc::SIGUSR1,
        Sig::Custom(_) => return None,
    })
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(if self.check_key(user, offer.public_key).is_some() {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        match self.check_key(user, key.public_key) {
            Some(u) => {
                self.user = Some(u);
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // answers go through the session handle; the Channel object is not read
        self.channels.insert(channel.id(), ChannelState::default());
        drop(channel);
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let state = self.channels.entry(channel).or_default();
        state.pty = Some(PtyRequest {
            term: term.to_string(),
            cols: col_width.min(u16::MAX as u32) as u16,
            rows: row_height.min(u16::MAX as u32) as u16,
        });
        session.channel_success(channel)?;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if accepted_env(name) {
            self.channels
                .entry(channel)
                .or_default()
                .env
                .push((name.to_string(), value.to_string()));
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        if self.start(channel, None, session) {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        if self.start(channel, Some(command), session) {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn data(&mut self, channel: ChannelId, data: &[u8], _session: &mut Session) -> Result<(), Self::Error> {
        let sender = self.channels.get(&channel).and_then(|s| s.stdin.clone());
        if let Some(tx) = sender {
            let _ = tx.send(data.to_vec()).await;
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, _session: &mut Session) -> Result<(), Self::Error> {
        if let Some(state) = self.channels.get_mut(&channel) {
            // closes the process's stdin once queued input is written (pipes);
            // a terminal keeps its input open, as OpenSSH's sshd does
            if state.master.is_none() {
                state.stdin = None;
            }
        }
        Ok(())
    }

    async fn channel_close(&mut self, channel: ChannelId, _session: &mut Session) -> Result<(), Self::Error> {
        if let Some(state) = self.channels.remove(&channel)
            && let (Some(pid), Some(_)) = (state.pid, state.master)
        {
            // a closed terminal hangs up its session, as a real one does
            // SAFETY: signals the session's process group; no memory is touched.
            unsafe {
                libc::kill(-pid, libc::SIGHUP);
            }
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(master) = self.channels.get(&channel).and_then(|s| s.master.clone()) {
            let _ = master.resize(
                col_width.min(u16::MAX as u32) as u16,
                row_height.min(u16::MAX as u32) as u16,
            );
        }
        Ok(())
    }

    async fn signal(&mut self, channel: ChannelId, signal: Sig, _session: &mut Session) -> Result<(), Self::Error> {
        if let (Some(pid), Some(sig)) = (self.channels.get(&channel).and_then(|s| s.pid), signal_number(&signal)) {
            // SAFETY: signals the process group of the channel's process; no memory is touched.
            unsafe {
                libc::kill(-pid, sig);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm8sHYPAgb0mGKbQnNwgGlGL5Y6pvC2nJXBQbT1xD9n test@host";

    #[test]
    fn authorized_keys_match_with_and_without_options() {
        let key = PublicKey::from_openssh(KEY).expect("valid key");
        assert!(authorized(KEY, &key));
        assert!(authorized(&format!("# comment\nrestrict,pty {KEY}"), &key));
        assert!(!authorized("# nothing here\n", &key));
    }

    #[test]
    fn accepts_openssh_default_env() {
        assert!(accepted_env("LANG"));
        assert!(accepted_env("LC_ALL"));
        assert!(accepted_env("TERM"));
        assert!(!accepted_env("LD_PRELOAD"));
        assert!(!accepted_env("PATH"));
    }
}
