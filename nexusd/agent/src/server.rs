//! The SSH server (russh): public-key authentication against the workspace's
//! authorized_keys (with its options), the accept loop that holds logins to
//! `limits.rs`, and the
//! dispatch of every request: session channels (`session.rs`), forwarding
//! (`forward.rs`) and the SFTP subsystem (`sftp.rs`). `docs/ssh.md` lists
//! what is supported, request by request.

use crate::authkeys::Permissions;
use crate::config::AgentConfig;
use crate::connection::{ChannelState, Connection};
use crate::forward::{self, AgentSockets, RemoteForwards};
use crate::limits::{Failures, Heard, LOGIN_GRACE_TIME, MAX_STARTUPS, Unauthenticated};
use crate::process::PtyRequest;
use crate::reaper;
use crate::session::{Program, accepted_env, signal_number};
use crate::users;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Sig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    /// The relay socket cannot be served.
    #[error("cannot serve the relay socket: {reason}")]
    Relay {
        /// Why.
        reason: String,
    },
    /// Listening or signal set-up failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

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
        keepalive_interval: Some(Duration::from_secs(config.client_alive_interval.max(1))),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await?;
    tracing::info!("serving SSH on port {}", config.port);
    let relay = match &config.relay {
        Some(r) => {
            let secret = crate::relay::secret_from_hex(&r.secret).ok_or_else(|| AgentError::Relay {
                reason: "the relay secret is not 64 hex digits".into(),
            })?;
            let socket = crate::relay::listen(&r.socket).map_err(|e| AgentError::Relay {
                reason: format!("cannot listen on {}: {e}", r.socket.display()),
            })?;
            tracing::info!("serving relayed SSH on {}", r.socket.display());
            crate::activity::init(&r.socket);
            Some((socket, Arc::<[u8]>::from(secret)))
        }
        None => None,
    };
    // team mode's access list lives beside the relay socket
    let access = crate::access::Registry::new(
        config
            .relay
            .as_ref()
            .and_then(|r| r.socket.parent().map(|d| d.join("access.json"))),
    );
    tokio::spawn(access.clone().watch());
    let server = Server {
        config,
        ssh_config: Arc::new(ssh_config),
        agents: AgentSockets::default(),
        failures: Failures::default(),
        unauthenticated: Unauthenticated::default(),
        access,
    };
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        r = server.serve(&listener, relay.as_ref()) => r?,
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

#[derive(Clone)]
struct Server {
    config: Arc<AgentConfig>,
    ssh_config: Arc<russh::server::Config>,
    agents: AgentSockets,
    failures: Failures,
    unauthenticated: Unauthenticated,
    access: crate::access::Registry,
}

/// A connection just accepted.
enum Accepted {
    /// On the TCP port: the peer is who Docker's proxy or a container
    /// connected from.
    Tcp(tokio::net::TcpStream, SocketAddr),
    /// On the relay socket: the peer is in the header still to be read.
    Relayed(tokio::net::UnixStream),
}

/// The next connection on the relay socket, if there is one; never, if not.
async fn accept_relayed(relay: Option<&(tokio::net::UnixListener, Arc<[u8]>)>) -> std::io::Result<Accepted> {
    match relay {
        Some((listener, _)) => listener.accept().await.map(|(s, _)| Accepted::Relayed(s)),
        None => std::future::pending().await,
    }
}

