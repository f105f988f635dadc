//! Sandboxed runs: `nexus shadow NAME [--from WS|.] -- AGENT ARGS…` makes
//! workspace NAME from a snapshot of the source (its uncommitted changes
//! included), runs the agent's command in it and prints what it changed;
//! `nexus hydrate NAME` brings those changes into the source only if they
//! apply cleanly (after a checkpoint of the source, so it can be undone);
//! `nexus discard NAME` removes everything the run made.
//!
//! The run's record lives in the repository itself: the ref
//! `refs/nexus/shadow/NAME` holds a commit of the shadow's starting state
//! (its tree is the base every diff is taken from), and git config
//! `nexus-shadow.NAME.source` says where it came from (a workspace name, or
//! the path of a repository's worktree). The changes are computed and
//! applied with the host's `git`: the shadow's worktree and the source's
//! share one repository, so every blob is at hand.

use crate::args::{DiscardArgs, HydrateArgs, ShadowArgs};
use crate::hostgit::{git, git_env};
use anyhow::{Context, bail};
use nexus_sdk::client::Client;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tree of `dir`'s files as they are now (tracked, modified and
/// untracked; not ignored), written through a throwaway index so the
/// worktree's own index is untouched.
fn state_tree(dir: &Path) -> anyhow::Result<String> {
    let tmp = tempfile::tempdir().context("a temporary index")?;
    let index = tmp.path().join("index");
    let env = [("GIT_INDEX_FILE", index.as_path())];
    git_env(dir, &["add", "-A", "."], &env)?;
    Ok(git_env(dir, &["write-tree"], &env)?.trim().to_string())
}

/// A commit of `dir`'s state (parent: its HEAD).
fn state_commit(dir: &Path, message: &str) -> anyhow::Result<String> {
    let tree = state_tree(dir)?;
    let head = git(dir, &["rev-parse", "HEAD"])?;
    Ok(git(dir, &["commit-tree", &tree, "-p", head.trim(), "-m", message])?
        .trim()
        .to_string())
}

/// The ref of shadow `name`'s starting state.
fn base_ref(name: &str) -> String {
    format!("refs/nexus/shadow/{name}")
}

/// The trees of shadow `name`'s starting state and of its files now.
fn trees(shadow_wt: &Path, name: &str) -> anyhow::Result<(String, String)> {
    let base = git(shadow_wt, &["rev-parse", &format!("{}^{{tree}}", base_ref(name))])
        .with_context(|| format!("{name} is no shadow run (no {})", base_ref(name)))?;
    Ok((base.trim().to_string(), state_tree(shadow_wt)?))
}

/// What the shadow changed between the trees `base` and `now`: a
/// binary-safe patch.
fn patch_between(repo: &Path, base: &str, now: &str) -> anyhow::Result<String> {
    git(repo, &["diff", "--binary", "--no-color", base, now])
}

/// The content of `path` in `tree`, if it has it.
fn blob(repo: &Path, tree: &str, path: &str) -> Option<Vec<u8>> {
    let o = Command::new("git")
        .args(["cat-file", "blob", &format!("{tree}:{path}")])
        .current_dir(repo)
        .output()
        .ok()?;
    o.status.success().then_some(o.stdout)
}

/// A three-way merge into the source's files as they are (its own
/// uncommitted edits are "ours"): `git merge-file` per changed path, with
/// conflict markers where both changed the same lines; the paths with
/// conflicts.
fn merge_three_way(dir: &Path, base: &str, theirs: &str) -> anyhow::Result<Vec<String>> {
    let changed = git(dir, &["diff", "--name-only", "--no-renames", base, theirs])?;
    let tmp = tempfile::tempdir()?;
    let mut conflicts = Vec::new();
    for path in changed.lines() {
        let target = dir.join(path);
        let ours = std::fs::read(&target).ok();
        let (b, t) = (blob(dir, base, path), blob(dir, theirs, path));
        match (ours, t) {
            // deleted by the run: gone unless the source changed it
            (Some(o), None) if Some(&o) == b.as_ref() => std::fs::remove_file(&target)?,
            (None, None) => {}
            (Some(_), None) => conflicts.push(path.to_string()),
            // new in the run, or gone from the source: theirs, unless the source made its own
            (None, Some(t)) if b.is_none() || b.as_ref() == Some(&t) => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, t)?;
            }
            (None, Some(_)) => conflicts.push(path.to_string()),
            (Some(o), Some(t)) => {
                let (fo, fb, ft) = (
                    tmp.path().join("ours"),
                    tmp.path().join("base"),
                    tmp.path().join("theirs"),
                );
                std::fs::write(&fo, &o)?;
                std::fs::write(&fb, b.unwrap_or_default())?;
                std::fs::write(&ft, &t)?;
                let merged = Command::new("git")
                    .args(["merge-file", "-L", "source", "-L", "base", "-L", "shadow"])
                    .args([&fo, &fb, &ft])
                    .output()?;
                match merged.status.code() {
                    Some(0) => {}
                    Some(n) if n > 0 => conflicts.push(path.to_string()),
                    _ => {
                        // binary, or merge-file failed: the source's file stays
                        conflicts.push(path.to_string());
                        continue;
                    }
                }
                std::fs::write(&target, std::fs::read(&fo)?)?;
            }
        }
    }
    Ok(conflicts)
}

