//! The daemon's SSH client to workspace agents (russh): one pooled connection
//! per running workspace, authenticated with the daemon's key and pinned to
//! the workspace's host key; each exec is a channel on it, not a `docker exec`.

use crate::error::{Result, WorkspaceError};
use nexus_sdk::ExecEvent;
use russh::ChannelMsg;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

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
    /// User to log in as.
    pub user: String,
    /// Its host public key (OpenSSH line).
    pub host_public_key: String,
}

/// The connection pool, with one SFTP session per workspace beside it.
pub struct AgentPool {
    key: Arc<PrivateKey>,
    conns: Mutex<HashMap<String, Conn>>,
    sftp: Mutex<HashMap<String, Arc<russh_sftp::client::SftpSession>>>,
}

impl std::fmt::Debug for AgentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentPool")
    }
}

fn unavailable(e: impl std::fmt::Display) -> WorkspaceError {
    WorkspaceError::AgentUnavailable(e.to_string())
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
    pub fn new(key: PrivateKey) -> AgentPool {
        AgentPool {
            key: Arc::new(key),
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
            ..Default::default()
        });
        let mut handle = tokio::time::timeout(
            Duration::from_secs(10),
            russh::client::connect(config, ("127.0.0.1", t.port), Pinned { host_key }),
        )
        .await
        .map_err(|_| unavailable("timed out connecting"))?
        .map_err(unavailable)?;
        let auth = handle
            .authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(self.key.clone(), None))
            .await
            .map_err(unavailable)?;
        if !auth.success() {
            return Err(unavailable(format!(
                "the agent refused the daemon's key for user {}",
                t.user
            )));
        }
        Ok(Arc::new(handle))
    }

    /// A live connection to `t`, reusing the pooled one.
    /// The pooled connection to `t`, connecting when there is none. The pool
    /// is locked only to look up and to insert, never while connecting, so a
    /// slow agent holds up no other workspace; of two racing connects to one
    /// workspace the later one is kept.
    async fn get(&self, t: &Target) -> Result<Conn> {
        if let Some(c) = self.conns.lock().await.get(&t.id)
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let c = self.connect(t).await?;
        self.conns.lock().await.insert(t.id.clone(), c.clone());
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
    /// workspace user), opened on the pooled connection on first use; like
    /// [`AgentPool::get`], without holding the pool's lock while opening.
    pub async fn sftp(&self, t: &Target) -> Result<Arc<russh_sftp::client::SftpSession>> {
        if let Some(s) = self.sftp.lock().await.get(&t.id) {
            return Ok(s.clone());
        }
        let conn = self.get(t).await?;
        let channel = conn.channel_open_session().await.map_err(unavailable)?;
        channel.request_subsystem(true, "sftp").await.map_err(unavailable)?;
        let session = russh_sftp::client::SftpSession::new(channel.into_stream())
            .await
            .map_err(unavailable)?;
        let session = Arc::new(session);
        self.sftp.lock().await.insert(t.id.clone(), session.clone());
        Ok(session)
    }

    /// A `direct-tcpip` channel to `port` on the container's loopback, for a
    /// host-side forward (`originator_port`: the local client's port).
    pub async fn direct_tcpip(
        &self,
        t: &Target,
        port: u16,
        originator_port: u16,
    ) -> Result<russh::Channel<russh::client::Msg>> {
        let conn = self.get(t).await?;
        conn.channel_open_direct_tcpip("127.0.0.1", port as u32, "127.0.0.1", originator_port as u32)
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
        if let Some(c) = self.conns.lock().await.remove(id) {
            let _ = c.disconnect(russh::Disconnect::ByApplication, "", "").await;
        }
    }

    /// Runs `command` (a shell command line), sending output chunks to `out`
    /// in order; returns the exit code (128+N for signal N). With `timeout`,
    /// the process is sent SIGKILL when it passes and 124 is returned.
    pub async fn exec(
        &self,
        t: &Target,
        command: &str,
        timeout: Option<Duration>,
        out: mpsc::Sender<ExecEvent>,
    ) -> Result<i32> {
        let conn = self.get(t).await?;
        let mut channel = conn.channel_open_session().await.map_err(unavailable)?;
        channel.exec(true, command).await.map_err(unavailable)?;
        channel.eof().await.map_err(unavailable)?;
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        let mut code: Option<i32> = None;
        loop {
            let msg = match deadline {
                Some(d) => match tokio::time::timeout_at(d, channel.wait()).await {
                    Ok(m) => m,
                    Err(_) => {
                        let _ = channel.signal(russh::Sig::KILL).await;
                        let _ = channel.close().await;
                        return Ok(124);
                    }
                },
                None => channel.wait().await,
            };
            let Some(msg) = msg else { break };
            match msg {
                ChannelMsg::Data { data } => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if out.send(ExecEvent::Stdout { data: text }).await.is_err() {
                        let _ = channel.close().await;
                        return Ok(code.unwrap_or(crate::api::EXEC_FAILED));
                    }
                }
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if out.send(ExecEvent::Stderr { data: text }).await.is_err() {
                        let _ = channel.close().await;
                        return Ok(code.unwrap_or(crate::api::EXEC_FAILED));
                    }
                }
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status as i32),
                ChannelMsg::ExitSignal { signal_name, .. } => code = Some(128 + signal_number(&signal_name)),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        code.ok_or_else(|| unavailable("the connection closed before the command exited"))
    }
}

fn signal_number(sig: &russh::Sig) -> i32 {
    use russh::Sig::*;
    match sig {
        HUP => 1,
        INT => 2,
        QUIT => 3,
        ILL => 4,
        ABRT => 6,
        FPE => 8,
        KILL => 9,
        USR1 => 10,
        SEGV => 11,
        PIPE => 13,
        ALRM => 14,
        TERM => 15,
        Custom(_) => 0,
    }
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
