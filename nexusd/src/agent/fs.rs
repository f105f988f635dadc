//! `fs.*`: file operations inside a workspace's container, never on the
//! host: through the agent's SFTP subsystem on the daemon's pooled SSH
//! connection, so they run as the workspace user with that user's
//! permissions. Relative paths are relative to the workspace folder.

use crate::agent::client::AgentPool;
use crate::error::{Result, WorkspaceError};
use nexus_sdk::{
    FileStat, FileType, MAX_READ_BYTES, MkdirParams, PathParams, ReadFileParams, ReadFileResult, RenameParams,
    RmParams, WriteFileParams,
};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// One `fs.*` call's context: the session, the workspace, the user.
pub struct Fs<'a> {
    /// The pool the session came from; a broken session is dropped from it.
    pub(crate) agents: &'a AgentPool,
    /// The workspace's SFTP session, as the workspace user.
    pub(crate) sftp: Arc<SftpSession>,
    /// The workspace's name, for errors.
    pub(crate) workspace: String,
    /// The workspace's id, the pool's key.
    pub(crate) workspace_id: String,
    /// The workspace user, for errors.
    pub(crate) user: String,
    /// The workspace folder, which relative paths start from.
    pub(crate) folder: String,
}

/// A file opened by [`Fs::open_read`]: `length` bytes from `offset` are left to read.
pub struct OpenRead {
    /// The file, limited to `length` bytes.
    pub file: tokio::io::Take<russh_sftp::client::fs::File>,
    /// The path in the container.
    pub path: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Where reading starts, in bytes.
    pub offset: u64,
    /// How many bytes will be read.
    pub length: u64,
}

/// `path` in the container: NUL bytes refused, relative paths joined to `folder`.
pub fn resolve(folder: &str, path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(WorkspaceError::InvalidParams("path contains a NUL byte".into()));
    }
    Ok(match path {
        "" | "." => folder.to_string(),
        p if p.starts_with('/') => p.to_string(),
        p => format!("{}/{p}", folder.trim_end_matches('/')),
    })
}

fn name_of(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("/")
        .to_string()
}

/// A [`FileStat`] from SFTP attributes.
fn stat_of(name: String, a: &FileAttributes) -> FileStat {
    let mode = a.permissions.unwrap_or(0);
    let file_type = match mode & 0o170000 {
        0o040000 => FileType::Directory,
        0o100000 => FileType::File,
        0o120000 => FileType::Symlink,
        _ => FileType::Other,
    };
    FileStat {
        name,
        file_type,
        size: a.size.unwrap_or(0),
        mode: mode & 0o7777,
        mtime: a.mtime.unwrap_or(0) as u64,
    }
}

