//! Agent Trace (docs/trace.md): who each API connection is
//! (`trace.session`), the timeline of worktree snapshots taken around the
//! calls of connections that declared an agent, and the record written as
//! a note on `refs/notes/agent-trace` for each commit a workspace's branch
//! gains (seen by watching the branch's ref file).
//!
//! Everything not done inside a declared agent's call — SSH sessions, the
//! CLI, editors — is a person's (`human`): an agent's call is bracketed by a
//! snapshot before it (closing the person's stretch) and one after.

use super::{Manager, Record, blocking};
use crate::error::{Result, WorkspaceError};
use crate::git;
use git2::Oid;
use nexus_sdk::TraceSessionParams;
use nexus_sdk::trace::{Contributor, ContributorType, Tool};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Snapshots kept per workspace; older stretches fall back to the person.
const STEPS_KEPT: usize = 256;
/// Declared connections remembered (the oldest forgotten past this).
const SESSIONS_KEPT: usize = 4096;
/// New commits recorded at one ref change (the newest).
const COMMITS_PER_CHANGE: usize = 100;
/// How long after an agent's call its stretch stays open: a call of the
/// same agent within it goes on with no snapshot between (agents call in
/// bursts); otherwise the snapshot that closes it is taken then.
const QUIET: std::time::Duration = std::time::Duration::from_millis(50);

/// Who a connection declared itself to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    contributor: Contributor,
    url: Option<String>,
    tool: Option<Tool>,
}

/// One workspace's timeline.
#[derive(Default)]
struct Timeline {
    /// Snapshots, oldest first, each with who changed the worktree in the
    /// stretch it ends (`None`: a person).
    steps: VecDeque<(Oid, Option<Arc<Actor>>)>,
    /// Agents with a call in progress, the latest last.
    active: Vec<Arc<Actor>>,
    /// The agent whose last call ended less than [`QUIET`] ago, its
    /// stretch not yet closed by a snapshot, and which end it was.
    pending: Option<(Arc<Actor>, u64)>,
    /// Counts ends, so a late closing snapshot knows it is still wanted.
    ends: u64,
    /// The branch's head when last looked at.
    head: Option<Oid>,
}

/// A workspace whose commits are traced.
struct Traced {
    name: String,
    common_dir: PathBuf,
    worktree: PathBuf,
    branch: String,
    /// The branch's ref file, whose changes mean new commits.
    ref_file: PathBuf,
    timeline: tokio::sync::Mutex<Timeline>,
    /// A look at the branch is queued.
    queued: AtomicBool,
}

/// The tracing state of the daemon.
#[derive(Default)]
pub struct Tracer {
    sessions: std::sync::Mutex<HashMap<usize, Arc<Actor>>>,
    workspaces: std::sync::Mutex<HashMap<String, Arc<Traced>>>,
    watcher: std::sync::Mutex<Option<notify::RecommendedWatcher>>,
    /// Watched folders and how many workspaces' refs are in each.
    folders: std::sync::Mutex<HashMap<PathBuf, usize>>,
}

/// An agent's call in progress on a workspace ([`Manager::trace_begin`]).
pub struct Span {
    traced: Arc<Traced>,
    actor: Arc<Actor>,
}

impl Manager {
    /// `trace.session`: connection `connection` is `p`'s contributor from now on.
    ///
    /// Errors: [`WorkspaceError::InvalidParams`] for a `modelId` over 250
    /// characters or a `conversationUrl` that is not an absolute URL.
    pub fn trace_session(&self, connection: usize, p: TraceSessionParams) -> Result<()> {
        if p.model_id
            .as_ref()
            .is_some_and(|m| m.chars().count() > 250 || m.trim().is_empty())
        {
            return Err(WorkspaceError::InvalidParams(
                "modelId must be 1 to 250 characters, in the models.dev convention (anthropic/claude-sonnet-4-5)"
                    .into(),
            ));
        }
        if let Some(u) = &p.conversation_url
            && url::Url::parse(u).is_err()
        {
            return Err(WorkspaceError::InvalidParams(format!(
                "conversationUrl {u:?} is not an absolute URL (https://…)"
            )));
        }
        let actor = Arc::new(Actor {
            contributor: Contributor {
                kind: p.contributor,
                model_id: p.model_id,
            },
            url: p.conversation_url,
            tool: p.tool,
        });
        let mut sessions = self.tracer.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= SESSIONS_KEPT
            && let Some(oldest) = sessions.keys().min().copied()
        {
            sessions.remove(&oldest);
        }
        sessions.insert(connection, actor);
        Ok(())
    }

