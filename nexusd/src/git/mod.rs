//! Git worktrees through git2: find the repository, add `.worktree/<name>` on
//! `nexus/<name>`, check it before removal, and remove it. Blocking calls:
//! the workspace manager runs them on the blocking pool.

use crate::error::WorkspaceError;

/// What a git operation can fail with; it becomes a [`WorkspaceError`] of
/// the same meaning at the layer's edge.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The path is not inside a git repository.
    #[error("{0} is not inside a git repository: run `git init` there, or run nexus inside a repository")]
    NotARepository(String),
    /// The revision names no commit.
    #[error("{0:?} names no commit in the repository: check it with `git rev-parse {0}`")]
    RefNotFound(String),
    /// A file operation on the repository's files failed.
    #[error("{what}: {source}")]
    Io {
        /// What was done, with the path.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// libgit2 failed.
    #[error("git: {0}")]
    Git(String),
    /// A repository URL that Nexus does not fetch, and why.
    #[error("{0:?} cannot be used as a repository: {1}")]
    InvalidUrl(String, String),
    /// `git fetch` of a repository URL failed; git's words.
    #[error(
        "cannot fetch {0}: {1} (check the URL, and that the daemon's user may read it: its SSH keys or agent, or a git credential helper)"
    )]
    Unreachable(String, String),
}

impl From<GitError> for WorkspaceError {
    fn from(e: GitError) -> WorkspaceError {
        match e {
            GitError::NotARepository(path) => WorkspaceError::NotAGitRepository(path),
            GitError::RefNotFound(spec) => WorkspaceError::RefNotFound(spec),
            GitError::Io { what, source } => WorkspaceError::Io { what, source },
            GitError::Git(m) => WorkspaceError::Internal(format!("git: {m}")),
            e @ GitError::InvalidUrl(..) => WorkspaceError::InvalidParams(e.to_string()),
            e @ GitError::Unreachable(..) => WorkspaceError::RepositoryUnreachable(e.to_string()),
        }
    }
}

/// `Result` of git operations.
pub type Result<T, E = GitError> = std::result::Result<T, E>;

/// A closure for `map_err` naming a failed file operation.
fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> GitError {
    let what = what.into();
    move |source| GitError::Io { what, source }
}
pub mod checkpoint;
pub mod mirror;
pub mod trace;

use git2::{BranchType, Repository, StatusOptions, WorktreeAddOptions, WorktreePruneOptions};
use std::path::{Path, PathBuf};

/// One lock per repository (by git common dir) serializing this daemon's
/// writes to it (branches, worktrees, `info/exclude`, a mirror's fetch):
/// concurrent creates in one repository would otherwise race on git's lock
/// files. Writes to different repositories, and a slow fetch, do not wait
/// for each other.
static GIT_WRITE: std::sync::Mutex<Vec<(PathBuf, &'static std::sync::Mutex<()>)>> = std::sync::Mutex::new(Vec::new());

fn write_lock(common_dir: &Path) -> std::sync::MutexGuard<'static, ()> {
    let lock = {
        let mut locks = GIT_WRITE.lock().unwrap_or_else(|p| p.into_inner());
        match locks.iter().find(|(dir, _)| dir == common_dir) {
            Some((_, lock)) => *lock,
            None => {
                // one small lock per repository this daemon ever wrote to, kept for its life
                let lock: &'static std::sync::Mutex<()> = Box::leak(Box::new(std::sync::Mutex::new(())));
                locks.push((common_dir.to_path_buf(), lock));
                lock
            }
        }
    };
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

/// Directory under the repository's main working tree that holds worktrees.
pub const WORKTREE_DIR: &str = ".worktree";

/// A repository as Nexus uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// The main working tree.
    pub workdir: PathBuf,
    /// The git common dir (`<workdir>/.git`).
    pub common_dir: PathBuf,
    /// The main working tree's directory name (used in `/workspaces/<name>`).
    pub name: String,
}

fn internal(e: git2::Error) -> GitError {
    GitError::Git(e.message().to_string())
}

