//! `nexus enforce`: the checks a repository asks of work before an agent
//! may call it done (`.nexus/enforce.toml`), run in a workspace's worktree,
//! with a summary and a non-zero exit listing what fails; and `--hook
//! claude|cursor`, which reads the JSON an agent's stop hook is given on
//! stdin and answers with that tool's decision (docs/enforce.md).
//!
//! ```toml
//! base = "main"                       # the branch work is compared with
//! [checks]
//! conventional_commits = true         # every commit subject on base..HEAD
//! docs = { code = ["src/**"], docs = ["docs/**", "*.md"] }
//! agents_md = true                    # AGENTS.md exists, README.md or CLAUDE.md names it
//! ci = "cargo test"                   # in the workspace (through the daemon) when it is one
//! clean = true                        # no uncommitted changes
//! ```
//!
//! git is the `git` command of the host, run in the worktree.

use crate::hostgit::git;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The configuration file, relative to the repository root.
pub const CONFIG: &str = ".nexus/enforce.toml";

/// `.nexus/enforce.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The branch the work is compared with (default `main`).
    #[serde(default = "main")]
    pub base: String,
    /// The checks, each off unless set.
    #[serde(default)]
    pub checks: Checks,
}

fn main() -> String {
    "main".into()
}

/// The checks a repository can ask for; an unknown one is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Conventional Commits subjects (`type(scope)!: text`) on `base..HEAD`.
    #[serde(default)]
    pub conventional_commits: bool,
    /// Docs touched when code changed.
    #[serde(default)]
    pub docs: Option<DocsCheck>,
    /// `AGENTS.md` present and referenced from `README.md` or `CLAUDE.md`.
    #[serde(default)]
    pub agents_md: bool,
    /// The project's CI command, which must exit 0.
    #[serde(default)]
    pub ci: Option<String>,
    /// No uncommitted changes (untracked files included).
    #[serde(default)]
    pub clean: bool,
}

/// Which paths are code and which are docs (globs, `/`-separated, from the root).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsCheck {
    /// Paths that are code.
    pub code: Vec<String>,
    /// Paths that are documentation.
    pub docs: Vec<String>,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// The check's name as the configuration spells it.
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, or what it saw.
    pub detail: String,
}

/// The repository root of `dir` (`git rev-parse --show-toplevel`).
fn root_of(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"])?;
    Ok(PathBuf::from(out.trim()))
}

/// Reads `.nexus/enforce.toml` of the repository at `root`.
///
/// Errors: a missing file (says how to write one), a field or check
/// nobody knows (named), a bad glob.
pub fn load(root: &Path) -> anyhow::Result<Config> {
    let path = root.join(CONFIG);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no {} in {}: write one, e.g. `[checks]` with `clean = true` (see docs/enforce.md)",
            CONFIG,
            root.display()
        )
    })?;
    let config: Config = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    if let Some(d) = &config.checks.docs {
        for g in d.code.iter().chain(&d.docs) {
            globset::Glob::new(g).map_err(|e| anyhow::anyhow!("{}: checks.docs: {e}", path.display()))?;
        }
    }
    Ok(config)
}

/// Whether a commit subject follows Conventional Commits 1.0.
pub fn conventional(subject: &str) -> bool {
    const TYPES: &[&str] = &[
        "feat", "fix", "docs", "style", "refactor", "perf", "test", "build", "ci", "chore", "revert",
    ];
    let Some((head, text)) = subject.split_once(": ") else {
        return false;
    };
    if text.trim().is_empty() {
        return false;
    }
    let head = head.strip_suffix('!').unwrap_or(head);
    let kind = match head.split_once('(') {
        Some((kind, scope)) => match scope.strip_suffix(')') {
            Some(s) if !s.is_empty() && !s.contains(['(', ')']) => kind,
            _ => return false,
        },
        None => head,
    };
    TYPES.contains(&kind)
}