/// The source of shadow `name` as recorded: a workspace name or a directory.
fn source_of(repo: &Path, name: &str) -> anyhow::Result<String> {
    Ok(git(repo, &["config", "--get", &format!("nexus-shadow.{name}.source")])
        .with_context(|| format!("{name} is no shadow run of this repository"))?
        .trim()
        .to_string())
}

/// `nexus shadow`.
pub async fn shadow(a: ShadowArgs, client: &Client) -> anyhow::Result<i32> {
    let keys: Vec<String> = crate::ssh::user_keys(None)?.iter().map(|k| k.public.clone()).collect();
    let from = a.from.clone().unwrap_or_else(|| ".".into());
    let started = std::time::Instant::now();
    let (w, source) = if from == "." || from.contains('/') {
        // a repository's worktree: its state as a commit, the shadow made from it
        let dir = if from == "." {
            std::env::current_dir()?
        } else {
            PathBuf::from(&from)
        };
        let dir = PathBuf::from(git(&dir, &["rev-parse", "--show-toplevel"])?.trim());
        let commit = state_commit(&dir, &format!("nexus shadow {}: the source's state", a.name))?;
        let params = nexus_sdk::CreateParams {
            name: a.name.clone(),
            repository: dir.display().to_string(),
            from: Some(commit),
            image: a.image.clone(),
            authorized_keys: keys,
            idle: None,
            docker: None,
            ..Default::default()
        };
        (client.create(&params).await?, dir.display().to_string())
    } else {
        let params = nexus_sdk::ForkParams {
            workspace: from.clone(),
            checkpoint: None,
            name: a.name.clone(),
            authorized_keys: keys,
        };
        (client.fork(&params).await?, from.clone())
    };
    let wt = PathBuf::from(&w.worktree);
    let base = state_commit(&wt, &format!("nexus shadow {}: where the run starts", a.name))?;
    git(&wt, &["update-ref", &base_ref(&a.name), &base])?;
    git(&wt, &["config", &format!("nexus-shadow.{}.source", a.name), &source])?;
    eprintln!(
        "shadow {} of {source} ready in {:.2} s; running {:?}",
        a.name,
        started.elapsed().as_secs_f64(),
        a.command.join(" ")
    );
    let status = if a.command.is_empty() {
        None
    } else {
        let exe = std::env::current_exe()?;
        Some(
            Command::new(exe)
                .args(["workspace", "exec", &a.name, "--"])
                .args(&a.command)
                .status()
                .context("running the agent's command")?,
        )
    };
    let (start, now) = trees(&wt, &a.name)?;
    let patch = patch_between(&wt, &start, &now)?;
    if patch.is_empty() {
        println!("(no changes)");
    } else {
        print!("{patch}");
    }
    eprintln!(
        "next: `nexus hydrate {0}` brings these changes into {source}; `nexus discard {0}` drops them",
        a.name
    );
    Ok(status.and_then(|s| s.code()).unwrap_or(0))
}

