//! Exec, tunnels and logs: requests checked against a running workspace
//! and carried out over the daemon's pooled SSH connection to its agent.

use super::*;

impl Manager {
    /// A running workspace's record. Errors: `NotFound`, or `InvalidState`
    /// saying how to start it.
    pub fn running(&self, name: &str) -> Result<WorkspaceRecord> {
        let r = self.store.get(name)?;
        if r.state != WorkspaceState::Running {
            return Err(WorkspaceError::InvalidState {
                name: r.name.clone(),
                state: r.state.to_string(),
                hint: format!("start it with `nexus workspace start {}`", r.name),
            });
        }
        Ok(r)
    }

    /// The pool of SSH connections to agents.
    pub fn agents(&self) -> &AgentPool {
        &self.agents
    }

    /// The pool, shared, for tasks that outlive a request.
    pub(crate) fn agents_handle(&self) -> Arc<AgentPool> {
        self.agents.clone()
    }

    /// Checks an exec request against the workspace: it must run, the
    /// command must not be empty, env names must be names.
    pub fn prepare_exec(&self, p: &ExecParams) -> Result<PreparedExec> {
        let r = self.running(&p.workspace)?;
        prepare_exec_for(&r, p)
    }

    /// One of the agent's own helpers (`nexus-agent --watch …`, `--ports`)
    /// in running workspace `workspace`, as its user, from `/`.
    pub(crate) fn prepare_agent_helper(&self, workspace: &str, args: &[&str]) -> Result<PreparedExec> {
        let command = std::iter::once(AGENT_BINARY)
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        self.prepare_exec(&ExecParams {
            workspace: workspace.to_string(),
            command,
            cwd: Some("/".into()),
            ..Default::default()
        })
    }

    /// Starts a prepared command through the workspace's agent.
    pub async fn open_exec(&self, e: &PreparedExec) -> Result<OpenChannel> {
        e.open_with(&self.agents).await
    }

    /// Opens a TCP connection to `port` on the container's loopback (the
    /// agent's SSH server when `None`), valid while the workspace runs.
    pub async fn open_tunnel(&self, workspace: &str, port: Option<u16>) -> Result<OpenChannel> {
        let r = self.running(workspace)?;
        if port == Some(0) {
            return Err(WorkspaceError::InvalidParams(
                "port 0 is no TCP port: use 1-65535".into(),
            ));
        }
        Ok(self.agents.open_tunnel(&target(&r), port.unwrap_or(AGENT_PORT)).await?)
    }

    /// Runs a prepared command to its end, collecting stdout and stderr (at
    /// most [`MAX_EXEC_OUTPUT`] bytes; past that the process is stopped and
    /// the error says to use `exec.stream`).
    pub async fn exec_to_end(&self, e: &PreparedExec) -> Result<nexus_sdk::ExecResult> {
        let started = std::time::Instant::now();
        let result = self.exec_to_end_untimed(e).await;
        self.metrics.exec_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn exec_to_end_untimed(&self, e: &PreparedExec) -> Result<nexus_sdk::ExecResult> {
        let mut run = self.open_exec(e).await?.spawn_unsteered(e.opts.timeout, 16);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = run.output().recv().await {
            match chunk {
                Output::Stdout(b) => stdout.extend_from_slice(&b),
                Output::Stderr(b) => stderr.extend_from_slice(&b),
            }
            if stdout.len() + stderr.len() > MAX_EXEC_OUTPUT {
                // dropping `run` ends the command
                return Err(WorkspaceError::TooLarge(format!(
                    "the command's output passed {} MiB, the most exec.run returns: use exec.stream",
                    MAX_EXEC_OUTPUT >> 20
                )));
            }
        }
        let code = run.exit().await?.ok_or_else(|| {
            WorkspaceError::AgentUnavailable("the connection closed before the command exited".into())
        })?;
        Ok(nexus_sdk::ExecResult {
            exit_code: code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// The container's output.
    pub async fn logs(
        &self,
        name: &str,
        follow: bool,
    ) -> Result<futures::stream::BoxStream<'static, crate::runtime::Result<(nexus_sdk::LogStream, String)>>> {
        let r = self.store.get(name)?;
        self.runtime.ping().await?;
        Ok(self.runtime.logs(&container_name(&r), follow))
    }
}