/// Runs the configured checks in the repository at `root`; `ci` runs the
/// CI command (through the daemon for a workspace's worktree).
pub fn run(
    root: &Path,
    config: &Config,
    ci: impl Fn(&str) -> anyhow::Result<(bool, String)>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let outcome = |check: &str, passed: bool, detail: String| Outcome {
        check: check.into(),
        passed,
        detail,
    };
    let base = &config.base;
    let c = &config.checks;
    if c.conventional_commits {
        let subjects = git(root, &["log", "--format=%s", &format!("{base}..HEAD")])?;
        let bad: Vec<&str> = subjects.lines().filter(|s| !conventional(s)).collect();
        out.push(if bad.is_empty() {
            outcome(
                "conventional_commits",
                true,
                format!("{} commits", subjects.lines().count()),
            )
        } else {
            outcome(
                "conventional_commits",
                false,
                format!(
                    "not Conventional Commits (`type(scope): text`): {}; reword them (git rebase -i {base})",
                    bad.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
                ),
            )
        });
    }
    if let Some(d) = &c.docs {
        let mut changed: Vec<String> = git(root, &["diff", "--name-only", &format!("{base}...HEAD")])?
            .lines()
            .map(str::to_string)
            .collect();
        changed.extend(
            git(root, &["status", "--porcelain", "--untracked-files=all"])?
                .lines()
                .map(|l| {
                    let path = l.get(3..).unwrap_or("");
                    path.rsplit(" -> ").next().unwrap_or(path).to_string()
                }),
        );
        let set = |globs: &[String]| -> anyhow::Result<globset::GlobSet> {
            let mut b = globset::GlobSetBuilder::new();
            for g in globs {
                b.add(globset::Glob::new(g)?);
            }
            Ok(b.build()?)
        };
        let (code, docs) = (set(&d.code)?, set(&d.docs)?);
        let code_changed: Vec<&String> = changed.iter().filter(|p| code.is_match(p)).collect();
        let docs_changed = changed.iter().any(|p| docs.is_match(p));
        out.push(if code_changed.is_empty() || docs_changed {
            outcome("docs", true, format!("{} code files changed", code_changed.len()))
        } else {
            outcome(
                "docs",
                false,
                format!(
                    "code changed ({}) but no documentation ({}): update the docs",
                    code_changed
                        .iter()
                        .take(5)
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.docs.join(", ")
                ),
            )
        });
    }
    if c.agents_md {
        let present = root.join("AGENTS.md").is_file();
        let referenced = ["README.md", "CLAUDE.md"].iter().any(|f| {
            std::fs::read_to_string(root.join(f))
                .map(|t| t.contains("AGENTS.md"))
                .unwrap_or(false)
        });
        out.push(match (present, referenced) {
            (true, true) => outcome("agents_md", true, "AGENTS.md present and referenced".into()),
            (false, _) => outcome(
                "agents_md",
                false,
                "there is no AGENTS.md at the repository root: write one".into(),
            ),
            (true, false) => outcome(
                "agents_md",
                false,
                "AGENTS.md is not referenced: name it in README.md or CLAUDE.md".into(),
            ),
        });
    }
    if let Some(command) = &c.ci {
        let (ok, said) = ci(command)?;
        let tail: Vec<&str> = said
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        out.push(if ok {
            outcome("ci", true, format!("`{command}` passed"))
        } else {
            outcome(
                "ci",
                false,
                format!("`{command}` failed; its output ends:\n{}", tail.join("\n")),
            )
        });
    }
    if c.clean {
        let status = git(root, &["status", "--porcelain", "--untracked-files=all"])?;
        out.push(if status.trim().is_empty() {
            outcome("clean", true, "no uncommitted changes".into())
        } else {
            outcome(
                "clean",
                false,
                format!(
                    "uncommitted changes: {}; commit them",
                    status.lines().map(str::trim).take(10).collect::<Vec<_>>().join(", ")
                ),
            )
        });
    }
    Ok(out)
}