/// The bytes of the file at `path` (relative to the repository root, `/`
/// separated) in commit `commit`; `None` when the commit has no such file.
pub fn read_at(repo: &RepoInfo, commit: git2::Oid, path: &str) -> Result<Option<Vec<u8>>> {
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let tree = r.find_commit(commit).and_then(|c| c.tree()).map_err(internal)?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(None);
    };
    match entry.to_object(&r).map_err(internal)?.into_blob() {
        Ok(blob) => Ok(Some(blob.content().to_vec())),
        Err(_) => Ok(None),
    }
}

/// The directory `dir` of commit `commit` as a tar archive (a Docker build
/// context: files with their modes, symlinks; submodules left out), and the
/// id of its tree, which changes exactly when its content does; `extra`
/// files are added at the end. `None` when the commit has no such directory
/// (`""` is the root).
pub fn archive_at(
    repo: &RepoInfo,
    commit: git2::Oid,
    dir: &str,
    extra: &[(&str, &[u8])],
) -> Result<Option<(Vec<u8>, String)>> {
    let extra: Vec<(String, Vec<u8>, u32)> = extra.iter().map(|(p, d)| (p.to_string(), d.to_vec(), 0o644)).collect();
    Ok(
        archive_folders(repo, commit, &[(dir.to_string(), String::new())], &extra)?
            .map(|(tar, mut trees)| (tar, trees.remove(0))),
    )
}

/// Like [`archive_at`] for several directories of the commit, each
/// `(dir, prefix)` put under `prefix` (`"features/0/"`, or `""` for the
/// context's root), then the `extra` files (path, content, mode); returns
/// the archive and each directory's tree id. `None` when one of them is no
/// directory of the commit.
pub fn archive_folders(
    repo: &RepoInfo,
    commit: git2::Oid,
    dirs: &[(String, String)],
    extra: &[(String, Vec<u8>, u32)],
) -> Result<Option<(Vec<u8>, Vec<String>)>> {
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let root = r.find_commit(commit).and_then(|c| c.tree()).map_err(internal)?;
    let mut b = tar::Builder::new(Vec::new());
    let mut trees = Vec::new();
    for (dir, prefix) in dirs {
        let tree = if dir.is_empty() {
            root.clone()
        } else {
            match root.get_path(Path::new(dir)).and_then(|e| e.to_object(&r)) {
                Ok(o) => match o.into_tree() {
                    Ok(t) => t,
                    Err(_) => return Ok(None),
                },
                Err(_) => return Ok(None),
            }
        };
        append_tree(&r, &mut b, &tree, prefix)?;
        trees.push(tree.id().to_string());
    }
    for (path, data, mode) in extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        b.append_data(&mut h, path, data.as_slice())
            .map_err(io("packing the build context"))?;
    }
    let archive = b.into_inner().map_err(io("packing the build context"))?;
    Ok(Some((archive, trees)))
}

/// Appends the files of `tree` to `b` under `prefix`.
fn append_tree(r: &Repository, b: &mut tar::Builder<Vec<u8>>, tree: &git2::Tree, prefix: &str) -> Result<()> {
    let mut failed = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        let path = format!("{prefix}{parent}{name}");
        let mode = entry.filemode();
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok; // directories are walked; submodules skipped
        }
        let blob = match r.find_blob(entry.id()) {
            Ok(b) => b,
            Err(e) => {
                failed = Some(e);
                return git2::TreeWalkResult::Abort;
            }
        };
        let mut h = tar::Header::new_gnu();
        let added = if mode == 0o120000 {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            let target = String::from_utf8_lossy(blob.content()).into_owned();
            b.append_link(&mut h, &path, target)
        } else {
            h.set_size(blob.content().len() as u64);
            h.set_mode(if mode == 0o100755 { 0o755 } else { 0o644 });
            b.append_data(&mut h, &path, blob.content())
        };
        match added {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failed = Some(git2::Error::from_str(&e.to_string()));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .map_err(internal)?;
    match failed {
        Some(e) => Err(internal(e)),
        None => Ok(()),
    }
}