impl Fs<'_> {
    /// Maps an SFTP failure on `path` to an error; a transport failure also
    /// drops the session so the next call opens a new one.
    async fn fail(&self, op: &'static str, path: &str, e: SftpError) -> WorkspaceError {
        match e {
            SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile => WorkspaceError::FileNotFound {
                workspace: self.workspace.clone(),
                path: path.to_string(),
            },
            SftpError::Status(s) if s.status_code == StatusCode::PermissionDenied => WorkspaceError::PermissionDenied {
                workspace: self.workspace.clone(),
                path: path.to_string(),
                user: self.user.clone(),
            },
            SftpError::Status(s) => WorkspaceError::FileOperation {
                op,
                path: path.to_string(),
                message: s.error_message.clone(),
            },
            other => {
                self.agents.forget_sftp(&self.workspace_id).await;
                WorkspaceError::AgentUnavailable(format!("{op} {path}: {other}"))
            }
        }
    }

    fn io_fail(&self, op: &'static str, path: &str, e: std::io::Error) -> WorkspaceError {
        match e.kind() {
            std::io::ErrorKind::NotFound => WorkspaceError::FileNotFound {
                workspace: self.workspace.clone(),
                path: path.to_string(),
            },
            std::io::ErrorKind::PermissionDenied => WorkspaceError::PermissionDenied {
                workspace: self.workspace.clone(),
                path: path.to_string(),
                user: self.user.clone(),
            },
            _ => WorkspaceError::FileOperation {
                op,
                path: path.to_string(),
                message: e.to_string(),
            },
        }
    }

    /// Opens `path` for reading `length` bytes (the rest of the file when
    /// absent, up to `limit` when given) from `offset` (clamped to the size).
    ///
    /// Errors: `FileNotFound`, `PermissionDenied`, `FileOperation` for a
    /// directory, `InvalidParams` when no `length` is given and more than
    /// `limit` bytes remain.
    pub async fn open_read(
        &self,
        op: &'static str,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
        limit: Option<u64>,
    ) -> Result<OpenRead> {
        let path = resolve(&self.folder, path)?;
        let meta = match self.sftp.metadata(path.as_str()).await {
            Ok(m) => m,
            Err(e) => return Err(self.fail(op, &path, e).await),
        };
        if meta.is_dir() {
            return Err(WorkspaceError::FileOperation {
                op,
                path,
                message: "is a directory: list it with fs.readdir".into(),
            });
        }
        let size = meta.size.unwrap_or(0);
        let offset = offset.unwrap_or(0).min(size);
        let rest = size - offset;
        let limit = limit.unwrap_or(u64::MAX);
        let length = match length {
            Some(n) => n.min(rest).min(limit),
            None if rest > limit => {
                return Err(WorkspaceError::InvalidParams(format!(
                    "{path} has {rest} bytes from offset {offset}, more than {op} returns at once ({limit}): read it in chunks with offset and length"
                )));
            }
            None => rest,
        };
        let mut file = match self.sftp.open(path.as_str()).await {
            Ok(f) => f,
            Err(e) => return Err(self.fail(op, &path, e).await),
        };
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| self.io_fail(op, &path, e))?;
        Ok(OpenRead {
            file: file.take(length),
            path,
            size,
            offset,
            length,
        })
    }

    /// `fs.readFile`: up to [`MAX_READ_BYTES`] from `offset`.
    pub async fn read_file(&self, p: &ReadFileParams) -> Result<ReadFileResult> {
        let mut open = self
            .open_read("fs.readFile", &p.path, p.offset, p.length, Some(MAX_READ_BYTES))
            .await?;
        let mut data = Vec::with_capacity(open.length as usize);
        open.file
            .read_to_end(&mut data)
            .await
            .map_err(|e| self.io_fail("fs.readFile", &open.path, e))?;
        Ok(ReadFileResult {
            content: p.encoding.encode(&data),
            encoding: p.encoding,
            size: open.size,
            eof: open.offset + data.len() as u64 >= open.size,
        })
    }

    /// `fs.writeFile`: replace, append, or write at an offset.
    pub async fn write_file(&self, p: &WriteFileParams) -> Result<()> {
        let path = resolve(&self.folder, &p.path)?;
        let data = p
            .encoding
            .decode(&p.content)
            .map_err(|e| WorkspaceError::InvalidParams(format!("content is {e}")))?;
        let flags = if p.append {
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::APPEND
        } else if p.offset.is_some() {
            OpenFlags::WRITE | OpenFlags::CREATE
        } else {
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE
        };
        let mut file = match self.sftp.open_with_flags(path.as_str(), flags).await {
            Ok(f) => f,
            Err(e) => return Err(self.fail("fs.writeFile", &path, e).await),
        };
        if let (Some(offset), false) = (p.offset, p.append) {
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| self.io_fail("fs.writeFile", &path, e))?;
        }
        file.write_all(&data)
            .await
            .map_err(|e| self.io_fail("fs.writeFile", &path, e))?;
        file.shutdown()
            .await
            .map_err(|e| self.io_fail("fs.writeFile", &path, e))?;
        Ok(())
    }

    /// `fs.exists` (without following a final symlink).
    pub async fn exists(&self, p: &PathParams) -> Result<bool> {
        let path = resolve(&self.folder, &p.path)?;
        match self.sftp.symlink_metadata(path.as_str()).await {
            Ok(_) => Ok(true),
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(false),
            Err(e) => Err(self.fail("fs.exists", &path, e).await),
        }
    }

    /// `fs.stat` (following symlinks).
    pub async fn stat(&self, p: &PathParams) -> Result<FileStat> {
        let path = resolve(&self.folder, &p.path)?;
        match self.sftp.metadata(path.as_str()).await {
            Ok(m) => Ok(stat_of(name_of(&path), &m)),
            Err(e) => Err(self.fail("fs.stat", &path, e).await),
        }
    }

    /// `fs.readdir`: the entries without `.` and `..`, by name.
    pub async fn readdir(&self, p: &PathParams) -> Result<Vec<FileStat>> {
        let path = resolve(&self.folder, &p.path)?;
        let entries = match self.sftp.read_dir(path.as_str()).await {
            Ok(d) => d,
            Err(e) => return Err(self.fail("fs.readdir", &path, e).await),
        };
        let mut out: Vec<FileStat> = entries
            .filter(|e| e.file_name() != "." && e.file_name() != "..")
            .map(|e| stat_of(e.file_name(), &e.metadata()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `fs.mkdir`, with parents when `recursive`.
    pub async fn mkdir(&self, p: &MkdirParams) -> Result<()> {
        let path = resolve(&self.folder, &p.path)?;
        if !p.recursive {
            return match self.sftp.create_dir(path.as_str()).await {
                Ok(()) => Ok(()),
                Err(e) => Err(self.fail("fs.mkdir", &path, e).await),
            };
        }
        let mut prefix = String::new();
        for part in path.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            if let Ok(m) = self.sftp.metadata(prefix.as_str()).await
                && m.is_dir()
            {
                continue;
            }
            if let Err(e) = self.sftp.create_dir(prefix.as_str()).await {
                // made meanwhile by someone else is fine
                if !self
                    .sftp
                    .metadata(prefix.as_str())
                    .await
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
                {
                    return Err(self.fail("fs.mkdir", &prefix, e).await);
                }
            }
        }
        Ok(())
    }

    /// `fs.rm`: a file, or a directory with `recursive`; a missing path is
    /// fine with `force`.
    pub async fn rm(&self, p: &RmParams) -> Result<()> {
        let path = resolve(&self.folder, &p.path)?;
        let meta = match self.sftp.symlink_metadata(path.as_str()).await {
            Ok(m) => m,
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile && p.force => return Ok(()),
            Err(e) => return Err(self.fail("fs.rm", &path, e).await),
        };
        if !meta.is_dir() {
            return match self.sftp.remove_file(path.as_str()).await {
                Ok(()) => Ok(()),
                Err(e) => Err(self.fail("fs.rm", &path, e).await),
            };
        }
        if !p.recursive {
            return Err(WorkspaceError::FileOperation {
                op: "fs.rm",
                path,
                message: "is a directory: pass recursive to remove it with its contents".into(),
            });
        }
        // depth first, without following symlinks
        let mut stack = vec![(path.clone(), false)];
        while let Some((dir, listed)) = stack.pop() {
            if listed {
                if let Err(e) = self.sftp.remove_dir(dir.as_str()).await {
                    return Err(self.fail("fs.rm", &dir, e).await);
                }
                continue;
            }
            stack.push((dir.clone(), true));
            let entries = match self.sftp.read_dir(dir.as_str()).await {
                Ok(d) => d,
                Err(e) => return Err(self.fail("fs.rm", &dir, e).await),
            };
            for e in entries.filter(|e| e.file_name() != "." && e.file_name() != "..") {
                let child = format!("{}/{}", dir.trim_end_matches('/'), e.file_name());
                if e.metadata().is_dir() {
                    stack.push((child, false));
                } else if let Err(err) = self.sftp.remove_file(child.as_str()).await {
                    return Err(self.fail("fs.rm", &child, err).await);
                }
            }
        }
        Ok(())
    }

    /// `fs.rename`; the target must not exist.
    pub async fn rename(&self, p: &RenameParams) -> Result<()> {
        let (from, to) = (resolve(&self.folder, &p.from)?, resolve(&self.folder, &p.to)?);
        match self.sftp.rename(from.as_str(), to.as_str()).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail("fs.rename", &from, e).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_against_the_workspace_folder() {
        assert_eq!(
            resolve("/workspaces/app", "src/main.rs").expect("ok"),
            "/workspaces/app/src/main.rs"
        );
        assert_eq!(resolve("/workspaces/app", "/etc/hosts").expect("ok"), "/etc/hosts");
        assert_eq!(resolve("/workspaces/app", "").expect("ok"), "/workspaces/app");
        assert!(matches!(resolve("/w", "a\0b"), Err(WorkspaceError::InvalidParams(_))));
        assert_eq!(name_of("/a/b/"), "b");
        assert_eq!(name_of("/"), "/");
    }

    #[test]
    fn file_types_come_from_the_mode() {
        let a = FileAttributes {
            permissions: Some(0o040755),
            size: Some(4096),
            mtime: Some(7),
            ..Default::default()
        };
        let s = stat_of("d".into(), &a);
        assert_eq!(
            (s.file_type, s.mode, s.size, s.mtime),
            (FileType::Directory, 0o755, 4096, 7)
        );
        let l = FileAttributes {
            permissions: Some(0o120777),
            ..Default::default()
        };
        assert_eq!(stat_of("l".into(), &l).file_type, FileType::Symlink);
    }
}
