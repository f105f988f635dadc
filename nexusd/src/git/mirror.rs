//! Repositories given by URL (`workspace.create` with a git URL in
//! `repository`, `nexus workspace create NAME --repo URL`): a bare mirror
//! in the daemon's data directory that worktrees are added to, with
//! `origin` set to the URL so that `git push` in a workspace goes back to it.
//!
//! Layout, one directory per URL (and per creator in team mode):
//!
//! ```text
//! DATA_DIR/repos/<key>/fetch.git     private: only the daemon's `git fetch` writes it
//! DATA_DIR/repos/<key>/<name>/.git   the mirror: bare, mounted into the workspaces
//! DATA_DIR/repos/<key>/<name>/.worktree/<workspace>
//! ```
//!
//! Why two repositories: the mirror is writable from inside containers,
//! and `git` obeys what a repository's own config and hooks say
//! (`core.fsmonitor`, `core.sshCommand`, `reference-transaction` hooks run
//! commands). So the daemon never runs `git` in the mirror: it fetches
//! over the network into `fetch.git`, whose config only it writes, then
//! copies the refs into the mirror with libgit2's local transport, which
//! runs nothing the repository names.
//!
//! The network fetch is the real `git` CLI, so the daemon user's SSH
//! config, keys and agent, credential helpers, proxies and CAs apply as
//! they do for `git clone`. It never prompts (`GIT_TERMINAL_PROMPT=0`,
//! ssh in batch mode).

use super::{GitError, RepoInfo, Result, internal, io};
use git2::Repository;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// URL schemes a repository may be fetched with; scp-like `user@host:path`
/// is ssh.
pub const SCHEMES: &[&str] = &["https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"];

/// The refspecs the mirror's `origin` fetches with, as `git clone` writes them.
const BRANCHES: &str = "+refs/heads/*:refs/remotes/origin/*";
const TAGS: &str = "+refs/tags/*:refs/tags/*";

/// Checks a repository URL and gives the repository's name (the last
/// path component without `.git`, used in `/workspaces/<name>`).
///
/// Errors: `InvalidUrl` for an unsupported scheme, a password in the URL,
/// an option-like URL or one without a path.
pub fn check_url(url: &str) -> Result<String> {
    let bad = |why: &str| GitError::InvalidUrl(url.to_string(), why.to_string());
    if url.starts_with('-') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("it starts with '-' or holds spaces or control characters"));
    }
    if url.contains("::") {
        // git's `<helper>::<address>` runs a remote helper program
        return Err(bad(
            "remote helpers (`helper::address`) are not supported: use https://, ssh://, git://, file:// or user@host:path",
        ));
    }
    let path = match url.split_once("://") {
        Some((scheme, rest)) => {
            if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Err(bad(&format!(
                    "the scheme {scheme}:// is not supported: use https://, ssh://, git://, file:// or user@host:path"
                )));
            }
            let (authority, path) = match rest.split_once('/') {
                Some((a, p)) => (a, p),
                None => (rest, ""),
            };
            if authority
                .rsplit_once('@')
                .is_some_and(|(userinfo, _)| userinfo.contains(':'))
            {
                return Err(bad(
                    "it holds a password: give the server's credentials to git (a credential helper or an SSH key of the daemon's user), not to the URL",
                ));
            }
            path
        }
        None => match url.split_once(':') {
            Some((host, path)) if !host.is_empty() && !host.contains('/') => path,
            _ => {
                return Err(bad(
                    "it is no URL: use https://, ssh://, git://, file:// or user@host:path",
                ));
            }
        },
    };
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".git");
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("it names no repository path"));
    }
    Ok(name.to_string())
}

/// The directory of the mirror of `url` for `owner` (the creator in team
/// mode, `None` in single-user mode): `DATA_DIR/repos/<key>`, `key` the
/// first 16 hex digits of SHA-256 of both.
pub fn home_of(data_dir: &Path, url: &str, owner: Option<i64>) -> PathBuf {
    let mut h = Sha256::new();
    h.update(owner.map(|o| o.to_string()).unwrap_or_default());
    h.update([0]);
    h.update(url.as_bytes());
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    data_dir.join("repos").join(key)
}