/// What failed, one line each, for a person or an agent.
pub fn summary(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("- {}: {}", o.check, o.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The answer of an agent's stop hook to `input` (the JSON the tool sent)
/// given the outcomes: Claude Code's `{"decision":"block","reason":…}`, or
/// Cursor's `{"followup_message":…}`; `{}` lets the agent stop.
pub fn hook_answer(tool: &str, input: &serde_json::Value, outcomes: &[Outcome]) -> anyhow::Result<serde_json::Value> {
    let failing = outcomes.iter().any(|o| !o.passed);
    let reason = format!(
        "The project's checks (nexus enforce) do not pass yet. Fix these, then finish:\n{}",
        summary(outcomes)
    );
    match tool {
        "claude" => {
            if !input.is_object()
                || input
                    .get("hook_event_name")
                    .is_some_and(|e| e != "Stop" && e != "SubagentStop")
            {
                anyhow::bail!("--hook claude reads Claude Code's Stop hook input (hook_event_name \"Stop\")");
            }
            Ok(if failing {
                serde_json::json!({"decision": "block", "reason": reason})
            } else {
                serde_json::json!({})
            })
        }
        "cursor" => {
            if !input.is_object() {
                anyhow::bail!("--hook cursor reads Cursor's stop hook input (a JSON object)");
            }
            // an aborted run is the person's decision: let it stop
            let aborted = input.get("status").and_then(|s| s.as_str()) == Some("aborted");
            Ok(if failing && !aborted {
                serde_json::json!({"followup_message": reason})
            } else {
                serde_json::json!({})
            })
        }
        other => anyhow::bail!("--hook {other}: not a tool nexus answers (claude, cursor)"),
    }
}

/// `nexus enforce [--dir DIR] [--json] [--hook claude|cursor]`.
pub async fn command(a: crate::args::EnforceArgs) -> anyhow::Result<i32> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    // a hook's input first: a malformed one is refused before any check runs
    let input = match &a.hook {
        Some(_) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading the hook's input")?;
            Some(serde_json::from_str::<serde_json::Value>(&text).context("the hook's input is not JSON")?)
        }
        None => None,
    };
    let root = root_of(&dir)?;
    // a configuration it cannot use: named, exit 2, nothing run
    let config = match load(&root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let workspace = workspace_of(&root).await;
    let ci = |command: &str| -> anyhow::Result<(bool, String)> {
        let mut c = match &workspace {
            // in the workspace's container, as its own CI would run
            Some(ws) => {
                let mut c = Command::new(std::env::current_exe()?);
                c.args(["workspace", "exec", ws, "--", "sh", "-c", command]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", command]).current_dir(&root);
                c
            }
        };
        let o = c
            .stdin(std::process::Stdio::null())
            .output()
            .context("running the CI command")?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        Ok((o.status.success(), said))
    };
    let outcomes = run(&root, &config, ci)?;
    if let (Some(tool), Some(input)) = (&a.hook, &input) {
        println!("{}", hook_answer(tool, input, &outcomes)?);
        return Ok(0);
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"passed": failed == 0, "checks": outcomes}))?
        );
    } else {
        for o in &outcomes {
            let mark = if o.passed { "ok  " } else { "FAIL" };
            println!("{mark} {}: {}", o.check, o.detail);
        }
        println!(
            "{}",
            if failed == 0 {
                format!("all {} checks pass", outcomes.len())
            } else {
                format!("{failed} of {} checks fail", outcomes.len())
            }
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The workspace whose worktree `root` is, when the local daemon runs
/// and knows it (never starting one: a hook must not).
async fn workspace_of(root: &Path) -> Option<String> {
    let address = nexus_sdk::local::published_address()?;
    let token = std::fs::read_to_string(nexus_sdk::local::token_path()).ok()?;
    let client = nexus_sdk::client::Client::connect(&address, token.trim()).await.ok()?;
    let root = root.canonicalize().ok()?;
    client
        .list()
        .await
        .ok()?
        .into_iter()
        .find(|w| Path::new(&w.worktree).canonicalize().ok().as_deref() == Some(root.as_path()))
        .map(|w| w.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_subjects() {
        for good in ["feat: add x", "fix(api): y", "feat(ui)!: drop z", "chore: bump"] {
            assert!(conventional(good), "{good}");
        }
        for bad in ["added x", "feat:x", "feature: x", "fix(): y", "fix(a)(b): y", "feat: "] {
            assert!(!conventional(bad), "{bad}");
        }
    }

    #[test]
    fn an_unknown_check_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".nexus")).expect("mkdir");
        std::fs::write(dir.path().join(CONFIG), "[checks]\nclean = true\nlint = true\n").expect("write");
        let e = load(dir.path()).expect_err("unknown check").to_string();
        assert!(e.contains("lint"), "{e}");
        std::fs::remove_file(dir.path().join(CONFIG)).expect("rm");
        let e = load(dir.path()).expect_err("no file").to_string();
        assert!(e.contains(".nexus/enforce.toml"), "{e}");
    }

    #[test]
    fn hooks_answer_in_their_tools_words() {
        let failing = vec![Outcome {
            check: "clean".into(),
            passed: false,
            detail: "uncommitted changes: a.txt".into(),
        }];
        let stop = serde_json::json!({"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": false});
        let a = hook_answer("claude", &stop, &failing).expect("claude");
        assert_eq!(a["decision"], "block");
        assert!(
            a["reason"]
                .as_str()
                .is_some_and(|r| r.contains("clean: uncommitted changes"))
        );
        assert_eq!(hook_answer("claude", &stop, &[]).expect("pass"), serde_json::json!({}));
        let cursor = serde_json::json!({"status": "completed", "loop_count": 0});
        assert!(hook_answer("cursor", &cursor, &failing).expect("cursor")["followup_message"].is_string());
        let aborted = serde_json::json!({"status": "aborted", "loop_count": 0});
        assert_eq!(
            hook_answer("cursor", &aborted, &failing).expect("aborted"),
            serde_json::json!({})
        );
        assert!(hook_answer("vim", &stop, &failing).is_err());
    }
}
