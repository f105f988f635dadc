//! The Model Context Protocol server of `nexus mcp` (stdio) and of the
//! daemon's `/mcp` (Streamable HTTP), on rmcp: tools that drive workspaces
//! through the daemon's API with the caller's token: create, list, info,
//! stop, remove, exec, files (read, write, edit, list, search), ports,
//! checkpoint and restore. `--workspace WS` pins it to one workspace: no
//! tool then takes a `workspace` argument, the tools that make, list or
//! remove workspaces are gone, and file paths must stay in the workspace
//! folder, so an agent cannot leave its sandbox.
//!
//! A tool that ran and failed (a command's non-zero exit, a missing file)
//! answers with `isError: true` and what went wrong, as MCP asks; only a
//! call that cannot be routed (an unknown tool, arguments that fail the
//! schema) is a protocol error.

use crate::client::Client;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Arguments naming only a workspace.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WorkspaceArgs {
    /// The workspace's name.
    pub workspace: String,
}

/// `workspace_create`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// Workspace name: lowercase letters, digits and hyphens.
    pub name: String,
    /// Absolute host path of a git repository, or a git URL.
    pub repository: String,
    /// The commit-ish the workspace's branch starts from.
    #[serde(default)]
    pub from: Option<String>,
    /// Image to run instead of the repository's devcontainer.json one.
    #[serde(default)]
    pub image: Option<String>,
    /// A built-in template instead of the repository's devcontainer.json.
    #[serde(default)]
    pub template: Option<String>,
}

/// `workspace_remove`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RemoveArgs {
    /// The workspace's name.
    pub workspace: String,
    /// Remove even with uncommitted changes or unpushed commits.
    #[serde(default)]
    pub force: bool,
}

/// `exec`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExecArgs {
    /// The workspace's name.
    pub workspace: String,
    /// A shell command line, run with `sh -c`.
    pub command: String,
    /// Working directory in the container (default: the workspace folder).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds after which the command is killed (exit code 124).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Start it in the background and answer at once (output to
    /// `/tmp/nexus-bg-<pid>.log` in the workspace).
    #[serde(default)]
    pub background: bool,
}

/// `file_read`, `file_list`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PathArgs {
    /// The workspace's name.
    pub workspace: String,
    /// Path in the workspace, relative to its folder (or absolute inside it).
    pub path: String,
}

/// `file_write`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteArgs {
    /// The workspace's name.
    pub workspace: String,
    /// Path in the workspace, relative to its folder (or absolute inside it).
    pub path: String,
    /// The whole new content (UTF-8).
    pub content: String,
}

/// `file_edit`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EditArgs {
    /// The workspace's name.
    pub workspace: String,
    /// Path in the workspace, relative to its folder (or absolute inside it).
    pub path: String,
    /// Text that occurs exactly once in the file.
    pub old_text: String,
    /// What replaces it.
    pub new_text: String,
}

/// `file_search`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// The workspace's name.
    pub workspace: String,
    /// A basic regular expression (grep).
    pub pattern: String,
    /// Where to search, relative to the workspace folder (default: all of it).
    #[serde(default)]
    pub path: Option<String>,
}

/// `checkpoint`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CheckpointArgs {
    /// The workspace's name.
    pub workspace: String,
    /// A name for the checkpoint (default: its number).
    #[serde(default)]
    pub name: Option<String>,
}

/// `restore`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RestoreArgs {
    /// The workspace's name.
    pub workspace: String,
    /// The checkpoint's name or number.
    pub checkpoint: String,
}