/// `nexus hydrate`.
pub async fn hydrate(a: HydrateArgs, client: &Client) -> anyhow::Result<i32> {
    let w = client.get(&a.name).await?;
    let wt = PathBuf::from(&w.worktree);
    let source = source_of(&wt, &a.name)?;
    // the shadow's start and its files now, read once
    let (base, theirs) = trees(&wt, &a.name)?;
    let patch = patch_between(&wt, &base, &theirs)?;
    if patch.is_empty() {
        println!("{} changed nothing: nothing to hydrate", a.name);
        return Ok(0);
    }
    // the source's directory: a workspace's worktree, or the recorded one
    let (dir, workspace) = if source.starts_with('/') {
        (PathBuf::from(&source), None)
    } else {
        (PathBuf::from(client.get(&source).await?.worktree), Some(source.clone()))
    };
    let tmp = tempfile::tempdir()?;
    let patch_file = tmp.path().join("shadow.patch");
    std::fs::write(&patch_file, &patch)?;
    let p = patch_file.display().to_string();
    let check = Command::new("git")
        .args(["apply", "--check", &p])
        .current_dir(&dir)
        .output()?;
    if !check.status.success() && !a.three_way {
        eprintln!(
            "error: the changes of {} do not apply cleanly to {source}; nothing was changed:\n{}\
             (`nexus hydrate {} --3way` writes conflict markers instead)",
            a.name,
            String::from_utf8_lossy(&check.stderr),
            a.name
        );
        return Ok(1);
    }
    // a checkpoint of the source first: the hydrate can be undone
    let undo = match &workspace {
        Some(ws) => {
            // before-hydrate-NAME, or -2, -3… for later hydrates of the same run
            let taken: Vec<String> = client.checkpoints(ws).await?.into_iter().map(|c| c.name).collect();
            let first = format!("before-hydrate-{}", a.name);
            let name = std::iter::once(first.clone())
                .chain((2..).map(|n| format!("{first}-{n}")))
                .find(|n| !taken.contains(n))
                .unwrap_or(first);
            let cp = client
                .checkpoint_create(&nexus_sdk::CheckpointCreateParams {
                    workspace: ws.clone(),
                    name: Some(name),
                    ..Default::default()
                })
                .await?;
            format!("nexus workspace restore {ws} {}", cp.name)
        }
        None => {
            let commit = state_commit(&dir, &format!("before nexus hydrate {}", a.name))?;
            git(
                &dir,
                &["update-ref", &format!("refs/nexus/hydrate/{}", a.name), &commit],
            )?;
            format!(
                "git -C {} restore --source={commit} --staged --worktree -- .",
                dir.display()
            )
        }
    };
    let conflicts = if check.status.success() {
        let applied = Command::new("git").args(["apply", &p]).current_dir(&dir).output()?;
        if !applied.status.success() {
            bail!("git apply: {}", String::from_utf8_lossy(&applied.stderr).trim());
        }
        Vec::new()
    } else {
        merge_three_way(&dir, &base, &theirs)?
    };
    if a.stage || a.commit {
        let files = git(&dir, &["apply", "--numstat", &p]).unwrap_or_default();
        let mut paths: Vec<String> = files
            .lines()
            .filter_map(|l| l.split('\t').nth(2))
            .map(str::to_string)
            .collect();
        if paths.is_empty() {
            paths = git(&dir, &["diff", "--name-only", "--no-renames", &base, &theirs])?
                .lines()
                .map(str::to_string)
                .collect();
        }
        let mut add = vec!["add".to_string(), "-A".into(), "--".into()];
        add.extend(paths);
        let add: Vec<&str> = add.iter().map(String::as_str).collect();
        git(&dir, &add)?;
        if a.commit {
            git(&dir, &["commit", "-q", "-m", &format!("nexus hydrate {}", a.name)])?;
        }
    }
    if !conflicts.is_empty() {
        eprintln!(
            "{} did not apply cleanly: resolve the conflict markers in {}",
            a.name,
            conflicts.join(", ")
        );
    }
    println!("hydrated {} into {source}; undo: {undo}", a.name);
    Ok(if conflicts.is_empty() { 0 } else { 1 })
}

/// `nexus discard`.
pub async fn discard(a: DiscardArgs, client: &Client) -> anyhow::Result<i32> {
    let w = client.get(&a.name).await?;
    let wt = PathBuf::from(&w.worktree);
    source_of(&wt, &a.name)?;
    let repo = PathBuf::from(&w.repository);
    client
        .remove(&nexus_sdk::RemoveParams {
            workspace: a.name.clone(),
            force: true,
            delete_branch: true,
        })
        .await?;
    git(&repo, &["update-ref", "-d", &base_ref(&a.name)])?;
    let _ = git(
        &repo,
        &["config", "--remove-section", &format!("nexus-shadow.{}", a.name)],
    );
    println!("discarded {}: its workspace, branch and record are gone", a.name);
    Ok(0)
}
