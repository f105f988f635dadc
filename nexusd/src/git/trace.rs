//! Agent Trace on the git side: snapshots of a worktree (trees, no refs),
//! which lines of a commit are new and whose segment of the snapshot
//! timeline brought each in, and the records as notes on
//! `refs/notes/agent-trace`.
//!
//! Attribution walks each changed file through every snapshot in order,
//! from the commit's parent to the commit: a line keeps the contributor of
//! the step that inserted it (a line diff per step, `similar`'s Myers), so
//! lines a generator script wrote during an agent's exec are the agent's,
//! and lines typed between two agent calls are the person's.

use super::{GitError, Result, internal, write_lock};
use git2::{Oid, Repository};
use nexus_sdk::trace::NOTES_REF;
use std::path::Path;

/// The tree of every file of the worktree at `worktree` as it is now
/// (tracked, modified and untracked; not ignored), written into its
/// repository's objects and named by no ref: git's gc keeps unreachable
/// objects two weeks, longer than a snapshot is read.
///
/// Errors: [`GitError::Git`] when `worktree` is not a worktree.
pub fn snapshot(worktree: &Path) -> Result<Oid> {
    let repo = Repository::open(worktree).map_err(internal)?;
    let mut index = repo.index().map_err(internal)?;
    let staged = index.write_tree_to(&repo).map_err(internal)?;
    let staged = repo.find_tree(staged).map_err(internal)?;
    super::checkpoint::worktree_tree(&repo, &index, &staged, false)
}

/// One step of a timeline: the worktree's tree at its end, and who made
/// the changes since the step before (an index into the caller's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The snapshot taken at the step's end.
    pub tree: Oid,
    /// Who changed the worktree during the step.
    pub by: usize,
}

/// The lines `start..=end` (1-based) of a file at a commit, and who wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lines {
    /// First line, from 1.
    pub start: u32,
    /// Last line, inclusive.
    pub end: u32,
    /// Who (an index into the caller's table).
    pub by: usize,
}

/// The lines of `commit` that its first parent lacks (all of them for a
/// root commit), per file (`/`-separated path, sorted), with who brought
/// each in: the step of `steps` (oldest first) that inserted it, `last`
/// for those inserted after the last step, `before` for those present
/// before the first. Binary files and deleted ones are left out.
///
/// Errors: [`GitError::Git`] when `commit` is missing.
pub fn attribute(
    repo_dir: &Path,
    commit: Oid,
    steps: &[Step],
    last: usize,
    before: usize,
) -> Result<Vec<(String, Vec<Lines>)>> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    let commit = repo.find_commit(commit).map_err(internal)?;
    let tree = commit.tree().map_err(internal)?;
    let parent = match commit.parent(0) {
        Ok(p) => Some(p.tree().map_err(internal)?),
        Err(_) => None,
    };
    let diff = repo
        .diff_tree_to_tree(parent.as_ref(), Some(&tree), None)
        .map_err(internal)?;
    let step_trees: Vec<git2::Tree<'_>> = steps
        .iter()
        .map(|s| repo.find_tree(s.tree))
        .collect::<std::result::Result<_, _>>()
        .map_err(internal)?;
    let mut files = Vec::new();
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path() else { continue };
        if delta.new_file().id().is_zero() {
            continue; // deleted
        }
        let new = blob(&repo, delta.new_file().id())?;
        if is_binary(&new) {
            continue;
        }
        let old = match delta.old_file().id() {
            id if id.is_zero() => Vec::new(),
            id => blob(&repo, id)?,
        };
        // the walk: the parent's version, each snapshot's, the commit's
        const BEFORE: usize = usize::MAX;
        let (mut text, mut tags) = (old.clone(), vec![BEFORE; lines(&old).len()]);
        let mut prev_id = delta.old_file().id();
        for (step, t) in steps.iter().zip(&step_trees) {
            let id = t.get_path(path).ok().map(|e| e.id()).unwrap_or(Oid::ZERO_SHA1);
            if id == prev_id {
                continue;
            }
            let next = if id.is_zero() { Vec::new() } else { blob(&repo, id)? };
            tags = carry(&text, &tags, &next, if step.by == before { BEFORE } else { step.by });
            (text, prev_id) = (next, id);
        }
        if prev_id != delta.new_file().id() {
            tags = carry(&text, &tags, &new, last);
        }
        // report only what the commit adds to its parent
        let added = inserted(&old, &new);
        let mut ranges: Vec<Lines> = Vec::new();
        for (i, tag) in tags.iter().enumerate() {
            if !added[i] {
                continue;
            }
            let by = if *tag == BEFORE { before } else { *tag };
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match ranges.last_mut() {
                Some(r) if r.by == by && r.end + 1 == line => r.end = line,
                _ => ranges.push(Lines {
                    start: line,
                    end: line,
                    by,
                }),
            }
        }
        if !ranges.is_empty() {
            files.push((path.to_string_lossy().replace('\\', "/"), ranges));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn blob(repo: &Repository, id: Oid) -> Result<Vec<u8>> {
    Ok(repo.find_blob(id).map_err(internal)?.content().to_vec())
}

/// Whether git would call `bytes` binary (a NUL in its first 8000 bytes).
fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0)
}