/// Every tool: name, description, arguments' schema, and whether it
/// exists when the server is pinned to one workspace.
fn catalogue() -> Vec<(&'static str, &'static str, serde_json::Value, bool)> {
    fn schema<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
    }
    vec![
        (
            "workspace_create",
            "Create a workspace (git worktree and container) from a repository; returns it once SSH answers.",
            schema::<CreateArgs>(),
            false,
        ),
        (
            "workspace_list",
            "List the workspaces: name, state, branch, image.",
            schema::<NoArgs>(),
            false,
        ),
        (
            "workspace_info",
            "One workspace: state, branch, image, folder, SSH port.",
            schema::<WorkspaceArgs>(),
            true,
        ),
        (
            "workspace_stop",
            "Stop a workspace's container; its files are kept.",
            schema::<WorkspaceArgs>(),
            true,
        ),
        (
            "workspace_remove",
            "Remove a workspace: container, worktree and record (the branch stays).",
            schema::<RemoveArgs>(),
            false,
        ),
        (
            "exec",
            "Run a shell command in the workspace; a non-zero exit is an error result with its stderr.",
            schema::<ExecArgs>(),
            true,
        ),
        (
            "file_read",
            "Read a text file of the workspace.",
            schema::<PathArgs>(),
            true,
        ),
        (
            "file_write",
            "Write a text file of the workspace (created or replaced).",
            schema::<WriteArgs>(),
            true,
        ),
        (
            "file_edit",
            "Replace text that occurs exactly once in a file of the workspace.",
            schema::<EditArgs>(),
            true,
        ),
        (
            "file_list",
            "List a directory of the workspace: name, type, size.",
            schema::<PathArgs>(),
            true,
        ),
        (
            "file_search",
            "Search the workspace's files for a pattern (grep -rn).",
            schema::<SearchArgs>(),
            true,
        ),
        (
            "ports",
            "The workspace's listening, forwarded and declared ports.",
            schema::<WorkspaceArgs>(),
            true,
        ),
        (
            "checkpoint",
            "Record the worktree exactly (HEAD, index, every file) as a git checkpoint.",
            schema::<CheckpointArgs>(),
            true,
        ),
        (
            "restore",
            "Bring the worktree back to a checkpoint (the state it replaces is checkpointed first).",
            schema::<RestoreArgs>(),
            true,
        ),
    ]
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

/// The tool names, in the order `tools/list` gives them, unpinned and pinned.
pub fn tool_names(pinned: bool) -> Vec<&'static str> {
    catalogue()
        .into_iter()
        .filter(|t| !pinned || t.3)
        .map(|t| t.0)
        .collect()
}

/// A schema without its `workspace` property (pinned servers fill it in).
fn unpin(mut schema: serde_json::Value) -> serde_json::Value {
    if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.remove("workspace");
    }
    if let Some(req) = schema.get_mut("required").and_then(|r| r.as_array_mut()) {
        req.retain(|r| r != "workspace");
    }
    schema
}

/// Where a call's API client comes from.
enum Source {
    /// One client for the whole session (stdio: the CLI's own).
    Fixed(Arc<Client>),
    /// Per call, the daemon at `address` with the bearer token of the HTTP
    /// request that carried the call (`/mcp`); clients are kept per token.
    PerToken {
        address: String,
        clients: tokio::sync::Mutex<std::collections::HashMap<String, Arc<Client>>>,
    },
}

/// The MCP server: its API client source, the pinned workspace if any,
/// and the public keys a workspace it creates authorizes.
#[derive(Clone)]
pub struct Server {
    source: Arc<Source>,
    pinned: Option<String>,
    authorized_keys: Arc<Vec<String>>,
    tools: Arc<Vec<Tool>>,
    /// The model and conversation the client's changes are attributed to
    /// (Agent Trace), when given at start-up.
    agent: Arc<Agent>,
    /// Whether the fixed client has declared its session (`trace.session`).
    declared: Arc<tokio::sync::OnceCell<()>>,
}

/// What an MCP client says of itself for Agent Trace: `nexus mcp --model
/// M --conversation-url U`, or the HTTP request's [`MODEL_HEADER`] and
/// [`CONVERSATION_HEADER`].
#[derive(Debug, Clone, Default)]
struct Agent {
    model: Option<String>,
    conversation_url: Option<String>,
}

/// The header naming the model of an MCP client over HTTP (`/mcp`).
pub const MODEL_HEADER: &str = "x-nexus-model";
/// The header giving the URL of an MCP client's conversation over HTTP.
pub const CONVERSATION_HEADER: &str = "x-nexus-conversation-url";

impl Server {
    /// A server over `client` (stdio), pinned to `pinned` when given;
    /// `workspace_create` authorizes `authorized_keys`.
    pub fn with_client(client: Client, pinned: Option<String>, authorized_keys: Vec<String>) -> Server {
        Server::new(Source::Fixed(Arc::new(client)), pinned, authorized_keys)
    }