/// Finds the repository containing `path` (from any of its worktrees too).
///
/// Errors: `NotAGitRepository` (also for bare repositories, which have no
/// working tree to start from).
pub fn discover(path: &Path) -> Result<RepoInfo> {
    let not_repo = || GitError::NotARepository(path.display().to_string());
    let repo = Repository::discover(path).map_err(|_| not_repo())?;
    let common_dir = repo.commondir().canonicalize().map_err(|_| not_repo())?;
    if repo.is_bare() && !repo.is_worktree() {
        return Err(not_repo());
    }
    // the main working tree is the parent of the common dir `.git`
    let workdir = common_dir.parent().map(Path::to_path_buf).ok_or_else(not_repo)?;
    if common_dir.file_name().and_then(|n| n.to_str()) != Some(".git") {
        return Err(not_repo());
    }
    let name = workdir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("workspace")
        .to_string();
    Ok(RepoInfo {
        workdir,
        common_dir,
        name,
    })
}

/// The branch of workspace `name`.
pub fn branch_name(name: &str) -> String {
    format!("nexus/{name}")
}

/// The worktree path of workspace `name`.
pub fn worktree_path(repo: &RepoInfo, name: &str) -> PathBuf {
    repo.workdir.join(WORKTREE_DIR).join(name)
}

/// Checks that `from` (default `HEAD`) names a commit; returns its id.
///
/// Errors: `RefNotFound`.
pub fn resolve_from(repo: &RepoInfo, from: Option<&str>) -> Result<git2::Oid> {
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let spec = from.unwrap_or("HEAD");
    let obj = r
        .revparse_single(spec)
        .map_err(|_| GitError::RefNotFound(spec.to_string()))?;
    let commit = obj
        .peel_to_commit()
        .map_err(|_| GitError::RefNotFound(spec.to_string()))?;
    Ok(commit.id())
}

/// Whether the branch exists already.
pub fn branch_exists(repo: &RepoInfo, branch: &str) -> Result<bool> {
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    Ok(r.find_branch(branch, BranchType::Local).is_ok())
}

/// Adds the worktree of `name` on its branch, creating the branch at `start`
/// when it does not exist, and lists `.worktree/` in `.git/info/exclude`.
pub fn add_worktree(repo: &RepoInfo, name: &str, start: git2::Oid) -> Result<PathBuf> {
    let _lock = write_lock(&repo.common_dir);
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let branch = branch_name(name);
    let reference = match r.find_branch(&branch, BranchType::Local) {
        Ok(b) => b.into_reference(),
        Err(_) => {
            let commit = r.find_commit(start).map_err(internal)?;
            let made = r.branch(&branch, &commit, false).map_err(internal)?.into_reference();
            if mirror::is_mirror(&r) {
                mirror::track_origin(&r, &branch)?;
            }
            made
        }
    };
    let path = worktree_path(repo, name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("making {}", parent.display())))?;
    }
    exclude_worktree_dir(repo)?;
    let mut opts = WorktreeAddOptions::new();
    opts.reference(Some(&reference));
    r.worktree(&worktree_id(name), &path, Some(&opts)).map_err(internal)?;
    Ok(path)
}

/// The name git gives the worktree under `.git/worktrees/`.
fn worktree_id(name: &str) -> String {
    format!("nexus-{name}")
}

/// Appends `/.worktree/` to `.git/info/exclude` unless it is there.
fn exclude_worktree_dir(repo: &RepoInfo) -> Result<()> {
    let info = repo.common_dir.join("info");
    std::fs::create_dir_all(&info).map_err(io(format!("making {}", info.display())))?;
    let path = info.join("exclude");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let line = format!("/{WORKTREE_DIR}/");
    if current.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
    Ok(())
}

