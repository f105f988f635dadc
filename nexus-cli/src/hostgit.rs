//! The host's `git` command, run in a checkout: what `nexus enforce` and
//! the sandboxed runs (`shadow.rs`) read and write of a repository. (The
//! daemon uses libgit2; the CLI never does.)

use anyhow::{Context, bail};
use std::path::Path;
use std::process::{Command, Stdio};

/// `git ARGS` in `dir` with extra environment (commits made as
/// `nexus <nexus@localhost>`); stdout, or git's words.
pub fn git_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> anyhow::Result<String> {
    let mut c = Command::new("git");
    c.args(["-c", "user.name=nexus", "-c", "user.email=nexus@localhost"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().context("running git (is it installed?)")?;
    if !o.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// [`git_env`] with no extra environment.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    git_env(dir, args, &[])
}