    /// The agent connection `connection` declared, if it declared one that
    /// is not a person with nothing more to say.
    pub fn trace_actor(&self, connection: usize) -> Option<Arc<Actor>> {
        let sessions = self.tracer.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&connection)
            .filter(|a| a.contributor.kind != ContributorType::Human || a.url.is_some())
            .cloned()
    }

    /// Starts `actor`'s call on workspace `name`: the worktree is
    /// snapshotted first unless `actor`'s call was the last thing on it.
    /// `None` when the workspace is not traced.
    pub async fn trace_begin(&self, name: &str, actor: Arc<Actor>) -> Option<Span> {
        let traced = self.tracer.get(name)?;
        let mut tl = traced.timeline.lock().await;
        match tl.pending.take() {
            // the same agent again within QUIET: its stretch goes on
            Some((p, _)) if *p == *actor => {}
            Some((p, _)) => step(&traced, &mut tl, Some(p)).await,
            None => {
                let current = tl.active.last().cloned();
                if current.as_deref() != Some(&*actor) {
                    step(&traced, &mut tl, current).await;
                }
            }
        }
        tl.active.push(actor.clone());
        drop(tl);
        Some(Span { traced, actor })
    }

    /// Ends a call begun with [`Manager::trace_begin`]. What changed
    /// since is the actor's until a snapshot closes its stretch: at once
    /// when another agent is active, else [`QUIET`] later, unless the same
    /// agent calls again before (off the call's path either way).
    pub async fn trace_end(&self, span: Span) {
        let mut tl = span.traced.timeline.lock().await;
        if let Some(i) = tl.active.iter().rposition(|a| Arc::ptr_eq(a, &span.actor)) {
            tl.active.remove(i);
        }
        match tl.active.last() {
            Some(a) if **a == *span.actor => {}
            Some(_) => step(&span.traced, &mut tl, Some(span.actor.clone())).await,
            None => {
                tl.ends += 1;
                let end = tl.ends;
                tl.pending = Some((span.actor.clone(), end));
                let traced = span.traced.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(QUIET).await;
                    let mut tl = traced.timeline.lock().await;
                    if let Some((p, _)) = tl.pending.take_if(|(_, e)| *e == end) {
                        step(&traced, &mut tl, Some(p)).await;
                    }
                });
            }
        }
    }

    /// Starts tracing workspace `r`'s commits: `notes.rewriteRef` set in
    /// its repository, its branch's ref file watched.
    pub(crate) async fn trace_watch(&self, r: &Record) {
        let (common_dir, branch) = (PathBuf::from(&r.git_common_dir), r.branch.clone());
        let (dir, b) = (common_dir.clone(), branch.clone());
        let head = blocking(move || {
            git::trace::follow_rewrites(&dir)?;
            Ok(git::trace::branch_head(&dir, &b)?)
        })
        .await;
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(workspace = %r.name, "not tracing its commits: {e}");
                return;
            }
        };
        let traced = Arc::new(Traced {
            name: r.name.clone(),
            ref_file: common_dir.join("refs/heads").join(&branch),
            common_dir,
            worktree: PathBuf::from(&r.worktree),
            branch,
            timeline: tokio::sync::Mutex::new(Timeline {
                head,
                ..Timeline::default()
            }),
            queued: AtomicBool::new(false),
        });
        if let Err(e) = self.tracer.watch(&self.tracer, &traced) {
            tracing::warn!(workspace = %r.name, "not tracing its commits: cannot watch its branch: {e}");
            return;
        }
        let old = self
            .tracer
            .workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r.name.clone(), traced);
        if let Some(old) = old {
            self.tracer.unwatch(&old);
        }
    }

    /// Stops tracing workspace `name` (it is being removed).
    pub(crate) fn trace_forget(&self, name: &str) {
        let old = self
            .tracer
            .workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(old) = old {
            self.tracer.unwatch(&old);
        }
    }
}

