//! Git checkpoints: a worktree recorded exactly, and brought back.
//!
//! A checkpoint is a commit object whose tree is the worktree's files as
//! they are (HEAD's tree with modified, deleted and untracked files; files
//! `.gitignore` names only when asked), whose first parent is HEAD and whose
//! second parent is a commit of the index (as `git stash` records a stash).
//! It lives on a hidden ref, `refs/nexus/checkpoints/<workspace id>/<n>`,
//! which keeps its objects through `git gc --prune=now`. Recording uses the
//! worktree's index in memory only: the worktree, its index file and the
//! branch are never touched.

use super::{GitError, Result, internal};
use git2::{Delta, Oid, Repository, ResetType, Signature};
use std::path::Path;

/// The ref prefix of every checkpoint.
pub const REF_PREFIX: &str = "refs/nexus/checkpoints/";

/// The ref of checkpoint `n` of workspace `workspace_id`.
pub fn checkpoint_ref(workspace_id: &str, n: u32) -> String {
    format!("{REF_PREFIX}{workspace_id}/{n}")
}

/// Who checkpoint commits are by (they are no one's work).
fn signature() -> Result<Signature<'static>> {
    Signature::now("Nexus", "nexus@localhost").map_err(internal)
}

/// Records the worktree at `worktree` as a checkpoint on `reference`
/// (replacing nothing: an existing ref is an error), with `message`;
/// `ignored` also records the files `.gitignore` names. Returns the
/// checkpoint commit.
///
/// Errors: [`GitError::Git`] when the worktree has no commit yet or the
/// ref exists.
pub fn record(worktree: &Path, reference: &str, message: &str, ignored: bool) -> Result<Oid> {
    let repo = Repository::open(worktree).map_err(internal)?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        GitError::Git(format!(
            "the worktree has no commit to checkpoint from: {}",
            e.message()
        ))
    })?;
    let sig = signature()?;
    // the index as it is
    let mut index = repo.index().map_err(internal)?;
    let staged = repo
        .find_tree(index.write_tree_to(&repo).map_err(internal)?)
        .map_err(internal)?;
    let staged_commit = repo
        .commit(None, &sig, &sig, &format!("index of {message}"), &staged, &[&head])
        .map_err(internal)?;
    let staged_commit = repo.find_commit(staged_commit).map_err(internal)?;
    let files = worktree_tree(&repo, &index, &staged, ignored)?;
    let files = repo.find_tree(files).map_err(internal)?;
    let commit = repo
        .commit(None, &sig, &sig, message, &files, &[&head, &staged_commit])
        .map_err(internal)?;
    repo.reference(reference, commit, false, message).map_err(internal)?;
    Ok(commit)
}

/// The tree of every file of `repo`'s worktree as it is now (`ignored`:
/// those `.gitignore` names too), written into the repository: one scan of
/// the worktree against `index` (its stat cache spares hashing unchanged
/// files), what differs written onto `staged` (the index's own tree); the
/// index is never written.
pub(super) fn worktree_tree(
    repo: &Repository,
    index: &git2::Index,
    staged: &git2::Tree<'_>,
    ignored: bool,
) -> Result<Oid> {
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true)
        .include_ignored(ignored)
        .recurse_ignored_dirs(ignored);
    let diff = repo
        .diff_index_to_workdir(Some(index), Some(&mut opts))
        .map_err(internal)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError::Git("the checkpoint's repository has no worktree".into()))?
        .to_path_buf();
    let filtered = needs_filters(repo, index, &diff)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path().or_else(|| delta.old_file().path()) else {
            continue;
        };
        match delta.status() {
            Delta::Deleted => {
                update.remove(path);
            }
            Delta::Added | Delta::Modified | Delta::Untracked | Delta::Typechange | Delta::Ignored => {
                let full = workdir.join(path);
                let id = if filtered {
                    repo.blob_path(&full).map_err(internal)?
                } else {
                    let bytes = std::fs::read(&full).map_err(super::io(format!("reading {}", full.display())))?;
                    repo.blob(&bytes).map_err(internal)?
                };
                update.upsert(path, id, file_mode(&full)?);
            }
            _ => {}
        }
    }
    update.create_updated(repo, staged).map_err(internal)
}

