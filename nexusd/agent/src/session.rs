//! Session channels (RFC 4254 section 6): the login environment, starting
//! the shell, a command or the SFTP subsystem as the session user, and moving
//! bytes between the channel and the process until it exits.

use crate::connection::{ChannelState, Connection};
use crate::process::{self, Io, Spec};
use crate::stdin::{OutputWaiting, StdinReceiver, stdin_queue};
use crate::users::{self, User};
use nexus_sdk::Signal;
use russh::server::{Handle, Session};
use russh::{ChannelId, Sig};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Environment variables a client may set (OpenSSH's default `AcceptEnv`).
/// Also `NEXUS_TERMINAL`, which names a kept terminal (`terminals.rs`).
pub(crate) fn accepted_env(name: &str) -> bool {
    name == "LANG" || name == "TERM" || name.starts_with("LC_") || name == crate::terminals::ENV
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

/// What a session channel runs.
pub(crate) enum Program {
    /// The login shell.
    Shell,
    /// `shell -c COMMAND`.
    Command(String),
    /// The SFTP subsystem: this binary in `--sftp` mode.
    Sftp,
}

impl Connection {
    /// The login environment of a session (HOME, USER, LOGNAME, SHELL, PATH,
    /// the SSH_* variables and SSH_AUTH_SOCK; a terminal adds TERM and
    /// SSH_TTY), then the container's own environment (the image's `ENV` and
    /// devcontainer.json's `containerEnv`: the agent's, as PID 1, as `docker
    /// exec` would give it, but not its user's variables), `/etc/environment`,
    /// `remoteEnv` and the client's `env` requests; the last definition wins.
    fn environment(&self, user: &User, state: &ChannelState) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), user.home.clone()),
            ("USER".into(), user.name.clone()),
            ("LOGNAME".into(), user.name.clone()),
            ("SHELL".into(), user.shell.clone()),
            ("PATH".into(), DEFAULT_PATH.into()),
        ];
        if let Some(peer) = self.peer {
            let port = self.config.port;
            env.push(("SSH_CLIENT".into(), format!("{} {} {port}", peer.ip(), peer.port())));
            env.push((
                "SSH_CONNECTION".into(),
                format!("{} {} 0.0.0.0 {port}", peer.ip(), peer.port()),
            ));
        }
        if let Some(sock) = &self.agent_socket {
            env.push(("SSH_AUTH_SOCK".into(), sock.display().to_string()));
        }
        env.extend(
            std::env::vars()
                .filter(|(k, _)| !["HOME", "USER", "LOGNAME", "SHELL", "PWD", "SHLVL", "_"].contains(&k.as_str())),
        );
        env.extend(etc_environment());
        // a remoteEnv of null unsets what came before it
        let mut env: Vec<(String, Option<String>)> = env.into_iter().map(|(k, v)| (k, Some(v))).collect();
        env.extend(self.config.remote_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(state.env.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
        // team mode: who this is, last, so nothing before replaces it
        if let Some(p) = &self.person {
            env.extend(p.environment().into_iter().map(|(k, v)| (k, Some(v))));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<(String, String)> = env
            .into_iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.clone()))
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        out.reverse();
        out
    }

    /// Starts `program` as the session user on `channel`; false when no user
    /// logged in. A program that cannot start reports exit status 127.
    pub(crate) fn start(&mut self, channel: ChannelId, program: Program, session: &mut Session) -> bool {
        let Some(user) = self.user.clone() else { return false };
        let handle = session.handle();
        let mut state = self.channels.remove(&channel).unwrap_or_default();
        let shell_name = Path::new(&user.shell)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sh")
            .to_string();
        // a kept terminal (`NEXUS_TERMINAL=<id>` with a pty): attach to it when it runs
        let kept = state
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == crate::terminals::ENV)
            .map(|(_, id)| id.clone())
            .filter(|id| state.pty.is_some() && !matches!(program, Program::Sftp) && crate::terminals::valid_id(id));
        if let Some(t) = kept.as_deref().and_then(|id| crate::terminals::find(id, user.uid)) {
            self.attach_kept(channel, state, &t, handle);
            return true;
        }
        let workspace = self.config.workspace_folder.display().to_string();
        let (path, args, arg0, cwd) = match program {
            Program::Command(c) => (user.shell.clone(), vec!["-c".to_string(), c], None, workspace),
            Program::Shell => (
                user.shell.clone(),
                Vec::new(),
                Some(format!("-{shell_name}")),
                workspace,
            ),
            // started in the user's home, as OpenSSH's sftp-server is
            Program::Sftp => {
                let exe = std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                (exe, vec!["--sftp".to_string()], None, user.home.clone())
            }
        };
        let groups = std::fs::read_to_string("/etc/group")
            .map(|g| users::groups_of(&g, &user))
            .unwrap_or_else(|_| vec![user.gid]);
        let mut spec = Spec {
            program: path.clone(),
            args,
            arg0,
            env: self.environment(&user, &state),
            cwd,
            user: user.clone(),
            groups,
        };
        let started = match &state.pty {
            Some(pty) => process::spawn_pty(&mut spec, pty),
            None => process::spawn_pipes(&spec),
        };
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot start {path} for {}: {e}", user.name);
                let msg = format!("nexus-agent: cannot start {path}: {e}\r\n");
                tokio::spawn(async move {
                    let _ = handle.extended_data(channel, 1, msg.into_bytes()).await;
                    let _ = handle.exit_status_request(channel, 127).await;
                    let _ = handle.eof(channel).await;
                    let _ = handle.close(channel).await;
                });
                return true;
            }
        };
        if let Some(id) = kept {
            if let Some(t) = crate::terminals::keep(&id, user.uid, started) {
                self.attach_kept(channel, state, &t, handle);
            }
            return true;
        }
        let (tx, rx) = stdin_queue();
        state.stdin = Some(tx);
        let (open, closed) = tokio::sync::watch::channel(());
        state.open = Some(open);
        state.pid = Some(started.pid);
        if let Io::Pty(master) = &started.io {
            state.master = Some(master.clone());
        }
        self.channels.insert(channel, state);
        tokio::spawn(pump(handle, channel, started, rx, closed));
        true
    }
}