impl Tracer {
    fn get(&self, name: &str) -> Option<Arc<Traced>> {
        self.workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Watches `t`'s ref folder (made when missing), starting the watcher
    /// and the task that reads its events at the first call.
    fn watch(&self, me: &Arc<Tracer>, t: &Traced) -> notify::Result<()> {
        use notify::Watcher;
        let Some(folder) = t.ref_file.parent().map(PathBuf::from) else {
            return Ok(());
        };
        std::fs::create_dir_all(&folder).map_err(notify::Error::io)?;
        let mut watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        if watcher.is_none() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            *watcher = Some(notify::recommended_watcher(move |event| {
                let _ = tx.send(event);
            })?);
            tokio::spawn(read_events(Arc::downgrade(me), rx));
        }
        let mut folders = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        let count = folders.entry(folder.clone()).or_default();
        if *count == 0
            && let Some(w) = watcher.as_mut()
        {
            w.watch(&folder, notify::RecursiveMode::NonRecursive)?;
        }
        *count += 1;
        Ok(())
    }

    fn unwatch(&self, t: &Traced) {
        use notify::Watcher;
        let Some(folder) = t.ref_file.parent() else { return };
        let mut folders = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = folders.get_mut(folder) {
            *count -= 1;
            if *count == 0 {
                folders.remove(folder);
                if let Some(w) = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    let _ = w.unwatch(folder);
                }
            }
        }
    }
}

/// Reads the watcher's events: a change of a traced branch's ref file (or
/// its lock file, renamed onto it) queues one look at that branch.
async fn read_events(
    tracer: std::sync::Weak<Tracer>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
) {
    while let Some(event) = rx.recv().await {
        let Some(tracer) = tracer.upgrade() else { return };
        let Ok(event) = event else { continue };
        // opening and reading a ref (which looking at it does) changes nothing:
        // reacting to it would look again, and again
        if matches!(event.kind, notify::EventKind::Access(_)) {
            continue;
        }
        let all: Vec<Arc<Traced>> = tracer
            .workspaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for t in all {
            let lock = t.ref_file.with_extension("lock");
            let hit = event.paths.iter().any(|p| *p == t.ref_file || *p == lock);
            if hit && !t.queued.swap(true, Ordering::SeqCst) {
                tokio::spawn(record_new_commits(t));
            }
        }
    }
}

/// Records every commit the branch of `t` gained since it was last looked at.
async fn record_new_commits(t: Arc<Traced>) {
    let mut tl = t.timeline.lock().await;
    t.queued.store(false, Ordering::SeqCst);
    // an agent's stretch still open ends here
    if let Some((p, _)) = tl.pending.take() {
        step(&t, &mut tl, Some(p)).await;
    }
    let (dir, branch, seen) = (t.common_dir.clone(), t.branch.clone(), tl.head);
    let found = blocking(move || Ok(git::trace::new_commits(&dir, &branch, seen, COMMITS_PER_CHANGE)?)).await;
    let (head, commits) = match found {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(workspace = %t.name, "cannot read its new commits: {e}");
            return;
        }
    };
    for commit in commits {
        if let Err(e) = record(&t, &tl, commit).await {
            tracing::warn!(workspace = %t.name, %commit, "no Agent Trace record: {e}");
        }
    }
    tl.head = head;
}

/// Snapshots `t`'s worktree, ending a stretch of `by`'s changes; a
/// snapshot equal to the last one (nothing changed) is not kept.
async fn step(t: &Traced, tl: &mut Timeline, by: Option<Arc<Actor>>) {
    let worktree = t.worktree.clone();
    match blocking(move || Ok(git::trace::snapshot(&worktree)?)).await {
        Ok(tree) => {
            if tl.steps.back().map(|s| s.0) != Some(tree) {
                tl.steps.push_back((tree, by));
                if tl.steps.len() > STEPS_KEPT {
                    tl.steps.pop_front();
                }
            }
        }
        Err(e) => tracing::warn!(workspace = %t.name, "cannot snapshot the worktree for Agent Trace: {e}"),
    }
}