impl Server {
    /// Accepts connections on the TCP port and the relay socket until one
    /// fails, each in a task of its own, holding those that have not logged
    /// in to [`MAX_STARTUPS`] and [`LOGIN_GRACE_TIME`].
    async fn serve(
        &self,
        listener: &tokio::net::TcpListener,
        relay: Option<&(tokio::net::UnixListener, Arc<[u8]>)>,
    ) -> std::io::Result<()> {
        let mut next_id = 1u64;
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r.map(|(s, peer)| Accepted::Tcp(s, peer)),
                r = accept_relayed(relay) => r,
            };
            let accepted = match accepted {
                Ok(accepted) => accepted,
                // out of file descriptors or memory: the connections held end in time
                Err(e)
                    if e.raw_os_error()
                        .is_some_and(|c| [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&c)) =>
                {
                    tracing::warn!("cannot accept a connection now: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e),
            };
            let id = next_id;
            next_id += 1;
            match accepted {
                Accepted::Tcp(socket, peer) => {
                    let _ = socket.set_nodelay(true);
                    let Some(socket) = self.admit(id, socket, &peer.to_string(), None) else {
                        continue;
                    };
                    let server = self.clone();
                    tokio::spawn(async move { server.session(id, socket, peer).await });
                }
                Accepted::Relayed(socket) => {
                    let header_read = Arc::new(AtomicBool::new(false));
                    let Some(mut socket) = self.admit(id, socket, "a relayed client", Some(header_read.clone())) else {
                        continue;
                    };
                    let server = self.clone();
                    let secret = relay.map(|(_, s)| s.clone()).unwrap_or_else(|| Arc::from(Vec::new()));
                    tokio::spawn(async move {
                        match crate::relay::read_header(&mut socket.inner, &secret).await {
                            Ok(peer) => {
                                header_read.store(true, Ordering::Relaxed);
                                server.session(id, socket, peer).await
                            }
                            Err(e) => {
                                server.unauthenticated.forget(id);
                                tracing::warn!("dropped a connection on the relay socket: {e}");
                            }
                        }
                    });
                }
            }
        }
    }