    /// A server for HTTP requests (`/mcp`, or `/mcp/WS` pinned to `WS`):
    /// each call reaches the daemon at `address` with the request's own
    /// bearer token.
    pub fn per_token(address: &str, pinned: Option<String>) -> Server {
        let source = Source::PerToken {
            address: address.to_string(),
            clients: Default::default(),
        };
        Server::new(source, pinned, Vec::new())
    }

    fn new(source: Source, pinned: Option<String>, authorized_keys: Vec<String>) -> Server {
        let tools = catalogue()
            .into_iter()
            .filter(|t| pinned.is_none() || t.3)
            .map(|(name, description, schema, _)| {
                let schema = if pinned.is_some() { unpin(schema) } else { schema };
                let object = match schema {
                    serde_json::Value::Object(o) => o,
                    _ => serde_json::Map::new(),
                };
                Tool::new(name, description, object)
            })
            .collect();
        Server {
            source: Arc::new(source),
            pinned,
            authorized_keys: Arc::new(authorized_keys),
            tools: Arc::new(tools),
            agent: Default::default(),
            declared: Default::default(),
        }
    }

    /// This server with the model (`anthropic/claude-sonnet-4-5`) and the
    /// conversation URL its client's changes are attributed to.
    pub fn with_agent(mut self, model: Option<String>, conversation_url: Option<String>) -> Server {
        self.agent = Arc::new(Agent {
            model,
            conversation_url,
        });
        self
    }