impl Connection {
    /// Attaches `channel` (its requests so far in `state`) to kept terminal `t`.
    fn attach_kept(
        &mut self,
        channel: ChannelId,
        mut state: ChannelState,
        t: &std::sync::Arc<crate::terminals::Terminal>,
        handle: Handle,
    ) {
        let (tx, rx) = stdin_queue();
        state.stdin = Some(tx);
        let (open, closed) = tokio::sync::watch::channel(());
        state.open = Some(open);
        state.pid = Some(t.pid());
        state.master = Some(t.master());
        state.kept = true;
        let size = state.pty.as_ref().map(|p| (p.cols, p.rows));
        self.channels.insert(channel, state);
        t.attach(handle, channel, rx, closed, size);
    }
}

/// The most of a process's standard output one read takes (russh cuts it
/// into packets of the client's maximum size).
const OUTPUT_READ: usize = 256 * 1024;

/// Moves bytes between the channel and the process, then reports its exit
/// (`exit-status` or `exit-signal`), EOF and close, in that order.
pub(crate) async fn pump(
    handle: Handle,
    channel: ChannelId,
    started: process::Started,
    mut stdin_rx: StdinReceiver,
    closed: tokio::sync::watch::Receiver<()>,
) {
    let process::Started { exit, io, .. } = started;
    let counts = stdin_rx.counts.clone();
    match io {
        Io::Pipes {
            mut stdin,
            mut stdout,
            mut stderr,
        } => {
            tokio::spawn(async move {
                while let Some(data) = stdin_rx.recv().await {
                    let ok = stdin.write_all(&data).await.is_ok();
                    stdin_rx.written(data.len());
                    if !ok {
                        break;
                    }
                }
                // dropping `stdin` closes the process's standard input
            });
            let h1 = handle.clone();
            let c1 = counts.clone();
            let mut closed_out = closed.clone();
            let out = async move {
                let mut buf = vec![0u8; OUTPUT_READ];
                loop {
                    let n = tokio::select! {
                        r = stdout.read(&mut buf) => match r {
                            Ok(n) => n,
                            Err(_) => break,
                        },
                        // the channel is gone: stop reading (the pipe closes with `stdout`)
                        _ = closed_out.changed() => break,
                    };
                    let _waiting = OutputWaiting::new(&c1);
                    crate::activity::mark();
                    if n == 0 || h1.data(channel, buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            };
            let h2 = handle.clone();
            let c2 = counts.clone();
            let mut closed_err = closed.clone();
            let err = async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    let n = tokio::select! {
                        r = stderr.read(&mut buf) => match r {
                            Ok(n) => n,
                            Err(_) => break,
                        },
                        _ = closed_err.changed() => break,
                    };
                    let _waiting = OutputWaiting::new(&c2);
                    crate::activity::mark();
                    if n == 0 || h2.extended_data(channel, 1, buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            };
            tokio::join!(out, err);
        }
        Io::Pty(master) => {
            master.clone().feed(stdin_rx);
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = master.read(&mut buf).await {
                let _waiting = OutputWaiting::new(&counts);
                crate::activity::mark();
                if n == 0 || handle.data(channel, buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
        }
    }
    crate::reaper::report_exit(&handle, channel, exit.await.ok()).await;
}

pub(crate) fn signal_number(sig: &Sig) -> Option<i32> {
    Signal::from_name(ssh_name(sig)).map(Signal::number)
}

/// The RFC 4254 name of `sig` as russh holds it.
fn ssh_name(sig: &Sig) -> &str {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_openssh_default_env() {
        assert!(accepted_env("LANG"));
        assert!(accepted_env("LC_ALL"));
        assert!(accepted_env("TERM"));
        assert!(!accepted_env("LD_PRELOAD"));
        assert!(!accepted_env("PATH"));
    }
}