/// Writes the record of `commit` as its note. A note git copied there at
/// an amend or rebase is kept when the timeline knows nothing (a daemon
/// restarted since); otherwise the record is made again.
async fn record(t: &Traced, tl: &Timeline, commit: Oid) -> Result<()> {
    let dir = t.common_dir.clone();
    let copied = blocking(move || Ok(git::trace::note(&dir, commit)?)).await?;
    if copied.is_some() && tl.steps.is_empty() && tl.active.is_empty() {
        return Ok(());
    }
    // who is who: 0 is a person, then each actor once
    let mut actors: Vec<Option<Arc<Actor>>> = vec![None];
    let mut index = |a: &Option<Arc<Actor>>| match actors.iter().position(|b| b.as_deref() == a.as_deref()) {
        Some(i) => i,
        None => {
            actors.push(a.clone());
            actors.len() - 1
        }
    };
    let steps: Vec<git::trace::Step> = tl
        .steps
        .iter()
        .map(|(tree, by)| git::trace::Step {
            tree: *tree,
            by: index(by),
        })
        .collect();
    let last = index(&tl.active.last().cloned());
    let dir = t.common_dir.clone();
    let files = blocking(move || Ok(git::trace::attribute(&dir, commit, &steps, last, 0)?)).await?;
    let text = serde_json::to_string(&to_record(&t.name, commit, files, &actors))
        .map_err(|e| WorkspaceError::Internal(format!("cannot write an Agent Trace record: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    nexus_sdk::trace::validate(&value)
        .map_err(|e| WorkspaceError::Internal(format!("the Agent Trace record made fails the schema: {e}")))?;
    let dir = t.common_dir.clone();
    blocking(move || Ok(git::trace::write_note(&dir, commit, &text)?)).await
}

/// The record of `commit` in workspace `name`: each file's lines grouped
/// into one conversation per contributor.
fn to_record(
    name: &str,
    commit: Oid,
    files: Vec<(String, Vec<git::trace::Lines>)>,
    actors: &[Option<Arc<Actor>>],
) -> nexus_sdk::trace::Record {
    use nexus_sdk::trace as t;
    let person = Contributor {
        kind: ContributorType::Human,
        model_id: None,
    };
    let used: std::collections::BTreeSet<usize> = files.iter().flat_map(|f| f.1.iter().map(|l| l.by)).collect();
    let files = files
        .into_iter()
        .map(|(path, lines)| {
            let mut conversations: Vec<(usize, t::Conversation)> = Vec::new();
            for l in lines {
                let range = t::Range {
                    start_line: l.start,
                    end_line: l.end,
                    content_hash: None,
                    contributor: None,
                };
                match conversations.iter_mut().find(|(by, _)| *by == l.by) {
                    Some((_, c)) => c.ranges.push(range),
                    None => {
                        let actor = actors.get(l.by).cloned().flatten();
                        conversations.push((
                            l.by,
                            t::Conversation {
                                url: actor.as_ref().and_then(|a| a.url.clone()),
                                contributor: Some(actor.as_ref().map_or(person.clone(), |a| a.contributor.clone())),
                                ranges: vec![range],
                                related: None,
                            },
                        ));
                    }
                }
            }
            t::File {
                path,
                conversations: conversations.into_iter().map(|c| c.1).collect(),
            }
        })
        .collect();
    let tools: Vec<serde_json::Value> = actors
        .iter()
        .enumerate()
        .filter(|(i, _)| used.contains(i))
        .filter_map(|(_, a)| a.as_ref().and_then(|a| a.tool.as_ref()))
        .map(|t| serde_json::json!(t))
        .collect();
    let mut nexus = serde_json::json!({ "workspace": name });
    if !tools.is_empty() {
        nexus["agents"] = tools.into();
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("dev.nexus".into(), nexus);
    t::Record {
        version: t::VERSION.into(),
        id: uuid::Uuid::new_v4().to_string(),
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        vcs: Some(t::Vcs {
            kind: "git".into(),
            revision: commit.to_string(),
        }),
        tool: Some(Tool {
            name: Some("nexus".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        files,
        metadata: Some(metadata),
    }
}