    /// Counts connection `id` among those not logged in (ending others
    /// past [`MAX_STARTUPS`]) and returns its socket, marked when its
    /// client first sends; `None` when no second handle can be made.
    fn admit<S: std::os::fd::AsFd>(
        &self,
        id: u64,
        socket: S,
        peer: &str,
        header_read: Option<Arc<AtomicBool>>,
    ) -> Option<Heard<S>> {
        let handle = match socket.as_fd().try_clone_to_owned() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("dropped the connection from {peer}: {e}");
                return None;
            }
        };
        let (socket, heard) = Heard::new(socket);
        let ended = self.unauthenticated.admit(id, handle, heard, header_read);
        if ended > 0 {
            tracing::warn!("{MAX_STARTUPS} connections have not logged in: ended one to admit {peer}");
        }
        Some(socket)
    }

    /// Serves SSH on connection `id` from `peer` until it ends, dropping it
    /// if it has not logged in after [`LOGIN_GRACE_TIME`].
    async fn session<S>(self, id: u64, socket: Heard<S>, peer: SocketAddr)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let connection = Connection {
            id,
            config: self.config.clone(),
            peer: Some(peer),
            user: None,
            permissions: Permissions::default(),
            channels: HashMap::new(),
            remote: RemoteForwards::default(),
            agent_socket: None,
            agents: self.agents.clone(),
            failures: self.failures.clone(),
            unauthenticated: self.unauthenticated.clone(),
            access: self.access.clone(),
            person: None,
        };
        let ssh_config = self.ssh_config.clone();
        let session = async move {
            let running = russh::server::run_stream(ssh_config, socket, connection).await?;
            running.await
        };
        let grace = tokio::time::sleep(LOGIN_GRACE_TIME);
        tokio::pin!(session, grace);
        let mut graced = false;
        loop {
            tokio::select! {
                result = &mut session => {
                    if let Err(e) = result {
                        tracing::debug!("connection from {peer} ended: {e}");
                    }
                    break;
                }
                _ = &mut grace, if !graced => {
                    graced = true;
                    if self.unauthenticated.expire(id) {
                        tracing::warn!("dropped the connection from {peer}: no login within {} s", LOGIN_GRACE_TIME.as_secs());
                    }
                }
            }
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(if self.check_key(user, offer.public_key).await.is_some() {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        // the key that signed (russh verified it): its person is who this is
        match self.check_key(user, key.public_key).await {
            Some((u, permissions, person)) => {
                match &person {
                    Some(p) => tracing::info!(
                        "accepted key {} of {} ({}) for {} from {:?}",
                        p.fingerprint,
                        p.user,
                        p.role,
                        u.name,
                        self.peer
                    ),
                    None => tracing::info!("accepted key for {} from {:?}", u.name, self.peer),
                }
                self.unauthenticated.forget(self.id);
                self.user = Some(u);
                self.permissions = permissions;
                self.person = person;
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // answers go through the session handle; the Channel object is not read
        self.channels.insert(channel.id(), ChannelState::default());
        if let Some(p) = &self.person {
            let peer = self.peer.map(|a| a.to_string()).unwrap_or_default();
            self.access.register(self.id, p, peer, session.handle());
        }
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
        if !self.permissions.pty {
            return self.reply(false, channel, session);
        }
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

    /// X11 forwarding is refused (docs/ssh.md): the failure is answered, so
    /// the client's later requests keep their own replies.
    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::info!("refused X11 forwarding from {:?}", self.peer);
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        let ok = self.start(channel, Program::Shell, session);
        self.reply(ok, channel, session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        let ok = self.start(channel, Program::Command(command), session);
        self.reply(ok, channel, session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let ok = name == "sftp" && self.start(channel, Program::Sftp, session);
        self.reply(ok, channel, session)
    }

    async fn agent_request(&mut self, _channel: ChannelId, session: &mut Session) -> Result<bool, Self::Error> {
        let Some(user) = self.user.clone() else {
            return Ok(false);
        };
        if !self.permissions.agent_forwarding {
            return Ok(false);
        }
        match self.agents.register(&user, self.id, session.handle()) {
            Ok(path) => {
                self.agent_socket = Some(path);
                Ok(true)
            }
            Err(e) => {
                tracing::warn!("cannot forward the agent of {}: {e}", user.name);
                Ok(false)
            }
        }
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host: &str,
        port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if !self.permissions.port_forwarding || self.user.is_none() || port > u16::MAX as u32 {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        let connect = tokio::net::TcpStream::connect((host.to_string(), port as u16));
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                reply.accept().await;
                tokio::spawn(forward::pipe(channel, stream));
            }
            _ => reply.reject(russh::ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        channel: Channel<Msg>,
        socket_path: &str,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(user) = self.user.clone() else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        let groups = std::fs::read_to_string("/etc/group")
            .map(|g| users::groups_of(&g, &user))
            .unwrap_or_default();
        if !self.permissions.port_forwarding || !forward::may_connect(&user, &groups, Path::new(socket_path)) {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        match tokio::net::UnixStream::connect(socket_path).await {
            Ok(stream) => {
                reply.accept().await;
                tokio::spawn(forward::pipe(channel, stream));
            }
            Err(_) => reply.reject(russh::ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Some(user) = &self.user else { return Ok(false) };
        // below 1024 only root may listen, as for OpenSSH's sshd
        if !self.permissions.port_forwarding || *port > u16::MAX as u32 || (*port != 0 && *port < 1024 && user.uid != 0)
        {
            return Ok(false);
        }
        match self.remote.add(session.handle(), address, port).await {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::info!("cannot listen on {address}:{port}: {e}");
                Ok(false)
            }
        }
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.remote.cancel(address, port))
    }

    async fn data(&mut self, channel: ChannelId, data: &[u8], _session: &mut Session) -> Result<(), Self::Error> {
        crate::activity::mark();
        let queue = self.channels.get(&channel).and_then(|s| s.stdin.clone());
        if let Some(q) = queue {
            q.push(data).await;
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
        if let Some(state) = self.channels.remove(&channel) {
            // a closed terminal hangs up its session, as a real one does
            state.hang_up();
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