/// `text`'s lines, without their newlines.
fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    if text.ends_with(b"\n") || text.is_empty() {
        v.pop();
    }
    v
}

/// The tags of `new`'s lines: those equal to a line of `old` keep its tag
/// (`tags`), inserted ones get `by`.
fn carry(old: &[u8], tags: &[usize], new: &[u8], by: usize) -> Vec<usize> {
    let (old, new) = (lines(old), lines(new));
    let mut out = vec![by; new.len()];
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new) {
        if let similar::DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            out[new_index..new_index + len].copy_from_slice(&tags[old_index..old_index + len]);
        }
    }
    out
}

/// Which lines of `new` a line diff from `old` inserts.
fn inserted(old: &[u8], new: &[u8]) -> Vec<bool> {
    carry(old, &vec![0; lines(old).len()], new, 1)
        .into_iter()
        .map(|t| t == 1)
        .collect()
}

/// The commits of branch `branch` not yet seen: those reachable from its
/// head and not from `seen` (the head when last looked at) nor from any
/// other branch, tag or remote-tracking ref, oldest first, merges left out,
/// at most `limit` (the newest). Returns the head too (`None` without the branch).
pub fn new_commits(repo_dir: &Path, branch: &str, seen: Option<Oid>, limit: usize) -> Result<(Option<Oid>, Vec<Oid>)> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    let own = format!("refs/heads/{branch}");
    let Ok(head) = repo.refname_to_id(&own) else {
        return Ok((None, Vec::new()));
    };
    if Some(head) == seen {
        return Ok((Some(head), Vec::new()));
    }
    let mut walk = repo.revwalk().map_err(internal)?;
    walk.push(head).map_err(internal)?;
    if let Some(seen) = seen.filter(|s| repo.find_commit(*s).is_ok()) {
        walk.hide(seen).map_err(internal)?;
    }
    for r in repo.references().map_err(internal)?.flatten() {
        let Ok(name) = r.name() else { continue };
        let other =
            name.starts_with("refs/heads/") || name.starts_with("refs/tags/") || name.starts_with("refs/remotes/");
        if other
            && name != own
            && let Ok(c) = r.peel_to_commit()
        {
            walk.hide(c.id()).map_err(internal)?;
        }
    }
    let mut commits = Vec::new();
    for id in walk {
        let id = id.map_err(internal)?;
        if repo.find_commit(id).map_err(internal)?.parent_count() <= 1 {
            commits.push(id);
        }
        if commits.len() == limit {
            break;
        }
    }
    commits.reverse();
    Ok((Some(head), commits))
}

/// The commit branch `branch` names, if it exists.
pub fn branch_head(repo_dir: &Path, branch: &str) -> Result<Option<Oid>> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    Ok(repo.refname_to_id(&format!("refs/heads/{branch}")).ok())
}

/// The text of `commit`'s note on `refs/notes/agent-trace`, if it has one.
pub fn note(repo_dir: &Path, commit: Oid) -> Result<Option<String>> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    match repo.find_note(Some(NOTES_REF), commit) {
        Ok(n) => Ok(n.message().ok().map(str::to_string)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

/// Writes `text` as `commit`'s note on `refs/notes/agent-trace`,
/// replacing any (one copied there by git's `notes.rewriteRef`).
pub fn write_note(repo_dir: &Path, commit: Oid, text: &str) -> Result<()> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    let _serial = write_lock(repo.commondir());
    let sig = git2::Signature::now("Nexus", "nexus@localhost").map_err(internal)?;
    repo.note(&sig, &sig, Some(NOTES_REF), commit, text, true)
        .map_err(internal)?;
    Ok(())
}

/// Adds `refs/notes/agent-trace` to the repository's `notes.rewriteRef`
/// (its own config, once), so amends and rebases copy records along.
pub fn follow_rewrites(repo_dir: &Path) -> Result<()> {
    let repo = Repository::open(repo_dir).map_err(internal)?;
    let mut config = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        .map_err(internal)?;
    let mut present = false;
    if let Ok(mut values) = config.multivar("notes.rewriteRef", None) {
        while let Some(Ok(v)) = values.next() {
            present |= v.value().ok() == Some(NOTES_REF);
        }
    }
    if !present {
        config
            .set_multivar("notes.rewriteRef", "^$", NOTES_REF)
            .map_err(|e| GitError::Git(format!("setting notes.rewriteRef: {}", e.message())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_keeps_the_step_that_inserted_it() {
        let (a, b, c) = (
            b"one\ntwo\n".as_slice(),
            b"one\nAI\ntwo\n".as_slice(),
            b"one\nAI\ntwo\nme\n".as_slice(),
        );
        let t = carry(a, &[9, 9], b, 1);
        assert_eq!(t, vec![9, 1, 9]);
        assert_eq!(carry(b, &t, c, 2), vec![9, 1, 9, 2]);
        assert_eq!(inserted(a, c), vec![false, true, false, true]);
        assert_eq!(lines(b"x"), vec![b"x".as_slice()]);
        assert!(lines(b"").is_empty());
    }
}
