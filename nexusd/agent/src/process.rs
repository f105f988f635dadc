//! Starting session processes as the session user: with pipes (exec without a
//! terminal) or on a fresh pseudo-terminal (`pty-req`), in their own session.

use crate::reaper::{self, Exit};
use crate::users::User;
use nix::pty::{Winsize, openpty};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

/// A terminal request (RFC 4254 section 6.2 `pty-req`).
#[derive(Debug, Clone)]
pub struct PtyRequest {
    /// `TERM` value.
    pub term: String,
    /// Width in characters.
    pub cols: u16,
    /// Height in rows.
    pub rows: u16,
}

/// What to run.
#[derive(Debug)]
pub struct Spec {
    /// argv; `argv[0]` is looked up as a path, never in `PATH`.
    pub program: String,
    /// Arguments after argv\[0\].
    pub args: Vec<String>,
    /// argv\[0\] as the process sees it (`-bash` for a login shell).
    pub arg0: Option<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Working directory; the user's home when it does not exist.
    pub cwd: String,
    /// The session user.
    pub user: User,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// A started process: its I/O and its exit.
pub struct Started {
    /// Process id.
    pub pid: i32,
    /// Resolves when the reaper collects the process.
    pub exit: oneshot::Receiver<Exit>,
    /// Its I/O.
    pub io: Io,
}

/// A started process's I/O.
pub enum Io {
    /// Separate pipes; stderr is the SSH extended data stream 1.
    Pipes {
        /// Write end of stdin.
        stdin: tokio::net::unix::pipe::Sender,
        /// Read end of stdout.
        stdout: tokio::net::unix::pipe::Receiver,
        /// Read end of stderr.
        stderr: tokio::net::unix::pipe::Receiver,
    },
    /// The master side of its terminal.
    Pty(Arc<PtyMaster>),
}

/// The master side of a pseudo-terminal, non-blocking.
pub struct PtyMaster {
    fd: AsyncFd<OwnedFd>,
}

impl PtyMaster {
    /// Reads what the terminal printed; `Ok(0)` once every slave side closed.
    pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(std::io::Error::from)) {
                Ok(Ok(n)) => return Ok(n),
                // EIO: the slave side is closed, which is end of file for a pty
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` as terminal input.
    pub async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(std::io::Error::from)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Writes what `stdin` queues to the terminal as its input, on a task
    /// of its own, until the queue ends or a write fails.
    pub(crate) fn feed(self: Arc<Self>, mut stdin: crate::stdin::StdinReceiver) {
        tokio::spawn(async move {
            while let Some(data) = stdin.recv().await {
                let ok = self.write_all(&data).await.is_ok();
                stdin.written(data.len());
                if !ok {
                    break;
                }
            }
        });
    }

    /// Sets the window size (`window-change`, RFC 4254 section 6.7).
    pub fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one Winsize from a valid pointer on an open pty fd.
        let rc = unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
    fcntl(
        fd,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(std::io::Error::from)?;
    Ok(())
}

fn command(spec: &Spec) -> Command {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    if let Some(arg0) = &spec.arg0 {
        cmd.arg0(arg0);
    }
    cmd.env_clear();
    cmd.envs(spec.env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    let cwd = if std::path::Path::new(&spec.cwd).is_dir() {
        &spec.cwd
    } else {
        &spec.user.home
    };
    cmd.current_dir(cwd);
    cmd
}

/// Drops to the session user in the child: new session, groups, gid, uid.
/// `controlling_tty`: make fd 0 the controlling terminal.
fn drop_privileges(cmd: &mut Command, spec: &Spec, controlling_tty: bool) {
    let uid = spec.user.uid;
    let gid = spec.user.gid;
    let groups: Vec<libc::gid_t> = spec.groups.clone();
    let change_user = nix::unistd::geteuid().is_root();
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe system calls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if controlling_tty && libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if change_user
                && (libc::setgroups(groups.len() as _, groups.as_ptr()) < 0
                    || libc::setgid(gid) < 0
                    || libc::setuid(uid) < 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Bytes a process's stdin and stdout pipes hold (Linux's default is 64
/// KiB): a bulk stream then wakes the process and the agent a sixteenth as
/// often. Capped by `/proc/sys/fs/pipe-max-size` (1 MiB by default).
pub const PIPE_CAPACITY: usize = 1024 * 1024;

/// Gives the pipe of `fd` [`PIPE_CAPACITY`] bytes, or leaves it as it is
/// when the kernel refuses (the pipe still works, only with more wake-ups).
fn enlarge_pipe(fd: &OwnedFd) {
    // SAFETY: F_SETPIPE_SZ on a pipe we own; no memory is passed.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_CAPACITY as libc::c_int);
    }
}

/// Starts `spec` with pipes for stdin, stdout and stderr.
pub fn spawn_pipes(spec: &Spec) -> std::io::Result<Started> {
    let mut cmd = command(spec);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    drop_privileges(&mut cmd, spec, false);
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let exit = reaper::register(pid);
    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's pipes are missing"));
    };
    let (stdin, stdout) = (OwnedFd::from(stdin), OwnedFd::from(stdout));
    enlarge_pipe(&stdin);
    enlarge_pipe(&stdout);
    let io = Io::Pipes {
        stdin: tokio::net::unix::pipe::Sender::from_owned_fd(stdin)?,
        stdout: tokio::net::unix::pipe::Receiver::from_owned_fd(stdout)?,
        stderr: tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(stderr))?,
    };
    Ok(Started { pid, exit, io })
}

/// Starts `spec` on a new pseudo-terminal of `pty`'s size, with `TERM` and
/// `SSH_TTY` (the slave's path) added to its environment.
pub fn spawn_pty(spec: &mut Spec, pty: &PtyRequest) -> std::io::Result<Started> {
    let ws = Winsize {
        ws_row: pty.rows.max(1),
        ws_col: pty.cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pair = openpty(Some(&ws), None).map_err(std::io::Error::from)?;
    let tty_name = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    spec.env.retain(|(k, _)| k != "TERM" && k != "SSH_TTY");
    spec.env.push(("TERM".into(), pty.term.clone()));
    spec.env.push(("SSH_TTY".into(), tty_name));
    let spec = &*spec;
    if spec.user.uid != 0 && nix::unistd::geteuid().is_root() {
        let _ = nix::unistd::fchown(&pair.slave, Some(spec.user.uid.into()), None);
    }
    let mut cmd = command(spec);
    cmd.stdin(Stdio::from(pair.slave.try_clone()?))
        .stdout(Stdio::from(pair.slave.try_clone()?))
        .stderr(Stdio::from(pair.slave));
    drop_privileges(&mut cmd, spec, true);
    let child = cmd.spawn();
    // the parent's copies of the slave side are closed with `cmd` here
    drop(cmd);
    let child = child?;
    let pid = child.id() as i32;
    let exit = reaper::register(pid);
    set_nonblocking(&pair.master)?;
    // SAFETY: an OwnedFd always holds one open descriptor and owns it until dropped.
    let fd = unsafe { AsyncFd::register(pair.master) }.map_err(|e| std::io::Error::other(e.to_string()))?;
    let master = PtyMaster { fd };
    Ok(Started {
        pid,
        exit,
        io: Io::Pty(Arc::new(master)),
    })
}