/// Makes the mirror of `url` (the first time) and brings it up to date
/// with the URL's branches and tags; returns it as a repository to add
/// worktrees to. Blocking: runs `git fetch` over the network.
///
/// Errors: `InvalidUrl`; `Unreachable` when git cannot fetch (its last
/// words in the message); a mirror made by this call is removed again.
pub fn update(data_dir: &Path, url: &str, owner: Option<i64>) -> Result<RepoInfo> {
    let name = check_url(url)?;
    let home = home_of(data_dir, url, owner);
    let fetch_dir = home.join("fetch.git");
    let workdir = home.join(&name);
    let common_dir = workdir.join(".git");
    let _lock = super::write_lock(&common_dir);
    let new = !common_dir.exists();
    let made = (|| {
        if new {
            std::fs::create_dir_all(&workdir).map_err(io(format!("making {}", workdir.display())))?;
            init_bare(&fetch_dir, url)?;
            init_bare(&common_dir, url)?;
        }
        fetch_network(&fetch_dir, url)?;
        copy_refs(&fetch_dir, &common_dir)
    })();
    if let Err(e) = made {
        if new {
            let _ = std::fs::remove_dir_all(&home);
        }
        return Err(e);
    }
    let common_dir = common_dir
        .canonicalize()
        .map_err(io(format!("reading {}", common_dir.display())))?;
    Ok(RepoInfo {
        workdir: common_dir.parent().map(Path::to_path_buf).unwrap_or(workdir),
        common_dir,
        name,
    })
}

/// `from` resolved in a mirror: a branch of the URL (`main` is
/// `origin/main`) before anything else; the URL's default branch
/// (`origin/HEAD`) when absent.
///
/// Errors: `RefNotFound`.
pub fn resolve_from(repo: &RepoInfo, from: Option<&str>) -> Result<git2::Oid> {
    let r = Repository::open(&repo.common_dir).map_err(internal)?;
    let candidates = match from {
        None => vec!["refs/remotes/origin/HEAD".to_string()],
        Some(f) => vec![format!("refs/remotes/origin/{f}"), f.to_string()],
    };
    for spec in &candidates {
        if let Ok(commit) = r.revparse_single(spec).and_then(|o| o.peel_to_commit()) {
            return Ok(commit.id());
        }
    }
    Err(GitError::RefNotFound(from.unwrap_or("origin/HEAD").to_string()))
}

/// Whether the repository is a mirror (a bare repository): its new
/// branches then track the same branch of `origin`.
pub(super) fn is_mirror(r: &Repository) -> bool {
    r.is_bare()
}

/// Makes the workspace's branch track `origin/<branch>`, so `git push`
/// and `git pull` in the workspace need no arguments.
pub(super) fn track_origin(r: &Repository, branch: &str) -> Result<()> {
    let mut config = r.config().map_err(internal)?;
    config
        .set_str(&format!("branch.{branch}.remote"), "origin")
        .map_err(internal)?;
    config
        .set_str(&format!("branch.{branch}.merge"), &format!("refs/heads/{branch}"))
        .map_err(internal)?;
    Ok(())
}

/// A bare repository at `dir` whose `origin` is `url`.
fn init_bare(dir: &Path, url: &str) -> Result<()> {
    let r = Repository::init_bare(dir).map_err(internal)?;
    r.remote_with_fetch("origin", url, BRANCHES).map_err(internal)?;
    Ok(())
}

/// `git fetch --prune origin` (branches and tags) into the private
/// repository, never prompting, and the URL's default branch as
/// `origin/HEAD`.
fn fetch_network(fetch_dir: &Path, url: &str) -> Result<()> {
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("--git-dir")
            .arg(fetch_dir)
            .args(["-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .stdin(std::process::Stdio::null());
        if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
            c.env(
                "GIT_SSH_COMMAND",
                "ssh -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
            );
        }
        c.output().map_err(io("running git (is it installed?)"))
    };
    let out = git(&[
        "fetch",
        "--quiet",
        "--prune",
        "--no-write-fetch-head",
        "origin",
        BRANCHES,
        TAGS,
    ])?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GitError::Unreachable(url.to_string(), said));
    }
    // an empty repository has no default branch: `from` then fails by name
    let _ = git(&["remote", "set-head", "origin", "--auto"])?;
    Ok(())
}