    /// Declares the client's session on API client `c` (`trace.session`):
    /// a model (`ai`), its model id and conversation from start-up or the
    /// request's headers, the MCP client's name and version as the tool.
    async fn declare(&self, c: &Client, context: &RequestContext<RoleServer>) -> Result<(), ErrorData> {
        let header = |name: &str| {
            context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|p| p.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let tool = context.peer.peer_info().map(|i| crate::trace::Tool {
            name: Some(i.client_info.name.clone()),
            version: Some(i.client_info.version.clone()),
        });
        let params = crate::TraceSessionParams {
            contributor: crate::trace::ContributorType::Ai,
            model_id: self.agent.model.clone().or_else(|| header(MODEL_HEADER)),
            conversation_url: self
                .agent
                .conversation_url
                .clone()
                .or_else(|| header(CONVERSATION_HEADER)),
            tool,
        };
        c.trace_session(&params)
            .await
            .map_err(|e| ErrorData::invalid_request(e.to_string(), None))
    }

    /// The API client of this call: the session's, or one with the
    /// bearer token of the HTTP request (a call without one is refused).
    async fn client(&self, context: &RequestContext<RoleServer>) -> Result<Arc<Client>, ErrorData> {
        match self.source.as_ref() {
            Source::Fixed(c) => {
                self.declared.get_or_try_init(|| self.declare(c, context)).await?;
                Ok(c.clone())
            }
            Source::PerToken { address, clients } => {
                let token = context
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|p| p.headers.get(http::header::AUTHORIZATION))
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_string)
                    .ok_or_else(|| ErrorData::invalid_request("a bearer token is required", None))?;
                let mut clients = clients.lock().await;
                if let Some(c) = clients.get(&token) {
                    return Ok(c.clone());
                }
                let c = Arc::new(
                    Client::connect(address, &token)
                        .await
                        .map_err(|e| ErrorData::invalid_request(e.to_string(), None))?,
                );
                self.declare(&c, context).await?;
                clients.insert(token, c.clone());
                Ok(c)
            }
        }
    }

    /// The arguments of a call as `T`: the pinned workspace added (and any
    /// other refused); a schema failure is a protocol error.
    fn args<T: DeserializeOwned>(
        &self,
        args: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<T, ErrorData> {
        let mut args = args.unwrap_or_default();
        if let Some(ws) = &self.pinned {
            match args.get("workspace").and_then(|w| w.as_str()) {
                Some(other) if other != ws => {
                    return Err(ErrorData::invalid_params(
                        format!("this server is pinned to workspace {ws}: {other} is out of its reach"),
                        None,
                    ));
                }
                _ => {}
            }
            args.insert("workspace".into(), ws.clone().into());
        }
        serde_json::from_value(serde_json::Value::Object(args))
            .map_err(|e| ErrorData::invalid_params(format!("the arguments do not fit the tool's schema: {e}"), None))
    }

    /// A path of the workspace, inside its folder when pinned.
    async fn path_in(&self, c: &Client, workspace: &str, path: &str) -> Result<String, String> {
        let w = c.get(workspace).await.map_err(|e| e.to_string())?;
        let folder = w.workspace_folder.trim_end_matches('/').to_string();
        let joined = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{folder}/{path}")
        };
        // lexically resolved: `..` may not climb out of the folder
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        let resolved = format!("/{}", parts.join("/"));
        if self.pinned.is_some() && resolved != folder && !resolved.starts_with(&format!("{folder}/")) {
            return Err(format!(
                "{path} is outside the workspace folder {folder}: this server is pinned to it"
            ));
        }
        Ok(resolved)
    }

    async fn run(
        &self,
        c: &Client,
        name: &str,
        args: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<CallToolResult, ErrorData> {
        let done = |text: String| Ok(CallToolResult::success(vec![ContentBlock::text(text)]));
        let failed = |text: String| Ok(CallToolResult::error(vec![ContentBlock::text(text)]));
        let json = |v: &dyn erased::Json| v.text();
        match name {
            "workspace_create" if self.pinned.is_none() => {
                let a: CreateArgs = self.args(args)?;
                let params = crate::CreateParams {
                    name: a.name,
                    repository: a.repository,
                    from: a.from,
                    image: a.image,
                    template: a.template,
                    config: None,
                    authorized_keys: self.authorized_keys.as_ref().clone(),
                    idle: None,
                    docker: None,
                };
                match c.create(&params).await {
                    Ok(w) => done(json(&w)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "workspace_list" if self.pinned.is_none() => match c.list().await {
                Ok(l) => done(json(&l)),
                Err(e) => failed(e.to_string()),
            },
            "workspace_info" => {
                let a: WorkspaceArgs = self.args(args)?;
                match c.get(&a.workspace).await {
                    Ok(w) => done(json(&w)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "workspace_stop" => {
                let a: WorkspaceArgs = self.args(args)?;
                match c.stop(&a.workspace).await {
                    Ok(w) => done(json(&w)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "workspace_remove" if self.pinned.is_none() => {
                let a: RemoveArgs = self.args(args)?;
                let params = crate::RemoveParams {
                    workspace: a.workspace.clone(),
                    force: a.force,
                    delete_branch: false,
                };
                match c.remove(&params).await {
                    Ok(()) => done(format!("removed {}", a.workspace)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "exec" => {
                let a: ExecArgs = self.args(args)?;
                let cwd = match &a.cwd {
                    Some(p) => match self.path_in(c, &a.workspace, p).await {
                        Ok(p) => Some(p),
                        Err(e) => return failed(e),
                    },
                    None => None,
                };
                let command = if a.background {
                    format!(
                        "nohup sh -c {} > /tmp/nexus-bg-$$.log 2>&1 & echo \"started pid $! (output: /tmp/nexus-bg-$$.log)\"",
                        shell_quote(&a.command)
                    )
                } else {
                    a.command.clone()
                };
                let params = crate::ExecParams {
                    workspace: a.workspace,
                    command: vec!["sh".into(), "-c".into(), command],
                    env: a.env,
                    cwd,
                    timeout_secs: a.timeout_seconds,
                    ..Default::default()
                };
                match c.exec_run(&params).await {
                    Ok(r) if r.exit_code == 0 => done(r.stdout),
                    Ok(r) => failed(format!(
                        "exit code {}\n--- stderr\n{}--- stdout\n{}",
                        r.exit_code, r.stderr, r.stdout
                    )),
                    Err(e) => failed(e.to_string()),
                }
            }
            "file_read" => {
                let a: PathArgs = self.args(args)?;
                let path = match self.path_in(c, &a.workspace, &a.path).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                let params = crate::ReadFileParams {
                    workspace: a.workspace,
                    path,
                    ..Default::default()
                };
                match c.fs_read_file(&params).await {
                    Ok(r) => done(r.content),
                    Err(e) => failed(e.to_string()),
                }
            }
            "file_write" => {
                let a: WriteArgs = self.args(args)?;
                let path = match self.path_in(c, &a.workspace, &a.path).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                let params = crate::WriteFileParams {
                    workspace: a.workspace,
                    path: path.clone(),
                    content: a.content,
                    ..Default::default()
                };
                match c.fs_write_file(&params).await {
                    Ok(()) => done(format!("wrote {path}")),
                    Err(e) => failed(e.to_string()),
                }
            }
            "file_edit" => {
                let a: EditArgs = self.args(args)?;
                let path = match self.path_in(c, &a.workspace, &a.path).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                let read = crate::ReadFileParams {
                    workspace: a.workspace.clone(),
                    path: path.clone(),
                    ..Default::default()
                };
                let text = match c.fs_read_file(&read).await {
                    Ok(r) => r.content,
                    Err(e) => return failed(e.to_string()),
                };
                match text.matches(&a.old_text).count() {
                    1 => {}
                    0 => return failed(format!("{path} does not contain old_text; nothing changed")),
                    n => {
                        return failed(format!(
                            "old_text occurs {n} times in {path}: give more context so it occurs once; nothing changed"
                        ));
                    }
                }
                let params = crate::WriteFileParams {
                    workspace: a.workspace,
                    path: path.clone(),
                    content: text.replacen(&a.old_text, &a.new_text, 1),
                    ..Default::default()
                };
                match c.fs_write_file(&params).await {
                    Ok(()) => done(format!("edited {path}")),
                    Err(e) => failed(e.to_string()),
                }
            }
            "file_list" => {
                let a: PathArgs = self.args(args)?;
                let path = match self.path_in(c, &a.workspace, &a.path).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                let params = crate::PathParams {
                    workspace: a.workspace,
                    path,
                };
                match c.fs_readdir(&params).await {
                    Ok(entries) => done(json(&entries)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "file_search" => {
                let a: SearchArgs = self.args(args)?;
                let path = match self.path_in(c, &a.workspace, a.path.as_deref().unwrap_or(".")).await {
                    Ok(p) => p,
                    Err(e) => return failed(e),
                };
                // the options every grep has (busybox's too); .git is left out afterwards
                let params = crate::ExecParams {
                    workspace: a.workspace,
                    command: vec!["grep".into(), "-rn".into(), "-e".into(), a.pattern, path.clone()],
                    ..Default::default()
                };
                let git = format!("{}/.git/", path.trim_end_matches('/'));
                match c.exec_run(&params).await {
                    Ok(r) if r.exit_code == 0 => {
                        let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.starts_with(&git)).collect();
                        if lines.is_empty() {
                            done("no match".into())
                        } else {
                            done(lines.join("\n") + "\n")
                        }
                    }
                    Ok(r) if r.exit_code == 1 => done("no match".into()),
                    Ok(r) => failed(format!("grep failed ({}): {}", r.exit_code, r.stderr)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "ports" => {
                let a: WorkspaceArgs = self.args(args)?;
                match c.ports_list(&a.workspace).await {
                    Ok(p) => done(json(&p)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "checkpoint" => {
                let a: CheckpointArgs = self.args(args)?;
                let params = crate::CheckpointCreateParams {
                    workspace: a.workspace,
                    name: a.name,
                    ..Default::default()
                };
                match c.checkpoint_create(&params).await {
                    Ok(cp) => done(json(&cp)),
                    Err(e) => failed(e.to_string()),
                }
            }
            "restore" => {
                let a: RestoreArgs = self.args(args)?;
                let params = crate::CheckpointParams {
                    workspace: a.workspace,
                    checkpoint: a.checkpoint,
                };
                match c.restore(&params).await {
                    Ok(undo) => done(format!(
                        "restored; the state before is checkpoint {} (restore it to undo)",
                        undo.name
                    )),
                    Err(e) => failed(e.to_string()),
                }
            }
            other => Err(ErrorData::invalid_params(
                format!(
                    "no tool {other:?}: the tools are {}",
                    tool_names(self.pinned.is_some()).join(", ")
                ),
                None,
            )),
        }
    }
}

/// `s` as one single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Pretty JSON of any serializable answer.
mod erased {
    pub trait Json {
        fn text(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn text(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let about = match &self.pinned {
            Some(ws) => format!(
                "Nexus workspace {ws}: run commands, read and edit files, checkpoint and restore. Every tool acts on this workspace only."
            ),
            None => "Nexus workspaces: isolated git worktrees in containers. Create one per task, run commands and edit files in it, checkpoint and restore.".into(),
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("nexus", env!("CARGO_PKG_VERSION")))
            .with_instructions(about)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let c = self.client(&context).await?;
        self.run(&c, &request.name, request.arguments)
            .await
            .map(CallToolResponse::from)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }
}
