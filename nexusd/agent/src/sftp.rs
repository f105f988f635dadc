//! The SFTP subsystem (draft-ietf-secsh-filexfer-02, version 3, as OpenSSH's
//! `sftp-server` speaks it). russh-sftp does the protocol; the file
//! operations are ours. It runs as `nexus-agent --sftp`, a child process that
//! the agent starts as the session user, so every operation has exactly that
//! user's permissions — and images need no `sftp-server` of their own.

use russh_sftp::protocol::{Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};
use russh_sftp::server::StatusReply;
use std::collections::HashMap;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Largest read answered at once, in bytes.
const MAX_READ: u32 = 256 * 1024;

enum Open {
    File(std::fs::File),
    Dir(Option<Vec<File>>),
}

/// One SFTP session's state: open files and directories by handle.
#[derive(Default)]
pub struct Sftp {
    handles: HashMap<String, Open>,
    next: u64,
}

fn status(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

fn fail(e: std::io::Error) -> StatusReply {
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        std::io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    let mut reply = StatusReply::new(code);
    reply.error_message = Some(e.to_string());
    reply
}

/// Attributes from metadata, keeping the file type bits of `st_mode` as they are.
fn attrs(m: &std::fs::Metadata) -> FileAttributes {
    FileAttributes {
        size: Some(m.len()),
        uid: Some(m.uid()),
        gid: Some(m.gid()),
        permissions: Some(m.mode()),
        atime: Some(m.atime().max(0) as u32),
        mtime: Some(m.mtime().max(0) as u32),
        ..Default::default()
    }
}

/// `path` made absolute against the working directory and normalized
/// lexically (for paths that do not exist yet).
fn normalize(path: &str) -> PathBuf {
    let p = Path::new(if path.is_empty() { "." } else { path });
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Applies `setstat` attributes: size, owner, permissions, times.
fn set_attrs(path: &Path, a: &FileAttributes) -> std::io::Result<()> {
    if let Some(size) = a.size {
        std::fs::OpenOptions::new().write(true).open(path)?.set_len(size)?;
    }
    if a.uid.is_some() || a.gid.is_some() {
        std::os::unix::fs::chown(path, a.uid, a.gid)?;
    }
    if let Some(mode) = a.permissions {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let (Some(atime), Some(mtime)) = (a.atime, a.mtime) {
        let t = |s: u32| nix::sys::time::TimeVal::new(s as i64, 0);
        nix::sys::stat::utimes(path, &t(atime), &t(mtime)).map_err(std::io::Error::from)?;
    }
    Ok(())
}

impl Sftp {
    fn insert(&mut self, open: Open) -> String {
        self.next += 1;
        let h = self.next.to_string();
        self.handles.insert(h.clone(), open);
        h
    }

    fn file(&self, handle: &str) -> Result<&std::fs::File, StatusReply> {
        match self.handles.get(handle) {
            Some(Open::File(f)) => Ok(f),
            _ => Err(StatusReply::new(StatusCode::Failure)),
        }
    }
}

impl russh_sftp::server::Handler for Sftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusReply::new(StatusCode::OpUnsupported)
    }

    async fn init(&mut self, _version: u32, _ext: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        a: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let mut o = std::fs::OpenOptions::new();
        o.read(pflags.contains(OpenFlags::READ))
            .write(pflags.contains(OpenFlags::WRITE) || pflags.contains(OpenFlags::APPEND))
            .append(pflags.contains(OpenFlags::APPEND))
            .truncate(pflags.contains(OpenFlags::TRUNCATE))
            .mode(a.permissions.map(|m| m & 0o7777).unwrap_or(0o666));
        if pflags.contains(OpenFlags::CREATE) {
            if pflags.contains(OpenFlags::EXCLUDE) {
                o.create_new(true);
            } else {
                o.create(true);
            }
        }
        let f = o.open(normalize(&filename)).map_err(fail)?;
        Ok(Handle {
            id,
            handle: self.insert(Open::File(f)),
        })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.handles.remove(&handle);
        Ok(status(id))
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let f = self.file(&handle)?;
        let mut buf = vec![0u8; len.min(MAX_READ) as usize];
        let n = f.read_at(&mut buf, offset).map_err(fail)?;
        if n == 0 {
            return Err(StatusReply::new(StatusCode::Eof));
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        self.file(&handle)?.write_all_at(&data, offset).map_err(fail)?;
        Ok(status(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let m = std::fs::symlink_metadata(normalize(&path)).map_err(fail)?;
        Ok(Attrs { id, attrs: attrs(&m) })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let m = self.file(&handle)?.metadata().map_err(fail)?;
        Ok(Attrs { id, attrs: attrs(&m) })
    }

    async fn setstat(&mut self, id: u32, path: String, a: FileAttributes) -> Result<Status, Self::Error> {
        set_attrs(&normalize(&path), &a).map_err(fail)?;
        Ok(status(id))
    }

    async fn fsetstat(&mut self, id: u32, handle: String, a: FileAttributes) -> Result<Status, Self::Error> {
        let f = self.file(&handle)?;
        if let Some(size) = a.size {
            f.set_len(size).map_err(fail)?;
        }
        if let Some(mode) = a.permissions {
            f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(fail)?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            std::os::unix::fs::fchown(f, a.uid, a.gid).map_err(fail)?;
        }
        if let (Some(atime), Some(mtime)) = (a.atime, a.mtime) {
            let t = |s: u32| nix::sys::time::TimeSpec::new(s as i64, 0);
            nix::sys::stat::futimens(f, &t(atime), &t(mtime)).map_err(|e| fail(e.into()))?;
        }
        Ok(status(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let dir = normalize(&path);
        let mut files = Vec::new();
        for name in [".", ".."] {
            if let Ok(m) = std::fs::metadata(dir.join(name)) {
                files.push(File::new(name, attrs(&m)));
            }
        }
        for entry in std::fs::read_dir(&dir).map_err(fail)?.flatten() {
            if let Ok(m) = entry.path().symlink_metadata() {
                files.push(File::new(entry.file_name().to_string_lossy(), attrs(&m)));
            }
        }
        Ok(Handle {
            id,
            handle: self.insert(Open::Dir(Some(files))),
        })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.handles.get_mut(&handle) {
            Some(Open::Dir(files)) => match files.take() {
                Some(files) if !files.is_empty() => Ok(Name { id, files }),
                _ => Err(StatusReply::new(StatusCode::Eof)),
            },
            _ => Err(StatusReply::new(StatusCode::Failure)),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        std::fs::remove_file(normalize(&filename)).map_err(fail)?;
        Ok(status(id))
    }

    async fn mkdir(&mut self, id: u32, path: String, a: FileAttributes) -> Result<Status, Self::Error> {
        let p = normalize(&path);
        std::fs::create_dir(&p).map_err(fail)?;
        if let Some(mode) = a.permissions {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode & 0o7777)).map_err(fail)?;
        }
        Ok(status(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        std::fs::remove_dir(normalize(&path)).map_err(fail)?;
        Ok(status(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let p = normalize(&path);
        let real = std::fs::canonicalize(&p).unwrap_or(p);
        Ok(Name {
            id,
            files: vec![File::dummy(real.to_string_lossy())],
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let m = std::fs::metadata(normalize(&path)).map_err(fail)?;
        Ok(Attrs { id, attrs: attrs(&m) })
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> Result<Status, Self::Error> {
        let (from, to) = (normalize(&oldpath), normalize(&newpath));
        // SSH_FXP_RENAME does not replace an existing file (filexfer-02 6.5)
        if to.symlink_metadata().is_ok() {
            let mut reply = StatusReply::new(StatusCode::Failure);
            reply.error_message = Some(format!("{} exists", to.display()));
            return Err(reply);
        }
        std::fs::rename(from, to).map_err(fail)?;
        Ok(status(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let target = std::fs::read_link(normalize(&path)).map_err(fail)?;
        Ok(Name {
            id,
            files: vec![File::dummy(target.to_string_lossy())],
        })
    }

    async fn symlink(&mut self, id: u32, linkpath: String, targetpath: String) -> Result<Status, Self::Error> {
        // OpenSSH sends the link's target first and the new link second (the
        // reverse of filexfer-02), and OpenSSH's clients are who we serve
        std::os::unix::fs::symlink(&linkpath, normalize(&targetpath)).map_err(fail)?;
        Ok(status(id))
    }
}

/// Serves SFTP on stdin/stdout until the client closes it. Standard input
/// and output are the pipes the agent made: they are used as non-blocking
/// pipes with buffers (tokio's stdin/stdout go through a blocking thread per
/// read, which halves transfer rates); anything else falls back to those.
pub async fn serve_stdio() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    match stdio_pipes() {
        Ok((read, write)) => {
            let io = tokio::io::join(
                tokio::io::BufReader::with_capacity(IO_BUFFER, read),
                tokio::io::BufWriter::with_capacity(IO_BUFFER, write),
            );
            russh_sftp::server::run(
                DoneOnDrop {
                    inner: io,
                    done: Some(tx),
                },
                Sftp::default(),
            )
            .await;
        }
        Err(_) => {
            let io = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
            russh_sftp::server::run(
                DoneOnDrop {
                    inner: io,
                    done: Some(tx),
                },
                Sftp::default(),
            )
            .await;
        }
    }
    let _ = rx.await;
}

/// Buffer size of the stdio pipes, in bytes.
const IO_BUFFER: usize = 256 * 1024;

/// Standard input and output as async pipe ends.
fn stdio_pipes() -> std::io::Result<(tokio::net::unix::pipe::Receiver, tokio::net::unix::pipe::Sender)> {
    use std::os::fd::AsFd;
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned()?;
    Ok((
        tokio::net::unix::pipe::Receiver::from_owned_fd(input)?,
        tokio::net::unix::pipe::Sender::from_owned_fd(output)?,
    ))
}

/// A stream that reports when russh-sftp drops it (the session ended).
struct DoneOnDrop<S> {
    inner: S,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<S> Drop for DoneOnDrop<S> {
    fn drop(&mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for DoneOnDrop<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for DoneOnDrop<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize("/a/b/../c/./d"), PathBuf::from("/a/c/d"));
        assert_eq!(normalize("/.."), PathBuf::from("/"));
    }
}