/// Whether git would convert any file of the worktree on its way into a
/// blob (`.gitattributes` in the index or among the changes,
/// `info/attributes`, `core.attributesFile`, `core.autocrlf`): only then
/// are files read through git's filters, which cost more than hashing them
/// (libgit2 looks up each path's attributes).
fn needs_filters(repo: &Repository, index: &git2::Index, diff: &git2::Diff<'_>) -> Result<bool> {
    let config = repo.config().map_err(internal)?;
    let autocrlf = config.get_string("core.autocrlf").unwrap_or_default();
    if !matches!(autocrlf.as_str(), "" | "false") || config.get_path("core.attributesFile").is_ok() {
        return Ok(true);
    }
    if repo.commondir().join("info/attributes").exists() {
        return Ok(true);
    }
    let attributes = |path: &[u8]| path == b".gitattributes" || path.ends_with(b"/.gitattributes");
    if index.iter().any(|e| attributes(&e.path)) {
        return Ok(true);
    }
    Ok(diff.deltas().any(|d| {
        d.new_file()
            .path()
            .is_some_and(|p| attributes(p.as_os_str().as_encoded_bytes()))
    }))
}

/// The git file mode of worktree file `full`: a symbolic link, an
/// executable or a plain file.
fn file_mode(full: &Path) -> Result<git2::FileMode> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::symlink_metadata(full).map_err(super::io(format!("reading {}", full.display())))?;
    Ok(if m.file_type().is_symlink() {
        git2::FileMode::Link
    } else if m.permissions().mode() & 0o111 != 0 {
        git2::FileMode::BlobExecutable
    } else {
        git2::FileMode::Blob
    })
}

/// Brings the worktree at `worktree` back to the checkpoint on `reference`:
/// its branch (or detached HEAD) to the checkpoint's HEAD, the index to the
/// recorded index, and every file to the recorded one; files recorded
/// nowhere are removed, except ignored ones.
///
/// Errors: [`GitError::RefNotFound`] when the ref is missing or is not a
/// checkpoint.
pub fn restore(worktree: &Path, reference: &str) -> Result<()> {
    let repo = Repository::open(worktree).map_err(internal)?;
    let checkpoint = repo
        .find_reference(reference)
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| GitError::RefNotFound(reference.to_string()))?;
    let (Ok(head), Ok(staged)) = (checkpoint.parent(0), checkpoint.parent(1)) else {
        return Err(GitError::RefNotFound(reference.to_string()));
    };
    // HEAD and the index to the checkpoint's HEAD, the files left for now
    repo.reset(head.as_object(), ResetType::Mixed, None).map_err(internal)?;
    // then, in one pass, every file to the recorded one: those of HEAD it
    // lacks and untracked ones recorded nowhere go
    let mut files = git2::build::CheckoutBuilder::new();
    files.force().remove_untracked(true).update_index(false);
    repo.checkout_tree(checkpoint.as_object(), Some(&mut files))
        .map_err(internal)?;
    // and the recorded index
    let mut index = repo.index().map_err(internal)?;
    index.read_tree(&staged.tree().map_err(internal)?).map_err(internal)?;
    index.write().map_err(internal)?;
    Ok(())
}

/// The commit the checkpoint ref `reference` of the repository of
/// `repo_dir` names, if it exists.
pub fn commit_of(repo_dir: &Path, reference: &str) -> Result<Option<Oid>> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    Ok(repo.refname_to_id(reference).ok())
}

/// The HEAD the checkpoint on `reference` was taken at (its first parent).
///
/// Errors: [`GitError::RefNotFound`] when the ref is missing or is not a checkpoint.
pub fn head_of(repo_dir: &Path, reference: &str) -> Result<Oid> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    repo.find_reference(reference)
        .and_then(|r| r.peel_to_commit())
        .and_then(|c| c.parent_id(0))
        .map_err(|_| GitError::RefNotFound(reference.to_string()))
}

