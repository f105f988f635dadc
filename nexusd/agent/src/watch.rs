//! `nexus-agent --watch PATH [--recursive]`: inotify(7) events under PATH as
//! JSON lines on stdout, in the shape of `fs.watch` notifications
//! (`{"type":"ready"}` once the watches are in place, then
//! `{"type":"create"|"modify"|"delete","path":…}`). Runs as the session
//! user; ends when stdout closes (the daemon unsubscribed: SIGHUP, or EPIPE).

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::CLOSE_WRITE
        | WatchMask::MODIFY
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::ATTRIB
}

struct Watcher {
    inotify: Inotify,
    dirs: HashMap<WatchDescriptor, PathBuf>,
    recursive: bool,
}

impl Watcher {
    /// Watches `path`, and with `recursive` every directory below it.
    fn add(&mut self, path: &Path) -> std::io::Result<()> {
        let wd = self.inotify.watches().add(path, mask())?;
        self.dirs.insert(wd, path.to_path_buf());
        if self.recursive && path.is_dir() {
            for entry in std::fs::read_dir(path)?.flatten() {
                let child = entry.path();
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    // a directory we may not read is skipped, as `find` would
                    let _ = self.add(&child);
                }
            }
        }
        Ok(())
    }
}

fn line(out: &mut impl Write, kind: &str, path: Option<&Path>) -> std::io::Result<()> {
    let v = match path {
        Some(p) => serde_json::json!({"type": kind, "path": p.to_string_lossy()}),
        None => serde_json::json!({"type": kind}),
    };
    writeln!(out, "{v}")?;
    out.flush()
}

/// Exit code of a watch whose path does not exist (sysexits' `EX_NOINPUT`);
/// the daemon's `fs.watch` answers it with `file_not_found`.
const EXIT_NOT_FOUND: u8 = 66;
/// Exit code of a watch the user may not make (sysexits' `EX_NOPERM`); the
/// daemon answers it with `permission_denied`.
const EXIT_DENIED: u8 = 77;

/// Runs the watch; returns the exit code: 0 when the path went or stdout
/// closed, [`EXIT_NOT_FOUND`], [`EXIT_DENIED`], else 1 (the reason on stderr).
pub fn main(path: &str, recursive: bool) -> std::process::ExitCode {
    match run(Path::new(path), recursive) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nexus-agent: cannot watch {path}: {e}");
            std::process::ExitCode::from(match e.kind() {
                std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => EXIT_DENIED,
                _ => 1,
            })
        }
    }
}

fn run(path: &Path, recursive: bool) -> std::io::Result<()> {
    let mut w = Watcher {
        inotify: Inotify::init()?,
        dirs: HashMap::new(),
        recursive,
    };
    w.add(path)?;
    let mut out = std::io::stdout().lock();
    line(&mut out, "ready", None)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let events: Vec<(WatchDescriptor, EventMask, Option<std::ffi::OsString>)> = w
            .inotify
            .read_events_blocking(&mut buf)?
            .map(|e| (e.wd, e.mask, e.name.map(|n| n.to_os_string())))
            .collect();
        // one write is often MODIFY then CLOSE_WRITE: report it once per batch
        let mut last: Option<(&str, PathBuf)> = None;
        for (wd, mask, name) in events {
            let Some(dir) = w.dirs.get(&wd).cloned() else { continue };
            let full = match &name {
                Some(n) => dir.join(n),
                None => dir.clone(),
            };
            if mask.contains(EventMask::IGNORED) {
                w.dirs.remove(&wd);
                continue;
            }
            let kind = if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                if recursive && mask.contains(EventMask::ISDIR) {
                    let _ = w.add(&full);
                }
                "create"
            } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
                "delete"
            } else if mask.contains(EventMask::DELETE_SELF) {
                if name.is_none() && dir == path {
                    line(&mut out, "delete", Some(&full))?;
                    return Ok(()); // the watched path itself is gone
                }
                continue;
            } else if mask.intersects(EventMask::CLOSE_WRITE | EventMask::MODIFY | EventMask::ATTRIB) {
                "modify"
            } else {
                continue;
            };
            if last.as_ref().is_some_and(|(k, p)| *k == kind && *p == full) {
                continue;
            }
            line(&mut out, kind, Some(&full))?;
            last = Some((kind, full));
        }
    }
}
