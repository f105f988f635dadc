//! devcontainer.json's lifecycle hooks: `initializeCommand` on the host,
//! the others in the container as the remote user in the workspace folder,
//! each output line a `hook` progress event; those after `waitFor` go on in
//! the background.

use super::*;
use crate::agent::client::Lines;
use crate::error::TAIL_LINES;
use nexus_devcontainer::config::{CONTAINER_HOOKS, LifecycleCommand};
use nexus_devcontainer::metadata::{self, HookCommand};

impl Manager {
    /// Runs the lifecycle hooks `hooks` (devcontainer.json property names,
    /// in order) of workspace `r`'s merged configuration — the image's,
    /// then its features', then devcontainer.json's commands of each — in
    /// the container as its remote user in the workspace folder. The object
    /// form's commands run in parallel. Each output line is a progress event
    /// of step `hook`. Errors: `HookFailed` with the hook, exit code and
    /// last lines.
    pub(crate) async fn run_hooks(&self, r: &WorkspaceRecord, hooks: &[&str]) -> Result<()> {
        run_hooks(
            self.agents_handle(),
            self.events.clone(),
            r.clone(),
            hooks.iter().map(|h| h.to_string()).collect(),
        )
        .await
    }

    /// Runs the lifecycle hooks of a new workspace: those up to `waitFor`
    /// now, the rest in the background (their failure is logged and given
    /// as a `hook` progress event). Without `waitFor` all run now, as
    /// `devcontainer up` runs them.
    pub(crate) async fn run_create_hooks(&self, r: &WorkspaceRecord) -> Result<()> {
        let hooks: Vec<String> = CONTAINER_HOOKS.iter().map(|h| h.to_string()).collect();
        let wait_for = devcontainer_of(r).and_then(|m| m.merged.config.wait_for);
        let split = wait_for
            .and_then(|w| hooks.iter().position(|h| *h == w))
            .map_or(hooks.len(), |i| i + 1);
        let (now, later) = hooks.split_at(split);
        run_hooks(self.agents_handle(), self.events.clone(), r.clone(), now.to_vec()).await?;
        if !later.is_empty() {
            let (agents, events, r, later) = (self.agents_handle(), self.events.clone(), r.clone(), later.to_vec());
            tokio::spawn(async move {
                if let Err(e) = run_hooks(agents, events.clone(), r.clone(), later).await {
                    tracing::warn!(workspace = %r.name, "a lifecycle hook after waitFor failed: {e}");
                    events.progress(&r.name, Step::Hook, format!("failed: {e}"));
                }
            });
        }
        Ok(())
    }
}

/// Runs devcontainer.json's `initializeCommand` on the host, as the
/// daemon's user, in directory `dir` (the repository), before anything is
/// made; output lines are `hook` progress events of workspace `name`.
/// Errors: `HookFailed` with the exit code and last lines.
pub(crate) async fn run_initialize(
    events: &Events,
    name: &str,
    dir: &std::path::Path,
    command: &LifecycleCommand,
) -> Result<()> {
    use tokio::io::AsyncBufReadExt;
    events.progress(name, Step::Hook, "running initializeCommand on the host");
    let runs = command.argvs().into_iter().map(|(label, argv)| async move {
        let what = match label {
            Some(l) => format!("initializeCommand ({l})"),
            None => "initializeCommand".to_string(),
        };
        let mut child = crate::runtime::end_with_daemon(&mut tokio::process::Command::new(&argv[0]))
            .args(&argv[1..])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| WorkspaceError::HookFailed {
                hook: what.clone(),
                exit_code: 127,
                tail: format!("cannot run {:?}: {e}", argv[0]),
            })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        fn forward(
            pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
            tx: tokio::sync::mpsc::UnboundedSender<String>,
        ) {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(line);
                }
            });
        }
        if let Some(out) = child.stdout.take() {
            forward(out, tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward(err, tx);
        }
        let mut tail = std::collections::VecDeque::new();
        while let Some(line) = rx.recv().await {
            events.progress(name, Step::Hook, format!("{what}: {line}"));
            tail.push_back(line);
            if tail.len() > TAIL_LINES {
                tail.pop_front();
            }
        }
        let status = child
            .wait()
            .await
            .map_err(WorkspaceError::io("waiting for initializeCommand"))?;
        match status.code() {
            Some(0) => Ok(()),
            code => Err(WorkspaceError::HookFailed {
                hook: what,
                exit_code: code.unwrap_or(-1),
                tail: Vec::from(tail).join("\n"),
            }),
        }
    });
    for result in futures::future::join_all(runs).await {
        result?;
    }
    Ok(())
}

/// [`Manager::run_hooks`] on the parts it needs, so it can go on in the background.
async fn run_hooks(agents: Arc<AgentPool>, events: Events, r: WorkspaceRecord, hooks: Vec<String>) -> Result<()> {
    let Some(merged) = devcontainer_of(&r) else {
        return Ok(());
    };
    for hook in &hooks {
        for HookCommand { origin, command } in merged.merged.hooks(hook) {
            let from = if origin == metadata::CONFIG_ORIGIN {
                String::new()
            } else {
                format!(" of {origin}")
            };
            events.progress(&r.name, Step::Hook, format!("running {hook}{from}"));
            let runs = command.argvs().into_iter().map(|(label, argv)| {
                let what = match label {
                    Some(l) => format!("{hook}{from} ({l})"),
                    None => format!("{hook}{from}"),
                };
                run_hook(&agents, &events, &r, what, argv)
            });
            for result in futures::future::join_all(runs).await {
                result?;
            }
        }
    }
    Ok(())
}

async fn run_hook(
    agents: &AgentPool,
    events: &Events,
    r: &WorkspaceRecord,
    what: String,
    argv: Vec<String>,
) -> Result<()> {
    let exec = nexus_sdk::ExecParams {
        workspace: r.name.clone(),
        command: argv,
        ..Default::default()
    };
    let mut run = prepare_exec_for(r, &exec)?
        .open_with(agents)
        .await?
        .spawn_unsteered(None, 16);
    let (mut lines, mut tail) = (Lines::default(), std::collections::VecDeque::new());
    while let Some(out) = run.output().recv().await {
        let (Output::Stdout(b) | Output::Stderr(b)) = out;
        for line in lines.push(&b) {
            events.progress(&r.name, Step::Hook, format!("{what}: {line}"));
            tail.push_back(line);
            if tail.len() > TAIL_LINES {
                tail.pop_front();
            }
        }
    }
    match run.exit().await? {
        Some(0) => Ok(()),
        code => Err(WorkspaceError::HookFailed {
            hook: what,
            exit_code: code.unwrap_or(-1),
            tail: Vec::from(tail).join("\n"),
        }),
    }
}