/// Deletes the checkpoint ref `reference` of the repository of `repo_dir`
/// (its objects go at git's next `gc`); a missing one is fine.
pub fn delete(repo_dir: &Path, reference: &str) -> Result<()> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    if let Ok(mut r) = repo.find_reference(reference) {
        r.delete().map_err(internal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::git;
    use super::*;

    /// HEAD, the index, `git status` and every file (ignored ones included).
    fn state(dir: &Path) -> (String, String, String, Vec<(String, String)>) {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("dir").flatten() {
                let p = e.path();
                if p.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).expect("inside").display().to_string();
                    files.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
                }
            }
        }
        files.sort();
        (
            git(dir, &["rev-parse", "HEAD"]),
            git(dir, &["ls-files", "--stage"]),
            git(dir, &["status", "--porcelain", "--untracked-files=all"]),
            files,
        )
    }

    fn write(dir: &Path, path: &str, text: &str) {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn a_checkpoint_brings_back_head_index_and_every_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        git(d, &["init", "-q"]);
        write(d, ".gitignore", "*.log\n");
        write(d, "kept.txt", "kept\n");
        write(d, "modified.txt", "one\n");
        write(d, "deleted.txt", "gone soon\n");
        write(d, "staged.txt", "a\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "first"]);
        // the dirty state to record
        write(d, "modified.txt", "two\n");
        std::fs::remove_file(d.join("deleted.txt")).expect("rm");
        write(d, "staged.txt", "b\n");
        git(d, &["add", "staged.txt"]);
        write(d, "staged.txt", "c\n");
        write(d, "new/untracked.txt", "new\n");
        write(d, "build.log", "ignored\n");
        let before = state(d);
        let index_file = std::fs::read(d.join(".git/index")).expect("index");

        let reference = checkpoint_ref("ws", 1);
        let commit = record(d, &reference, "checkpoint 1", false).expect("record");
        assert_eq!(state(d), before, "recording changes nothing");
        assert_eq!(std::fs::read(d.join(".git/index")).expect("index"), index_file);
        assert_eq!(git(d, &["rev-parse", &reference]).trim(), commit.to_string());
        assert!(
            record(d, &reference, "again", false).is_err(),
            "an existing checkpoint is not replaced"
        );

        // everything changes, and git's garbage collection runs
        write(d, "modified.txt", "three\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "later"]);
        write(d, "kept.txt", "changed\n");
        write(d, "other/later.txt", "later\n");
        write(d, "staged-later.txt", "staged later\n");
        git(d, &["add", "staged-later.txt"]);
        std::fs::remove_file(d.join("new/untracked.txt")).expect("rm");
        git(d, &["gc", "-q", "--prune=now"]);

        restore(d, &reference).expect("restore");
        let after = state(d);
        assert_eq!(after.0, before.0, "HEAD");
        assert_eq!(after.1, before.1, "the index");
        assert_eq!(after.2, before.2, "git status");
        // the ignored file was not recorded and is left as it is
        assert_eq!(after.3, before.3, "the files");

        // with ignored files: they come back too
        let with_ignored = checkpoint_ref("ws", 2);
        record(d, &with_ignored, "checkpoint 2", true).expect("record");
        std::fs::remove_file(d.join("build.log")).expect("rm");
        restore(d, &with_ignored).expect("restore");
        assert_eq!(std::fs::read_to_string(d.join("build.log")).expect("log"), "ignored\n");

        delete(d, &reference).expect("delete");
        assert!(matches!(restore(d, &reference), Err(GitError::RefNotFound(_))));
        delete(d, &reference).expect("a missing checkpoint is fine");
    }

    #[test]
    fn files_go_through_gits_filters_only_when_attributes_ask() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        git(d, &["init", "-q"]);
        write(d, "a.txt", "a\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "first"]);
        let filters = |d: &Path| {
            let repo = Repository::open(d).expect("open");
            let index = repo.index().expect("index");
            let mut opts = git2::DiffOptions::new();
            opts.include_untracked(true).recurse_untracked_dirs(true);
            let diff = repo.diff_index_to_workdir(Some(&index), Some(&mut opts)).expect("diff");
            needs_filters(&repo, &index, &diff).expect("decided")
        };
        assert!(!filters(d));
        write(d, "sub/.gitattributes", "*.txt text eol=lf\n");
        assert!(filters(d), "an untracked .gitattributes");
        git(d, &["add", "-A"]);
        assert!(filters(d), "a .gitattributes in the index");
    }
}