/// Why a worktree may not be removed without force, if it may not.
pub fn removal_blocker(repo: &RepoInfo, worktree: &Path, branch: &str) -> Result<Option<String>> {
    if worktree.exists() {
        let wt = Repository::open(worktree).map_err(internal)?;
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .include_ignored(false)
            .recurse_untracked_dirs(false);
        if !wt.statuses(Some(&mut opts)).map_err(internal)?.is_empty() {
            return Ok(Some("uncommitted changes".into()));
        }
    }
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let Ok(ours) = r.find_branch(branch, BranchType::Local) else {
        return Ok(None);
    };
    let Some(head) = ours.get().target() else {
        return Ok(None);
    };
    for other in r.branches(None).map_err(internal)? {
        let (b, _) = other.map_err(internal)?;
        if b.name().ok().flatten() == Some(branch) {
            continue;
        }
        if let Some(tip) = b.get().target()
            && (tip == head || r.graph_descendant_of(tip, head).unwrap_or(false))
        {
            return Ok(None);
        }
    }
    Ok(Some("commits on no other branch".into()))
}

/// Removes the worktree directory and git's record of it. Missing parts are fine.
pub fn remove_worktree(repo: &RepoInfo, name: &str, worktree: &Path) -> Result<()> {
    let _lock = write_lock(&repo.common_dir);
    if worktree.exists() {
        std::fs::remove_dir_all(worktree).map_err(io(format!("removing {}", worktree.display())))?;
    }
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    if let Ok(wt) = r.find_worktree(&worktree_id(name)) {
        let mut opts = WorktreePruneOptions::new();
        opts.valid(true).working_tree(true).locked(true);
        wt.prune(Some(&mut opts)).map_err(internal)?;
    }
    Ok(())
}

/// Deletes the branch if it exists.
pub fn delete_branch(repo: &RepoInfo, branch: &str) -> Result<()> {
    let _lock = write_lock(&repo.common_dir);
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    if let Ok(mut b) = r.find_branch(branch, BranchType::Local) {
        b.delete().map_err(internal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs git in `dir` (as user t, branch main by default); its output.
    pub(super) fn git(dir: &Path, args: &[&str]) -> String {
        let o = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn repo() -> (tempfile::TempDir, RepoInfo) {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("a.txt"), "a\n").expect("write");
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-qm", "one"]);
        let info = discover(dir.path()).expect("discover");
        (dir, info)
    }

    #[test]
    fn adds_checks_and_removes_a_worktree() {
        let (dir, info) = repo();
        let start = resolve_from(&info, None).expect("HEAD");
        let path = add_worktree(&info, "feat", start).expect("add");
        assert!(path.join("a.txt").is_file());
        assert!(branch_exists(&info, "nexus/feat").expect("branch"));
        let exclude = std::fs::read_to_string(info.common_dir.join("info/exclude")).expect("exclude");
        assert!(exclude.contains("/.worktree/"));
        // the main checkout stays clean
        let out = Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(dir.path())
            .output()
            .expect("git");
        assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
        // from inside the worktree, discovery finds the main repository
        assert_eq!(discover(&path).expect("discover").workdir, info.workdir);

        assert_eq!(removal_blocker(&info, &path, "nexus/feat").expect("check"), None);
        std::fs::write(path.join("b.txt"), "b").expect("write");
        assert_eq!(
            removal_blocker(&info, &path, "nexus/feat").expect("check").as_deref(),
            Some("uncommitted changes")
        );
        git(&path, &["add", "."]);
        git(&path, &["commit", "-qm", "two"]);
        assert_eq!(
            removal_blocker(&info, &path, "nexus/feat").expect("check").as_deref(),
            Some("commits on no other branch")
        );
        remove_worktree(&info, "feat", &path).expect("remove");
        assert!(!path.exists());
        delete_branch(&info, "nexus/feat").expect("delete");
        assert!(!branch_exists(&info, "nexus/feat").expect("branch"));
    }

    #[test]
    fn bad_inputs_are_named() {
        let (_dir, info) = repo();
        assert!(matches!(
            resolve_from(&info, Some("no-such-ref")),
            Err(GitError::RefNotFound(_))
        ));
        let plain = tempfile::tempdir().expect("tempdir");
        assert!(matches!(discover(plain.path()), Err(GitError::NotARepository(_))));
    }
}