/// Copies `origin`'s branches, its `HEAD` and the tags of the private
/// repository into the mirror (libgit2's local transport), dropping the
/// branches the URL no longer has.
fn copy_refs(fetch_dir: &Path, common_dir: &Path) -> Result<()> {
    let from = fetch_dir.display().to_string();
    let r = Repository::open(common_dir).map_err(internal)?;
    let mut remote = r.remote_anonymous(&from).map_err(internal)?;
    let mut opts = git2::FetchOptions::new();
    opts.prune(git2::FetchPrune::Off)
        .download_tags(git2::AutotagOption::None);
    let specs = ["+refs/remotes/origin/*:refs/remotes/origin/*", TAGS];
    remote.fetch(&specs, Some(&mut opts), None).map_err(internal)?;
    // prune by hand: the anonymous remote's refspecs are not the mirror's own
    let src = Repository::open(fetch_dir).map_err(internal)?;
    for reference in r.references_glob("refs/remotes/origin/*").map_err(internal)? {
        let mut reference = reference.map_err(internal)?;
        let Ok(name) = reference.name().map(str::to_string) else {
            continue;
        };
        if name != "refs/remotes/origin/HEAD" && src.find_reference(&name).is_err() {
            reference.delete().map_err(internal)?;
        }
    }
    if let Ok(head) = src.find_reference("refs/remotes/origin/HEAD")
        && let Ok(Some(target)) = head.symbolic_target()
    {
        r.reference_symbolic("refs/remotes/origin/HEAD", target, true, "origin's default branch")
            .map_err(internal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_named() {
        for (url, name) in [
            ("https://github.com/o/app.git", "app"),
            ("https://github.com/o/app", "app"),
            ("ssh://git@host:2222/srv/app.git/", "app"),
            ("git@github.com:o/app.git", "app"),
            ("file:///srv/git/app.git", "app"),
            ("git://host/app", "app"),
            ("https://token@host/o/app.git", "app"),
        ] {
            assert_eq!(check_url(url).expect(url), name, "{url}");
        }
        for url in [
            "ext::sh -c touch% /tmp/pwned",
            "ftp://host/app.git",
            "https://user:secret@host/app.git",
            "-uhttps://host/app",
            "/srv/app",
            "https://host/",
            "file:///",
            "fd::3",
        ] {
            assert!(matches!(check_url(url), Err(GitError::InvalidUrl(..))), "{url}");
        }
    }

    /// The mirror of a `file://` upstream: made, fetched again, its
    /// default branch and a named one resolved, a worktree branch tracking
    /// `origin` so that a bare `git push` reaches the upstream.
    #[test]
    fn a_mirror_follows_its_url_and_pushes_go_back_to_it() {
        use crate::git::tests::git;
        let up = tempfile::tempdir().expect("tempdir");
        let data = tempfile::tempdir().expect("tempdir");
        git(up.path(), &["init", "-q", "-b", "trunk"]);
        std::fs::write(up.path().join("a.txt"), "a\n").expect("write");
        git(up.path(), &["add", "."]);
        git(up.path(), &["commit", "-qm", "one"]);
        git(up.path(), &["branch", "feature"]);
        let url = format!("file://{}", up.path().display());

        let repo = update(data.path(), &url, None).expect("mirror");
        assert!(
            repo.common_dir
                .starts_with(data.path().canonicalize().expect("canon").join("repos"))
        );
        assert_eq!(repo.name, up.path().file_name().and_then(|n| n.to_str()).expect("name"));
        let trunk = git(up.path(), &["rev-parse", "trunk"]);
        assert_eq!(resolve_from(&repo, None).expect("default").to_string(), trunk.trim());
        assert_eq!(
            resolve_from(&repo, Some("feature")).expect("branch").to_string(),
            trunk.trim()
        );
        assert!(matches!(
            resolve_from(&repo, Some("nope")),
            Err(GitError::RefNotFound(_))
        ));

        let wt = super::super::add_worktree(&repo, "ws", resolve_from(&repo, None).expect("start")).expect("worktree");
        std::fs::write(wt.join("b.txt"), "b\n").expect("write");
        git(&wt, &["add", "."]);
        git(&wt, &["commit", "-qm", "two"]);
        git(&wt, &["push", "-q"]);
        assert_eq!(
            git(up.path(), &["rev-parse", "nexus/ws"]).trim(),
            git(&wt, &["rev-parse", "HEAD"]).trim(),
            "a bare git push from the worktree reached the URL"
        );

        // the upstream moves on: a new commit, a branch gone; the next update follows
        git(up.path(), &["branch", "-D", "feature"]);
        std::fs::write(up.path().join("c.txt"), "c\n").expect("write");
        git(up.path(), &["add", "."]);
        git(up.path(), &["commit", "-qm", "three"]);
        let again = update(data.path(), &url, None).expect("fetch again");
        assert_eq!(again, repo, "the same mirror");
        let trunk = git(up.path(), &["rev-parse", "trunk"]);
        assert_eq!(resolve_from(&repo, None).expect("default").to_string(), trunk.trim());
        assert!(matches!(
            resolve_from(&repo, Some("feature")),
            Err(GitError::RefNotFound(_))
        ));
        assert!(wt.join("b.txt").is_file(), "the workspace's worktree is untouched");
    }

    #[test]
    fn a_url_that_cannot_be_fetched_leaves_no_mirror() {
        let data = tempfile::tempdir().expect("tempdir");
        let err = update(data.path(), "file:///nonexistent/app.git", None).expect_err("no such repository");
        assert!(matches!(err, GitError::Unreachable(..)), "{err}");
        assert!(err.to_string().contains("file:///nonexistent/app.git"), "{err}");
        let repos = data.path().join("repos");
        let left: Vec<_> = std::fs::read_dir(&repos)
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn each_owner_has_a_mirror_of_their_own() {
        let d = Path::new("/data");
        let url = "https://h/app.git";
        assert_eq!(home_of(d, url, None), home_of(d, url, None));
        assert_ne!(home_of(d, url, Some(1)), home_of(d, url, Some(2)));
        assert_ne!(home_of(d, url, None), home_of(d, "https://h/other.git", None));
        assert!(home_of(d, url, None).starts_with("/data/repos"));
    }
}
